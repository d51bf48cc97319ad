"""Search over a collection: validate, resolve the mode, turn a metadata filter into allowed chunk ids, and
hand over to a leaf: services/search/dense.py (plain dense search, the short path) or
services/search/hybrid.py (lexical, hybrid, and dense with ``explain`` or ``diversity``).
"""

from __future__ import annotations

import math

import numpy as np

from core.errors import InvalidInput
from services.context import ServiceContext
from services.search.dense import dense_search
from services.search.hybrid import multi_search
from services.search.types import SearchRequest, SearchResult
from store import repositories as repo
from store import values
from store.filters import compile_filter
from store.models import Collection

MODES = ("dense", "lexical", "hybrid")


def search(ctx: ServiceContext, name: str, request: SearchRequest) -> SearchResult:
    """Search collection ``name``; what Engine.search and the API run."""
    # One generation for the whole search, so its cached rows all belong to the same committed state.
    ctx.hits.pin()
    try:
        return run_search(ctx, ctx.cached_collection(name), request)
    finally:
        ctx.hits.unpin()


def run_search(ctx: ServiceContext, collection: Collection, request: SearchRequest) -> SearchResult:
    settings = ctx.settings
    validate(request, settings.max_k, settings.max_query_chars)
    mode = resolve_mode(ctx, collection, request)
    allowed = None
    if request.filter:
        allowed = allowed_chunk_ids(ctx, collection, request.filter)
        if len(allowed) == 0:
            return SearchResult(hits=[], mode=mode, total_candidates=0)
    if mode != "dense" or request.explain or request.diversity:
        return multi_search(ctx, collection, request, mode, allowed)
    return dense_search(ctx, collection, request, allowed)


def validate(request: SearchRequest, max_k: int, max_query_chars: int) -> None:
    if (request.query is None) == (request.vector is None):
        raise InvalidInput("give exactly one of 'query' (text) or 'vector'")
    if request.query is not None:
        if not isinstance(request.query, str) or not request.query.strip():
            raise InvalidInput("query must be a non-empty string")
        if len(request.query) > max_query_chars:
            raise InvalidInput(f"query is longer than {max_query_chars} characters")
        values.check_text(request.query, "query")  # a lone surrogate cannot reach the tokenizer or the logs
    if type(request.k) is not int or not 1 <= request.k <= max_k:
        raise InvalidInput(f"k must be between 1 and {max_k}")
    _check_fraction(request.weight, "weight")
    _check_fraction(request.diversity, "diversity")
    if request.rrf_k is not None:
        rrf_k = values.check_finite(request.rrf_k, "rrf_k")
        if rrf_k < 0:
            raise InvalidInput("rrf_k must be a finite number of at least 0")


def _check_fraction(value: float | None, name: str) -> None:
    """None, or a finite number in [0, 1]; NaN used to be told it "must be ≤ 1"."""
    if value is None:
        return
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise InvalidInput(f"{name} must be a finite number between 0 and 1, not {value!r}")


def resolve_mode(ctx: ServiceContext, collection: Collection, request: SearchRequest) -> str:
    """The request's mode, else the configured default, else hybrid for text queries when BM25 is there."""
    mode = request.mode or ctx.settings.default_search_mode
    has_lexical = ctx.lexical is not None
    if mode is None:
        text_query = request.query is not None and collection.modality == "text"
        return "hybrid" if has_lexical and text_query else "dense"
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {MODES}, not {mode!r}")
    if mode != "dense" and request.query is None:
        raise InvalidInput(f"mode {mode!r} needs a text 'query'")
    if mode != "dense" and not has_lexical:
        raise InvalidInput(f"mode {mode!r} needs a lexical index, which is not enabled")
    return mode


def allowed_chunk_ids(ctx: ServiceContext, collection: Collection, spec: dict) -> np.ndarray:
    """The chunk ids whose document matches the metadata filter ``spec``.

    The filter is always validated by store/filters.py (same errors either way); the collection's payload
    index (services/sync/payload.py) answers it from memory, SQL answers what that index cannot.
    """
    with ctx.sessions() as session:
        dialect = session.get_bind().dialect.name
        compile_filter(spec, dialect)
        if ctx.payload is not None:
            found = ctx.payload.match(collection, spec)
            if found is not None:
                return found
        return repo.filtered_chunk_ids(session, collection.id, spec)
