"""EASE for catalogues too large for a dense item × item matrix: low rank plus diagonal ("ease_lr").

EASE (latent/recsys/neighbours.py) needs ``P = (G + λI)⁻¹`` with ``G = XᵀX``: n² floats and an n³ inverse,
so 50k items would take 10 GB and hours. Here ``G`` is replaced by ``V S Vᵀ + Δ``: its top ``rank``
eigenpairs (``V`` = right singular vectors of ``X``, ``S`` = squared singular values, from a randomized
SVD of the sparse ``X``) plus the diagonal the truncation misses, ``Δ = diag(G) − diag(V S Vᵀ)``, so every
item keeps its exact self-co-occurrence. With ``A = Δ + λI`` (diagonal), Woodbury gives

    P = A⁻¹ − A⁻¹ V M Vᵀ A⁻¹,   M = (S⁻¹ + Vᵀ A⁻¹ V)⁻¹   (rank × rank)

and EASE's weights ``B = I − P · diag(1/diag(P))`` (zero diagonal by construction) are never formed:
scores ``x B = x − (x P) / diag(P)`` cost O(nnz(x)·rank + n·rank) per user, memory O(n·rank). With
``rank`` equal to the number of items it is exactly EASE (tests/recsys/test_lowrank_ease.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.base import Recommender, csr_arrays, csr_from_arrays


class LowRankEaseRecommender(Recommender):
    name: ClassVar[str] = "ease_lr"
    DEFAULTS: ClassVar[dict[str, Any]] = {"lambda": 700.0, "rank": 512, "weighting": "binary", "seed": 0}

    def _fit(self, weighted: sp.csr_matrix) -> None:
        lam, rank = float(self.params["lambda"]), int(self.params["rank"])
        if not lam > 0 or rank < 1:
            raise InvalidInput("ease_lr needs lambda > 0 and rank >= 1")
        v, s = _top_eigenpairs(weighted, min(rank, *weighted.shape), int(self.params["seed"]))
        diag_g = np.asarray(weighted.multiply(weighted).sum(axis=0), dtype=np.float64).ravel()
        inv_a = 1.0 / (np.clip(diag_g - (v**2) @ s, 0.0, None) + lam)
        inner = np.diag(1.0 / s) + (v.T * inv_a) @ v
        m = np.linalg.inv(inner)
        m = (m + m.T) / 2  # symmetric up to rounding; keep it exactly so
        diag_p = inv_a - inv_a**2 * np.einsum("ij,jk,ik->i", v, m, v)
        self.v, self.m = v.astype(np.float32), m.astype(np.float32)
        self.inv_a, self.diag_p = inv_a.astype(np.float32), diag_p.astype(np.float32)
        self.user_rows = weighted

    def _scores(self, rows: sp.csr_matrix) -> np.ndarray:
        scaled = sp.csr_matrix(rows.multiply(self.inv_a[None, :]))
        x_p = scaled.toarray() - ((scaled @ self.v) @ self.m) @ self.v.T * self.inv_a[None, :]
        return rows.toarray() - x_p / self.diag_p[None, :]

    def _user_scores(self, users: np.ndarray) -> np.ndarray:
        return self._scores(self.user_rows[users])

    def _foldin_scores(self, weighted_rows: sp.csr_matrix) -> np.ndarray:
        return self._scores(weighted_rows)

    def _p_row(self, item: int) -> np.ndarray:
        """Row ``item`` of P (n,)."""
        row = -self.inv_a[item] * ((self.v[item] @ self.m) @ self.v.T) * self.inv_a
        row[item] += self.inv_a[item]
        return row

    def _similar_scores(self, item: int) -> np.ndarray:
        scores = -self._p_row(item) / self.diag_p  # row ``item`` of B
        scores[item] = 0.0
        return scores

    def _contributions(self, weighted_row: sp.csr_matrix, item: int) -> np.ndarray:
        items = weighted_row.indices
        p_column = -self.inv_a[items] * (self.v[items] @ (self.m @ self.v[item])) * self.inv_a[item]
        p_column[items == item] += self.inv_a[item]
        weights = -p_column / self.diag_p[item]  # B[items, item]
        weights[items == item] = 0.0
        return weighted_row.data * weights

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {"v": self.v, "m": self.m, "inv_a": self.inv_a, "diag_p": self.diag_p}
        return {**arrays, **csr_arrays(self.user_rows, "rows")}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        for name in ("v", "m", "inv_a", "diag_p"):
            setattr(self, name, np.asarray(arrays[name], dtype=np.float32))
        self.user_rows = csr_from_arrays(arrays, "rows", (self.n_users, self.n_items))


def _top_eigenpairs(weighted: sp.csr_matrix, rank: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``rank`` eigenvectors (n, r) and eigenvalues (r,) of ``XᵀX``, float64; zero eigenvalues dropped."""
    if rank >= min(weighted.shape) or rank * 4 >= weighted.shape[1]:
        # Small or nearly full rank: the exact eigendecomposition of the Gram matrix is cheaper and exact.
        gram = (weighted.T @ weighted).toarray().astype(np.float64)
        values, vectors = np.linalg.eigh(gram)
        order = np.argsort(values)[::-1][:rank]
        values, vectors = values[order], vectors[:, order]
    else:
        from sklearn.utils.extmath import randomized_svd

        _, sigma, vt = randomized_svd(weighted, rank, n_iter=4, random_state=seed)
        values, vectors = sigma.astype(np.float64) ** 2, vt.T.astype(np.float64)
    keep = values > 1e-9 * max(float(values.max(initial=0.0)), 1e-30)
    return vectors[:, keep], values[keep]
