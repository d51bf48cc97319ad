"""The change log (store/models_cluster.py): append in the writer's transaction, read in seq order.

Appending never commits: it runs inside the write's own transaction, so an entry exists exactly when its
write does. On PostgreSQL the append first takes a transaction-scoped advisory lock, held until commit:
two writers' appends (and therefore commits) are serialised, so seq order is commit order and a follower
that has read every entry up to ``seq`` can never later see a smaller one appear. SQLite serialises
writers anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from store.models_cluster import ChangeLogEntry, ShardLayout

# An arbitrary constant naming latentspace's change-log lock among the database's advisory locks.
ADVISORY_LOCK_KEY = 7_301_913


@dataclass(frozen=True)
class Change:
    """One committed write as a follower sees it."""

    seq: int
    collection_id: int
    op: str  # "write" or "reset"
    added: list[int]
    removed: list[int]


def _serialise(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def record_write(
    session: Session, collection_id: int, added: Sequence[int], removed: Sequence[int], touched: bool = False
) -> None:
    """Append the chunks a write added and removed. Nothing when it changed no chunk, unless ``touched``:
    it changed what a search shows all the same (a document's metadata), which readers that cache rows
    must learn from the log (services/cluster/logclock.py); followers applying it change no index."""
    if not added and not removed and not touched:
        return
    _serialise(session)
    entry = ChangeLogEntry(
        collection_id=collection_id, op="write", added=[int(i) for i in added], removed=[int(i) for i in removed]
    )
    session.add(entry)


def record_reset(session: Session, collection_id: int) -> None:
    """Append that the collection's derived state must be forgotten (dropped, or replaced by a restore)."""
    _serialise(session)
    entry = ChangeLogEntry(collection_id=collection_id, op="reset", added=[], removed=[])
    session.add(entry)


def last_seq(session: Session) -> int:
    """The newest committed seq (0 for an empty log)."""
    return int(session.scalar(select(func.max(ChangeLogEntry.seq))) or 0)


def changes_after(session: Session, seq: int, limit: int = 1000, collection_id: int | None = None) -> list[Change]:
    """Up to ``limit`` entries with a seq above ``seq`` (of one collection, if given), oldest first."""
    stmt = select(ChangeLogEntry).where(ChangeLogEntry.seq > seq)
    if collection_id is not None:
        stmt = stmt.where(ChangeLogEntry.collection_id == collection_id)
    rows = session.scalars(stmt.order_by(ChangeLogEntry.seq).limit(limit))
    return [Change(r.seq, r.collection_id, r.op, list(r.added or []), list(r.removed or [])) for r in rows]


def shard_layout(session: Session, collection_id: int) -> int | None:
    """The recorded shard count of a collection, or None when it was never served sharded."""
    row = session.get(ShardLayout, collection_id)
    return None if row is None else row.shards


def record_shard_layout(session: Session, collection_id: int, shards: int) -> None:
    session.add(ShardLayout(collection_id=collection_id, shards=shards))
    session.flush()


def set_shard_layout(session: Session, collection_id: int, shards: int, reset: bool = True) -> None:
    """Record a new shard count (resharding: with ``reset``, running shards drop the collection and rebuild it).

    ``reset=False`` is for a benchmark that serves one collection under several layouts at once on purpose.
    """
    row = session.get(ShardLayout, collection_id)
    if row is None:
        record_shard_layout(session, collection_id, shards)
    else:
        row.shards = shards
    if reset:
        record_reset(session, collection_id)
