"""Searches during ingest and delete: threads in one engine, and two engines (workers) on one data dir."""

from __future__ import annotations

import threading

from ingest.readers import SourceDocument
from services.search.types import SearchRequest
from tests.conftest import make_engine
from tests.ops.conftest import unit_vectors

DOCS = 100  # 5 ingest rounds per worker, each followed by 5 deletes checked from the other worker
VECTORS = unit_vectors(DOCS, seed=3)


def _ingest(engine, ids) -> None:  # noqa: ANN001
    docs = [SourceDocument(f"d{i}", f"document number {i}", None, {"i": i}) for i in ids]
    engine.ingest("cc", docs, vectors={f"d{i}": VECTORS[i] for i in ids})


def _search_loop(engine, stop: threading.Event, errors: list) -> None:  # noqa: ANN001
    i = 0
    while not stop.is_set():
        try:
            engine.search("cc", SearchRequest(vector=VECTORS[i % DOCS].tolist(), k=5))
        except Exception as exc:  # any error fails the test below
            errors.append(repr(exc))
        i += 1


def _write_and_check(writer, reader) -> None:  # noqa: ANN001
    for first in range(0, DOCS, 20):
        _ingest(writer, range(first, first + 20))
        for gone in range(first, first + 20, 4):
            writer.delete_document("cc", f"d{gone}")
            hits = reader.search("cc", SearchRequest(vector=VECTORS[gone].tolist(), k=3)).hits
            assert f"d{gone}" not in {h.id for h in hits}


def test_threads_and_two_workers(sqlite_settings, embedders) -> None:  # noqa: ANN001
    worker_a = make_engine(sqlite_settings, embedders)
    worker_b = make_engine(sqlite_settings, embedders)  # a second worker process's view of the data dir
    worker_a.create_collection("cc")
    _ingest(worker_a, range(0, 1))
    stop, errors = threading.Event(), []
    readers = [threading.Thread(target=_search_loop, args=(w, stop, errors)) for w in (worker_a, worker_b) * 2]
    for thread in readers:
        thread.start()
    try:
        _write_and_check(worker_a, worker_b)
        _write_and_check(worker_b, worker_a)  # the other worker writes on top (takes the lock in turn)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    assert errors == []
    for worker in (worker_a, worker_b):
        assert worker.check_index("cc") == worker.collection_info("cc").chunks == DOCS * 3 // 4
        worker.close()
