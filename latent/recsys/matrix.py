"""Interaction matrices: building them from triples, splitting them, and weighting them for a model.

Rows are users and columns items, both as dense model indices ``0..n-1``; the caller keeps the
mapping to external or database ids. Duplicate ``(user, item)`` pairs are summed when the matrix is
built (the SQL store has already aggregated them by its own rule, see store/models_recsys.py).

Timestamps travel as a second CSR with the *same pattern* as the values (float64 unix seconds, NaN
where an interaction has none), built by :func:`build_timestamps` and split by the same mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from core.errors import InvalidInput

WEIGHTINGS = ("binary", "value", "bm25")


def build_matrix(users: np.ndarray, items: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A float32 CSR ``(n_users, n_items)`` from index triples; duplicate pairs are summed."""
    matrix = sp.coo_matrix(
        (np.asarray(values, dtype=np.float32), (np.asarray(users), np.asarray(items))), shape=shape
    ).tocsr()
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def build_timestamps(users: np.ndarray, items: np.ndarray, times: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A float64 CSR of unix seconds with the pattern :func:`build_matrix` gives the same pairs; a duplicate
    pair keeps its latest timestamp (like the store), a missing one is NaN."""
    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    times = np.asarray(times, dtype=np.float64)
    keys = users * shape[1] + items
    order = np.lexsort((np.nan_to_num(times, nan=-np.inf), keys))  # per pair, the latest time last
    last = np.r_[keys[order][1:] != keys[order][:-1], True]
    chosen = order[last]
    matrix = sp.csr_matrix((times[chosen], (users[chosen], items[chosen])), shape=shape)
    matrix.sort_indices()
    return matrix


def same_pattern(first: sp.csr_matrix, second: sp.csr_matrix) -> bool:
    """Whether two canonical (sorted) CSR matrices store entries at exactly the same positions."""
    return (
        first.shape == second.shape
        and np.array_equal(first.indptr, second.indptr)
        and np.array_equal(first.indices, second.indices)
    )


def index_ids(external: list[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map arbitrary ids to dense indices: returns ``(unique sorted ids, index of each input)``."""
    return np.unique(np.asarray(external), return_inverse=True)


@dataclass
class Split:
    train: sp.csr_matrix
    test: sp.csr_matrix
    train_timestamps: sp.csr_matrix | None = None  # same pattern as ``train`` when timestamps were given


def split_per_user(
    matrix: sp.csr_matrix, test_fraction: float = 0.25, seed: int = 42, timestamps: sp.csr_matrix | None = None
) -> Split:
    """Per-user random split: each user with >= 2 items puts ``round(fraction * n)`` of them (at least 1)
    in test, the rest in train; users with a single item keep it in train. Deterministic for a seed (the
    timestamps, if given, never change which items are held out; they are split along)."""
    if not 0.0 < test_fraction < 1.0:
        raise InvalidInput("test fraction must be between 0 and 1")
    rng = np.random.default_rng(seed)
    matrix = matrix.tocsr()
    test_mask = np.zeros(matrix.nnz, dtype=bool)
    for user in range(matrix.shape[0]):
        start, end = matrix.indptr[user], matrix.indptr[user + 1]
        n = end - start
        if n < 2:
            continue
        n_test = min(n - 1, max(1, int(round(test_fraction * n))))
        test_mask[start + rng.choice(n, size=n_test, replace=False)] = True
    train_times = None
    if timestamps is not None:
        timestamps = timestamps.tocsr()
        timestamps.sort_indices()
        if not same_pattern(matrix, timestamps):
            raise InvalidInput("timestamps must have the same pattern as the interaction matrix")
        coo = timestamps.tocoo()
        train_times = build_timestamps(coo.row[~test_mask], coo.col[~test_mask], coo.data[~test_mask], matrix.shape)
    return Split(_select(matrix, ~test_mask), _select(matrix, test_mask), train_times)


def _select(matrix: sp.csr_matrix, mask: np.ndarray) -> sp.csr_matrix:
    coo = matrix.tocoo()
    return build_matrix(coo.row[mask], coo.col[mask], coo.data[mask], matrix.shape)


class Weighting:
    """Turns raw interaction values into model input: ``binary`` (1 per pair), ``value`` (as stored)
    or ``bm25`` (binary, then BM25 with item idf learnt at fit time so fold-in users get the same
    weights as training users)."""

    def __init__(self, kind: str, k1: float = 100.0, b: float = 0.8) -> None:
        if kind not in WEIGHTINGS:
            raise InvalidInput(f"unknown weighting {kind!r}; choose one of {list(WEIGHTINGS)}")
        self.kind, self.k1, self.b = kind, float(k1), float(b)
        self.idf = np.zeros(0, dtype=np.float32)
        self.avg_length = 1.0

    def fit(self, matrix: sp.csr_matrix) -> Weighting:
        if self.kind == "bm25":
            df = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)
            self.idf = np.log(matrix.shape[0] / (1.0 + df)).clip(min=0.0).astype(np.float32)
            lengths = np.diff(matrix.indptr)
            self.avg_length = float(lengths[lengths > 0].mean()) if matrix.nnz else 1.0
        return self

    def transform(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        matrix = matrix.tocsr().astype(np.float32)
        if self.kind == "value":
            return matrix
        out = matrix.copy()
        signs = np.sign(out.data)  # negative examples stay negative
        out.data = signs.astype(np.float32)
        if self.kind == "bm25":
            lengths = np.repeat(np.diff(out.indptr), np.diff(out.indptr)).astype(np.float32)
            norm = self.k1 * (1.0 - self.b + self.b * lengths / self.avg_length)
            out.data = signs * (self.k1 + 1.0) / (norm + 1.0) * self.idf[out.indices]
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weighting_idf": self.idf, "weighting_avg": np.array([self.avg_length], dtype=np.float64)}

    def restore(self, arrays: dict[str, np.ndarray]) -> Weighting:
        self.idf = arrays["weighting_idf"].astype(np.float32)
        self.avg_length = float(arrays["weighting_avg"][0])
        return self
