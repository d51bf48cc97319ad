"""Search latency per mode (dense, lexical, hybrid) in-process, the query model kept out of the timing.

    python -m bench.hybrid --corpus ../shared/data/beir-scifact --limit 1500 --data-dir /tmp/hybrid-bench [--rounds 5]

Ingests the first ``--limit`` SciFact abstracts (title + text, the default backend) into ``--data-dir`` once
(a later run with the same directory reuses it, so two checkouts can be compared on the same data: run each
with its own ``PYTHONPATH``), then times ``Engine.search`` with the SciFact test queries, k=10, one thread.
Every query's vector is cached before timing (the query-embedding cache), so what is timed is the search:
index, BM25, fusion and hydration. Modes take turns, ``--rounds`` times; medians of the per-round p50s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODES = ("dense", "lexical", "hybrid")


def open_filled(corpus: Path, limit: int, data_dir: Path):  # noqa: ANN201
    from core.settings import Settings
    from ingest.readers import SourceDocument
    from services.engine import open_engine

    engine = open_engine(Settings(data_dir=data_dir, _env_file=None))
    if "scifact" not in {c.name for c in engine.list_collections()}:
        docs = []
        with (corpus / "corpus.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                if len(docs) >= limit:
                    break
                row = json.loads(line)
                docs.append(SourceDocument(row["_id"], f"{row['title']}\n{row['text']}", None, {}))
        engine.create_collection("scifact")
        engine.ingest("scifact", docs)
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a BEIR SciFact directory")
    parser.add_argument("--limit", type=int, default=1500)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from services.search.types import SearchRequest

    engine = open_filled(args.corpus, args.limit, args.data_dir)
    with (args.corpus / "queries.jsonl").open(encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines][: args.queries]
    requests = {mode: [SearchRequest(query=t, k=10, mode=mode) for t in texts] for mode in MODES}
    for mode in MODES:  # warm: indexes loaded, every query vector in the cache
        for request in requests[mode]:
            engine.search("scifact", request)
    p50s: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            times = []
            for request in requests[mode]:
                started = time.perf_counter()
                engine.search("scifact", request)
                times.append(time.perf_counter() - started)
            p50s[mode].append(statistics.median(times) * 1000)
    engine.close()
    print(json.dumps({"p50_ms": {m: round(statistics.median(v), 3) for m, v in p50s.items()}, "rounds": p50s}))


if __name__ == "__main__":
    main()
