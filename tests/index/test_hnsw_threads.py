"""hnswlib's multi-query search runs on OMP_NUM_THREADS threads when that is set (a Ray shard replica sets
it to 1: hnswlib would otherwise start and join one thread per core on every batched query)."""

from __future__ import annotations

import numpy as np
import pytest

from index import hnsw
from index.hnsw import HnswlibIndex


@pytest.mark.parametrize(("value", "threads"), [("1", 1), ("3", 3), ("", -1), ("0", -1), ("many", -1)])
def test_search_threads_follow_omp_num_threads(monkeypatch: pytest.MonkeyPatch, value: str, threads: int) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert hnsw._search_threads() == threads  # noqa: SLF001 - the module's own reading of the environment


def test_a_one_thread_batched_search_answers_like_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = HnswlibIndex(16, {"ef_search": 64})
    index.add(np.arange(1, 501, dtype=np.int64), vectors)
    queries = vectors[:12] + 0.01
    default_ids, default_scores = index.search(queries, 5)
    monkeypatch.setattr(hnsw, "SEARCH_THREADS", 1)
    ids, scores = index.search(queries, 5)
    np.testing.assert_array_equal(ids, default_ids)
    np.testing.assert_allclose(scores, default_scores, atol=1e-6)
