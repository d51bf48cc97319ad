"""A real ``latentspace serve`` in a subprocess for the HTTP benchmarks: a free port, start, wait until ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(extra: list[str], env: dict[str, str], log: Path | None = None) -> tuple[subprocess.Popen, int]:
    """``latentspace serve`` with ``extra`` options on a free port, ``env`` added to this process's environment,
    its output in ``log`` (or discarded); call :func:`wait_ready` before using it."""
    port = free_port()
    # cli.main imported, not run as __main__: one copy of the module (a Ray ingress pickles classes by module)
    command = [sys.executable, "-c", "from cli.main import main; main()", "serve", "--host", "127.0.0.1",
               "--port", str(port), *extra]
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=out)
    return server, port


def wait_ready(server: subprocess.Popen, port: int, timeout: float = 300.0) -> None:
    """Until ``/health/ready`` answers 200; an error if the server exits or the timeout passes (it is then killed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server on port {port} was not ready within {timeout:.0f} s")
