"""Index upkeep and health: rebuild, verify and check a collection's derived indexes; report their state."""

from __future__ import annotations

from typing import Any

from services.context import ServiceContext
from services.hittable import build_hit_tables
from services.writes import rebuild_derived
from store import repositories as repo
from store.models import Collection
from store.session import database_error


def rebuild_index(ctx: ServiceContext, name: str) -> int:
    """Rebuild the collection's vector index and every listener's state from the database; the vector count."""
    collection = ctx.collection(name)
    with ctx.write_lock:
        return rebuild_derived(ctx, collection)


def verify_indexes(ctx: ServiceContext) -> list[Collection]:
    """Load every collection's index, repairing or rebuilding it from the DB where they disagree; the collections."""
    with ctx.sessions() as session:
        stored = repo.list_collections(session)
    for collection in stored:
        ctx.vectors.get(collection)
    return stored


def check_index(ctx: ServiceContext, name: str) -> int:
    """Load (repairing if needed) and return the number of indexed vectors."""
    return len(ctx.vectors.get(ctx.collection(name)))


def readiness(ctx: ServiceContext) -> dict[str, Any]:
    """For ``/health/ready``: whether the database answers, and the loaded indexes' state."""
    error = database_error(ctx.sessions)
    if error is not None:
        return {"status": "unavailable", "database": error}
    return {"status": "ok", "database": "ok", "indexes": index_status(ctx)}


def index_status(ctx: ServiceContext) -> dict[str, Any]:
    """Loaded indexes, and the collections whose loaded index disagrees with the stored chunk count."""
    stale = []
    with ctx.sessions() as session:
        for collection in repo.list_collections(session):
            loaded = ctx.vectors.loaded(collection.id)
            if loaded is not None and len(loaded) != repo.collection_counts(session, collection.id)[1]:
                stale.append(collection.name)
    return {"loaded": len(ctx.vectors.loaded_items()), "out_of_sync": stale}


def loaded_index_sizes(ctx: ServiceContext) -> dict[int, int]:
    """Vectors in each loaded index by collection id (no disk or database access; for metrics)."""
    return {collection_id: len(index) for collection_id, index in ctx.vectors.loaded_items()}


def load_for_workers(ctx: ServiceContext) -> dict[str, Any]:
    """Before a server forks its workers: load what they then share instead of each building its own copy.

    Every vector index (verified against the database), every payload index with its query arrays built, the
    BM25 indexes if ``prefork_lexical`` asks, and the table of every chunk's hit row (services/hittable.py) within
    ``prefork_hit_table_mb``. Returns what was loaded, for the log.
    """
    stored = verify_indexes(ctx)
    if ctx.payload is not None:
        for collection in stored:
            ctx.payload.get(collection).prepare()
    if ctx.lexical is not None and ctx.settings.prefork_lexical:
        for collection in stored:
            ctx.lexical.get(collection)
    cap = ctx.settings.prefork_hit_table_mb * 1024 * 1024
    generation = ctx.write_lock.generation
    if generation is not None:  # the table's validity is a write generation: none, no table
        ctx.hit_table = build_hit_tables(ctx.sessions, generation, [c.id for c in stored], cap)
    table = ctx.hit_table
    return {
        "collections": len(stored),
        "payload_indexes": ctx.payload is not None,
        "lexical_indexes": ctx.lexical is not None and ctx.settings.prefork_lexical,
        "hit_table_rows": 0 if table is None else table.rows,
        "hit_table_mb": 0.0 if table is None else round(table.nbytes / 2**20, 1),
    }
