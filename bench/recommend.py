"""Recommendation serving benchmark on MovieLens-format interactions, one machine, loopback only.

    python -m bench.recommend --data ../shared/data/movielens-100k/ml-100k/u.data [--model blend] [--out r.json]

Ingests the file into a collection of a temporary data dir, trains ``--model`` (stored and activated
like ``latentspace train``), then measures recommend-for-user latency (k=10, seen items excluded) for
``--users`` users: in-process through ``engine.recommendations`` (what the API calls), and over HTTP
against ``latentspace serve`` started in a subprocess on a free 127.0.0.1 port, requests sent one
after another (``GET /v1/collections/{c}/users/{u}/recommendations?k=10``), bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.serving import start_serve, wait_ready

COLLECTION = "movielens"


def percentiles(samples: list[float]) -> dict[str, Any]:
    ms = np.asarray(samples) * 1000.0
    if not len(ms):
        return {"requests": 0}
    return {
        "requests": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }


def prepare(data: Path, model: str) -> tuple[Any, dict[str, Any], list[str]]:
    """Engine on the temp data dir (from the environment), interactions ingested, model trained."""
    from core.settings import get_settings
    from ingest.readers.interactions import Columns, read_interactions
    from services.engine import open_engine

    engine = open_engine(get_settings())
    engine.create_collection(COLLECTION, exist_ok=True)
    started = time.perf_counter()
    rows = read_interactions(data, Columns.movielens(), "whitespace")
    report = engine.recommendations.ingest_interactions(COLLECTION, rows)
    ingest_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = engine.recommendations.train(COLLECTION, model)
    setup = {
        "interactions": report.added + report.updated,
        "bad_rows": report.failed,
        "ingest_seconds": round(ingest_seconds, 2),
        "train_and_store_seconds": round(time.perf_counter() - started, 2),
        "version": result["version"],
        "ndcg@10_holdout": round(result["metrics"]["ndcg@10"], 4),
    }
    users = sorted({line.split()[0] for line in data.read_text().splitlines() if line.strip()})
    return engine, setup, users


def in_process(engine: Any, users: list[str], k: int) -> dict[str, Any]:
    from services.recommendations.types import Query

    service = engine.recommendations
    service.for_user(COLLECTION, users[0], Query(k=k))  # loads the model once, as the first request would
    samples, sources = [], set()
    for user in users:
        started = time.perf_counter()
        result = service.for_user(COLLECTION, user, Query(k=k))
        samples.append(time.perf_counter() - started)
        sources.add(result.source)
    return {**percentiles(samples), "sources": sorted(sources), "model_only": model_only(service, len(users), k)}


def model_only(service: Any, n: int, k: int) -> dict[str, Any]:
    """Scoring + top-k of the loaded model alone (no SQL), for ``n`` trained users: the model's share."""
    from latent.recsys.base import top_k

    model = service.active_model(COLLECTION)
    samples = []
    for user in np.random.default_rng(1).permutation(model.n_users)[:n]:
        started = time.perf_counter()
        top_k(model.user_scores(np.array([user]))[0], k)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def over_http(env: dict[str, str], users: list[str], k: int, seconds: float) -> dict[str, Any]:
    server, port = start_serve([], env)
    try:
        wait_ready(server, port, timeout=60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            path = f"/v1/collections/{COLLECTION}/users/{{}}/recommendations"
            client.get(path.format(users[0]), params={"k": k}).raise_for_status()  # model load
            samples, errors = [], 0
            deadline = time.perf_counter() + seconds
            for user in users:
                if time.perf_counter() > deadline:
                    break
                started = time.perf_counter()
                response = client.get(path.format(user), params={"k": k})
                samples.append(time.perf_counter() - started)
                errors += response.status_code >= 400
        return {**percentiles(samples), "errors": errors}
    finally:
        server.terminate()
        server.wait(timeout=30)


def print_table(report: dict[str, Any]) -> None:
    print(f"setup: {json.dumps(report['setup'])}")
    print(f"{'path':<12}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    rows = {"in_process": report["in_process"], "model_only": report["in_process"]["model_only"], **report}
    for name in ("in_process", "model_only", "http"):
        row = rows[name]
        print(
            f"{name:<12}{row['requests']:>10}{row.get('p50_ms', '-'):>10}{row.get('p99_ms', '-'):>10}"
            f"{row.get('mean_ms', '-'):>10}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="MovieLens-format u.data")
    parser.add_argument("--model", default="blend")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="HTTP phase bound (at most 60)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lsbench-recsys-") as tmp:
        os.environ["LATENTSPACE_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ.pop("LATENTSPACE_DATABASE_URL", None)
        engine, setup, users = prepare(args.data, args.model)
        sample = [str(u) for u in np.random.default_rng(0).permutation(users)[: args.users]]
        report = {"model": args.model, "k": args.k, "setup": setup, "in_process": in_process(engine, sample, args.k)}
        report["http"] = over_http(dict(os.environ), sample, args.k, min(args.seconds, 60.0))
    print_table(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
