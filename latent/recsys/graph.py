"""RP3beta (Paudel et al. 2017): a three-step random walk user → item → user → item on the bipartite
interaction graph, with the arrival probability of item ``j`` divided by ``popularity_j ** beta``.

``W[i, j] = Σ_u P(u | i)^alpha · P(j | u)^alpha / pop_j^beta``, where ``P(u | i)`` and ``P(j | u)`` are the
row-normalised transition probabilities of the (weighted) interaction matrix. Each row of ``W`` keeps
its ``top_k`` largest entries and is renormalised to sum to 1; a user's scores are ``x W``. ``W`` is
built ``block`` rows at a time, so memory is ``O(block · n_items + n_items · top_k)``, never the dense
item × item matrix.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.base import ItemItemRecommender

_BLOCK = 1024


def transitions(weighted: sp.csr_matrix, alpha: float) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """``P(j | u)^alpha`` (users × items), ``P(u | i)^alpha`` (items × users) and item degrees.

    Only positive interactions walk the graph: negative examples are a serving-time signal."""
    positive = weighted.multiply(weighted > 0).tocsr().astype(np.float64)
    user_degree = np.asarray(positive.sum(axis=1)).ravel()
    item_degree = np.asarray(positive.sum(axis=0)).ravel()
    p_ui = sp.diags(1.0 / np.where(user_degree > 0, user_degree, 1.0)) @ positive
    p_iu = sp.diags(1.0 / np.where(item_degree > 0, item_degree, 1.0)) @ positive.T.tocsr()
    return p_ui.power(alpha).tocsr(), p_iu.power(alpha).tocsr(), item_degree


def keep_top(block: np.ndarray, top: int) -> np.ndarray:
    """Zero all but the ``top`` largest entries of every row (in place) and return the block."""
    if top < block.shape[1]:
        drop = np.argpartition(-block, top, axis=1)[:, top:]
        np.put_along_axis(block, drop, 0.0, axis=1)
    return block


def rp3beta_weights(weighted: sp.csr_matrix, alpha: float, beta: float, top: int) -> sp.csr_matrix:
    """The sparse item × item matrix ``W`` described in the module docstring (diagonal zero)."""
    p_ui, p_iu, degree = transitions(weighted, alpha)
    penalty = 1.0 / np.power(np.where(degree > 0, degree, 1.0), beta)
    n_items = weighted.shape[1]
    blocks = []
    for start in range(0, n_items, _BLOCK):
        stop = min(start + _BLOCK, n_items)
        block = (p_iu[start:stop] @ p_ui).toarray() * penalty[None, :]
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        block = keep_top(block, top)
        sums = block.sum(axis=1, keepdims=True)
        blocks.append(sp.csr_matrix(block / np.where(sums > 0, sums, 1.0), dtype=np.float32))
    weights = sp.vstack(blocks, format="csr")
    weights.eliminate_zeros()
    weights.sort_indices()
    return weights


class Rp3BetaRecommender(ItemItemRecommender):
    """Item-item random walk with popularity penalisation; sparse ``W``, scores ``x W``."""

    name: ClassVar[str] = "rp3beta"
    DEFAULTS: ClassVar[dict[str, Any]] = {"alpha": 1.0, "beta": 0.5, "top_k": 100, "weighting": "binary"}

    def _item_weights(self, weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> sp.csr_matrix:
        alpha, beta, top = float(self.params["alpha"]), float(self.params["beta"]), int(self.params["top_k"])
        if alpha <= 0 or beta < 0 or top < 1:
            raise InvalidInput("rp3beta needs alpha > 0, beta >= 0 and top_k >= 1")
        return rp3beta_weights(weighted, alpha, beta, top)
