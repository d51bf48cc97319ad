"""Text-query latency of the embedder when another process keeps one core busy, per thread policy.

Each policy runs in its own Python process (OpenMP reads its wait policy when torch loads): ``old`` is the
behaviour before the thread policy (torch's default threads, OpenMP's default spinning wait), ``new`` is
today's default (one thread for queries, passive wait). Each process times ``--queries`` distinct query
encodes (the query cache is off) idle, then while a spinner process (a bounded busy loop this script starts
and stops) holds a core, and prints the medians. Rounds alternate the policies.

    python -m bench.contention --queries 30 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

POLICIES = {
    "old": {"OMP_WAIT_POLICY": "ACTIVE", "small_threads": 0},
    "new": {"OMP_WAIT_POLICY": "PASSIVE", "small_threads": 1},
}


def spin(seconds: float) -> None:
    """Keep one core busy for at most ``seconds`` (the parent stops it sooner)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def query_p50(small_threads: int, queries: int, busy: bool) -> float:
    from ingest.embedder_base import SentenceTransformerEmbedder, ThreadPolicy

    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2", threads=ThreadPolicy(small_threads), query_cache=0)
    embedder.embed_query("warm up")
    spinner = multiprocessing.get_context("spawn").Process(target=spin, args=(300.0,), daemon=True)
    if busy:
        spinner.start()
        time.sleep(0.5)
    try:
        times = []
        for n in range(queries):
            started = time.perf_counter()
            embedder.embed_query(f"how do vaccines train the immune system, question {n}")
            times.append((time.perf_counter() - started) * 1000)
    finally:
        if busy:
            spinner.kill()
            spinner.join()
    return statistics.median(times)


def run_policy(name: str, queries: int) -> dict[str, float]:
    """Both measurements of one policy in a fresh interpreter with that policy's environment."""
    policy = POLICIES[name]
    env = {**os.environ, "OMP_WAIT_POLICY": policy["OMP_WAIT_POLICY"], "HF_HUB_OFFLINE": "1"}
    code = (
        "import json,sys; from bench.contention import query_p50; "
        f"print(json.dumps([query_p50({policy['small_threads']}, {queries}, b) for b in (False, True)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    idle, busy = json.loads(out.stdout.strip().splitlines()[-1])
    return {"idle_p50_ms": round(idle, 1), "busy_p50_ms": round(busy, 1), "busy_over_idle": round(busy / idle, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in POLICIES}
    for _ in range(args.rounds):
        for name in POLICIES:
            results[name].append(run_policy(name, args.queries))
    for name, rows in results.items():
        print(json.dumps({"policy": name, "rounds": rows}))


if __name__ == "__main__":
    main()
