"""Ray Serve deployments of the shards, and the handles the ingress fans out with.

One Serve application per shard (``latentspace-shard-<i>-of-<S>``), each a single deployment with R
replicas of :class:`ShardReplica`: every replica holds the whole shard (a :class:`ShardServer`), follows
the change log on a background thread, and is restarted by Serve when it dies (its health check also
fails when the follower thread stopped). No Serve HTTP proxy runs: the ingress is latentspace's own
FastAPI app (api/app.py) calling the replicas through deployment handles.

This is the one module of the ingress that imports Ray; it is imported only for ``--ray``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from core.errors import LatentspaceError
from core.settings import Settings
from services.cluster.shard import ShardServer

# Ray Serve's per-request overhead, not the index, bounds a shard's throughput on small machines
# (docs/BENCHMARKS.md, "Cluster, quiet machine"). Defaults that Serve itself bundles as its "throughput
# optimized" mode, minus direct ingress (no Serve HTTP here), set before Serve is imported (its flags are
# read at import) and given to every replica; a value already in the environment wins:
SERVE_ENV = {
    "RAY_SERVE_USE_GRPC_BY_DEFAULT": "1",  # handle -> replica over gRPC rather than Ray actor calls
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",  # replicas: one event loop, not two threads
    "RAY_SERVE_LOG_TO_STDERR": "0",  # replicas: no stderr line per request (files only)
    "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "1",  # the ingress calls handles from worker threads
}
for _name, _value in SERVE_ENV.items():
    os.environ.setdefault(_name, _value)

try:  # after the flags above
    from ray import serve  # noqa: E402
    from ray.exceptions import RayTaskError  # noqa: E402
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("cluster mode needs Ray: pip install 'latentspace[cluster]'") from exc

log = logging.getLogger(__name__)
# One thread each for numpy, FAISS and hnswlib inside a replica: replicas share the machine's cores.
REPLICA_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
REPLICA_ENV |= {name: os.environ[name] for name in SERVE_ENV}
# Unfiltered searches that reach a replica together become one index query over a matrix of queries
# (docs/BENCHMARKS.md, "Cluster, quiet machine"): at most BATCH_SIZE requests, those queued while the
# previous batch ran (no wait for a batch to fill: a lone request is answered at once).
# MAX_ONGOING lets that many requests (and a few others) be in a replica at once.
BATCH_SIZE, BATCH_WAIT_S, MAX_ONGOING = 16, 0.0, 32


def app_name(shards: int) -> str:
    return f"latentspace-shards-{shards}"


class ShardDirectory:
    """The application's ingress deployment: it only holds the shards' handles, so that one ``serve.run``
    starts all S shard deployments at once (Serve applications have one ingress each)."""

    def __init__(self, *shards: Any) -> None:
        self.shards = shards

    def count(self) -> int:
        return len(self.shards)


class ShardReplica:
    """A Serve replica of one shard: a ShardServer plus the thread that keeps it following the log."""

    def __init__(self, settings: dict[str, Any], shard: int, shards: int) -> None:
        self.settings = Settings(**settings, _env_file=None)
        self.server = ShardServer(self.settings, shard, shards)
        self.server.preload()  # Serve routes no request here until this constructor returns
        self._stop = threading.Event()
        self._follower = threading.Thread(
            target=self.server.follow, args=(self._stop, self.settings.cluster_follow_interval), daemon=True
        )
        self._follower.start()

    def check_health(self) -> None:
        if not self._follower.is_alive():
            raise RuntimeError("the change-log follower stopped")

    async def search(self, collection_id: int, queries: Any, k: int, allowed: Any) -> Any:
        """A filtered search alone; unfiltered ones batched with those arriving within a millisecond."""
        if allowed is not None:
            return self.server.search(collection_id, queries, k, allowed)
        answer = await self._batched(collection_id, queries, k)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    @serve.batch(max_batch_size=BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_S)
    async def _batched(self, collection_ids: list[int], queries: list[Any], ks: list[int]) -> list[Any]:
        # Runs on the replica's event loop: the requests queued behind it form the next batch meanwhile.
        return self.server.search_many(list(zip(collection_ids, queries, ks, strict=True)))

    def size(self, *args: Any) -> Any:
        return self.server.size(*args)

    def term_stats(self, *args: Any) -> Any:
        return self.server.term_stats(*args)

    def lexical_candidates(self, *args: Any) -> Any:
        return self.server.lexical_candidates(*args)

    def term_stats_many(self, *args: Any) -> Any:
        return self.server.term_stats_many(*args)

    def lexical_candidates_many(self, *args: Any) -> Any:
        return self.server.lexical_candidates_many(*args)

    def rebuild(self, collection_id: int) -> Any:
        return self.server.rebuild(collection_id), self.server.seq

    def sync(self) -> int:
        return self.server.sync()

    def save(self) -> int:
        self.server.save()
        return self.server.seq

    def status(self) -> dict[str, Any]:
        """The shard's seq and sizes, this replica's pid and resident memory (MB, from /proc)."""
        rss = 0.0
        with open(f"/proc/{os.getpid()}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
        return {**self.server.status(), "pid": os.getpid(), "rss_mb": round(rss, 1)}


def deploy_shards(settings: Settings, shards: int, replicas: int, name: str | None = None) -> RayShardPool:
    """Run (or update) the S shard applications with R replicas each; a pool over their handles."""
    serve.start(proxy_location="Disabled")
    replica = serve.deployment(ShardReplica)
    payload = settings.model_dump(mode="json")
    bound = []
    for shard in range(shards):
        options = replica.options(
            name=f"shard-{shard}",
            num_replicas=replicas,
            ray_actor_options={"num_cpus": settings.cluster_replica_cpus, "runtime_env": {"env_vars": REPLICA_ENV}},
            health_check_period_s=2,
            health_check_timeout_s=30,
            max_ongoing_requests=MAX_ONGOING,
            logging_config={"enable_access_log": False},  # a log line per request costs more than the search
        )
        bound.append(options.bind(payload, shard, shards))
    directory = serve.deployment(ShardDirectory).options(name="directory", ray_actor_options={"num_cpus": 0})
    serve.run(directory.bind(*bound), name=name or app_name(shards), route_prefix=None)
    return RayShardPool(shards, settings.cluster_shard_timeout, name or app_name(shards))


class RayShardPool:
    """The ShardPool protocol (services/cluster/fanout.py) over Serve deployment handles."""

    def __init__(self, shards: int, timeout: float, app: str) -> None:
        self.shards, self.timeout, self.app = shards, timeout, app
        self.handles = [serve.get_deployment_handle(f"shard-{shard}", app) for shard in range(shards)]

    def ask(self, method: str, args: Sequence[tuple]) -> list[Any]:
        calls = zip(self.handles, args, strict=True)
        pending = [getattr(handle, method).remote(*arguments) for handle, arguments in calls]
        deadline = time.monotonic() + self.timeout
        results: list[Any] = []
        for response in pending:
            try:
                results.append(response.result(timeout_s=max(deadline - time.monotonic(), 0.01)))
            except RayTaskError as exc:
                cause = exc.cause if isinstance(exc.cause, LatentspaceError) else exc
                results.append(cause)
            except Exception as exc:  # timeout, replica died: the fan-out counts the shard as down
                response.cancel()
                results.append(exc)
        return results

    def tell(self, method: str, args: Sequence[tuple]) -> None:
        for handle, arguments in zip(self.handles, args, strict=True):
            getattr(handle, method).remote(*arguments)

    def status(self) -> list[Any]:
        return self.ask("status", [()] * self.shards)


def undeploy(shards: int, name: str | None = None) -> None:
    serve.delete(name or app_name(shards))
