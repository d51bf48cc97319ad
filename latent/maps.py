"""2-D maps of a collection: PCA (fast default) or UMAP, one point per document, stored per document.

PCA is saved as ``mean.npy`` + ``components.npy`` and places new documents exactly by its linear
transform. umap-learn's transform needs the fitted Python object, which cannot be saved without pickle,
so a UMAP map saves the fitted documents' vectors and 2-D positions instead and places a new document at
the similarity-weighted mean position of its k nearest fitted documents (k-NN interpolation, k=10):
a documented approximation that keeps new points next to their neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import InvalidInput
from latent.saved import load_array, load_meta, save_model

METHODS = ("pca", "umap")
KNN = 10
_ARRAYS = ("mean", "basis", "anchors")


@dataclass
class FittedMap:
    method: str
    mean: np.ndarray  # pca: (dim,)        umap: unused (empty)
    basis: np.ndarray  # pca: (2, dim)     umap: fitted unit vectors (n, dim)
    anchors: np.ndarray  # pca: unused     umap: fitted positions (n, 2)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Positions (n, 2) float32 of unit vectors (n, dim)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.method == "pca":
            return ((vectors - self.mean) @ self.basis.T).astype(np.float32)
        sims = vectors @ self.basis.T
        k = min(KNN, sims.shape[1])
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        weights = np.clip(np.take_along_axis(sims, nearest, axis=1), 1e-6, None)
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkd->nd", weights, self.anchors[nearest]).astype(np.float32)

    def save(self, directory: Path) -> None:
        """Replace ``directory`` with this map, crash-safely (latent/saved.py)."""
        save_model(directory, "map", {"method": self.method}, {name: getattr(self, name) for name in _ARRAYS})

    @classmethod
    def load(cls, directory: Path) -> FittedMap:
        """A map saved by :meth:`save`; IndexCorrupt when it is missing or damaged."""
        meta = load_meta(directory, "map")
        return cls(meta["method"], *(load_array(directory, name) for name in _ARRAYS))


def fit_projection(vectors: np.ndarray, method: str = "pca", seed: int = 0, neighbours: int = 15) -> FittedMap:
    """Fit a 2-D projection of unit vectors (n, dim); deterministic for a given seed."""
    if method not in METHODS:
        raise InvalidInput(f"unknown map method {method!r}; choose one of {list(METHODS)}")
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) < 3:
        raise InvalidInput(f"a map needs at least 3 documents, got {len(vectors)}")
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="full").fit(vectors)
        basis = _fix_signs(pca.components_.astype(np.float32))
        return FittedMap("pca", pca.mean_.astype(np.float32), basis, np.zeros((0, 2), np.float32))
    try:
        import umap
    except ImportError as exc:
        raise ImportError("UMAP maps need the umap-learn package: pip install umap-learn") from exc
    reducer = umap.UMAP(n_components=2, n_neighbors=min(neighbours, len(vectors) - 1), metric="cosine",
                        random_state=seed, n_jobs=1)
    positions = reducer.fit_transform(vectors).astype(np.float32)
    return FittedMap("umap", np.zeros(0, np.float32), vectors, positions)


def _fix_signs(components: np.ndarray) -> np.ndarray:
    # An axis's sign is arbitrary; fix it (largest coordinate positive) so refits look the same.
    rows = np.arange(len(components))
    signs = np.sign(components[rows, np.argmax(np.abs(components), axis=1)])
    return components * np.where(signs == 0, 1, signs)[:, None]
