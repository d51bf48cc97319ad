"""Shards in-process (no Ray): sharded answers equal unsharded ones, shards load, replay and fail as specified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import CollectionNotFound, Conflict, InvalidInput, ShardUnavailable
from core.settings import Settings
from index.sharding import shard_of, stable_hash
from ingest.readers import SourceDocument
from services.cluster.fanout import LocalShardPool
from services.cluster.ingress import ClusterEngine
from services.cluster.shard import ShardServer
from services.cluster.start import reshard
from services.search.types import SearchRequest
from tests.cluster.conftest import corpus
from tests.conftest import make_engine, reset_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
MODES = ("dense", "lexical", "hybrid")
QUERIES = ["comet star orbit", "immune virus cell gene", "bread oven dough yeast", "storm"]


def test_the_shard_hash_is_stable_and_spreads_ids() -> None:
    owners = shard_of(np.arange(1, 30_001), 3)
    assert np.bincount(owners, minlength=3).min() > 9_500  # ~10,000 each
    # fixed values: a chunk's shard must never change between versions, processes or machines
    assert stable_hash([0, 1]).tolist() == [0xE220A8397B1DCDAF, 10451216379200822465]  # splitmix64 reference
    assert shard_of([1, 2, 3, 42, 1_000_000_007], 3).tolist() == [2, 1, 0, 1, 2]


@pytest.fixture(scope="module")
def setup(pg_url: str, tmp_path_factory: pytest.TempPathFactory, embedders):  # noqa: ANN001, ANN201
    reset_postgres(pg_url)
    settings = Settings(data_dir=tmp_path_factory.mktemp("local") / "data", database_url=pg_url, _env_file=None)
    engine = make_engine(settings, embedders)
    engine.create_collection("c", index_kind="exact")
    engine.ingest("c", [SourceDocument(i, t, None, m) for i, t, m in corpus(240)])
    yield settings, engine
    engine.close()


def _cluster(settings: Settings, embedders, shards: int, record: bool = True) -> tuple:  # noqa: ANN001
    if record:
        reshard(settings, "c", shards)
    pool = LocalShardPool([ShardServer(settings, i, shards) for i in range(shards)])
    return ClusterEngine(settings, pool, embedders), pool


def _ranked(result) -> list[tuple[str, float]]:  # noqa: ANN001
    return [(h.id, h.score) for h in result.hits]


def _same(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> None:
    assert [i for i, _ in a] == [i for i, _ in b]
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-5)


def test_one_and_three_shards_answer_like_the_single_process_engine(setup, embedders) -> None:  # noqa: ANN001
    settings, engine = setup
    requests = [SearchRequest(query=q, k=10, mode=m, group_by_document=False) for m in MODES for q in QUERIES]
    expected = [_ranked(engine.search("c", request)) for request in requests]
    one, _ = _cluster(settings, embedders, 1)
    for request, answer in zip(requests, expected, strict=True):
        _same(_ranked(one.search("c", request)), answer)
    three, _ = _cluster(settings, embedders, 3)
    for request, answer in zip(requests, expected, strict=True):
        result = three.search("c", request)
        _same(_ranked(result), answer)
        assert result.cluster["shards"] == {"answered": 3, "total": 3} and result.cluster["partial"] is False
    # the recorded layout (3) is kept: a server with another shard count refuses the collection
    other, _ = _cluster(settings, embedders, 2, record=False)
    with pytest.raises(Conflict, match="split over 3 shards"):
        other.search("c", requests[0])
    filtered = SearchRequest(query="comet", k=5, filter={"n": {"$lt": 60}})
    _same(_ranked(three.search("c", filtered)), _ranked(engine.search("c", filtered)))


def test_a_shard_down_is_503_unless_partial_is_allowed(setup, embedders) -> None:  # noqa: ANN001
    settings, _engine = setup
    three, pool = _cluster(settings, embedders, 3)
    pool.down = {1}
    with pytest.raises(ShardUnavailable):
        three.search("c", SearchRequest(query="comet", k=5))
    result = three.search("c", SearchRequest(query="comet", k=5, allow_partial=True))
    assert result.cluster["partial"] is True and result.cluster["shards"] == {"answered": 2, "total": 3}
    assert len(result.hits) == 5


def test_saved_shards_replay_the_log_after_their_seq_and_follow_writes(setup, embedders) -> None:  # noqa: ANN001
    settings, engine = setup
    three, pool = _cluster(settings, embedders, 3)
    request = SearchRequest(query="zebra unicorn", k=3, mode="hybrid")
    three.search("c", request)  # every shard loaded (and saved with its follow seq)
    for server in pool.servers:
        server.save()
    before = three.search("c", SearchRequest(query="comet", k=3)).cluster["index_seq"]
    engine.ingest("c", [SourceDocument("z", "zebra unicorn zebra", None, {})])
    engine.delete_document("c", "d0")
    # shards started from the saved files: replay the entries after the saved seq
    restarted = LocalShardPool([ShardServer(settings, i, 3) for i in range(3)])
    fresh = ClusterEngine(settings, restarted, embedders)
    assert [h.id for h in fresh.search("c", request).hits][:1] == ["z"]
    assert all(s.vectors.resume_from == before for s in restarted.servers)  # loaded from files, then replayed
    assert all(h.id != "d0" for h in fresh.search("c", SearchRequest(query="glacier", k=240)).hits)
    # the running shards follow the log: one sync and the write is there, index_seq moved on
    for server in pool.servers:
        server.sync()
    result = three.search("c", request)
    assert [h.id for h in result.hits][:1] == ["z"] and result.cluster["index_seq"] > before


def test_deleted_saved_files_are_rebuilt_from_sql(setup, embedders) -> None:  # noqa: ANN001
    settings, engine = setup
    three, pool = _cluster(settings, embedders, 3)
    request = SearchRequest(query="immune virus", k=10, mode="hybrid")
    expected = _ranked(engine.search("c", request))
    _same(_ranked(three.search("c", request)), expected)
    for server in pool.servers:
        server.save()
    import shutil

    shutil.rmtree(pool.servers[2].root)
    rebuilt = ClusterEngine(settings, LocalShardPool([ShardServer(settings, i, 3) for i in range(3)]), embedders)
    _same(_ranked(rebuilt.search("c", request)), expected)
    assert (pool.servers[2].root / str(engine.context.collection("c").id) / "vector" / "manifest.json").exists()


def test_a_dropped_collection_leaves_the_shards(setup, embedders) -> None:  # noqa: ANN001
    settings, engine = setup
    engine.create_collection("gone")
    engine.ingest("gone", [SourceDocument("a", "comet tail", None, {})])
    gone_id = engine.context.collection("gone").id
    server = ShardServer(settings, 0, 1)
    server.collection(gone_id)
    engine.delete_collection("gone")
    server.sync()
    assert gone_id not in dict(server.vectors.loaded_items())
    assert not Path(server.root / str(gone_id)).exists()
    with pytest.raises(CollectionNotFound):
        server.collection(gone_id)


def test_cluster_mode_refuses_sqlite(tmp_path: Path, embedders) -> None:  # noqa: ANN001
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    with pytest.raises(InvalidInput, match="PostgreSQL"):
        ClusterEngine(settings, LocalShardPool([]), embedders)
