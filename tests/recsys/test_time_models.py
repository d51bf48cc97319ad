"""Timestamps through the product path, the time-ordered co-occurrence model and GF-CF against their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.matrix import build_matrix, build_timestamps, split_per_user
from latent.recsys.registry import create_model, load_model
from latent.recsys.sequence import sequence_cooccurrence
from latent.recsys.spectral import gfcf_weights
from tests.recsys.blocks import block_matrix, block_timestamps


def test_build_timestamps_keeps_latest_and_marks_missing() -> None:
    times = build_timestamps(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 2]), np.array([5.0, 9.0, np.nan, 3.0]), (2, 3))
    values = build_matrix(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 2]), np.ones(4), (2, 3))
    assert times[0, 1] == 9.0 and np.isnan(times[1, 0]) and times[1, 2] == 3.0
    assert np.array_equal(times.indptr, values.indptr) and np.array_equal(times.indices, values.indices)


def test_split_with_timestamps_holds_out_the_same_items() -> None:
    matrix = block_matrix()
    times = block_timestamps(matrix)
    plain, timed = split_per_user(matrix, 0.25, 3), split_per_user(matrix, 0.25, 3, times)
    assert (plain.train != timed.train).nnz == 0
    coo = timed.train.tocoo()
    np.testing.assert_array_equal(np.asarray(times[coo.row, coo.col]).ravel(), timed.train_timestamps.tocoo().data)
    with pytest.raises(InvalidInput, match="same pattern"):
        split_per_user(matrix, 0.25, 3, times[:, :-1])


def test_fit_rejects_misaligned_timestamps() -> None:
    matrix = block_matrix()
    with pytest.raises(InvalidInput, match="same pattern"):
        create_model("seqknn").fit(matrix, sp.csr_matrix(matrix.shape))


def test_sequence_cooccurrence_follows_time_order() -> None:
    # one user: items 0, 1, 2 at times 30, 10, 20 → order 1, 2, 0; a window of 1 links only neighbours
    x = sp.csr_matrix(np.array([[1.0, 1.0, 1.0, 0.0]]))
    times = build_timestamps(np.zeros(3), np.arange(3), np.array([30.0, 10.0, 20.0]), (1, 4))
    s = sequence_cooccurrence(x, times, window=1, decay=2.0).toarray()
    expected = np.zeros((4, 4))
    expected[1, 2] = expected[2, 1] = expected[2, 0] = expected[0, 2] = np.exp(-0.5)
    np.testing.assert_allclose(s, expected)
    wide = sequence_cooccurrence(x, times, window=2, decay=2.0).toarray()
    assert wide[0, 1] == pytest.approx(np.exp(-1.0))


def test_sequence_cooccurrence_without_times_is_plain_cooccurrence() -> None:
    matrix = block_matrix()
    plain = (matrix.T @ matrix).toarray()
    np.fill_diagonal(plain, 0.0)
    np.testing.assert_allclose(sequence_cooccurrence(matrix, None, 3, 2.0).toarray(), plain)
    # a NaN timestamp makes that interaction simultaneous with all of the user's others
    times = block_timestamps(matrix)
    times.data[:] = np.nan
    np.testing.assert_allclose(sequence_cooccurrence(matrix, times, 3, 2.0).toarray(), plain)


def test_seqknn_prefers_items_next_in_time() -> None:
    # five users rate items 0..3 in the order 0, 1, 2, 3: item 1 (next to 0) must outrank item 3 for a fan of 0
    users = np.repeat(np.arange(5), 4)
    items = np.tile(np.arange(4), 5)
    matrix = build_matrix(users, items, np.ones(20), (5, 4))
    times = build_timestamps(users, items, np.tile(np.arange(4) * 60.0, 5), (5, 4))
    model = create_model("seqknn", {"window": 3, "decay": 1.0}).fit(matrix, times)
    scores = model.foldin_scores(sp.csr_matrix(np.array([[1.0, 0.0, 0.0, 0.0]])))[0]
    assert scores[1] > scores[2] > scores[3] > 0
    untimed = create_model("seqknn", {"window": 3, "decay": 1.0}).fit(matrix)
    assert untimed.foldin_scores(sp.csr_matrix(np.array([[1.0, 0.0, 0.0, 0.0]])))[0][1:].std() == pytest.approx(0)


def reference_gfcf(x: np.ndarray, k: int, ideal: float) -> np.ndarray:
    """GF-CF written out densely: the definition, not the implementation."""
    du, di = x.sum(axis=1), x.sum(axis=0)
    r = x / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    _, _, vt = np.linalg.svd(r, full_matrices=False)
    w = r.T @ r + ideal * np.diag(1 / np.sqrt(di)) @ vt[:k].T @ vt[:k] @ np.diag(np.sqrt(di))
    np.fill_diagonal(w, 0.0)
    return w


@pytest.mark.parametrize(("k", "ideal"), [(2, 0.5), (6, 1.0), (3, 0.0)])
def test_gfcf_matches_the_definition(k: int, ideal: float) -> None:
    rng = np.random.default_rng(4)
    x = (rng.random((40, 12)) < 0.4).astype(np.float64)
    x[0, :] = 1.0  # every item has a user
    np.testing.assert_allclose(gfcf_weights(sp.csr_matrix(x), k, ideal), reference_gfcf(x, k, ideal), atol=1e-5)


def test_gfcf_uses_sparse_svd_on_larger_matrices() -> None:
    rng = np.random.default_rng(5)
    x = (rng.random((120, 60)) < 0.2).astype(np.float64)
    x[0, :] = 1.0
    weights = gfcf_weights(sp.csr_matrix(x), 8, 0.7)
    np.testing.assert_allclose(weights, reference_gfcf(x, 8, 0.7), atol=1e-5)
    assert weights.flags["C_CONTIGUOUS"]  # a column-major W made sparse-row @ W 500x slower


def test_gfcf_rejects_bad_parameters() -> None:
    with pytest.raises(InvalidInput, match="gfcf needs"):
        create_model("gfcf", {"ideal_weight": -1.0}).fit(block_matrix())
    with pytest.raises(InvalidInput, match="limited to"):
        create_model("gfcf", {"max_items": 5}).fit(block_matrix())


def test_train_passes_stored_timestamps_to_the_model(sqlite_engine) -> None:  # noqa: ANN001
    """``train`` on an ingested collection gives seqknn the stored timestamps (not only the eval script)."""
    from ingest.readers.interactions import Interaction

    users = np.repeat(np.arange(5), 4)
    items = np.tile(np.arange(4), 5)
    pairs = zip(users.tolist(), items.tolist(), strict=True)
    events = [Interaction(f"u{u}", f"i{i}", 1.0, 1.7e9 + 60.0 * i) for u, i in pairs]
    sqlite_engine.create_collection("t")
    sqlite_engine.recommendations.ingest_interactions("t", events)
    result = sqlite_engine.recommendations.train("t", "seqknn", {"window": 3, "decay": 1.0})
    model = load_model(sqlite_engine.recommendations.version_dir("t", result["version"]) / "model")
    scores = model.foldin_scores(sp.csr_matrix(np.array([[1.0, 0.0, 0.0, 0.0]])))[0]
    assert scores[1] > scores[2] > scores[3] > 0  # only the stored times can order items 1, 2, 3
