"""After a committed write: bring the derived state along (vector index first, then every write listener).

The database is the source of truth; derived state only ever trails it (see services/sync/derived.py),
so these run after the commit and, for ``save``, once at the end of a whole write.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from index.base import VectorIndex
from ingest.pipeline import IndexDelta
from services.context import ServiceContext
from store import changelog
from store.models import Collection


def log_delta(session: Session, collection_id: int, delta: IndexDelta) -> None:
    """Append the delta to the change log inside the write's own transaction (shards follow it, issue 13)."""
    changelog.record_write(session, collection_id, delta.added_ids, delta.removed_ids, touched=bool(delta))


def apply_delta(ctx: ServiceContext, collection: Collection, index: VectorIndex, delta: IndexDelta) -> None:
    """Reflect one committed delta in the collection's loaded vector ``index`` and in every listener."""
    if delta.removed_ids:
        index.remove(np.asarray(delta.removed_ids, dtype=np.int64))
    if delta.added_ids:
        index.add(np.asarray(delta.added_ids, dtype=np.int64), delta.vectors())
    if delta:
        for listener in ctx.listeners:
            listener.apply(collection, delta)


def save_derived(ctx: ServiceContext, collection: Collection) -> None:
    """Persist the collection's vector index and every listener's state at the end of a write."""
    ctx.vectors.save(collection)
    for listener in ctx.listeners:
        listener.save(collection)


def rebuild_derived(ctx: ServiceContext, collection: Collection) -> int:
    """Rebuild the vector index and every listener's state from the database; the number of vectors."""
    count = len(ctx.vectors.rebuild(collection))
    for listener in ctx.listeners:
        listener.rebuild(collection)
    return count


def drop_derived(ctx: ServiceContext, collection_id: int) -> None:
    """Forget a deleted collection's derived state, in memory and on disk."""
    ctx.vectors.drop(collection_id)
    for listener in ctx.listeners:
        listener.drop(collection_id)
