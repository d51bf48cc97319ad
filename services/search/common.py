"""What both search leaves (dense.py, hybrid.py) share: the query vector and the stored rows of hits.

Rows come from the table a forking server built before the fork (services/hittable.py) or through the read
cache (services/hitcache.py) while no write intervened, so a repeated search costs no SQL. Kept apart from
the dispatcher so the leaves never import it (no import circle).
"""

from __future__ import annotations

import numpy as np

from ingest.pipeline import normalise
from services.context import ServiceContext
from services.search.types import SearchRequest
from store import repositories as repo
from store.models import Collection


def query_vector(ctx: ServiceContext, collection: Collection, request: SearchRequest) -> np.ndarray:
    """The request's raw vector (checked and normalised), or its text embedded by the collection's model."""
    if request.vector is not None:
        return normalise(request.vector, collection.embedder_dim)
    return ctx.embedder_for(collection).embed_query(request.query)


def chunk_hits(ctx: ServiceContext, ids: list[int]) -> dict[int, repo.ChunkHit]:
    """What a hit shows of each chunk (from the cache while no write intervened); gone ids are absent."""

    def load(missing: list[int]) -> dict[int, repo.ChunkHit]:
        with ctx.sessions() as session:
            return repo.load_chunk_hits(session, missing)

    table = ctx.hit_table  # built before a server forked; valid until the first write (services/hittable.py)
    if table is None:
        return ctx.hits.rows("chunk", ids, load)
    found, missing = table.lookup(ctx.hits.generation(), ids)
    if missing:
        found.update(ctx.hits.rows("chunk", missing, load))
    return found


def has_multi_chunk_documents(ctx: ServiceContext, collection: Collection) -> bool:
    """Whether some document has several chunks (grouped search must over-fetch); True when unknown."""

    def load() -> bool:
        with ctx.sessions() as session:
            return repo.has_multi_chunk_documents(session, collection.id)

    # Only a speed-up: while a write is in progress, assume the worst rather than cost a query.
    return ctx.hits.value(("multi_chunk", collection.id), load, uncached=True)


def stored_vectors(ctx: ServiceContext, collection: Collection, ids: list[int]) -> dict[int, np.ndarray]:
    """The stored vectors of chunk ``ids`` (those still present), by chunk id.

    From the collection's vector index, which holds the vectors that were stored (a hybrid search's
    lexical-only candidates cost ~1 ms of SQL per search otherwise); ids it does not hold are read from SQL
    (a cluster ingress's index holds none: its vectors live on the shards).
    """
    if not ids:
        return {}
    found, matrix = ctx.vectors.get(collection).vectors(np.asarray(ids, dtype=np.int64))
    vectors: dict[int, np.ndarray] = dict(zip(found.tolist(), matrix, strict=True))
    missing = [i for i in ids if i not in vectors]
    if missing:
        with ctx.sessions() as session:
            for found, matrix in repo.iter_vectors(session, collection.id, collection.embedder_dim, ids=missing):
                vectors.update(zip(found.tolist(), matrix, strict=True))
    return vectors
