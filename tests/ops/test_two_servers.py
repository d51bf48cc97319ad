"""Two real `latentspace serve` processes on one data dir: writes in one are seen by the other, no errors.

This is the multi-worker deployment: one process writes (the data dir's write lock), the other reads its
own copy of the indexes and reloads them when the writer's save changes the manifest.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.ops.conftest import unit_vectors

pytestmark = pytest.mark.slow  # each server process loads the real embedding model

REPO = Path(__file__).resolve().parents[2]
VECTORS = unit_vectors(60, seed=11)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, LATENTSPACE_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1")
    env.pop("LATENTSPACE_DATABASE_URL", None)
    command = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)


def _wait_ready(client: httpx.Client, process: subprocess.Popen, log: Path) -> None:
    for _ in range(600):  # bounded by attempts; each waits at most 0.5 s
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"server exited with {process.returncode}:\n{tail}")
        try:
            if client.get("/health/live", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            threading.Event().wait(0.2)
    pytest.fail("server did not become ready")


def _docs(ids: range) -> dict:
    return {"documents": [{"id": f"d{i}", "text": f"document {i}", "vector": VECTORS[i].tolist()} for i in ids]}


def _hit_ids(client: httpx.Client, i: int) -> set[str]:
    response = client.post("/v1/collections/w/search", json={"vector": VECTORS[i].tolist(), "k": 3})
    assert response.status_code == 200, response.text
    return {h["id"] for h in response.json()["hits"]}


@pytest.fixture
def servers(tmp_path: Path):  # noqa: ANN201
    processes, clients, logs = [], [], [tmp_path / "a.log", tmp_path / "b.log"]
    for log in logs:  # both start at once, as two workers of one deployment do
        port = _free_port()
        processes.append(_start(tmp_path / "data", port, log))
        clients.append(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120))
    try:
        for client, process, log in zip(clients, processes, logs, strict=True):
            _wait_ready(client, process, log)
        yield clients
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for client in clients:
            client.close()


def _search_forever(client: httpx.Client, stop: threading.Event, errors: list[str]) -> None:
    i = 0
    while not stop.is_set():
        try:
            _hit_ids(client, i % len(VECTORS))
        except (AssertionError, httpx.HTTPError) as exc:  # collected and asserted empty below
            errors.append(repr(exc))
        i += 1


def test_writes_in_one_server_are_seen_by_the_other(servers) -> None:  # noqa: ANN001
    a, b = servers
    assert a.post("/v1/collections", json={"name": "w"}).status_code == 201
    stop, errors = threading.Event(), []
    reader = threading.Thread(target=_search_forever, args=(b, stop, errors))
    reader.start()
    try:
        for writer, other, ids in ((a, b, range(0, 30)), (b, a, range(30, 60))):
            assert writer.post("/v1/collections/w/documents", json=_docs(ids)).status_code == 200
            assert f"d{ids[0]}" in _hit_ids(other, ids[0])  # the other server sees the new documents
            for gone in ids[::6]:
                assert writer.delete(f"/v1/collections/w/documents/d{gone}").status_code == 204
                assert f"d{gone}" not in _hit_ids(other, gone)  # no hit once the delete returned
    finally:
        stop.set()
        reader.join(timeout=60)
    assert errors == []
    for client in (a, b):
        info = client.get("/v1/collections/w").json()
        assert info["documents"] == info["chunks"] == 50
