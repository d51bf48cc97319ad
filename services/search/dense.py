"""Plain dense search: the short path (one index query, widened only when grouping or deletions thin the page).

Lexical, hybrid, ``explain`` and ``diversity`` go through services/search/hybrid.py instead; the
dispatcher (services/search/dispatch.py) chooses.
"""

from __future__ import annotations

import numpy as np

from services.context import ServiceContext
from services.search.common import chunk_hits, has_multi_chunk_documents, query_vector
from services.search.types import Hit, SearchRequest, SearchResult
from store.models import Collection


def dense_search(
    ctx: ServiceContext, collection: Collection, request: SearchRequest, allowed: np.ndarray | None
) -> SearchResult:
    """Top ``request.k`` hits by cosine similarity, among ``allowed`` chunk ids when a filter gave them."""
    vector = query_vector(ctx, collection, request)
    index = ctx.vectors.get(collection)
    limit = len(index) if allowed is None else len(allowed)
    group = request.group_by_document and has_multi_chunk_documents(ctx, collection)
    fetch = min(request.k * (4 if group else 1), limit)
    while True:
        ids, scores = index.search(vector[None, :], max(fetch, 1), allowed_ids=allowed)
        hits = hydrate(ctx, ids[0], scores[0], group, request.k)
        if len(hits) >= request.k or fetch >= limit:
            return SearchResult(hits=hits, total_candidates=limit)
        fetch = min(fetch * 4, limit)  # several chunks of one document (or deleted rows) filled the page: widen


def hydrate(ctx: ServiceContext, ids: np.ndarray, scores: np.ndarray, group: bool, k: int) -> list[Hit]:
    """Up to ``k`` hits in index order; with ``group``, only each document's best chunk."""
    valid = [(int(i), float(s)) for i, s in zip(ids.tolist(), scores.tolist(), strict=True) if i >= 0]
    rows = chunk_hits(ctx, [i for i, _ in valid])
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
