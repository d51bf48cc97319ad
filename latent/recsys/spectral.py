"""GF-CF (Shen et al. 2021, "How Powerful is Graph Convolution for Recommendation?"): a training-free
graph filter on the normalised item-item co-occurrence graph.

With ``R̃ = D_U^{-1/2} R D_I^{-1/2}`` (user and item degrees of the positive interactions), the item-item
matrix is ``W = R̃ᵀR̃ + ideal_weight · D_I^{-1/2} V_kᵀ V_k D_I^{1/2}``: a linear low-pass filter plus an
"ideal" low-pass filter onto the top ``factors`` right singular vectors ``V_k`` of ``R̃``. A user's
scores are ``x W`` with the diagonal of ``W`` zeroed (an item does not recommend itself). ``W`` is
dense ``(n_items, n_items)``, so ``max_items`` bounds the catalogue, as for EASE.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from core.errors import InvalidInput
from latent.recsys.base import ItemItemRecommender


def top_right_singular_vectors(matrix: sp.csr_matrix, k: int) -> np.ndarray:
    """``(k, n_cols)`` right singular vectors of the ``k`` largest singular values (deterministic)."""
    if k >= min(matrix.shape) - 1:  # ARPACK needs k < min(shape); small matrices go dense
        _, _, vt = np.linalg.svd(matrix.toarray(), full_matrices=False)
        return vt[:k]
    _, values, vt = svds(matrix, k=k, random_state=0)
    return vt[np.argsort(-values)]


def gfcf_weights(weighted: sp.csr_matrix, factors: int, ideal_weight: float) -> np.ndarray:
    """The dense item × item filter ``W`` of the module docstring (float32, diagonal zero)."""
    positive = weighted.multiply(weighted > 0).tocsr().astype(np.float64)
    user_degree = np.asarray(positive.sum(axis=1)).ravel()
    item_degree = np.asarray(positive.sum(axis=0)).ravel()
    user_scale = 1.0 / np.sqrt(np.where(user_degree > 0, user_degree, 1.0))
    item_scale = 1.0 / np.sqrt(np.where(item_degree > 0, item_degree, 1.0))
    normalised = (sp.diags(user_scale) @ positive @ sp.diags(item_scale)).tocsr()
    weights = (normalised.T @ normalised).toarray()
    if ideal_weight and factors > 0:
        vectors = top_right_singular_vectors(normalised, factors)
        weights += ideal_weight * ((vectors * item_scale[None, :]).T @ (vectors / item_scale[None, :]))
    np.fill_diagonal(weights, 0.0)
    return np.ascontiguousarray(weights, dtype=np.float32)  # row-major: sparse rows @ W is the hot path


class GfcfRecommender(ItemItemRecommender):
    """Linear + ideal low-pass graph filter on normalised co-occurrences; dense ``W``, scores ``x W``."""

    name: ClassVar[str] = "gfcf"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "factors": 32,
        "ideal_weight": 0.5,
        "weighting": "binary",
        "max_items": 20_000,
    }

    def _item_weights(self, weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> np.ndarray:
        factors, ideal = int(self.params["factors"]), float(self.params["ideal_weight"])
        if factors < 0 or ideal < 0:
            raise InvalidInput("gfcf needs factors >= 0 and ideal_weight >= 0")
        if self.n_items > int(self.params["max_items"]):
            raise InvalidInput(f"gfcf is limited to {self.params['max_items']} items (got {self.n_items}); use als")
        return gfcf_weights(weighted, min(factors, min(weighted.shape)), ideal)
