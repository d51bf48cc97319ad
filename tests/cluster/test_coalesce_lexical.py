"""Hybrid and lexical searches share fan-outs too (issue 13), without Ray: concurrent searches' BM25 rounds
(``term_stats``, ``lexical_candidates``) ride one request per shard, and each search keeps its own answer and its
own 503 / allow_partial decision."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.errors import CollectionNotFound, ShardUnavailable
from core.settings import Settings
from ingest.readers import SourceDocument
from services.cluster.fanout import LocalShardPool
from services.cluster.ingress import ClusterEngine
from services.cluster.shard import ShardServer
from services.search.types import SearchRequest
from tests.cluster.conftest import WORDS, corpus
from tests.conftest import make_engine, reset_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.cluster]
ROUNDS = ("search", "term_stats_many", "lexical_candidates_many")  # what a hybrid search asks the shards, in order
QUERIES = [" ".join(WORDS[i : i + 2]) for i in range(0, 16, 2)]  # eight different two-word queries


@pytest.fixture(scope="module")
def setup(pg_url: str, tmp_path_factory: pytest.TempPathFactory, embedders):  # noqa: ANN001, ANN201
    reset_postgres(pg_url)
    root = tmp_path_factory.mktemp("lexical-rides")
    settings = Settings(data_dir=root / "ingress", database_url=pg_url, _env_file=None)
    writer = make_engine(settings.model_copy(update={"data_dir": root / "writer"}), embedders)
    writer.create_collection("c", index_kind="exact")
    writer.ingest("c", [SourceDocument(i, t, None, m) for i, t, m in corpus(150, seed=7)])
    settings.data_dir.mkdir(parents=True)
    servers = [ShardServer(settings, i, 2) for i in range(2)]
    lone = ClusterEngine(settings, LocalShardPool(servers), embedders)  # answers searches one at a time
    yield settings, servers, lone, embedders
    lone.close()
    writer.close()


class GatedPool:
    """The real in-process shards; the first call of each gated method is held until ``riders[method]``
    other calls have queued behind it in the ingress's CoalescingPool. Records (method, calls carried),
    in the order the calls arrive (which threads interleave: compare them sorted)."""

    def __init__(self, pool: LocalShardPool, riders: dict[str, int]) -> None:
        self.pool, self.shards, self.riders = pool, pool.shards, riders
        self.coalescing = None  # the ingress's CoalescingPool, set once the engine is built
        self.asked: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def ask(self, method: str, args: list[tuple]) -> list:
        with self._lock:
            first = all(m != method for m, _n in self.asked)
            self.asked.append((method, _carried(method, args[0])))
        if first and method in self.riders:
            deadline = time.monotonic() + 10  # without riding, nobody queues: go on, and the counts tell
            while self._queued(method) < self.riders[method] and time.monotonic() < deadline:
                time.sleep(0.01)
        return self.pool.ask(method, args)

    def _queued(self, method: str) -> int:
        """Calls queued behind ``method``'s fan-out; not another round's (the dense round's riders may still be
        queued when the first search reaches its BM25 rounds)."""
        kind = method.removesuffix("_many")  # a queue's key starts with the method its riders called
        queues = self.coalescing._queued  # noqa: SLF001 - the test watches the queue
        return sum(len(riders) for key, riders in list(queues.items()) if key[0] == kind)

    def tell(self, method: str, args: list[tuple]) -> None:
        self.pool.tell(method, args)


def _carried(method: str, first: tuple) -> int:
    if method == "search":
        return len(np.atleast_2d(first[1]))
    return len(first[1]) if method.endswith("_many") else 1


def gated_engine(setup, riders: dict[str, int], name: str) -> tuple[ClusterEngine, GatedPool]:  # noqa: ANN001
    settings, servers, _lone, embedders = setup
    gated = GatedPool(LocalShardPool(servers), riders)
    settings = settings.model_copy(update={"data_dir": settings.data_dir.parent / name})
    settings.data_dir.mkdir(parents=True)
    engine = ClusterEngine(settings, gated, embedders)
    gated.coalescing = engine.fanout.pool
    return engine, gated


def concurrently(engine: ClusterEngine, requests: list[SearchRequest]) -> list:
    def one(request: SearchRequest):  # noqa: ANN202
        try:
            return engine.search("c", request)
        except ShardUnavailable as exc:
            return exc

    with ThreadPoolExecutor(len(requests)) as threads:
        return [f.result(timeout=60) for f in [threads.submit(one, r) for r in requests]]


def same_hits(got, expected) -> None:  # noqa: ANN001
    assert [h.id for h in got.hits] == [h.id for h in expected.hits]
    np.testing.assert_allclose([h.score for h in got.hits], [h.score for h in expected.hits], atol=1e-6)
    assert got.cluster["shards"] == expected.cluster["shards"] and got.cluster["partial"] == expected.cluster["partial"]


def test_concurrent_hybrid_searches_ride_few_fan_outs_each_with_its_own_answer(setup) -> None:  # noqa: ANN001
    _settings, _servers, lone, _embedders = setup
    requests = [SearchRequest(query=q, k=5, mode="hybrid") for q in QUERIES]
    expected = [lone.search("c", r) for r in requests]
    assert all(e.hits for e in expected)
    engine, gated = gated_engine(setup, {m: len(requests) - 1 for m in ROUNDS}, "riding")
    try:
        results = concurrently(engine, requests)
    finally:
        engine.close()
    for got, want in zip(results, expected, strict=True):
        same_hits(got, want)
    # per round: the first search alone, the seven queued behind it in one request; not 8 x 3 requests
    assert sorted(gated.asked) == sorted((m, n) for m in ROUNDS for n in (1, len(requests) - 1))


def test_a_down_shard_fails_every_rider_and_partial_riders_get_the_other_shards_answer(setup) -> None:  # noqa: ANN001
    _settings, servers, lone, _embedders = setup
    partial = [i % 2 == 0 for i in range(len(QUERIES))]
    pairs = zip(QUERIES, partial, strict=True)
    requests = [SearchRequest(query=q, k=5, mode="hybrid", allow_partial=p) for q, p in pairs]
    riders = sum(partial) - 1  # the partial searches go on to the BM25 rounds; the others stop at the 503
    engine, gated = gated_engine(setup, {"search": len(requests) - 1, **dict.fromkeys(ROUNDS[1:], riders)}, "down")
    gated.pool.down = {1}
    lone.fanout.pool.pool.down = {1}
    try:
        expected = [lone.search("c", r) for r in requests if r.allow_partial]
        results = concurrently(engine, requests)
    finally:
        lone.fanout.pool.pool.down = set()
        engine.close()
    for result in [r for r, p in zip(results, partial, strict=True) if not p]:
        assert isinstance(result, ShardUnavailable) and result.status_code == 503
    for got, want in zip([r for r, p in zip(results, partial, strict=True) if p], expected, strict=True):
        assert got.cluster["partial"] is True and got.cluster["shards"] == {"answered": 1, "total": 2}
        same_hits(got, want)
    # the dense round's failure was its whole batch's; the partial searches' BM25 rounds rode together too
    rounds = [("search", 1), ("search", len(requests) - 1)] + [(m, n) for m in ROUNDS[1:] for n in (1, riders)]
    assert sorted(gated.asked) == sorted(rounds)


def test_a_shard_answers_several_bm25_rounds_like_each_alone(setup) -> None:  # noqa: ANN001
    _settings, servers, lone, _embedders = setup
    cid = lone.context.collection("c").id
    for server in servers:
        stats, seq = server.term_stats_many(cid, QUERIES)
        assert stats == [server.term_stats(cid, q)[0] for q in QUERIES] and seq == server.seq
        vector = np.ones(lone.context.collection("c").embedder_dim, dtype=np.float32)
        calls = [(q, part, 5, None, np.array([1, 2, 3]), vector) for q, part in zip(QUERIES, stats, strict=True)]
        answered, seq = server.lexical_candidates_many(cid, calls)
        for together, call in zip(answered, calls, strict=True):
            alone = server.lexical_candidates(cid, *call)
            assert len(together) == 4 and alone[-1] == seq
            for got, want in zip(together, alone[:-1], strict=True):
                np.testing.assert_array_equal(got, want)
        with pytest.raises(CollectionNotFound):
            server.term_stats_many(10_000_000, QUERIES)
