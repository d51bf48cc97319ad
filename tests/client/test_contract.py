"""The client contract: every test runs against the embedded and the remote client (a live server), with
bring-your-own-vector collections so no model is loaded; same results, same exceptions, nothing stored on
bad input."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import latentspace
from latentspace import Client, Collection

VECTORS = {"a": [1.0, 0.0, 0.0], "b": [0.0, 1.0, 0.0], "c": [0.6, 0.8, 0.0]}
TEXTS = {"a": "apple pie with cinnamon", "b": "banana bread recipe", "c": "cherry and banana smoothie"}
META = {"a": {"kind": "pie", "year": 2001}, "b": {"kind": "bread", "year": 2010}, "c": {"kind": "drink", "year": 2020}}


@pytest.fixture
def filled(client: Client, name: str) -> Iterator[Collection]:
    """A three-document collection without a model (3-d vectors), deleted afterwards."""
    collection = client.create_collection(name, model=None, dimension=3)
    ids = list(VECTORS)
    collection.upsert(ids, [TEXTS[i] for i in ids], [META[i] for i in ids], [VECTORS[i] for i in ids])
    yield collection
    client.delete_collection(name)


def test_collections_are_created_listed_and_deleted(client: Client, name: str) -> None:
    collection = client.create_collection(name, model=None, dimension=4)
    assert (collection.info.model, collection.info.dimension, collection.info.documents) == (None, 4, 0)
    assert name in [info.name for info in client.list_collections()]
    assert client.get_collection(name).info.dimension == 4
    assert client.get_or_create_collection(name).name == name
    with pytest.raises(latentspace.Conflict) as taken:
        client.create_collection(name, model=None, dimension=4)
    assert taken.value.code == "collection_exists"
    client.delete_collection(name)
    with pytest.raises(latentspace.NotFound) as gone:
        client.get_collection(name)
    assert (gone.value.code, gone.value.message) == ("collection_not_found", f"collection {name!r} does not exist")


def test_search_by_vector_filter_and_lexical_text(filled: Collection) -> None:
    hits = filled.search(vector=[1.0, 0.1, 0.0], k=3)
    assert [h.id for h in hits] == ["a", "c", "b"]
    assert hits[0].score == pytest.approx(1 / np.sqrt(1.01), abs=1e-6)
    assert (hits[0].text, hits[0].metadata, hits[0].mode) == (TEXTS["a"], META["a"], "dense")
    recent = filled.search(vector=np.array([1.0, 0.1, 0.0]), k=3, filter={"year": {"$gte": 2005}})
    assert [h.id for h in recent] == ["c", "b"]
    lexical = filled.search("banana", mode="lexical", k=3)
    assert {h.id for h in lexical} == {"b", "c"} and all(h.mode == "lexical" for h in lexical)


def test_documents_get_upsert_add_delete_count(filled: Collection) -> None:
    docs = filled.get(["c", "missing", "a"])
    assert [(d.id, d.text, d.metadata) for d in docs] == [("c", TEXTS["c"], META["c"]), ("a", TEXTS["a"], META["a"])]
    assert [d.id for d in filled.get(limit=2)] == ["a", "b"] and filled.count() == 3
    result = filled.upsert(["a"], ["apple tart"], [{"kind": "tart"}], [[0.0, 0.0, 1.0]])
    assert (result.added, result.updated) == (0, 1)
    assert filled.search(vector=[0.0, 0.0, 1.0], k=1)[0].text == "apple tart"
    with pytest.raises(latentspace.Conflict):
        filled.add(["d", "b"], ["new", "again"], vectors=[[1, 1, 1], [1, 1, 1]])
    assert filled.get(["d"]) == []  # nothing of the refused add was stored
    assert filled.add(["d"], ["date loaf"], vectors=[[1, 1, 1]]).added == 1
    assert filled.delete(["d", "never-there"]) == 1 and filled.count() == 3


def test_explain_and_hybrid_options_pass_through(filled: Collection) -> None:
    hits = filled.search("banana smoothie", mode="lexical", k=1, explain=True)
    assert hits[0].id == "c" and hits[0].explain is not None


@pytest.mark.parametrize(
    ("call", "error", "code", "says"),
    [
        (lambda c: c.search(vector=[1.0, 2.0]), latentspace.InvalidInput, "dimension_mismatch", "dimension is 3"),
        (lambda c: c.search(""), latentspace.InvalidInput, "invalid_input", "query must be a non-empty string"),
        (lambda c: c.search("   "), latentspace.InvalidInput, "invalid_input", "non-empty"),
        (lambda c: c.search("pie"), latentspace.InvalidInput, "invalid_input", "has no model"),
        (lambda c: c.search(vector=[1, 0, 0], filter={"year": {"$near": 3}}), latentspace.InvalidInput,
         "invalid_filter", "'$near'"),
        (lambda c: c.search(vector=[1, 0, 0], k=0), latentspace.InvalidInput, "invalid_input", "k must be"),
        (lambda c: c.search(vector=[1, 0, float("nan")]), latentspace.InvalidInput, "invalid_input", "NaN"),
        (lambda c: c.upsert(["x"], ["x"], vectors=[[1.0, 2.0]]), latentspace.InvalidInput, "dimension_mismatch",
         "dimension is 3"),
        (lambda c: c.upsert(["x", "y"], ["x", "y"], vectors=[[1, 0, 0], [1, 2, 3, 4]]), latentspace.InvalidInput,
         "dimension_mismatch", "4 values"),
        (lambda c: c.upsert(["x"], ["no vector"]), latentspace.InvalidInput, "invalid_input", "needs its 'vector'"),
        (lambda c: c.upsert([f"x{i}" for i in range(51)], ["t"] * 51, vectors=[[1, 0, 0]] * 51),
         latentspace.PayloadTooLarge, "payload_too_large", "at most 50 documents"),
        (lambda c: c.topics(), latentspace.Conflict, "model_not_fitted", "topics fit"),
        (lambda c: c.map(), latentspace.Conflict, "model_not_fitted", "map"),
        (lambda c: c.recommend("nobody"), latentspace.Conflict, "model_not_fitted", "latentspace train"),
    ],
)
def test_bad_input_raises_the_documented_error_and_stores_nothing(
    filled: Collection, call, error: type, code: str, says: str  # noqa: ANN001
) -> None:
    before = [(d.id, d.text, d.metadata) for d in filled.get(list(VECTORS) + ["x", "y", "x0"])]
    with pytest.raises(error) as raised:
        call(filled)
    assert type(raised.value) is error and raised.value.code == code
    assert says in raised.value.message
    assert [(d.id, d.text, d.metadata) for d in filled.get(list(VECTORS) + ["x", "y", "x0"])] == before
    assert filled.count() == 3


def test_an_unknown_collection_is_not_found_for_every_operation(client: Client, name: str) -> None:
    info = latentspace.CollectionInfo(name, "text", None, 3, "", "exact", {}, 0, 0, 0, "")
    ghost = Collection(client.transport, info)
    for call in (
        lambda: ghost.search(vector=[1, 0, 0]),
        lambda: ghost.upsert(["a"], ["a"], vectors=[[1, 0, 0]]),
        lambda: ghost.get(["a"]),
        lambda: ghost.delete(["a"]),
        lambda: ghost.count(),
        lambda: client.delete_collection(name),
    ):
        with pytest.raises(latentspace.NotFound) as raised:
            call()
        assert raised.value.code == "collection_not_found"
        assert raised.value.message == f"collection {name!r} does not exist"
    assert name not in [info.name for info in client.list_collections()]


def test_creating_without_model_needs_a_dimension(client: Client, name: str) -> None:
    with pytest.raises(latentspace.InvalidInput) as raised:
        client.create_collection(name, model=None)
    assert "needs its 'dimension'" in raised.value.message
    with pytest.raises(latentspace.InvalidInput):
        client.create_collection(name, model=None, dimension=0)
    assert name not in [info.name for info in client.list_collections()]


def test_embedded_and_remote_give_the_same_answers(embedded_client: Client, remote_client: Client, name: str) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    ids = [f"d{i:02d}" for i in range(40)]
    texts = [f"document number {i} about {'odd' if i % 2 else 'even'} things" for i in range(40)]
    metas = [{"parity": i % 2, "i": i} for i in range(40)]
    query = rng.normal(size=8)
    answers = []
    for client in (embedded_client, remote_client):
        collection = client.create_collection(name, model=None, dimension=8)
        collection.upsert(ids, texts, metas, vectors)
        answers.append(
            (
                collection.search(vector=query, k=10),
                collection.search(vector=query, k=5, filter={"parity": 1}),
                collection.search("odd things", mode="lexical", k=5),
                [(d.id, d.text, d.metadata) for d in collection.get(["d03", "d07"])],
                collection.refresh().documents,
            )
        )
        client.delete_collection(name)
    embedded, remote = answers
    assert embedded == remote
    assert len(embedded[0]) == 10 and all(h.metadata["parity"] == 1 for h in embedded[1])
