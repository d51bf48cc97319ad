"""The table of hit rows a forking server builds (services/hittable.py): exactly SQL's rows, never after a write.

Real databases (SQLite and PostgreSQL); documents bring their vectors (the hash embedder), so no model loads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.readers import SourceDocument
from services.hittable import STDLIB_JSON, build_hit_tables, build_table, encode_metadata
from services.search.types import SearchRequest
from store import repositories as repo
from tests.conftest import postgres_url, reset_postgres
from tests.search.payload_support import payload_engine

ODD = [
    {"lang": "en", "year": 2021, "score": 0.1, "ok": True},
    {"big": 2**63 - 1, "small_int": -(2**63), "nested": {"a": [1, 2.5, None, "x"]}, "unicode": "naïve 日本 🚀"},
    {},
    {"neg": -0.0, "exp": 1e300, "small": 5e-324, "list": []},
]


@pytest.fixture(params=["sqlite", "postgresql"])
def table_engine(request: pytest.FixtureRequest, tmp_path: Path):  # noqa: ANN201
    url = None
    if request.param == "postgresql":
        url = postgres_url()
        if url is None:
            pytest.skip("PostgreSQL not reachable: set LATENTSPACE_TEST_POSTGRES_URL")
        reset_postgres(url)
    engine = payload_engine(tmp_path / "data", database_url=url)
    yield engine
    engine.close()


def _ingest(engine, name: str, count: int, text: str = "text", metadata: dict | None = None) -> None:  # noqa: ANN001
    vectors = np.random.default_rng(count).normal(size=(count, 8)).astype(np.float32)
    docs = [
        SourceDocument(f"{name}-{i}", f"{text} {i} — ünïcödé 🚀", None if i % 2 else f"/src/{name}/{i}.txt",
                       metadata if metadata is not None else ODD[i % len(ODD)])
        for i in range(count)
    ]
    report = engine.ingest(name, docs, vectors={d.external_id: v for d, v in zip(docs, vectors, strict=True)})
    assert report.failed == 0, report.errors


def _all_ids(engine) -> list[int]:  # noqa: ANN001
    with engine.sessions() as session:
        return [int(i) for c in repo.list_collections(session) for i in repo.chunk_ids(session, c.id)]


def test_table_rows_are_exactly_the_sql_rows(table_engine) -> None:  # noqa: ANN001
    for name, count in (("a", 30), ("b", 7)):
        table_engine.create_collection(name, vectors_only=True, dimension=8)
        _ingest(table_engine, name, count)
    loaded = table_engine.load_for_workers()
    table = table_engine.context.hit_table
    assert loaded["hit_table_rows"] == 37 and table is not None and len(table.tables) == 2
    ids = _all_ids(table_engine)
    with table_engine.sessions() as session:
        expected = repo.load_chunk_hits(session, ids)
    found, missing = table.lookup(table.generation, [*ids, 10**9])
    assert missing == [10**9] and found == expected
    assert found[ids[1]].metadata["big"] == 2**63 - 1 and isinstance(found[ids[0]].metadata["year"], int)
    assert table.lookup(table.generation + 2, ids) == ({}, ids)


def test_a_write_makes_searches_leave_the_table(table_engine, tmp_path: Path) -> None:  # noqa: ANN001
    """Another process's write (another Engine on the data dir) changes text and metadata: searches show it."""
    table_engine.create_collection("w", vectors_only=True, dimension=8)
    _ingest(table_engine, "w", 5, text="old", metadata={"v": 1})
    table_engine.load_for_workers()
    query = SearchRequest(vector=np.random.default_rng(5).normal(size=8).tolist(), k=5)
    before = {hit.id: hit for hit in table_engine.search("w", query).hits}
    assert {hit.metadata["v"] for hit in before.values()} == {1}
    other = payload_engine(table_engine.settings.data_dir, database_url=table_engine.settings.database_url)
    try:
        _ingest(other, "w", 5, text="old", metadata={"v": 2})  # metadata only: the chunks keep their ids
        after = {hit.id: hit for hit in table_engine.search("w", query).hits}
        assert after.keys() == before.keys()
        assert {hit.metadata["v"] for hit in after.values()} == {2}
        _ingest(other, "w", 5, text="new", metadata={"v": 3})  # new text: new chunks
    finally:
        other.close()
    after = {hit.id: hit for hit in table_engine.search("w", query).hits}
    assert after.keys() == before.keys() and {hit.metadata["v"] for hit in after.values()} == {3}
    assert all(hit.text.startswith("new ") for hit in after.values())


def test_the_size_cap_skips_what_does_not_fit(table_engine) -> None:  # noqa: ANN001
    table_engine.create_collection("small", vectors_only=True, dimension=8)
    _ingest(table_engine, "small", 3)
    table_engine.create_collection("large", vectors_only=True, dimension=8)
    _ingest(table_engine, "large", 40, text="x" * 2000)
    ctx = table_engine.context
    with table_engine.sessions() as session:
        ids = [c.id for c in repo.list_collections(session)]
    only_small = build_hit_tables(ctx.sessions, ctx.write_lock.generation, ids, cap_bytes=20_000)
    assert only_small is not None and only_small.rows == 3 and only_small.nbytes <= 20_000
    assert build_hit_tables(ctx.sessions, ctx.write_lock.generation, ids, cap_bytes=0) is None
    table_engine.context.settings = table_engine.settings.model_copy(update={"prefork_hit_table_mb": 0})
    assert table_engine.load_for_workers()["hit_table_rows"] == 0 and ctx.hit_table is None


def test_no_table_while_a_write_is_under_way(table_engine) -> None:  # noqa: ANN001
    table_engine.create_collection("busy", vectors_only=True, dimension=8)
    _ingest(table_engine, "busy", 3)
    ctx = table_engine.context
    with ctx.write_lock:  # odd generation: what a table would hold may be half written
        assert build_hit_tables(ctx.sessions, ctx.write_lock.generation, [1], cap_bytes=10**6) is None


def test_metadata_orjson_cannot_keep_goes_through_the_stdlib() -> None:
    """Rows stored before today's validation may hold integers beyond 64 bits: they come back exactly."""
    stored = repo.ChunkHit(7, 3, "e", None, {"huge": 2**70, "n": 1.5}, 0, "t", 0, 1)
    assert encode_metadata(stored.metadata)[1] == STDLIB_JSON
    table = build_table([[stored]], budget=10_000)
    assert table is not None and table.find(np.array([7])) == {7: stored}
