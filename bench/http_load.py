"""A lean HTTP load client for bench/peers.py: pre-encoded JSON bodies, keep-alive connections, one core.

    python bench/http_load.py --url http://127.0.0.1:8000/v1/collections/bench/search --bodies B.jsonl \
        --clients 8 --ids-path hits.*.id [--count N] [--cpu 1]

Standard library only (it runs in any interpreter). Every body is encoded before the clock starts, and
each client thread keeps one ``http.client`` connection, so the client costs the same for every server it
measures. ``--clients`` threads share the bodies round-robin; the process is pinned to one core
(``--cpu``). Prints one JSON line: QPS, p50/p99 ms, errors, and the ids of each response (for recall),
taken from the response by ``--ids-path``: ``hits.*.id`` (a list of objects' ``id``) or ``ids.0`` (the first
list of a list of lists).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import threading
import time
from urllib.parse import urlsplit


def extract_ids(body: dict, path: str) -> list[int]:
    if path == "hits.*.id":
        return [int(hit["id"]) for hit in body["hits"]]
    if path == "ids.0":
        return [int(i) for i in body["ids"][0]]
    raise ValueError(f"unknown --ids-path {path!r}")


def run(url: str, bodies: list[bytes], clients: int, ids_path: str, headers: dict[str, str]) -> dict:
    parts = urlsplit(url)
    latencies: list[float] = [0.0] * len(bodies)
    found: list[list[int]] = [[] for _ in bodies]
    errors: list[str] = []
    head = {"content-type": "application/json", **headers}

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        for i in range(offset, len(bodies), clients):
            t0 = time.perf_counter()
            conn.request("POST", parts.path, body=bodies[i], headers=head)
            response = conn.getresponse()
            payload = response.read()
            latencies[i] = time.perf_counter() - t0
            if response.status != 200:
                errors.append(f"{response.status}: {payload[:200]!r}")
                continue
            found[i] = extract_ids(json.loads(payload), ids_path)
        conn.close()

    warm = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    warm.request("POST", parts.path, body=bodies[0], headers=head)
    warm.getresponse().read()
    warm.close()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "qps": len(bodies) / seconds,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "found": found,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, help="a file of JSON request bodies, one per line")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--ids-path", default="hits.*.id")
    parser.add_argument("--count", type=int, default=None, help="only the first N bodies")
    parser.add_argument("--cpu", type=int, default=-1, help="core to pin to (index into the allowed cores)")
    parser.add_argument("--header", action="append", default=[], help="NAME:VALUE, repeatable")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[args.cpu % len(cpus)]})
    with open(args.bodies, "rb") as handle:
        bodies = [line.rstrip(b"\n") for line in handle if line.strip()][: args.count]
    headers = dict(h.split(":", 1) for h in args.header)
    print(json.dumps(run(args.url, bodies, args.clients, args.ids_path, headers)))


if __name__ == "__main__":
    main()
