"""Bounded loopback load: mixed search/ingest against a running ``latentspace serve``.

    latentspace serve --port 8765 &          # (LATENTSPACE_DATA_DIR=/tmp/lsbench/data)
    python bench/load.py --url http://127.0.0.1:8765 --seconds 30 --workers 8 --ingest-ratio 0.1

Prints throughput, p50/p99 latency per operation and the error count (target: 0). Pass ``--key`` when
API keys exist (it needs the ``write`` scope). Vectors are seeded random, so no embedding model work
is measured for ingest; searches use text queries and do embed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time

import httpx
import numpy as np

WORDS = "vaccine volcano bread river music planet theorem protein market engine winter garden".split()


def _doc(rng: random.Random, n: int) -> dict:
    vector = np.random.default_rng(n).normal(size=384).astype(np.float32)
    text = " ".join(rng.choice(WORDS) for _ in range(12))
    return {"id": f"load-{n}", "text": text, "metadata": {"n": n}, "vector": (vector / np.linalg.norm(vector)).tolist()}


def _worker(args, deadline: float, seed: int, out: dict, lock: threading.Lock) -> None:  # noqa: ANN001
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as client:
        n = seed * 1_000_000
        while time.perf_counter() < deadline:
            ingest = rng.random() < args.ingest_ratio
            started = time.perf_counter()
            if ingest:
                n += 1
                docs = [_doc(rng, n * 10 + j) for j in range(args.batch)]
                response = client.post(f"/v1/collections/{args.collection}/documents", json={"documents": docs})
            else:
                query = " ".join(rng.choice(WORDS) for _ in range(3))
                response = client.post(f"/v1/collections/{args.collection}/search", json={"query": query, "k": 10})
            took = time.perf_counter() - started
            with lock:
                out["ingest" if ingest else "search"].append(took)
                if response.status_code >= 400:
                    out["errors"].append(response.status_code)


def _summary(samples: list[float], seconds: float) -> dict:
    if not samples:
        return {"requests": 0}
    ordered = sorted(samples)
    return {
        "requests": len(samples),
        "per_second": round(len(samples) / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--collection", default="load")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--ingest-ratio", type=float, default=0.1)
    parser.add_argument("--batch", type=int, default=10, help="documents per ingest request")
    parser.add_argument("--key", default=None)
    args = parser.parse_args()
    args.seconds = min(args.seconds, 60)  # bounded by design
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    httpx.post(f"{args.url}/v1/collections", json={"name": args.collection}, headers=headers, timeout=60)
    out: dict = {"search": [], "ingest": [], "errors": []}
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds
    threads = [threading.Thread(target=_worker, args=(args, deadline, s + 1, out, lock)) for s in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = {
        "seconds": args.seconds,
        "workers": args.workers,
        "search": _summary(out["search"], args.seconds),
        "ingest": _summary(out["ingest"], args.seconds),
        "errors": len(out["errors"]),
        "error_statuses": sorted(set(out["errors"])),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
