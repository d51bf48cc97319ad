"""``latentspace eval ...``: measure retrieval quality through the same Engine the API uses.

This module defines :data:`eval_app` with the ``beir`` and ``ann`` commands only. The other evaluations
(``recsys``, ``topics``, ``images``) live with their feature's commands and are added to ``eval_app`` by
cli/main.py, so no command module imports another (and none imports cli/main.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import console, err_console, fail, open_engine, run

if TYPE_CHECKING:  # imported lazily at run time, so `latentspace --help` stays fast
    from eval.beir import BeirDataset
    from services.engine import Engine
    from services.search.types import SearchRequest

eval_app = typer.Typer(help="Evaluate retrieval quality (BEIR, ANN recall, ...).", no_args_is_help=True)

MODE_HELP = "dense | lexical | hybrid (repeatable; default: all three)"


@eval_app.command("beir")
def eval_beir(
    directory: Annotated[Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")],
    mode: Annotated[list[str] | None, typer.Option("--mode", help=MODE_HELP)] = None,
    k: Annotated[int, typer.Option("--k", "-k", help="results per query (recall@100 needs 100)")] = 100,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="named collection to (re)use; default: temporary")
    ] = None,
    split: Annotated[str, typer.Option(help="qrels split")] = "test",
    fusion: Annotated[str | None, typer.Option(help="hybrid fusion: rrf | convex")] = None,
    weight: Annotated[float | None, typer.Option(help="convex fusion: dense share in [0, 1]")] = None,
    rrf_k: Annotated[float | None, typer.Option(help="RRF constant")] = None,
    backend: Annotated[
        str | None, typer.Option(help="embedding backend of a new collection: torch | onnx | onnx-int8")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="report path stem (writes .json and .md)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report on stdout")] = False,
) -> None:
    """Ingest a BEIR dataset through the normal ingest path and report nDCG, recall, MRR, MAP and latency."""
    from eval.beir import load_beir
    from services.search.types import SearchRequest

    modes = mode or ["dense", "lexical", "hybrid"]
    bad = [m for m in modes if m not in ("dense", "lexical", "hybrid")]
    if bad:
        raise fail(f"unknown --mode {bad[0]!r}; use dense, lexical or hybrid")
    if not directory.is_dir():
        raise fail(f"no such directory: {directory}")
    dataset = run(lambda: load_beir(directory, split))
    engine = open_engine()
    name = collection or f"beir-tmp-{uuid.uuid4().hex[:8]}"
    requests = [SearchRequest(query="", k=k, mode=m, fusion=fusion, weight=weight, rrf_k=rrf_k) for m in modes]
    try:
        ingest, runs = _ingest_and_query(engine, name, dataset, requests, backend)
    finally:
        if collection is None:
            engine.delete_collection(name)
    report: dict[str, Any] = {
        "dataset": str(directory),
        "split": split,
        "queries": len(dataset.queries),
        "collection": collection or "(temporary)",
        "backend": ingest.pop("backend"),
        "k": k,
        "ingest": ingest,
        "runs": runs,
    }
    stem = out or engine.settings.data_dir / "eval" / f"beir-{directory.resolve().name}-{split}"
    _emit(report, stem, as_json)


def _ingest_and_query(
    engine: Engine, name: str, dataset: BeirDataset, requests: list[SearchRequest], backend: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ingest the corpus (unchanged documents are skipped), then run every query set once per mode."""
    from eval.beir import ingest_corpus, run_queries

    err_console.print(f"ingesting {dataset.corpus_path} into {name} (unchanged documents are skipped)")
    ingest = run(lambda: ingest_corpus(engine, name, dataset, backend))
    runs = []
    for request in requests:
        result = run(lambda request=request: run_queries(engine, name, dataset, request))
        runs.append({"mode": result.mode, "metrics": result.metrics, "latency_ms": result.latency_ms})
    return ingest, runs


def _emit(report: dict[str, Any], stem: Path, as_json: bool) -> None:
    """Write the .json/.md report; print it as JSON or as a table (paths on stderr)."""
    from eval.report import runs_table, write_report

    paths = write_report(report, stem)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    console.print(runs_table(report))
    err_console.print(f"report: {paths[0]} and {paths[1]}", highlight=False)


@eval_app.command("ann")
def eval_ann(
    collection: Annotated[str, typer.Option("--collection", "-c")],
    queries: Annotated[int, typer.Option(help="sampled stored vectors used as queries")] = 200,
    k: Annotated[int, typer.Option("--k", "-k")] = 10,
    fraction: Annotated[float, typer.Option(help="share of the collection the filter keeps")] = 0.01,
    seed: Annotated[int, typer.Option()] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Recall@k of the collection's configured ANN index against exact search, with and without a filter."""
    from eval.ann import ann_recall

    if queries < 1 or k < 1 or not 0 < fraction <= 1:
        raise fail("--queries and --k must be positive and --fraction in (0, 1]")
    engine = open_engine()
    report = run(lambda: ann_recall(engine, collection, queries, k, fraction, seed))
    if as_json:
        print(json.dumps(report, indent=2))
        return
    console.print(
        f"{report['collection']}: index={report['index_kind']} vectors={report['vectors']} "
        f"queries={report['queries']}\n"
        f"  recall@{k} unfiltered: {report[f'recall@{k}']:.4f}\n"
        f"  recall@{k} filtered ({report['filtered']['allowed']} allowed): "
        f"{report['filtered'][f'recall@{k}']:.4f}"
    )

