"""The ``latentspace`` command line: thin commands that parse, call the Engine, and render.

This module builds the Typer app and registers every sub-command; the command modules import only
cli/common.py, never this module or each other, so registration order here is the help order.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from cli.cluster import RAY_HELP, cluster_app, cluster_engine
from cli.common import BACKEND_HELP, CHUNKING_HELP, console, fail, json_option, migrate, open_engine, run
from cli.evaluate import eval_app
from cli.evaluate_images import eval_images
from cli.ingest import ingest
from cli.latent import register as register_latent
from cli.lexical import index_lexical
from cli.ops import keys_app, snapshot_app
from cli.recsys import register as register_recsys
from core.settings import get_settings

app = typer.Typer(help="latentspace: embedding search and latent-space models.", no_args_is_help=True)
collections_app = typer.Typer(help="Create, list and delete collections.", no_args_is_help=True)
index_app = typer.Typer(help="Vector index maintenance.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(collections_app, name="collections")
app.add_typer(index_app, name="index")
app.add_typer(db_app, name="db")
app.add_typer(eval_app, name="eval")
index_app.command("lexical")(index_lexical)
app.add_typer(keys_app, name="keys")
app.add_typer(snapshot_app, name="snapshot")
app.add_typer(cluster_app, name="cluster")
app.command()(ingest)
register_recsys(app, eval_app)  # also `eval recsys`


@app.callback()
def check_settings() -> None:
    """latentspace: embedding search and latent-space models."""
    run(get_settings)  # a LATENTSPACE_* value that does not validate: one line naming it and exit 1, not a traceback

register_latent(app, eval_app)  # also `eval topics`
eval_app.command("images")(eval_images)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to the configured database."""
    settings = get_settings()
    migrate(settings)
    console.print(f"database at head: {settings.resolved_database_url()}")


@collections_app.command("create")
def collections_create(
    name: str,
    model: Annotated[str | None, typer.Option(help="sentence-transformers name or local path")] = None,
    index: Annotated[str | None, typer.Option(help="exact | faiss_hnsw | faiss_ivf | hnswlib")] = None,
    params: Annotated[str | None, typer.Option(help="index parameters as JSON, e.g. '{\"M\": 32}'")] = None,
    chunking: Annotated[str | None, typer.Option(help=CHUNKING_HELP)] = None,
    backend: Annotated[str | None, typer.Option(help=BACKEND_HELP)] = None,
    no_model: Annotated[bool, typer.Option("--no-model", help="documents bring their own vectors")] = False,
    dimension: Annotated[int | None, typer.Option(help="vector length (required with --no-model)")] = None,
) -> None:
    """Create a collection."""
    engine = open_engine()
    index_params = json_option(params, "--params")
    info = run(
        lambda: engine.create_collection(
            name, model=model, index_kind=index, index_params=index_params, chunking=chunking, backend=backend,
            dimension=dimension, vectors_only=no_model,
        )
    )
    console.print(
        f"created {info.name}: model={info.model or '(none)'} dim={info.dimension} index={info.index_kind} "
        f"backend={info.options.get('backend', 'torch')}"
    )


@collections_app.command("list")
def collections_list() -> None:
    """List collections with their counts."""
    engine = open_engine()
    table = Table("name", "documents", "chunks", "model", "dim", "index")
    for info in engine.list_collections():
        table.add_row(
            info.name, str(info.documents), str(info.chunks), info.model or "-", str(info.dimension), info.index_kind
        )
    console.print(table)


@collections_app.command("delete")
def collections_delete(
    name: str, yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False
) -> None:
    """Delete a collection with all its documents and index files."""
    engine = open_engine()
    if not yes and not typer.confirm(f"delete collection {name!r} and all its documents?"):
        raise typer.Exit(1)
    run(lambda: engine.delete_collection(name))
    console.print(f"deleted {name}")


@index_app.command("rebuild")
def index_rebuild(collection: Annotated[str, typer.Option("--collection", "-c")]) -> None:
    """Rebuild a collection's vector index from the vectors stored in the database."""
    engine = open_engine()
    count = run(lambda: engine.rebuild_index(collection))
    console.print(f"rebuilt index of {collection}: {count} vectors")


@app.command()
def search(
    query: str,
    collection: Annotated[str, typer.Option("--collection", "-c")],
    k: Annotated[int, typer.Option("-k", "--k")] = 10,
    filter_: Annotated[str | None, typer.Option("--filter", help="metadata filter as JSON")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    mode: Annotated[str | None, typer.Option(help="dense | lexical | hybrid (default: hybrid)")] = None,
    fusion: Annotated[str | None, typer.Option(help="hybrid fusion: rrf | convex")] = None,
    weight: Annotated[float | None, typer.Option(help="convex fusion: dense share in [0, 1]")] = None,
    diversity: Annotated[float, typer.Option(help="MMR diversification in [0, 1]")] = 0.0,
    explain: Annotated[bool, typer.Option("--explain", help="per-signal ranks and scores (with --json)")] = False,
) -> None:
    """Search a collection by meaning, by keywords (BM25) or both."""
    from services.search.types import SearchRequest

    engine = open_engine()
    request = SearchRequest(
        query=query, k=k, filter=json_option(filter_, "--filter"), mode=mode, fusion=fusion, weight=weight,
        diversity=diversity, explain=explain,
    )
    result = run(lambda: engine.search(collection, request))
    if as_json:
        from dataclasses import asdict

        print(json.dumps({"hits": [asdict(h) for h in result.hits], "mode": result.mode}, indent=2))
        return
    table = Table("#", "score", "id", "text", show_lines=False)
    for rank, hit in enumerate(result.hits, 1):
        snippet = " ".join(hit.text.split())
        table.add_row(
            str(rank), f"{hit.score:.3f}", hit.id, snippet[:160] + ("…" if len(snippet) > 160 else "")
        )
    console.print(table)


def default_workers() -> int:
    """One worker per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    ray: Annotated[str | None, typer.Option("--ray", help=RAY_HELP)] = None,
    shards: Annotated[int, typer.Option(help="with --ray: search shards (a collection's chunks split by id)")] = 1,
    replicas: Annotated[int, typer.Option(help="with --ray: replicas of every shard (throughput)")] = 1,
    workers: Annotated[
        int | None, typer.Option(help="worker processes (default LATENTSPACE_WORKERS, else one per core)")
    ] = None,
) -> None:
    """Run the HTTP API (with --ray: searches fan out to shards on Ray Serve, docs/SCALING.md).

    Several workers are forked by gunicorn from this process after it has loaded every index, so they
    share those pages until one changes them (cli/workers.py, docs/SERVING.md). They share the data dir as
    separate processes do: one writer at a time (the write lock), and each sees the others' writes on its next
    request (the write generation empties its hit cache; a changed index manifest reloads its index).
    The model loads on a worker's first text query.
    """
    if ray is not None and workers not in (None, 1):
        raise fail("--workers runs processes on one machine; with --ray, --replicas adds throughput")
    cluster = cluster_engine(ray, shards, replicas)
    engine = cluster or open_engine()  # migrations run once, here, before any worker starts
    settings = engine.settings
    host, port = host or settings.host, port or settings.port
    count = 1 if cluster else workers or settings.workers or default_workers()
    if not 1 <= count <= 64:
        raise fail(f"--workers must be between 1 and 64, not {count}")
    console.print(f"latentspace API on http://{host}:{port}  (docs: http://{host}:{port}/docs), {count} worker(s)")
    if settings.auth == "off":
        console.print("[bold yellow]warning:[/] LATENTSPACE_AUTH=off: no API key is checked, admin routes included")
    from cli.workers import serve_in_process, serve_workers, shared_metrics_dir

    if count > 1:  # forked by gunicorn after this process loaded what the workers share (cli/workers.py)
        with shared_metrics_dir():  # before prometheus_client is imported: it picks its mode on import
            from api.app import create_app
            from api.request_log import log_config

            sys.exit(serve_workers(engine, (host, port, count), log_config(settings.log_format), create_app))
    import uvicorn

    from api.app import create_app
    from api.request_log import log_config

    # access_log=False: api/edge.py writes the one line per request; uvicorn's log_level would
    # otherwise turn its own access logger back on and every request was logged twice.
    api, logging_config = create_app(settings, engine=engine), log_config(settings.log_format)
    sys.exit(serve_in_process(uvicorn.Config(
        api, host=host, port=port, log_config=logging_config, log_level="info", access_log=False,
        http="httptools",
    )))


def main() -> None:
    app(prog_name="latentspace")


if __name__ == "__main__":
    sys.exit(main())
