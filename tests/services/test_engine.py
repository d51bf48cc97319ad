"""The Engine end to end with the real bundled model, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import (
    CollectionExists,
    CollectionNotFound,
    DimensionMismatch,
    DocumentNotFound,
    EmbedderMismatch,
    InvalidFilter,
    InvalidInput,
)
from ingest.readers import SourceDocument
from services.search.types import SearchRequest

CORPUS = {
    "vaccine": "Vaccines train the immune system to recognise a virus before an infection happens.",
    "volcano": "Lava flows from an erupting volcano and cools into basalt rock.",
    "bread": "Knead the dough, let it rise overnight, and bake the bread in a hot oven.",
    "orbit": "The moon orbits the earth roughly once every twenty-seven days.",
    "market": "Stock prices fell sharply after the central bank raised interest rates.",
}


def docs(**overrides: str) -> list[SourceDocument]:
    texts = CORPUS | overrides
    return [
        SourceDocument(key, text, None, {"topic": key, "n": i}) for i, (key, text) in enumerate(texts.items())
    ]


def hit_ids(engine, query: str, **kw) -> list[str]:  # noqa: ANN001
    return [h.id for h in engine.search("c", SearchRequest(query=query, **kw)).hits]


def test_real_model_ranks_the_right_document_first(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    report = engine.ingest("c", docs())
    assert (report.added, report.failed) == (5, 0)
    assert hit_ids(engine, "how does immunisation protect against disease", k=3)[0] == "vaccine"
    assert hit_ids(engine, "baking a loaf at home", k=3)[0] == "bread"
    scores = [h.score for h in engine.search("c", SearchRequest(query="lunar cycle", k=5)).hits]
    assert scores == sorted(scores, reverse=True) and -1.0 <= scores[-1] <= scores[0] <= 1.0


def test_reingest_unchanged_does_no_embedding_and_changed_replaces(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    engine.ingest("c", docs())
    again = engine.ingest("c", docs())
    assert (again.added, again.updated, again.unchanged, again.chunks_embedded) == (0, 0, 5, 0)
    changed = engine.ingest("c", docs(bread="Sourdough starters ferment flour and water for days."))
    assert (changed.updated, changed.unchanged, changed.chunks_embedded) == (1, 4, 1)
    info = engine.collection_info("c")
    assert (info.documents, info.chunks, info.indexed_vectors) == (5, 5, 5)
    assert "Sourdough" in engine.get_document("c", "bread")["text"]


def test_metadata_only_change_updates_without_embedding(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    engine.ingest("c", docs())
    changed = [SourceDocument("orbit", CORPUS["orbit"], None, {"topic": "space"})]
    report = engine.ingest("c", changed)
    assert (report.updated, report.chunks_embedded) == (1, 0)
    assert engine.get_document("c", "orbit")["metadata"] == {"topic": "space"}


def test_filters_apply_to_search(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    engine.ingest("c", docs())
    assert hit_ids(engine, "immune system", k=5, filter={"topic": {"$in": ["bread", "orbit"]}}) in (
        ["bread", "orbit"],
        ["orbit", "bread"],
    )
    assert set(hit_ids(engine, "anything", k=5, filter={"n": {"$gte": 3}})) == {"orbit", "market"}
    assert hit_ids(engine, "anything", filter={"topic": "nope"}) == []
    with pytest.raises(InvalidFilter):
        hit_ids(engine, "x", filter={"n": {"$gte": "3"}})


def test_delete_document_removes_it_from_search(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    engine.ingest("c", docs())
    engine.delete_document("c", "vaccine")
    assert "vaccine" not in hit_ids(engine, "vaccines and the immune system", k=5)
    assert engine.collection_info("c").indexed_vectors == 4
    with pytest.raises(DocumentNotFound):
        engine.delete_document("c", "vaccine")


def test_raw_vector_search_and_dimension_check(engine) -> None:  # noqa: ANN001
    engine.create_collection("c", backend="torch")  # the query vector below comes from the torch model
    engine.ingest("c", docs())
    vector = engine.embedders.get("all-MiniLM-L6-v2").embed_query(CORPUS["market"])
    hits = engine.search("c", SearchRequest(vector=vector.tolist(), k=1)).hits
    assert hits[0].id == "market" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(DimensionMismatch):
        engine.search("c", SearchRequest(vector=[0.1] * 10))


def test_precomputed_vectors_are_stored_as_given(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    vector = np.zeros(384, dtype=np.float32)
    vector[7] = 2.0
    engine.ingest("c", [SourceDocument("v", "a text", None, {})], vectors={"v": vector})
    hit = engine.search("c", SearchRequest(vector=(vector / 2).tolist(), k=1)).hits[0]
    assert hit.id == "v" and hit.score == pytest.approx(1.0)
    with pytest.raises(DimensionMismatch):
        engine.ingest("c", [SourceDocument("w", "b", None, {})], vectors={"w": np.ones(3)})


def test_bad_requests(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    with pytest.raises(CollectionExists):
        engine.create_collection("c")
    with pytest.raises(EmbedderMismatch):
        engine.create_collection("c", model="some/other-model", exist_ok=True)
    with pytest.raises(CollectionNotFound):
        engine.search("nope", SearchRequest(query="x"))
    for request in (SearchRequest(query="   "), SearchRequest(), SearchRequest(query="x", k=0)):
        with pytest.raises(InvalidInput):
            engine.search("c", request)
    with pytest.raises(InvalidInput):
        engine.create_collection("bad name!")


def test_long_document_is_chunked_within_the_model_limit(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    long_text = " ".join(f"Sentence number {i} talks about glaciers and ice sheets." for i in range(200))
    engine.ingest("c", [SourceDocument("long", long_text, None, {})])
    info = engine.collection_info("c")
    assert info.chunks > 5 and info.documents == 1
    hits = engine.search("c", SearchRequest(query="glaciers", k=10)).hits
    assert [h.id for h in hits] == ["long"]  # grouped by document
    ungrouped = engine.search("c", SearchRequest(query="glaciers", k=10, group_by_document=False)).hits
    assert len(ungrouped) == min(10, info.chunks) and {h.id for h in ungrouped} == {"long"}


def test_delete_collection_removes_index_files(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    engine.ingest("c", docs())
    collection_dir = next(engine.settings.index_dir().iterdir())
    engine.delete_collection("c")
    assert not collection_dir.exists()
    with pytest.raises(CollectionNotFound):
        engine.collection_info("c")


class RecordingListener:
    """A minimal real WriteListener: remembers which chunk ids are live, per collection."""

    name = "recording"

    def __init__(self) -> None:
        self.live: dict[int, set[int]] = {}
        self.saves = 0
        self.dropped: list[int] = []

    def apply(self, collection, delta) -> None:  # noqa: ANN001
        live = self.live.setdefault(collection.id, set())
        live.difference_update(delta.removed_ids)
        live.update(delta.added_ids)
        assert len(delta.added_texts) == len(delta.added_ids) == len(delta.added_document_ids)

    def save(self, collection) -> None:  # noqa: ANN001
        self.saves += 1

    def rebuild(self, collection) -> None:  # noqa: ANN001
        pass

    def drop(self, collection_id: int) -> None:
        self.dropped.append(collection_id)


def test_write_listeners_follow_every_committed_write(engine) -> None:  # noqa: ANN001
    listener = RecordingListener()
    engine.add_listener(listener)
    engine.create_collection("c")
    engine.ingest("c", docs())
    collection_id = engine.context.collection("c").id
    with engine.sessions() as session:
        from store.repositories import chunk_ids

        assert listener.live[collection_id] == set(chunk_ids(session, collection_id).tolist())
    engine.ingest("c", docs(bread="Rye bread is dense and dark."))
    engine.delete_document("c", "orbit")
    with engine.sessions() as session:
        assert listener.live[collection_id] == set(chunk_ids(session, collection_id).tolist())
    assert len(listener.live[collection_id]) == 4 and listener.saves == 3
    engine.delete_collection("c")
    assert listener.dropped == [collection_id]
