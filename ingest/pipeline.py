"""The ingest pipeline as separate stages over plain batches: read → classify → chunk → embed → write.

Each stage is a function of its inputs only, so a distributed runner could call them elsewhere.
services/ingest.py drives them and applies the index changes after each commit.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.errors import DimensionMismatch, InvalidInput
from ingest.chunking import Chunk as TextChunk
from ingest.chunking import chunk_texts, whole_text_chunks
from ingest.embedders import Embedder
from ingest.readers import RowError, SourceDocument
from store import repositories as repo
from store.models import Chunk, Collection, Document, utcnow

log = logging.getLogger(__name__)


@dataclass
class PreparedDocument:
    """One incoming document on its way through the stages."""

    source: SourceDocument
    content_hash: str
    vector: np.ndarray | None = None  # a caller-supplied vector replaces chunking and embedding
    existing_id: int | None = None
    existing_hash: str | None = None  # the stored content hash this document replaces
    status: str = "added"  # added | updated | unchanged | metadata
    chunks: list[TextChunk] = field(default_factory=list)
    vectors: np.ndarray | None = None


@dataclass
class IndexDelta:
    """What a committed write changed: chunk ids added (with their texts, documents and vectors) and removed.

    The vector index and every registered write listener (services/sync/listeners.py) receive it after the commit.
    """

    added_ids: list[int] = field(default_factory=list)
    added_vectors: list[np.ndarray] = field(default_factory=list)
    added_texts: list[str] = field(default_factory=list)
    added_document_ids: list[int] = field(default_factory=list)
    removed_ids: list[int] = field(default_factory=list)
    removed_document_ids: list[int] = field(default_factory=list)
    removed_content_hashes: list[str] = field(default_factory=list)  # of deleted or replaced content
    metadata_document_ids: list[int] = field(default_factory=list)  # documents whose metadata alone changed

    def vectors(self) -> np.ndarray:
        return np.vstack(self.added_vectors) if self.added_vectors else np.zeros((0, 0), dtype=np.float32)

    def __bool__(self) -> bool:
        parts = (self.added_ids, self.removed_ids, self.removed_document_ids, self.removed_content_hashes)
        return any(parts) or bool(self.metadata_document_ids)

    def add_chunks(self, ids: list[int], rows: list[dict[str, Any]], vectors: np.ndarray) -> None:
        """Record chunks just written: their ids, their row values (see :func:`chunk_rows`), their vectors."""
        self.added_ids.extend(ids)
        self.added_texts.extend(row["text"] for row in rows)
        self.added_document_ids.extend(row["document_id"] for row in rows)
        self.added_vectors.append(np.asarray(vectors, dtype=np.float32))

    def merge(self, other: IndexDelta) -> None:
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    pruned: int = 0
    chunks_embedded: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> None:
        name = "updated" if status == "metadata" else status
        setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("added", "updated", "unchanged", "failed", "pruned")} | {
            "chunks_embedded": self.chunks_embedded,
            "errors": self.errors,
        }


def content_hash(text: str, vector: np.ndarray | None = None) -> str:
    digest = hashlib.sha256(text.encode("utf-8"))
    if vector is not None:
        digest.update(np.asarray(vector, dtype="<f4").tobytes())
    return digest.hexdigest()


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def prepare(
    docs: list[SourceDocument],
    vectors: dict[str, np.ndarray] | None = None,
    hashes: dict[str, str] | None = None,
) -> list[PreparedDocument]:
    """Hash each document; within one batch the last document with an external id wins.

    ``hashes`` lets a caller supply the content hash (e.g. of an image's bytes), so it can skip
    embedding documents whose stored hash already matches: those are classified unchanged.
    """
    latest: dict[str, PreparedDocument] = {}
    for doc in docs:
        vector = (vectors or {}).get(doc.external_id)
        digest = (hashes or {}).get(doc.external_id) or content_hash(doc.text, vector)
        latest[doc.external_id] = PreparedDocument(doc, digest, vector)
    return list(latest.values())


def classify(session: Session, collection: Collection, batch: list[PreparedDocument]) -> None:
    """Mark each document added, updated, unchanged or metadata-only changed against the store."""
    existing = repo.documents_by_external_id(session, collection.id, [p.source.external_id for p in batch])
    for item in batch:
        doc = existing.get(item.source.external_id)
        if doc is None:
            continue
        item.existing_id = doc.id
        item.existing_hash = doc.content_hash
        if doc.content_hash != item.content_hash:
            item.status = "updated"
        elif doc.metadata_ != item.source.metadata or doc.source_uri != item.source.source_uri:
            item.status = "metadata"
        else:
            item.status = "unchanged"


def chunk_documents(
    batch: list[PreparedDocument], tokenizer: Any, max_tokens: int, overlap: int, mode: str = "split"
) -> None:
    """Chunk every new or changed document of the batch (one tokenizer call for the whole batch).

    ``mode`` is the collection's chunking (ingest/chunking.py): ``split`` or ``truncate`` (whole text).
    """
    pending = [item for item in batch if item.status in ("added", "updated")]
    to_chunk = [item for item in pending if item.vector is None]
    texts = [i.source.text for i in to_chunk]
    pieces: list = []
    if texts:  # documents that all carry their own vectors need no tokenizer
        pieces = whole_text_chunks(texts) if mode == "truncate" else chunk_texts(texts, tokenizer, max_tokens, overlap)
    for item, chunks in zip(to_chunk, pieces, strict=True):
        item.chunks = chunks
    for item in pending:
        if item.vector is not None:
            item.chunks = [TextChunk(ordinal=0, text=item.source.text, start=0, end=len(item.source.text))]
        if not item.chunks:
            raise InvalidInput(f"document {item.source.external_id!r} has no text to embed")


def embed_chunks(batch: list[PreparedDocument], embedder: Embedder) -> int:
    """Embed every pending chunk of the batch in one call (the model batches and sorts by length)."""
    pending = [item for item in batch if item.chunks and item.vector is None]
    texts = [chunk.text for item in pending for chunk in item.chunks]
    matrix = embedder.embed_documents(texts)
    offset = 0
    for item in pending:
        item.vectors = matrix[offset : offset + len(item.chunks)]
        offset += len(item.chunks)
    for item in batch:
        if item.vector is not None and item.chunks:
            item.vectors = normalise(item.vector, embedder.dim)[None, :]
    return len(texts)


def normalise(vector: Any, dim: int) -> np.ndarray:
    """``vector`` scaled to unit length as float32; non-numbers, NaN/inf, values beyond float32 and the
    zero vector raise (a 3e38 vector used to overflow the float32 norm and silently become zeros)."""
    try:
        array = np.asarray(vector, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidInput("vector must be a list of numbers") from None
    if array.shape[0] != dim:
        raise DimensionMismatch(f"vector has {array.shape[0]} values; this collection's dimension is {dim}")
    peak = float(np.abs(array).max())  # one pass for the common case; NaN fails the comparison too
    if not peak <= FLOAT32_MAX:
        if not np.isfinite(array).all():
            raise InvalidInput("vector contains NaN or infinite values (or values beyond float32's ±3.4e38)")
        raise InvalidInput(f"vector values must lie within ±{FLOAT32_MAX:.3g} (float32)")
    norm = math.sqrt(float(array @ array))  # float64: finite for any float32 input
    if norm == 0.0:
        raise InvalidInput("vector must not be all zeros")
    return (array / norm).astype(np.float32)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def write_document(
    session: Session, collection: Collection, item: PreparedDocument, delta: IndexDelta
) -> None:
    """Write one document's rows inside a SAVEPOINT: all of it lands, or none of it."""
    with session.begin_nested():
        doc = _upsert_document_row(session, collection, item)
        if item.status in ("added", "updated"):
            removed = repo.delete_chunks_of_document(session, doc.id) if item.existing_id else []
            rows = chunk_rows(doc.id, collection.id, item)
            chunks = [Chunk(**row) for row in rows]
            session.add_all(chunks)
            session.flush()
            delta.removed_ids.extend(removed)
            if item.existing_hash is not None and item.existing_hash != item.content_hash:
                delta.removed_content_hashes.append(item.existing_hash)
            delta.add_chunks([c.id for c in chunks], rows, item.vectors)
        elif item.status == "metadata":
            delta.metadata_document_ids.append(doc.id)


def chunk_rows(document_id: int, collection_id: int, item: PreparedDocument) -> list[dict[str, Any]]:
    """The chunk table's values for one document's chunks and vectors."""
    return [
        {
            "document_id": document_id,
            "collection_id": collection_id,
            "ordinal": c.ordinal,
            "text": c.text,
            "char_start": c.start,
            "char_end": c.end,
            "embedding": repo.vector_to_bytes(v),
        }
        for c, v in zip(item.chunks, item.vectors, strict=True)
    ]


def write_new_documents(
    session: Session, collection: Collection, items: list[PreparedDocument], delta: IndexDelta
) -> None:
    """Insert documents that are not stored yet, all at once: two multi-row INSERTs with RETURNING.

    The caller runs this inside one SAVEPOINT and falls back to :func:`write_document` one by one if it
    fails, so a bad document still costs only itself. Writes exactly the rows ``write_document`` would.
    """
    now = utcnow()
    doc_rows = [
        {
            "collection_id": collection.id,
            "external_id": item.source.external_id,
            "source_uri": item.source.source_uri,
            "content_hash": item.content_hash,
            "metadata_": item.source.metadata,
            "created_at": now,
            "updated_at": now,
        }
        for item in items
    ]
    doc_ids = session.scalars(insert(Document).returning(Document.id, sort_by_parameter_order=True), doc_rows).all()
    rows = [row for item, doc_id in zip(items, doc_ids, strict=True) for row in chunk_rows(doc_id, collection.id, item)]
    chunk_ids = session.scalars(insert(Chunk).returning(Chunk.id, sort_by_parameter_order=True), rows).all()
    delta.add_chunks(chunk_ids, rows, np.vstack([item.vectors for item in items]))


def _upsert_document_row(session: Session, collection: Collection, item: PreparedDocument) -> Document:
    source = item.source
    if item.existing_id is None:
        doc = Document(
            collection_id=collection.id,
            external_id=source.external_id,
            source_uri=source.source_uri,
            content_hash=item.content_hash,
            metadata_=source.metadata,
        )
        session.add(doc)
        session.flush()
        return doc
    doc = session.get(Document, item.existing_id)
    doc.content_hash = item.content_hash
    doc.metadata_ = source.metadata
    doc.source_uri = source.source_uri
    doc.updated_at = utcnow()
    session.flush()
    return doc


def describe_row_error(error: RowError) -> str:
    return f"{error.source_uri}: line {error.line}: {error.message}"
