"""What every side of the peer benchmark (bench/peers.py) shares: the data, the truth, timing, RSS, pinning.

numpy and the standard library only: this file is imported by the peers' agents (bench/peer_*.py), which run
in whatever interpreter the peers are installed in (run as scripts, so ``import peer_common`` finds it
beside them), and by the orchestrator in the project's own interpreter.

An agent is a subprocess that loads its system once, then answers JSON lines on stdin with JSON lines on
stdout: ``{"cmd": "search", "kind": "unfiltered"}`` times one pass over the queries and returns the QPS, the
p50 latency and the ids found (row numbers of the data set), so the orchestrator can interleave rounds of
every system and compute recall against the same exact truth.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

FILTER_FIELD = "bucket"  # metadata of row i: {"bucket": i % 100}; the 1% filter is {"bucket": FILTER_VALUE}
BUCKETS = 100
FILTER_VALUE = 7
K = 10


def load_vectors(data: Path, name: str) -> np.ndarray:
    """float16 on disk: cast to float32 and re-normalise (the data set's README says so)."""
    vectors = np.load(data / name).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def load_data(data: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(sentences, their vectors, the query vectors)."""
    texts = (data / "sentences.txt").read_text(encoding="utf-8").splitlines()
    return texts, load_vectors(data, "sentences_minilm_f16.npy"), load_vectors(data, "queries_minilm_f16.npy")


def bucket_of(row: int) -> int:
    return row % BUCKETS


def filtered_rows(n: int) -> np.ndarray:
    return np.flatnonzero(np.arange(n) % BUCKETS == FILTER_VALUE)


def exact_truth(base: np.ndarray, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Row numbers of the exact top-K by inner product (among ``rows`` when given)."""
    candidates = base if rows is None else base[rows]
    top = np.argsort(-(queries @ candidates.T), axis=1)[:, :K]
    return top if rows is None else rows[top]


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]))


def rss_mb(pid: int | None = None, children: bool = False) -> float:
    """Resident set size in MB of ``pid`` (default: this process), plus its descendants' when asked."""
    return memory_mb(pid, children)["rss"]


def memory_mb(pid: int | None = None, children: bool = False) -> dict[str, float]:
    """RSS and PSS in MB of ``pid`` (default: this process), summed over its descendants when asked.

    RSS counts every page a process maps, so a page that forked workers share counts once per worker;
    PSS (proportional set size, /proc/PID/smaps_rollup) splits each shared page between the processes
    that map it, so a sum of PSS counts it once: the memory the processes together really hold.
    """
    pids = [pid or os.getpid()]
    if children:
        pids += descendants(pids[0])
    totals = {"rss": 0.0, "pss": 0.0, "processes": 0}
    for p in pids:
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        totals["processes"] += 1
        for line in text.splitlines():
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss"):
                totals[name.lower()] += int(rest.split()[0]) / 1024
    return totals


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found += [int(entry.name), *descendants(int(entry.name))]
    return found


def pin(cpu: int) -> None:
    """Keep this process on one core (the protocol: one client, one core)."""
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})


def time_queries(search: Callable[[int], list[int]], count: int) -> dict:
    """One pass over queries 0..count-1, one at a time: QPS, p50 ms and the ids found."""
    search(0)  # warm
    latencies, found = [], []
    started = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        found.append(search(i))
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    return {"qps": count / total, "p50_ms": statistics.median(latencies) * 1000, "found": found}


_OUT = sys.stdout


def claim_stdout() -> None:
    """Keep stdout for the agent's replies; anything a library prints goes to stderr instead."""
    global _OUT
    _OUT = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)


def serve_agent(info: dict, searches: dict[str, Callable[[int], list[int]]], counts: dict[str, int]) -> None:
    """The agent loop: announce ``info`` (load rate, RSS), then answer search commands until stdin closes."""
    reply(info)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("cmd") == "rss":
            reply({"rss_mb": rss_mb()})
            continue
        kind = command["kind"]
        if kind not in searches:
            reply({"skipped": kind})
            continue
        reply(time_queries(searches[kind], counts[kind]))


def reply(message: dict) -> None:
    _OUT.write(json.dumps(message) + "\n")
    _OUT.flush()
