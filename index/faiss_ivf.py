"""Inverted-file index on FAISS (``IndexIVFFlat``, inner product) that trains itself when big enough.

Until it holds ``39 * nlist`` vectors (FAISS's minimum for k-means) the index is an exact
``IndexIDMap2(IndexFlatIP)``. The add that crosses the threshold trains the coarse quantizer on
everything stored so far and moves the vectors into the IVF; later adds reuse those centroids.
With ``nlist`` unset it is chosen at training time as ``4 * sqrt(n)``, capped at ``n // 39``, and
training starts at ``AUTO_TRAIN_SIZE`` vectors. Both stages remove by id (a hashtable direct map
keeps ``reconstruct`` and ``remove_ids`` working on the IVF).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Self

import faiss
import numpy as np

from index.arrays import ParamRule, pad_result
from index.base import BaseIndex

_INDEX_FILE = "ivf.faiss"
MIN_POINTS_PER_CENTROID = 39
AUTO_MIN_NLIST = 64
AUTO_TRAIN_SIZE = MIN_POINTS_PER_CENTROID * AUTO_MIN_NLIST
MAX_TRAIN_POINTS_PER_CENTROID = 256  # FAISS subsamples beyond this anyway; do it ourselves, seeded


def auto_nlist(n: int) -> int:
    """Number of inverted lists for ``n`` training vectors when the user did not pick one."""
    return max(1, min(int(4 * math.sqrt(n)), n // MIN_POINTS_PER_CENTROID))


def auto_nprobe(nlist: int) -> int:
    """Lists probed per query when unset: enough for recall@10 >= 0.95 on clustered data."""
    return min(nlist, max(16, nlist // 8))


class FaissIvfIndex(BaseIndex):
    kind = "faiss_ivf"
    DEFAULTS: dict[str, Any] = {"nlist": None, "nprobe": None, "seed": 1234}
    RULES: dict[str, ParamRule] = {  # null: chosen from the collection's size
        "nlist": (int, 1, 65_536, True),
        "nprobe": (int, 1, 65_536, True),
        "seed": (int, 0, 2**31 - 1, False),
    }

    def __init__(self, dim: int, params: dict[str, Any] | None = None) -> None:
        super().__init__(dim, params)
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        self._nlist: int | None = None  # set once trained

    @property
    def trained(self) -> bool:
        return self._nlist is not None

    @property
    def nprobe(self) -> int:
        if self._nlist is None:
            return 0
        return min(self._nlist, int(self.params["nprobe"] or auto_nprobe(self._nlist)))

    def _train_size(self) -> int:
        nlist = self.params["nlist"]
        return MIN_POINTS_PER_CENTROID * int(nlist) if nlist else AUTO_TRAIN_SIZE

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.remove_ids(faiss.IDSelectorArray(ids))  # replacement: drop old copies first
        self._index.add_with_ids(vectors, ids)
        self._maybe_train()

    def _remove(self, ids: np.ndarray) -> None:
        self._index.remove_ids(faiss.IDSelectorArray(ids))

    def _maybe_train(self) -> None:
        n = len(self)
        if self.trained or n < self._train_size():
            return
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = self._index.index.reconstruct_n(0, n)
        nlist = int(self.params["nlist"] or auto_nlist(n))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(int(self.params["seed"]))
        sample_size = min(n, nlist * MAX_TRAIN_POINTS_PER_CENTROID)
        ivf.cp.seed = int(self.params["seed"])
        ivf.train(vectors[np.sort(rng.choice(n, size=sample_size, replace=False))])
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        ivf.add_with_ids(vectors, ids)
        self._index, self._nlist = ivf, nlist
        ivf.nprobe = self.nprobe

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self._index.search(queries, min(k, len(self)))
        return pad_result(ids, scores, k)

    def _search_native_filtered(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        sel = faiss.IDSelectorBatch(allowed)
        kk = min(k, len(allowed))
        if self.trained:
            # Lists are scanned exhaustively, so a filter only thins them; probing a few more lists
            # makes up for allowed neighbours that sit in lists just outside the usual probe set.
            nprobe = min(self._nlist, 2 * self.nprobe)
            params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
        else:
            params = faiss.SearchParameters(sel=sel)
        scores, ids = self._index.search(queries, kk, params=params)
        return pad_result(ids, scores, k)

    def _get_vectors(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.empty((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(ids)

    def _compute_ids(self) -> np.ndarray:
        if not self.trained:
            return np.sort(faiss.vector_to_array(self._index.id_map).astype(np.int64))
        lists = self._index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(lists.nlist)
            if lists.list_size(i)
        ]
        return np.sort(np.concatenate(parts).astype(np.int64)) if parts else np.empty(0, dtype=np.int64)

    def _manifest_extra(self) -> dict[str, Any]:
        return {"trained": self.trained, "trained_nlist": self._nlist}

    def _write_native(self, directory: Path) -> None:
        faiss.write_index(self._index, str(directory / _INDEX_FILE))

    @classmethod
    def _restore(cls, directory: Path, manifest: dict[str, Any]) -> Self:
        index = cls(manifest["dim"], manifest["params"])
        native = faiss.read_index(str(directory / _INDEX_FILE))
        expected = faiss.IndexIVFFlat if manifest["trained"] else faiss.IndexIDMap2
        if not isinstance(native, expected) or native.d != index.dim:
            raise ValueError("native index type or dimension does not match the manifest")
        index._index = native
        if manifest["trained"]:
            index._nlist = int(native.nlist)
            native.nprobe = index.nprobe
        else:
            index._maybe_train()  # e.g. saved by a build with a lower training threshold
        return index
