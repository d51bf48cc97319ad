"""``latentspace eval recsys``: every model on one interaction file (CSV, TSV, JSONL or whitespace), one shared split.

Protocol: every rating is an interaction (binary relevance); per user, a random 25% of their items
(at least one, for users with >= 2 items; seed 42) is held out; models train on the rest (and on its
timestamps, which time-aware models such as ``seqknn`` use, as ``latentspace train`` does); each user
with held-out items gets a top-10 list with their training items excluded. Metrics are defined in
latent/recsys/metrics.py. Default parameters were chosen on a validation split carved out of the
training part (latent/recsys/evaluate.py ``tune``), never on the test part. ``--tune`` chooses each
model's parameters per file the way ``latentspace train`` does (latent/recsys/selection.py), again on a
validation split of the training part only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidInput
from ingest.readers.interaction_columns import resolve_columns
from ingest.readers.interactions import Columns, Interaction, read_interactions
from latent.recsys.evaluate import fit_and_evaluate
from latent.recsys.matrix import build_matrix, build_timestamps, index_ids, split_per_user
from latent.recsys.registry import MODELS
from latent.recsys.selection import select


def load_interactions(path: Path, columns: Columns | None = None, fmt: str | None = None) -> tuple[Any, Any, int]:
    """The binary user × item matrix of an interaction file (any format ingest-interactions reads), its
    timestamps (same pattern, NaN where a row has none) and the number of bad rows skipped."""
    if columns is None:
        fmt, columns = resolve_columns(path, fmt)
    rows = list(read_interactions(path, columns, fmt))
    good = [r for r in rows if isinstance(r, Interaction)]
    if not good:
        raise InvalidInput(f"{path}: no valid interaction rows")
    users, u = index_ids([r.user for r in good])
    items, i = index_ids([r.item for r in good])
    shape = (len(users), len(items))
    times = np.array([np.nan if r.timestamp is None else r.timestamp for r in good], dtype=np.float64)
    matrix = build_matrix(u, i, np.ones(len(good), np.float32), shape)
    return matrix, build_timestamps(u, i, times, shape), len(rows) - len(good)


def load_movielens(path: Path) -> tuple[Any, Any, int]:
    """A whitespace MovieLens ``u.data`` file (user item rating timestamp)."""
    return load_interactions(path, Columns.movielens(), "whitespace")


def run_eval(
    path: Path,
    models: list[str],
    seed: int = 42,
    k: int = 10,
    columns: Columns | None = None,
    fmt: str | None = None,
    tune_budget: float | None = None,
    tune_seed: int = 7,
) -> list[dict[str, Any]]:
    """One row per model. With ``tune_budget`` each model is tuned as ``latentspace train`` tunes it, on a
    validation split of the training part (the test part is never handed to the tuner)."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise InvalidInput(f"unknown model(s) {unknown}; choose from {sorted(MODELS)}")
    matrix, timestamps, skipped = load_interactions(path, columns, fmt)
    matrix.data[:] = 1.0
    split = split_per_user(matrix, 0.25, seed, timestamps)
    protocol = f"per-user random 75/25, seed {seed}, top-{k}, train items excluded"
    if tune_budget is not None:
        protocol += f"; tuned on a validation split of the training part (seed {tune_seed}, {tune_budget:g} s/model)"
    report = []
    for name in models:
        chosen, params, tuning = name, None, None
        if tune_budget is not None:
            selection = select(name, split.train, split.train_timestamps, tune_budget, tune_seed, k=k)
            chosen, params, tuning = selection.model, selection.params, selection.record
        model, metrics = fit_and_evaluate(chosen, params, split.train, split.test, k, split.train_timestamps)
        row = {"model": name, **metrics, "protocol": protocol, "skipped_rows": skipped}
        row.update(users=int(matrix.shape[0]), items=int(matrix.shape[1]), interactions=int(matrix.nnz))
        if tuning is not None:
            row.update(chose=chosen, params=model.params, tuning=tuning)
            row[f"validation_ndcg@{k}"] = tuning[f"validation_ndcg@{k}"]
        report.append(row)
    return report
