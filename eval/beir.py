"""BEIR-format datasets through the product's own path: ingest with Engine.ingest, query with Engine.search.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``)
and ``qrels/<split>.tsv`` (``query-id  corpus-id  score`` with a header line).
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import InvalidInput
from eval.metrics import DEFAULT_METRICS, evaluate, percentiles

if TYPE_CHECKING:
    from services.engine import Engine
    from services.search.types import SearchRequest


@dataclass
class BeirDataset:
    root: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    split: str

    @property
    def corpus_path(self) -> Path:
        return self.root / "corpus.jsonl"


def load_beir(root: Path, split: str = "test") -> BeirDataset:
    """Read queries and qrels of ``split``; only queries with qrels are kept. Raises InvalidInput."""
    for needed in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (root / needed).is_file():
            raise InvalidInput(f"{root} is not a BEIR folder: {needed} is missing")
    qrels = _read_qrels(root / "qrels" / f"{split}.tsv")
    queries: dict[str, str] = {}
    with (root / "queries.jsonl").open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"queries.jsonl line {number}: invalid JSON ({exc.msg})") from None
            if str(row.get("_id")) in qrels:
                queries[str(row["_id"])] = str(row.get("text", ""))
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise InvalidInput(f"qrels/{split}.tsv names queries absent from queries.jsonl: {', '.join(missing[:5])}")
    return BeirDataset(root, queries, qrels, split)


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), 1):
            if not row or (number == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                raise InvalidInput(f"{path.name} line {number}: expected query-id, corpus-id, integer score")
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    if not qrels:
        raise InvalidInput(f"{path} holds no judgements")
    return qrels


def ingest_corpus(
    engine: Engine, collection: str, dataset: BeirDataset, backend: str | None = None
) -> dict[str, Any]:
    """Ingest the corpus (title + text) through the normal path; unchanged documents are not re-embedded.

    ``backend`` applies to a new collection; an existing one must have been made with the same (or an
    interchangeable) backend. The report names the backend the collection embeds with.
    """
    from ingest.readers import TableOptions, read_path

    engine.create_collection(collection, exist_ok=True, backend=backend)
    table = TableOptions(text_fields=("title", "text"), id_field="_id")
    report = engine.ingest(collection, read_path(dataset.corpus_path, table))
    info = engine.collection_info(collection)
    return {**report.as_dict(), "backend": info.options.get("backend", "torch")}


@dataclass
class RunResult:
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    queries: int
    mode: str
    rankings: dict[str, list[str]] = field(default_factory=dict)


def run_queries(
    engine: Engine,
    collection: str,
    dataset: BeirDataset,
    request: SearchRequest,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
) -> RunResult:
    """Search every query with ``request`` as template (its ``query`` replaced) and score the rankings."""
    rankings: dict[str, list[str]] = {}
    latencies: list[float] = []
    mode = request.mode or "default"
    for query_id, text in dataset.queries.items():
        started = time.perf_counter()
        result = engine.search(collection, replace(request, query=text))
        latencies.append((time.perf_counter() - started) * 1000)
        rankings[query_id] = [hit.id for hit in result.hits]
        mode = result.mode
    scores = evaluate(rankings, dataset.qrels, metrics)
    latency = {name: round(value, 2) for name, value in percentiles(latencies).items()}
    return RunResult(scores, latency, len(dataset.queries), mode, rankings)
