"""``latentspace serve --workers 2``: each worker sees the other's writes, and none loads torch before a text query.

Which worker answers is up to the kernel, so each HTTP connection is traced to the worker process that
holds its server-side socket (/proc/net/tcp and the workers' descriptors): the test then writes through one
worker and reads through the other, both ways. Torch being loaded shows in a process's memory maps
(libtorch), so a vector-only worker is checked from outside, and a text query is the positive control.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.settings import Settings
from services.engine import Engine
from store.migrate import upgrade
from tests.ops.conftest import unit_vectors

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")

REPO = Path(__file__).resolve().parents[2]
VECTORS = unit_vectors(40, seed=17)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _server_socket_inode(server_port: int, client_port: int) -> str | None:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == server_port and int(remote, 16) == client_port:
            return fields[9]
    return None


def _owner(workers: list[int], inode: str) -> int | None:
    target = f"socket:[{inode}]"
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    payload = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=payload, headers={"content-type": "application/json"})
    response = conn.getresponse()
    raw = response.read()
    return response.status, json.loads(raw) if raw else {}


def _has_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


@pytest.fixture
def two_workers(tmp_path: Path, embedders):  # noqa: ANN001, ANN201
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    upgrade(settings.resolved_database_url())
    engine = Engine(settings, embedders=embedders)
    engine.create_collection("w")  # made here: the servers never need the model for it
    engine.close()
    port = _free_port()
    env = dict(os.environ, LATENTSPACE_DATA_DIR=str(settings.data_dir), HF_HUB_OFFLINE="1")
    env.pop("LATENTSPACE_DATABASE_URL", None)
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", "2"]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield server, port, _connections_by_worker(server, port, tmp_path / "serve.log")
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def _connections_by_worker(server: subprocess.Popen, port: int, log: Path) -> dict[int, http.client.HTTPConnection]:
    """One open connection to each of the two workers (new connections until both answered one)."""
    deadline = time.monotonic() + 120  # start-up guard, not a timing assertion
    by_worker: dict[int, http.client.HTTPConnection] = {}
    while len(by_worker) < 2:
        assert server.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"did not reach two workers: {log.read_text(errors='replace')[-3000:]}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            assert _request(conn, "GET", "/health/live")[0] == 200
        except OSError:
            time.sleep(0.3)
            continue
        workers = _children(server.pid)
        owner = _owner(workers, _server_socket_inode(port, conn.sock.getsockname()[1]) or "")
        if owner is not None and owner not in by_worker:
            by_worker[owner] = conn
        else:
            conn.close()
    return by_worker


def _search(conn: http.client.HTTPConnection, i: int) -> list[str]:
    status, body = _request(conn, "POST", "/v1/collections/w/search", {"vector": VECTORS[i].tolist(), "k": 3})
    assert status == 200, body
    return [hit["id"] for hit in body["hits"]]


def _docs(ids: range) -> dict:
    return {"documents": [{"id": f"d{i}", "text": f"document {i}", "vector": VECTORS[i].tolist()} for i in ids]}


def test_each_worker_sees_the_others_writes_and_loads_no_model_for_vectors(two_workers) -> None:  # noqa: ANN001
    _server, _port, by_worker = two_workers
    (pid_a, a), (pid_b, b) = by_worker.items()
    assert pid_a != pid_b
    for writer, reader, ids in ((a, b, range(0, 20)), (b, a, range(20, 40))):
        assert f"d{ids[0]}" not in _search(reader, ids[0])
        status, body = _request(writer, "POST", "/v1/collections/w/documents", _docs(ids))
        assert status == 200 and body["added"] == len(ids), body
        assert _search(reader, ids[0])[0] == f"d{ids[0]}"  # the other worker, on its next request
        status, _ = _request(writer, "DELETE", f"/v1/collections/w/documents/d{ids[1]}")
        assert status == 204
        assert f"d{ids[1]}" not in _search(reader, ids[1])
    for conn in (a, b):
        assert _request(conn, "GET", "/v1/collections/w")[1]["documents"] == 38
    assert not _has_torch(pid_a) and not _has_torch(pid_b), "a vector-only worker loaded torch"
    status, body = _request(a, "POST", "/v1/collections/w/search", {"query": "document 3", "k": 3})
    assert status == 200, body
    assert _has_torch(pid_a), "the text query should have loaded the model (the check above can fail)"
    assert not _has_torch(pid_b)
