"""Recommendation commands: ``ingest-interactions``, ``train``, ``recommend`` and ``eval recsys``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from cli.common import console, err_console, fail, json_option, open_engine, run

Opt = typer.Option
EVAL_MODELS = ["popularity", "als", "bpr", "ease", "rp3beta", "gfcf", "seqknn", "infae", "blend"]


def ingest_interactions(
    file: Annotated[Path, typer.Argument(help="CSV, TSV, JSONL or whitespace (MovieLens u.data) file")],
    collection: Annotated[str, Opt("--collection", "-c", help="created with defaults if missing")],
    fmt: Annotated[str | None, Opt("--format", help="csv | tsv | jsonl | whitespace (default: by suffix)")] = None,
    user: Annotated[str, Opt(help="user column: name, or 0-based position without a header")] = "user",
    item: Annotated[str, Opt(help="item column")] = "item",
    value: Annotated[str | None, Opt(help="value column (rating/count/weight); default 1.0")] = None,
    timestamp: Annotated[str | None, Opt(help="timestamp column (unix seconds or ISO 8601)")] = None,
    header: Annotated[bool, Opt(help="CSV/TSV has a header row")] = True,
    aggregate: Annotated[str, Opt(help="duplicate (user, item): sum | max | last")] = "sum",
) -> None:
    """Ingest a user–item interaction log; bad rows are reported with line numbers and skipped."""
    from ingest.readers.interactions import Columns, detect_format, read_interactions

    if not file.is_file():
        raise fail(f"no such file: {file}")
    kind = run(lambda: detect_format(file, fmt))
    columns = (
        Columns.movielens()
        if kind == "whitespace" and user == "user"
        else Columns(user=user, item=item, value=value, timestamp=timestamp, header=header and kind != "whitespace")
    )
    engine = open_engine()
    run(lambda: engine.create_collection(collection, exist_ok=True))
    with Progress(console=err_console) as progress:
        task = progress.add_task("interactions", total=None)
        stream = read_interactions(file, columns, kind)
        report = run(
            lambda: engine.recommendations.ingest_interactions(
                collection, stream, aggregate, lambda n: progress.advance(task, n)
            )
        )
    for error in report.errors[:20]:
        err_console.print(f"skipped {error}", highlight=False)
    console.print(f"interactions: {report.added} added, {report.updated} merged, {report.failed} bad rows skipped")


def train(
    collection: Annotated[str, Opt("--collection", "-c")],
    model: Annotated[
        str, Opt(help="blend (best measured) | als | bpr | ease | popularity | rp3beta | gfcf | seqknn | infae")
    ] = "blend",
    params: Annotated[str | None, Opt(help="model parameters as JSON, e.g. '{\"lambda\": 500}'")] = None,
    test_fraction: Annotated[float, Opt(help="held-out share per user for the reported metrics")] = 0.25,
    seed: Annotated[int, Opt(help="split seed")] = 42,
    activate: Annotated[bool, Opt(help="serve the new version at once")] = True,
) -> None:
    """Train a recommender on a collection's interactions, evaluate it on a held-out split, store the version."""
    engine = open_engine()
    parsed = json_option(params, "--params")
    result = run(lambda: engine.recommendations.train(collection, model, parsed, test_fraction, seed, activate))
    metrics = result["metrics"]
    console.print(
        f"trained {result['version']} ({'active' if activate else 'inactive'}): "
        + " ".join(f"{key}={metrics[key]:.4f}" for key in ("precision@10", "recall@10", "ndcg@10", "map@10"))
        + f" train_seconds={metrics['train_seconds']}"
    )


def recommend(
    user: Annotated[str, typer.Argument(help="user id as ingested")],
    collection: Annotated[str, Opt("--collection", "-c")],
    k: Annotated[int, Opt("-k", "--k")] = 10,
    explain: Annotated[bool, Opt(help="show the past items behind each recommendation")] = False,
    filter_: Annotated[str | None, Opt("--filter", help="metadata filter as JSON")] = None,
    as_json: Annotated[bool, Opt("--json", help="print JSON")] = False,
) -> None:
    """Recommend items for a user from the collection's active model."""
    from dataclasses import asdict

    from services.recommendations.types import Query

    engine = open_engine()
    query = Query(k=k, filter=json_option(filter_, "--filter"), explain=explain)
    result = run(lambda: engine.recommendations.for_user(collection, user, query))
    if as_json:
        print(json.dumps(asdict(result), indent=2))
        return
    table = Table("#", "item", "score", "because of", title=f"source={result.source} model={result.version}")
    for rank, entry in enumerate(result.items, 1):
        because = ", ".join(r["item"] for r in entry.get("reasons", []))
        table.add_row(str(rank), entry["id"], f"{entry['score']:.4f}", because)
    console.print(table)


def eval_recsys(
    file: Annotated[Path, typer.Argument(help="MovieLens-format file: user item rating timestamp")],
    model: Annotated[list[str] | None, Opt("--model", help="repeatable; default: all")] = None,
    seed: Annotated[int, Opt(help="split seed")] = 42,
    as_json: Annotated[bool, Opt("--json", help="JSON report on stdout")] = False,
) -> None:
    """Per-user random 75/25 split, top-10 with training items excluded: P/R/NDCG/MAP@10 and coverage."""
    from eval.recsys import run_eval

    if not file.is_file():
        raise fail(f"no such file: {file}")
    report = run(lambda: run_eval(file, model or EVAL_MODELS, seed))
    if as_json:
        print(json.dumps(report, indent=2))
        return
    keys = ["precision@10", "recall@10", "ndcg@10", "map@10", "coverage", "train_seconds"]
    table = Table("model", *keys, title=f"{file.name}: {report[0]['protocol']}" if report else None)
    for row in report:
        table.add_row(row["model"], *(f"{row[key]:.4f}" for key in keys))
    console.print(table)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the top-level recommendation commands to the ``latentspace`` app, and ``eval recsys``."""
    app.command("ingest-interactions")(ingest_interactions)
    app.command()(train)
    app.command()(recommend)
    eval_app.command("recsys")(eval_recsys)
