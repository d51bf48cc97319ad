"""Ingest interactions into SQL and train model versions of a collection.

A version is written to ``index_dir/<collection id>/recsys/<version>/`` (``model/`` and, for factor
models, ``index/`` with the item factors keyed by item database id), then recorded and made active
in one transaction, so readers see either the old or the new version, never a half-written one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.errors import InvalidInput
from core.settings import Settings
from index.registry import create_index, default_kind
from ingest.readers.interactions import Interaction as Event
from latent.recsys.base import Recommender
from latent.recsys.evaluate import fit_and_evaluate
from latent.recsys.matrix import build_matrix, build_timestamps, split_per_user
from latent.recsys.registry import create_model
from latent.recsys.selection import select
from services.context import ServiceContext
from store import recsys as rrepo
from store import repositories as repo
from store import values
from store.models_recsys import ModelVersion

BATCH = 5000


@dataclass
class InteractionReport:
    added: int = 0
    updated: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def recsys_dir(settings: Settings, collection_id: int) -> Path:
    return settings.index_dir() / str(collection_id) / "recsys"


def ingest_interactions(
    ctx: ServiceContext,
    name: str,
    stream: Iterable[Any],
    aggregate: str = "sum",
    on_progress: Callable[[int], None] | None = None,
) -> InteractionReport:
    """Store interactions (and count RowErrors from the reader as failed); one transaction per batch."""
    if aggregate not in rrepo.AGGREGATES:
        raise InvalidInput(f"unknown aggregate rule {aggregate!r}; choose one of {list(rrepo.AGGREGATES)}")
    report = InteractionReport()
    with ctx.sessions() as session:
        collection_id = repo.get_collection(session, name).id
    batch: list[Event] = []
    for record in stream:
        problem = _problem(record)
        if problem is None:
            batch.append(record)
        else:
            report.failed += 1
            report.errors.append(problem)
        if len(batch) >= BATCH:
            _write(ctx, collection_id, batch, aggregate, report, on_progress)
            batch = []
    if batch:
        _write(ctx, collection_id, batch, aggregate, report, on_progress)
    return report


def _problem(record: Any) -> str | None:
    """None for a storable interaction; else the one-line reason (a reader's RowError, or store/values.py's
    rules: a NaN value used to be stored and break every later fit)."""
    if not isinstance(record, Event):
        return f"{record.source_uri}: line {record.line}: {record.message}"
    try:
        values.check_interaction(record.user, record.item, record.value, record.timestamp)
    except InvalidInput as exc:
        return exc.message
    return None


def _write(ctx, collection_id, batch, aggregate, report, on_progress) -> None:  # noqa: ANN001
    # Every write holds the data dir's write lock, so readers' caches see it (services/hitcache.py).
    with ctx.write_lock, ctx.sessions.begin() as session:
        added, updated = rrepo.upsert_interactions(session, collection_id, batch, aggregate)
    report.added += added
    report.updated += updated
    if on_progress:
        on_progress(len(batch))


def train(
    ctx: ServiceContext,
    name: str,
    model_name: str,
    params: dict[str, Any] | None = None,
    test_fraction: float = 0.25,
    seed: int = 42,
    activate: bool = True,
    tuning: Tuning | None = None,
) -> dict[str, Any]:
    """Tune ``model_name`` on a validation split of the training part (unless ``tuning`` is off), evaluate
    it on the held-out test part, refit on everything, store and (by default) activate the version."""
    tuning = tuning or Tuning()
    create_model(model_name, params)  # reject unknown models/params before any work
    with ctx.sessions() as session:
        collection_id = repo.get_collection(session, name).id
        users, items, values, times = rrepo.all_interactions(session, collection_id)
    if not len(users):
        raise InvalidInput(f"collection {name!r} has no interactions; ingest some first")
    user_labels, u = np.unique(users, return_inverse=True)
    item_labels, i = np.unique(items, return_inverse=True)
    shape = (len(user_labels), len(item_labels))
    matrix, timestamps = build_matrix(u, i, values, shape), build_timestamps(u, i, times, shape)
    fitted = _evaluate_and_fit(model_name, params, matrix, timestamps, test_fraction, seed, tuning)
    popularity = np.asarray((matrix > 0).sum(axis=0), dtype=np.float32).ravel()
    fitted.model.labels = {"users": user_labels, "items": item_labels, "popularity": popularity}
    version = f"{fitted.name}-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    _save_version(ctx.settings, recsys_dir(ctx.settings, collection_id) / version, fitted.model, item_labels)
    fitted.metrics["protocol"] = _protocol(matrix, test_fraction, seed)
    with ctx.write_lock, ctx.sessions.begin() as session:
        row = ModelVersion(
            collection_id=collection_id,
            version=version,
            model=fitted.name,
            params=fitted.model.params,
            metrics=fitted.metrics,
        )
        session.add(row)
        session.flush()
        if activate:
            rrepo.set_active(session, collection_id, row.id)
    return {
        "version": version,
        "model": fitted.name,
        "requested": model_name,
        "params": fitted.model.params,
        "metrics": row.metrics,
        "active": activate,
    }


def _protocol(matrix: sp.csr_matrix, test_fraction: float, seed: int) -> dict[str, Any]:
    return {
        "test_fraction": test_fraction,
        "seed": seed,
        "users": int(matrix.shape[0]),
        "items": int(matrix.shape[1]),
        "interactions": int(matrix.nnz),
    }


@dataclass
class Tuning:
    """``latentspace train``'s search: on by default, ``budget`` seconds, validation split ``seed``."""

    enabled: bool = True
    budget: float = 60.0
    seed: int = 7
    max_trials: int = 50


@dataclass
class _Fitted:
    name: str
    model: Recommender
    metrics: dict[str, Any]


def _evaluate_and_fit(
    model_name: str,
    params: dict[str, Any] | None,
    matrix: sp.csr_matrix,
    timestamps: sp.csr_matrix,
    test_fraction: float,
    seed: int,
    tuning: Tuning,
) -> _Fitted:
    """Parameters chosen on the training part (tuning), metrics on the held-out part, then the model
    refitted on every interaction. The tuner is handed the training part only."""
    split = split_per_user(matrix, test_fraction, seed, timestamps)
    record = None
    if tuning.enabled:
        chosen = select(
            model_name, split.train, split.train_timestamps, tuning.budget, tuning.seed, params,
            max_trials=tuning.max_trials,
        )
        model_name, params, record = chosen.model, chosen.params, chosen.record
    _, metrics = fit_and_evaluate(model_name, params, split.train, split.test, train_timestamps=split.train_timestamps)
    if record is not None:
        metrics["validation_ndcg@10"] = record["validation_ndcg@10"]
        metrics["tuning"] = record
    started = time.perf_counter()
    model = create_model(model_name, params).fit(matrix, timestamps)
    metrics["final_train_seconds"] = round(time.perf_counter() - started, 3)
    return _Fitted(model_name, model, metrics)


def _save_version(settings: Settings, directory: Path, model: Recommender, item_labels: np.ndarray) -> None:
    """``model/`` and, for factor models, ``index/`` (item factors keyed by item database id)."""
    model.save(directory / "model")
    vectors = model.item_vectors()
    if vectors is not None:
        index = create_index(default_kind(len(item_labels), settings.exact_threshold), vectors.shape[1])
        index.add(item_labels, vectors)
        index.save(directory / "index")


def activate_version(ctx: ServiceContext, name: str, version: str) -> None:
    with ctx.write_lock, ctx.sessions.begin() as session:
        collection_id = repo.get_collection(session, name).id
        match = [v for v in rrepo.versions(session, collection_id) if v.version == version]
        if not match:
            raise InvalidInput(f"collection {name!r} has no model version {version!r}")
        rrepo.set_active(session, collection_id, match[0].id)


def list_versions(ctx: ServiceContext, name: str) -> list[dict[str, Any]]:
    with ctx.sessions() as session:
        collection_id = repo.get_collection(session, name).id
        active = rrepo.active_version(session, collection_id)
        return [
            {
                "version": v.version,
                "model": v.model,
                "params": v.params,
                "metrics": v.metrics,
                "created_at": v.created_at.isoformat(),
                "active": active is not None and active[0] == v.id,
            }
            for v in rrepo.versions(session, collection_id)
        ]
