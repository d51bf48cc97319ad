"""``bench.cluster --http``: the same searches over HTTP, the way a user meets both servers.

Two real servers on the benchmark's database and data dir, started after the in-process phases (whose
local Ray is shut down first, so one Ray runs at a time): ``latentspace serve --workers 1`` (the single
process) and ``latentspace serve --ray local --shards S`` (the ingress, with its own local Ray and S shard
deployments of one replica). Both run at once and every round measures each at 1, 4 and 16 clients in
turn (bench/http_load.py: one keep-alive ``http.client`` connection per client thread, bodies encoded with
orjson before the clock starts), so their ratio comes from interleaved runs. Recall@10 is against the
in-process view's truth: exact search for dense queries by vector, the single process's answer for text
queries (``--mode hybrid|lexical``: each server embeds the query text itself, from its query cache after
the first round).
"""

from __future__ import annotations

import statistics
import subprocess
from typing import Any

import numpy as np
import orjson

from bench.http_load import run as http_run
from bench.serving import start_serve, wait_ready

CLIENTS = (1, 4, 16)


def body(query: Any) -> bytes:
    """The search request of a query vector (dense) or of a (mode, text) pair, as bench.cluster's searcher asks."""
    if isinstance(query, tuple):
        return orjson.dumps({"query": query[1], "k": 10, "mode": query[0], "group_by_document": False})
    return orjson.dumps({"vector": query.tolist(), "k": 10, "mode": "dense", "group_by_document": False})


def http_phase(settings: Any, queries: Any, truth: np.ndarray, rounds: int, shards: int) -> dict[str, Any]:
    """QPS, p50/p99 and recall@10 of both servers, medians over ``rounds`` interleaved rounds."""
    bodies = [body(query) for query in queries]
    log_dir = settings.data_dir / "http-logs"
    log_dir.mkdir(exist_ok=True)
    cluster = ["--ray", "local", "--shards", str(shards)]
    env = {
        "LATENTSPACE_DATABASE_URL": settings.resolved_database_url(),
        "LATENTSPACE_DATA_DIR": str(settings.data_dir),
        "HF_HUB_OFFLINE": "1",
    }
    servers = {
        "single (serve, 1 worker)": start_serve(["--workers", "1"], env, log_dir / "single.log"),
        f"S={shards} R=1 (serve --ray local)": start_serve(cluster, env, log_dir / "cluster.log"),
    }
    try:
        for server, port in servers.values():
            wait_ready(server, port)
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for _ in range(rounds):
            for clients in CLIENTS:
                for name, (_server, port) in servers.items():
                    url = f"http://127.0.0.1:{port}/v1/collections/sentences/search"
                    runs.setdefault((name, clients), []).append(http_run(url, bodies, clients, "hits.*.id", {}))
    finally:
        for server, _port in servers.values():
            server.terminate()
        for server, _port in servers.values():
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
    return table(runs, truth)


def table(runs: dict[tuple[str, int], list[dict[str, Any]]], truth: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (name, clients), results in runs.items():
        found = results[0]["found"]
        recall = float(np.mean([len(set(f) & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)]))
        row = out.setdefault(name, {"recall@10": round(recall, 4)})
        row[str(clients)] = {
            key: round(statistics.median(r[src] for r in results), 2)
            for key, src in (("qps", "qps"), ("p50", "p50_ms"), ("p99", "p99_ms"))
        }
        row[str(clients)]["errors"] = sum(r["errors"] for r in results)
    return out
