"""Index upkeep and health: rebuild, verify and check a collection's derived indexes; report their state."""

from __future__ import annotations

from typing import Any

from services.context import ServiceContext
from services.writes import rebuild_derived
from store import repositories as repo
from store.session import database_error


def rebuild_index(ctx: ServiceContext, name: str) -> int:
    """Rebuild the collection's vector index and every listener's state from the database; the vector count."""
    collection = ctx.collection(name)
    with ctx.write_lock:
        return rebuild_derived(ctx, collection)


def verify_indexes(ctx: ServiceContext) -> None:
    """Load every collection's index, repairing or rebuilding it from the DB where they disagree."""
    with ctx.sessions() as session:
        stored = repo.list_collections(session)
    for collection in stored:
        ctx.vectors.get(collection)


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
