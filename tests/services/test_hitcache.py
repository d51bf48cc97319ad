"""The search hit cache: used while no write happened, dropped by any write, in this or another process."""

from __future__ import annotations

import numpy as np
import pytest

from core.writelock import WriteGeneration, WriteLock
from ingest.readers import SourceDocument
from services.hitcache import HitCache
from services.search.types import SearchRequest
from tests.conftest import make_engine

DIM = 384


def vectors(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {f"d{i}": rng.standard_normal(DIM).astype(np.float32) for i in range(n)}


def documents(n: int, colour: str = "red") -> list[SourceDocument]:
    return [SourceDocument(f"d{i}", f"document number {i}", None, {"colour": colour}) for i in range(n)]


def search(engine, vector: np.ndarray, k: int = 3) -> list:  # noqa: ANN001
    return engine.search("c", SearchRequest(vector=vector.tolist(), k=k, mode="dense")).hits


@pytest.fixture
def pair(sqlite_settings, embedders):  # noqa: ANN001, ANN201
    """Two engines on one data dir and database, as two server processes would be."""
    first, second = make_engine(sqlite_settings, embedders), make_engine(sqlite_settings, embedders)
    first.create_collection("c")
    yield first, second
    first.close()
    second.close()


def test_generation_is_odd_only_while_the_write_lock_is_held(tmp_path) -> None:  # noqa: ANN001
    generation = WriteGeneration(tmp_path / "gen")
    lock = WriteLock(tmp_path / "lock", generation)
    assert generation.read() == 0
    with lock:
        inside = generation.read()
        with lock:  # re-entrant: one bracket for the outermost hold
            assert generation.read() == inside
    after = generation.read()
    assert inside % 2 == 1 and after % 2 == 0 and after > inside
    (tmp_path / "gen").write_text("garbage")
    assert generation.read() % 2 == 1  # unreadable: don't trust any cache
    generation.begin()  # a writer that died here leaves it odd ...
    with lock:
        pass  # ... until the next write completes
    assert generation.read() % 2 == 0


def test_repeated_search_is_served_from_the_cache(pair) -> None:  # noqa: ANN001
    engine, _ = pair
    vecs = vectors(6)
    engine.ingest("c", documents(6), vectors=vecs)
    first = search(engine, vecs["d2"])
    assert first[0].id == "d2" and len(engine.hits) == 3
    loads = []
    engine.hits.rows("chunk", [0], lambda ids: loads.append(ids) or {})  # an unknown id is looked up
    again = search(engine, vecs["d2"])
    assert [h.id for h in again] == [h.id for h in first]
    assert again[0] is not first[0] and again[0].metadata is first[0].metadata  # same cached row
    assert loads == [[0]]


def test_a_write_in_another_engine_is_seen_at_once(pair) -> None:  # noqa: ANN001
    reader, writer = pair
    vecs = vectors(6)
    writer.ingest("c", documents(6), vectors=vecs)
    assert search(reader, vecs["d1"])[0].metadata == {"colour": "red"}
    # Metadata-only change: same chunks, same vectors, nothing for the index to notice.
    report = writer.ingest("c", documents(6, colour="blue"), vectors=vecs)
    assert report.updated == 6 and report.chunks_embedded == 0
    assert search(reader, vecs["d1"])[0].metadata == {"colour": "blue"}
    writer.delete_document("c", "d1")
    assert "d1" not in [h.id for h in search(reader, vecs["d1"], k=6)]


def test_nothing_is_cached_or_served_from_cache_during_a_write(pair) -> None:  # noqa: ANN001
    reader, writer = pair
    vecs = vectors(4)
    writer.ingest("c", documents(4), vectors=vecs)
    search(reader, vecs["d0"])
    assert len(reader.hits) > 0
    with writer.write_lock:  # a write in progress (e.g. between its commit and its end)
        hits = search(reader, vecs["d0"])
        assert hits[0].id == "d0" and len(reader.hits) == 0
    search(reader, vecs["d0"])
    assert len(reader.hits) > 0


def test_cache_keeps_at_most_max_entries_and_zero_turns_it_off(tmp_path) -> None:  # noqa: ANN001
    generation = WriteGeneration(tmp_path / "gen")
    rows = {i: object() for i in range(10)}
    cache = HitCache(generation, max_entries=4)
    assert cache.rows("t", list(range(10)), lambda ids: {i: rows[i] for i in ids}) == rows
    assert len(cache) == 4
    assert cache.rows("t", [9], lambda ids: pytest.fail("9 is among the most recent")) == {9: rows[9]}
    assert cache.rows("other", [9], lambda ids: {9: "x"}) == {9: "x"}  # kinds do not mix
    off = HitCache(generation, max_entries=0)
    off.rows("t", [1, 2], lambda ids: {i: rows[i] for i in ids})
    assert len(off) == 0


def test_grouping_still_returns_each_document_once_when_documents_have_many_chunks(pair) -> None:  # noqa: ANN001
    engine, _ = pair
    long_text = " ".join(f"sentence {i} about volcanoes and basalt rock formations." for i in range(120))
    engine.ingest("c", [SourceDocument("long", long_text, None, {}), *documents(3)])
    assert engine.collection_info("c").chunks > 4
    hits = engine.search("c", SearchRequest(query="volcano basalt", k=4, mode="dense")).hits
    assert [h.id for h in hits].count("long") == 1 and len(hits) == 4
    chunks = engine.search("c", SearchRequest(query="volcano basalt", k=4, mode="dense", group_by_document=False))
    assert [h.id for h in chunks.hits].count("long") >= 2
