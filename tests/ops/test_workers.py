"""``latentspace serve --workers 2``: each worker sees the other's writes, and none loads torch before a text query.

Which worker answers is up to the kernel, so each HTTP connection is traced to the worker process that
holds its server-side socket (/proc/net/tcp and the workers' descriptors): the test then writes through one
worker and reads through the other, both ways. Torch being loaded shows in a process's memory maps
(libtorch), so a vector-only worker is checked from outside, and a text query is the positive control.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from ingest.readers import SourceDocument
from services.engine import Engine
from store.migrate import upgrade
from tests.ops.conftest import unit_vectors

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")

REPO = Path(__file__).resolve().parents[2]
VECTORS = unit_vectors(44, seed=17)


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


def _running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _has_torch(pid: int) -> bool:
    return "libtorch" in Path(f"/proc/{pid}/maps").read_text()


class Workers:
    """The server's two worker processes, and a fresh connection to either on demand.

    Connections are dialled per step: an idle keep-alive connection is closed by the server after a few
    seconds, and a slow write on the other worker must not break the test.
    """

    def __init__(self, server: subprocess.Popen, port: int, log: Path) -> None:
        self.server, self.port, self.log = server, port, log
        self.pids: list[int] = []
        deadline = time.monotonic() + 180  # start-up guard, not a timing assertion
        while len(self.pids) < 2:
            assert server.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, f"two workers never answered: {log.read_text(errors='replace')[-3000:]}"
            found = self._dial_any()
            if found is not None and found[0] not in self.pids:
                self.pids.append(found[0])
            if found is not None:
                found[1].close()

    def _dial_any(self) -> tuple[int, http.client.HTTPConnection] | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            assert _request(conn, "GET", "/health/live")[0] == 200
        except OSError:
            conn.close()
            time.sleep(0.3)
            return None
        inode = _server_socket_inode(self.port, conn.sock.getsockname()[1]) or ""
        owner = _owner(_children(self.server.pid), inode)
        return None if owner is None else (owner, conn)

    def dial(self, pid: int) -> http.client.HTTPConnection:
        for _ in range(500):  # the kernel picks the worker; a few tries reach either
            found = self._dial_any()
            if found is not None and found[0] == pid:
                return found[1]
            if found is not None:
                found[1].close()
        pytest.fail(f"could not reach worker {pid}")


@pytest.fixture
def workers(tmp_path: Path, embedders):  # noqa: ANN001, ANN201
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    upgrade(settings.resolved_database_url())
    engine = Engine(settings, embedders=embedders)
    engine.create_collection("w")  # made here, with its first documents: the servers need no model for them
    engine.ingest("w", [SourceDocument(f"s{i}", f"seed {i}", None, {}) for i in range(40, 44)],
                  vectors={f"s{i}": VECTORS[i] for i in range(40, 44)})
    engine.close()
    with serving_workers(settings.data_dir, tmp_path / "serve.log") as workers:
        yield workers


@contextlib.contextmanager
def serving_workers(data_dir: Path, log_path: Path, **env: str) -> Iterator[Workers]:
    """``latentspace serve --workers 2`` on a free port over ``data_dir`` (its SQLite), stopped on leaving."""
    port = _free_port()
    env = dict(os.environ, LATENTSPACE_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", **env)
    env.pop("LATENTSPACE_DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the server makes its own
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--workers", "2"]
    log = log_path.open("wb")
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield Workers(server, port, log_path)
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def _search(workers: Workers, pid: int, body: dict) -> list[str]:
    conn = workers.dial(pid)
    status, answer = _request(conn, "POST", "/v1/collections/w/search", body)
    conn.close()
    assert status == 200, answer
    return [hit["id"] for hit in answer["hits"]]


def _write(workers: Workers, pid: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    conn = workers.dial(pid)
    try:
        return _request(conn, method, path, body)
    finally:
        conn.close()


def _docs(ids: range) -> dict:
    return {"documents": [{"id": f"d{i}", "text": f"document {i}", "vector": VECTORS[i].tolist()} for i in ids]}


def test_no_worker_loads_torch_before_its_first_text_query(workers) -> None:  # noqa: ANN001
    a, b = workers.pids
    for pid in (a, b):
        assert _search(workers, pid, {"vector": VECTORS[41].tolist(), "k": 2})[0] == "s41"
    assert not _has_torch(a) and not _has_torch(b), "a worker that answered only vector searches loaded torch"
    assert _search(workers, a, {"query": "seed 3", "k": 2})
    assert _has_torch(a), "the text query should have loaded the model (so the check above can fail)"
    assert not _has_torch(b)


def test_each_worker_sees_the_others_writes(workers) -> None:  # noqa: ANN001
    a, b = workers.pids
    for writer, reader, ids in ((a, b, range(0, 20)), (b, a, range(20, 40))):
        assert f"d{ids[0]}" not in _search(workers, reader, {"vector": VECTORS[ids[0]].tolist(), "k": 3})
        status, body = _write(workers, writer, "POST", "/v1/collections/w/documents", _docs(ids))
        assert status == 200 and body["added"] == len(ids), body
        assert _search(workers, reader, {"vector": VECTORS[ids[0]].tolist(), "k": 3})[0] == f"d{ids[0]}"
        assert _write(workers, writer, "DELETE", f"/v1/collections/w/documents/d{ids[1]}")[0] == 204
        assert f"d{ids[1]}" not in _search(workers, reader, {"vector": VECTORS[ids[1]].tolist(), "k": 3})
    for pid in (a, b):
        assert _write(workers, pid, "GET", "/v1/collections/w")[1]["documents"] == 42


def test_a_replaced_worker_sees_the_writes_made_since_the_fork(workers) -> None:  # noqa: ANN001
    """A dead worker is replaced by a fork of the parent, whose indexes were loaded before these writes;
    and when the parent itself is killed, its workers stop."""
    a, b = workers.pids
    status, body = _write(workers, a, "POST", "/v1/collections/w/documents", _docs(range(0, 10)))
    assert status == 200 and body["added"] == 10, body
    os.kill(b, signal.SIGKILL)
    deadline = time.monotonic() + 60  # start-up guard, not a timing assertion
    while not (fresh := [pid for pid in _children(workers.server.pid) if pid not in (a, b)]):
        assert workers.server.poll() is None and time.monotonic() < deadline, workers.log.read_text()[-3000:]
        time.sleep(0.2)
    assert _search(workers, fresh[0], {"vector": VECTORS[3].tolist(), "k": 3})[0] == "d3"
    assert _write(workers, fresh[0], "DELETE", "/v1/collections/w/documents/d4")[0] == 204
    assert "d4" not in _search(workers, a, {"vector": VECTORS[4].tolist(), "k": 3})
    os.kill(workers.server.pid, signal.SIGKILL)  # no worker may outlive the parent (PR_SET_PDEATHSIG, cli/workers.py)
    deadline = time.monotonic() + 60
    while any(_running(pid) for pid in (a, fresh[0])):
        assert time.monotonic() < deadline, "a worker outlived its killed parent"
        time.sleep(0.2)


def _live_children(pid: int) -> list[int]:
    return [child for child in _children(pid) if _running(child)]


def _wait_for(condition, what: str, workers: Workers) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 60  # start-up guard, not a timing assertion
    while not condition():
        assert workers.server.poll() is None, workers.log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"{what}: {workers.log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.2)


def test_ttin_adds_a_worker_ttou_removes_one_and_sigterm_stops_cleanly(workers) -> None:  # noqa: ANN001
    """gunicorn's signals: the added worker is a fork of the parent too and sees writes made before it."""
    a, b = workers.pids
    status, body = _write(workers, a, "POST", "/v1/collections/w/documents", _docs(range(0, 5)))
    assert status == 200 and body["added"] == 5, body
    os.kill(workers.server.pid, signal.SIGTTIN)
    _wait_for(lambda: len(_live_children(workers.server.pid)) == 3, "SIGTTIN added no worker", workers)
    (added,) = [pid for pid in _live_children(workers.server.pid) if pid not in (a, b)]
    assert _search(workers, added, {"vector": VECTORS[2].tolist(), "k": 3})[0] == "d2"
    assert not _has_torch(added)
    os.kill(workers.server.pid, signal.SIGTTOU)
    _wait_for(lambda: len(_live_children(workers.server.pid)) == 2, "SIGTTOU removed no worker", workers)
    survivors = _live_children(workers.server.pid)
    workers.server.terminate()
    assert workers.server.wait(timeout=60) == 0, workers.log.read_text(errors="replace")[-3000:]
    assert not any(_running(pid) for pid in survivors), "a worker outlived a clean SIGTERM"
    lines = workers.log.read_text(errors="replace").splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(entry["logger"] == "latentspace.request" and entry["status"] == 200 for entry in logged)
    assert any(entry["logger"] == "gunicorn.error" for entry in logged), "gunicorn's lines should be JSON too"
    assert not [line for line in lines if line.startswith("[")], "a line outside the JSON log"
