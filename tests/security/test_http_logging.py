"""Issue 18, class 9: ``latentspace serve`` logs one line per request and one traceback per error.

uvicorn's ``log_level`` turned its own access logger back on (every request twice), and Starlette's
last-resort handler re-raised after answering (every traceback twice). This runs the real command.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BOOM = """
import sys
import services.engine

def boom(self, *args, **kwargs):
    raise RuntimeError("boom for the log test")

services.engine.Engine.list_collections = boom  # one route that fails unexpectedly
from cli.main import app
app(["serve", "--port", sys.argv[1], "--workers", "1"], prog_name="latentspace")  # one process: the patch applies
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_one_line_per_request_and_one_traceback_per_error(tmp_path: Path) -> None:
    port = _free_port()
    script = tmp_path / "boom_serve.py"
    script.write_text(BOOM)
    env = {**os.environ, "LATENTSPACE_DATA_DIR": str(tmp_path / "data"), "LATENTSPACE_LOG_FORMAT": "json"}
    env.pop("LATENTSPACE_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        command = [sys.executable, str(script), str(port)]
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120  # start-up guard only, not a timing assertion
            while True:
                try:
                    if _get(f"{base}/health/live") == 200:
                        break
                except OSError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.2)
            assert _get(f"{base}/health/ready") == 200
            assert _get(f"{base}/v1/collections") == 500
        finally:
            server.terminate()
            server.wait(30)
    text = log.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert not any(r.get("logger") == "uvicorn.access" for r in records), "uvicorn's access log is on"
    ours = [(r["path"], r["status"]) for r in records if r.get("logger") == "latentspace.request"]
    assert ("/health/ready", 200) in ours and ours.count(("/v1/collections", 500)) == 1, ours
    assert text.count("Traceback (most recent call last)") == 1, text[-4000:]
    assert text.count("RuntimeError: boom for the log test") == 1, text[-4000:]
