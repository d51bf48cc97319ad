"""Pure functions that combine ranked signals (dense, lexical) and diversify a ranking.

Each signal is a mapping ``key → score`` (higher is better). Ranks are 1-based positions in a signal
sorted by score (ties broken by key, so results are deterministic).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

FUSIONS = ("rrf", "convex")


def ranks(signal: Mapping[int, float]) -> dict[int, int]:
    """1-based rank of each key, best score first."""
    ordered = sorted(signal.items(), key=lambda kv: (-kv[1], kv[0]))
    return {key: position for position, (key, _) in enumerate(ordered, 1)}


def rrf(signals: Mapping[str, Mapping[int, float]], k: float = 60.0) -> dict[int, float]:
    """Reciprocal rank fusion (Cormack et al. 2009): ``sum over signals of 1 / (k + rank)``."""
    fused: dict[int, float] = {}
    for signal in signals.values():
        for key, rank in ranks(signal).items():
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


def min_max(signal: Mapping[int, float]) -> dict[int, float]:
    """Scale scores to [0, 1] (all equal → all 1)."""
    if not signal:
        return {}
    low, high = min(signal.values()), max(signal.values())
    span = high - low
    return {key: (score - low) / span if span > 0 else 1.0 for key, score in signal.items()}


def z_score(signal: Mapping[int, float]) -> dict[int, float]:
    """Standardise scores to mean 0 and standard deviation 1 (all equal → all 0)."""
    if not signal:
        return {}
    values = np.fromiter(signal.values(), dtype=np.float64, count=len(signal))
    mean, std = float(values.mean()), float(values.std())
    return {key: (score - mean) / std if std > 0 else 0.0 for key, score in signal.items()}


NORMALISERS = {"minmax": min_max, "zscore": z_score}


def convex(
    dense: Mapping[int, float], lexical: Mapping[int, float], weight: float, normalise: str = "minmax"
) -> dict[int, float]:
    """``weight * norm(dense) + (1 - weight) * norm(lexical)``; a key missing from a signal scores 0 there
    (with z-scores: the lowest standardised score of that signal).

    ``weight`` is the dense share in [0, 1] (Bruch et al. 2023, "An analysis of fusion functions for hybrid
    retrieval", find this tuned convex combination beats RRF).
    """
    norm = NORMALISERS[normalise]
    d, lx = norm(dense), norm(lexical)
    floor_d = min(d.values(), default=0.0) if normalise == "zscore" else 0.0
    floor_lx = min(lx.values(), default=0.0) if normalise == "zscore" else 0.0
    return {
        key: weight * d.get(key, floor_d) + (1.0 - weight) * lx.get(key, floor_lx) for key in d.keys() | lx.keys()
    }


def fuse(
    dense: Mapping[int, float],
    lexical: Mapping[int, float],
    method: str,
    weight: float,
    rrf_k: float,
    normalise: str = "minmax",
) -> dict[int, float]:
    if method == "rrf":
        return rrf({"dense": dense, "lexical": lexical}, rrf_k)
    return convex(dense, lexical, weight, normalise)


def mmr(
    scores: Mapping[int, float],
    similarity: Callable[[int, int], float],
    k: int,
    diversity: float,
) -> list[int]:
    """Maximal marginal relevance (Carbonell & Goldstein 1998): pick ``k`` keys greedily by
    ``(1 - diversity) * relevance - diversity * max similarity to the already picked``.

    Relevance is min-max scaled first so ``diversity`` means the same for every fusion/score scale.
    ``diversity=0`` returns the plain ranking.
    """
    relevance = min_max(scores)
    pool = sorted(relevance, key=lambda key: (-relevance[key], key))
    picked: list[int] = []
    while pool and len(picked) < k:

        def gain(key: int) -> float:
            redundancy = max((similarity(key, p) for p in picked), default=0.0)
            return (1.0 - diversity) * relevance[key] - diversity * redundancy

        best = max(pool, key=gain)  # max keeps the first (best-ranked) key on ties
        picked.append(best)
        pool.remove(best)
    return picked


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity of row vectors (n, d) → (n, n)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    return unit @ unit.T
