"""Issue 18, class 5: unbounded work under the write lock.

A per-document size limit (413 from the API with nothing written; a per-file failure from the CLI while
the rest goes on; an oversized document is never chunked or embedded), and a writer that has to wait
for the data dir's write lock says who holds it instead of waiting silently.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli_app
from core.writelock import WriteLock
from ingest import pipeline
from ingest.readers import SourceDocument

ROOT = Path(__file__).resolve().parents[2]
DIM = 384


def _vector_doc(i: int, text: str) -> dict:
    vector = np.random.default_rng(i).normal(size=DIM).astype(np.float32)
    return {"id": f"d{i}", "text": text, "metadata": {"i": i}, "vector": (vector / np.linalg.norm(vector)).tolist()}


def test_api_refuses_an_oversized_document_with_413_and_writes_nothing(sqlite_engine) -> None:  # noqa: ANN001
    settings = sqlite_engine.settings.model_copy(update={"max_document_chars": 1000})
    sqlite_engine.context.settings = settings
    with TestClient(create_app(settings, engine=sqlite_engine)) as client:
        assert client.post("/v1/collections", json={"name": "c"}).status_code == 201
        batch = [_vector_doc(0, "small"), _vector_doc(1, "x" * 1001), _vector_doc(2, "also small")]
        response = client.post("/v1/collections/c/documents", json={"documents": batch})
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "payload_too_large"
        assert "1000" in response.json()["error"]["message"]
        assert client.get("/v1/collections/c/documents").json()["total"] == 0
        exactly = client.post("/v1/collections/c/documents", json={"documents": [_vector_doc(3, "y" * 1000)]})
        assert exactly.status_code == 200, exactly.text


def test_service_fails_only_the_oversized_document_before_chunking(sqlite_engine, monkeypatch) -> None:  # noqa: ANN001
    sqlite_engine.context.settings = sqlite_engine.settings.model_copy(update={"max_document_chars": 200})
    sqlite_engine.create_collection("c")
    chunked: list[int] = []
    original = pipeline.chunk_documents

    def spy(batch, *args):  # noqa: ANN001, ANN002, ANN202
        chunked.extend(len(item.source.text) for item in batch)
        return original(batch, *args)

    monkeypatch.setattr(pipeline, "chunk_documents", spy)
    docs = [SourceDocument("a", "a short note", None), SourceDocument("big", "word " * 100, None)]
    docs.append(SourceDocument("b", "another short note", None))
    report = sqlite_engine.ingest("c", docs)
    assert (report.added, report.failed) == (2, 1)
    assert any("big" in e and "limit of 200" in e for e in report.errors)
    assert chunked and max(chunked) <= 200  # the oversized text never reached chunking or the embedder


def test_cli_reports_an_oversized_file_in_one_line_and_goes_on(env, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("LATENTSPACE_MAX_DOCUMENT_CHARS", "500")
    docs = env / "docs"
    docs.mkdir()
    (docs / "small.txt").write_text("Lava flows from an erupting volcano.")
    (docs / "huge.txt").write_text("bread " * 200)
    (docs / "other.md").write_text("The moon orbits the earth.")
    result = CliRunner().invoke(cli_app, ["ingest", str(docs), "-c", "c"])
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and "huge.txt" in failed[0] and "LATENTSPACE_MAX_DOCUMENT_CHARS" in failed[0]
    summary = [line for line in result.stdout.splitlines() if line.startswith("│") and any(c.isdigit() for c in line)]
    assert [cell.strip() for cell in summary[-1].strip("│").split("│")][:4] == ["2", "0", "0", "1"]


def _wait_for(records: list[logging.LogRecord], text: str, done: threading.Event) -> bool:
    """Wait (without a timing assertion: the deadline only stops a hung test) until a record says ``text``."""
    for _ in range(600):
        if any(text in r.getMessage() for r in records):
            return True
        done.wait(0.05)
    return False


def test_a_writer_waiting_for_another_process_says_who_holds_the_lock(tmp_path, caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.WARNING, logger="core.writelock")
    holder = WriteLock(tmp_path / ".write.lock")
    # another WriteLock object opens the file again: its flock conflicts as another process's would
    waiter = WriteLock(tmp_path / ".write.lock", notice_after=0.01, notice_every=0.01)
    holder.acquire()
    got = threading.Event()
    thread = threading.Thread(target=lambda: (waiter.acquire(), got.set(), waiter.release()))
    thread.start()
    try:
        assert _wait_for(caplog.records, "waiting for the write lock", got)
        assert not got.is_set()
        message = next(r.getMessage() for r in caplog.records if "waiting for" in r.getMessage())
        assert f"pid {os.getpid()}" in message and str(tmp_path / ".write.lock") in message
    finally:
        holder.release()
        thread.join(timeout=60)
    assert got.is_set()
    assert any("got the write lock" in r.getMessage() for r in caplog.records)


def test_a_writer_waiting_for_another_thread_says_so(tmp_path, caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.WARNING, logger="core.writelock")
    lock = WriteLock(tmp_path / ".write.lock", notice_after=0.01, notice_every=0.01)
    lock.acquire()
    got = threading.Event()
    thread = threading.Thread(target=lambda: (lock.acquire(), got.set(), lock.release()))
    thread.start()
    try:
        assert _wait_for(caplog.records, "another thread of this process", got)
    finally:
        lock.release()
        thread.join(timeout=60)
    assert got.is_set()


@pytest.mark.slow
def test_the_cli_says_it_waits_for_a_writer_in_another_process(tmp_path) -> None:  # noqa: ANN001
    data = tmp_path / "data"
    environment = {**os.environ, "LATENTSPACE_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    environment.pop("LATENTSPACE_DATABASE_URL", None)
    holder = WriteLock(data / ".write.lock")
    holder.acquire()
    command = [sys.executable, "-m", "cli.main", "collections", "delete", "nope", "--yes"]
    process = subprocess.Popen(command, cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()
    try:
        first = lines.get(timeout=120)  # stops a hung test only; the notice comes after NOTICE_AFTER seconds
        assert "waiting for the write lock" in first and f"pid {os.getpid()}" in first
    finally:
        holder.release()
    assert process.wait(timeout=120) == 1
