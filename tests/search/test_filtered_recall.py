"""Filtered recall@10 >= 0.95 at 0.1%, 1%, 10% and 50% selectivity through Engine.search (payload index, then exact
or hnswlib's own filter by the allowed set's size), against exact search over the matching vectors. Recall only:
speed is bench/filtered.py's business."""

from __future__ import annotations

import numpy as np
import pytest

from services.search.types import SearchRequest
from tests.search.payload_support import add_documents, payload_engine

N, DIM, K = 6000, 8, 10  # the hash embedder's dimension (documents bring their vectors)
SELECTIVITIES = (0.001, 0.01, 0.1, 0.5)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(40, DIM))
    vectors = (centres[rng.integers(0, 40, N)] + 0.6 * rng.normal(size=(N, DIM))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    bucket = rng.integers(0, 1000, N)
    engine = payload_engine(tmp_path_factory.mktemp("recall") / "data", ingest_batch_docs=3000)
    engine.create_collection("r", index_kind="hnswlib", index_params={"ef_construction": 100, "ef_search": 32})
    add_documents(engine, "r", [{"bucket": int(b)} for b in bucket], vectors)
    yield engine, vectors, bucket
    engine.close()


@pytest.mark.parametrize("selectivity", SELECTIVITIES)
def test_filtered_recall(seeded, selectivity: float) -> None:
    engine, vectors, bucket = seeded
    cut = max(1, round(selectivity * 1000))
    rows = np.flatnonzero(bucket < cut)
    queries = np.random.default_rng(int(selectivity * 1e4)).normal(size=(30, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = rows[np.argsort(-(queries @ vectors[rows].T), axis=1)[:, :K]]
    found = []
    for query in queries:
        result = engine.search("r", SearchRequest(vector=query, k=K, filter={"bucket": {"$lt": cut}}))
        found.append([int(hit.id[1:]) for hit in result.hits])  # external ids are "d<row>"
    assert all(bucket[f] < cut for hits in found for f in hits)
    recall = np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.95, f"recall@10 {recall:.3f} at {selectivity:.1%}"
