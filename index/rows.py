"""Float32 vectors by id in one growing matrix: fast batch gathers for exact search over an allowed set.

A backend whose library copies stored vectors out slowly (hnswlib's ``get_items`` builds Python lists,
~0.25 ms per vector) keeps this copy beside its graph. Rows are never freed one by one: a removed id keeps
its row until the owner rebuilds (compaction), and a re-added id overwrites its row in place.

Loaded rows may be a copy-on-write map of the saved ``vectors.npy`` (:meth:`VectorRows.adopt`): a search
without a filter never reads them, so they cost no resident memory until a filter needs some rows, and
processes that map the same file share its pages (issue 17: two server workers held two copies).
"""

from __future__ import annotations

import numpy as np


class VectorRows:
    """``put(ids, vectors)`` adds or overwrites rows; ``get(ids)`` gathers the rows of ids that were put."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._matrix = np.empty((0, dim), dtype=np.float32)
        self._labels = np.empty(0, dtype=np.int64)
        self._count = 0
        self._slots: dict[int, int] | None = {}  # id -> row; None: not built yet (built on the first put)
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # (sorted ids, their rows)

    @classmethod
    def adopt(cls, labels: np.ndarray, vectors: np.ndarray) -> VectorRows:
        """Rows holding ``vectors`` itself (not a copy): unique int64 ``labels (n,)``, float32 ``(n, dim)``.

        ``vectors`` may be a copy-on-write memory map (``np.load(..., mmap_mode="c")``): a later put that
        overwrites a row writes a private copy of that page, never the file; one that adds rows copies the
        matrix into memory as it grows.
        """
        rows = cls(vectors.shape[1])
        rows._matrix, rows._labels = vectors, np.array(labels, dtype=np.int64)
        rows._count, rows._slots = len(labels), None
        return rows

    def __len__(self) -> int:
        return self._count

    def put(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` (float32 ``(n, dim)``) as the row of ``ids[i]`` (unique int64 ``(n,)``)."""
        if self._slots is None:
            self._slots = dict(zip(self._labels[: self._count].tolist(), range(self._count), strict=True))
        slots = np.empty(len(ids), dtype=np.int64)
        for position, label in enumerate(np.asarray(ids, dtype=np.int64).tolist()):
            slot = self._slots.get(label)
            if slot is None:
                slot = self._slots[label] = self._count
                self._count += 1
            slots[position] = slot
        if self._count > len(self._matrix):
            self._grow(max(self._count, 2 * len(self._matrix), 1024))
        self._matrix[slots] = vectors
        self._labels[slots] = ids
        self._lookup = None

    def _grow(self, capacity: int) -> None:
        matrix = np.empty((capacity, self.dim), dtype=np.float32)
        labels = np.full(capacity, -1, dtype=np.int64)
        matrix[: len(self._matrix)] = self._matrix
        labels[: len(self._labels)] = self._labels
        self._matrix, self._labels = matrix, labels

    def get(self, ids: np.ndarray) -> np.ndarray:
        """The rows of ``ids`` (each must have been put), float32 ``(len(ids), dim)``."""
        if self._lookup is None:
            labels = self._labels[: self._count]
            order = np.argsort(labels, kind="stable")
            self._lookup = (labels[order], order)
        sorted_ids, rows = self._lookup
        positions = np.searchsorted(sorted_ids, ids)
        return self._matrix[rows[positions]]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64 ``(n,)``, vectors float32 ``(n, dim)``) of every row, for saving."""
        return self._labels[: self._count], self._matrix[: self._count]
