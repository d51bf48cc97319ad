"""Seeded test vectors, a numpy brute-force reference and index helpers for the index tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from index.registry import create_index

DIM = 32

# Small explicit nlist so the IVF backend is trained (not a flat fallback) in the recall tests.
TEST_PARAMS: dict[str, dict[str, Any]] = {"faiss_ivf": {"nlist": 64}}


def clustered(n: int, dim: int = DIM, n_clusters: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors drawn around random cluster centres, like real embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    labels = rng.integers(0, n_clusters, size=n)
    x = centres[labels] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def brute_force(queries: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k ids by inner product (numpy reference, independent of index code)."""
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids[order]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def make(kind: str, dim: int = DIM, **params: Any):
    return create_index(kind, dim, {**TEST_PARAMS.get(kind, {}), **params})
