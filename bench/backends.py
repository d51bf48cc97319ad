"""Embedding backends side by side: ingest docs/s and text-query latency for torch, onnx and onnx-int8.

Each backend gets its own collection in one temporary data dir (SQLite), filled by the real pipeline
(``Engine.ingest``: read, chunk, embed, write rows and the index) with the same documents; then the same
distinct queries (so the query cache never answers) are timed through ``Engine.search`` in dense mode.
Backends take turns within each round; the medians over rounds are printed with the ratio to torch.
Each backend embeds in its own default batch size (ingest/embedders.py ``DEFAULT_BATCH``) unless ``--batch-size``
names one or more: then every backend runs at each, and is compared with torch at the same size.

    python -m bench.backends --corpus ../shared/data/beir-scifact/corpus.jsonl --limit 300 --rounds 2
    python -m bench.backends --corpus ../shared/data/beir-scifact/corpus.jsonl --batch-size 64 16
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BACKENDS = ("torch", "onnx", "onnx-int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/beir-scifact/corpus.jsonl"))
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunking", choices=("split", "truncate"), default="split")
    parser.add_argument(
        "--batch-size", type=int, nargs="+", default=[None],
        help="texts per model call (LATENTSPACE_EMBED_BATCH_SIZE; default: each backend's own); several: each "
        "backend at each, in turn",
    )
    args = parser.parse_args()
    from core.settings import Settings
    from ingest.embedders import batch_size_for
    from ingest.readers import TableOptions, read_path
    from services.engine import open_engine

    docs = [d for d in read_path(args.corpus, TableOptions()) if hasattr(d, "text")][: args.limit]
    queries = [d.text.split(". ")[0][:200] for d in docs[: args.queries]]
    data_dir = Path(tempfile.mkdtemp(prefix="ls-backends-"))
    engines = {size: open_engine(Settings(data_dir=data_dir / str(size), _env_file=None, embed_batch_size=size))
               for size in args.batch_size}
    systems = [(backend, size) for size in args.batch_size for backend in BACKENDS]
    results: dict[tuple, dict[str, list[float]]] = {s: {"docs_per_s": [], "query_p50_ms": []} for s in systems}
    for round_ in range(args.rounds):
        for backend, size in systems:
            engine, name = engines[size], f"{backend}-{round_}"
            engine.create_collection(name, chunking=args.chunking, backend=backend)
            engine.context.embedder_for(engine.context.collection(name)).embed_documents(["warm up"])
            started = time.perf_counter()
            engine.ingest(name, iter(docs))
            results[(backend, size)]["docs_per_s"].append(len(docs) / (time.perf_counter() - started))
            results[(backend, size)]["query_p50_ms"].append(query_p50(engine, name, queries, round_))
    for (backend, size), rows in results.items():  # each against torch at the same batch size
        torch_row = {k: statistics.median(v) for k, v in results[("torch", size)].items()}
        medians = {k: round(statistics.median(v), 2) for k, v in rows.items()}
        speed = {f"{k}_vs_torch": round(medians[k] / torch_row[k], 2) for k in medians}
        batch = batch_size_for(backend, size)
        print(json.dumps({"backend": backend, "batch_size": batch, **medians, **speed, "rounds": rows}))


def query_p50(engine, name: str, queries: list[str], round_: int) -> float:  # noqa: ANN001
    from services.search.types import SearchRequest

    times = []
    for n, text in enumerate(queries):
        started = time.perf_counter()
        engine.search(name, SearchRequest(query=f"{text} ({round_}.{n})", k=10, mode="dense"))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    main()
