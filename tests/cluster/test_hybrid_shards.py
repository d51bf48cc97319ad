"""Hybrid and lexical search over shards (issue 13), without Ray: the shards send back only what fusion reads
(their top ``depth``, the dense candidates' BM25 scores, their own candidates' dense scores), and the answers
stay exactly the single process's, with a fusion depth small enough that each shard's cut really drops chunks."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ShardUnavailable
from core.settings import Settings
from ingest.readers import SourceDocument
from services.cluster.fanout import LocalShardPool
from services.cluster.ingress import ClusterEngine
from services.cluster.shard import ShardServer
from services.search.types import SearchRequest
from store import changelog
from tests.cluster.conftest import WORDS, corpus
from tests.conftest import make_engine, reset_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
QUERIES = ["comet star orbit", "immune virus cell gene", "bread oven dough yeast", "storm", "glacier glacier river"]
K = 3  # depth = max(fusion_depth 2, 4 k) = 12 per signal, far fewer than the chunks matching a query term


def _long_documents() -> list[SourceDocument]:
    """Documents of several chunks each (MiniLM takes 256 tokens), so grouping by document has work to do."""
    rng = np.random.default_rng(3)
    return [SourceDocument(f"long{i}", " ".join(rng.choice(WORDS, 700)), None, {"n": 1000 + i}) for i in range(4)]


@pytest.fixture(scope="module")
def setup(pg_url: str, tmp_path_factory: pytest.TempPathFactory, embedders):  # noqa: ANN001, ANN201
    reset_postgres(pg_url)
    root = tmp_path_factory.mktemp("hybrid-shards")
    settings = Settings(data_dir=root / "single", database_url=pg_url, fusion_depth=2, _env_file=None)
    single = make_engine(settings, embedders)
    single.create_collection("c", index_kind="exact")
    docs = [SourceDocument(i, t, None, m) for i, t, m in corpus(300, seed=11)] + _long_documents()
    single.ingest("c", docs)
    clusters = {}
    collection_id = single.context.collection("c").id
    for shards in (1, 3):
        with single.sessions.begin() as session:  # no reset entry: the S=1 shards keep serving it
            changelog.set_shard_layout(session, collection_id, shards, reset=False)
        pool = RecordingPool([ShardServer(settings, i, shards) for i in range(shards)])
        cluster_settings = settings.model_copy(update={"data_dir": root / f"ingress{shards}"})
        cluster_settings.data_dir.mkdir(parents=True)
        clusters[shards] = ClusterEngine(cluster_settings, pool, embedders)
        clusters[shards].search("c", SearchRequest(query="comet", k=1))  # shards load before the next reshard
    yield single, clusters
    for engine in (single, *clusters.values()):
        engine.close()


class RecordingPool(LocalShardPool):
    """In-process shards that keep every answer to the lexical round (what the shards send back)."""

    def __init__(self, servers: list[ShardServer]) -> None:
        super().__init__(servers)
        self.lexical_answers: list[tuple] = []

    def ask(self, method: str, args: list[tuple]) -> list:
        results = super().ask(method, args)
        for result in results:
            if isinstance(result, BaseException) or not method.startswith("lexical_"):
                continue
            if method.endswith("_many"):
                self.lexical_answers.extend(result[0])  # the calls of searches that rode one request
            else:
                self.lexical_answers.append(result[:-1])
        return results


def _requests() -> list[SearchRequest]:
    requests = []
    for query in QUERIES:
        for mode in ("lexical", "hybrid"):
            requests.append(SearchRequest(query=query, k=K, mode=mode, group_by_document=False))
            requests.append(SearchRequest(query=query, k=K, mode=mode, group_by_document=True))
            requests.append(SearchRequest(query=query, k=K, mode=mode, filter={"n": {"$lt": 150}}))
        requests.append(SearchRequest(query=query, k=K, mode="hybrid", diversity=0.5, group_by_document=False))
        requests.append(SearchRequest(query=query, k=K, mode="hybrid", fusion="convex", explain=True))
    return requests


def _same(got, want) -> None:  # noqa: ANN001
    assert [h.id for h in got.hits] == [h.id for h in want.hits]
    np.testing.assert_allclose([h.score for h in got.hits], [h.score for h in want.hits], atol=1e-6, rtol=0)
    assert got.total_candidates == want.total_candidates  # the same union of candidates was fused


def _flat(explain: dict) -> list[tuple[str, float]]:
    """An explanation's (path, value) pairs, scores rounded to 1e-6 (float32 sums may differ in the last bit)."""
    pairs = [("fused", round(explain.get("fused", 0.0), 6))]
    for signal in ("dense", "lexical"):
        if signal in explain:
            rank, score = explain[signal]["rank"], round(explain[signal]["score"], 6)
            pairs += [(f"{signal}.rank", rank), (f"{signal}.score", score)]
    return pairs


@pytest.mark.parametrize("shards", [1, 3])
def test_hybrid_and_lexical_over_shards_equal_the_single_process(setup, shards: int) -> None:  # noqa: ANN001
    single, clusters = setup
    for request in _requests():
        want = single.search("c", request)
        assert want.hits, request
        got = clusters[shards].search("c", request)
        _same(got, want)
        assert got.cluster["shards"] == {"answered": shards, "total": shards}
        if request.explain:  # each signal's rank and score, as the single process has them
            assert [_flat(h.explain) for h in got.hits] == [_flat(h.explain) for h in want.hits]


def test_the_shards_send_their_top_depth_not_every_matching_chunk(setup) -> None:  # noqa: ANN001
    single, clusters = setup
    pool = clusters[3].fanout.pool.pool
    query = "comet star orbit immune bread"  # most chunks hold one of these words
    matching = len(single.context.lexical.get(single.context.collection("c")).search(query, 10_000)[0])
    pool.lexical_answers.clear()
    clusters[3].search("c", SearchRequest(query=query, k=K, mode="lexical", group_by_document=False))
    shipped = [len(answer[0]) for answer in pool.lexical_answers]
    assert len(shipped) == 3 and matching > 100
    assert all(n <= 4 * K for n in shipped)  # each shard: its top depth (12), nothing else asked for
    pool.lexical_answers.clear()
    clusters[3].search("c", SearchRequest(query=query, k=K, mode="hybrid", group_by_document=False))
    ids, _scores, dense_ids, dense_scores = pool.lexical_answers[0]
    assert len(ids) <= 2 * 4 * K  # its top depth and the dense candidates it holds that match
    assert len(dense_ids) == len(dense_scores) and set(dense_ids.tolist()) <= set(ids.tolist())


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_a_shard_down_is_503_unless_partial_is_allowed(setup, mode: str) -> None:  # noqa: ANN001
    _single, clusters = setup
    pool = clusters[3].fanout.pool.pool
    pool.down = {2}
    try:
        with pytest.raises(ShardUnavailable):
            clusters[3].search("c", SearchRequest(query="comet star", k=K, mode=mode))
        result = clusters[3].search("c", SearchRequest(query="comet star", k=K, mode=mode, allow_partial=True))
    finally:
        pool.down = set()
    assert result.cluster["partial"] is True and result.cluster["shards"] == {"answered": 2, "total": 3}
    assert len(result.hits) == K
