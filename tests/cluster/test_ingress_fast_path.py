"""The cluster ingress's fast path, without Ray: the read cache on the change-log clock, coalesced fan-outs,
and a shard answering a batch of searches in one index query — each must keep the answers exact."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.settings import Settings
from ingest.readers import SourceDocument
from services.cluster.coalesce import CoalescingPool
from services.cluster.fanout import LocalShardPool, merge_top_k
from services.cluster.ingress import ClusterEngine
from services.cluster.shard import ShardServer
from services.search.types import SearchRequest
from store import changelog
from tests.cluster.conftest import corpus, unit_vectors
from tests.conftest import make_engine, reset_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.cluster]
FOLLOW, DIM, N = 0.2, 16, 300


@pytest.fixture(scope="module")
def setup(pg_url: str, tmp_path_factory: pytest.TempPathFactory, embedders):  # noqa: ANN001, ANN201
    reset_postgres(pg_url)
    root = tmp_path_factory.mktemp("fastpath")
    ingress_settings = Settings(
        data_dir=root / "ingress", database_url=pg_url, cluster_follow_interval=FOLLOW, _env_file=None
    )
    # the writer has a data dir of its own, like a process on another machine: its writes reach the
    # ingress only through the database and its change log
    writer = make_engine(ingress_settings.model_copy(update={"data_dir": root / "writer"}), embedders)
    writer.create_collection("c", index_kind="exact")
    writer.ingest("c", [SourceDocument(i, t, None, m) for i, t, m in corpus(120, seed=2)])
    writer.create_collection("v", dimension=DIM, vectors_only=True, index_kind="exact")
    vectors = unit_vectors(N, DIM, seed=4)
    docs = [SourceDocument(f"v{i}", f"vector {i}", None, {}) for i in range(N)]
    writer.ingest("v", docs, vectors={f"v{i}": vectors[i] for i in range(N)})
    ingress_settings.data_dir.mkdir(parents=True)
    servers = [ShardServer(ingress_settings, i, 2) for i in range(2)]
    ingress = ClusterEngine(ingress_settings, LocalShardPool(servers), embedders)
    yield writer, ingress, servers, vectors
    ingress.close()
    writer.close()


def test_another_process_s_writes_reach_the_cached_ingress_within_the_follow_interval(setup) -> None:  # noqa: ANN001
    writer, ingress, servers, _vectors = setup
    request = SearchRequest(query="comet star", k=5, mode="dense", group_by_document=False)
    top = ingress.search("c", request).hits[0]
    assert len(ingress.hits) > 0  # the rows are cached, as in the single process
    # a metadata-only update elsewhere: no chunk changes, yet the log records it and the cache lets go of it
    with writer.sessions() as session:
        before = changelog.last_seq(session)
    writer.ingest("c", [SourceDocument(top.id, top.text, None, {"n": -1, "edited": True})])
    with writer.sessions() as session:
        assert changelog.last_seq(session) == before + 1
    written = time.monotonic()
    while ingress.search("c", request).hits[0].metadata.get("edited") is not True:
        assert time.monotonic() - written < FOLLOW * 10, "the edit was not shown within 10 follow intervals"
        time.sleep(FOLLOW / 4)
    # a new document elsewhere: once the shards follow the log, its row is hydrated (not a stale miss)
    writer.ingest("c", [SourceDocument("zebra", "zebra unicorn zebra", None, {"new": 1})])
    for server in servers:
        server.sync()
    written = time.monotonic()
    lexical = SearchRequest(query="zebra unicorn", k=1, mode="lexical")
    while not [h for h in ingress.search("c", lexical).hits if h.id == "zebra"]:
        assert time.monotonic() - written < FOLLOW * 10, "the new document was not found within 10 intervals"
        time.sleep(FOLLOW / 4)
    assert ingress.search("c", lexical).hits[0].metadata == {"new": 1}


def test_the_log_clock_distrusts_the_cache_while_the_log_cannot_be_read(setup) -> None:  # noqa: ANN001
    _writer, ingress, _servers, _vectors = setup
    assert ingress.clock.read() % 2 == 0
    ingress.clock.seq = None  # what a failed poll leaves behind
    assert ingress.clock.read() % 2 == 1  # odd: nothing is served from or kept in the cache
    assert ingress.clock.poll() is not None and ingress.clock.read() % 2 == 0


class GatedPool:
    """The real in-process shards, with the first search held until ``riders`` more have queued behind it."""

    def __init__(self, pool: LocalShardPool, riders: int) -> None:
        self.pool, self.shards = pool, pool.shards
        self.gate, self.riders = threading.Event(), riders
        self.searches: list[int] = []  # query rows of each search that reached the shards

    def ask(self, method: str, args: list[tuple]) -> list:
        if method == "search":
            self.searches.append(len(np.atleast_2d(args[0][1])))
            if len(self.searches) == 1:
                self.gate.wait(timeout=10)
        return self.pool.ask(method, args)


def test_concurrent_searches_share_fan_outs_and_each_gets_its_own_answer(setup) -> None:  # noqa: ANN001
    _writer, ingress, servers, vectors = setup
    collection_id = ingress.context.collection("v").id
    queries = unit_vectors(12, DIM, seed=8)
    index = ingress.context.vectors.get(ingress.context.collection("v"))
    expected = [index.search(q[None, :], 7) for q in queries]  # one by one, through the plain fan-out
    gated = GatedPool(LocalShardPool(servers), riders=len(queries) - 1)
    pool = CoalescingPool(gated, inflight=1)

    def one(query: np.ndarray) -> list:
        return pool.ask("search", [(collection_id, query[None, :], 7, None)] * 2)

    with ThreadPoolExecutor(len(queries)) as threads:
        futures = [threads.submit(one, queries[0])]
        while not gated.searches:
            time.sleep(0.01)
        futures += [threads.submit(one, q) for q in queries[1:]]
        while sum(len(v) for v in pool._queued.values()) < len(queries) - 1:  # noqa: SLF001 - the test watches the queue
            time.sleep(0.01)
        gated.gate.set()
        answers = [f.result(timeout=30) for f in futures]
    assert gated.searches == [1, len(queries) - 1]  # the first alone, the eleven queued behind it together
    for answer, (ids, scores) in zip(answers, expected, strict=True):
        got_ids, got_scores = merge_top_k([(a[0], a[1]) for a in answer], 7)
        np.testing.assert_array_equal(got_ids, ids)
        np.testing.assert_allclose(got_scores, scores, atol=1e-5)


def test_a_down_shard_fails_every_rider_of_its_batch(setup) -> None:  # noqa: ANN001
    _writer, ingress, servers, _vectors = setup
    local = LocalShardPool(servers)
    local.down = {1}
    cid = ingress.context.collection("v").id
    answer = CoalescingPool(local).ask("search", [(cid, unit_vectors(1, DIM, seed=11), 5, None)] * 2)
    assert isinstance(answer[1], ConnectionError) and answer[0][0].shape == (1, 5)


def test_a_shard_answers_a_batch_of_searches_like_each_alone(setup) -> None:  # noqa: ANN001
    _writer, ingress, servers, _vectors = setup
    vector_id, text_id = ingress.context.collection("v").id, ingress.context.collection("c").id
    text_queries = ingress.embedder_for(ingress.context.collection("c")).embed_documents(["comet", "bread oven"])
    calls = [
        (vector_id, unit_vectors(3, DIM, seed=1), 5),
        (text_id, text_queries, 4),
        (vector_id, unit_vectors(1, DIM, seed=2), 5),
        (vector_id, unit_vectors(2, DIM, seed=3), 9),
        (10_000_000, unit_vectors(1, DIM, seed=2), 5),  # no such collection: that call alone fails
    ]
    for server in servers:
        answers = server.search_many(calls)
        for (collection_id, queries, k), answer in zip(calls[:-1], answers[:-1], strict=True):
            ids, scores, seq = server.search(collection_id, queries, k, None)
            np.testing.assert_array_equal(answer[0], ids)
            np.testing.assert_allclose(answer[1], scores, atol=1e-6)
            assert answer[2] == seq
        assert isinstance(answers[-1], Exception)


def _two_callers_then(pool: CoalescingPool, gated: GatedPool, search) -> None:  # noqa: ANN001
    """Drive ``pool`` to a fan-out that carried two callers (the first held until they queued), just now."""
    with ThreadPoolExecutor(3) as threads:
        first = threads.submit(search, 0)
        while not gated.searches:
            time.sleep(0.01)
        riders = [threads.submit(search, n) for n in (1, 2)]
        while sum(len(v) for v in pool._queued.values()) < 2:  # noqa: SLF001 - the test watches the queue
            time.sleep(0.01)
        gated.gate.set()
        for future in (first, *riders):
            future.result(timeout=30)
    assert gated.searches == [1, 2]


@pytest.mark.parametrize("window_ms", [0.0, 2000.0])
def test_with_a_window_a_leader_waits_for_riders_while_searches_are_concurrent(setup, window_ms) -> None:  # noqa: ANN001
    _writer, ingress, servers, _vectors = setup
    collection_id = ingress.context.collection("v").id
    queries = unit_vectors(5, DIM, seed=12)
    gated = GatedPool(LocalShardPool(servers), riders=2)
    pool = CoalescingPool(gated, inflight=1, window_ms=window_ms)

    def search(n: int) -> list:
        return pool.ask("search", [(collection_id, queries[n][None, :], 5, None)] * 2)

    _two_callers_then(pool, gated, search)
    with ThreadPoolExecutor(2) as threads:
        leader = threads.submit(search, 3)
        time.sleep(0.2)  # the leader has sent by now, unless it waits for riders
        rider = threads.submit(search, 4)
        answers = [leader.result(timeout=30), rider.result(timeout=30)]
    # with the window the late search rode the leader's fan-out; without it each went alone
    assert gated.searches[2:] == ([2] if window_ms else [1, 1])
    index = ingress.context.vectors.get(ingress.context.collection("v"))
    for n, answer in zip((3, 4), answers, strict=True):
        expected_ids, _scores = index.search(queries[n][None, :], 5)
        got_ids, _got = merge_top_k([(a[0], a[1]) for a in answer], 5)
        np.testing.assert_array_equal(got_ids, expected_ids)


def test_with_a_window_a_lone_client_never_waits(setup) -> None:  # noqa: ANN001
    _writer, ingress, servers, _vectors = setup
    collection_id = ingress.context.collection("v").id
    local = LocalShardPool(servers)
    pool = CoalescingPool(local, inflight=1, window_ms=60_000.0)  # a wait would outlast every timeout below
    query = unit_vectors(1, DIM, seed=13)
    with ThreadPoolExecutor(1) as threads:
        for _ in range(3):  # one search after another: each fan-out carries one caller
            threads.submit(pool.ask, "search", [(collection_id, query, 5, None)] * 2).result(timeout=10)
