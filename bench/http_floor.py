"""Where a vector search's HTTP p50 goes: the floor any uvicorn app pays, the search itself, and the rest.

    python -m bench.http_floor --url http://127.0.0.1:8000/v1/collections/bench/search --bodies B.jsonl \
        --data-dir ./data --collection bench [--rounds 3]

Interleaved rounds, medians, one client (bench/http_load.py, pinned to the last core):
- ``floor``: a minimal ASGI app on uvicorn (httptools, uvloop, one worker) that answers every request with
  the bytes our server answered to the first body: what the client, the kernel's loopback and uvicorn cost
  with no app work at all (the same for any Python ASGI server);
- ``server``: the running server at ``--url`` (e.g. ``latentspace serve --workers 2``);
- ``engine``: ``Engine.search`` in this process on the same data dir, pinned to the first core, as
  bench/peers.py times it;
- ``before`` (with ``--before URL``): a second server on the same data dir, e.g. the code before a change,
  timed in the same rounds right after ``server``, so that an A/B is read from one interleaved run.
Prints one JSON line: the medians, their rounds, and ``server - floor - engine`` (what our app adds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def floor_app(body: bytes):  # noqa: ANN201
    """An ASGI app that reads the request and answers ``body`` as JSON."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def load(url: str, bodies: Path) -> float:
    command = [sys.executable, str(HERE / "http_load.py"), "--url", url, "--bodies", str(bodies), "--cpu", "-1"]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)["p50_ms"]


def engine_p50(data_dir: Path, collection: str, bodies: Path):  # noqa: ANN201
    from core.settings import Settings
    from services.engine import Engine
    from services.search.types import SearchRequest

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    engine = Engine(Settings(data_dir=data_dir, _env_file=None))
    vectors = [json.loads(line)["vector"] for line in bodies.read_text().splitlines() if line.strip()]

    def timed() -> float:
        engine.search(collection, SearchRequest(vector=vectors[0], k=10))
        latencies = []
        for vector in vectors:
            started = time.perf_counter()
            engine.search(collection, SearchRequest(vector=vector, k=10))
            latencies.append(time.perf_counter() - started)
        return statistics.median(latencies) * 1000

    return timed


def start_floor(url: str, first: bytes, port: int, work: Path) -> subprocess.Popen:
    request = urllib.request.Request(url, first, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        (work / "body.json").write_bytes(response.read())
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-floor", str(work / "body.json"),
               "--port", str(port)]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", b"{}", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the floor server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--bodies", type=Path)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8899, help="the floor server's port")
    parser.add_argument("--before", help="another server's search URL, timed in the same rounds (an A/B)")
    parser.add_argument("--serve-floor", type=Path, help=argparse.SUPPRESS)  # internal: run the floor server
    args = parser.parse_args()
    if args.serve_floor:
        import uvicorn

        app = floor_app(args.serve_floor.read_bytes())
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", http="httptools", loop="uvloop")
        return
    work = Path(tempfile.mkdtemp(prefix="ls-floor-"))
    floor = start_floor(args.url, args.bodies.read_bytes().splitlines()[0], args.port, work)
    timed = engine_p50(args.data_dir, args.collection, args.bodies)
    rounds: dict[str, list[float]] = {"floor": [], "server": [], "engine": []}
    if args.before:
        rounds["before"] = []
    try:
        for _ in range(args.rounds):
            rounds["floor"].append(load(f"http://127.0.0.1:{args.port}/", args.bodies))
            rounds["server"].append(load(args.url, args.bodies))
            if args.before:
                rounds["before"].append(load(args.before, args.bodies))
            rounds["engine"].append(timed())
            print({k: round(v[-1], 3) for k, v in rounds.items()}, file=sys.stderr)
    finally:
        floor.terminate()
        floor.wait(timeout=30)
    p50 = {k: round(statistics.median(v), 3) for k, v in rounds.items()}
    ratios = {f"{n}_over_engine": round(p50[n] / p50["engine"], 2) for n in ("server", "before") if n in p50}
    print(json.dumps({"p50_ms": p50, "rounds": rounds, "app_adds_ms": round(p50["server"] - p50["floor"] - p50[
        "engine"], 3), **ratios}))


if __name__ == "__main__":
    main()
