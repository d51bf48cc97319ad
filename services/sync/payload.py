"""The payload index of each collection (index/payload.py), kept in step with the database as a write listener.

Like the BM25 index (services/sync/lexical.py) it is a :class:`~services.sync.derived.DerivedIndexes`: loaded
from ``root/<collection id>/payload`` on first use, checked against the stored chunk ids (missing chunks read
from SQL, extra ones dropped), rebuilt when missing or unreadable, reloaded after another process's save, saved
by the data dir's writer after each write. A committed delta brings the metadata of added chunks and of
documents whose metadata alone changed (read back from SQL after the commit, so the index holds exactly what
SQL filters see).

Metadata-only changes keep their chunk ids, so the id check cannot see them: each save records the newest
document ``updated_at`` (the watermark, read under the write lock, so nothing newer is committed yet), and a
load re-reads every document changed at or after it. A crash between a metadata update's commit and the save
therefore repairs itself on the next load too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from index.payload import PayloadIndex
from index.payload_query import match
from ingest.pipeline import IndexDelta
from services.sync.derived import DerivedIndexes
from store import payloads as prepo
from store.models import Collection


class PayloadIndexes(DerivedIndexes[PayloadIndex]):
    """One payload index per collection under ``root/<collection id>/payload``."""

    name = "payload"
    subdir = "payload"
    label = "payload index"

    def _load(self, directory: Path) -> PayloadIndex:
        return PayloadIndex.load(directory)

    def _create(self, collection: Collection, count: int) -> PayloadIndex:
        index = PayloadIndex()
        with self._sessions() as session:  # read before the rows: a write committed meanwhile is re-read later
            index.watermark = _stamp(prepo.latest_change(session, collection.id))
        return index

    def _stored(self, session: Session, collection: Collection, ids: np.ndarray | None) -> Iterator[prepo.Batch]:
        return prepo.iter_chunk_payloads(session, collection.id, None if ids is None else ids.tolist())

    def match(self, collection: Collection, spec: dict) -> np.ndarray | None:
        """Sorted chunk ids matching the validated filter ``spec``, or None where SQL must answer."""
        return match(self.get(collection), spec)

    # -- staleness the chunk ids cannot show: metadata-only updates ------------------------------
    def repair(self, collection: Collection, index: PayloadIndex) -> bool:
        with self._sessions() as session:
            latest = _stamp(prepo.latest_change(session, collection.id))
            changed = []
            if index.watermark is None or latest != index.watermark:
                since = _parse(index.watermark)
                changed = prepo.documents_changed_since(session, collection.id, since) if since else []
                for ids, payloads in prepo.payloads_of_documents(session, changed):
                    index.add(ids, payloads)
        repaired = super().repair(collection, index)
        stale = index.watermark != latest
        index.watermark = latest
        return repaired or stale or bool(changed)

    def save(self, collection: Collection) -> None:
        """After a write (under the write lock): record the watermark, then save."""
        with self._lock:
            loaded = self.loaded(collection.id)
            if loaded is not None:
                with self._sessions() as session:
                    loaded.watermark = _stamp(prepo.latest_change(session, collection.id))
        super().save(collection)

    # -- WriteListener -------------------------------------------------------------------------
    def apply(self, collection: Collection, delta: IndexDelta) -> None:
        with self._lock:
            index = self.get(collection)
            index.remove(delta.removed_ids)
            with self._sessions() as session:
                if delta.added_ids:
                    for ids, payloads in prepo.iter_chunk_payloads(session, collection.id, delta.added_ids):
                        index.add(ids, payloads)
                for ids, payloads in prepo.payloads_of_documents(session, delta.metadata_document_ids):
                    index.add(ids, payloads)


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse(stamp: str | None) -> datetime | None:
    return None if stamp is None else datetime.fromisoformat(stamp)
