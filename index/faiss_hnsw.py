"""HNSW graph index on FAISS (``IndexHNSWFlat``, inner product).

FAISS HNSW cannot remove vectors, so removal (and replacement on re-add) leaves a tombstone: the
graph position keeps its vector but ``_labels[pos]`` becomes -1 and searches exclude it with an
``IDSelectorBitmap``. Positions, not ids, are tombstoned because a re-added id has two positions
(old and new). When tombstones exceed ``COMPACT_FRACTION`` the graph is rebuilt from live vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import faiss
import numpy as np

from index.arrays import ParamRule, pad_result
from index.base import BaseIndex

_GRAPH_FILE = "hnsw.faiss"
_LABELS_FILE = "labels.npy"
COMPACT_FRACTION = 0.2
MAX_FILTER_EF = 4096


class FaissHnswIndex(BaseIndex):
    kind = "faiss_hnsw"
    DEFAULTS: dict[str, Any] = {"M": 32, "ef_construction": 200, "ef_search": 64}
    # M sizes every node's links (M=-5 once grew a server to 8.7 GB); ef_* bound the work per insert/query.
    RULES: dict[str, ParamRule] = {
        "M": (int, 2, 128, False),
        "ef_construction": (int, 1, 4096, False),
        "ef_search": (int, 1, MAX_FILTER_EF, False),
    }

    def __init__(self, dim: int, params: dict[str, Any] | None = None) -> None:
        super().__init__(dim, params)
        self._index = self._new_graph()
        self._labels = np.empty(0, dtype=np.int64)  # graph position -> id, -1 for a tombstone
        self._pos: dict[int, int] = {}  # live id -> graph position
        self._alive_bitmap: np.ndarray | None = None  # cached selector bits, None when no tombstones

    def _new_graph(self) -> faiss.IndexHNSWFlat:
        graph = faiss.IndexHNSWFlat(self.dim, int(self.params["M"]), faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = int(self.params["ef_construction"])
        graph.hnsw.efSearch = int(self.params["ef_search"])
        return graph

    def __len__(self) -> int:
        return len(self._pos)

    def _tombstone(self, ids: np.ndarray) -> None:
        for id_ in ids.tolist():
            pos = self._pos.pop(id_, None)
            if pos is not None:
                self._labels[pos] = -1

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._tombstone(ids)
        start = self._index.ntotal
        self._index.add(vectors)
        self._labels = np.concatenate([self._labels, ids])
        self._pos.update(zip(ids.tolist(), range(start, start + len(ids)), strict=True))
        self._after_mutation()

    def _remove(self, ids: np.ndarray) -> None:
        self._tombstone(ids)
        self._after_mutation()

    def _after_mutation(self) -> None:
        dead = len(self._labels) - len(self._pos)
        if dead > COMPACT_FRACTION * len(self._labels):
            self._compact()
        self._alive_bitmap = None
        if len(self._labels) > len(self._pos):
            self._alive_bitmap = np.packbits(self._labels >= 0, bitorder="little")

    def _compact(self) -> None:
        alive = np.flatnonzero(self._labels >= 0)
        vectors = self._index.reconstruct_batch(alive) if len(alive) else None
        graph = self._new_graph()
        if vectors is not None:
            graph.add(vectors)
        self._index, self._labels = graph, self._labels[alive]
        self._pos = {id_: pos for pos, id_ in enumerate(self._labels.tolist())}

    def _run(
        self, queries: np.ndarray, k: int, bitmap: np.ndarray | None, ef: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if bitmap is None and ef == self._index.hnsw.efSearch:
            scores, positions = self._index.search(queries, k)
        else:
            sel = (
                None if bitmap is None else faiss.IDSelectorBitmap(len(self._labels), faiss.swig_ptr(bitmap))
            )
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
            scores, positions = self._index.search(queries, k, params=params)
        return np.where(positions >= 0, self._labels[positions], -1), scores

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        kk = min(k, len(self._pos))
        ef = max(int(self.params["ef_search"]), kk)
        return pad_result(*self._run(queries, kk, self._alive_bitmap, ef), k)

    def _search_native_filtered(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        positions = np.fromiter((self._pos[i] for i in allowed.tolist()), dtype=np.int64, count=len(allowed))
        mask = np.zeros(len(self._labels), dtype=bool)
        mask[positions] = True
        bitmap = np.packbits(mask, bitorder="little")
        kk = min(k, len(allowed))
        base_ef = max(int(self.params["ef_search"]), kk)
        ef = min(MAX_FILTER_EF, int(base_ef * len(self._pos) / len(allowed)) + 1)
        return pad_result(*self._run(queries, kk, bitmap, ef), k)

    def _get_vectors(self, ids: np.ndarray) -> np.ndarray:
        positions = np.fromiter((self._pos[i] for i in ids.tolist()), dtype=np.int64, count=len(ids))
        if not len(positions):
            return np.empty((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(positions)

    def _compute_ids(self) -> np.ndarray:
        return np.sort(self._labels[self._labels >= 0])

    def _write_native(self, directory: Path) -> None:
        faiss.write_index(self._index, str(directory / _GRAPH_FILE))
        np.save(directory / _LABELS_FILE, self._labels, allow_pickle=False)

    @classmethod
    def _restore(cls, directory: Path, manifest: dict[str, Any]) -> Self:
        index = cls(manifest["dim"], manifest["params"])
        graph = faiss.read_index(str(directory / _GRAPH_FILE))
        labels = np.load(directory / _LABELS_FILE, allow_pickle=False)
        if not isinstance(graph, faiss.IndexHNSWFlat) or graph.d != index.dim or graph.ntotal != len(labels):
            raise ValueError("native graph does not match the manifest / labels")
        graph.hnsw.efSearch = int(index.params["ef_search"])
        index._index, index._labels = graph, labels.astype(np.int64, copy=False)
        index._pos = {id_: pos for pos, id_ in enumerate(labels.tolist()) if id_ >= 0}
        index._after_mutation()
        return index
