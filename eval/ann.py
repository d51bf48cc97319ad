"""Recall of a collection's configured vector index against exact search, with and without a filter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import InvalidInput
from store import repositories as repo

if TYPE_CHECKING:
    from services.engine import Engine


def exact_top_k(matrix: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> list[set[int]]:
    """Ground truth: the ``k`` ids of ``matrix`` rows (n, d) with the highest inner product per query (q, d)."""
    scores = queries @ matrix.T
    k = min(k, matrix.shape[0])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return [set(ids[row].tolist()) for row in top]


def recall_at_k(found: np.ndarray, truth: list[set[int]], k: int) -> float:
    """Mean over queries of |found ∩ truth| / |truth| (found: (q, >=k) ids, -1 for empty slots)."""
    shares = [len(t & set(row[:k].tolist())) / len(t) for row, t in zip(found, truth, strict=True) if t]
    return float(np.mean(shares)) if shares else 0.0


def ann_recall(
    engine: Engine, collection_name: str, queries: int = 200, k: int = 10, fraction: float = 0.01, seed: int = 0
) -> dict[str, Any]:
    """Recall@k of the configured index vs exact search, unfiltered and with a random ~``fraction`` id filter.

    Queries are stored chunk vectors sampled with ``seed``; the filter keeps a seeded random subset of chunk ids,
    the same shape of allowed-id set a metadata filter produces.
    """
    with engine.sessions() as session:
        stored = repo.get_collection(session, collection_name)
        parts = list(repo.iter_vectors(session, stored.id, stored.embedder_dim))
    if not parts:
        raise InvalidInput(f"collection {collection_name!r} has no vectors")
    ids = np.concatenate([p[0] for p in parts])
    matrix = np.vstack([p[1] for p in parts])
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(ids), size=min(queries, len(ids)), replace=False)
    query_vectors = matrix[sample]
    index = engine.indexes.get(stored)
    found, _ = index.search(query_vectors, k)
    report: dict[str, Any] = {
        "collection": collection_name,
        "index_kind": index.kind,
        "vectors": len(ids),
        "queries": len(sample),
        "k": k,
        f"recall@{k}": recall_at_k(found, exact_top_k(matrix, ids, query_vectors, k), k),
    }
    keep = rng.random(len(ids)) < fraction
    if keep.sum() == 0:
        keep[rng.integers(len(ids))] = True
    allowed = np.sort(ids[keep])
    found, _ = index.search(query_vectors, k, allowed_ids=allowed)
    truth = exact_top_k(matrix[keep], ids[keep], query_vectors, k)
    report["filtered"] = {"allowed": int(keep.sum()), f"recall@{k}": recall_at_k(found, truth, k)}
    report["model"] = stored.embedder_name
    return report
