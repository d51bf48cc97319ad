"""The ingress keeps a query's BM25 term statistics (services/cluster/termstats.py), without Ray: a repeated
hybrid or lexical query skips the statistics round, and after a shard applies a write the kept statistics are
not used: the answer is the one fresh statistics give."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import Settings
from ingest.readers import SourceDocument
from services.cluster.fanout import LocalShardPool
from services.cluster.ingress import ClusterEngine
from services.cluster.shard import ShardServer
from services.search.types import SearchRequest
from tests.cluster.conftest import corpus
from tests.conftest import make_engine, reset_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
QUERY = "storm river glacier"


class CountingPool(LocalShardPool):
    """In-process shards that note which methods the ingress asked of them."""

    def __init__(self, servers: list[ShardServer]) -> None:
        super().__init__(servers)
        self.asked: list[str] = []

    def ask(self, method: str, args: list[tuple]) -> list:
        self.asked.append(method)
        return super().ask(method, args)

    def stats_rounds(self) -> int:
        return sum(method.startswith("term_stats") for method in self.asked)


@pytest.fixture
def cluster(pg_url: str, tmp_path, embedders):  # noqa: ANN001, ANN201
    reset_postgres(pg_url)
    settings = Settings(data_dir=tmp_path / "ingress", database_url=pg_url, _env_file=None)
    writer = make_engine(settings.model_copy(update={"data_dir": tmp_path / "writer"}), embedders)
    writer.create_collection("c", index_kind="exact")
    writer.ingest("c", [SourceDocument(i, t, None, m) for i, t, m in corpus(120, seed=5)])
    writer.close()
    settings.data_dir.mkdir(parents=True)
    pool = CountingPool([ShardServer(settings, i, 3) for i in range(3)])
    engine = ClusterEngine(settings, pool, embedders)
    yield engine, pool, settings, embedders
    engine.close()


def _scored(result) -> list[tuple[str, float]]:  # noqa: ANN001
    return [(hit.id, round(hit.score, 6)) for hit in result.hits]


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_a_repeated_query_skips_the_statistics_round_until_a_shard_applies_a_write(cluster, mode: str) -> None:  # noqa: ANN001
    engine, pool, settings, embedders = cluster
    request = SearchRequest(query=QUERY, k=5, mode=mode, group_by_document=False)
    first = engine.search("c", request)
    assert pool.stats_rounds() == 1
    again = engine.search("c", request)
    assert pool.stats_rounds() == 1  # the kept statistics, still current on every shard
    assert _scored(again) == _scored(first)

    # A write that changes the query terms' statistics: the ingress nudges its shards to apply it.
    new = [SourceDocument(f"n{i}", "storm storm river glacier glacier", None, {"n": 900 + i}) for i in range(6)]
    engine.ingest("c", new)
    after = engine.search("c", request)
    assert pool.stats_rounds() == 2  # the kept statistics were of an older seq: asked again
    fresh = ClusterEngine(settings.model_copy(update={"data_dir": settings.data_dir / "fresh"}), pool, embedders)
    (settings.data_dir / "fresh").mkdir()
    try:
        want = fresh.search("c", request)
    finally:
        fresh.close()
    assert _scored(after) == _scored(want)  # what an ingress with nothing kept answers
    assert _scored(after) != _scored(first)  # and the write did change the answer
    assert any(hit.id.startswith("n") for hit in after.hits)
    assert after.cluster["index_seq"] > first.cluster["index_seq"]


def test_only_the_statistics_of_every_shard_are_kept(cluster) -> None:  # noqa: ANN001
    engine, pool, _settings, _embedders = cluster
    request = SearchRequest(query=QUERY, k=5, mode="lexical", allow_partial=True)
    pool.down = {1}
    try:
        partial = engine.search("c", request)
        assert partial.cluster["partial"] is True
        engine.search("c", request)
        assert pool.stats_rounds() == 2  # statistics of two shards of three are not kept
    finally:
        pool.down = set()
    whole = engine.search("c", request)
    assert whole.cluster["partial"] is False and pool.stats_rounds() == 3
    engine.search("c", request)
    assert pool.stats_rounds() == 3
    np.testing.assert_array_less(0, [hit.score for hit in whole.hits])


def test_a_partial_answer_is_scored_with_the_answering_shards_statistics_even_when_all_were_kept(cluster) -> None:  # noqa: ANN001
    engine, pool, settings, embedders = cluster
    request = SearchRequest(query=QUERY, k=5, mode="lexical", allow_partial=True)
    engine.search("c", request)  # every shard answered: kept
    pool.down = {2}
    fresh = ClusterEngine(settings.model_copy(update={"data_dir": settings.data_dir / "fresh"}), pool, embedders)
    (settings.data_dir / "fresh").mkdir()
    try:
        got, want = engine.search("c", request), fresh.search("c", request)
    finally:
        pool.down = set()
        fresh.close()
    assert got.cluster["partial"] is True and _scored(got) == _scored(want)
