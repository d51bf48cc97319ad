"""Starting cluster mode: checks first (PostgreSQL, Ray installed, sane sizes), then Ray, the shards, the Engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import InvalidInput
from core.settings import Settings
from services.cluster.ingress import ClusterEngine, require_postgres
from services.context import ServiceContext
from store import changelog
from store import repositories as repo
from store.migrate import upgrade_data_dir
from store.session import create_db_engine, create_session_factory

RAY_EXTRA = "cluster mode needs Ray: pip install 'latentspace[cluster]' (ray[data,serve]==2.60.0)"


def check_sizes(shards: int, replicas: int) -> None:
    if not 1 <= shards <= 256:
        raise InvalidInput(f"--shards must be between 1 and 256, not {shards}")
    if not 1 <= replicas <= 64:
        raise InvalidInput(f"--replicas must be between 1 and 64, not {replicas}")


def ray_deploy():  # noqa: ANN201 - the services.cluster.deploy module, imported only now
    try:
        from services.cluster import deploy
    except ImportError:
        raise InvalidInput(RAY_EXTRA) from None
    return deploy


def open_cluster_engine(settings: Settings, address: str, shards: int, replicas: int) -> ClusterEngine:
    """Join (or start) Ray, deploy S shard deployments of R replicas, and build the ingress Engine."""
    require_postgres(settings, "latentspace serve --ray")
    check_sizes(shards, replicas)
    deploy = ray_deploy()
    upgrade_data_dir(settings)
    from services.cluster.raylink import connect

    connect(address)
    pool = deploy.deploy_shards(settings, shards, replicas)
    return ClusterEngine(settings, pool)


def reshard(settings: Settings, name: str, shards: int) -> int:
    """Record a new shard count for collection ``name``; the previous one. Running shards of the old count
    drop it (a reset entry); a server started with ``--shards`` equal to the new count rebuilds it from SQL."""
    require_postgres(settings, "latentspace cluster reshard")
    check_sizes(shards, 1)
    upgrade_data_dir(settings)
    db = create_db_engine(settings.resolved_database_url())
    try:
        with create_session_factory(db).begin() as session:
            collection = repo.get_collection(session, name)
            previous = changelog.shard_layout(session, collection.id)
            changelog.set_shard_layout(session, collection.id, shards)
            return previous or 0
    finally:
        db.dispose()


def check_ray_ingest(settings: Settings, address: str | None, workers: int | None) -> None:
    """Refuse what ``ingest --ray`` cannot do before anything is read."""
    if address is None:
        if workers is not None:
            raise InvalidInput("--workers needs --ray (see docs/SCALING.md)")
        return
    if workers is not None and not 1 <= workers <= 256:
        raise InvalidInput(f"--workers must be between 1 and 256, not {workers}")
    if (workers or 1) > 1:
        require_postgres(settings, f"ingest --ray with --workers {workers}")
    try:
        from services.cluster import ray_ingest  # noqa: F401
    except ImportError:
        raise InvalidInput(RAY_EXTRA) from None


def ingest_function(local: Callable[..., Any], ctx: ServiceContext, address: str | None, workers: int | None):  # noqa: ANN201
    """``local`` (Engine.ingest) without ``--ray``; with it, the same ingest embedding on ``workers`` Ray actors
    (services/cluster/ray_ingest.py), Ray joined on the first call."""
    if address is None:
        return local

    def on_ray(name: str, stream: Any, on_progress: Any = None) -> Any:
        from services.cluster.ray_ingest import ingest_on_ray
        from services.cluster.raylink import connect

        connect(address)
        return ingest_on_ray(ctx, name, stream, workers or 1, on_progress)

    return on_ray
