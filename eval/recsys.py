"""``latentspace eval recsys``: every model on one MovieLens-format file, one shared split.

Protocol: every rating is an interaction (binary relevance); per user, a random 25% of their items
(at least one, for users with >= 2 items; seed 42) is held out; models train on the rest (and on its
timestamps, which time-aware models such as ``seqknn`` use, as ``latentspace train`` does); each user
with held-out items gets a top-10 list with their training items excluded. Metrics are defined in
latent/recsys/metrics.py. Default parameters were chosen on a validation split carved out of the
training part (latent/recsys/evaluate.py ``tune``), never on the test part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidInput
from ingest.readers.interactions import Columns, Interaction, read_interactions
from latent.recsys.evaluate import fit_and_evaluate
from latent.recsys.matrix import build_matrix, build_timestamps, index_ids, split_per_user
from latent.recsys.registry import MODELS


def load_movielens(path: Path) -> tuple[Any, Any, int]:
    """The binary user × item matrix of a whitespace file, its timestamps (same pattern, NaN where a row
    has none) and the number of bad rows skipped."""
    rows = list(read_interactions(path, Columns.movielens(), "whitespace"))
    good = [r for r in rows if isinstance(r, Interaction)]
    if not good:
        raise InvalidInput(f"{path}: no valid interaction rows")
    users, u = index_ids([r.user for r in good])
    items, i = index_ids([r.item for r in good])
    shape = (len(users), len(items))
    times = np.array([np.nan if r.timestamp is None else r.timestamp for r in good], dtype=np.float64)
    matrix = build_matrix(u, i, np.ones(len(good), np.float32), shape)
    return matrix, build_timestamps(u, i, times, shape), len(rows) - len(good)


def run_eval(path: Path, models: list[str], seed: int = 42, k: int = 10) -> list[dict[str, Any]]:
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise InvalidInput(f"unknown model(s) {unknown}; choose from {sorted(MODELS)}")
    matrix, timestamps, skipped = load_movielens(path)
    matrix.data[:] = 1.0
    split = split_per_user(matrix, 0.25, seed, timestamps)
    protocol = f"per-user random 75/25, seed {seed}, top-{k}, train items excluded"
    report = []
    for name in models:
        _, metrics = fit_and_evaluate(name, None, split.train, split.test, k, split.train_timestamps)
        report.append({"model": name, **metrics, "protocol": protocol, "skipped_rows": skipped})
    return report
