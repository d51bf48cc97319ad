"""Per-collection index files derived from the database, kept loaded and in step with it.

The database is the source of truth. :class:`DerivedIndexes` is what the vector indexes
(services/sync/vectors.py) and the BM25 indexes (services/sync/lexical.py) share: on first use an index is loaded from
``root/<collection id>/<subdir>`` and checked against the stored chunk ids; a missing, corrupt or
incompatible one is rebuilt from the stored rows, a stale one (e.g. after a crash between commit and
save) is repaired in place. Another process's save changes the manifest's mtime, which makes the next
``get`` reload. Saves are atomic (each index writes temp + rename) and are left to the data dir's
writer (:class:`~core.writelock.WriteLock`), under a short exclusive swap lock that readers share while
they load.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from core.errors import IndexCorrupt
from core.writelock import WriteLock, file_lock
from store import repositories as repo
from store.models import Collection

log = logging.getLogger(__name__)


class DerivedIndex(Protocol):
    def ids(self) -> np.ndarray: ...
    def add(self, ids: Any, payload: Any) -> None: ...
    def remove(self, ids: Any) -> None: ...
    def save(self, directory: Path) -> None: ...
    def __len__(self) -> int: ...


T = TypeVar("T", bound=DerivedIndex)


@dataclass
class LoadedIndex(Generic[T]):
    index: T
    stamp: int  # manifest mtime when loaded/saved; another process's save changes it


class DerivedIndexes(Generic[T]):
    """One index of kind ``T`` per collection under ``root/<collection id>/<subdir>``."""

    subdir: str
    label: str  # how log lines name it

    def __init__(self, root: Path, sessions: sessionmaker[Session], write_lock: WriteLock | None = None) -> None:
        self.root = root
        self.write_lock = write_lock  # saves only by the data dir's writer
        self._sessions = sessions
        self._loaded: dict[int, LoadedIndex[T]] = {}
        self._manifests: dict[int, str] = {}  # collection id -> manifest path, stat-ed on every get
        self._lock = threading.RLock()

    # -- what each kind of index provides ------------------------------------------------------
    def _load(self, directory: Path) -> T:
        """Read a saved index; raises IndexCorrupt when missing or unreadable."""
        raise NotImplementedError

    def _create(self, collection: Collection, count: int) -> T:
        """A new empty index for ``collection``, which stores ``count`` chunks."""
        raise NotImplementedError

    def _compatible(self, collection: Collection, index: T) -> bool:
        """False if the saved index was built with other settings than the collection's (→ rebuild)."""
        return True

    def _stored(self, session: Session, collection: Collection, ids: np.ndarray | None) -> Iterator[tuple[Any, Any]]:
        """Batches of (chunk ids, what ``add`` takes) from the database: all chunks, or just ``ids``."""
        raise NotImplementedError

    # -- shared behaviour ------------------------------------------------------------------------
    def directory(self, collection_id: int) -> Path:
        return self.root / str(collection_id) / self.subdir

    def loaded(self, collection_id: int) -> T | None:
        """The index in memory, if loaded (no disk or database access)."""
        entry = self._loaded.get(collection_id)
        return None if entry is None else entry.index

    def loaded_items(self) -> list[tuple[int, T]]:
        return [(cid, entry.index) for cid, entry in list(self._loaded.items())]

    def get(self, collection: Collection) -> T:
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

    def _open(self, collection: Collection) -> T:
        directory = self.directory(collection.id)
        try:
            with file_lock(directory.parent / ".swap.lock", exclusive=False):
                index = self._load(directory)
        except IndexCorrupt as exc:
            if directory.exists():
                log.warning("%s of %r unreadable (%s); rebuilding from the database", self.label, collection.name, exc)
            return self._rebuild_and_save(collection)
        if not self._compatible(collection, index):
            return self._rebuild_and_save(collection)
        if self.repair(collection, index):
            self._save(collection.id, index)
        return index

    def repair(self, collection: Collection, index: T) -> bool:
        """Make the index hold exactly the stored chunk ids; True if anything changed."""
        with self._sessions() as session:
            db_ids = repo.chunk_ids(session, collection.id)
            index_ids = index.ids()
            missing = np.setdiff1d(db_ids, index_ids, assume_unique=True)
            extra = np.setdiff1d(index_ids, db_ids, assume_unique=True)
            if len(extra):
                index.remove(extra)
            if len(missing):
                for ids, payload in self._stored(session, collection, missing):
                    index.add(ids, payload)
        if len(missing) or len(extra):
            log.warning(
                "%s of %r repaired: %d added, %d removed", self.label, collection.name, len(missing), len(extra)
            )
        return bool(len(missing) or len(extra))

    def rebuild(self, collection: Collection) -> T:
        with self._lock:
            index = self._rebuild_and_save(collection)
            self._loaded[collection.id] = LoadedIndex(index, self._stamp(collection.id))
            return index

    def _rebuild_and_save(self, collection: Collection) -> T:
        with self._sessions() as session:
            index = self._create(collection, len(repo.chunk_ids(session, collection.id)))
            for ids, payload in self._stored(session, collection, None):
                index.add(ids, payload)
        self._save(collection.id, index)
        return index

    def save(self, collection: Collection) -> None:
        """Persist the loaded index after a write."""
        with self._lock:
            loaded = self._loaded.get(collection.id)
            if loaded is None:
                return
            self._save(collection.id, loaded.index)
            loaded.stamp = self._stamp(collection.id)

    def _save(self, collection_id: int, index: T) -> None:
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
        with self._lock:
            self._loaded.pop(collection_id, None)
            shutil.rmtree(self.directory(collection_id), ignore_errors=True)
