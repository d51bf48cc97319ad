"""Hyperparameter search for one model on a validation split carved out of the training part only.

:func:`validation_split` splits a *training* matrix again (per user, like the test split, with its own
seed); :func:`tune` fits the model on the search fold's remainder and scores NDCG@k on its carved-out
items, trial after trial, within a time budget and a trial cap, then confirms the best trial against the
starting parameters on a second fold. The caller never hands it the test part, so nothing here can see
test interactions. The search is Optuna's TPE sampler with a fixed seed; the first trial is always the
model's starting parameters (its defaults), which are kept unless the best trial clearly beats them on the
confirmation fold.
With the same data, seed and number of completed trials the search is deterministic; a time budget that
cuts the search short may end it at a different trial on a busier machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.base import Recommender
from latent.recsys.matrix import split_per_user

ModelFactory = Callable[[str, dict[str, Any]], Recommender]
# (kind, low, high) for "log"/"float", (kind, choices) for "choice". Ranges are wide on purpose: the
# defaults (validation picks on MovieLens-100k, docs/RECOMMENDATIONS.md) sit inside every range.
SPACES: dict[str, dict[str, tuple[Any, ...]]] = {
    "ease": {"lambda": ("log", 5.0, 5000.0)},
    "ease_lr": {"lambda": ("log", 5.0, 5000.0)},  # rank is a memory choice, not a quality search
    "als": {
        "factors": ("choice", [32, 64, 128, 256]),
        "regularization": ("log", 0.5, 200.0),
        "alpha": ("log", 0.5, 50.0),
    },
    "bpr": {
        "factors": ("choice", [32, 64, 128]),
        "learning_rate": ("log", 0.001, 0.1),
        "regularization": ("log", 0.0001, 0.1),
    },
    "infae": {"regularization": ("log", 0.3, 30.0)},
    "rp3beta": {
        "alpha": ("float", 0.1, 2.0),
        "beta": ("float", 0.0, 1.0),
        "top_k": ("choice", [25, 50, 100, 200, 400]),
    },
    "gfcf": {"factors": ("choice", [0, 8, 16, 32, 64, 128]), "ideal_weight": ("float", 0.0, 2.0)},
    "seqknn": {
        "window": ("choice", [3, 5, 10, 20, 40]),
        "decay": ("log", 0.5, 50.0),
        "normalization": ("float", 0.2, 1.0),
    },
    "popularity": {},
}
MAX_CELLS = 3_000_000  # validation users scored × items; larger collections score a fixed sample of users


@dataclass
class Fold:
    """A training part split again: models fit ``train`` (+ ``timestamps``) and are scored on ``truth``."""

    train: sp.csr_matrix
    timestamps: sp.csr_matrix | None
    users: np.ndarray  # the scored users (with held-out items; a seeded sample on large collections)
    truth: np.ndarray  # bool (len(users), n_items): their held-out items
    k: int = 10


@dataclass
class Validation:
    """Two folds with seeds ``seed`` and ``seed + 1``: trials are compared on the first (the search fold); the
    best one is then checked against the starting parameters on the second (the confirmation fold), which
    played no part in picking it, so its gain there is not inflated by the search's many tries."""

    folds: list[Fold]
    seed: int
    k: int = 10

    def describe(self) -> dict[str, Any]:
        users = [int(len(f.users)) for f in self.folds]
        return {"search_seed": self.seed, "confirm_seed": self.seed + 1, "fraction": 0.25, "scored_users": users}


def validation_split(
    train: sp.csr_matrix, timestamps: sp.csr_matrix | None = None, seed: int = 7, k: int = 10, folds: int = 2
) -> Validation:
    """``folds`` per-user 75/25 splits of ``train`` (already the training part of a test split): the search
    fold, the confirmation fold, and any more for checks."""
    return Validation([_fold(train, timestamps, seed + j, k) for j in range(folds)], seed, k)


def _fold(train: sp.csr_matrix, timestamps: sp.csr_matrix | None, seed: int, k: int) -> Fold:
    split = split_per_user(train, 0.25, seed, timestamps)
    users = np.flatnonzero(np.diff(split.test.indptr) > 0)
    limit = max(1, MAX_CELLS // max(1, train.shape[1]))
    if len(users) > limit:
        users = np.sort(np.random.default_rng(seed).choice(users, size=limit, replace=False))
    if not len(users):
        raise InvalidInput("too few interactions to carve a validation split (users need >= 2 items)")
    truth = split.test[users].toarray() != 0
    return Fold(split.train, split.train_timestamps, users, truth, k)


def raw_scores(model: Recommender, fold: Fold) -> np.ndarray:
    """Float32 scores (scored users × items) of a model fitted on ``fold.train``."""
    parts = [model.user_scores(fold.users[s : s + 256]) for s in range(0, len(fold.users), 256)]
    return np.asarray(np.vstack(parts), dtype=np.float32)


def ndcg_per_user(scores: np.ndarray, validation: Fold) -> np.ndarray:
    """NDCG@k of each scored user, their training items excluded (as latent/recsys/metrics.py defines it)."""
    masked = np.array(scores, dtype=np.float64)
    seen = validation.train[validation.users].tocoo()
    masked[seen.row, seen.col] = -np.inf
    k = min(validation.k, masked.shape[1])
    top = np.argpartition(-masked, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(masked, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    hits = np.take_along_axis(validation.truth, top, axis=1) & np.isfinite(np.take_along_axis(masked, top, axis=1))
    ideal = np.cumsum(discounts)[np.minimum(validation.truth.sum(axis=1), k) - 1]
    return (hits * discounts).sum(axis=1) / ideal


@dataclass
class Search:
    """The outcome of one model's search: the chosen full parameters, their score, every trial.

    Trials are scored on the search fold. The best trial replaces the starting parameters only if, on the
    confirmation fold, it beats them by more than one paired standard error over the scored users
    (:func:`clear_gain`); otherwise the search keeps the start and says so in ``note``."""

    model: str
    params: dict[str, Any]
    score: float  # the chosen parameters' NDCG on the confirmation fold
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""
    scores: list[np.ndarray] | None = None  # the chosen parameters' raw scores per fold (for blending; not stored)
    start_scores: list[np.ndarray] | None = None  # the same for the starting parameters
    search_score: float = 0.0  # the chosen parameters' NDCG on the search fold

    def record(self, k: int = 10) -> dict[str, Any]:
        scores = {f"ndcg@{k}": round(self.score, 6), f"search_fold_ndcg@{k}": round(self.search_score, 6)}
        out = {"model": self.model, **scores, "seconds": round(self.seconds, 2), "trials": self.trials}
        return out | ({"note": self.note} if self.note else {})


def clear_gain(candidate: np.ndarray, start: np.ndarray) -> tuple[bool, str]:
    """Whether per-user scores ``candidate`` beat ``start`` by more than one paired standard error."""
    diff = np.asarray(candidate, np.float64) - np.asarray(start, np.float64)
    gain = float(diff.mean())
    error = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    if gain > error:
        return True, ""
    note = "kept the starting parameters: the best trial's gain over them on the confirmation fold"
    note += f", {gain:+.5f}, is not above one standard error {error:.5f}"
    return False, note


def tune(
    name: str,
    validation: Validation,
    factory: ModelFactory,
    budget: float,
    seed: int = 7,
    fixed: dict[str, Any] | None = None,
    start: dict[str, Any] | None = None,
    max_trials: int = 50,
) -> Search:
    """Search ``name``'s space (minus the ``fixed`` parameters) within ``budget`` seconds and ``max_trials``.

    ``start`` (default: the model's defaults) is the first trial; ``fixed`` is merged into every trial."""
    import optuna

    fixed, start = dict(fixed or {}), dict(start or {})
    space = {key: spec for key, spec in SPACES.get(name, {}).items() if key not in fixed}
    found: dict[str, Any] = {}  # "start" and "best": (chosen params, search-fold NDCG, search-fold scores)
    search, started = Search(name, {}, -1.0), time.perf_counter()

    def objective(trial: optuna.Trial) -> float:
        chosen = {key: _suggest(trial, key, spec) for key, spec in space.items()}
        per_user, scores, seconds = _trial(name, {**start, **fixed, **chosen}, validation.folds[0], factory)
        score = float(per_user.mean())
        search.trials.append({"params": chosen, f"ndcg@{validation.k}": round(score, 6), "seconds": seconds})
        outcome = (chosen, score, scores)
        found.setdefault("start", outcome)
        if "best" not in found or score > found["best"][1]:
            found["best"] = outcome
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    defaults = factory(name, {**start, **fixed}).params
    study.enqueue_trial({key: defaults[key] for key in space})
    trials = max_trials if space and budget > 0 else 1
    study.optimize(objective, n_trials=max(1, trials), timeout=max(budget, 1e-3), catch=(InvalidInput,))
    if "start" not in found:
        raise InvalidInput(f"{name}: its starting parameters failed on the validation split; pass --params")
    _confirm(search, found, {**start, **fixed}, validation.folds[1], factory)
    search.seconds = time.perf_counter() - started
    return search


def _confirm(search: Search, found: dict[str, Any], base: dict[str, Any], fold: Fold, factory: ModelFactory) -> None:
    """Score the start and the best trial on the confirmation fold; keep the best only on a clear gain there."""
    start_user, start_scores, _ = _trial(search.model, {**base, **found["start"][0]}, fold, factory)
    chosen, clear = found["start"], False
    if found["best"] is not found["start"]:
        best_user, best_scores, _ = _trial(search.model, {**base, **found["best"][0]}, fold, factory)
        clear, search.note = clear_gain(best_user, start_user)
    if clear:
        chosen, confirm_user, confirm_scores = found["best"], best_user, best_scores
    else:
        confirm_user, confirm_scores = start_user, start_scores
    search.params = {**factory(search.model, {**base, **chosen[0]}).params}
    search.score, search.search_score = float(confirm_user.mean()), chosen[1]
    search.scores = [chosen[2], confirm_scores]
    search.start_scores = [found["start"][2], start_scores]


def _suggest(trial: Any, key: str, spec: tuple[Any, ...]) -> Any:
    kind = spec[0]
    if kind == "choice":
        return trial.suggest_categorical(key, spec[1])
    return trial.suggest_float(key, spec[1], spec[2], log=kind == "log")


def _trial(
    name: str, params: dict[str, Any], fold: Fold, factory: ModelFactory
) -> tuple[np.ndarray, np.ndarray, float]:
    """NDCG per scored user of ``fold``, the raw scores, and the seconds it took."""
    started = time.perf_counter()
    model = factory(name, params).fit(fold.train, fold.timestamps)
    scores = raw_scores(model, fold)
    return ndcg_per_user(scores, fold), scores, round(time.perf_counter() - started, 3)
