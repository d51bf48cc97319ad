"""Brute-force inner-product index over a float32 matrix (exact; the default for small collections)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np

from index.arrays import exact_topk
from index.base import BaseIndex

_VECTORS_FILE = "vectors.npy"
_IDS_FILE = "ids.npy"


class ExactIndex(BaseIndex):
    """Rows ``[0, n)`` of ``_vectors`` hold the live vectors, ``_labels[row]`` their ids.

    Removal moves the last row into the hole, so the matrix stays dense and search needs no mask.
    Capacity grows geometrically so streaming adds stay amortised O(1) per row.
    """

    kind = "exact"
    DEFAULTS: dict[str, Any] = {}

    def __init__(self, dim: int, params: dict[str, Any] | None = None) -> None:
        super().__init__(dim, params)
        self._vectors = np.empty((0, self.dim), dtype=np.float32)
        self._labels = np.empty(0, dtype=np.int64)
        self._row: dict[int, int] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def _reserve(self, extra: int) -> None:
        needed = self._n + extra
        if needed <= len(self._labels):
            return
        capacity = max(needed, 2 * len(self._labels), 64)
        vectors = np.empty((capacity, self.dim), dtype=np.float32)
        labels = np.full(capacity, -1, dtype=np.int64)
        vectors[: self._n] = self._vectors[: self._n]
        labels[: self._n] = self._labels[: self._n]
        self._vectors, self._labels = vectors, labels

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        rows = np.fromiter((self._row.get(i, -1) for i in ids.tolist()), dtype=np.int64, count=len(ids))
        existing = rows >= 0
        self._vectors[rows[existing]] = vectors[existing]
        new_ids, new_vectors = ids[~existing], vectors[~existing]
        self._reserve(len(new_ids))
        start, stop = self._n, self._n + len(new_ids)
        self._vectors[start:stop] = new_vectors
        self._labels[start:stop] = new_ids
        self._row.update(zip(new_ids.tolist(), range(start, stop), strict=True))
        self._n = stop

    def _remove(self, ids: np.ndarray) -> None:
        for id_ in ids.tolist():
            row = self._row.pop(id_, None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:
                moved = int(self._labels[last])
                self._vectors[row] = self._vectors[last]
                self._labels[row] = moved
                self._row[moved] = row
            self._labels[last] = -1
            self._n = last

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return exact_topk(queries, self._vectors[: self._n], self._labels[: self._n], k)

    def _get_vectors(self, ids: np.ndarray) -> np.ndarray:
        rows = np.fromiter((self._row[i] for i in ids.tolist()), dtype=np.int64, count=len(ids))
        return self._vectors[rows]

    def _compute_ids(self) -> np.ndarray:
        return np.sort(self._labels[: self._n])

    def _write_native(self, directory: Path) -> None:
        np.save(directory / _VECTORS_FILE, self._vectors[: self._n], allow_pickle=False)
        np.save(directory / _IDS_FILE, self._labels[: self._n], allow_pickle=False)

    @classmethod
    def _restore(cls, directory: Path, manifest: dict[str, Any]) -> Self:
        index = cls(manifest["dim"], manifest["params"])
        vectors = np.load(directory / _VECTORS_FILE, allow_pickle=False)
        labels = np.load(directory / _IDS_FILE, allow_pickle=False)
        if (
            vectors.shape != (len(labels), index.dim)
            or vectors.dtype != np.float32
            or labels.dtype != np.int64
        ):
            raise ValueError("vectors/ids arrays have inconsistent shapes or dtypes")
        index._vectors, index._labels, index._n = vectors, labels, len(labels)
        index._row = {id_: row for row, id_ in enumerate(labels.tolist())}
        return index
