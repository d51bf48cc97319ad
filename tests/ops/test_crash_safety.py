"""SIGKILL an ingesting process at random points; after restart the index equals the database.
SIGKILL a process saving fitted latent models; the saved model is always the old or the new one, whole."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from multiprocessing.context import ForkServerContext
from pathlib import Path

import numpy as np
import pytest

from latent.maps import FittedMap
from services.engine import Engine
from services.search.types import SearchRequest
from store import repositories as repo
from store.migrate import upgrade
from tests.ops.conftest import unit_vectors
from tests.ops.crash_writer import DOCS, ingest_until_killed, latent_maps, save_maps_until_killed

TRIALS = int(os.environ.get("LATENTSPACE_CRASH_TRIALS", "10"))  # each trial kills a fresh writer process


@pytest.fixture(scope="module")
def writers() -> ForkServerContext:
    """Writer processes forked from a server that imported the writer once (a fork per trial, not a start)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.ops.crash_writer"])
    return context


def _ingest_until_killed(writers: ForkServerContext, data_dir: Path, start: int, rng: random.Random) -> None:
    receive, send = writers.Pipe(duplex=False)
    writer = writers.Process(target=ingest_until_killed, args=(str(data_dir), start, send), daemon=True)
    writer.start()
    send.close()
    try:
        for _ in range(rng.randint(1, 4)):  # each message = one committed ingest call
            message = receive.recv()  # EOFError: the writer died without a word (e.g. killed by the OS)
            assert isinstance(message, int), f"the writer failed:\n{message}"
        time.sleep(rng.uniform(0, 0.05))  # so the kill lands anywhere in the next call: commit, index save...
    finally:
        writer.kill()
        writer.join()
        receive.close()
    assert writer.exitcode == -signal.SIGKILL  # it was killed mid-work, not dead of its own error


def _check_consistent(settings, embedders, vectors: np.ndarray) -> int:  # noqa: ANN001
    engine = Engine(settings, embedders=embedders)  # a restart: indexes are loaded (and repaired) from disk
    try:
        with engine.sessions() as session:
            collection = repo.get_collection(session, "crash")
            db_ids = repo.chunk_ids(session, collection.id)
            docs, chunks = repo.collection_counts(session, collection.id)
        index = engine.indexes.get(collection)
        assert np.array_equal(np.sort(index.ids()), db_ids) and docs == chunks  # one chunk per document
        for doc in engine.list_documents("crash", 0, 1000)[0][-5:]:  # the newest committed documents
            i = int(doc["id"][1:])
            assert doc["metadata"] == {"i": i}
            hits = engine.search("crash", SearchRequest(vector=vectors[i].tolist(), k=1)).hits
            assert hits[0].id == doc["id"] and hits[0].text == f"document number {i}"
        return docs
    finally:
        engine.close()


def test_sigkill_during_ingest_loses_nothing_committed(writers, sqlite_settings, embedders) -> None:  # noqa: ANN001
    rng = random.Random(6)
    sqlite_settings.data_dir.mkdir(parents=True)
    upgrade(sqlite_settings.resolved_database_url())
    vectors = unit_vectors(DOCS, seed=1)
    committed = 0
    for _trial in range(TRIALS):
        _ingest_until_killed(writers, sqlite_settings.data_dir, committed, rng)
        now = _check_consistent(sqlite_settings, embedders, vectors)
        assert now >= committed + 7  # every acknowledged batch survived the kill
        committed = now


def _save_until_killed(writers: ForkServerContext, directory: Path, rng: random.Random) -> int:
    """Let a writer finish 1-3 saves, kill it at a random point of the next one; return the saves finished."""
    receive, send = writers.Pipe(duplex=False)
    writer = writers.Process(target=save_maps_until_killed, args=(str(directory), send), daemon=True)
    writer.start()
    send.close()
    try:
        for _ in range(rng.randint(1, 3)):
            message = receive.recv()
            assert isinstance(message, int), f"the writer failed:\n{message}"
        time.sleep(rng.uniform(0, 0.2))  # a save takes ~0.1-0.3 s: the kill lands in writes, checksums, swap
    finally:
        writer.kill()
        writer.join()
        receive.close()
    assert writer.exitcode == -signal.SIGKILL
    return message


def test_sigkill_while_saving_a_latent_model_leaves_a_whole_one(writers, tmp_path: Path) -> None:  # noqa: ANN001
    rng = random.Random(7)
    maps = latent_maps()
    directory = tmp_path / "latent" / "map-1"
    seen = set()
    for _trial in range(TRIALS):
        last = _save_until_killed(writers, directory, rng)
        loaded = FittedMap.load(directory)  # restores an interrupted swap; checksums every file
        which = [i for i, m in enumerate(maps) if np.array_equal(m.anchors, loaded.anchors)]
        assert which in ([last % 2], [(last + 1) % 2])  # the last finished save, or the one killed after its swap
        assert np.array_equal(maps[which[0]].basis, loaded.basis) and loaded.method == "umap"
        seen.add(which[0])
    assert seen == {0, 1} or TRIALS < 4  # both models were the survivor at some point
