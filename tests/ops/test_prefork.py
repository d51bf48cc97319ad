"""``serve --workers 2`` with what the parent loads before the fork (issue 17): the hit table and summed metrics.

Real processes on a real port, each connection traced to its worker (tests/ops/test_workers.py's Workers). The
parent builds the hit table (services/hittable.py) before forking: searches are served from it until a write,
and must show a write made through the other worker at once (no stale row). ``/metrics`` on either worker sums
both workers' counters (prometheus_client's multiprocess mode in a directory private to the run, removed when
the server stops).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from ingest.readers import SourceDocument
from services.engine import Engine
from store.migrate import upgrade
from tests.ops.conftest import unit_vectors
from tests.ops.test_workers import Workers, serving_workers

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
VECTORS = unit_vectors(8, seed=23)


@pytest.fixture
def server(tmp_path: Path, embedders):  # noqa: ANN001, ANN201
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    upgrade(settings.resolved_database_url())
    engine = Engine(settings, embedders=embedders)
    engine.create_collection("p")
    engine.ingest("p", [SourceDocument(f"d{i}", f"old text {i}", None, {"v": 1}) for i in range(8)],
                  vectors={f"d{i}": VECTORS[i] for i in range(8)})
    engine.close()
    (tmp_path / "tmp").mkdir()
    with serving_workers(settings.data_dir, tmp_path / "serve.log", TMPDIR=str(tmp_path / "tmp")) as workers:
        yield workers


def _call(workers: Workers, pid: int, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    conn = workers.dial(pid)
    try:
        payload = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=payload, headers={"content-type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _hits(workers: Workers, pid: int, body: dict) -> dict[str, dict]:
    status, raw = _call(workers, pid, "POST", "/v1/collections/p/search", body)
    assert status == 200, raw
    return {hit["id"]: hit for hit in json.loads(raw)["hits"]}


def _upsert(workers: Workers, pid: int, text: str, metadata: dict) -> None:
    docs = [{"id": f"d{i}", "text": f"{text} {i}", "metadata": metadata, "vector": VECTORS[i].tolist()}
            for i in range(8)]
    status, raw = _call(workers, pid, "POST", "/v1/collections/p/documents", {"documents": docs})
    assert status == 200, raw


def _metrics_dirs(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "tmp").glob("latentspace-metrics-*"))


def _metric(text: str, name: str) -> float:
    found = re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, flags=re.MULTILINE)
    return sum(float(value) for value in found)


def test_hits_come_from_the_table_until_another_workers_write(server) -> None:  # noqa: ANN001
    a, b = server.pids
    assert "hit table 8 rows" in server.log.read_text(errors="replace")
    query = {"vector": VECTORS[2].tolist(), "k": 8}
    for pid in (a, b):
        hits = _hits(server, pid, query)
        assert len(hits) == 8 and hits["d2"]["metadata"] == {"v": 1} and hits["d2"]["text"] == "old text 2"
    _upsert(server, b, "old text", {"v": 2})  # metadata only: every chunk keeps its id (and its table row)
    for pid in (a, b):
        assert {hit["metadata"]["v"] for hit in _hits(server, pid, query).values()} == {2}
    _upsert(server, a, "new text", {"v": 3})
    for pid in (b, a):
        hits = _hits(server, pid, query)
        assert hits["d2"]["text"] == "new text 2" and {hit["metadata"]["v"] for hit in hits.values()} == {3}


def test_metrics_sum_both_workers_and_their_directory_goes_with_the_server(server, tmp_path: Path) -> None:  # noqa: ANN001
    a, b = server.pids
    for pid in (a, b):
        for _ in range(5):
            _hits(server, pid, {"vector": VECTORS[1].tolist(), "k": 3})
    for _ in range(2):  # the first loads the model in worker a (a miss), the second is a cache hit
        _hits(server, a, {"query": "old text", "k": 3})
    assert len(_metrics_dirs(tmp_path)) == 1  # the run's private metrics directory
    for pid in (b, a):
        status, raw = _call(server, pid, "GET", "/metrics")
        text = raw.decode()
        assert status == 200
        assert _metric(text, "latentspace_searches_total") >= 12, text
        assert _metric(text, "latentspace_http_requests_total") >= 12
        assert _metric(text, "latentspace_query_cache_misses_total") == 1
        assert _metric(text, "latentspace_query_cache_hits_total") == 1
        assert _metric(text, "latentspace_index_vectors") == 8
    server.server.terminate()
    assert server.server.wait(timeout=60) == 0
    assert _metrics_dirs(tmp_path) == [], "the metrics directory outlived the server"


def test_a_killed_servers_metrics_directory_is_removed_by_the_next(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from cli.workers import METRICS_DIR_PREFIX, shared_metrics_dir

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"{METRICS_DIR_PREFIX}{int(gone.stdout)}-x"
    alive = tmp_path / f"{METRICS_DIR_PREFIX}{os.getppid()}-y"
    orphan.mkdir()
    alive.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "restored after the test")  # the context sets it for good
    with shared_metrics_dir() as directory:
        assert Path(directory).parent == tmp_path
        assert Path(directory).name.startswith(f"{METRICS_DIR_PREFIX}{os.getpid()}-")
        assert not orphan.exists() and alive.exists()
    assert not Path(directory).exists() and alive.exists()
