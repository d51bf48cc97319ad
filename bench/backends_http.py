"""Text-query latency per embedding backend, in-process and over HTTP, idle and with one core taken.

One temporary data dir (SQLite) gets one collection per backend, filled through ``Engine.ingest`` with the
same documents. Then, in rounds where the backends take turns, distinct dense text queries (the query cache
never answers) are timed through ``Engine.search`` in this process and through ``POST .../search`` on a real
``latentspace serve`` subprocess, first idle, then while a spinner process (a bounded busy loop this script
starts and stops) holds one core. Medians over rounds of each round's p50/p99 are printed, with busy/idle.

    python -m bench.backends_http --corpus ../shared/data/beir-scifact/corpus.jsonl --limit 100 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.contention import spin
from bench.serving import start_serve, wait_ready

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BACKENDS = ("torch", "onnx", "onnx-int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/beir-scifact/corpus.jsonl"))
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="ls-backends-http-"))
    engine, queries = fill(data_dir, args.corpus, args.limit, args.queries)
    server, url = start_server(data_dir)
    rows: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    try:
        for round_ in range(args.rounds):
            for busy in (False, True):
                with spinner(busy):
                    for backend in BACKENDS:
                        tag = f"{round_}{'b' if busy else 'i'}"
                        state = "busy" if busy else "idle"
                        rows.setdefault((backend, "engine", state), []).append(
                            in_process(engine, backend, queries, tag))
                        rows.setdefault((backend, "http", state), []).append(over_http(url, backend, queries, tag))
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(rows)


def fill(data_dir: Path, corpus: Path, limit: int, count: int):  # noqa: ANN201
    """One collection per backend with the same ``limit`` documents; ``count`` query texts."""
    from core.settings import Settings
    from ingest.readers import TableOptions, read_path
    from services.engine import open_engine

    docs = [d for d in read_path(corpus, TableOptions()) if hasattr(d, "text")][:limit]
    engine = open_engine(Settings(data_dir=data_dir, _env_file=None))
    for backend in BACKENDS:
        engine.create_collection(backend, backend=backend)
        engine.ingest(backend, iter(docs))
    return engine, [d.text.split(". ")[0][:200] for d in docs[:count]]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    server, port = start_serve([], {"LATENTSPACE_DATA_DIR": str(data_dir)}, data_dir / "server.log")
    wait_ready(server, port, timeout=60)
    url = f"http://127.0.0.1:{port}"
    for backend in BACKENDS:  # load every model before timing
        over_http(url, backend, ["warm up"], "w")
    return server, url


class spinner:  # noqa: N801  (a context manager used as `with spinner(busy):`)
    def __init__(self, busy: bool) -> None:
        self.process = multiprocessing.get_context("spawn").Process(target=spin, args=(600.0,), daemon=True)
        self.busy = busy

    def __enter__(self) -> None:
        if self.busy:
            self.process.start()
            time.sleep(0.5)

    def __exit__(self, *exc: object) -> None:
        if self.busy:
            self.process.kill()
            self.process.join()


def in_process(engine, backend: str, queries: list[str], tag: str) -> tuple[float, float]:  # noqa: ANN001
    from services.search.types import SearchRequest

    times = []
    for n, text in enumerate(queries):
        started = time.perf_counter()
        engine.search(backend, SearchRequest(query=f"{text} ({tag}.{n})", k=10, mode="dense"))
        times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def over_http(url: str, backend: str, queries: list[str], tag: str) -> tuple[float, float]:
    import httpx

    times = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for n, text in enumerate(queries):
            body = {"query": f"{text} ({tag}.{n})", "k": 10, "mode": "dense"}
            started = time.perf_counter()
            client.post(f"/v1/collections/{backend}/search", json=body).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def percentiles(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def report(rows: dict[tuple[str, str, str], list[tuple[float, float]]]) -> None:
    """One JSON line per (backend, path): medians over rounds of p50/p99, idle and busy, and busy/idle."""
    for backend in BACKENDS:
        for path in ("engine", "http"):
            line: dict[str, object] = {"backend": backend, "path": path}
            for state in ("idle", "busy"):
                p50s, p99s = zip(*rows[(backend, path, state)], strict=True)
                line[f"{state}_p50_ms"] = round(statistics.median(p50s), 1)
                line[f"{state}_p99_ms"] = round(statistics.median(p99s), 1)
            line["busy_over_idle_p50"] = round(line["busy_p50_ms"] / line["idle_p50_ms"], 2)  # type: ignore[operator]
            torch_idle = statistics.median(p for p, _ in rows[("torch", path, "idle")])
            line["idle_p50_vs_torch"] = round(line["idle_p50_ms"] / torch_idle, 2)  # type: ignore[operator]
            print(json.dumps(line))


if __name__ == "__main__":
    main()
