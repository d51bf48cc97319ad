"""Keeps each collection's vector index loaded, in step with the database, and saved atomically.

The database is the source of truth. On first use an index is loaded from its directory and
checked against the stored chunk ids; a missing or corrupt index is rebuilt from the stored
vectors, and a stale one (e.g. after a crash between commit and save) is repaired in place.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from core.errors import IndexCorrupt
from core.writelock import WriteLock, file_lock
from index.base import VectorIndex
from index.registry import create_index, default_kind, load_index
from store import repositories as repo
from store.models import Collection

log = logging.getLogger(__name__)


@dataclass
class LoadedIndex:
    index: VectorIndex
    stamp: int  # manifest mtime when loaded/saved; another process's save changes it


class IndexManager:
    def __init__(
        self,
        root: Path,
        sessions: sessionmaker[Session],
        exact_threshold: int,
        write_lock: WriteLock | None = None,
    ) -> None:
        self.root = root
        self.write_lock = write_lock  # saves only by the data dir's writer (see core/writelock.py)
        self._sessions = sessions
        self._exact_threshold = exact_threshold
        self._loaded: dict[int, LoadedIndex] = {}
        self._manifests: dict[int, str] = {}  # collection id -> manifest path, stat-ed on every search
        self._lock = threading.RLock()

    def directory(self, collection_id: int) -> Path:
        return self.root / str(collection_id) / "vector"

    def get(self, collection: Collection) -> VectorIndex:
        with self._lock:
            loaded = self._loaded.get(collection.id)
            if loaded is not None and loaded.stamp == self._stamp(collection.id):
                return loaded.index
            index = self._open(collection)
            self._loaded[collection.id] = LoadedIndex(index, self._stamp(collection.id))
            return index

    def _stamp(self, collection_id: int) -> int:
        try:
            return os.stat(self._manifests[collection_id]).st_mtime_ns
        except KeyError:
            self._manifests[collection_id] = str(self.directory(collection_id) / "manifest.json")
            return self._stamp(collection_id)
        except OSError:
            return -1

    def _open(self, collection: Collection) -> VectorIndex:
        directory = self.directory(collection.id)
        try:
            with file_lock(self.root / str(collection.id) / ".swap.lock", exclusive=False):
                index = load_index(directory)
        except IndexCorrupt as exc:
            if directory.exists():
                log.warning(
                    "index of %r unreadable (%s); rebuilding from stored vectors", collection.name, exc
                )
            return self._rebuild_and_save(collection)
        if index.dim != collection.embedder_dim:
            return self._rebuild_and_save(collection)
        if self.repair(collection, index):
            self._save(collection.id, index)
        return index

    def repair(self, collection: Collection, index: VectorIndex) -> bool:
        """Make the index hold exactly the stored chunk ids; True if anything changed."""
        with self._sessions() as session:
            db_ids = repo.chunk_ids(session, collection.id)
            index_ids = index.ids()
            missing = np.setdiff1d(db_ids, index_ids, assume_unique=True)
            extra = np.setdiff1d(index_ids, db_ids, assume_unique=True)
            if len(extra):
                index.remove(extra)
            for ids, vectors in repo.iter_vectors(
                session, collection.id, collection.embedder_dim, ids=missing
            ):
                index.add(ids, vectors)
        if len(missing) or len(extra):
            log.warning(
                "index of %r repaired: %d added, %d removed", collection.name, len(missing), len(extra)
            )
        return bool(len(missing) or len(extra))

    def rebuild(self, collection: Collection) -> VectorIndex:
        with self._lock:
            index = self._rebuild_and_save(collection)
            self._loaded[collection.id] = LoadedIndex(index, self._stamp(collection.id))
            return index

    def _rebuild_and_save(self, collection: Collection) -> VectorIndex:
        with self._sessions() as session:
            count = len(repo.chunk_ids(session, collection.id))
            index = create_index(
                self.kind_for(collection, count), collection.embedder_dim, collection.index_params
            )
            for ids, vectors in repo.iter_vectors(session, collection.id, collection.embedder_dim):
                index.add(ids, vectors)
        self._save(collection.id, index)
        return index

    def kind_for(self, collection: Collection, count: int) -> str:
        return collection.index_kind or default_kind(count, self._exact_threshold)

    def save(self, collection: Collection) -> None:
        """Persist after writes; an automatic-kind index that outgrew exact search is rebuilt first."""
        with self._lock:
            loaded = self._loaded.get(collection.id)
            if loaded is None:
                return
            if loaded.index.kind != self.kind_for(collection, len(loaded.index)):
                self.rebuild(collection)
                return
            self._save(collection.id, loaded.index)
            loaded.stamp = self._stamp(collection.id)

    def _save(self, collection_id: int, index: VectorIndex) -> None:
        # A reader that repaired its copy in memory while another thread or process writes must not
        # race the writer's save; it leaves saving to the writer.
        if self.write_lock is not None and not self.write_lock.acquire(blocking=False):
            return
        try:
            directory = self.directory(collection_id)
            with file_lock(directory.parent / ".swap.lock", exclusive=True):
                index.save(directory)
        finally:
            if self.write_lock is not None:
                self.write_lock.release()

    def drop(self, collection_id: int) -> None:
        import shutil

        with self._lock:
            self._loaded.pop(collection_id, None)
            shutil.rmtree(self.root / str(collection_id), ignore_errors=True)
