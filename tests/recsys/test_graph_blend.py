"""RP3beta against a dense reference implementation, and the blend's parameters and scoring."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from core.errors import InvalidInput
from latent.recsys.blend import znorm
from latent.recsys.graph import rp3beta_weights
from latent.recsys.registry import create_model
from tests.recsys.blocks import block_matrix


def reference_rp3beta(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """RP3beta written out with dense loops: the definition, not the implementation."""
    n_users, n_items = x.shape
    w = np.zeros((n_items, n_items))
    for i in range(n_items):
        for j in range(n_items):
            if i == j:
                continue
            for u in range(n_users):
                if x[u, i] and x[u, j]:
                    w[i, j] += (x[u, i] / x[:, i].sum()) ** alpha * (x[u, j] / x[u].sum()) ** alpha
            w[i, j] /= x[:, j].sum() ** beta
    sums = w.sum(axis=1, keepdims=True)
    return w / np.where(sums > 0, sums, 1.0)


def small_matrix() -> np.ndarray:
    return np.array(
        [[1, 1, 0, 0, 1], [1, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 1, 1, 0, 0], [0, 0, 0, 1, 1]], dtype=np.float32
    )


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.0), (0.7, 0.5), (1.3, 1.0)])
def test_rp3beta_matches_the_definition(alpha: float, beta: float) -> None:
    x = small_matrix()
    weights = rp3beta_weights(sp.csr_matrix(x), alpha, beta, top=5).toarray()
    np.testing.assert_allclose(weights, reference_rp3beta(x, alpha, beta), rtol=1e-5, atol=1e-7)


def test_rp3beta_keeps_top_k_per_row_and_penalises_popularity() -> None:
    matrix = block_matrix()
    weights = rp3beta_weights(matrix, 1.0, 0.5, top=3)
    assert np.diff(weights.indptr).max() == 3
    np.testing.assert_allclose(np.asarray(weights.sum(axis=1)).ravel(), 1.0, rtol=1e-5)
    # item 0 is co-liked with a popular and an unpopular item equally often: only beta > 0 prefers the rare one
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 1, 0]], dtype=np.float32))
    assert rp3beta_weights(x, 1.0, 0.0, top=2)[0, 1] == pytest.approx(rp3beta_weights(x, 1.0, 0.0, top=2)[0, 2])
    assert rp3beta_weights(x, 1.0, 1.0, top=2)[0, 1] < rp3beta_weights(x, 1.0, 1.0, top=2)[0, 2]


def test_rp3beta_rejects_bad_parameters() -> None:
    with pytest.raises(InvalidInput, match="rp3beta needs"):
        create_model("rp3beta", {"top_k": 0}).fit(block_matrix())


def test_blend_of_one_model_ranks_like_that_model() -> None:
    matrix = block_matrix()
    alone = create_model("ease", {"lambda": 10.0}).fit(matrix)
    blend = create_model("blend", {"models": {"ease": {"lambda": 10.0}}, "weights": {"ease": 2.0}}).fit(matrix)
    users = np.arange(matrix.shape[0])
    np.testing.assert_allclose(blend.user_scores(users), 2.0 * znorm(alone.user_scores(users)), rtol=1e-4, atol=1e-4)


def test_znorm_rows() -> None:
    out = znorm(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]))
    np.testing.assert_allclose(out[0].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(out[0].std(), 1.0)
    np.testing.assert_array_equal(out[1], 0.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weights": {"als": 1.0}}, "must name exactly"),
        ({"models": {"blend": {}}, "weights": {"blend": 1.0}}, "must name exactly"),
        ({"models": {"svd": {}}, "weights": {"svd": 1.0}}, "unknown model"),
        ({"models": {"ease": {"lamda": 1}}, "weights": {"ease": 1.0}}, "unknown parameter"),
        ({"weighting": "bm25"}, "must be 'value'"),
        ({"models": [], "weights": {}}, "blend needs"),
    ],
)
def test_blend_rejects_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        create_model("blend", params)


def test_default_blend_with_all_its_components_recommends_saves_and_explains(tmp_path) -> None:  # noqa: ANN001
    from latent.recsys.base import csr_row
    from latent.recsys.registry import load_model
    from tests.recsys.blocks import ITEMS_PER_BLOCK, block_timestamps

    matrix = block_matrix()
    blend = create_model("blend").fit(matrix, block_timestamps(matrix))
    assert set(blend.params["weights"]) == {"als", "gfcf", "seqknn", "infae"}
    row = csr_row(np.array([0, 1, 2]), np.ones(3), blend.n_items)  # a cold user of block 0
    ids, _ = blend.recommend(blend.foldin_scores(row)[0], 3, exclude=np.array([0, 1, 2]))
    assert all(i < ITEMS_PER_BLOCK for i in ids)  # the rest of its own block
    blend.save(tmp_path / "b")
    loaded = load_model(tmp_path / "b")
    users = np.arange(blend.n_users)
    np.testing.assert_array_equal(blend.user_scores(users), loaded.user_scores(users))
    reasons = loaded.explain(row, int(ids[0]))
    assert reasons and {item for item, _ in reasons} <= {0, 1, 2}
