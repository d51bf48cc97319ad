"""``latentspace cluster ...`` and the ``--ray`` side of ``serve`` (issue 13): thin, over services/cluster/."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, fail, run
from core.settings import get_settings

if TYPE_CHECKING:
    from services.engine import Engine

cluster_app = typer.Typer(help="Scale-out on Ray: shard layouts (see docs/SCALING.md).", no_args_is_help=True)
RAY_HELP = "run on Ray: 'local' starts Ray in this process, 'auto' joins the running cluster, or an address"


def cluster_engine(address: str | None, shards: int, replicas: int) -> Engine | None:
    """The ingress Engine of ``serve --ray``: shards deployed on Ray Serve, PostgreSQL required.
    None without ``--ray`` (``--shards``/``--replicas`` alone are refused: they would silently do nothing)."""
    if address is None:
        if shards != 1 or replicas != 1:
            raise fail("--shards and --replicas need --ray (see docs/SCALING.md)")
        return None
    from services.cluster.start import open_cluster_engine

    settings = get_settings()
    console.print(f"deploying {shards} shard(s) x {replicas} replica(s) on Ray ({address}) ...")
    engine = run(lambda: open_cluster_engine(settings, address, shards, replicas))
    console.print(f"shards ready; the API fans every search out to all {shards}")
    return engine


@cluster_app.command("reshard")
def reshard(
    collection: Annotated[str, typer.Option("--collection", "-c")],
    shards: Annotated[int, typer.Option(help="the new number of shards")],
) -> None:
    """Split a collection over another number of shards (shards rebuild it from the database)."""
    from services.cluster.start import reshard as record

    previous = run(lambda: record(get_settings(), collection, shards))
    console.print(f"{collection}: {previous or 'no'} recorded shard(s) -> {shards}; serve with --shards {shards}")
