"""∞-AE against its definition: the NTK of a wide random network, and kernel ridge regression written out."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.kernel import ntk
from latent.recsys.registry import create_model
from tests.recsys.blocks import block_matrix


def empirical_ntk(x: np.ndarray, y: np.ndarray, width: int, w_std: float, b_std: float) -> float:
    """``∇θ f(x) · ∇θ f(y)`` of ``f(x) = w/√h · v·relu(w/√d · W x + b β) + b β_out`` at a random θ ~ N(0, 1)."""
    rng = np.random.default_rng(0)
    d = len(x)
    weights, bias, out = rng.standard_normal((width, d)), rng.standard_normal(width), rng.standard_normal(width)
    zx, zy = w_std / np.sqrt(d) * weights @ x + b_std * bias, w_std / np.sqrt(d) * weights @ y + b_std * bias
    output_layer = w_std**2 / width * np.maximum(zx, 0) @ np.maximum(zy, 0) + b_std**2  # grads of v, β_out
    hidden = w_std**2 / width * (out**2 * (zx > 0) * (zy > 0)).sum()  # grads of W and β share this factor
    return float(output_layer + hidden * (w_std**2 * x @ y / d + b_std**2))


@pytest.mark.parametrize(("w_std", "b_std"), [(2**0.5, 0.1), (1.0, 0.5)])
def test_ntk_matches_a_wide_random_network(w_std: float, b_std: float) -> None:
    x, y = np.array([1.0, 1.0, 0.0, 1.0, 0.0]), np.array([0.0, 1.0, 1.0, 1.0, -1.0])
    for left, right in ((x, y), (x, x), (y, y)):
        expected = empirical_ntk(left, right, 400_000, w_std, b_std)
        got = ntk(np.array([[left @ right]]), np.array([left @ left]), np.array([right @ right]), 5, w_std, b_std)
        assert got[0, 0] == pytest.approx(expected, rel=1e-2)


def test_infae_is_kernel_ridge_regression() -> None:
    x = block_matrix()
    dense = x.toarray().astype(np.float64)
    dots, norms = dense @ dense.T, (dense**2).sum(axis=1)
    kernel = ntk(dots, norms, norms, dense.shape[1], 2**0.5, 0.1)
    reg = 0.5 * np.mean(np.diag(kernel))
    expected = kernel @ np.linalg.solve(kernel + reg * np.eye(len(kernel)), dense)
    model = create_model("infae", {"regularization": 0.5}).fit(x)
    np.testing.assert_allclose(model.user_scores(np.arange(x.shape[0])), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.foldin_scores(x[:3]), expected[:3], rtol=1e-4, atol=1e-5)


def test_infae_support_sample_scores_everyone() -> None:
    x = block_matrix()
    model = create_model("infae", {"support_users": 20}).fit(x)
    assert model.dual.shape == (20, x.shape[1])
    scores = model.user_scores(np.arange(x.shape[0]))
    assert scores.shape == x.shape and np.isfinite(scores).all()


def test_infae_explains_by_leaving_items_out() -> None:
    model = create_model("infae").fit(block_matrix())
    row = sp.csr_matrix((np.ones(3, np.float32), ([0, 0, 0], [0, 1, 12])), shape=(1, model.n_items))
    contributions = model._contributions(row, 2)
    full = model.foldin_scores(row)[0, 2]
    without = model.foldin_scores(sp.csr_matrix((np.ones(2, np.float32), ([0, 0], [1, 12])), shape=row.shape))[0, 2]
    assert contributions[0] == pytest.approx(full - without, rel=1e-4)
    assert contributions[0] > contributions[2]  # item 2's block-mate explains it, not an item of block 1


def test_infae_rejects_bad_parameters() -> None:
    with pytest.raises(InvalidInput, match="infae needs"):
        create_model("infae", {"regularization": 0.0}).fit(block_matrix())
