"""Ingest orchestration: drive the pipeline stages (ingest/pipeline.py) batch by batch into one collection.

Writes go to the database first (one SAVEPOINT per document, one commit per batch); the derived indexes
are updated after each commit and saved at the end of the write (services/writes.py), so a crash can only
leave them behind the database, which they repair on the next load. New documents of a batch are first
bulk-inserted at once; if that fails, they are written one by one so a bad document costs only itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from core.errors import InvalidInput, LatentspaceError, PayloadTooLarge
from index.base import VectorIndex
from ingest import pipeline
from ingest.chunking import collection_chunking
from ingest.embedders import Embedder
from ingest.pipeline import IndexDelta, IngestReport, PreparedDocument
from ingest.provided import NO_MODEL
from ingest.readers import RowError, SourceDocument
from services.context import ServiceContext
from services.documents import delete_document
from services.writes import apply_delta, log_delta, save_derived
from store import repositories as repo
from store import values
from store.models import Collection

log = logging.getLogger(__name__)
ProgressCallback = Callable[[int], None]


def ingest(
    ctx: ServiceContext,
    name: str,
    stream: Iterable[SourceDocument | RowError | LatentspaceError],
    vectors: dict[str, np.ndarray] | None = None,
    on_progress: ProgressCallback | None = None,
    hashes: dict[str, str] | None = None,
) -> IngestReport:
    """Ingest documents (and per-row/per-file errors, which are counted as failed) into collection ``name``.

    ``vectors``/``hashes`` by external id replace embedding / the text hash (see pipeline.prepare).
    ``on_progress`` gets the number of stream items of each batch once it is written.
    """
    collection = ctx.collection(name)
    embedder = ctx.embedder_for(collection)
    if isinstance(stream, list):  # a whole request: refuse it before any batch is written
        check_vectors(stream, vectors or {}, embedder)
    stream = within_size_limit(stream, ctx.settings.max_document_chars)
    with ctx.write_lock:
        run = IngestRun(ctx, collection, embedder, ctx.vectors.get(collection))
        for batch in pipeline.batched(stream, ctx.settings.ingest_batch_docs):
            docs = run.valid_documents(batch, vectors)
            run.write_batch(pipeline.prepare(docs, vectors, hashes))
            if on_progress:
                on_progress(len(batch))
        save_derived(ctx, collection)
    return run.report


@dataclass
class IngestRun:
    """One ingest into one collection, under the write lock: what each of its batches needs."""

    ctx: ServiceContext
    collection: Collection
    embedder: Embedder
    index: VectorIndex  # the collection's loaded vector index
    report: IngestReport = field(default_factory=IngestReport)

    def valid_documents(
        self, batch: list[SourceDocument | RowError | LatentspaceError], vectors: dict[str, np.ndarray] | None
    ) -> list[SourceDocument]:
        """The batch's documents that can be stored (store/values.py rules); reader errors and refused
        documents are counted as failed with a one-line reason, and the run goes on. A caller-supplied vector
        that cannot be used (wrong length, NaN, beyond float32, zero) refuses the whole call, as it always
        has, before this batch writes anything."""
        kept = []
        for item in batch:
            try:
                if not isinstance(item, SourceDocument):
                    raise item if isinstance(item, LatentspaceError) else InvalidInput(_describe(item))
                values.check_document(item.external_id, item.text, item.metadata, item.source_uri)
            except LatentspaceError as exc:
                self.report.failed += 1
                self.report.errors.append(exc.message)
                continue
            if vectors and item.external_id in vectors:
                pipeline.normalise(vectors[item.external_id], self.embedder.dim)
            elif self.embedder.name == NO_MODEL:
                self.embedder.embed_documents([item.text])  # raises: this collection needs every vector
            kept.append(item)
        return kept

    def write_batch(self, batch: list[PreparedDocument]) -> None:
        """Classify, chunk, embed and write one batch in one transaction, then update the derived state."""
        batch = self.classify_and_chunk(batch)
        self.report.chunks_embedded += pipeline.embed_chunks(batch, self.embedder)
        self.write_embedded(batch)

    def classify_and_chunk(self, batch: list[PreparedDocument]) -> list[PreparedDocument]:
        """The stages before embedding; the documents that can go on (unchunkable ones are counted failed)."""
        with self.ctx.sessions() as session:
            pipeline.classify(session, self.collection, batch)
        return self._chunked(batch)

    def write_embedded(self, batch: list[PreparedDocument]) -> None:
        """Write an embedded batch in one transaction (with its change-log entry), then the derived state."""
        delta = IndexDelta()
        with self.ctx.sessions() as session:
            with session.begin():
                self._write(session, batch, delta)
                log_delta(session, self.collection.id, delta)
        apply_delta(self.ctx, self.collection, self.index, delta)

    def _chunked(self, batch: list[PreparedDocument]) -> list[PreparedDocument]:
        args = chunking_args(self.ctx, self.collection, self.embedder)
        try:
            pipeline.chunk_documents(batch, *args)
            return batch
        except InvalidInput:  # one bad document must not sink its batch: retry one by one
            return self._drop_unchunkable(batch, args)

    def _drop_unchunkable(self, batch: list[PreparedDocument], args: tuple[Any, int, int, str]) -> list:
        kept = []
        for item in batch:
            try:
                pipeline.chunk_documents([item], *args)
                kept.append(item)
            except InvalidInput as exc:
                self.report.failed += 1
                self.report.errors.append(exc.message)
        return kept

    def _write(self, session: Session, batch: list[PreparedDocument], delta: IndexDelta) -> None:
        """Every document's rows, each in its own SAVEPOINT unless the bulk insert took it."""
        written = {id(item) for item in write_new_at_once(session, self.collection, batch, delta)}
        for item in batch:
            if id(item) in written:
                self.report.count(item.status)
                continue
            if item.status == "unchanged":
                self.report.count("unchanged")
                continue
            try:
                pipeline.write_document(session, self.collection, item, delta)
                self.report.count(item.status)
            except LatentspaceError as exc:
                self.report.failed += 1
                self.report.errors.append(f"{item.source.external_id}: {exc.message}")


def check_vectors(stream: list, vectors: dict[str, np.ndarray], embedder: Embedder) -> None:
    """Every supplied vector usable, and every document of a collection without a model carrying one."""
    for item in stream:
        if not isinstance(item, SourceDocument):
            continue
        if item.external_id in vectors:
            pipeline.normalise(vectors[item.external_id], embedder.dim)
        elif embedder.name == NO_MODEL:
            embedder.embed_documents([item.text])  # raises: names the collection and the missing vector


def write_new_at_once(
    session: Session, collection: Collection, batch: list[PreparedDocument], delta: IndexDelta
) -> list[PreparedDocument]:
    """Bulk-insert the batch's new documents in one SAVEPOINT; on any error, none (one by one follows)."""
    new = [item for item in batch if item.status == "added"]
    if len(new) < 2:
        return []
    attempt = IndexDelta()
    try:
        with session.begin_nested():
            pipeline.write_new_documents(session, collection, new, attempt)
    except Exception as exc:  # rolled back to the savepoint: the per-document path reports the culprit
        log.info("bulk insert of %d new documents failed (%s); writing them one by one", len(new), exc)
        return []
    delta.merge(attempt)
    return new


def chunking_args(ctx: ServiceContext, collection: Collection, embedder: Embedder) -> tuple[Any, int, int, str]:
    """chunk_documents' arguments: tokenizer, max tokens, overlap, and the collection's mode."""
    limit = embedder.max_tokens
    tokens = min(ctx.settings.chunk_tokens or limit, limit)
    return embedder.tokenizer, tokens, ctx.settings.chunk_overlap, collection_chunking(collection.options)


def prune(ctx: ServiceContext, name: str, roots: list[Path], seen_sources: set[str]) -> int:
    """Delete documents read from files under ``roots`` whose files are gone; the number deleted."""
    resolved = [str(r.resolve()) for r in roots if r.is_dir()]
    collection = ctx.collection(name)
    with ctx.sessions() as session:
        rows = repo.documents_with_source_prefixes(session, collection.id)
    gone = []
    for _doc_id, external_id, uri in rows:
        path = uri.split("#", 1)[0]
        under = any(path == r or path.startswith(r.rstrip("/") + "/") for r in resolved)
        if under and path not in seen_sources and not Path(path).exists():
            gone.append(external_id)
    for external_id in gone:
        delete_document(ctx, name, external_id, save=False)
    if gone:
        save_derived(ctx, collection)  # once for all deletions
    return len(gone)


def within_size_limit(
    stream: Iterable[SourceDocument | RowError | LatentspaceError], limit: int
) -> Iterator[SourceDocument | RowError | LatentspaceError]:
    """The stream, with each document longer than ``limit`` characters turned into its own failure.

    Checked before a document is chunked or embedded, so an oversized one never costs work under the
    write lock (one 10 MB text used to hold it for 44 minutes); the rest of the stream goes on.
    """
    for item in stream:
        if isinstance(item, SourceDocument) and len(item.text) > limit:
            yield PayloadTooLarge(
                f"{item.external_id}: {len(item.text)} characters, over the limit of {limit} per document "
                "(LATENTSPACE_MAX_DOCUMENT_CHARS)"
            )
        else:
            yield item


def _describe(failure: RowError | LatentspaceError) -> str:
    if isinstance(failure, RowError):
        return pipeline.describe_row_error(failure)
    return failure.message
