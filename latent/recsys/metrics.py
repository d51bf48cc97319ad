"""Top-k ranking metrics for recommendations, binary relevance.

For one user with recommended list ``r`` (best first) and relevant set ``T`` (their test items):

* ``precision@k = |r[:k] ∩ T| / k``
* ``recall@k = |r[:k] ∩ T| / |T|``
* ``ndcg@k = DCG / IDCG`` with ``DCG = Σ_{i<k, r_i ∈ T} 1 / log2(i + 2)`` and IDCG the DCG of
  ``min(|T|, k)`` hits at the top
* ``ap@k = Σ_{i<k, r_i ∈ T} precision@(i+1) / min(|T|, k)``; MAP@k is its mean over users
* ``coverage`` = distinct items recommended to anyone / catalogue size

Users with an empty ``T`` are skipped by the mean (they have nothing to find).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _hits(recommended: Sequence[int], relevant: set[int], k: int) -> np.ndarray:
    return np.array([item in relevant for item in list(recommended)[:k]], dtype=bool)


def precision_at_k(recommended: Sequence[int], relevant: set[int], k: int) -> float:
    return float(_hits(recommended, relevant, k).sum()) / k


def recall_at_k(recommended: Sequence[int], relevant: set[int], k: int) -> float:
    if not relevant:
        return 0.0
    return float(_hits(recommended, relevant, k).sum()) / len(relevant)


def ndcg_at_k(recommended: Sequence[int], relevant: set[int], k: int) -> float:
    if not relevant:
        return 0.0
    hits = _hits(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(discounts[: len(hits)][hits].sum())
    idcg = float(discounts[: min(len(relevant), k)].sum())
    return dcg / idcg


def average_precision_at_k(recommended: Sequence[int], relevant: set[int], k: int) -> float:
    if not relevant:
        return 0.0
    hits = _hits(recommended, relevant, k)
    precisions = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precisions[hits].sum()) / min(len(relevant), k)


def coverage(recommendations: Sequence[Sequence[int]], n_items: int) -> float:
    seen = {int(item) for items in recommendations for item in items}
    return len(seen) / n_items if n_items else 0.0


def ranking_report(
    recommendations: Sequence[Sequence[int]], relevant: Sequence[set[int]], n_items: int, k: int = 10
) -> dict[str, float]:
    """Mean metrics over users with at least one relevant item; keys like ``ndcg@10``."""
    pairs = [(r, t) for r, t in zip(recommendations, relevant, strict=True) if t]
    if not pairs:
        return {f"{m}@{k}": 0.0 for m in ("precision", "recall", "ndcg", "map")} | {"coverage": 0.0, "users": 0}
    return {
        f"precision@{k}": float(np.mean([precision_at_k(r, t, k) for r, t in pairs])),
        f"recall@{k}": float(np.mean([recall_at_k(r, t, k) for r, t in pairs])),
        f"ndcg@{k}": float(np.mean([ndcg_at_k(r, t, k) for r, t in pairs])),
        f"map@{k}": float(np.mean([average_precision_at_k(r, t, k) for r, t in pairs])),
        "coverage": coverage([r for r, _ in pairs], n_items),
        "users": len(pairs),
    }
