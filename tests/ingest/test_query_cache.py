"""The query-vector cache and the thread policy of the sentence-transformers embedder."""

from __future__ import annotations

import numpy as np
import torch

from ingest.embedder_base import QueryCache, SentenceTransformerEmbedder, ThreadPolicy


def test_cache_returns_identical_vectors_counts_and_stays_bounded() -> None:
    cache = QueryCache(max_entries=2)
    calls = []

    def embed(text: str):  # noqa: ANN202
        calls.append(text)
        return lambda: np.full(4, float(len(calls)), dtype=np.float32)

    first = cache.get("a", embed("a"))
    again = cache.get("a", embed("a"))
    np.testing.assert_array_equal(first, again)
    again[0] = -1.0  # a caller changing its copy changes nothing cached
    np.testing.assert_array_equal(cache.get("a", embed("a")), first)
    cache.get("b", embed("b"))
    cache.get("c", embed("c"))  # evicts "a", the least recently used
    assert len(cache) == 2 and (cache.hits, cache.misses) == (2, 3)
    cache.get("a", embed("a"))
    assert cache.misses == 4


def test_a_zero_sized_cache_keeps_nothing() -> None:
    cache = QueryCache(max_entries=0)
    cache.get("a", lambda: np.ones(2, np.float32))
    cache.get("a", lambda: np.ones(2, np.float32))
    assert len(cache) == 0 and cache.misses == 2


def test_thread_policy_by_batch_size() -> None:
    policy = ThreadPolicy(small_threads=1, batch_threads=0, small_batch=8)
    assert policy.threads_for(1) == 1 and policy.threads_for(8) == 1 and policy.threads_for(9) == 0


def test_real_model_query_is_cached_and_equals_a_fresh_encode(embedders) -> None:  # noqa: ANN001
    model = embedders.get("all-MiniLM-L6-v2")
    assert isinstance(model, SentenceTransformerEmbedder)
    text = "how do vaccines train the immune system (query cache test)"
    hits, misses = embedders.query_cache_counts()
    cached_before = model.embed_query(text)
    cached_after = model.embed_query(text)
    assert embedders.query_cache_counts() == (hits + 1, misses + 1)
    np.testing.assert_array_equal(cached_before, cached_after)
    np.testing.assert_allclose(model.embed_documents([text])[0], cached_before, atol=1e-6)


def test_queries_run_on_one_thread_and_batches_on_the_default(embedders) -> None:  # noqa: ANN001
    model = embedders.get("all-MiniLM-L6-v2")
    model.embed_documents([f"text number {i}" for i in range(20)])
    assert torch.get_num_threads() == model.default_threads
    model.embed_documents(["one short text"])
    assert torch.get_num_threads() == 1


def test_metrics_show_the_cache_counts(sqlite_engine) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(sqlite_engine.settings, engine=sqlite_engine)) as client:
        hits, misses = sqlite_engine.query_cache_counts()
        text = client.get("/metrics").text
    assert f"latentspace_query_cache_hits_total {float(hits)}" in text
    assert f"latentspace_query_cache_misses_total {float(misses)}" in text
