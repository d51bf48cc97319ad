"""Sharded search on a real local Ray cluster (issue 13 must-show list): one Ray, one Serve app (S=3, R=1).

The ingress is today's FastAPI app over a ClusterEngine; the reference is the single-process Engine on the
same PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from core.settings import Settings  # noqa: E402
from ingest.readers import SourceDocument  # noqa: E402
from services.cluster import deploy  # noqa: E402
from services.cluster.ingress import ClusterEngine  # noqa: E402
from services.search.types import SearchRequest  # noqa: E402
from tests.cluster.conftest import corpus, unit_vectors  # noqa: E402
from tests.conftest import make_engine, reset_postgres  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.slow]
SHARDS, FOLLOW = 3, 0.3
ANN_N, DIM = 1000, 384


@pytest.fixture(scope="module")
def cluster(pg_url: str, tmp_path_factory: pytest.TempPathFactory, embedders):  # noqa: ANN001, ANN201
    reset_postgres(pg_url)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("ray") / "data",
        database_url=pg_url,
        cluster_follow_interval=FOLLOW,
        cluster_shard_timeout=3.0,
        cluster_replica_cpus=0.25,
        max_request_bytes=64 * 1024,
        _env_file=None,
    )
    engine = make_engine(settings, embedders)
    engine.create_collection("docs", index_kind="exact")
    engine.ingest("docs", [SourceDocument(i, t, None, m) for i, t, m in corpus(150, seed=1)])
    engine.create_collection("ann", index_kind="hnswlib", index_params={"M": 8, "ef_construction": 40, "ef_search": 20})
    vectors = unit_vectors(ANN_N, DIM, seed=3)
    engine.ingest(
        "ann",
        [SourceDocument(f"v{i}", f"vector {i}", None, {}) for i in range(ANN_N)],
        vectors={f"v{i}": vectors[i] for i in range(ANN_N)},
    )
    ray.init(num_cpus=2, object_store_memory=80 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    pool = deploy.deploy_shards(settings, SHARDS, 1)
    sharded = ClusterEngine(settings, pool, embedders)
    yield settings, engine, sharded, pool, vectors
    deploy.undeploy(SHARDS)
    ray.shutdown()
    engine.close()


def _ranked(result) -> list[tuple[str, float]]:  # noqa: ANN001
    return [(h.id, h.score) for h in result.hits]


def _same(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> None:
    assert [i for i, _ in a] == [i for i, _ in b]
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-5)


def test_exact_and_hybrid_over_three_shards_equal_the_single_process(cluster) -> None:  # noqa: ANN001
    _settings, engine, sharded, _pool, _vectors = cluster
    for mode in ("dense", "hybrid"):
        for query in ("comet star orbit", "immune virus cell gene", "bread oven dough"):
            request = SearchRequest(query=query, k=10, mode=mode, group_by_document=False)
            result = sharded.search("docs", request)
            _same(_ranked(result), _ranked(engine.search("docs", request)))
            assert result.cluster["shards"] == {"answered": SHARDS, "total": SHARDS}


def test_hnsw_recall_over_three_shards_is_at_least_the_single_index(cluster) -> None:  # noqa: ANN001
    _settings, engine, sharded, _pool, vectors = cluster
    queries = unit_vectors(40, DIM, seed=9)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]

    def recall(search) -> float:  # noqa: ANN001
        found = 0
        for query, expected in zip(queries, truth, strict=True):
            hits = search("ann", SearchRequest(vector=query.tolist(), k=10, mode="dense")).hits
            found += len({int(h.id[1:]) for h in hits} & set(expected.tolist()))
        return found / truth.size

    single, three = recall(engine.search), recall(sharded.search)
    assert three >= single - 0.005, (single, three)


def test_a_write_is_found_within_the_follow_interval_and_index_seq_advances(cluster) -> None:  # noqa: ANN001
    _settings, engine, sharded, _pool, _vectors = cluster
    request = SearchRequest(query="zebra unicorn", k=1, mode="lexical")
    before = sharded.search("docs", request).cluster["index_seq"]
    engine.ingest("docs", [SourceDocument("zebra", "zebra unicorn zebra", None, {})])  # another writer
    written, found = time.monotonic(), None
    while time.monotonic() - written < FOLLOW * 10:
        result = sharded.search("docs", request)
        # index_seq is the lowest seq of the shards that answered: it moves on once all of them applied it
        if result.hits and result.hits[0].id == "zebra" and result.cluster["index_seq"] > before:
            found = time.monotonic() - written
            break
        time.sleep(0.05)
    assert found is not None, "the write was not searchable on every shard within 10 follow intervals"


def test_bad_input_keeps_its_answers_through_the_ray_ingress(cluster) -> None:  # noqa: ANN001
    settings, _engine, sharded, _pool, _vectors = cluster
    with TestClient(create_app(settings, engine=sharded)) as client:
        assert client.post("/v1/collections/nope/search", json={"query": "x"}).status_code == 404
        assert client.post("/v1/collections", json={"name": "docs"}).status_code == 409
        assert client.post("/v1/collections/docs/search", json={"query": " "}).status_code == 422
        assert client.post("/v1/collections/docs/search", json={"vector": [0.1, 0.2]}).status_code == 422
        big = {"documents": [{"id": "big", "text": "x" * 100_000}]}
        assert client.post("/v1/collections/docs/documents", json=big).status_code == 413
        body = client.post("/v1/collections/docs/search", json={"query": "comet", "k": 3}).json()
        assert body["shards"] == {"answered": SHARDS, "total": SHARDS} and body["partial"] is False
        assert isinstance(body["index_seq"], int) and len(body["hits"]) == 3


def _stored(engine, name: str) -> dict[str, list[tuple[str, np.ndarray]]]:  # noqa: ANN001
    """Each document's chunks (text, vector) as stored."""
    from sqlalchemy import select

    from store.models import Chunk, Document

    with engine.sessions() as session:
        cid = engine.context.collection(name).id
        rows = session.execute(
            select(Document.external_id, Chunk.ordinal, Chunk.text, Chunk.embedding)
            .join(Chunk, Chunk.document_id == Document.id)
            .where(Document.collection_id == cid)
            .order_by(Document.external_id, Chunk.ordinal)
        ).all()
    stored: dict[str, list[tuple[str, np.ndarray]]] = {}
    for external_id, _ordinal, text, blob in rows:
        stored.setdefault(external_id, []).append((text, np.frombuffer(blob, dtype=np.float32)))
    return stored


def test_ray_ingest_with_two_workers_stores_what_local_ingest_stores(cluster) -> None:  # noqa: ANN001
    from core.errors import UnreadableFile
    from services.cluster.ray_ingest import ingest_on_ray

    _settings, engine, _sharded, _pool, _vectors = cluster
    long_text = " ".join(f"Sentence {i} about comets, glaciers and the immune system." for i in range(60))
    items = [SourceDocument(i, t, None, m) for i, t, m in corpus(60, seed=5)]
    items += [SourceDocument("long", long_text, None, {}), UnreadableFile("broken.pdf: not a PDF")]
    items += [SourceDocument("d3", "a later version of d3 in the same run", None, {})]  # a repeated id
    for name in ("local", "onray"):  # torch: onnx-int8 vectors depend on the batch size, which the session's
        engine.create_collection(name, backend="torch")  # shared test model sets apart from the settings
    local = engine.ingest("local", items)
    progress: list[int] = []
    remote = ingest_on_ray(engine.context, "onray", items, workers=2, on_progress=progress.append, window_docs=64)
    assert (remote.added, remote.updated, remote.failed) == (local.added, local.updated, local.failed)
    assert remote.chunks_embedded == local.chunks_embedded and sum(progress) == len(items)
    expected, got = _stored(engine, "local"), _stored(engine, "onray")
    assert sorted(got) == sorted(expected) and len(expected["long"]) > 1
    for external_id, chunks in expected.items():
        assert [t for t, _ in got[external_id]] == [t for t, _ in chunks]
        np.testing.assert_allclose(
            np.vstack([v for _, v in got[external_id]]), np.vstack([v for _, v in chunks]), atol=1e-5
        )


def test_a_killed_replica_without_its_files_gives_503_or_partial_then_the_same_answers(cluster) -> None:  # noqa: ANN001
    settings, _engine, sharded, pool, _vectors = cluster
    request = SearchRequest(query="immune virus cell", k=10, mode="hybrid")
    before = _ranked(sharded.search("docs", request))
    victim = pool.status()[1]
    shutil.rmtree(settings.data_dir / "shards" / str(SHARDS) / "1")  # the restart must rebuild from SQL
    with TestClient(create_app(settings, engine=sharded)) as client:  # started before the kill: no delay after it
        assert client.post("/v1/collections/docs/search", json={"query": "immune virus cell", "k": 10}).is_success
        # A quiet machine restarts the replica within seconds: wait at most 1 s per shard during the outage,
        # so the requests below see it down instead of waiting until the new replica answers.
        pool.timeout = 1.0
        try:
            os.kill(victim["pid"], signal.SIGKILL)
            down = client.post("/v1/collections/docs/search", json={"query": "immune virus cell", "k": 10})
            assert down.status_code == 503 and down.json()["error"]["code"] == "shard_unavailable"
            body = {"query": "immune virus cell", "k": 10, "mode": "dense", "allow_partial": True}
            partial = client.post("/v1/collections/docs/search", json=body).json()
            assert partial["partial"] is True and partial["shards"] == {"answered": SHARDS - 1, "total": SHARDS}
        finally:
            pool.timeout = settings.cluster_shard_timeout
    deadline = time.monotonic() + 90
    while True:
        try:
            after = sharded.search("docs", request)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    _same(_ranked(after), before)
    assert pool.status()[1]["pid"] != victim["pid"]
    assert (settings.data_dir / "shards" / str(SHARDS) / "1").is_dir()  # rebuilt from SQL and saved
