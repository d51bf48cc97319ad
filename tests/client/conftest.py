"""Fixtures of the client contract suite: one live ``latentspace serve`` per session, and both client kinds.

The server is a real subprocess on a free loopback port with its own data dir (SQLite), API keys required
(one admin key for the remote client, one read key for the scope test). The embedded client opens its own
data dir in this process. Tests share both and isolate themselves by unique collection names.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import latentspace

ROOT = Path(__file__).resolve().parents[2]
LIMITS = {"LATENTSPACE_MAX_BATCH_DOCUMENTS": "50"}  # small, so PayloadTooLarge is cheap to reach


@dataclass(frozen=True)
class Server:
    url: str
    admin_key: str
    read_key: str
    data_dir: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_keys(data_dir: Path) -> tuple[str, str]:
    from core.settings import Settings
    from services.engine import open_engine
    from services.keys import KeyStore

    engine = open_engine(Settings(data_dir=data_dir))
    try:
        keys = KeyStore(engine.sessions)
        return keys.create("tests-admin", ["admin"])[0], keys.create("tests-read", ["read"])[0]
    finally:
        engine.close()


def wait_until_live(url: str, process: subprocess.Popen, log: Path, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"latentspace serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health/live", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"latentspace serve did not come up within {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("server")
    data_dir = base / "data"
    admin_key, read_key = make_keys(data_dir)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATENTSPACE_")}
    env |= {"LATENTSPACE_DATA_DIR": str(data_dir), "LATENTSPACE_LOG_FORMAT": "text", **LIMITS}
    env |= {"PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]), "HF_HUB_OFFLINE": "1"}
    log = base / "serve.log"
    command = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=base, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_live(url, process, log)
        yield Server(url, admin_key, read_key, data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def embedded_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[latentspace.Client]:
    client = latentspace.connect(tmp_path_factory.mktemp("embedded") / "data", max_batch_documents=50)
    yield client
    client.close()


@pytest.fixture(scope="session")
def remote_client(server: Server) -> Iterator[latentspace.Client]:
    # Generous: the server loads the model on its first text request, on a machine the tests share.
    client = latentspace.connect(url=server.url, api_key=server.admin_key, timeout=600.0)
    yield client
    client.close()


@pytest.fixture(params=["embedded", "remote"])
def client(request: pytest.FixtureRequest) -> latentspace.Client:
    """Each contract test runs once per client kind."""
    return request.getfixturevalue(f"{request.param}_client")


@pytest.fixture
def name() -> str:
    """A collection name no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}"
