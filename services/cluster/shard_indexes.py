"""One shard's part of each collection's vector and BM25 index, kept like the unsharded ones.

They are :class:`~services.sync.vectors.VectorIndexes` and :class:`~services.sync.lexical.LexicalIndexes`
(same backends, same checksummed saved directories through core/saveddir.py, same rebuild from SQL when
files are missing or damaged) restricted to the chunks with ``shard_of(chunk id, shards) == shard``, under
their own root. Two differences: a loaded index is not reloaded when its files change (replicas of one
shard share the directory; each follows the change log itself), and saving is the shard's own business
(no data-dir write lock: the writer is another process, maybe on another machine).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from index.lexical_shard import ShardBm25
from index.sharding import on_shard, shard_of
from services.sync.derived import LoadedIndex
from services.sync.lexical import LexicalIndexes, lexical_options
from services.sync.vectors import VectorIndexes
from store import changelog
from store import repositories as repo
from store.models import Collection

log = logging.getLogger(__name__)


class ShardSubset:
    """Mixin over a DerivedIndexes: only this shard's chunks, loaded once, repaired against the database."""

    shard: int
    shards: int
    resume_from: int | None = None  # set by the shard before a load: the seq its saved files reflect

    def _stored(self, session: Session, collection: Collection, ids: np.ndarray | None) -> Iterator[tuple[Any, Any]]:
        for batch_ids, payload in super()._stored(session, collection, ids):  # type: ignore[misc]
            ids_arr = np.asarray(batch_ids, dtype=np.int64)
            keep = shard_of(ids_arr, self.shards) == self.shard
            if keep.all():
                yield batch_ids, payload
            elif keep.any():
                yield ids_arr[keep], _select(payload, keep)

    def mine(self, ids: np.ndarray | list[int]) -> np.ndarray:
        return on_shard(ids, self.shard, self.shards)

    def get(self, collection: Collection) -> Any:
        with self._lock:  # type: ignore[attr-defined]
            loaded = self._loaded.get(collection.id)  # type: ignore[attr-defined]
            if loaded is None:
                loaded = LoadedIndex(self._open(collection), 0)  # type: ignore[attr-defined]
                self._loaded[collection.id] = loaded  # type: ignore[attr-defined]
            return loaded.index

    def repair(self, collection: Collection, index: Any) -> bool:
        """Bring a loaded index up to date: replay the collection's change-log entries after
        ``resume_from`` (the seq its files were saved at), or without one compare ids with the database."""
        if self.resume_from is not None:
            with self._sessions() as session:  # type: ignore[attr-defined]
                added, removed = [], []
                page = changelog.changes_after(session, self.resume_from, collection_id=collection.id)
                while page:
                    for change in page:
                        added.extend(change.added)
                        removed.extend(change.removed)
                    page = changelog.changes_after(session, page[-1].seq, collection_id=collection.id)
            return self.apply_change(collection, index, added, removed)
        with self._sessions() as session:  # type: ignore[attr-defined]
            db_ids = self.mine(repo.chunk_ids(session, collection.id))
        index_ids = index.ids()
        missing = np.setdiff1d(db_ids, index_ids, assume_unique=True)
        extra = np.setdiff1d(index_ids, db_ids, assume_unique=True)
        return self.apply_change(collection, index, missing, extra)

    def apply_change(self, collection: Collection, index: Any, added: Any, removed: Any) -> bool:
        """Remove this shard's ``removed`` chunk ids, add its ``added`` ones that are still stored; True if
        there were any. Idempotent: adding replaces, removing an absent id does nothing."""
        added, removed = self.mine(added), self.mine(removed)
        if len(removed):
            index.remove(removed)
        if len(added):
            with self._sessions() as session:  # type: ignore[attr-defined]
                for ids, payload in self._stored(session, collection, added):
                    index.add(ids, payload)
        if len(added) or len(removed):
            log.debug(
                "shard %d/%d %s of %r: %d added, %d removed",
                self.shard,
                self.shards,
                self.label,
                collection.name,
                len(added),
                len(removed),
            )  # type: ignore[attr-defined]
        return bool(len(added) or len(removed))

    def store_now(self, collection_id: int) -> None:
        """Save the loaded index of ``collection_id`` (if loaded)."""
        with self._lock:  # type: ignore[attr-defined]
            loaded = self._loaded.get(collection_id)  # type: ignore[attr-defined]
            if loaded is not None:
                self._save(collection_id, loaded.index)  # type: ignore[attr-defined]

    def forget(self, collection_id: int) -> None:
        """Drop the collection from memory only (its files stay, to be checked on the next load)."""
        with self._lock:  # type: ignore[attr-defined]
            self._loaded.pop(collection_id, None)  # type: ignore[attr-defined]


def _select(payload: Any, keep: np.ndarray) -> Any:
    if isinstance(payload, np.ndarray):
        return payload[keep]
    return [item for item, k in zip(payload, keep.tolist(), strict=True) if k]


class ShardVectorIndexes(ShardSubset, VectorIndexes):
    label = "shard index"

    def __init__(self, root: Path, sessions: sessionmaker[Session], exact_threshold: int, shard: int, shards: int):
        super().__init__(root, sessions, exact_threshold, write_lock=None)
        self.shard, self.shards = shard, shards

    def save(self, collection: Collection) -> None:
        self.store_now(collection.id)


class ShardLexicalIndexes(ShardSubset, LexicalIndexes):
    label = "shard lexical index"

    def __init__(self, root: Path, sessions: sessionmaker[Session], shard: int, shards: int) -> None:
        super().__init__(root, sessions, None)
        self.shard, self.shards = shard, shards

    def _load(self, directory: Path) -> ShardBm25:
        return ShardBm25.load(directory)

    def _create(self, collection: Collection, count: int) -> ShardBm25:
        return ShardBm25(lexical_options(collection))
