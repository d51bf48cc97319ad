"""HNSW graph index on hnswlib (the default for large collections).

hnswlib keys elements by our ids directly. Removal uses ``mark_deleted``; re-adding a deleted id
un-deletes and updates it in place (``allow_replace_deleted`` stays off so that hnswlib never
silently recycles a deleted label's slot, which would make our deleted-id bookkeeping drift).
When deleted elements exceed ``COMPACT_FRACTION`` of the graph it is rebuilt from the live vectors.

A float32 copy of the vectors (:class:`~index.rows.VectorRows`, saved as ``vectors.npy``) serves exact
search over a filter's allowed set: hnswlib's ``get_items`` copies ~0.25 ms per vector through Python
lists, which made a 1%-filter (445 vectors) search cost ~120 ms; a numpy gather costs ~1 ms.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Self

import hnswlib
import numpy as np

from index.arrays import ParamRule, exact_topk, pad_result
from index.base import BaseIndex
from index.rows import VectorRows

_GRAPH_FILE = "hnsw.bin"
_DELETED_FILE = "deleted.npy"
_VECTORS_FILE = "vectors.npy"
_LABELS_FILE = "labels.npy"
COMPACT_FRACTION = 0.2
MAX_FILTER_EF = 4096
_INT64 = np.dtype(np.int64)
_ONE = np.float32(1.0)


def _search_threads() -> int:
    """Threads of one multi-query ``knn_query``: ``OMP_NUM_THREADS`` when set (as FAISS and BLAS honour it),
    else hnswlib's default (-1: one per core). hnswlib starts and joins that many threads on every call, so
    where processes share the cores (a Ray shard replica, services/cluster/deploy.py) one thread is cheaper."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else -1


SEARCH_THREADS = _search_threads()


class HnswlibIndex(BaseIndex):
    kind = "hnswlib"
    DEFAULTS: dict[str, Any] = {
        "M": 16,
        "ef_construction": 200,
        "ef_search": 64,
        "initial_capacity": 1024,
        "growth": 2.0,
    }
    # Filtered search goes exact up to 15% of the index: hnswlib's own filter calls back into Python for
    # every visited node (bench/filtered.py --sweep, 44k MiniLM vectors: exact 2.9x as fast at 10%, 1.2x at
    # 15%, 0.8x at 20%, 0.1x at 50%).
    EXACT_FILTER_FRACTION = 0.15
    # initial_capacity is allocated up front (capacity × (dim + 2M) × 4 bytes): bounded like M and ef.
    RULES: dict[str, ParamRule] = {
        "M": (int, 2, 128, False),
        "ef_construction": (int, 1, 4096, False),
        "ef_search": (int, 1, 4096, False),
        "initial_capacity": (int, 1, 100_000, False),
        "growth": (float, 1.1, 4.0, False),
    }

    def __init__(self, dim: int, params: dict[str, Any] | None = None) -> None:
        super().__init__(dim, params)
        self._index = self._new_graph(int(self.params["initial_capacity"]))
        self._deleted: set[int] = set()
        self._rows = VectorRows(self.dim)
        self._ef_lock = threading.Lock()  # filtered searches raise the (index-global) ef

    def _new_graph(self, capacity: int) -> hnswlib.Index:
        graph = hnswlib.Index(space="ip", dim=self.dim)
        graph.init_index(
            max_elements=max(1, capacity),
            M=int(self.params["M"]),
            ef_construction=int(self.params["ef_construction"]),
            allow_replace_deleted=False,
        )
        graph.set_ef(int(self.params["ef_search"]))
        return graph

    def __len__(self) -> int:
        return self._index.element_count - len(self._deleted)

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        needed = self._index.element_count + len(ids)
        capacity = self._index.max_elements
        if needed > capacity:
            self._index.resize_index(max(needed, int(capacity * float(self.params["growth"])) + 1))
        self._index.add_items(vectors, ids)
        self._rows.put(ids, vectors)
        self._deleted.difference_update(ids.tolist())

    def _remove(self, ids: np.ndarray) -> None:
        for id_ in ids.tolist():
            if id_ in self._deleted:
                continue
            try:
                self._index.mark_deleted(id_)
            except RuntimeError:  # hnswlib: "Label not found" — unknown ids are ignored
                continue
            self._deleted.add(id_)
        if len(self._deleted) > COMPACT_FRACTION * self._index.element_count:
            self._compact()

    def _compact(self) -> None:
        live = self._compute_ids()
        vectors = self._get_vectors(live)
        graph = self._new_graph(max(len(live), int(self.params["initial_capacity"])))
        if len(live):
            graph.add_items(vectors, live)
        self._index, self._deleted = graph, set()
        self._rows = VectorRows(self.dim)
        self._rows.put(live, vectors)

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = self._index.element_count - len(self._deleted)
        try:
            labels, distances = self._index.knn_query(queries, k=k if k <= n else n, num_threads=SEARCH_THREADS)
        except RuntimeError:
            # hnswlib found fewer than k live neighbours (sparse graph after deletions): answer exactly.
            live = self._live_ids()
            return exact_topk(queries, self._get_vectors(live), live, k)
        # hnswlib's "ip" distance is 1 - <a, b>; convert in place to keep the hot path allocation-free.
        ids, scores = labels.view(_INT64), np.subtract(_ONE, distances, out=distances)
        return (ids, scores) if k <= n else pad_result(ids, scores, k)

    def _search_native_filtered(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        allowed_set = set(allowed.tolist())
        kk = min(k, len(allowed))
        base_ef = max(int(self.params["ef_search"]), kk)
        ef = min(MAX_FILTER_EF, int(base_ef * len(self) / len(allowed)) + 1)
        with self._ef_lock:
            self._index.set_ef(ef)
            try:
                labels, distances = self._index.knn_query(
                    queries, k=kk, num_threads=1, filter=allowed_set.__contains__
                )
            except RuntimeError:
                return exact_topk(queries, self._get_vectors(allowed), allowed, k)
            finally:
                self._index.set_ef(int(self.params["ef_search"]))
        return pad_result(labels.view(np.int64), 1.0 - distances, k)

    def _get_vectors(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.empty((0, self.dim), dtype=np.float32)
        return self._rows.get(ids)

    def _compute_ids(self) -> np.ndarray:
        all_ids = np.asarray(self._index.get_ids_list(), dtype=np.int64)
        deleted = np.fromiter(self._deleted, dtype=np.int64, count=len(self._deleted))
        return np.setdiff1d(all_ids, deleted)

    def _manifest_extra(self) -> dict[str, Any]:
        return {"capacity": int(self._index.max_elements)}

    def _write_native(self, directory: Path) -> None:
        self._index.save_index(str(directory / _GRAPH_FILE))
        deleted = np.sort(np.fromiter(self._deleted, dtype=np.int64, count=len(self._deleted)))
        np.save(directory / _DELETED_FILE, deleted, allow_pickle=False)
        labels, vectors = self._rows.arrays()
        np.save(directory / _LABELS_FILE, labels, allow_pickle=False)
        np.save(directory / _VECTORS_FILE, vectors, allow_pickle=False)

    @classmethod
    def _restore(cls, directory: Path, manifest: dict[str, Any]) -> Self:
        index = cls(manifest["dim"], manifest["params"])
        capacity, count = manifest["capacity"], manifest.get("count") or 0
        # hnswlib allocates the capacity before reading: a tampered number must not size that allocation.
        if type(capacity) is not int or not 0 <= capacity <= max(100_000, 64 * int(count) + 1):
            raise ValueError("manifest capacity is not a plausible element count")
        graph = hnswlib.Index(space="ip", dim=index.dim)
        graph.load_index(str(directory / _GRAPH_FILE), max_elements=capacity)
        graph.set_ef(int(index.params["ef_search"]))
        if graph.dim != index.dim:
            raise ValueError("graph dimension differs from manifest")
        index._index = graph
        index._deleted = set(np.load(directory / _DELETED_FILE, allow_pickle=False).tolist())
        index._rows = _load_rows(directory, graph, index.dim, index._deleted)
        return index


def _load_rows(directory: Path, graph: hnswlib.Index, dim: int, deleted: set[int]) -> VectorRows:
    """The saved vector copy, left in its file and read on demand (index/rows.py: nothing resident until a filter
    reads rows, and then only a copy of those); an index saved before the copy existed copies its vectors out of
    the graph once."""
    if (directory / _VECTORS_FILE).exists():
        labels = np.load(directory / _LABELS_FILE, allow_pickle=False)
        if labels.ndim != 1:
            raise ValueError("saved labels are not a vector")
        return VectorRows.from_file(labels, directory / _VECTORS_FILE, dim)
    rows = VectorRows(dim)
    gone = np.fromiter(deleted, dtype=np.int64, count=len(deleted))
    labels = np.setdiff1d(np.asarray(graph.get_ids_list(), dtype=np.int64), gone)
    vectors = np.asarray(graph.get_items(labels, return_type="numpy"), dtype=np.float32).reshape(-1, dim)
    rows.put(labels, vectors)
    return rows
