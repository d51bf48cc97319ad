"""Keep topics and map positions current: new or changed documents get them from the fitted models.

Registered on the Engine as a write listener (services/sync/listeners.py). After each committed write,
the documents in the delta are assigned topics by the collection's active topic model and placed on
its active map by the fitted transforms; nothing is refitted. Deleted documents lose their rows through
the database's ON DELETE CASCADE. ``rebuild`` re-assigns every document with the same fitted models.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from services.latent_paths import remove_collection
from store import topics as trepo
from store.models import Collection

if TYPE_CHECKING:
    from ingest.pipeline import IndexDelta
    from services.context import ServiceContext

log = logging.getLogger(__name__)


class LatentListener:
    name = "latent"

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def apply(self, collection: Collection, delta: IndexDelta) -> None:
        document_ids = sorted({int(d) for d in delta.added_document_ids})
        if document_ids:
            self._assign(collection, document_ids)

    def _assign(self, collection: Collection, document_ids: list[int]) -> None:
        # Imported here: scikit-learn loads only once a collection has fitted models to apply.
        from services.maps import MapService
        from services.topics import TopicService

        TopicService(self._ctx).assign_documents(collection, document_ids)
        MapService(self._ctx).place_documents(collection, document_ids)

    def save(self, collection: Collection) -> None:
        """Nothing to do: assignments are committed rows and fitted models are immutable files."""

    def rebuild(self, collection: Collection) -> None:
        with self._ctx.sessions() as session:
            ids = trepo.document_ids(session, collection.id)
        for start in range(0, len(ids), 500):
            self._assign(collection, ids[start : start + 500])

    def drop(self, collection_id: int) -> None:
        remove_collection(self._ctx.settings, collection_id)
