"""EASE's float32 Cholesky inverse against numpy's float64 inverse."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInput
from latent.recsys.neighbours import spd_inverse


def test_cholesky_inverse_matches_numpy_on_a_regularised_gram_matrix() -> None:
    rng = np.random.default_rng(3)
    interactions = (rng.random((300, 80)) < 0.1).astype(np.float64)
    gram = interactions.T @ interactions + 5.0 * np.eye(80)
    expected = np.linalg.inv(gram)
    got = spd_inverse(gram.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=1e-4)
    np.testing.assert_array_equal(got, got.T)  # both triangles filled


def test_a_matrix_that_is_not_positive_definite_is_refused() -> None:
    with pytest.raises(InvalidInput, match="positive definite"):
        spd_inverse(np.array([[1.0, 2.0], [2.0, 1.0]], dtype=np.float32))
