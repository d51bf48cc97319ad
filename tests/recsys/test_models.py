"""Contract suite over every recommender, on a block-structured matrix with certain answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import IndexCorrupt, InvalidInput
from latent.recsys.base import csr_row
from latent.recsys.matrix import split_per_user
from latent.recsys.registry import MODELS, create_model, load_model
from tests.recsys.blocks import block_items, block_matrix, block_of_user, block_timestamps

FAST = {
    "als": {"factors": 4, "iterations": 15, "regularization": 5.0, "alpha": 10.0, "weighting": "binary"},
    "bpr": {"factors": 4, "iterations": 100, "learning_rate": 0.05},
    "ease": {"lambda": 10.0},
    "ease_lr": {"lambda": 10.0, "rank": 6},  # rank 6 of 30 items: the randomized-SVD path
    "popularity": {},
    "rp3beta": {"top_k": 20},
    "gfcf": {"factors": 3, "ideal_weight": 0.5},
    "seqknn": {"window": 3, "decay": 2.0},
    "infae": {"regularization": 1.0},
}
FAST["blend"] = {
    "models": {"als": FAST["als"], "rp3beta": FAST["rp3beta"], "seqknn": FAST["seqknn"]},
    "weights": {"als": 0.6, "rp3beta": 0.4, "seqknn": 0.2},
}
PERSONAL = ["als", "bpr", "ease", "ease_lr", "rp3beta", "gfcf", "seqknn", "infae", "blend"]


@pytest.fixture(scope="module")
def matrix():  # noqa: ANN201
    return block_matrix()


@pytest.fixture(scope="module")
def fitted(matrix):  # noqa: ANN001, ANN201
    """Every model, trained with timestamps (models that ignore them must accept them)."""
    times = block_timestamps(matrix)
    return {name: create_model(name, FAST[name]).fit(matrix, times) for name in MODELS}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_recommend_excludes_seen(fitted, matrix, name: str) -> None:  # noqa: ANN001
    model = fitted[name]
    for user in (0, 45, 89):
        seen = matrix[user].indices
        items, scores = model.recommend(model.user_scores(np.array([user]))[0], 4, exclude=seen)
        assert len(items) == 4 and not set(items) & set(seen)
        assert np.all(np.diff(scores) <= 0)
        if name in PERSONAL:
            assert set(items) == block_items(block_of_user(user)) - set(seen)


@pytest.mark.parametrize("name", PERSONAL)
def test_similar_items_stay_in_block(fitted, name: str) -> None:  # noqa: ANN001
    items, _ = fitted[name].similar_items(12, 5)
    assert 12 not in items and set(items) <= block_items(1)


@pytest.mark.parametrize("name", PERSONAL)
def test_fold_in_and_explain(fitted, name: str) -> None:  # noqa: ANN001
    model = fitted[name]
    row = csr_row(np.array([20, 21, 22]), np.ones(3), model.n_items)
    items, _ = model.recommend(model.foldin_scores(row)[0], 5, exclude=row.indices)
    assert set(items) <= block_items(2)
    reasons = model.explain(row, int(items[0]))
    assert reasons and {item for item, _ in reasons} <= {20, 21, 22}


@pytest.mark.parametrize("name", PERSONAL)
def test_negative_examples_push_items_down(fitted, name: str) -> None:  # noqa: ANN001
    model = fitted[name]
    positive = csr_row(np.array([0, 1]), np.ones(2), model.n_items)
    mixed = csr_row(np.array([0, 1, 2]), np.array([1.0, 1.0, -1.0]), model.n_items)
    base, pushed = model.foldin_scores(positive)[0], model.foldin_scores(mixed)[0]
    same_block = list(range(3, 10))  # item 2's block-mates lose score when item 2 is disliked
    assert pushed[same_block].mean() < base[same_block].mean()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_save_load_round_trip(fitted, name: str, tmp_path: Path) -> None:  # noqa: ANN001
    model = fitted[name]
    model.labels = {"items": np.arange(model.n_items, dtype=np.int64)}
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    users = np.arange(model.n_users)
    np.testing.assert_array_equal(model.user_scores(users), loaded.user_scores(users))
    row = csr_row(np.array([3, 4]), np.ones(2), model.n_items)
    np.testing.assert_allclose(model.foldin_scores(row), loaded.foldin_scores(row), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(loaded.labels["items"], model.labels["items"])
    assert not list(tmp_path.glob("m/*.pkl"))


def test_damaged_save_is_reported(fitted, tmp_path: Path) -> None:  # noqa: ANN001
    fitted["ease"].save(tmp_path / "m")
    (tmp_path / "m" / "weights.npy").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt):
        load_model(tmp_path / "m")


def test_bad_model_and_params_are_rejected(matrix) -> None:  # noqa: ANN001
    with pytest.raises(InvalidInput, match="unknown model"):
        create_model("svd")
    with pytest.raises(InvalidInput, match="unknown parameter"):
        create_model("ease", {"lamda": 3})
    with pytest.raises(InvalidInput, match="limited to"):
        create_model("ease", {"max_items": 5}).fit(matrix)


def test_split_is_per_user_and_deterministic(matrix) -> None:  # noqa: ANN001
    first, second = split_per_user(matrix, 0.25, 1), split_per_user(matrix, 0.25, 1)
    assert (first.test != second.test).nnz == 0
    assert first.train.nnz + first.test.nnz == matrix.nnz
    assert np.all(np.diff(first.test.indptr) == 2)  # round(0.25 * 6) per user
    assert first.train.multiply(first.test).nnz == 0
