"""The change log (issue 13): one entry per committed write, in the write's own transaction, seq in commit order."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ingest.readers import SourceDocument
from store import changelog
from store.models import Chunk
from tests.services.test_consistency import fail_on_second_chunk_of

TEXTS = {
    "a": "Glaciers carve valleys as they slowly move downhill.",
    "b": "Comets have tails of gas and dust that point away from the sun.",
}


def _changes(engine) -> list[changelog.Change]:  # noqa: ANN001
    with engine.sessions() as session:
        return changelog.changes_after(session, 0)


def _chunk_ids(engine, collection_id: int) -> set[int]:  # noqa: ANN001
    with engine.sessions() as session:
        return set(session.scalars(select(Chunk.id).where(Chunk.collection_id == collection_id)))


def test_every_committed_write_is_logged_in_order(engine) -> None:  # noqa: ANN001
    engine.create_collection("notes")
    cid = engine.context.collection("notes").id
    engine.ingest("notes", [SourceDocument(k, v, None, {}) for k, v in TEXTS.items()])
    first = _chunk_ids(engine, cid)
    engine.ingest("notes", [SourceDocument("a", TEXTS["a"], None, {})])  # unchanged: no chunk moves, no entry
    engine.ingest("notes", [SourceDocument("a", "Glaciers melt in summer.", None, {})])  # update: out, in
    engine.delete_document("notes", "b")
    engine.delete_collection("notes")
    changes = _changes(engine)
    assert [c.op for c in changes] == ["write", "write", "write", "reset"]
    assert [c.seq for c in changes] == sorted({c.seq for c in changes})
    assert set(changes[0].added) == first and changes[0].removed == []
    assert len(changes[1].removed) == 1 and len(changes[1].added) == 1 and changes[1].removed[0] in first
    assert changes[2].added == [] and len(changes[2].removed) == 1
    assert {c.collection_id for c in changes} == {cid}
    with engine.sessions() as session:
        assert changelog.last_seq(session) == changes[-1].seq


def test_a_rolled_back_write_leaves_no_entry(engine, monkeypatch) -> None:  # noqa: ANN001
    engine.create_collection("notes")
    fail_on_second_chunk_of(monkeypatch, "long", RuntimeError("disk on fire"))
    long_text = " ".join(f"Bread recipe step {i}: knead the dough and let it rise." for i in range(80))
    with pytest.raises(RuntimeError):
        engine.ingest("notes", [SourceDocument("long", long_text, None, {})])
    assert _changes(engine) == []


def test_entries_written_with_the_transaction_only(settings) -> None:  # noqa: ANN001
    """Append inside a transaction that fails: the entry goes with it (no model needed)."""
    from store.migrate import upgrade
    from store.session import create_db_engine, create_session_factory

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    db = create_db_engine(settings.resolved_database_url())
    sessions = create_session_factory(db)
    with sessions.begin() as session:
        changelog.record_write(session, 1, [1, 2], [])
    with pytest.raises(ZeroDivisionError), sessions.begin() as session:
        changelog.record_write(session, 1, [3], [1])
        _ = 1 / 0
    with sessions.begin() as session:
        changelog.record_reset(session, 1)
        changelog.record_write(session, 1, [], [])  # nothing changed: nothing logged
    with sessions() as session:
        changes = changelog.changes_after(session, 0)
        assert [(c.op, c.added, c.removed) for c in changes] == [("write", [1, 2], []), ("reset", [], [])]
        assert changelog.changes_after(session, changes[0].seq) == changes[1:]
    db.dispose()
