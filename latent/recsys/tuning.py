"""Hyperparameter search for one model on a validation split carved out of the training part only.

:func:`validation_split` splits a *training* matrix again (per user, like the test split, with its own
seed); :func:`tune` fits the model on the remainder and scores NDCG@k on the carved-out items, trial
after trial, within a time budget and a trial cap. The caller never hands it the test part, so nothing
here can see test interactions. The search is Optuna's TPE sampler with a fixed seed; the first trial is
always the model's starting parameters (its defaults), so a search never ends below them on validation.
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
    """One fold per seed (``seed``, ``seed + 1``, ...): a trial's score is the mean NDCG over every scored
    user of every fold, which halves the split noise a single fold would put into the choice."""

    folds: list[Fold]
    seed: int
    k: int = 10

    def describe(self) -> dict[str, Any]:
        users = [int(len(f.users)) for f in self.folds]
        return {"seeds": [self.seed + j for j in range(len(self.folds))], "fraction": 0.25, "scored_users": users}


def validation_split(
    train: sp.csr_matrix, timestamps: sp.csr_matrix | None = None, seed: int = 7, k: int = 10, folds: int = 2
) -> Validation:
    """``folds`` per-user 75/25 splits of ``train`` (already the training part of a test split)."""
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
    """The outcome of one model's search: the chosen full parameters, their validation score, every trial.

    The best trial replaces the starting parameters only if its gain is larger than one paired standard
    error over the scored users (:func:`clear_gain`); otherwise the search keeps the start and says so."""

    model: str
    params: dict[str, Any]
    score: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""
    scores: list[np.ndarray] | None = None  # the chosen trial's raw scores per fold (for blending; not stored)
    per_user: np.ndarray | None = None  # the chosen trial's NDCG per scored user (all folds)
    start_scores: list[np.ndarray] | None = None  # the same for the first trial (the starting parameters)

    def record(self, k: int = 10) -> dict[str, Any]:
        score = round(self.score, 6)
        out = {"model": self.model, f"ndcg@{k}": score, "seconds": round(self.seconds, 2), "trials": self.trials}
        return out | ({"note": self.note} if self.note else {})


def clear_gain(candidate: np.ndarray, start: np.ndarray) -> tuple[bool, str]:
    """Whether per-user scores ``candidate`` beat ``start`` by more than one paired standard error."""
    diff = np.asarray(candidate, np.float64) - np.asarray(start, np.float64)
    gain = float(diff.mean())
    error = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    if gain > error:
        return True, ""
    note = "kept the starting parameters: the best gain over them"
    note += f", {gain:+.5f}, is not above one standard error {error:.5f}"
    return False, note


def choose(found: dict[str, tuple[Any, ...]]) -> tuple[tuple[Any, ...], str]:
    """``found["best"]`` if it clearly beats ``found["start"]`` (tuples with per-user NDCG second), else the start."""
    if found["best"] is found["start"]:
        return found["start"], ""
    clear, note = clear_gain(found["best"][1], found["start"][1])
    return (found["best"] if clear else found["start"]), note


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
    found: dict[str, Any] = {}  # "start" and "best": (chosen params, per-user NDCG, scores)
    search, started = Search(name, {}, -1.0), time.perf_counter()

    def objective(trial: optuna.Trial) -> float:
        chosen = {key: _suggest(trial, key, spec) for key, spec in space.items()}
        per_user, scores, seconds = _trial(name, {**start, **fixed, **chosen}, validation, factory)
        score = float(per_user.mean())
        search.trials.append({"params": chosen, f"ndcg@{validation.k}": round(score, 6), "seconds": seconds})
        outcome = (chosen, per_user, scores)  # one object, so choose() can tell the start from a tie
        found.setdefault("start", outcome)
        if "best" not in found or score > float(found["best"][1].mean()):
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
    (chosen, search.per_user, search.scores), search.note = choose(found)
    search.start_scores = found["start"][2]
    search.params = {**factory(name, {**start, **fixed, **chosen}).params}
    search.score, search.seconds = float(search.per_user.mean()), time.perf_counter() - started
    return search


def _suggest(trial: Any, key: str, spec: tuple[Any, ...]) -> Any:
    kind = spec[0]
    if kind == "choice":
        return trial.suggest_categorical(key, spec[1])
    return trial.suggest_float(key, spec[1], spec[2], log=kind == "log")


def _trial(
    name: str, params: dict[str, Any], validation: Validation, factory: ModelFactory
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """NDCG per scored user over every fold, the raw scores per fold, and the seconds it took."""
    started = time.perf_counter()
    per_user, scores = [], []
    for fold in validation.folds:
        model = factory(name, params).fit(fold.train, fold.timestamps)
        scores.append(raw_scores(model, fold))
        per_user.append(ndcg_per_user(scores[-1], fold))
    return np.concatenate(per_user), scores, round(time.perf_counter() - started, 3)
