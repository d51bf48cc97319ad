"""Recall against numpy brute force on seeded clustered data, plain and filtered, across save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.arrays import exact_filter_limit
from index.registry import INDEX_KINDS, load_index
from tests.index.vector_data import brute_force, clustered, make, recall

N, Q, K = 10_000, 200, 10


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vectors = clustered(N, dim=48, n_clusters=60, seed=1)
    ids = np.random.default_rng(2).permutation(N * 5)[:N].astype(np.int64)
    rng = np.random.default_rng(3)
    queries = vectors[rng.choice(N, Q, replace=False)] + 0.1 * rng.standard_normal((Q, 48)).astype(np.float32)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    return ids, vectors, queries


@pytest.fixture(scope="module", params=sorted(INDEX_KINDS))
def built(request: pytest.FixtureRequest, data, tmp_path_factory: pytest.TempPathFactory):
    ids, vectors, _ = data
    index = make(request.param, dim=48)
    for start in range(0, N, 2_500):  # several batches: exercises growth / IVF training mid-stream
        index.add(ids[start : start + 2_500], vectors[start : start + 2_500])
    path = tmp_path_factory.mktemp(request.param) / "idx"
    index.save(path)
    return index, load_index(path)


def test_recall_before_and_after_save_load(built, data) -> None:
    ids, vectors, queries = data
    truth = brute_force(queries, vectors, ids, K)
    index, loaded = built
    found, _ = index.search(queries, K)
    assert recall(found, truth) >= 0.95
    found_loaded, _ = loaded.search(queries, K)
    assert recall(found_loaded, truth) >= 0.95
    np.testing.assert_array_equal(found_loaded, found)


def test_single_query_path_matches_batch(built, data) -> None:
    _, _, queries = data
    index, _ = built
    batch, batch_scores = index.search(queries[:20], K)
    for row in range(20):
        one, one_scores = index.search(queries[row], K)
        np.testing.assert_array_equal(one[0], batch[row])
        np.testing.assert_allclose(one_scores[0], batch_scores[row], atol=1e-5)


def test_small_filter_is_exact(built, data) -> None:
    ids, vectors, queries = data
    index, _ = built
    pick = np.random.default_rng(4).choice(N, 150, replace=False)
    allowed = ids[pick]
    found, scores = index.search(queries, K, allowed_ids=np.concatenate([allowed, [-5, 10**12]]))
    truth = brute_force(queries, vectors[pick], allowed, K)
    np.testing.assert_array_equal(found, truth)
    np.testing.assert_allclose(scores[:, 0], np.max(queries @ vectors[pick].T, axis=1), atol=1e-5)


def test_large_filter_keeps_recall(built, data) -> None:
    ids, vectors, queries = data
    index, loaded = built
    pick = np.flatnonzero(np.random.default_rng(5).random(N) < 0.3)
    assert len(pick) > exact_filter_limit(K, N, index.EXACT_FILTER_FRACTION), "must exercise the native filtered path"
    truth = brute_force(queries, vectors[pick], ids[pick], K)
    for idx in (index, loaded):
        found, _ = idx.search(queries, K, allowed_ids=ids[pick])
        assert np.isin(found, ids[pick]).all()
        assert recall(found, truth) >= 0.9


def test_recall_after_heavy_removal(data, tmp_path: Path) -> None:
    ids, vectors, queries = data
    n = 4_000
    for kind in sorted(INDEX_KINDS):
        index = make(kind, dim=48, **({"nlist": 32} if kind == "faiss_ivf" else {}))
        index.add(ids[:n], vectors[:n])
        index.remove(ids[: n // 2])  # beyond the compaction threshold for tombstoning backends
        index.add(ids[:200], vectors[:200])  # and re-add some removed ones
        keep = np.r_[0:200, n // 2 : n]
        truth = brute_force(queries, vectors[keep], ids[keep], K)
        index.save(tmp_path / kind)
        for idx in (index, load_index(tmp_path / kind)):
            assert len(idx) == len(keep)
            found, _ = idx.search(queries, K)
            assert recall(found, truth) >= 0.95, kind
