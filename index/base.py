"""The VectorIndex contract and the logic every backend shares.

Conventions for all backends:

* ids are the database's non-negative int64 primary keys; ``-1`` marks padding in results.
* vectors/queries are float32 ``(n, dim)``, L2-normalised upstream; scores are inner products
  (cosine), higher is better; padded result slots have score ``-inf``.
* filtered search (``allowed_ids``) over a *small* allowed set is answered exactly over just those
  vectors (see :func:`exact_filter_limit`); larger sets use the library's native filter.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from core.errors import DimensionMismatch, IndexCorrupt, InvalidInput, LatentspaceError, UnknownIndexKind
from core.saveddir import read_saved_dir, write_saved_dir

__all__ = [
    "BaseIndex",
    "DimensionMismatch",
    "IndexCorrupt",
    "InvalidInput",
    "LatentspaceError",
    "UnknownIndexKind",
    "VectorIndex",
    "exact_filter_limit",
    "exact_topk",
]

# Filtered search goes exact when the allowed set has at most this many vectors, or this share of
# the index: brute force over a few thousand vectors costs about one HNSW query and has recall 1.0,
# whereas graph search with a very selective filter needs a huge ef and still loses recall.
EXACT_FILTER_MIN = 2048
EXACT_FILTER_FRACTION = 0.03
EXACT_FILTER_PER_K = 50
# Bound the (queries x vectors) score matrix of brute-force search to ~64 MB of float32.
_SCORE_BLOCK = 1 << 24
_INDEX_KEYS = ("dim", "params")  # besides core/saveddir.py's generic keys; every saved index has them


@runtime_checkable
class VectorIndex(Protocol):
    """An approximate or exact inner-product index keyed by int64 ids.

    ``add(ids, vectors)``: ids int64 ``(n,)`` (>= 0), vectors float32 ``(n, dim)``; re-adding an id
    replaces its vector. ``remove(ids)``: unknown ids are ignored.
    ``search(queries, k, allowed_ids=None)``: queries float32 ``(q, dim)`` or ``(dim,)``; returns
    ``(ids int64 (q, k), scores float32 (q, k))`` sorted by descending score, padded with id -1 /
    score -inf; ``allowed_ids`` (int64 ``(m,)``) restricts results to that set.
    ``ids()``: live ids, int64, sorted. ``save(directory)`` / ``load(directory)``: a directory with
    ``manifest.json`` and native files, replaced atomically. ``len(index)``: live vectors.
    """

    kind: str
    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: np.ndarray) -> None: ...
    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def ids(self) -> np.ndarray: ...
    def save(self, directory: Path) -> None: ...
    def __len__(self) -> int: ...
    @classmethod
    def load(cls, directory: Path) -> VectorIndex: ...


class ReadWriteLock:
    """Many concurrent readers or one writer; waiting writers block new readers (no starvation).

    The uncontended read path is a single C-level mutex round trip: it sits on the search hot path.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def acquire_read(self) -> None:
        with self._mutex:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._writers_waiting:
                self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._mutex:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True

    def release_write(self) -> None:
        with self._mutex:
            self._writer = False
            self._cond.notify_all()


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


def resolve_params(kind: str, defaults: dict[str, Any], params: dict[str, Any] | None) -> dict[str, Any]:
    """Merge user params over defaults, rejecting unknown keys (a typo should not pass silently)."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise InvalidInput(
            f"unknown parameter(s) {unknown} for index kind {kind!r}; valid: {sorted(defaults)}"
        )
    return {**defaults, **params}


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
    block = max(1, _SCORE_BLOCK // max(1, len(vectors)))
    parts = [
        topk_from_scores(queries[i : i + block] @ vectors.T, labels, k) for i in range(0, len(queries), block)
    ]
    if len(parts) == 1:
        return parts[0]
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])


def exact_filter_limit(k: int, n_live: int) -> int:
    """Largest allowed-set size answered by exact search over the subset (see module constants)."""
    return max(EXACT_FILTER_MIN, EXACT_FILTER_PER_K * k, int(EXACT_FILTER_FRACTION * n_live))


# ----------------------------------------------------------------------------- base class


class BaseIndex:
    """Validation, locking, filtered-search dispatch and persistence shared by all backends.

    Subclasses implement the underscore hooks; they are called with the lock held (write lock for
    mutations, read lock for everything else) and with validated inputs.
    """

    kind: ClassVar[str]
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init__(self, dim: int, params: dict[str, Any] | None = None) -> None:
        if not isinstance(dim, int | np.integer) or dim <= 0:
            raise InvalidInput(f"index dimension must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.params = resolve_params(self.kind, self.DEFAULTS, params)
        self._lock = ReadWriteLock()
        self._ids_cache: np.ndarray | None = None

    # -- hooks ---------------------------------------------------------------------------------
    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        raise NotImplementedError

    def _remove(self, ids: np.ndarray) -> None:
        raise NotImplementedError

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _search_native_filtered(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Native filtered search; the default is exact search over the allowed subset."""
        return exact_topk(queries, self._get_vectors(allowed), allowed, k)

    def _get_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Stored float32 vectors ``(m, dim)`` for live ``ids``."""
        raise NotImplementedError

    def _compute_ids(self) -> np.ndarray:
        """All live ids as a sorted unique int64 array."""
        raise NotImplementedError

    def _write_native(self, directory: Path) -> None:
        raise NotImplementedError

    def _manifest_extra(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _restore(cls, directory: Path, manifest: dict[str, Any]) -> Self:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    # -- public API ----------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace vectors: ids int64 ``(n,)``, vectors float32 ``(n, dim)``."""
        ids = as_ids(ids)
        vectors = as_matrix(vectors, self.dim)
        if len(ids) != len(vectors):
            raise InvalidInput(f"got {len(ids)} ids for {len(vectors)} vectors")
        if not len(ids):
            return
        if not np.isfinite(vectors).all():
            raise InvalidInput("vectors contain NaN or infinite values")
        ids, vectors = dedupe_last(ids, vectors)
        self._lock.acquire_write()
        try:
            self._ids_cache = None
            self._add(ids, vectors)
        finally:
            self._ids_cache = None
            self._lock.release_write()

    def remove(self, ids: np.ndarray) -> None:
        """Remove ids (int64 ``(n,)``); ids not in the index are ignored."""
        ids = np.unique(as_ids(ids))
        if not len(ids):
            return
        self._lock.acquire_write()
        try:
            self._ids_cache = None
            self._remove(ids)
        finally:
            self._ids_cache = None
            self._lock.release_write()

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product: ``(ids int64 (q, k), scores float32 (q, k))``, see VectorIndex."""
        queries = as_matrix(queries, self.dim)
        if type(k) is not int and not isinstance(k, np.integer) or k < 1:
            raise InvalidInput(f"k must be a positive integer, got {k!r}")
        lock = self._lock
        lock.acquire_read()
        try:
            if allowed_ids is None:
                if self.__len__() == 0:
                    return empty_result(len(queries), k)
                return self._search(queries, k)
            return self._search_allowed(queries, k, allowed_ids)
        finally:
            lock.release_read()

    def _search_allowed(self, queries: np.ndarray, k: int, allowed_ids: Any) -> tuple[np.ndarray, np.ndarray]:
        allowed = np.unique(np.asarray(allowed_ids, dtype=np.int64).ravel())
        live = self._live_ids()
        allowed = allowed[in_sorted(allowed, live)]
        if not len(allowed):
            return empty_result(len(queries), k)
        if len(allowed) <= exact_filter_limit(k, len(live)):
            return exact_topk(queries, self._get_vectors(allowed), allowed, k)
        return self._search_native_filtered(queries, k, allowed)

    def _live_ids(self) -> np.ndarray:
        cached = self._ids_cache
        if cached is None:
            cached = self._ids_cache = self._compute_ids()
        return cached

    def ids(self) -> np.ndarray:
        """All live ids, int64, sorted ascending."""
        self._lock.acquire_read()
        try:
            return self._live_ids().copy()
        finally:
            self._lock.release_read()

    def save(self, directory: Path) -> None:
        """Save to ``directory`` (manifest.json + native files), replacing any old save atomically."""
        self._lock.acquire_read()
        try:
            manifest = {"kind": self.kind, "dim": self.dim, "params": self.params, "count": len(self)}
            write_saved_dir(Path(directory), {**manifest, **self._manifest_extra()}, self._write_native)
        finally:
            self._lock.release_read()

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Load an index saved by :meth:`save`; a missing or damaged directory raises IndexCorrupt."""
        directory = Path(directory)
        manifest = read_saved_dir(directory, required=_INDEX_KEYS)
        if manifest["kind"] != cls.kind:
            raise IndexCorrupt(f"{directory} holds a {manifest['kind']!r} index, not {cls.kind!r}")
        try:
            index = cls._restore(directory, manifest)
        except LatentspaceError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(
                f"cannot load {cls.kind} index from {directory}: {exc.__class__.__name__}"
            ) from exc
        if manifest.get("count") is not None and len(index) != manifest["count"]:
            raise IndexCorrupt(f"{directory}: loaded {len(index)} vectors, manifest says {manifest['count']}")
        return index
