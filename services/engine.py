"""The Engine: the one object the API and the CLI call. It ties the store, embedders and indexes.

Writes go to the database first (one SAVEPOINT per document, one commit per batch); the index is
updated after each commit and saved at the end of a write, so a crash can only leave the index
behind the database, which the VectorIndexes repairs on the next load.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

import store.all_models  # noqa: F401  (every feature's tables are known to the session)
from core.errors import CollectionExists, DocumentNotFound, EmbedderMismatch, InvalidInput, LatentspaceError
from core.settings import Settings
from core.writelock import WriteGeneration, WriteLock
from index.registry import INDEX_KINDS
from ingest import pipeline
from ingest.chunking import DEFAULT_CHUNKING, check_chunking, collection_chunking, require_chunking
from ingest.clip import load_image_embedder
from ingest.embedders import Embedder, EmbedderCache
from ingest.readers import RowError, SourceDocument
from services.compression import CompressionService
from services.context import ServiceContext
from services.hitcache import HitCache
from services.images import ThumbnailListener
from services.maps import MapService
from services.recommendations.facade import RecommendationFacade
from services.search.dispatch import run_search
from services.search.types import SearchRequest, SearchResult
from services.sync.latent import LatentListener
from services.sync.lexical import LexicalIndexes
from services.sync.listeners import WriteListener
from services.sync.vectors import VectorIndexes
from services.topics import TopicService
from store import repositories as repo
from store.models import Collection, Document
from store.session import create_db_engine, create_session_factory, database_error

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
ProgressCallback = Callable[[int], None]
MODALITIES = ("text", "image", "multimodal")  # image and multimodal collections use a CLIP-family model


@dataclass
class CollectionInfo:
    name: str
    modality: str
    model: str
    dimension: int
    model_version: str
    index_kind: str
    index_params: dict[str, Any]
    documents: int
    chunks: int
    indexed_vectors: int
    created_at: str
    options: dict[str, Any] = field(default_factory=dict)


class Engine:
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
            embedders=embedders or EmbedderCache(settings.embed_batch_size),
            vectors=VectorIndexes(settings.index_dir(), sessions, settings.exact_threshold, write_lock=write_lock),
            lexical=LexicalIndexes(settings.index_dir(), sessions, write_lock),
        )
        self.add_listener(ctx.lexical)
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
    def listeners(self) -> list[WriteListener]:
        return self.context.listeners

    @property
    def write_lock(self) -> WriteLock:
        return self.context.write_lock

    def add_listener(self, listener: WriteListener) -> None:
        """Register derived state that follows every committed write (see core/listeners.py)."""
        self.listeners.append(listener)

    def close(self) -> None:
        self.db.dispose()

    # -- collections ------------------------------------------------------------------------
    def create_collection(
        self,
        name: str,
        model: str | None = None,
        index_kind: str | None = None,
        index_params: dict[str, Any] | None = None,
        modality: str = "text",
        exist_ok: bool = False,
        chunking: str | None = None,
    ) -> CollectionInfo:
        if not _NAME.match(name or ""):
            raise InvalidInput("collection names are 1-128 letters, digits, '_', '-' or '.', starting alnum")
        if modality not in MODALITIES:
            raise InvalidInput(f"unknown modality {modality!r}; choose one of {list(MODALITIES)}")
        kind = index_kind or self.settings.index_kind
        if kind is not None and kind not in INDEX_KINDS:
            raise InvalidInput(f"unknown index kind {kind!r}; choose one of {sorted(INDEX_KINDS)}")
        if chunking is not None:
            check_chunking(chunking)
        with self.sessions.begin() as session:
            existing = repo.find_collection(session, name)
            if existing is not None:
                if not exist_ok:
                    raise CollectionExists(f"collection {name!r} already exists")
                if model is not None and model != existing.embedder_name:
                    raise EmbedderMismatch(
                        f"collection {name!r} uses model {existing.embedder_name!r}, not {model!r}"
                    )
                require_chunking(existing.name, existing.options, chunking)
                return self._info(session, existing)
            if modality == "text":
                embedder = self.embedders.get(model or self.settings.default_model)
            else:  # image/multimodal: a CLIP-family model, with an error that says how to provide one
                embedder = load_image_embedder(self.embedders, model or self.settings.image_model)
            collection = Collection(
                name=name,
                modality=modality,
                embedder_name=embedder.name,
                embedder_dim=embedder.dim,
                embedder_version=embedder.version,
                index_kind=kind,
                index_params=dict(index_params or self.settings.index_params),
                options={"chunking": chunking or DEFAULT_CHUNKING},
            )
            session.add(collection)
            session.flush()
            return self._info(session, collection)

    def list_collections(self) -> list[CollectionInfo]:
        with self.sessions() as session:
            return [self._info(session, c) for c in repo.list_collections(session)]

    def collection_info(self, name: str) -> CollectionInfo:
        with self.sessions() as session:
            return self._info(session, repo.get_collection(session, name))

    def delete_collection(self, name: str) -> None:
        with self.context.write_lock, self.sessions.begin() as session:
            collection = repo.get_collection(session, name)
            collection_id = collection.id
            session.delete(collection)
        self.indexes.drop(collection_id)
        for listener in self.listeners:
            listener.drop(collection_id)

    def _info(self, session: Session, collection: Collection) -> CollectionInfo:
        documents, chunks = repo.collection_counts(session, collection.id)
        loaded = self.indexes.loaded(collection.id)
        return CollectionInfo(
            name=collection.name,
            modality=collection.modality,
            model=collection.embedder_name,
            dimension=collection.embedder_dim,
            model_version=collection.embedder_version,
            index_kind=loaded.kind if loaded else self.indexes.kind_for(collection, chunks),
            index_params=collection.index_params,
            documents=documents,
            chunks=chunks,
            indexed_vectors=len(loaded) if loaded else chunks,
            created_at=collection.created_at.isoformat(),
            options=collection.options,
        )

    def _collection(self, name: str) -> Collection:
        with self.sessions() as session:
            return repo.get_collection(session, name)

    def embedder_for(self, collection: Collection) -> Embedder:
        return self.context.embedder_for(collection)

    # -- ingestion --------------------------------------------------------------------------
    def ingest(
        self,
        name: str,
        stream: Iterable[SourceDocument | RowError | LatentspaceError],
        vectors: dict[str, np.ndarray] | None = None,
        on_progress: ProgressCallback | None = None,
        hashes: dict[str, str] | None = None,
    ) -> pipeline.IngestReport:
        """Ingest documents (and per-row/per-file errors, which are counted as failed).

        ``vectors``/``hashes`` by external id replace embedding / the text hash (see pipeline.prepare).
        """
        collection = self._collection(name)
        embedder = self.embedder_for(collection)
        report = pipeline.IngestReport()
        with self.context.write_lock:
            index = self.indexes.get(collection)
            for batch in pipeline.batched(stream, self.settings.ingest_batch_docs):
                docs = [d for d in batch if isinstance(d, SourceDocument)]
                for failure in (d for d in batch if not isinstance(d, SourceDocument)):
                    report.failed += 1
                    report.errors.append(_describe(failure))
                self._ingest_batch(collection, embedder, index, pipeline.prepare(docs, vectors, hashes), report)
                if on_progress:
                    on_progress(len(batch))
            self._save(collection)
        return report

    def _save(self, collection: Collection) -> None:
        self.indexes.save(collection)
        for listener in self.listeners:
            listener.save(collection)

    def _ingest_batch(self, collection, embedder, index, batch, report) -> None:  # noqa: ANN001
        with self.sessions() as session:
            pipeline.classify(session, collection, batch)
        try:
            pipeline.chunk_documents(batch, *self._chunking(collection, embedder))
        except InvalidInput:  # one bad document must not sink its batch: retry one by one
            batch = self._drop_unchunkable(collection, batch, embedder, report)
        report.chunks_embedded += pipeline.embed_chunks(batch, embedder)
        delta = pipeline.IndexDelta()
        with self.sessions() as session:
            with session.begin():
                written = {id(item) for item in self._write_new_at_once(session, collection, batch, delta)}
                for item in batch:
                    if id(item) in written:
                        report.count(item.status)
                        continue
                    if item.status == "unchanged":
                        report.count("unchanged")
                        continue
                    try:
                        pipeline.write_document(session, collection, item, delta)
                        report.count(item.status)
                    except LatentspaceError as exc:
                        report.failed += 1
                        report.errors.append(f"{item.source.external_id}: {exc.message}")
        self._apply_delta(collection, index, delta)

    @staticmethod
    def _write_new_at_once(session: Session, collection: Collection, batch, delta) -> list:  # noqa: ANN001
        """Bulk-insert the batch's new documents in one SAVEPOINT; on any error, none (one by one follows)."""
        new = [item for item in batch if item.status == "added"]
        if len(new) < 2:
            return []
        attempt = pipeline.IndexDelta()
        try:
            with session.begin_nested():
                pipeline.write_new_documents(session, collection, new, attempt)
        except Exception as exc:  # rolled back to the savepoint: the per-document path reports the culprit
            log.info("bulk insert of %d new documents failed (%s); writing them one by one", len(new), exc)
            return []
        delta.merge(attempt)
        return new

    def _drop_unchunkable(self, collection, batch, embedder, report) -> list:  # noqa: ANN001
        kept = []
        for item in batch:
            try:
                pipeline.chunk_documents([item], *self._chunking(collection, embedder))
                kept.append(item)
            except InvalidInput as exc:
                report.failed += 1
                report.errors.append(exc.message)
        return kept

    def _apply_delta(self, collection: Collection, index, delta: pipeline.IndexDelta) -> None:  # noqa: ANN001
        if delta.removed_ids:
            index.remove(np.asarray(delta.removed_ids, dtype=np.int64))
        if delta.added_ids:
            index.add(np.asarray(delta.added_ids, dtype=np.int64), delta.vectors())
        if delta:
            for listener in self.listeners:
                listener.apply(collection, delta)

    def _chunking(self, collection: Collection, embedder: Embedder) -> tuple[Any, int, int, str]:
        """chunk_documents' arguments: tokenizer, max tokens, overlap, and the collection's mode."""
        limit = embedder.max_tokens
        tokens = min(self.settings.chunk_tokens or limit, limit)
        return embedder.tokenizer, tokens, self.settings.chunk_overlap, collection_chunking(collection.options)

    def prune(self, name: str, roots: list[Path], seen_sources: set[str]) -> int:
        """Delete documents read from files under ``roots`` whose files are gone."""
        resolved = [str(r.resolve()) for r in roots if r.is_dir()]
        collection = self._collection(name)
        with self.sessions() as session:
            rows = repo.documents_with_source_prefixes(session, collection.id)
        gone = []
        for _doc_id, external_id, uri in rows:
            path = uri.split("#", 1)[0]
            under = any(path == r or path.startswith(r.rstrip("/") + "/") for r in resolved)
            if under and path not in seen_sources and not Path(path).exists():
                gone.append(external_id)
        for external_id in gone:
            self.delete_document(name, external_id, save=False)
        if gone:
            self._save(collection)
        return len(gone)

    # -- documents --------------------------------------------------------------------------
    def delete_document(self, name: str, external_id: str, save: bool = True) -> None:
        collection = self._collection(name)
        with self.context.write_lock:
            index = self.indexes.get(collection)
            with self.sessions.begin() as session:
                doc = repo.documents_by_external_id(session, collection.id, [external_id]).get(external_id)
                if doc is None:
                    raise DocumentNotFound(f"document {external_id!r} not found in {name!r}")
                delta = pipeline.IndexDelta(removed_document_ids=[doc.id], removed_content_hashes=[doc.content_hash])
                delta.removed_ids = repo.delete_chunks_of_document(session, doc.id)
                session.delete(doc)
            self._apply_delta(collection, index, delta)
            if save:
                self._save(collection)

    def get_document(self, name: str, external_id: str) -> dict[str, Any]:
        collection = self._collection(name)
        with self.sessions() as session:
            doc = repo.documents_by_external_id(session, collection.id, [external_id]).get(external_id)
            if doc is None:
                raise DocumentNotFound(f"document {external_id!r} not found in {name!r}")
            return document_view(doc, with_text=True)

    def list_documents(self, name: str, offset: int = 0, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        collection = self._collection(name)
        with self.sessions() as session:
            docs = repo.list_documents(session, collection.id, offset, limit)
            total, _ = repo.collection_counts(session, collection.id)
            return [document_view(d, with_text=False) for d in docs], total

    # -- search and maintenance -------------------------------------------------------------
    def search(self, name: str, request: SearchRequest) -> SearchResult:
        self.hits.pin()
        try:
            collection = self.hits.value(("collection", name), lambda: self._collection(name))
            return run_search(self, collection, request)
        finally:
            self.hits.unpin()

    def chunk_hits(self, ids: list[int]) -> dict[int, repo.ChunkHit]:
        """What a hit shows of each chunk (from the cache while no write intervened); gone ids are absent."""

        def load(missing: list[int]) -> dict[int, repo.ChunkHit]:
            with self.sessions() as session:
                return repo.load_chunk_hits(session, missing)

        return self.hits.rows("chunk", ids, load)

    def has_multi_chunk_documents(self, collection: Collection) -> bool:
        """Whether some document has several chunks (grouped search must over-fetch); True when unknown."""

        def load() -> bool:
            with self.sessions() as session:
                return repo.has_multi_chunk_documents(session, collection.id)

        return self.hits.value(("multi_chunk", collection.id), load, uncached=True)

    def rebuild_index(self, name: str) -> int:
        collection = self._collection(name)
        with self.context.write_lock:
            count = len(self.indexes.rebuild(collection))
            for listener in self.listeners:
                listener.rebuild(collection)
            return count

    def verify_indexes(self) -> None:
        """Load every collection's index, repairing or rebuilding it from the DB where they disagree."""
        with self.sessions() as session:
            collections = repo.list_collections(session)
        for collection in collections:
            self.indexes.get(collection)

    def readiness(self) -> dict[str, Any]:
        """For ``/health/ready``: whether the database answers, and the loaded indexes' state."""
        error = database_error(self.sessions)
        if error is not None:
            return {"status": "unavailable", "database": error}
        return {"status": "ok", "database": "ok", "indexes": self.index_status()}

    def index_status(self) -> dict[str, Any]:
        """Loaded indexes, and the collections whose loaded index disagrees with the stored chunk count."""
        stale = []
        with self.sessions() as session:
            for collection in repo.list_collections(session):
                loaded = self.indexes.loaded(collection.id)
                if loaded is not None and len(loaded) != repo.collection_counts(session, collection.id)[1]:
                    stale.append(collection.name)
        return {"loaded": len(self.indexes.loaded_items()), "out_of_sync": stale}

    def loaded_index_sizes(self) -> dict[int, int]:
        """Vectors in each loaded index by collection id (no disk or database access; for metrics)."""
        return {collection_id: len(index) for collection_id, index in self.indexes.loaded_items()}

    def check_index(self, name: str) -> int:
        """Load (repairing if needed) and return the number of indexed vectors."""
        return len(self.indexes.get(self._collection(name)))


def document_view(doc: Document, with_text: bool) -> dict[str, Any]:
    view = {
        "id": doc.external_id,
        "source_uri": doc.source_uri,
        "content_hash": doc.content_hash,
        "metadata": doc.metadata_,
        "created_at": doc.created_at.isoformat(),
        "updated_at": doc.updated_at.isoformat(),
        "chunks": len(doc.chunks),
    }
    if with_text:
        view["text"] = join_chunks(doc.chunks)
    return view


def join_chunks(chunks: list) -> str:  # noqa: ANN001
    """Rebuild a document's text from its overlapping chunk spans (gaps were whitespace)."""
    if not chunks:
        return ""
    buffer = [" "] * max(c.char_end for c in chunks)
    for chunk in chunks:
        buffer[chunk.char_start : chunk.char_end] = chunk.text
    return "".join(buffer).strip()


def _describe(failure: RowError | LatentspaceError) -> str:
    if isinstance(failure, RowError):
        return pipeline.describe_row_error(failure)
    return failure.message
