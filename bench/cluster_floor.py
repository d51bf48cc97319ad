"""``bench.cluster --floor``: what bounds a sharded deployment's throughput on this machine.

Two more systems next to the single process and the Ray Serve shards, in the same run:

- "S=2 in-process": the same ingress (ClusterEngine, coalescing and all) over the same two shards
  (ShardServer, the real indexes), called in this process through LocalShardPool instead of Ray Serve.
  Its gap to the single process is what our own sharding code costs.
- the "floor" collection: the first FLOOR_VECTORS sentence vectors, so few that a shard's index search
  costs next to nothing. The Serve shards' QPS over it, against the single process's over all the
  sentences, bounds what any shard-side work could reach: whatever the shards did faster, a search still
  pays the ingress and Ray Serve's requests.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FLOOR_VECTORS = 200


def floor_workload(engine: Any, base: np.ndarray, queries: np.ndarray, index_params: dict) -> tuple:
    """Store the "floor" collection; (its queries, their exact top-10 positions in it)."""
    from ingest.readers import SourceDocument

    engine.create_collection("floor", index_kind="hnswlib", index_params=index_params)
    docs = [SourceDocument(str(i), ".", None, {}) for i in range(FLOOR_VECTORS)]
    engine.ingest("floor", docs, vectors={str(i): base[i] for i in range(FLOOR_VECTORS)})
    return queries, np.argsort(-(queries @ base[:FLOOR_VECTORS].T), axis=1)[:, :10]


def in_process_engine(settings: Any, shards: int, embedders: Any) -> Any:
    """A ClusterEngine whose shards are ShardServers in this process (own data dir: no files shared with Serve's)."""
    from services.cluster.fanout import LocalShardPool
    from services.cluster.ingress import ClusterEngine
    from services.cluster.shard import ShardServer

    own = settings.model_copy(update={"data_dir": settings.data_dir / "in-process"})
    own.data_dir.mkdir(parents=True, exist_ok=True)
    servers = [ShardServer(own, shard, shards) for shard in range(shards)]
    return ClusterEngine(own, LocalShardPool(servers), embedders)


def floor_summary(table: dict[str, Any], shards: int, replicas: int) -> dict[str, Any]:
    """QPS of each system against the single process's over all the sentences, per client count."""
    single = table["sentences"]["single"]
    systems = {
        f"S={shards} R={replicas}": table["sentences"].get(f"S={shards} R={replicas}"),
        f"S={shards} in-process": table["sentences"].get(f"S={shards} in-process"),
        f"S={shards} R={replicas} over the floor collection": table["floor"].get(f"S={shards} R={replicas}"),
        "single over the floor collection": table["floor"]["single"],
    }
    clients = [key for key in single if key != "recall@10"]
    return {
        name: {c: round(row[c]["qps"] / single[c]["qps"], 3) for c in clients}
        for name, row in systems.items()
        if row is not None
    }
