"""Latent-factor models trained by the ``implicit`` package: ALS and BPR.

Both keep ``user_factors (n_users, f)`` and ``item_factors (n_items, f)``; a score is their inner
product, so item factors go into an inner-product VectorIndex for serving. A user outside the model
is *folded in* by the ALS normal equations of Hu, Koren & Volinsky (2008) against the fixed item
factors — the same equations (and confidence ``alpha * weight``) ``implicit`` solves for ALS, so a
folded-in user matches a trained one. Explanations decompose that solution into per-item terms.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from latent.recsys.base import Recommender


def normal_equations(
    item_factors: np.ndarray, gram: np.ndarray, row: sp.csr_matrix, reg: float, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """``A = YᵀY + λI + Σ (|c|-1) y yᵀ`` and ``b = Σ_{c>0} c y`` for one user row (c = alpha · weight)."""
    confidence = alpha * row.data.astype(np.float64)
    factors = item_factors[row.indices].astype(np.float64)
    a = gram + reg * np.eye(gram.shape[0])
    a += (factors * (np.abs(confidence) - 1.0)[:, None]).T @ factors
    b = (factors * np.where(confidence > 0, confidence, 0.0)[:, None]).sum(axis=0)
    return a, b


class FactorRecommender(Recommender):
    """Shared serving logic of the factor models; subclasses only train."""

    foldin_keys: ClassVar[tuple[str, str]] = ("regularization", "alpha")

    def _train(self, weighted: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _fit(self, weighted: sp.csr_matrix) -> None:
        with threadpool_limits(1, "blas"):  # implicit's own threads do the work; nested BLAS threads thrash
            users, items = self._train(weighted)
        self.user_factors = np.ascontiguousarray(users, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(items, dtype=np.float32)
        self._gram = None

    @property
    def gram(self) -> np.ndarray:
        if self._gram is None:
            items = self.item_factors.astype(np.float64)
            self._gram = items.T @ items
        return self._gram

    def _foldin_params(self) -> tuple[float, float]:
        reg_key, alpha_key = self.foldin_keys
        return float(self.params[reg_key]), float(self.params[alpha_key])

    def foldin_vectors(self, weighted_rows: sp.csr_matrix) -> np.ndarray:
        reg, alpha = self._foldin_params()
        out = np.zeros((weighted_rows.shape[0], self.item_factors.shape[1]), dtype=np.float32)
        for i in range(weighted_rows.shape[0]):
            row = weighted_rows[i]
            if row.nnz:
                a, b = normal_equations(self.item_factors, self.gram, row, reg, alpha)
                out[i] = np.linalg.solve(a, b)
        return out

    def _user_scores(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T

    def _foldin_scores(self, weighted_rows: sp.csr_matrix) -> np.ndarray:
        return self.foldin_vectors(weighted_rows) @ self.item_factors.T

    def _similar_scores(self, item: int) -> np.ndarray:
        norms = np.linalg.norm(self.item_factors, axis=1)
        norms[norms == 0] = 1.0
        return (self.item_factors @ self.item_factors[item]) / (norms * norms[item])

    def _contributions(self, weighted_row: sp.csr_matrix, item: int) -> np.ndarray:
        reg, alpha = self._foldin_params()
        a, _ = normal_equations(self.item_factors, self.gram, weighted_row, reg, alpha)
        weighted_item = scipy.linalg.cho_solve(scipy.linalg.cho_factor(a), self.item_factors[item].astype(np.float64))
        confidence = np.where(weighted_row.data > 0, alpha * weighted_row.data, 0.0)
        return (self.item_factors[weighted_row.indices] @ weighted_item) * confidence

    def item_vectors(self) -> np.ndarray:
        return self.item_factors

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_factors = arrays["user_factors"].astype(np.float32)
        self.item_factors = arrays["item_factors"].astype(np.float32)
        self._gram = None


class AlsRecommender(FactorRecommender):
    name: ClassVar[str] = "als"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "factors": 128,
        "regularization": 50.0,
        "alpha": 10.0,
        "iterations": 15,
        "weighting": "binary",
        "seed": 42,
        "threads": 1,
    }

    def _train(self, weighted: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        from implicit.cpu.als import AlternatingLeastSquares

        model = AlternatingLeastSquares(
            factors=int(self.params["factors"]),
            regularization=float(self.params["regularization"]),
            alpha=float(self.params["alpha"]),
            iterations=int(self.params["iterations"]),
            random_state=int(self.params["seed"]),
            num_threads=int(self.params["threads"]),
            calculate_training_loss=False,
        )
        model.fit(weighted, show_progress=False)
        return model.user_factors, model.item_factors


class BprRecommender(FactorRecommender):
    """BPR-MF; fold-in uses the ALS equations with ``foldin_regularization`` / ``foldin_alpha``."""

    name: ClassVar[str] = "bpr"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "factors": 128,  # validation pick (seeds 7 and 8 inside the training part), docs/RECOMMENDATIONS.md
        "learning_rate": 0.003,
        "regularization": 0.001,
        "iterations": 200,
        "weighting": "binary",
        "seed": 42,
        "threads": 1,
        "foldin_regularization": 0.1,
        "foldin_alpha": 10.0,
    }
    foldin_keys: ClassVar[tuple[str, str]] = ("foldin_regularization", "foldin_alpha")

    def _train(self, weighted: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        model = BayesianPersonalizedRanking(
            factors=int(self.params["factors"]),
            learning_rate=float(self.params["learning_rate"]),
            regularization=float(self.params["regularization"]),
            iterations=int(self.params["iterations"]),
            random_state=int(self.params["seed"]),
            num_threads=int(self.params["threads"]),
        )
        model.fit(weighted, show_progress=False)
        return model.user_factors, model.item_factors
