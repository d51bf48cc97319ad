"""Float32 vectors by id in one growing matrix: fast batch gathers for exact search over an allowed set.

A backend whose library copies stored vectors out slowly (hnswlib's ``get_items`` builds Python lists,
~0.25 ms per vector) keeps this copy beside its graph. Rows are never freed one by one: a removed id keeps
its row until the owner rebuilds (compaction), and a re-added id overwrites its row in place.

Loaded rows stay in the saved ``vectors.npy`` (:meth:`VectorRows.from_file`) and are read with ``os.pread``
when a filtered search gathers some (issue 17): a search without a filter never reads them, and a filtered one
copies just the rows it needs into a fresh array, so no page of the file stays in the process. (A
copy-on-write map of the file kept every page a filter had touched mapped in each worker, ~36 MB of the
68 MB after 100 searches with a 1% filter, because the kernel maps the cached pages around each faulted
one.) The file is held open, so a save that replaces its directory does not pull it away; the first
``put`` reads the whole file into memory and the rows live there from then on.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np

_FLOAT32 = np.dtype("<f4")
WHOLE_FILE_FRACTION = 0.25  # gathers of more than this share of the rows read the file in one call


class _RowFile:
    """An open ``.npy`` file of float32 rows; its descriptor closes with the object."""

    def __init__(self, path: Path, dim: int) -> None:
        with open(path, "rb") as header:
            version = np.lib.format.read_magic(header)
            npy = np.lib.format
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = read_header(header)
            self.offset = header.tell()
        if dtype != _FLOAT32 or fortran or len(shape) != 2 or shape[1] != dim:
            raise ValueError(f"{path}: not a C-ordered float32 (n, {dim}) array")
        self.count, self.dim, self.row_bytes = shape[0], dim, dim * 4
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)
        if os.fstat(self.fd).st_size < self.offset + self.count * self.row_bytes:
            raise ValueError(f"{path}: shorter than its header says")

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows number ``rows`` (int64, any order, repeats allowed), float32 ``(len(rows), dim)``, read-only."""
        if len(rows) > WHOLE_FILE_FRACTION * self.count:
            return self.read_all()[rows]
        size, fd = self.row_bytes, self.fd
        # One pread per row, joined, and the joined bytes viewed as the (read-only) result: 445 scattered rows in
        # ~0.35 ms, where preadv into slices of one array took 1.8 ms and a copy of the result 0.6 ms more.
        parts = [os.pread(fd, size, offset) for offset in (self.offset + rows * size).tolist()]
        joined = b"".join(parts)
        if len(joined) != size * len(rows):
            raise OSError("vector file ended early")
        return np.frombuffer(joined, dtype=np.float32).reshape(len(rows), self.dim)

    def read_all(self) -> np.ndarray:
        matrix = np.empty((self.count, self.dim), dtype=np.float32)
        if self.count:
            self._read_into(memoryview(matrix).cast("B"), 0)
        return matrix

    def _read_into(self, view: memoryview, row: int) -> None:
        done, offset = 0, self.offset + row * self.row_bytes
        while done < len(view):
            got = os.preadv(self.fd, [view[done:]], offset + done)
            if got <= 0:
                raise OSError(f"vector file ended early at byte {offset + done}")
            done += got


class VectorRows:
    """``put(ids, vectors)`` adds or overwrites rows; ``get(ids)`` gathers the rows of ids that were put."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._matrix = np.empty((0, dim), dtype=np.float32)
        self._file: _RowFile | None = None  # rows still in the saved file (from_file), until the first put
        self._labels = np.empty(0, dtype=np.int64)
        self._count = 0
        self._slots: dict[int, int] | None = {}  # id -> row; None: not built yet (built on the first put)
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # (sorted ids, their rows)

    @classmethod
    def adopt(cls, labels: np.ndarray, vectors: np.ndarray) -> VectorRows:
        """Rows holding ``vectors`` itself (not a copy): unique int64 ``labels (n,)``, float32 ``(n, dim)``."""
        rows = cls(vectors.shape[1])
        rows._matrix, rows._labels = vectors, np.array(labels, dtype=np.int64)
        rows._count, rows._slots = len(labels), None
        return rows

    @classmethod
    def from_file(cls, labels: np.ndarray, path: Path, dim: int) -> VectorRows:
        """Rows left in the saved ``.npy`` file at ``path`` (float32 ``(n, dim)``, row i is ``labels[i]``), read
        on demand; raises ValueError if the file does not hold ``len(labels)`` such rows."""
        rows = cls(dim)
        rows._file = _RowFile(path, dim)
        if rows._file.count != len(labels):
            raise ValueError("saved vectors do not match their labels")
        rows._labels, rows._count, rows._slots = np.array(labels, dtype=np.int64), len(labels), None
        return rows

    def __len__(self) -> int:
        return self._count

    def _in_memory(self) -> None:
        if self._file is not None:
            self._matrix, self._file = self._file.read_all(), None

    def put(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` (float32 ``(n, dim)``) as the row of ``ids[i]`` (unique int64 ``(n,)``)."""
        self._in_memory()
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
        """The rows of ``ids`` (each must have been put), float32 ``(len(ids), dim)``; read-only while the rows are
        still in their file."""
        if self._lookup is None:
            labels = self._labels[: self._count]
            order = np.argsort(labels, kind="stable")
            self._lookup = (labels[order], order)
        sorted_ids, rows = self._lookup
        found = rows[np.searchsorted(sorted_ids, ids)]
        return self._matrix[found] if self._file is None else self._file.read(found)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64 ``(n,)``, vectors float32 ``(n, dim)``) of every row, for saving."""
        matrix = self._matrix if self._file is None else self._file.read_all()
        return self._labels[: self._count], matrix[: self._count]
