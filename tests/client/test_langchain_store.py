"""The LangChain store beyond the standard suite: filters, MMR, relevance scores, retriever, from_texts, and
(slow) a store on the collection's own model, over both client kinds."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

import latentspace
from latentspace.integrations.langchain import LatentspaceVectorStore


class AxisEmbeddings(Embeddings):
    """Known geometry: a text's vector points along the axis of the first keyword it contains."""

    AXES = ("red", "green", "blue")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        vector = [0.05, 0.05, 0.05]
        for i, word in enumerate(self.AXES):
            if word in text:
                vector[i] = 1.0
                break
        return vector


@pytest.fixture
def store(client: latentspace.Client):  # noqa: ANN201
    name = f"lc-{uuid.uuid4().hex[:12]}"
    texts = ["red apple", "red cherry", "green pear", "blue berry", "red rose"]
    metas = [{"kind": "fruit", "n": 1}, {"kind": "fruit", "n": 2}, {"kind": "fruit", "n": 3},
             {"kind": "fruit", "n": 4}, {"kind": "flower", "n": 5}]
    store = LatentspaceVectorStore.from_texts(
        texts, AxisEmbeddings(), metas, ids=["a", "c", "p", "b", "r"], client=client, collection=name
    )
    yield store
    client.delete_collection(name)


def test_filters_scores_and_retriever(store: LatentspaceVectorStore) -> None:
    assert store.collection.info.model is None and store.collection.info.dimension == 3
    flowers = store.similarity_search("red", k=5, filter={"kind": "flower"})
    assert [d.id for d in flowers] == ["r"]
    later = store.similarity_search("red", k=5, filter={"n": {"$gte": 2}, "kind": {"$in": ["fruit"]}})
    assert {d.id for d in later[:1]} == {"c"} and "a" not in {d.id for d in later}
    scored = store.similarity_search_with_relevance_scores("red", k=3)
    assert {d.id for d, _ in scored} == {"a", "c", "r"} and all(s == pytest.approx(1.0, abs=1e-5) for _, s in scored)
    retrieved = store.as_retriever(search_kwargs={"k": 1, "filter": {"kind": "fruit"}}).invoke("blue")
    assert retrieved == [Document(id="b", page_content="blue berry", metadata={"kind": "fruit", "n": 4})]
    assert store.similarity_search_by_vector([0.0, 1.0, 0.0], k=1)[0].id == "p"


def test_mmr_trades_relevance_for_diversity(store: LatentspaceVectorStore) -> None:
    relevant = store.max_marginal_relevance_search("red", k=3, lambda_mult=1.0)
    assert {d.id for d in relevant} == {"a", "c", "r"}
    diverse = store.max_marginal_relevance_search("red", k=3, lambda_mult=0.1)
    assert diverse[0].id in {"a", "c", "r"} and len({d.id for d in diverse} - {"a", "c", "r"}) >= 1


def test_delete_all_and_bad_filter(store: LatentspaceVectorStore) -> None:
    with pytest.raises(latentspace.InvalidInput) as raised:
        store.similarity_search("red", filter={"n": {"$regex": "x"}})
    assert raised.value.code == "invalid_filter"
    store.delete()
    assert store.similarity_search("red", k=5) == [] and store.collection.count() == 0


def test_a_store_reopens_its_collection_and_refuses_mismatched_lengths(client: latentspace.Client) -> None:
    name = f"lc-{uuid.uuid4().hex[:12]}"
    first = LatentspaceVectorStore(client, name, DeterministicFakeEmbedding(size=6))
    try:
        first.add_texts(["kept"], ids=["k"])
        again = LatentspaceVectorStore(client, name, DeterministicFakeEmbedding(size=6))
        assert [d.page_content for d in again.get_by_ids(["k"])] == ["kept"]
        with pytest.raises(latentspace.InvalidInput):
            again.add_texts(["a", "b"], ids=["only-one"])
        with pytest.raises(latentspace.InvalidInput) as raised:
            LatentspaceVectorStore(client, name, DeterministicFakeEmbedding(size=4))
        assert raised.value.code == "dimension_mismatch"
    finally:
        client.delete_collection(name)


def test_a_store_on_the_collections_own_model(client: latentspace.Client, embedders) -> None:  # noqa: ANN001
    """Slow (the real model, also in the server process): texts and queries embedded by latentspace."""
    name = f"lc-{uuid.uuid4().hex[:12]}"
    store = LatentspaceVectorStore(client, name)
    try:
        assert store.collection.info.model is not None and store.collection.info.options["chunking"] == "truncate"
        store.add_texts(
            ["Vaccines train the immune system.", "Volcanoes erupt molten rock.", "The stock market fell."],
            [{"topic": "health"}, {"topic": "geology"}, {"topic": "finance"}],
            ids=["v", "l", "s"],
        )
        top = store.similarity_search_with_score("how does immunity work", k=3)
        assert top[0][0].id == "v" and top[0][1] > top[1][1]
        assert store.similarity_search("lava", k=1, filter={"topic": {"$ne": "health"}})[0].id == "l"
        assert store.get_by_ids(["s"])[0].page_content == "The stock market fell."
    finally:
        client.delete_collection(name)
