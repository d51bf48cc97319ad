"""The payload index stays equal to SQL across upserts, metadata-only updates, deletes, restarts, a crash that left
it stale, and another Engine (process) writing to the same data dir; and search uses it end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from services.search.types import SearchRequest
from store.models import Document
from tests.search.payload_support import add_documents, payload_engine, payload_ids, sql_ids

SPECS = [
    {"lang": "en"},
    {"lang": {"$ne": "en"}},
    {"year": {"$gte": 2010, "$lt": 2020}},
    {"lang": {"$in": ["de", "fr"]}, "year": {"$gt": 2000}},
    {"tag": {"$nin": [1, True]}},
]


def _metadata(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    langs = ["en", "de", "fr", None]
    return [
        {"lang": langs[int(rng.integers(4))], "year": int(rng.integers(1990, 2030)), "tag": [1, True, "x"][i % 3]}
        for i in range(n)
    ]


def _agrees(engine, name: str = "c") -> None:  # noqa: ANN001
    for spec in SPECS:
        assert payload_ids(engine, name, spec) == sql_ids(engine, name, spec), spec


@pytest.fixture
def pair(db_url: str, tmp_path: Path):  # noqa: ANN201
    """Two Engines on one data dir and database: what two server workers or a CLI beside a server are."""
    first = payload_engine(tmp_path / "data", db_url)
    second = payload_engine(tmp_path / "data", db_url)
    first.create_collection("c")
    add_documents(first, "c", _metadata(40, 1))
    yield first, second
    first.close()
    second.close()


def test_upsert_metadata_only_update_and_delete(pair) -> None:
    engine, _ = pair
    _agrees(engine)
    before = payload_ids(engine, "c", {"lang": "zz"})
    metadata = _metadata(40, 1)
    metadata[3] = {"lang": "zz", "year": 1500}  # same text and vector: a metadata-only update, same chunk ids
    add_documents(engine, "c", metadata)
    assert before == [] and len(payload_ids(engine, "c", {"lang": "zz"})) == 1
    _agrees(engine)
    engine.delete_document("c", "d3")
    assert payload_ids(engine, "c", {"lang": "zz"}) == []
    add_documents(engine, "c", _metadata(10, 7), prefix="new")  # new documents
    _agrees(engine)


def test_another_engine_writing_is_seen(pair) -> None:
    reader, writer = pair
    _agrees(reader)  # loaded in the reader
    metadata = _metadata(40, 1)
    metadata[5] = {"lang": "xx"}
    add_documents(writer, "c", metadata)  # metadata-only update by the other Engine
    writer.delete_document("c", "d6")
    add_documents(writer, "c", [{"lang": "xx", "year": 2015}], prefix="w")
    assert len(payload_ids(reader, "c", {"lang": "xx"})) == 2
    _agrees(reader)


def test_restart_loads_saved_and_rebuilds_missing(pair, tmp_path: Path) -> None:
    engine, _ = pair
    url = engine.settings.resolved_database_url()
    directory = engine.settings.index_dir() / str(engine.context.collection("c").id) / "payload"
    assert (directory / "manifest.json").exists()
    restarted = payload_engine(tmp_path / "data", url)
    _agrees(restarted)
    restarted.close()
    for path in directory.iterdir():
        path.unlink()  # gone (or unreadable): rebuilt from SQL on first use
    rebuilt = payload_engine(tmp_path / "data", url)
    _agrees(rebuilt)
    rebuilt.close()


def test_metadata_committed_but_index_not_saved_is_repaired(pair, tmp_path: Path) -> None:
    """A crash between a metadata-only update's commit and the save: the next load re-reads what changed."""
    engine, _ = pair
    _agrees(engine)
    with engine.sessions.begin() as session:
        session.execute(
            update(Document)
            .where(Document.external_id == "d2")
            .values(metadata_={"lang": "crash"}, updated_at=datetime.now(UTC))
        )
    restarted = payload_engine(tmp_path / "data", engine.settings.resolved_database_url())
    assert len(payload_ids(restarted, "c", {"lang": "crash"})) == 1
    _agrees(restarted)
    restarted.close()


def test_search_uses_the_index_and_falls_back_to_sql(pair, tmp_path: Path) -> None:
    engine, _ = pair
    plain = payload_engine(tmp_path / "data", engine.settings.resolved_database_url(), payload_index=False)
    assert plain.context.payload is None
    vector = np.ones(8, dtype=np.float32)
    for spec in [*SPECS, {"topic": 1}, {"year": {"$gt": 2**60}}]:  # the last two are SQL's to answer
        ours = engine.search("c", SearchRequest(vector=vector, k=50, filter=spec))
        theirs = plain.search("c", SearchRequest(vector=vector, k=50, filter=spec))
        assert [h.id for h in ours.hits] == [h.id for h in theirs.hits], spec
    assert engine.context.payload.match(engine.context.collection("c"), {"topic": 1}) is None
    plain.close()
