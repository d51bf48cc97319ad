"""Time-ordered item co-occurrence ("seqknn"): items a user interacted with close together in time are
related more strongly than items of the same history far apart.

Each user's positive interactions are put in time order (ties by column). Two items ``d`` positions
apart (``1 <= d <= window``) add ``exp(-d / decay) · x_i · x_j`` to ``S[i, j]`` and ``S[j, i]``.
Interactions without a timestamp (NaN, or no timestamps at all) count as simultaneous with all of that
user's other items: weight 1, so a collection without timestamps gets plain co-occurrence. Then
``S[i, j] /= (n_i · n_j) ** normalization`` with ``n`` the item's number of users (0.5 = cosine), and a
user's scores are ``x S``. ``S`` is sparse: O(nnz · window) entries when timestamps are known.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.base import ItemItemRecommender


def _split_by_time(weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The positive entries with a known timestamp, and those without (same shape, float64)."""
    values = weighted.data.astype(np.float64)
    finite = np.isfinite(timestamps.data) if timestamps is not None else np.zeros(len(values), dtype=bool)
    parts = []
    for keep in (finite, ~finite):
        data = np.where(keep & (values > 0), values, 0.0)
        part = sp.csr_matrix((data, weighted.indices.copy(), weighted.indptr.copy()), shape=weighted.shape)
        part.eliminate_zeros()  # in place: hence the copied index arrays
        parts.append(part)
    return parts[0], parts[1]


def _time_order(weighted: sp.csr_matrix, timestamps: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Users, items and values of the timed positive entries, sorted by (user, time, item)."""
    entries, times = weighted.tocoo(), timestamps.tocoo()  # same pattern, so the same entry order
    keep = (entries.data > 0) & np.isfinite(times.data)
    users, items, values, stamps = entries.row[keep], entries.col[keep], entries.data[keep], times.data[keep]
    order = np.lexsort((items, stamps, users))
    return users[order], items[order], values[order].astype(np.float64)


def sequence_cooccurrence(
    weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None, window: int, decay: float
) -> sp.csr_matrix:
    """The un-normalised ``S`` of the module docstring (float64 CSR, symmetric, diagonal zero)."""
    timed, untimed = _split_by_time(weighted, timestamps)
    n_items = weighted.shape[1]
    # untimed pairs (with each other and with the user's timed items): plain co-occurrence
    pairs = (untimed.T @ (timed + untimed) + timed.T @ untimed).tocoo()
    rows, cols, data = [pairs.row], [pairs.col], [pairs.data]
    if timestamps is not None and timed.nnz:
        users, items, values = _time_order(weighted, timestamps)
        for distance in range(1, window + 1):
            same = users[:-distance] == users[distance:]
            first, second = items[:-distance][same], items[distance:][same]
            weight = np.exp(-distance / decay) * values[:-distance][same] * values[distance:][same]
            rows += [first, second]
            cols += [second, first]
            data += [weight, weight]
    matrix = sp.csr_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
    )
    matrix.setdiag(0.0)
    matrix.eliminate_zeros()
    return matrix


class SequenceKnnRecommender(ItemItemRecommender):
    """Item-item co-occurrence weighted by closeness in each user's time order; sparse ``S``, scores ``x S``."""

    name: ClassVar[str] = "seqknn"
    DEFAULTS: ClassVar[dict[str, Any]] = {"window": 20, "decay": 5.0, "normalization": 0.5, "weighting": "binary"}

    def _item_weights(self, weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> sp.csr_matrix:
        window, decay = int(self.params["window"]), float(self.params["decay"])
        power = float(self.params["normalization"])
        if window < 1 or decay <= 0 or power < 0:
            raise InvalidInput("seqknn needs window >= 1, decay > 0 and normalization >= 0")
        cooccurrence = sequence_cooccurrence(weighted, timestamps, window, decay)
        users_per_item = np.bincount(weighted.indices[weighted.data > 0], minlength=self.n_items)
        scale = 1.0 / np.power(np.maximum(users_per_item, 1).astype(np.float64), power)
        weights = (sp.diags(scale) @ cooccurrence @ sp.diags(scale)).tocsr().astype(np.float32)
        weights.sort_indices()
        return weights
