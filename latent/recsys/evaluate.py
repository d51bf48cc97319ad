"""Offline evaluation of a Recommender on a held-out split (metrics: latent/recsys/metrics.py)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from latent.recsys.base import Recommender
from latent.recsys.matrix import split_per_user
from latent.recsys.metrics import ranking_report
from latent.recsys.registry import create_model

_BATCH = 256


def recommend_all(model: Recommender, train: sp.csr_matrix, users: np.ndarray, k: int) -> list[list[int]]:
    """Top-``k`` item indices for each trained user, training items excluded."""
    out: list[list[int]] = []
    for start in range(0, len(users), _BATCH):
        batch = users[start : start + _BATCH]
        scores = model.user_scores(batch)
        for row, user in zip(scores, batch, strict=True):
            seen = train.indices[train.indptr[user] : train.indptr[user + 1]]
            items, _ = model.recommend(row, k, exclude=seen)
            out.append(items.tolist())
    return out


def evaluate(model: Recommender, train: sp.csr_matrix, test: sp.csr_matrix, k: int = 10) -> dict[str, float]:
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    recommended = recommend_all(model, train, users, k)
    relevant = [set(test.indices[test.indptr[u] : test.indptr[u + 1]].tolist()) for u in users]
    return ranking_report(recommended, relevant, train.shape[1], k)


def fit_and_evaluate(
    name: str,
    params: dict[str, Any] | None,
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    k: int = 10,
    train_timestamps: sp.csr_matrix | None = None,
) -> tuple[Recommender, dict[str, Any]]:
    """Train ``name`` on ``train`` (and its timestamps), evaluate on ``test``; metrics include ``train_seconds``."""
    model = create_model(name, params)
    started = time.perf_counter()
    model.fit(train, train_timestamps)
    seconds = time.perf_counter() - started
    return model, {**evaluate(model, train, test, k), "train_seconds": round(seconds, 3)}


def tune(
    name: str,
    grid: list[dict[str, Any]],
    train: sp.csr_matrix,
    k: int = 10,
    seed: int = 7,
    train_timestamps: sp.csr_matrix | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Pick the params of ``grid`` with the best NDCG on a validation split carved out of ``train``."""
    split = split_per_user(train, 0.25, seed, train_timestamps)
    trials = []
    for params in grid:
        _, metrics = fit_and_evaluate(name, params, split.train, split.test, k, split.train_timestamps)
        trials.append({"params": params, f"ndcg@{k}": metrics[f"ndcg@{k}"]})
    best = max(trials, key=lambda t: t[f"ndcg@{k}"])
    return best["params"], trials
