"""Write listeners: derived state that must follow every committed write (lexical index, topic labels...).

services/writes.py calls each listener of ``ServiceContext.listeners`` after the database commit of a
write, with the same :class:`~ingest.pipeline.IndexDelta` the vector index receives; then ``save`` at the
end of the write. ``drop`` is called when a collection is deleted, ``rebuild`` by ``latentspace index
rebuild``. A listener keeps its own files under ``settings.index_dir() / str(collection.id)`` and must repair itself
from the database when it finds its state missing or stale (the database is the source of truth).
"""

from __future__ import annotations

from typing import Protocol

from ingest.pipeline import IndexDelta
from store.models import Collection


class WriteListener(Protocol):
    name: str

    def apply(self, collection: Collection, delta: IndexDelta) -> None:
        """Reflect a committed delta (chunks added/removed)."""
        ...

    def save(self, collection: Collection) -> None:
        """Persist after a write (atomically)."""
        ...

    def rebuild(self, collection: Collection) -> None:
        """Rebuild entirely from the database."""
        ...

    def drop(self, collection_id: int) -> None:
        """Forget a deleted collection (files and memory)."""
        ...
