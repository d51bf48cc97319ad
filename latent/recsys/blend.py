"""A score-level ensemble: several registered models, each user's scores z-normalised per model, summed
with weights.

``params["models"]`` maps a component name to its parameters (``{}`` for its defaults) and
``params["weights"]`` maps it to its weight. Every component sees the raw interaction values and
applies its own weighting, so the blend itself uses ``weighting: value``. Z-normalising per user (mean 0,
standard deviation 1 over the catalogue) puts scores of different scales on one footing. Components
are saved in the blend's directory with their arrays prefixed ``<name>__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.base import Recommender

_SEP = "__"
# Builds a component by model name and params: the registry passes its create_model, so this module
# never imports the registry (which imports this module to list the blend).
ComponentFactory = Callable[[str, dict[str, Any]], Recommender]


def znorm(scores: np.ndarray) -> np.ndarray:
    """Rows of ``scores`` shifted to mean 0 and scaled to standard deviation 1 (constant rows → 0)."""
    scores = np.asarray(scores, dtype=np.float64)
    centred = scores - scores.mean(axis=1, keepdims=True)
    std = centred.std(axis=1, keepdims=True)
    return centred / np.where(std > 0, std, 1.0)


class BlendRecommender(Recommender):
    """Weighted sum of per-user z-normalised component scores (default, picked on validation splits:
    ALS 0.6 + GF-CF 0.3 + time-ordered co-occurrence 0.2 + ∞-AE 0.2, see docs/RECOMMENDATIONS.md)."""

    name: ClassVar[str] = "blend"
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "models": {
            "als": {"factors": 128, "regularization": 50.0, "alpha": 10.0, "iterations": 15, "weighting": "binary"},
            "gfcf": {"factors": 32, "ideal_weight": 1.0},
            "seqknn": {"window": 20, "decay": 5.0, "normalization": 0.5},
            "infae": {"regularization": 2.0},
        },
        "weights": {"als": 0.6, "gfcf": 0.3, "seqknn": 0.2, "infae": 0.2},
        "weighting": "value",
    }

    def __init__(self, params: dict[str, Any] | None = None, create: ComponentFactory | None = None) -> None:
        super().__init__(params)
        if self.params["weighting"] != "value":
            raise InvalidInput("blend passes raw values to its components; its weighting must be 'value'")
        if create is None:
            raise InvalidInput("a blend is built by latent.recsys.registry.create_model (it needs the registry)")
        self.components = self._components(self.params["models"], self.params["weights"], create)

    @staticmethod
    def _components(models: Any, weights: Any, create: ComponentFactory) -> dict[str, Recommender]:
        if not isinstance(models, dict) or not isinstance(weights, dict) or not models:
            raise InvalidInput("blend needs 'models' {name: params} and 'weights' {name: weight}")
        if set(models) != set(weights) or "blend" in models:
            raise InvalidInput("blend 'weights' must name exactly the (non-blend) 'models'")
        return {name: create(name, params or {}) for name, params in models.items()}

    def _combine(self, scores: dict[str, np.ndarray]) -> np.ndarray:
        weights = self.params["weights"]
        return sum(float(weights[name]) * znorm(value) for name, value in scores.items())

    def _fit(self, weighted: sp.csr_matrix) -> None:
        self._fit_timed(weighted, None)

    def _fit_timed(self, weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        for component in self.components.values():
            component.fit(weighted, timestamps)

    def _user_scores(self, users: np.ndarray) -> np.ndarray:
        return self._combine({name: c.user_scores(users) for name, c in self.components.items()})

    def _foldin_scores(self, weighted_rows: sp.csr_matrix) -> np.ndarray:
        return self._combine({name: c.foldin_scores(weighted_rows) for name, c in self.components.items()})

    def _similar_scores(self, item: int) -> np.ndarray:
        scores = {}
        for name, component in self.components.items():
            similar = np.asarray(component.similar_scores(item), dtype=np.float64)
            similar[item] = np.delete(similar, item).mean() if self.n_items > 1 else 0.0  # not part of the scale
            scores[name] = similar[None, :]
        return self._combine(scores)[0]

    def _contributions(self, weighted_row: sp.csr_matrix, item: int) -> np.ndarray:
        """Each component's contributions, scaled to sum (in absolute value) to its weight."""
        total = np.zeros(weighted_row.nnz)
        for name, component in self.components.items():
            part = np.asarray(component.contributions(weighted_row, item), float)
            scale = np.abs(part).sum()
            if scale > 0:
                total += float(self.params["weights"][name]) * part / scale
        return total

    def _arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name, component in self.components.items():
            for key, value in component.state_arrays().items():
                out[f"{name}{_SEP}{key}"] = value
        return out

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        for name, component in self.components.items():
            prefix = f"{name}{_SEP}"
            own = {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}
            component.restore_state(own, self.n_users, self.n_items)
