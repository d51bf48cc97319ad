"""Keeps each collection's vector index loaded, in step with the database, and saved atomically.

The shared behaviour (load on first use, check against the stored chunk ids, repair or rebuild, reload
after another process's save, writer-only atomic saves) is :class:`~services.sync.derived.DerivedIndexes`; this
module adds what is particular to vectors: the backend chosen by collection size, and a rebuild when an
automatically chosen exact index outgrows its threshold.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from core.writelock import WriteLock
from index.base import VectorIndex
from index.registry import create_stored_index, default_kind, load_index
from services.sync.derived import DerivedIndexes
from store import repositories as repo
from store.models import Collection


class VectorIndexes(DerivedIndexes[VectorIndex]):
    subdir = "vector"
    label = "index"

    def __init__(
        self,
        root: Path,
        sessions: sessionmaker[Session],
        exact_threshold: int,
        write_lock: WriteLock | None = None,
    ) -> None:
        super().__init__(root, sessions, write_lock)
        self._exact_threshold = exact_threshold

    def _load(self, directory: Path) -> VectorIndex:
        return load_index(directory)

    def _create(self, collection: Collection, count: int) -> VectorIndex:
        return create_stored_index(self.kind_for(collection, count), collection.embedder_dim, collection.index_params)

    def _compatible(self, collection: Collection, index: VectorIndex) -> bool:
        return index.dim == collection.embedder_dim

    def _stored(
        self, session: Session, collection: Collection, ids: np.ndarray | None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return repo.iter_vectors(session, collection.id, collection.embedder_dim, ids=ids)

    def kind_for(self, collection: Collection, count: int) -> str:
        return collection.index_kind or default_kind(count, self._exact_threshold)

    def save(self, collection: Collection) -> None:
        """Persist after writes; an automatic-kind index that outgrew exact search is rebuilt first."""
        with self._lock:
            loaded = self._loaded.get(collection.id)
            if loaded is not None and loaded.index.kind != self.kind_for(collection, len(loaded.index)):
                self.rebuild(collection)
                return
            super().save(collection)

    def drop(self, collection_id: int) -> None:
        """Forget the collection and remove its whole directory (every derived index lives under it)."""
        with self._lock:
            self._loaded.pop(collection_id, None)
            shutil.rmtree(self.root / str(collection_id), ignore_errors=True)

