"""Search over a collection: validate, pick the mode, (filter), query the index(es), group, hydrate.

Plain dense search stays on the short path below; lexical, hybrid, ``explain`` and ``diversity`` go
through core/hybrid.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.errors import InvalidInput
from ingest.pipeline import normalise
from services.search.hybrid import resolve_mode, run_multi
from services.search.types import Hit, SearchRequest, SearchResult
from store import repositories as repo
from store.models import Collection

if TYPE_CHECKING:
    from services.engine import Engine


def validate(request: SearchRequest, max_k: int, max_query_chars: int) -> None:
    if (request.query is None) == (request.vector is None):
        raise InvalidInput("give exactly one of 'query' (text) or 'vector'")
    if request.query is not None:
        if not request.query.strip():
            raise InvalidInput("query must not be empty")
        if len(request.query) > max_query_chars:
            raise InvalidInput(f"query is longer than {max_query_chars} characters")
    if not 1 <= request.k <= max_k:
        raise InvalidInput(f"k must be between 1 and {max_k}")
    if request.weight is not None and not 0.0 <= request.weight <= 1.0:
        raise InvalidInput("weight must be between 0 and 1")
    if request.rrf_k is not None and request.rrf_k < 0:
        raise InvalidInput("rrf_k must not be negative")
    if not 0.0 <= request.diversity <= 1.0:
        raise InvalidInput("diversity must be between 0 and 1")


def query_vector(engine: Engine, collection: Collection, request: SearchRequest) -> np.ndarray:
    if request.vector is not None:
        return normalise(request.vector, collection.embedder_dim)
    return engine.embedder_for(collection).embed_query(request.query)


def run_search(engine: Engine, collection: Collection, request: SearchRequest) -> SearchResult:
    settings = engine.settings
    validate(request, settings.max_k, settings.max_query_chars)
    mode = resolve_mode(engine, collection, request)
    allowed = None
    if request.filter:
        with engine.sessions() as session:
            allowed = repo.filtered_chunk_ids(session, collection.id, request.filter)
        if len(allowed) == 0:
            return SearchResult(hits=[], mode=mode, total_candidates=0)
    if mode != "dense" or request.explain or request.diversity:
        return run_multi(engine, collection, request, mode, allowed)
    vector = query_vector(engine, collection, request)
    index = engine.indexes.get(collection)
    limit = len(index) if allowed is None else len(allowed)
    group = request.group_by_document and engine.has_multi_chunk_documents(collection)
    fetch = min(request.k * (4 if group else 1), limit)
    while True:
        ids, scores = index.search(vector[None, :], max(fetch, 1), allowed_ids=allowed)
        hits = _hydrate(engine, ids[0], scores[0], group, request.k)
        if len(hits) >= request.k or fetch >= limit:
            return SearchResult(hits=hits, total_candidates=limit)
        fetch = min(fetch * 4, limit)  # several chunks of one document (or deleted rows) filled the page: widen


def _hydrate(engine: Engine, ids: np.ndarray, scores: np.ndarray, group: bool, k: int) -> list[Hit]:
    """Up to ``k`` hits in index order; with ``group``, only each document's best chunk."""
    valid = [(int(i), float(s)) for i, s in zip(ids.tolist(), scores.tolist(), strict=True) if i >= 0]
    rows = engine.chunk_hits([i for i, _ in valid])
    hits: list[Hit] = []
    seen: set[int] = set()
    for chunk_id, score in valid:
        row = rows.get(chunk_id)
        if row is None:  # deleted after the index answered
            continue
        if group and row.document_id in seen:
            continue
        seen.add(row.document_id)
        hits.append(Hit.from_row(row, score))
        if len(hits) == k:
            break
    return hits
