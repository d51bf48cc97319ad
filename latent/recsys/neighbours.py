"""Models without user factors: the popularity baseline and EASE (closed-form item-item regression)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from core.errors import InvalidInput
from latent.recsys.base import ItemItemRecommender, Recommender


class PopularityRecommender(Recommender):
    """Items ranked by how many users interacted with them; the same list for everyone."""

    name: ClassVar[str] = "popularity"
    DEFAULTS: ClassVar[dict[str, Any]] = {"weighting": "binary"}
    has_similarity: ClassVar[bool] = False

    def _fit(self, weighted: sp.csr_matrix) -> None:
        counts = np.bincount(weighted.indices, minlength=self.n_items).astype(np.float32)
        self.counts = counts / max(1, self.n_users)

    def _user_scores(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.counts, (len(users), 1))

    def _foldin_scores(self, weighted_rows: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.counts, (weighted_rows.shape[0], 1))

    def _similar_scores(self, item: int) -> np.ndarray:
        return self.counts.copy()

    def _contributions(self, weighted_row: sp.csr_matrix, item: int) -> np.ndarray:
        return np.zeros(weighted_row.nnz)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.counts = arrays["counts"].astype(np.float32)


class EaseRecommender(ItemItemRecommender):
    """EASE (Steck 2019): ``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹``; scores are ``x B``.

    The item-item matrix is dense ``(n_items, n_items)``, so ``max_items`` bounds the catalogue
    (20k items = 1.6 GB of float32 during the inversion).
    """

    name: ClassVar[str] = "ease"
    DEFAULTS: ClassVar[dict[str, Any]] = {"lambda": 700.0, "weighting": "binary", "max_items": 20_000}

    def _item_weights(self, weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> np.ndarray:
        if self.n_items > int(self.params["max_items"]):
            raise InvalidInput(
                f"EASE is limited to {self.params['max_items']} items (got {self.n_items}): its dense item x item "
                "matrix would not fit; use --model ease_lr (low-rank EASE), als or bpr"
            )
        gram = (weighted.T @ weighted).toarray().astype(np.float32, copy=False)
        gram[np.diag_indices_from(gram)] += float(self.params["lambda"])
        inverse = spd_inverse(gram)
        weights = -inverse / np.diag(inverse)[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        return np.ascontiguousarray(weights, dtype=np.float32)


def spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite float32 matrix, in place of ``matrix``.

    Cholesky (LAPACK potrf + potri) in float32 does half the flops of a float64 LU inverse
    (``np.linalg.inv``) on half the bytes; ``python -m bench.ease`` measures both on one thread.
    """
    factor, info = lapack.spotrf(matrix, lower=True, overwrite_a=True)
    if info != 0:
        raise InvalidInput("EASE: the regularised item-item matrix is not positive definite; raise lambda")
    inverse, info = lapack.spotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise InvalidInput("EASE: the item-item matrix could not be inverted; raise lambda")
    lower = np.tril(inverse)
    return lower + np.tril(lower, -1).T
