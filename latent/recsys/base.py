"""The one ``Recommender`` contract every model implements, and the logic they share.

Conventions: ``user_items`` is a float32 CSR ``(n_users, n_items)`` of raw interaction values (the
model applies its own weighting); a *row* is a ``(1, n_items)`` CSR of one user's interactions, where a
negative value marks a negative example. ``timestamps`` (optional, at fit time only) is a float64 CSR
with the same pattern as ``user_items``: unix seconds, NaN where unknown. Scores are float32, higher is
better. Item and user numbers are dense model indices; mapping them to database ids is the service's job.

Saved state is a directory (JSON manifest + ``.npy`` arrays, swapped in atomically, see core/saveddir.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from core.errors import IndexCorrupt, InvalidInput
from core.saveddir import read_saved_dir, write_saved_dir
from latent.recsys.matrix import Weighting, same_pattern

_MODEL_KEYS = ("params", "n_users", "n_items", "arrays")  # besides core/saveddir.py's generic keys


class Recommender:
    """fit / user_scores / foldin_scores / recommend / similar_items / explain / save / load."""

    name: ClassVar[str]
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    has_similarity: ClassVar[bool] = True  # False: similar_items is not meaningful (popularity)

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.DEFAULTS))
        if unknown:
            raise InvalidInput(
                f"unknown parameter(s) {unknown} for model {self.name!r}; valid: {sorted(self.DEFAULTS)}"
            )
        self.params = {**self.DEFAULTS, **params}
        self.weighting = Weighting(self.params.get("weighting", "binary"))
        self.n_users = 0
        self.n_items = 0
        # Arrays saved with the model for its owner (e.g. the database ids of rows and columns).
        self.labels: dict[str, np.ndarray] = {}

    # -- hooks ----------------------------------------------------------------------------------
    def _fit(self, weighted: sp.csr_matrix) -> None:
        raise NotImplementedError

    def _fit_timed(self, weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        """Models that use when interactions happened override this; the others ignore the times."""
        self._fit(weighted)

    def _user_scores(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _foldin_scores(self, weighted_rows: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _similar_scores(self, item: int) -> np.ndarray:
        raise NotImplementedError

    def _contributions(self, weighted_row: sp.csr_matrix, item: int) -> np.ndarray:
        """Contribution of each of the row's items (in ``weighted_row.indices`` order) to ``item``'s score."""
        raise NotImplementedError

    def _arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # -- public API -----------------------------------------------------------------------------
    def fit(self, user_items: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> Self:
        """Train on ``user_items``; ``timestamps`` (same pattern) reach models that use them."""
        user_items = sp.csr_matrix(user_items, dtype=np.float32)
        user_items.sort_indices()
        if user_items.nnz == 0:
            raise InvalidInput("cannot train a recommender without interactions")
        if timestamps is not None:
            timestamps = sp.csr_matrix(timestamps, dtype=np.float64)
            timestamps.sort_indices()
            if not same_pattern(user_items, timestamps):
                raise InvalidInput("timestamps must have the same pattern as the interaction matrix")
        self.n_users, self.n_items = user_items.shape
        self.weighting.fit(user_items)
        self._fit_timed(self.weighting.transform(user_items), timestamps)
        return self

    def user_scores(self, users: np.ndarray) -> np.ndarray:
        """Scores ``(q, n_items)`` for trained users (model indices ``(q,)``)."""
        users = np.asarray(users, dtype=np.int64)
        if users.size and (users.min() < 0 or users.max() >= self.n_users):
            raise InvalidInput(f"user index out of range 0..{self.n_users - 1}")
        return self._user_scores(users).astype(np.float32, copy=False)

    def foldin_scores(self, rows: sp.csr_matrix) -> np.ndarray:
        """Scores ``(q, n_items)`` for users given only their interactions (not in the model)."""
        rows = self._check_rows(rows)
        return self._foldin_scores(self.weighting.transform(rows)).astype(np.float32, copy=False)

    def recommend(
        self, scores: np.ndarray, k: int, exclude: np.ndarray | None = None, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items of a score vector ``(n_items,)``, without ``exclude``, within ``allowed``."""
        return top_k(scores, k, exclude, allowed)

    def similar_items(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to ``item`` (itself excluded)."""
        self._check_item(item)
        return top_k(self._similar_scores(item).astype(np.float32), k, np.array([item]))

    def explain(self, row: sp.csr_matrix, item: int, top: int = 3) -> list[tuple[int, float]]:
        """The user's past items that contributed most to ``item``'s score: ``[(item, contribution)]``."""
        self._check_item(item)
        weighted = self.weighting.transform(self._check_rows(row))
        positive = weighted.data > 0
        if not positive.any():
            return []
        contributions = np.asarray(self._contributions(weighted, item), dtype=np.float64)
        order = [i for i in np.argsort(-contributions) if positive[i] and contributions[i] > 0][:top]
        return [(int(weighted.indices[i]), float(contributions[i])) for i in order]

    def item_vectors(self) -> np.ndarray | None:
        """Item factors for an inner-product index, or None when the model has none."""
        return None

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: Path, extra: dict[str, Any] | None = None) -> None:
        labels = {f"label_{key}": value for key, value in self.labels.items()}
        arrays = {**self._arrays(), **self.weighting.arrays(), **labels}
        manifest = {
            "kind": self.name,
            "dim": self.n_items,
            "params": self.params,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "arrays": sorted(arrays),
            **(extra or {}),
        }

        def write(tmp: Path) -> None:
            for key, value in arrays.items():
                np.save(tmp / f"{key}.npy", np.ascontiguousarray(value), allow_pickle=False)

        write_saved_dir(Path(directory), manifest, write)

    @classmethod
    def load(cls, directory: Path, create: Callable[[dict[str, Any]], Self] | None = None) -> Self:
        """Load a saved model; ``create`` builds the empty model from its params (default: the class)."""
        directory = Path(directory)
        manifest = read_saved_dir(directory, required=_MODEL_KEYS)
        if manifest["kind"] != cls.name:
            raise IndexCorrupt(f"{directory} holds a {manifest['kind']!r} model, not {cls.name!r}")
        model = (create or cls)(manifest["params"])
        try:
            arrays = {key: np.load(directory / f"{key}.npy", allow_pickle=False) for key in manifest["arrays"]}
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"cannot read model arrays in {directory}: {exc.__class__.__name__}") from exc
        model.labels = {key[6:]: value for key, value in arrays.items() if key.startswith("label_")}
        model.restore_state(arrays, int(manifest["n_users"]), int(manifest["n_items"]))
        return model

    # -- state and raw scores, for models composed of others (the blend) ----------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        """The fitted arrays and the weighting's, as :meth:`save` writes them (labels aside)."""
        return {**self._arrays(), **self.weighting.arrays()}

    def restore_state(self, arrays: dict[str, np.ndarray], n_users: int, n_items: int) -> None:
        """The inverse of :meth:`state_arrays` for a model of ``n_users`` × ``n_items``."""
        self.n_users, self.n_items = n_users, n_items
        self.weighting.restore(arrays)
        self._restore(arrays)

    def similar_scores(self, item: int) -> np.ndarray:
        """Unnormalised similarity of every item to ``item`` (its own entry included)."""
        return self._similar_scores(item)

    def contributions(self, row: sp.csr_matrix, item: int) -> np.ndarray:
        """Contribution of each item of a raw ``row`` (in ``row.indices`` order) to ``item``'s score."""
        return self._contributions(self.weighting.transform(row), item)

    # -- validation -----------------------------------------------------------------------------
    def _check_rows(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        rows = sp.csr_matrix(rows, dtype=np.float32)
        if rows.shape[1] != self.n_items:
            raise InvalidInput(f"interaction rows have {rows.shape[1]} items, the model {self.n_items}")
        return rows

    def _check_item(self, item: int) -> None:
        if not 0 <= int(item) < self.n_items:
            raise InvalidInput(f"item index {item} out of range 0..{self.n_items - 1}")


def top_k(
    scores: np.ndarray, k: int, exclude: np.ndarray | None = None, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``k`` best entries of ``scores`` (n,), best first, ties by index."""
    if k < 1:
        raise InvalidInput("k must be a positive integer")
    scores = np.array(scores, dtype=np.float32)
    if allowed is not None:
        mask = np.full(scores.shape, -np.inf, dtype=np.float32)
        mask[np.asarray(allowed, dtype=np.int64)] = 0.0
        scores += mask
    if exclude is not None and len(exclude):
        scores[np.asarray(exclude, dtype=np.int64)] = -np.inf
    candidates = np.flatnonzero(np.isfinite(scores))
    if len(candidates) > k:
        part = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
    else:
        part = candidates
    order = np.lexsort((part, -scores[part]))
    chosen = part[order]
    return chosen.astype(np.int64), scores[chosen]


def csr_row(items: np.ndarray, values: np.ndarray, n_items: int) -> sp.csr_matrix:
    """One user's interactions as a ``(1, n_items)`` CSR row (duplicates summed)."""
    items = np.asarray(items, dtype=np.int64)
    return sp.csr_matrix(
        (np.asarray(values, dtype=np.float32), (np.zeros(len(items), dtype=np.int64), items)), shape=(1, n_items)
    )


def csr_arrays(matrix: sp.csr_matrix, prefix: str) -> dict[str, np.ndarray]:
    """A CSR matrix as three savable arrays ``<prefix>_indptr / _indices / _data``."""
    matrix = matrix.tocsr()
    return {
        f"{prefix}_indptr": matrix.indptr.astype(np.int64),
        f"{prefix}_indices": matrix.indices.astype(np.int64),
        f"{prefix}_data": matrix.data.astype(np.float32),
    }


def csr_from_arrays(arrays: dict[str, np.ndarray], prefix: str, shape: tuple[int, int]) -> sp.csr_matrix:
    """The inverse of :func:`csr_arrays`."""
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]), shape=shape
    )


class ItemItemRecommender(Recommender):
    """A model whose scores are ``x W`` for an item × item matrix ``W`` (EASE, GF-CF, RP3beta, seqknn).

    Subclasses build ``W`` in :meth:`_item_weights`, dense (``np.ndarray``, row-major) or sparse (CSR),
    with a zero diagonal; the rest (scoring trained and folded-in users, similar items, per-item
    contributions for explanations, saving) is shared. Trained users are scored from their training rows.
    """

    def _item_weights(self, weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> np.ndarray | sp.csr_matrix:
        raise NotImplementedError

    def _fit(self, weighted: sp.csr_matrix) -> None:
        self._fit_timed(weighted, None)

    def _fit_timed(self, weighted: sp.csr_matrix, timestamps: sp.csr_matrix | None) -> None:
        self.weights = self._item_weights(weighted, timestamps)
        self.user_rows = weighted

    def _scores(self, rows: sp.csr_matrix) -> np.ndarray:
        scores = rows @ self.weights
        return scores.toarray() if sp.issparse(scores) else np.asarray(scores)

    def _user_scores(self, users: np.ndarray) -> np.ndarray:
        return self._scores(self.user_rows[users])

    def _foldin_scores(self, weighted_rows: sp.csr_matrix) -> np.ndarray:
        return self._scores(weighted_rows)

    def _similar_scores(self, item: int) -> np.ndarray:
        row = self.weights[item]
        return row.toarray().ravel() if sp.issparse(row) else row.copy()

    def _contributions(self, weighted_row: sp.csr_matrix, item: int) -> np.ndarray:
        column = self.weights[:, item]
        column = column.toarray().ravel() if sp.issparse(column) else column
        return weighted_row.data * column[weighted_row.indices]

    def _arrays(self) -> dict[str, np.ndarray]:
        weights = csr_arrays(self.weights, "w") if sp.issparse(self.weights) else {"weights": self.weights}
        return {**weights, **csr_arrays(self.user_rows, "rows")}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        if "weights" in arrays:  # dense
            self.weights = np.ascontiguousarray(arrays["weights"], dtype=np.float32)
        else:
            self.weights = csr_from_arrays(arrays, "w", (self.n_items, self.n_items))
        self.user_rows = csr_from_arrays(arrays, "rows", (self.n_users, self.n_items))
