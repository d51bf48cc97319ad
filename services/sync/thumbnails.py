"""Thumbnails follow the documents that show them: a write listener (services/sync/listeners.py).

Thumbnails are named by content hash per collection (ingest/images.py), so documents with the same bytes
share one; they are written when images are ingested (services/images.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.errors import InvalidInput
from ingest import images as imgs
from ingest.pipeline import IndexDelta
from store import repositories as repo
from store.models import Collection


class ThumbnailListener:
    """A WriteListener that removes thumbnails no document shows any more.

    Thumbnails are named by content hash per collection, so documents with the same bytes share one: after a
    document is deleted or its image replaced, the old hash's file goes only when no document of the
    collection still has that content. Deleting the collection removes its thumbnail directory.
    """

    name = "thumbnails"

    def __init__(self, data_dir: Path, sessions: sessionmaker[Session]) -> None:
        self._data_dir = data_dir
        self._sessions = sessions

    def _directory(self, collection_id: int) -> Path:
        return imgs.thumbnail_dir(self._data_dir, collection_id)

    def apply(self, collection: Collection, delta: IndexDelta) -> None:
        hashes = set(delta.removed_content_hashes)
        if not hashes or not self._directory(collection.id).is_dir():
            return
        with self._sessions() as session:
            still_shown = repo.content_hashes_present(session, collection.id, sorted(hashes))
        for digest in hashes - still_shown:
            try:
                imgs.thumbnail_path(self._data_dir, collection.id, digest).unlink(missing_ok=True)
            except InvalidInput:  # not a SHA-256 digest: text documents never had a thumbnail
                continue

    def save(self, collection: Collection) -> None:
        """Nothing to do: thumbnails are written atomically when images are ingested."""

    def rebuild(self, collection: Collection) -> None:
        """Remove every thumbnail whose content no document of the collection has."""
        directory = self._directory(collection.id)
        if not directory.is_dir():
            return
        files = {path.stem: path for path in directory.glob("*.jpg")}
        with self._sessions() as session:
            shown = repo.content_hashes_present(session, collection.id, sorted(files))
        for digest, path in files.items():
            if digest not in shown:
                path.unlink(missing_ok=True)

    def drop(self, collection_id: int) -> None:
        shutil.rmtree(self._directory(collection_id), ignore_errors=True)
