"""The VectorIndex contract and the logic every backend shares.

Conventions for all backends:

* ids are the database's non-negative int64 primary keys; ``-1`` marks padding in results.
* vectors/queries are float32 ``(n, dim)``, L2-normalised upstream; scores are inner products
  (cosine), higher is better; padded result slots have score ``-inf``.
* filtered search (``allowed_ids``) over a *small* allowed set is answered exactly over just those
  vectors (see :func:`index.arrays.exact_filter_limit`); larger sets use the library's native filter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from core.errors import DimensionMismatch, IndexCorrupt, InvalidInput, LatentspaceError, UnknownIndexKind
from core.rwlock import ReadWriteLock
from core.saveddir import read_saved_dir, write_saved_dir
from index.arrays import (
    EXACT_FILTER_FRACTION,
    ParamRule,
    as_ids,
    as_matrix,
    dedupe_last,
    empty_result,
    exact_filter_limit,
    exact_topk,
    in_sorted,
    resolve_params,
    sorted_unique,
)

__all__ = [
    "BaseIndex",
    "DimensionMismatch",
    "IndexCorrupt",
    "InvalidInput",
    "LatentspaceError",
    "UnknownIndexKind",
    "VectorIndex",
]
MAX_DIM = 65_536  # widest vector accepted: a tampered manifest must not size an allocation
_INDEX_KEYS = ("dim", "params")  # besides core/saveddir.py's generic keys; every saved index has them


@runtime_checkable
class VectorIndex(Protocol):
    """An approximate or exact inner-product index keyed by int64 ids.

    ``add(ids, vectors)``: ids int64 ``(n,)`` (>= 0), vectors float32 ``(n, dim)``; re-adding an id
    replaces its vector. ``remove(ids)``: unknown ids are ignored.
    ``search(queries, k, allowed_ids=None)``: queries float32 ``(q, dim)`` or ``(dim,)``; returns
    ``(ids int64 (q, k), scores float32 (q, k))`` sorted by descending score, padded with id -1 /
    score -inf; ``allowed_ids`` (int64 ``(m,)``) restricts results to that set.
    ``ids()``: live ids, int64, sorted. ``vectors(ids)``: ``(found int64 (m,), float32 (m, dim))``, the stored
    vectors of those of ``ids`` the index holds, found ids sorted. ``save(directory)`` / ``load(directory)``: a
    directory with ``manifest.json`` and native files, replaced atomically. ``len(index)``: live vectors.
    """

    kind: str
    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: np.ndarray) -> None: ...
    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def ids(self) -> np.ndarray: ...
    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
    def save(self, directory: Path) -> None: ...
    def __len__(self) -> int: ...
    @classmethod
    def load(cls, directory: Path) -> VectorIndex: ...


# ----------------------------------------------------------------------------- base class


class BaseIndex:
    """Validation, locking, filtered-search dispatch and persistence shared by all backends.

    Subclasses implement the underscore hooks; they are called with the lock held (write lock for
    mutations, read lock for everything else) and with validated inputs.
    """

    kind: ClassVar[str]
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    RULES: ClassVar[dict[str, ParamRule]] = {}  # bounds of each parameter (index/arrays.py resolve_params)
    EXACT_FILTER_FRACTION: ClassVar[float] = EXACT_FILTER_FRACTION  # share of the index searched exactly

    def __init__(self, dim: int, params: dict[str, Any] | None = None) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or not 0 < dim <= MAX_DIM:
            raise InvalidInput(f"index dimension must be an integer from 1 to {MAX_DIM}, got {repr(dim)[:40]}")
        self.dim = int(dim)
        self.params = self.check_params(params)
        self._lock = ReadWriteLock()
        self._ids_cache: np.ndarray | None = None

    @classmethod
    def check_params(cls, params: Any) -> dict[str, Any]:
        """The defaults merged with ``params``; an unknown key or a value out of its bounds raises InvalidInput."""
        return resolve_params(cls.kind, cls.DEFAULTS, params, cls.RULES)

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
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None, exact: bool | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product: ``(ids int64 (q, k), scores float32 (q, k))``, see VectorIndex.

        ``exact`` forces a filtered search's strategy (True: exact over the allowed vectors, False: the
        library's own filter); None chooses by the allowed set's size (index/arrays.py exact_filter_limit).
        bench/filtered.py measures both to set that limit.
        """
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
            return self._search_allowed(queries, k, allowed_ids, exact)
        finally:
            lock.release_read()

    def _search_allowed(
        self, queries: np.ndarray, k: int, allowed_ids: Any, exact: bool | None
    ) -> tuple[np.ndarray, np.ndarray]:
        allowed = sorted_unique(np.asarray(allowed_ids, dtype=np.int64).ravel())
        live = self._live_ids()
        allowed = allowed[in_sorted(allowed, live)]
        if not len(allowed):
            return empty_result(len(queries), k)
        if exact is None:
            exact = len(allowed) <= exact_filter_limit(k, len(live), self.EXACT_FILTER_FRACTION)
        if exact:
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

    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of those of ``ids`` that are live: ``(found int64 (m,) sorted, float32 (m, dim))``.

        What a hybrid search scores its lexical-only candidates with, from memory instead of SQL (the vectors
        are the ones added, so the scores are the same). Unknown and repeated ids are ignored.
        """
        wanted = sorted_unique(np.asarray(ids, dtype=np.int64).ravel())
        self._lock.acquire_read()
        try:
            found = wanted[in_sorted(wanted, self._live_ids())]
            return found, self._get_vectors(found)
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
        except InvalidInput as exc:  # a parseable manifest with an impossible dim or params: rebuild, never fail
            raise IndexCorrupt(f"{directory}: manifest is invalid ({exc.message})") from exc
        except LatentspaceError:
            raise
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(
                f"cannot load {cls.kind} index from {directory}: {exc.__class__.__name__}"
            ) from exc
        if manifest.get("count") is not None and len(index) != manifest["count"]:
            raise IndexCorrupt(f"{directory}: loaded {len(index)} vectors, manifest says {manifest['count']}")
        return index
