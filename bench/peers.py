"""latentspace against its peers on the same vectors, the same protocol, in one run (issue 17's table).

    python -m bench.peers --data ../shared/data/scifact-sentences-minilm --python /work/peers-venv/bin/python

Installs nothing. The peers (raw hnswlib, Chroma) run in the interpreter given by ``--python`` if they are
importable there (each is skipped with a note otherwise); latentspace runs in this interpreter. Each system
is an agent process (bench/peer_*.py) that loads the 44,484 sentence vectors once, then answers timed passes
over the queries; HTTP rows are measured by bench/http_load.py against ``latentspace serve --workers N`` and
``chroma run``. Protocol: top-10 by inner product, ef 64 (M 16, efC 200) everywhere, one client pinned to one
core, ``--rounds`` interleaved rounds (every system and column takes its turn before the next round), medians;
recall@10 against exact search (within the allowed rows for the 1% filter ``{"bucket": 7}``). Prints a
markdown table, the ratios the issue asks for, and the RSS of a one-worker server before and after its first
text query.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import peer_common as pc
from bench.peer_report import print_report

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"


class Agent:
    """A loaded system in its own process, answering one timed pass per command."""

    def __init__(self, name: str, command: list[str], log: Path, env: dict | None = None) -> None:
        self.name = name
        self.log = log.open("w")
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=REPO, env=env
        )
        line = self.process.stdout.readline()
        self.info = json.loads(line) if line else None

    def ask(self, kind: str) -> dict:
        self.process.stdin.write(json.dumps({"cmd": "search", "kind": kind}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=120)
        self.log.close()


class Server:
    def __init__(self, command: list[str], log: Path, ready_url: str, env: dict | None = None) -> None:
        self.log = log.open("w")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        for _ in range(600):
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited; see {log}")
            try:
                with urllib.request.urlopen(ready_url, timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"server not ready: {ready_url}")

    def memory_mb(self) -> dict[str, float]:
        """RSS and PSS of the server and all its processes (bench/peer_common.py says which counts what)."""
        return pc.memory_mb(self.process.pid, children=True)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


def importable(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def http(url: str, bodies: Path, clients: int, ids_path: str, count: int) -> dict:
    command = [sys.executable, str(BENCH / "http_load.py"), "--url", url, "--bodies", str(bodies),
               "--clients", str(clients), "--ids-path", ids_path, "--count", str(count), "--cpu", "-1"]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def write_bodies(path: Path, queries: np.ndarray, make: Callable[[list[float]], dict]) -> Path:
    with path.open("w") as out:
        for q in queries:
            out.write(json.dumps(make(q.tolist())) + "\n")
    return path


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def start_agents(args: argparse.Namespace, work: Path) -> dict[str, Agent]:
    """One at a time, so no load competes with another for the cores."""
    counts = [str(args.queries), str(args.filter_queries), "--ef", str(args.ef)]
    data = str(args.data)
    agents: dict[str, Agent] = {}
    if importable(args.python, "hnswlib"):
        agents["hnswlib"] = Agent("hnswlib", [args.python, str(BENCH / "peer_hnswlib.py"), data, *counts],
                                  work / "hnswlib.log")
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    agents["latentspace"] = Agent("latentspace", [sys.executable, "-m", "bench.peer_latentspace", data,
                                                  str(work / "ls-data"), *counts], work / "latentspace.log", env)
    if importable(args.python, "chromadb"):
        agents["chroma"] = Agent("chroma", [args.python, str(BENCH / "peer_chroma.py"), data,
                                            str(work / "chroma"), *counts], work / "chroma.log")
    for name, agent in list(agents.items()):
        if agent.info is None:
            print(f"note: {name} failed to load (see {agent.log.name}); skipped", file=sys.stderr)
            del agents[name]
        else:
            print(f"loaded {name}: {agent.info}", file=sys.stderr)
    return agents


def start_servers(args: argparse.Namespace, work: Path, agents: dict[str, Agent]) -> dict[str, tuple]:
    """(server, search url, ids path, bodies, filtered bodies) by system."""
    queries = pc.load_vectors(args.data, "queries_minilm_f16.npy")
    where = {pc.FILTER_FIELD: pc.FILTER_VALUE}
    env = dict(os.environ, LATENTSPACE_DATA_DIR=str(work / "ls-data"), HF_HUB_OFFLINE="1")
    env.pop("LATENTSPACE_DATABASE_URL", None)
    ours = Server([sys.executable, "-m", "cli.main", "serve", "--port", str(args.port), "--workers",
                   str(args.workers)], work / "serve.log", f"http://127.0.0.1:{args.port}/health/live", env)
    servers = {"latentspace": (
        ours, f"http://127.0.0.1:{args.port}/v1/collections/bench/search", "hits.*.id",
        write_bodies(work / "ours.jsonl", queries, lambda v: {"vector": v, "k": pc.K}),
        write_bodies(work / "ours_f.jsonl", queries, lambda v: {"vector": v, "k": pc.K, "filter": where}),
    )}
    if "chroma" in agents:
        shutil.copytree(work / "chroma", work / "chroma-server")
        port = args.port + 1
        chroma = Server([str(Path(args.python).parent / "chroma"), "run", "--path", str(work / "chroma-server"),
                         "--port", str(port)], work / "chroma-server.log", f"http://127.0.0.1:{port}/api/v2/heartbeat")
        base = f"http://127.0.0.1:{port}/api/v2/tenants/default_tenant/databases/default_database/collections"
        with urllib.request.urlopen(f"{base}/bench", timeout=60) as response:
            collection_id = json.loads(response.read())["id"]
        include = ["documents", "metadatas", "distances"]
        servers["chroma"] = (
            chroma, f"{base}/{collection_id}/query", "ids.0",
            write_bodies(work / "chroma.jsonl", queries,
                         lambda v: {"query_embeddings": [v], "n_results": pc.K, "include": include}),
            write_bodies(work / "chroma_f.jsonl", queries, lambda v: {
                "query_embeddings": [v], "n_results": pc.K, "include": include, "where": where}),
        )
    return servers


def tasks(args, agents: dict[str, Agent], servers: dict[str, tuple]) -> dict[tuple[str, str], Callable]:  # noqa: ANN001
    """(system, column) -> one timed pass; every round runs every task once, in this order."""
    found: dict[tuple[str, str], Callable] = {}
    in_process = {"hnswlib": ("index", "engine_filtered"), "latentspace": ("index", "index_filtered", "engine",
                  "engine_filtered"), "chroma": ("engine", "engine_filtered")}
    for name, agent in agents.items():
        for kind in in_process[name]:
            found[(name, kind)] = lambda agent=agent, kind=kind: agent.ask(kind)
    for name, (_, url, ids_path, bodies, filtered) in servers.items():
        found[(name, "http1")] = lambda u=url, b=bodies, p=ids_path: http(u, b, 1, p, args.queries)
        found[(name, "http8")] = lambda u=url, b=bodies, p=ids_path: http(u, b, 8, p, args.queries)
        found[(name, "http_filtered")] = lambda u=url, b=filtered, p=ids_path: http(u, b, 1, p, args.filter_queries)
    return found


def run_rounds(runs: dict[tuple[str, str], Callable], rounds: int) -> dict[tuple[str, str], dict]:
    samples: dict[tuple[str, str], list[dict]] = {key: [] for key in runs}
    for r in range(rounds):
        for key, run in runs.items():
            samples[key].append(run())
            print(f"round {r + 1} {key}: {samples[key][-1]['qps']:.1f} QPS", file=sys.stderr)
    return {key: {"qps": statistics.median(s["qps"] for s in runs_), "p50_ms": statistics.median(
        s["p50_ms"] for s in runs_), "qps_rounds": [s["qps"] for s in runs_], "found": runs_[-1]["found"],
        "errors": sum(s.get("errors", 0) for s in runs_)} for key, runs_ in samples.items()}


def text_query_memory(args: argparse.Namespace, work: Path) -> dict:
    """RSS and PSS of a one-worker server: after loading and 200 vector searches, then after one text query."""
    port = args.port + 2
    env = dict(os.environ, LATENTSPACE_DATA_DIR=str(work / "ls-data"), HF_HUB_OFFLINE="1")
    env.pop("LATENTSPACE_DATABASE_URL", None)
    server = Server([sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", "1"],
                    work / "serve-rss.log", f"http://127.0.0.1:{port}/health/live", env)
    try:
        url = f"http://127.0.0.1:{port}/v1/collections/bench/search"
        http(url, work / "ours.jsonl", 1, "hits.*.id", 200)
        vector_only = server.memory_mb()
        post_json(url, {"query": "vaccines and the immune system", "k": pc.K})
        return {"vector_only": vector_only, "after_text_query": server.memory_mb()}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact-sentences-minilm"))
    parser.add_argument("--python", default=sys.executable, help="the interpreter the peers are installed in")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="`latentspace serve --workers`")
    parser.add_argument("--queries", type=int, default=1109)
    parser.add_argument("--filter-queries", type=int, default=100)
    parser.add_argument("--ef", type=int, default=64)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--out", type=Path, default=None, help="also write every number as JSON")
    args = parser.parse_args()
    args.data = args.data.resolve()
    work = Path(tempfile.mkdtemp(prefix="ls-peers-"))
    _, base, queries = pc.load_data(args.data)
    truth = pc.exact_truth(base, queries[: args.queries])
    truth_f = pc.exact_truth(base, queries[: args.filter_queries], pc.filtered_rows(len(base)))
    agents = start_agents(args, work)
    servers = start_servers(args, work, agents)
    try:
        results = run_rounds(tasks(args, agents, servers), args.rounds)
        served = {name: server.memory_mb() for name, (server, *_rest) in servers.items()}
    finally:
        for server, *_rest in servers.values():
            server.stop()
        for agent in agents.values():
            agent.close()
    memory = text_query_memory(args, work)
    print_report(args, agents, results, served, memory, truth, truth_f)
    if args.out:
        slim = {f"{a}/{b}": {k: v for k, v in r.items() if k != "found"} for (a, b), r in results.items()}
        info = {name: agent.info for name, agent in agents.items()}
        everything = {"results": slim, "agents": info, "server_memory": served, "memory": memory}
        args.out.write_text(json.dumps(everything, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
