"""What the remote client costs over the embedded one: vector searches and batch upserts, interleaved rounds.

Run from the repository (it starts its own `latentspace serve` on a free loopback port, own data dirs):

    HF_HUB_OFFLINE=1 .venv/bin/python docs/examples/client_overhead.py --docs 2000 --dim 384 --rounds 5

Prints the median time of each operation per client kind and the remote/embedded ratio. A script, not a
bench/ module: bench/ sits below the public client in the layers and may not import it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

import latentspace


def serve(data_dir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATENTSPACE_")}
    env |= {"LATENTSPACE_DATA_DIR": str(data_dir), "LATENTSPACE_LOG_FORMAT": "text"}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def timed(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--batch", type=int, default=250)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.docs, args.dim)).astype(np.float32)
    ids = [f"d{i}" for i in range(args.docs)]
    texts = [f"document {i}" for i in range(args.docs)]
    queries = rng.normal(size=(args.queries, args.dim)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        process, url = serve(Path(tmp) / "server")
        try:
            clients = {"embedded": latentspace.connect(Path(tmp) / "embedded"), "remote": latentspace.connect(url=url)}
            times: dict[tuple[str, str], list[float]] = {}
            for rnd in range(args.rounds):
                for kind, client in clients.items():
                    name = f"bench{rnd}"
                    col = client.create_collection(name, model=None, dimension=args.dim)
                    upsert = [
                        timed(
                            lambda s=s, col=col: col.upsert(
                                ids[s : s + args.batch], texts[s : s + args.batch], vectors=vectors[s : s + args.batch]
                            )
                        )
                        for s in range(0, args.docs, args.batch)
                    ]
                    col.search(vector=queries[0], k=10)  # index loaded
                    search = [timed(lambda q=q, col=col: col.search(vector=q, k=10)) for q in queries]
                    times.setdefault((kind, "upsert"), []).append(statistics.median(upsert))
                    times.setdefault((kind, "search"), []).append(statistics.median(search))
                    client.delete_collection(name)
            for op in ("search", "upsert"):
                emb, rem = statistics.median(times[("embedded", op)]), statistics.median(times[("remote", op)])
                label = f"{op} (k=10)" if op == "search" else f"upsert ({args.batch} docs)"
                print(f"{label}: embedded {emb * 1000:.2f} ms, remote {rem * 1000:.2f} ms, ratio {rem / emb:.2f}")
            for client in clients.values():
                client.close()
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
