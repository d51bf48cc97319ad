"""What ``latentspace train`` (and ``eval recsys --tune``) fits: a model's parameters chosen on a
validation split of the training part, and for the blend also whether the blend is worth it.

The blend's search spends most of the budget tuning each component alone (latent/recsys/tuning.py,
starting from the blend's own component parameters), then searches the weights over the components'
cached search-fold scores (cheap: no refit). On the confirmation fold, the blend of the tuned components
with the tuned weights must clearly beat the blend of the starting components and weights (else the
latter is kept); then a blend that does not beat its best component alone there is replaced by that
component, and the record says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.blend import BlendRecommender, znorm
from latent.recsys.registry import create_model
from latent.recsys.tuning import (
    ModelFactory,
    Search,
    Validation,
    clear_gain,
    ndcg_per_user,
    tune,
    validation_split,
)

BLEND_COMPONENT_SHARE = 0.8  # of the blend's budget; the rest searches the weights
WEIGHT_TRIALS = 150


@dataclass
class Selection:
    model: str  # the chosen model (a blend request may end as one of its components)
    params: dict[str, Any]
    record: dict[str, Any]  # JSON: what was searched, every trial, the validation scores, the choice


def select(
    name: str,
    train: sp.csr_matrix,
    timestamps: sp.csr_matrix | None,
    budget: float,
    seed: int = 7,
    fixed: dict[str, Any] | None = None,
    factory: ModelFactory | None = None,
    max_trials: int = 50,
    k: int = 10,
) -> Selection:
    """Tune ``name`` on a validation split of ``train`` (the training part only) within ``budget`` seconds."""
    factory = factory or create_model
    fixed = dict(fixed or {})
    factory(name, fixed)  # unknown models and parameters fail before any work
    started = time.perf_counter()
    try:
        validation = validation_split(train, timestamps, seed, k)
    except InvalidInput as exc:  # e.g. every user has a single interaction: nothing to validate on
        record = {"chose": name, f"validation_ndcg@{k}": None, "searches": [], "note": f"not tuned: {exc}"}
        return Selection(name, factory(name, fixed).params, record | {"requested": name, "seed": seed})
    if name == BlendRecommender.name:
        chosen = _select_blend(validation, factory, budget, seed, fixed, max_trials)
    else:
        search = tune(name, validation, factory, budget, seed, fixed, max_trials=max_trials)
        record = {"chose": name, f"validation_ndcg@{k}": round(search.score, 6), "searches": [search.record(k)]}
        chosen = Selection(name, search.params, record)
    chosen.record.update(
        requested=name,
        budget_seconds=budget,
        seconds=round(time.perf_counter() - started, 2),
        seed=seed,
        fixed=sorted(fixed),
        validation=validation.describe(),
    )
    return chosen


def _select_blend(
    validation: Validation, factory: ModelFactory, budget: float, seed: int, fixed: dict[str, Any], max_trials: int
) -> Selection:
    started, key = time.perf_counter(), f"ndcg@{validation.k}"
    models = fixed.get("models") or BlendRecommender.DEFAULTS["models"]
    weights = fixed.get("weights") or _start_weights(models)
    share = budget * BLEND_COMPONENT_SHARE / len(models)
    searches = {
        model: tune(model, validation, factory, share, seed, params if "models" in fixed else None, params, max_trials)
        for model, params in models.items()
    }
    remaining = budget - (time.perf_counter() - started)
    tuned, weight_record = _tune_weights(searches, validation, remaining, seed, weights, "weights" in fixed)
    confirm = validation.folds[1]  # the blend as a whole is judged on the fold its search did not use
    per_user = ndcg_per_user(_combine(searches, tuned, 1), confirm)
    start = ndcg_per_user(_combine(searches, weights, 1, start=True), confirm)
    best = max(searches.values(), key=lambda s: s.score)
    record = {"candidates": {"blend": round(float(per_user.mean()), 6)}}
    record["candidates"]["blend (starting parameters)"] = round(float(start.mean()), 6)
    record["candidates"][best.model] = round(best.score, 6)
    record["searches"] = [s.record(validation.k) for s in searches.values()] + [weight_record]
    params = {"models": {m: s.params for m, s in searches.items()}, "weights": tuned}
    clear, note = clear_gain(per_user, start)
    if not clear:
        params, per_user = {"models": models, "weights": weights}, start
        record["blend"] = f"starting parameters (the tuned blend's gain over them{note.split('over them', 1)[1]})"
    if best.score >= float(per_user.mean()) and not fixed:
        record.update(chose=best.model, reason=f"the blend did not beat {best.model} alone on validation")
        return Selection(best.model, best.params, {**record, f"validation_{key}": round(best.score, 6)})
    record.update(chose="blend", **{f"validation_{key}": round(float(per_user.mean()), 6)})
    return Selection("blend", factory("blend", params).params, record)


def _start_weights(models: dict[str, Any]) -> dict[str, float]:
    defaults = BlendRecommender.DEFAULTS["weights"]
    return {m: float(defaults[m]) for m in models} if set(models) <= set(defaults) else dict.fromkeys(models, 1.0)


def _combine(searches: dict[str, Search], weights: dict[str, float], fold: int, start: bool = False) -> np.ndarray:
    """The blend's scores on validation fold ``fold`` from its components' chosen (or starting) parameters."""
    total = None
    for model, search in searches.items():
        part = np.float32(weights[model]) * znorm((search.start_scores if start else search.scores)[fold])
        total = part.astype(np.float32) if total is None else total + part.astype(np.float32)
    return total


def _tune_weights(
    searches: dict[str, Search],
    validation: Validation,
    budget: float,
    seed: int,
    start: dict[str, float],
    keep: bool,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Blend weights in [0, 1] on the search fold, over the components' cached scores there (z-normalised
    once, no refits); returns the best weights and the search record."""
    import optuna

    normalised = {m: znorm(s.scores[0]).astype(np.float32) for m, s in searches.items()}
    record: dict[str, Any] = {"model": "blend weights", "trials": []}
    best: dict[str, Any] = {}

    def objective(trial: optuna.Trial) -> float:
        weights = dict(start) if keep else {m: trial.suggest_float(m, 0.0, 1.0) for m in searches}
        total = sum(np.float32(weights[m]) * z for m, z in normalised.items())
        score = float(ndcg_per_user(total, validation.folds[0]).mean())
        rounded = {m: round(w, 4) for m, w in weights.items()}
        record["trials"].append({"params": rounded, f"ndcg@{validation.k}": round(score, 6)})
        if not best or score > best["score"]:
            best.update(weights=weights, score=score)
        return score

    started = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(dict(start))
    study.optimize(objective, n_trials=1 if keep or budget <= 0 else WEIGHT_TRIALS, timeout=max(budget, 1e-3))
    record.update(seconds=round(time.perf_counter() - started, 2))
    record[f"search_fold_ndcg@{validation.k}"] = round(best["score"], 6)
    return best["weights"], record
