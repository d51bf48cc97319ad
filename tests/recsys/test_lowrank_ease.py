"""Low-rank EASE ("ease_lr") is exactly EASE when its rank holds the whole Gram matrix."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.base import csr_row
from latent.recsys.lowrank import LowRankEaseRecommender
from latent.recsys.neighbours import EaseRecommender


def _random_matrix(users: int, items: int, density: float, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((users, items)) < density).astype(np.float32))


def _low_rank_matrix(patterns: int, users: int, items: int, seed: int) -> sp.csr_matrix:
    """Every user copies one of ``patterns`` item sets: XᵀX has rank ≤ ``patterns``."""
    rng = np.random.default_rng(seed)
    basis = (rng.random((patterns, items)) < 0.2).astype(np.float32)
    return sp.csr_matrix(basis[rng.integers(0, patterns, users)])


def _assert_same_model(ease: EaseRecommender, low: LowRankEaseRecommender, matrix: sp.csr_matrix) -> None:
    users = np.arange(matrix.shape[0])
    np.testing.assert_allclose(low.user_scores(users), ease.user_scores(users), atol=2e-4)
    row = csr_row(np.array([1, 2, 5]), np.array([1.0, 1.0, -1.0]), matrix.shape[1])
    np.testing.assert_allclose(low.foldin_scores(row), ease.foldin_scores(row), atol=2e-4)
    np.testing.assert_allclose(low.similar_scores(3), ease.similar_scores(3), atol=2e-4)
    positive = csr_row(np.array([1, 2, 5]), np.ones(3), matrix.shape[1])
    np.testing.assert_allclose(low.contributions(positive, 7), ease.contributions(positive, 7), atol=2e-4)


def test_full_rank_equals_dense_ease() -> None:
    matrix = _random_matrix(200, 40, 0.15, seed=1)
    ease = EaseRecommender({"lambda": 5.0}).fit(matrix)
    low = LowRankEaseRecommender({"lambda": 5.0, "rank": 40}).fit(matrix)
    _assert_same_model(ease, low, matrix)


def test_randomized_svd_path_is_exact_on_a_low_rank_matrix() -> None:
    matrix = _low_rank_matrix(patterns=6, users=300, items=80, seed=2)
    ease = EaseRecommender({"lambda": 5.0}).fit(matrix)
    low = LowRankEaseRecommender({"lambda": 5.0, "rank": 10}).fit(matrix)  # 10 * 4 < 80 items: randomized
    _assert_same_model(ease, low, matrix)


def test_a_truncated_rank_is_an_approximation_not_ease() -> None:
    matrix = _random_matrix(300, 120, 0.1, seed=3)
    ease = EaseRecommender({"lambda": 5.0}).fit(matrix)
    low = LowRankEaseRecommender({"lambda": 5.0, "rank": 8}).fit(matrix)
    users = np.arange(matrix.shape[0])
    assert np.abs(low.user_scores(users) - ease.user_scores(users)).max() > 1e-2


def test_bad_parameters_are_refused() -> None:
    matrix = _random_matrix(20, 10, 0.3, seed=4)
    with pytest.raises(InvalidInput):
        LowRankEaseRecommender({"lambda": 0.0}).fit(matrix)
    with pytest.raises(InvalidInput):
        LowRankEaseRecommender({"rank": 0}).fit(matrix)
