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
UserOpt = Annotated[str | None, Opt(help="user column: name, or 0-based position without a header (default: found)")]
ItemOpt = Annotated[str | None, Opt(help="item column (default: recognised from the header, or position 1)")]
ValueOpt = Annotated[str | None, Opt(help="value column (rating/count/weight; default: recognised, else 1.0)")]
TimestampOpt = Annotated[str | None, Opt(help="timestamp column, unix seconds or ISO 8601 (default: recognised)")]
HeaderOpt = Annotated[bool, Opt(help="CSV/TSV has a header row")]
FormatOpt = Annotated[str | None, Opt("--format", help="csv | tsv | jsonl | whitespace (default: by suffix)")]
EVAL_MODELS = ["popularity", "als", "bpr", "ease", "rp3beta", "gfcf", "seqknn", "infae", "blend"]


def ingest_interactions(
    file: Annotated[Path, typer.Argument(help="CSV, TSV, JSONL or whitespace (MovieLens u.data) file")],
    collection: Annotated[str, Opt("--collection", "-c", help="created with defaults if missing")],
    fmt: FormatOpt = None,
    user: UserOpt = None,
    item: ItemOpt = None,
    value: ValueOpt = None,
    timestamp: TimestampOpt = None,
    header: HeaderOpt = True,
    aggregate: Annotated[str, Opt(help="duplicate (user, item): sum | max | last")] = "sum",
) -> None:
    """Ingest a user–item interaction log; bad rows are reported with line numbers and skipped. Common
    headers (user_id/userId/user, item_id/movieId/item, rating/value, timestamp, ...) need no options."""
    from ingest.readers.interaction_columns import resolve_columns
    from ingest.readers.interactions import read_interactions

    if not file.is_file():
        raise fail(f"no such file: {file}")
    kind, columns = run(lambda: resolve_columns(file, fmt, user, item, value, timestamp, header))
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
    tune: Annotated[bool, Opt(help="choose hyperparameters on a validation split of the training part")] = True,
    budget: Annotated[float, Opt(help="tuning budget in seconds")] = 60.0,
) -> None:
    """Train a recommender on a collection's interactions: tune it on a validation split of the training part
    (--params are kept fixed), evaluate it on the held-out split, refit on everything, store the version."""
    from services.recommendations.training import Tuning

    engine = open_engine()
    parsed = json_option(params, "--params")
    tuning = Tuning(enabled=tune, budget=budget)
    result = run(lambda: engine.recommendations.train(collection, model, parsed, test_fraction, seed, activate, tuning))
    metrics = result["metrics"]
    for line in tuning_lines(result["requested"], metrics.get("tuning")):
        console.print(line, highlight=False)
    console.print(
        f"trained {result['version']} ({'active' if activate else 'inactive'}): "
        + " ".join(f"{key}={metrics[key]:.4f}" for key in ("precision@10", "recall@10", "ndcg@10", "map@10"))
        + f" train_seconds={metrics['train_seconds']}",
        highlight=False,
    )
    console.print(f"params: {json.dumps(result['params'])}", highlight=False, markup=False)


def tuning_lines(requested: str, record: dict | None) -> list[str]:
    """What the search did, in a few lines (nothing when the version was not tuned)."""
    if not record:
        return []
    if record.get("validation_ndcg@10") is None:
        return [record.get("note", "not tuned")]
    trials = sum(len(search["trials"]) for search in record["searches"])
    seeds = record["validation"]
    folds = f"search seed {seeds['search_seed']}, confirmation seed {seeds['confirm_seed']}"
    lines = [
        f"tuned {requested} on validation folds of the training part ({folds}): {trials} trial(s) "
        f"in {record['seconds']} s (budget {record['budget_seconds']:g} s), "
        f"validation ndcg@10={record['validation_ndcg@10']:.4f}"
    ]
    if record.get("reason"):
        lines.append(f"chose {record['chose']}: {record['reason']}")
    if record.get("candidates"):
        lines.append("validation: " + ", ".join(f"{name} {score:.4f}" for name, score in record["candidates"].items()))
    return lines


def model_versions(
    collection: Annotated[str, Opt("--collection", "-c")],
    as_json: Annotated[bool, Opt("--json", help="print JSON (with every tuning trial)")] = False,
) -> None:
    """List a collection's trained recommender versions: test and validation NDCG@10, the tuning, the params."""
    engine = open_engine()
    versions = run(lambda: engine.recommendations.versions(collection))
    if as_json:
        print(json.dumps(versions, indent=2))
        return
    columns = ("version", "active", "ndcg@10", "validation", "tuning", "params")
    table = Table(*columns, title=f"{collection}: model versions (oldest first)")
    for v in versions:
        tuning = v["metrics"].get("tuning")
        trials = sum(len(s["trials"]) for s in tuning["searches"]) if tuning else 0
        summary = f"{trials} trials, {tuning.get('seconds', 0)} s, chose {tuning['chose']}" if tuning else "fixed"
        validation = v["metrics"].get("validation_ndcg@10")
        table.add_row(
            v["version"],
            "yes" if v["active"] else "",
            f"{v['metrics'].get('ndcg@10', float('nan')):.4f}",
            "" if validation is None else f"{validation:.4f}",
            summary,
            json.dumps(v["params"]),
        )
    console.print(table)


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
    file: Annotated[Path, typer.Argument(help="interactions: CSV, TSV, JSONL or whitespace (MovieLens u.data)")],
    model: Annotated[list[str] | None, Opt("--model", help="repeatable; default: all")] = None,
    seed: Annotated[int, Opt(help="split seed")] = 42,
    as_json: Annotated[bool, Opt("--json", help="JSON report on stdout")] = False,
    fmt: FormatOpt = None,
    user: UserOpt = None,
    item: ItemOpt = None,
    value: ValueOpt = None,
    timestamp: TimestampOpt = None,
    header: HeaderOpt = True,
    tune: Annotated[bool, Opt(help="tune each model on a validation split of the training part (as train)")] = False,
    budget: Annotated[float, Opt(help="tuning budget per model in seconds (with --tune)")] = 60.0,
) -> None:
    """Per-user random 75/25 split, top-10 with training items excluded: P/R/NDCG/MAP@10 and coverage.
    Every row is a binary interaction (values are ignored); common headers need no column options."""
    from eval.recsys import run_eval
    from ingest.readers.interaction_columns import resolve_columns

    if not file.is_file():
        raise fail(f"no such file: {file}")
    kind, columns = run(lambda: resolve_columns(file, fmt, user, item, value, timestamp, header))
    tune_budget = budget if tune else None
    report = run(lambda: run_eval(file, model or EVAL_MODELS, seed, columns=columns, fmt=kind, tune_budget=tune_budget))
    if as_json:
        print(json.dumps(report, indent=2))
        return
    console.print(_eval_table(file, report, tune))


def _eval_table(file: Path, report: list[dict], tuned: bool) -> Table:
    keys = ["precision@10", "recall@10", "ndcg@10", "map@10", "coverage", "train_seconds"]
    extra = ["validation_ndcg@10", "chose"] if tuned else []
    table = Table("model", *keys, *extra, title=f"{file.name}: {report[0]['protocol']}" if report else None)
    for row in report:
        cells = [f"{row[key]:.4f}" for key in keys]
        if tuned:
            validation = row["validation_ndcg@10"]
            cells += ["—" if validation is None else f"{validation:.4f}", row["chose"]]
        table.add_row(row["model"], *cells)
    return table


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the top-level recommendation commands to the ``latentspace`` app, and ``eval recsys``."""
    app.command("ingest-interactions")(ingest_interactions)
    app.command()(train)
    app.command()(recommend)
    app.command("model-versions")(model_versions)
    eval_app.command("recsys")(eval_recsys)
