"""The explicit context every service takes instead of reaching into the Engine.

It holds what services share and nothing else: settings, the database session factory, the data dir's
public write lock (one writer per data dir, see core/writelock.py), the read cache of hydrated rows (and the
read-only table of them a forking server builds),
the embedding models, the per-collection vector, BM25 and payload (metadata filter) indexes, and the
write listeners that keep derived state in step with every committed write. The Engine
(services/engine.py) builds one and hands it to each service; tests may build their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from core.errors import EmbedderMismatch
from core.settings import Settings
from core.writelock import WriteLock
from ingest.embedders import Embedder, EmbedderCache, collection_backend
from ingest.provided import NO_MODEL, ProvidedVectors
from services.hitcache import HitCache
from services.hittable import HitTables
from services.sync.lexical import LexicalIndexes
from services.sync.listeners import WriteListener
from services.sync.payload import PayloadIndexes
from services.sync.vectors import VectorIndexes
from store import repositories as repo
from store.models import Collection


@dataclass
class ServiceContext:
    settings: Settings
    sessions: sessionmaker[Session]
    write_lock: WriteLock  # hold it for every write; readers never take it
    hits: HitCache
    embedders: EmbedderCache
    vectors: VectorIndexes
    # The BM25 index of each collection (also one of the listeners); None: no lexical or hybrid search.
    lexical: LexicalIndexes | None
    listeners: list[WriteListener] = field(default_factory=list)
    # Metadata filters answered in memory (also one of the listeners); None: every filter goes to SQL.
    payload: PayloadIndexes | None = None
    # Every chunk's hit row, built by a server's parent before it forks its workers (services/hittable.py);
    # None: hits come from the hit cache and SQL only.
    hit_table: HitTables | None = None

    def collection(self, name: str) -> Collection:
        """The collection row by name (CollectionNotFound if absent); detached, safe to keep for a request."""
        with self.sessions() as session:
            return repo.get_collection(session, name)

    def cached_collection(self, name: str) -> Collection:
        """Like :meth:`collection`, from the read cache while no write happened."""
        return self.hits.value(("collection", name), lambda: self.collection(name))

    def embedder_for(self, collection: Collection) -> Embedder:
        if collection.embedder_name == NO_MODEL:  # bring-your-own-vector collection (ingest/provided.py)
            return ProvidedVectors(collection.name, collection.embedder_dim)
        embedder = self.embedders.get(collection.embedder_name, collection_backend(collection.options))
        if embedder.dim != collection.embedder_dim:
            raise EmbedderMismatch(
                f"model {collection.embedder_name!r} now gives {embedder.dim}-d vectors; "
                f"collection {collection.name!r} holds {collection.embedder_dim}-d vectors"
            )
        return embedder
