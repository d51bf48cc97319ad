"""Array helpers every vector index backend shares: input validation, result padding, exact top-k.

Conventions: ids are non-negative int64 (``-1`` pads results), vectors float32 ``(n, dim)``, scores are
inner products with ``-inf`` in padded slots.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import DimensionMismatch, InvalidInput

# Filtered search goes exact when the allowed set has at most this many vectors, or this share of
# the index: brute force over a few thousand vectors costs about one HNSW query and has recall 1.0,
# whereas graph search with a very selective filter needs a huge ef and still loses recall.
EXACT_FILTER_MIN = 2048
EXACT_FILTER_FRACTION = 0.03
EXACT_FILTER_PER_K = 50
# Bound the (queries x vectors) score matrix of brute-force search to ~64 MB of float32.
SCORE_BLOCK = 1 << 24


# ----------------------------------------------------------------------------- input validation


def as_ids(ids: Any) -> np.ndarray:
    """Return ``ids`` as a 1-D int64 array of non-negative ids."""
    arr = np.asarray(ids)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise InvalidInput(f"ids must be a 1-D integer array, got shape {arr.shape} dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise InvalidInput("ids must be non-negative (-1 is reserved for result padding)")
    return arr


def as_matrix(vectors: Any, dim: int) -> np.ndarray:
    """Return ``vectors`` as C-contiguous float32 ``(n, dim)``; a 1-D vector becomes ``(1, dim)``."""
    if type(vectors) is np.ndarray and vectors.dtype == np.float32 and vectors.ndim == 2:
        arr = vectors  # hot path: already in shape, skip conversions
    else:
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise InvalidInput(f"expected a (n, {dim}) matrix, got shape {arr.shape}")
    if arr.shape[1] != dim:
        raise DimensionMismatch(f"expected vectors of dimension {dim}, got {arr.shape[1]}")
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def dedupe_last(ids: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep only the last occurrence of each id in a batch (later rows replace earlier ones)."""
    uniq, first_in_reversed = np.unique(ids[::-1], return_index=True)
    if len(uniq) == len(ids):
        return ids, vectors
    keep = np.sort(len(ids) - 1 - first_in_reversed)
    return ids[keep], vectors[keep]


# A numeric index parameter's rule: its type (int or float), inclusive bounds, and whether null is allowed.
ParamRule = tuple[type, float, float, bool]


def resolve_params(
    kind: str, defaults: dict[str, Any], params: Any, rules: dict[str, ParamRule] | None = None
) -> dict[str, Any]:
    """Merge user params over defaults, rejecting unknown keys (a typo should not pass silently) and any
    value outside its rule, so no stored setting can later fail a load or make a backend allocate gigabytes."""
    if params is not None and not isinstance(params, dict):
        raise InvalidInput(f"index parameters for {kind!r} must be a JSON object")
    params = dict(params or {})
    unknown = sorted(str(k)[:40] for k in set(params) - set(defaults))
    if unknown:
        raise InvalidInput(
            f"unknown parameter(s) {unknown} for index kind {kind!r}; valid: {sorted(defaults)}"
        )
    for name, value in params.items():
        rule = (rules or {}).get(name)
        if rule is not None and not _fits(value, rule):
            number_type, low, high, nullable = rule
            what = "an integer" if number_type is int else "a number"
            raise InvalidInput(
                f"index parameter {name!r} of {kind!r} must be {what} from {low:g} to {high:g}"
                f"{' or null' if nullable else ''}, not {repr(value)[:40]}"
            )
    return {**defaults, **params}


def _fits(value: Any, rule: ParamRule) -> bool:
    number_type, low, high, nullable = rule
    if value is None:
        return nullable
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if number_type is int and not isinstance(value, int):
        return False
    return low <= value <= high  # NaN compares false: refused


def sorted_unique(ids: np.ndarray) -> np.ndarray:
    """``ids`` sorted without duplicates; an already sorted unique array (a payload index answer) is returned
    as is after one vectorised check (numpy's hash-based ``unique`` took ~14 ms for 22k ids)."""
    if len(ids) < 2 or bool((ids[1:] > ids[:-1]).all()):
        return ids
    ids = np.sort(ids)
    return ids[np.concatenate(([True], ids[1:] != ids[:-1]))]


def in_sorted(values: np.ndarray, sorted_ref: np.ndarray) -> np.ndarray:
    """Boolean mask of ``values`` present in the sorted array ``sorted_ref`` (O(m log n), no re-sort)."""
    if not len(sorted_ref):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ref, values), len(sorted_ref) - 1)
    return sorted_ref[pos] == values


# ----------------------------------------------------------------------------- result helpers


def empty_result(n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n_queries, k), -1, dtype=np.int64), np.full((n_queries, k), -np.inf, dtype=np.float32)


def pad_result(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad ``(q, k')`` results to ``(q, k)``; normalise missing entries to id -1 / score -inf."""
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    missing = ids < 0
    if missing.any():
        scores = np.where(missing, np.float32(-np.inf), scores)
    if ids.shape[1] < k:
        out_ids, out_scores = empty_result(ids.shape[0], k)
        out_ids[:, : ids.shape[1]] = ids
        out_scores[:, : ids.shape[1]] = scores
        return out_ids, out_scores
    return ids, scores


def topk_from_scores(scores: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k per row of a ``(q, m)`` score matrix; ``labels`` maps columns to ids; -inf → padding."""
    m = scores.shape[1]
    kk = min(k, m)
    if kk == 0:
        return empty_result(scores.shape[0], k)
    if kk < m:
        cols = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        part = np.take_along_axis(scores, cols, axis=1)
    else:
        cols = np.broadcast_to(np.arange(m), scores.shape)
        part = scores
    order = np.argsort(-part, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    top = np.take_along_axis(part, order, axis=1)
    ids = np.where(np.isneginf(top), -1, labels[cols])
    return pad_result(ids, top, k)


def exact_topk(
    queries: np.ndarray, vectors: np.ndarray, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force inner-product top-k of queries (q, d) against vectors (m, d) labelled ``labels`` (m,)."""
    block = max(1, SCORE_BLOCK // max(1, len(vectors)))
    parts = [
        topk_from_scores(queries[i : i + block] @ vectors.T, labels, k) for i in range(0, len(queries), block)
    ]
    if len(parts) == 1:
        return parts[0]
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])


def exact_filter_limit(k: int, n_live: int, fraction: float = EXACT_FILTER_FRACTION) -> int:
    """Largest allowed-set size answered by exact search over the subset (see module constants); a backend
    whose own filter is slow passes a larger ``fraction`` (index/hnsw.py)."""
    return max(EXACT_FILTER_MIN, EXACT_FILTER_PER_K * k, int(fraction * n_live))
