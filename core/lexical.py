"""The lexical (BM25) index of each collection, kept in step with the database as a write listener.

Registered on the Engine (core/listeners.py): every committed delta is applied to the collection's
:class:`~index.lexical.Bm25Index`, saved after each write, dropped with the collection. On first use the
saved index is checked against the stored chunk ids, like the vector index: missing chunks are analysed
from their stored text, extra ones removed, and a missing, unreadable or differently-configured index is
rebuilt from the database. Analysis options live in ``Collection.options["lexical"]``.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.errors import IndexCorrupt
from index.lexical import Bm25Index, LexicalOptions
from ingest.pipeline import IndexDelta
from store import repositories as repo
from store.models import Chunk, Collection

if TYPE_CHECKING:
    from core.engine import Engine

log = logging.getLogger(__name__)


def lexical_options(collection: Collection) -> LexicalOptions:
    return LexicalOptions.from_dict((collection.options or {}).get("lexical"))


class LexicalIndexes:
    """One BM25 index per collection under ``root/<collection id>/lexical``."""

    name = "lexical"

    def __init__(self, root: Path, sessions: sessionmaker[Session]) -> None:
        self.root = root
        self._sessions = sessions
        self._loaded: dict[int, tuple[Bm25Index, int]] = {}  # id → (index, manifest mtime)
        self._lock = threading.RLock()

    def directory(self, collection_id: int) -> Path:
        return self.root / str(collection_id) / "lexical"

    def get(self, collection: Collection) -> Bm25Index:
        with self._lock:
            loaded = self._loaded.get(collection.id)
            if loaded is not None and loaded[1] == self._stamp(collection.id):
                return loaded[0]
            index = self._open(collection)
            self._loaded[collection.id] = (index, self._stamp(collection.id))
            return index

    def _stamp(self, collection_id: int) -> int:
        try:
            return os.stat(self.directory(collection_id) / "manifest.json").st_mtime_ns
        except OSError:
            return -1

    def _open(self, collection: Collection) -> Bm25Index:
        directory = self.directory(collection.id)
        try:
            index = Bm25Index.load(directory)
        except IndexCorrupt as exc:
            if directory.exists():
                log.warning("lexical index of %r unreadable (%s); rebuilding", collection.name, exc)
            return self._rebuild_and_save(collection)
        if index.options != lexical_options(collection):
            return self._rebuild_and_save(collection)
        if self._repair(collection, index):
            self._save(collection.id, index)
        return index

    def _repair(self, collection: Collection, index: Bm25Index) -> bool:
        with self._sessions() as session:
            db_ids = repo.chunk_ids(session, collection.id)
            missing = np.setdiff1d(db_ids, index.ids())
            extra = np.setdiff1d(index.ids(), db_ids)
            index.remove(extra)
            for ids, texts in _iter_texts(session, collection.id, missing):
                index.add(ids, texts)
        if len(missing) or len(extra):
            log.warning("lexical index of %r repaired: %d added, %d removed", collection.name, len(missing), len(extra))
        return bool(len(missing) or len(extra))

    def _rebuild_and_save(self, collection: Collection) -> Bm25Index:
        index = Bm25Index(lexical_options(collection))
        with self._sessions() as session:
            for ids, texts in _iter_texts(session, collection.id, None):
                index.add(ids, texts)
        self._save(collection.id, index)
        return index

    def _save(self, collection_id: int, index: Bm25Index) -> None:
        index.save(self.directory(collection_id))

    # -- WriteListener ------------------------------------------------------------------------
    def apply(self, collection: Collection, delta: IndexDelta) -> None:
        with self._lock:
            index = self.get(collection)
            index.remove(delta.removed_ids)
            index.add(delta.added_ids, delta.added_texts)

    def save(self, collection: Collection) -> None:
        with self._lock:
            loaded = self._loaded.get(collection.id)
            if loaded is None:
                return
            self._save(collection.id, loaded[0])
            self._loaded[collection.id] = (loaded[0], self._stamp(collection.id))

    def rebuild(self, collection: Collection) -> None:
        with self._lock:
            index = self._rebuild_and_save(collection)
            self._loaded[collection.id] = (index, self._stamp(collection.id))

    def drop(self, collection_id: int) -> None:
        with self._lock:
            self._loaded.pop(collection_id, None)
            shutil.rmtree(self.directory(collection_id), ignore_errors=True)


def _iter_texts(session: Session, collection_id: int, ids: np.ndarray | None, batch: int = 2000):  # noqa: ANN202
    """Yield (chunk ids, texts) batches of stored chunks, all of the collection or just ``ids``."""
    stmt = select(Chunk.id, Chunk.text).where(Chunk.collection_id == collection_id).order_by(Chunk.id)
    if ids is None:
        rows = session.execute(stmt.execution_options(yield_per=batch))
        for part in rows.partitions(batch):
            yield [r[0] for r in part], [r[1] for r in part]
        return
    wanted = [int(i) for i in ids]
    for start in range(0, len(wanted), 500):
        part = session.execute(stmt.where(Chunk.id.in_(wanted[start : start + 500]))).all()
        yield [r[0] for r in part], [r[1] for r in part]


def configure_lexical(engine: Engine, name: str, raw: dict[str, Any]) -> LexicalOptions:
    """Validate and store a collection's lexical options, then rebuild its BM25 index with them."""
    options = LexicalOptions.from_dict(raw)
    with engine._write_lock, engine.sessions.begin() as session:
        collection = repo.get_collection(session, name)
        collection.options = {**(collection.options or {}), "lexical": raw}
    listener = next((lst for lst in engine.listeners if lst.name == "lexical"), None)
    if listener is not None:
        with engine.sessions() as session:
            listener.rebuild(repo.get_collection(session, name))
    return options
