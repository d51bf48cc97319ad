"""Atomic writes per document, and indexes that heal from the database after crashes or damage."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from core.errors import LatentspaceError
from ingest import pipeline
from ingest.readers import SourceDocument
from services.search.types import SearchRequest
from store import repositories as repo
from tests.conftest import make_engine

TEXTS = {
    "a": "Glaciers carve valleys as they slowly move downhill.",
    "b": " ".join(f"Bread recipe step {i}: knead the dough and let it rise." for i in range(80)),
    "c": "Comets have tails of gas and dust that point away from the sun.",
}


def source_docs() -> list[SourceDocument]:
    return [SourceDocument(k, v, None, {}) for k, v in TEXTS.items()]


def fail_on_second_chunk_of(monkeypatch, external_id: str, error: Exception) -> None:  # noqa: ANN001
    """Make writing the second chunk of ``external_id`` raise, in the bulk and in the one-by-one write path."""
    embed, to_bytes = pipeline.embed_chunks, repo.vector_to_bytes
    target: list[np.ndarray] = []

    def embed_and_remember(batch, embedder):  # noqa: ANN001, ANN202
        count = embed(batch, embedder)
        target.extend(item.vectors[1] for item in batch if item.source.external_id == external_id)
        return count

    def breaking(vector):  # noqa: ANN001, ANN202
        if any(np.array_equal(vector, t) for t in target):
            raise error
        return to_bytes(vector)

    monkeypatch.setattr(pipeline, "embed_chunks", embed_and_remember)
    monkeypatch.setattr(repo, "vector_to_bytes", breaking)


def visible_ids(engine) -> set[str]:  # noqa: ANN001
    return {h.id for h in engine.search("c", SearchRequest(query="anything at all", k=50)).hits}


def test_a_failing_document_leaves_nothing_and_the_others_land(engine, monkeypatch) -> None:  # noqa: ANN001
    engine.create_collection("c")
    fail_on_second_chunk_of(monkeypatch, "b", LatentspaceError("disk says no"))
    report = engine.ingest("c", source_docs())
    assert (report.added, report.failed) == (2, 1)
    assert visible_ids(engine) == {"a", "c"}
    with engine.sessions() as session:
        assert repo.documents_by_external_id(session, engine.context.collection("c").id, ["b"]) == {}
        assert len(repo.chunk_ids(session, engine.context.collection("c").id)) == 2


def test_a_crash_mid_document_rolls_back_its_batch(engine, monkeypatch) -> None:  # noqa: ANN001
    engine.create_collection("c")
    fail_on_second_chunk_of(monkeypatch, "b", RuntimeError("simulated crash"))
    with pytest.raises(RuntimeError):
        engine.ingest("c", source_docs())
    info = engine.collection_info("c")
    assert (info.documents, info.chunks) == (0, 0)
    assert visible_ids(engine) == set()


def test_missing_index_is_rebuilt_from_stored_vectors(settings, embedders) -> None:  # noqa: ANN001
    first = make_engine(settings, embedders)
    first.create_collection("c")
    first.ingest("c", source_docs())
    expected = visible_ids(first)
    first.close()
    shutil.rmtree(settings.index_dir())
    second = make_engine(settings, embedders)
    assert visible_ids(second) == expected == {"a", "b", "c"}
    assert second.collection_info("c").indexed_vectors == second.collection_info("c").chunks
    second.close()


def test_corrupt_index_is_rebuilt(settings, embedders) -> None:  # noqa: ANN001
    first = make_engine(settings, embedders)
    first.create_collection("c")
    first.ingest("c", source_docs())
    first.close()
    for manifest in settings.index_dir().rglob("manifest.json"):
        manifest.write_text("{ not json")
    second = make_engine(settings, embedders)
    assert visible_ids(second) == {"a", "b", "c"}
    second.close()


def test_index_behind_the_database_is_repaired(settings, embedders) -> None:  # noqa: ANN001
    """A crash after commit but before the index save leaves an old index on disk."""
    first = make_engine(settings, embedders)
    first.create_collection("c")
    first.ingest("c", source_docs()[:1])
    saved = settings.index_dir().parent / "old-index"
    shutil.copytree(settings.index_dir(), saved)
    first.ingest("c", source_docs()[1:])
    first.delete_document("c", "a")
    first.close()
    shutil.rmtree(settings.index_dir())
    shutil.copytree(saved, settings.index_dir())  # the stale index: has "a", lacks "b" and "c"
    second = make_engine(settings, embedders)
    assert visible_ids(second) == {"b", "c"}
    info = second.collection_info("c")
    assert info.indexed_vectors == info.chunks
    second.close()


def test_rebuild_on_demand_keeps_results(engine) -> None:  # noqa: ANN001
    engine.create_collection("c")
    engine.ingest("c", source_docs())
    before = engine.search("c", SearchRequest(query="comet tails", k=3)).hits
    assert engine.rebuild_index("c") == engine.collection_info("c").chunks
    after = engine.search("c", SearchRequest(query="comet tails", k=3)).hits
    assert [(h.id, round(h.score, 5)) for h in before] == [(h.id, round(h.score, 5)) for h in after]


def test_new_documents_are_written_at_once_and_land_like_one_by_one(engine, monkeypatch) -> None:  # noqa: ANN001
    engine.create_collection("c")
    one_by_one = []
    original = pipeline.write_document
    monkeypatch.setattr(pipeline, "write_document", lambda *a: one_by_one.append(a[2]) or original(*a))
    rng = np.random.default_rng(5)
    vectors = {f"d{i}": rng.standard_normal(384).astype(np.float32) for i in range(40)}
    docs = [SourceDocument(f"d{i}", f"text {i}", f"file{i}.txt", {"i": i}) for i in range(40)]
    report = engine.ingest("c", docs, vectors=vectors)
    assert (report.added, report.failed, one_by_one) == (40, 0, [])  # one bulk insert, no per-document writes
    for i in (0, 17, 39):
        hit = engine.search("c", SearchRequest(vector=vectors[f"d{i}"].tolist(), k=1, mode="dense")).hits[0]
        assert (hit.id, hit.text, hit.metadata, hit.source_uri) == (f"d{i}", f"text {i}", {"i": i}, f"file{i}.txt")
        assert hit.score == pytest.approx(1.0, abs=1e-5)
    updated = engine.ingest("c", [SourceDocument("d3", "new text", None, {"i": 3})], vectors={"d3": vectors["d0"]})
    assert updated.updated == 1 and len(one_by_one) == 1  # changed documents still go one by one
    info = engine.collection_info("c")
    assert (info.documents, info.chunks, info.indexed_vectors) == (40, 40, 40)
