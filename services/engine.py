"""The Engine: the one object the API and the CLI call, a thin facade over the services.

It builds the :class:`~services.context.ServiceContext` (settings, sessions, the write lock, the read
cache, embedders, vector and BM25 indexes, write listeners) and delegates every call to a service that
takes that context: collections (services/collections.py), ingestion (services/ingest.py), documents
(services/documents.py), search (services/search/), index upkeep and health (services/indexes.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

import store.all_models  # noqa: F401  (every feature's tables are known to the session)
from core.errors import LatentspaceError
from core.settings import Settings
from core.writelock import WriteGeneration, WriteLock
from ingest.embedders import Embedder, EmbedderCache, ThreadPolicy
from ingest.pipeline import IngestReport
from ingest.readers import RowError, SourceDocument
from services import collections, documents
from services import indexes as upkeep
from services import ingest as ingesting
from services.collections import CollectionInfo
from services.compression import CompressionService
from services.context import ServiceContext
from services.hitcache import HitCache
from services.ingest import ProgressCallback
from services.maps import MapService
from services.recommendations.facade import RecommendationFacade
from services.search import common as search_rows
from services.search.dispatch import search as run_search
from services.search.types import SearchRequest, SearchResult
from services.sync.latent import LatentListener
from services.sync.lexical import LexicalIndexes
from services.sync.listeners import WriteListener
from services.sync.payload import PayloadIndexes
from services.sync.thumbnails import ThumbnailListener
from services.sync.vectors import VectorIndexes
from services.topics import TopicService
from store import repositories as repo
from store.models import Collection
from store.session import create_db_engine, create_session_factory

__all__ = ["CollectionInfo", "Engine", "open_engine"]


class Engine:
    # Whether a search runs in this process (a raw-vector search may then be answered on the API's event
    # loop); services/cluster/ingress.py's ClusterEngine fans out over the network instead.
    searches_in_process = True

    def __init__(self, settings: Settings, embedders: EmbedderCache | None = None) -> None:
        self.db = create_db_engine(settings.resolved_database_url())
        sessions = create_session_factory(self.db)
        # One writer per data dir (threads and processes); readers never wait for it.
        generation = WriteGeneration(settings.data_dir / ".write.generation")
        write_lock = WriteLock(settings.data_dir / ".write.lock", generation)
        self.context = ctx = ServiceContext(
            settings=settings,
            sessions=sessions,
            write_lock=write_lock,
            hits=HitCache(generation, settings.hit_cache_entries),  # rows searches return, per write
            embedders=embedders or _embedders(settings),
            vectors=VectorIndexes(settings.index_dir(), sessions, settings.exact_threshold, write_lock=write_lock),
            lexical=LexicalIndexes(settings.index_dir(), sessions, write_lock),
        )
        self.add_listener(ctx.lexical)
        if settings.payload_index:  # metadata filters from memory (issue 17)
            ctx.payload = PayloadIndexes(settings.index_dir(), sessions, write_lock)
            self.add_listener(ctx.payload)
        self.add_listener(LatentListener(ctx))  # topics + map positions of new documents
        self.add_listener(ThumbnailListener(settings.data_dir, sessions))  # image thumbnails of gone content
        # latent services: bound to the context; the API and CLI call them as engine.<feature>.<method>
        self.topics = TopicService(ctx)
        self.maps = MapService(ctx)
        self.compression = CompressionService(ctx)
        self.recommendations = RecommendationFacade(ctx, search=self.search)

    # Shortcuts to the context's members (read-only views for callers of the facade).
    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.context.sessions

    @property
    def embedders(self) -> EmbedderCache:
        return self.context.embedders

    @property
    def hits(self) -> HitCache:
        return self.context.hits

    @property
    def indexes(self) -> VectorIndexes:
        return self.context.vectors

    @property
    def lexical(self) -> LexicalIndexes | None:
        return self.context.lexical

    @property
    def listeners(self) -> list[WriteListener]:
        return self.context.listeners

    @property
    def write_lock(self) -> WriteLock:
        return self.context.write_lock

    def add_listener(self, listener: WriteListener) -> None:
        """Register derived state that follows every committed write (see services/sync/listeners.py)."""
        self.listeners.append(listener)

    def close(self) -> None:
        self.db.dispose()

    # -- collections (services/collections.py) ---------------------------------------------------
    def create_collection(
        self,
        name: str,
        model: str | None = None,
        index_kind: str | None = None,
        index_params: dict[str, Any] | None = None,
        modality: str = "text",
        exist_ok: bool = False,
        chunking: str | None = None,
        backend: str | None = None,
        dimension: int | None = None,
        vectors_only: bool = False,
    ) -> CollectionInfo:
        """``vectors_only``: no model, documents bring their own vectors of ``dimension`` values."""
        return collections.create_collection(
            self.context, name, model, index_kind, index_params, modality, exist_ok, chunking, backend,
            dimension, vectors_only,
        )

    def list_collections(self) -> list[CollectionInfo]:
        return collections.list_collections(self.context)

    def collection_info(self, name: str) -> CollectionInfo:
        return collections.collection_info(self.context, name)

    def delete_collection(self, name: str) -> None:
        collections.delete_collection(self.context, name)

    def embedder_for(self, collection: Collection) -> Embedder:
        return self.context.embedder_for(collection)

    # -- ingestion (services/ingest.py) -----------------------------------------------------------
    def ingest(
        self,
        name: str,
        stream: Iterable[SourceDocument | RowError | LatentspaceError],
        vectors: dict[str, np.ndarray] | None = None,
        on_progress: ProgressCallback | None = None,
        hashes: dict[str, str] | None = None,
    ) -> IngestReport:
        """Ingest documents (and per-row/per-file errors, which are counted as failed).

        ``vectors``/``hashes`` by external id replace embedding / the text hash (see pipeline.prepare).
        """
        return ingesting.ingest(self.context, name, stream, vectors, on_progress, hashes)

    def prune(self, name: str, roots: list[Path], seen_sources: set[str]) -> int:
        """Delete documents read from files under ``roots`` whose files are gone."""
        return ingesting.prune(self.context, name, roots, seen_sources)

    # -- documents (services/documents.py) --------------------------------------------------------
    def delete_document(self, name: str, external_id: str, save: bool = True) -> None:
        documents.delete_document(self.context, name, external_id, save)

    def get_document(self, name: str, external_id: str) -> dict[str, Any]:
        return documents.get_document(self.context, name, external_id)

    def list_documents(self, name: str, offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        return documents.list_documents(self.context, name, offset, limit)

    # -- search (services/search/) ----------------------------------------------------------------
    def search(self, name: str, request: SearchRequest) -> SearchResult:
        return run_search(self.context, name, request)

    def chunk_hits(self, ids: list[int]) -> dict[int, repo.ChunkHit]:
        """What a hit shows of each chunk (from the cache while no write intervened); gone ids are absent."""
        return search_rows.chunk_hits(self.context, ids)

    def has_multi_chunk_documents(self, collection: Collection) -> bool:
        """Whether some document has several chunks (grouped search must over-fetch); True when unknown."""
        return search_rows.has_multi_chunk_documents(self.context, collection)

    # -- indexes and health (services/indexes.py) --------------------------------------------------
    def rebuild_index(self, name: str) -> int:
        return upkeep.rebuild_index(self.context, name)

    def verify_indexes(self) -> None:
        """Load every collection's index, repairing or rebuilding it from the DB where they disagree."""
        upkeep.verify_indexes(self.context)

    def load_for_workers(self) -> dict[str, Any]:
        """Before a server forks workers: load the indexes and the hit table they share (services/indexes.py)."""
        return upkeep.load_for_workers(self.context)

    def query_cache_counts(self) -> tuple[int, int]:
        """(hits, misses) of the query-vector caches of the loaded models."""
        return self.embedders.query_cache_counts()

    def check_index(self, name: str) -> int:
        """Load (repairing if needed) and return the number of indexed vectors."""
        return upkeep.check_index(self.context, name)

    def readiness(self) -> dict[str, Any]:
        """For ``/health/ready``: whether the database answers, and the loaded indexes' state."""
        return upkeep.readiness(self.context)

    def index_status(self) -> dict[str, Any]:
        """Loaded indexes, and the collections whose loaded index disagrees with the stored chunk count."""
        return upkeep.index_status(self.context)

    def loaded_index_sizes(self) -> dict[int, int]:
        """Vectors in each loaded index by collection id (no disk or database access; for metrics)."""
        return upkeep.loaded_index_sizes(self.context)


def _embedders(settings: Settings) -> EmbedderCache:
    threads = ThreadPolicy(settings.embed_query_threads, settings.embed_batch_threads, settings.embed_small_batch)
    exports = settings.data_dir / "models" / "onnx"  # ONNX exports of the models (ingest/onnx_export.py)
    return EmbedderCache(settings.embed_batch_size, threads, settings.query_cache_entries, exports)


def open_engine(settings: Settings) -> Engine:
    """Apply migrations (under the data dir's migration lock), then build the Engine; both cheap when current."""
    from store.migrate import upgrade_data_dir

    upgrade_data_dir(settings)
    return Engine(settings)
