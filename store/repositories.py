"""Queries over the store. Functions take a Session and never commit: callers own transactions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from core.errors import CollectionNotFound
from store.filters import compile_filter
from store.models import Chunk, Collection, Document


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def bytes_to_matrix(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim).astype(np.float32)


def get_collection(session: Session, name: str) -> Collection:
    collection = session.scalar(select(Collection).where(Collection.name == name))
    if collection is None:
        raise CollectionNotFound(f"collection {name!r} does not exist")
    return collection


def get_collection_id(session: Session, name: str) -> int:
    """The collection's id alone (no ORM entity: cheap on hot paths)."""
    collection_id = session.scalar(select(Collection.id).where(Collection.name == name))
    if collection_id is None:
        raise CollectionNotFound(f"collection {name!r} does not exist")
    return collection_id


def find_collection(session: Session, name: str) -> Collection | None:
    return session.scalar(select(Collection).where(Collection.name == name))


def list_collections(session: Session) -> list[Collection]:
    return list(session.scalars(select(Collection).order_by(Collection.name)))


def collection_counts(session: Session, collection_id: int) -> tuple[int, int]:
    documents = session.scalar(select(func.count()).where(Document.collection_id == collection_id))
    chunks = session.scalar(select(func.count()).where(Chunk.collection_id == collection_id))
    return int(documents or 0), int(chunks or 0)


def content_hashes_present(session: Session, collection_id: int, hashes: Sequence[str]) -> set[str]:
    """Which of ``hashes`` some document of the collection still has."""
    found: set[str] = set()
    for start in range(0, len(hashes), 500):  # stay under SQLite's bound-parameter limit
        part = list(hashes[start : start + 500])
        stmt = select(Document.content_hash).where(
            Document.collection_id == collection_id, Document.content_hash.in_(part)
        )
        found.update(session.scalars(stmt))
    return found


def has_multi_chunk_documents(session: Session, collection_id: int) -> bool:
    """True if some document of the collection has more than one chunk (stops at the first one found)."""
    stmt = select(Chunk.id).where(Chunk.collection_id == collection_id, Chunk.ordinal > 0).limit(1)
    return session.scalar(stmt) is not None


def documents_by_external_id(
    session: Session, collection_id: int, external_ids: Sequence[str]
) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for start in range(0, len(external_ids), 500):  # stay under SQLite's bound-parameter limit
        part = list(external_ids[start : start + 500])
        stmt = select(Document).where(Document.collection_id == collection_id, Document.external_id.in_(part))
        found.update({doc.external_id: doc for doc in session.scalars(stmt)})
    return found


def chunk_ids_of_document(session: Session, document_id: int) -> list[int]:
    return list(session.scalars(select(Chunk.id).where(Chunk.document_id == document_id)))


def delete_chunks_of_document(session: Session, document_id: int) -> list[int]:
    ids = chunk_ids_of_document(session, document_id)
    session.execute(delete(Chunk).where(Chunk.document_id == document_id))
    return ids


def chunk_ids(session: Session, collection_id: int) -> np.ndarray:
    ids = session.scalars(select(Chunk.id).where(Chunk.collection_id == collection_id).order_by(Chunk.id))
    return np.fromiter(ids, dtype=np.int64)


def iter_vectors(
    session: Session, collection_id: int, dim: int, batch: int = 5000, ids: Sequence[int] | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (ids int64 (n,), vectors float32 (n, dim)) batches of stored chunk vectors."""
    stmt = select(Chunk.id, Chunk.embedding).where(Chunk.collection_id == collection_id)
    wanted = [int(i) for i in ids] if ids is not None else None
    groups = [None] if wanted is None else [wanted[i : i + 500] for i in range(0, len(wanted), 500)]
    for group in groups:
        query = stmt if group is None else stmt.where(Chunk.id.in_(group))
        rows = session.execute(query.order_by(Chunk.id).execution_options(yield_per=batch))
        for part in rows.partitions(batch):
            yield (np.array([r[0] for r in part], dtype=np.int64), bytes_to_matrix([r[1] for r in part], dim))


def filtered_chunk_ids(session: Session, collection_id: int, spec: dict[str, Any]) -> np.ndarray:
    dialect = session.get_bind().dialect.name
    stmt = (
        select(Chunk.id)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.collection_id == collection_id, compile_filter(spec, dialect))
    )
    return np.fromiter(session.scalars(stmt), dtype=np.int64)


class ChunkHit(NamedTuple):
    """What a search hit shows of a chunk. A named tuple, not a frozen dataclass: one is built per hit on the
    search path (from SQL or the pre-fork hit table), and a frozen dataclass's ``__init__`` costs ~0.8 µs."""

    chunk_id: int
    document_id: int
    external_id: str
    source_uri: str | None
    metadata: dict[str, Any]
    ordinal: int
    text: str
    char_start: int
    char_end: int


# Built once with an expanding parameter, so the compiled SQL is cached and reused by every search.
_CHUNK_HITS = (
    select(
        Chunk.id,
        Chunk.document_id,
        Document.external_id,
        Document.source_uri,
        Document.metadata_,
        Chunk.ordinal,
        Chunk.text,
        Chunk.char_start,
        Chunk.char_end,
    )
    .join(Document, Document.id == Chunk.document_id)
    .where(Chunk.id.in_(bindparam("ids", expanding=True)))
)


def load_chunk_hits(session: Session, ids: Sequence[int]) -> dict[int, ChunkHit]:
    if not ids:
        return {}
    rows = session.connection().execute(_CHUNK_HITS, {"ids": [int(i) for i in ids]})
    return {row[0]: ChunkHit(*row) for row in rows}


def list_documents(session: Session, collection_id: int, offset: int, limit: int) -> list[Document]:
    stmt = (
        select(Document)
        .where(Document.collection_id == collection_id)
        .order_by(Document.id)
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def documents_with_source_prefixes(session: Session, collection_id: int) -> list[tuple[int, str, str]]:
    """(document id, external id, source uri) of every document that came from a file."""
    stmt = select(Document.id, Document.external_id, Document.source_uri).where(
        Document.collection_id == collection_id, Document.source_uri.is_not(None)
    )
    return [(r[0], r[1], r[2]) for r in session.execute(stmt)]


def active_row(session: Session, table: type, collection_id: int) -> Any:
    """The newest active row of a per-collection model table (topic models, maps), or None."""
    stmt = select(table).where(table.collection_id == collection_id, table.active)
    return session.scalar(stmt.order_by(table.id.desc()).limit(1))


def add_active_row(session: Session, table: type, collection_id: int, **values: Any) -> Any:
    """Deactivate the collection's rows of ``table`` and add (flushed, with its id) a new active one."""
    session.execute(update(table).where(table.collection_id == collection_id).values(active=False))
    row = table(collection_id=collection_id, active=True, **values)
    session.add(row)
    session.flush()
    return row


def iter_collection_chunk_hits(session: Session, collection_id: int, batch: int = 2000) -> Iterator[list[ChunkHit]]:
    """Every chunk of a collection as the row a search hit shows, in batches, ascending chunk id."""
    query = (  # the columns and join of load_chunk_hits, for one collection instead of given ids
        select(*_CHUNK_HITS.selected_columns)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.collection_id == collection_id)
        .order_by(Chunk.id)
        .execution_options(yield_per=batch)
    )
    for part in session.execute(query).partitions(batch):
        yield [ChunkHit(*row) for row in part]
