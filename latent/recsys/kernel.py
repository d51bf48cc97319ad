"""∞-AE (Sachdeva et al. 2022, "Infinite Recommendation Networks"): an autoencoder of infinite width
trained to convergence is kernel ridge regression with its neural tangent kernel (NTK), in closed form.

The network is ``x → Dense → ReLU → Dense → x̂`` over a user's interaction row ``x`` (one hidden layer,
NTK parameterisation with ``w_std`` / ``b_std``). With ``d = n_items`` its NTK between two rows is

    s0 = w² x·y / d + b²  (and s0(x, x), s0(y, y) on the diagonal),  cos θ = s0 / √(s0(x,x) s0(y,y))
    s1 = w² √(s0(x,x) s0(y,y)) (sin θ + (π - θ) cos θ) / 2π + b²,      ṡ1 = w² (π - θ) / 2π
    Θ(x, y) = s1 + s0 · ṡ1.

Fitting solves ``A = (K + λ · mean(diag K) · I)⁻¹ X`` over the *support* users (all trained users, or a
deterministic sample of ``support_users`` of them, which bounds the ``s × s`` solve); any user's scores
are ``Θ(x, X_support) A``, so a folded-in user is scored exactly like a trained one. Being nonlinear in
``x``, it adds a signal the linear item-item models and ALS lack (it earns its weight in ``blend``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.base import Recommender, csr_arrays, csr_from_arrays, csr_row

_DENSE_ROWS = 64  # up to this many rows per kernel call, densify them (see InfiniteAeRecommender._kernel)


def ntk(
    dots: np.ndarray, left_sq: np.ndarray, right_sq: np.ndarray, dim: int, w_std: float, b_std: float
) -> np.ndarray:
    """The NTK of the module docstring from inner products ``(q, s)`` and squared norms ``(q,)``, ``(s,)``."""
    w2, b2 = w_std * w_std, b_std * b_std
    s0 = w2 * np.asarray(dots, dtype=np.float64) / dim + b2
    scale = np.sqrt(np.outer(w2 * left_sq / dim + b2, w2 * right_sq / dim + b2))
    cosine = np.clip(s0 / np.where(scale > 0, scale, 1.0), -1.0, 1.0)
    theta = np.arccos(cosine)
    s1 = w2 * scale * (np.sin(theta) + (np.pi - theta) * cosine) / (2 * np.pi) + b2
    return s1 + s0 * (w2 * (np.pi - theta) / (2 * np.pi))


def squared_norms(rows: sp.csr_matrix) -> np.ndarray:
    squares = np.square(rows.data.astype(np.float64))
    return np.bincount(np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr)), squares, rows.shape[0])


class InfiniteAeRecommender(Recommender):
    """Kernel ridge regression over user rows with the NTK of an infinite-width one-hidden-layer autoencoder."""

    name: ClassVar[str] = "infae"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "regularization": 3.0,  # best alone on validation (seeds 7/8); blend uses 2.0, docs/RECOMMENDATIONS.md
        "w_std": 2.0**0.5,
        "b_std": 0.1,
        "support_users": 4000,  # bounds the s × s solve and the per-request cost (s × n_items)
        "seed": 0,
        "weighting": "binary",
    }

    def _fit(self, weighted: sp.csr_matrix) -> None:
        reg, limit = float(self.params["regularization"]), int(self.params["support_users"])
        if reg <= 0 or limit < 1 or float(self.params["w_std"]) <= 0 or float(self.params["b_std"]) < 0:
            raise InvalidInput("infae needs regularization > 0, support_users >= 1, w_std > 0 and b_std >= 0")
        self.user_rows = weighted
        active = np.flatnonzero(np.diff(weighted.indptr) > 0)
        if len(active) > limit:  # a fixed sample keeps the solve O(limit³) on large collections
            active = np.sort(np.random.default_rng(int(self.params["seed"])).choice(active, limit, replace=False))
        self._set_support(active)
        kernel = self._kernel(self.support)
        kernel[np.diag_indices_from(kernel)] += reg * float(np.mean(np.diag(kernel)))
        targets = self.support.toarray().astype(np.float64)
        self.dual = np.ascontiguousarray(np.linalg.solve(kernel, targets), dtype=np.float32)

    def _set_support(self, users: np.ndarray) -> None:
        """The support is a subset of the training rows: kept (and saved) as their indices."""
        self.support_users = users.astype(np.int64)
        self.support = self.user_rows[self.support_users].tocsr()
        self.support_sq = squared_norms(self.support)

    def _kernel(self, rows: sp.csr_matrix) -> np.ndarray:
        if rows.shape[0] <= _DENSE_ROWS:  # a request: sparse @ dense is ~10x faster than sparse @ sparse
            dots = (self.support @ rows.T.toarray()).T
        else:  # fitting (rows = the support): a dense n_items x s copy would not fit large catalogues
            dots = (rows @ self.support.T).toarray()
        w_std, b_std = float(self.params["w_std"]), float(self.params["b_std"])
        return ntk(dots, squared_norms(rows), self.support_sq, self.n_items, w_std, b_std)

    def _scores(self, rows: sp.csr_matrix) -> np.ndarray:
        return self._kernel(rows).astype(np.float32) @ self.dual

    def _user_scores(self, users: np.ndarray) -> np.ndarray:
        return self._scores(self.user_rows[users])

    def _foldin_scores(self, weighted_rows: sp.csr_matrix) -> np.ndarray:
        return self._scores(weighted_rows)

    def _similar_scores(self, item: int) -> np.ndarray:
        """The scores of a user who has only ``item``: what the model predicts alongside it."""
        return self._scores(csr_row(np.array([item]), np.ones(1), self.n_items))[0]

    def _contributions(self, weighted_row: sp.csr_matrix, item: int) -> np.ndarray:
        """Leave-one-out: how much ``item``'s score drops without each past item (the kernel is nonlinear,
        so there is no exact additive split; this is exact for each item on its own)."""
        n = weighted_row.nnz
        keep = ~np.eye(n, dtype=bool)  # copy k holds every item but the k-th (sparse: O(n²) entries)
        rows = np.repeat(np.arange(n), n).reshape(n, n)[keep]
        cols = np.tile(weighted_row.indices, (n, 1))[keep]
        data = np.tile(weighted_row.data, (n, 1))[keep]
        copies = sp.csr_matrix((data, (rows, cols)), shape=(n, self.n_items))
        column = self.dual[:, item].astype(np.float64)
        full = self._kernel(weighted_row) @ column
        return full[0] - self._kernel(copies) @ column

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"dual": self.dual, "support_users": self.support_users, **csr_arrays(self.user_rows, "rows")}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.dual = np.ascontiguousarray(arrays["dual"], dtype=np.float32)
        self.user_rows = csr_from_arrays(arrays, "rows", (self.n_users, self.n_items))
        self._set_support(arrays["support_users"])
