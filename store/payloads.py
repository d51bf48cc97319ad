"""What the payload index (index/payload.py) is built from: each chunk's document metadata, read in batches.

Functions take a Session and never commit. A payload of None marks a row SQLite cannot parse as JSON
(written before store/values.py's rules): store/filters.py never matches such a row, so neither may the
index. The read path repairs such rows for display (store/values.py ``clean_json``), which is why the
flag comes from SQL's own ``json_valid`` and not from the repaired value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.orm import Session

from store.models import Chunk, Document

Batch = tuple[list[int], list[dict[str, Any] | None]]


def _readable(session: Session) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return func.json_valid(Document.metadata_)
    return literal(1)


def _select(session: Session) -> Any:
    return (
        select(Chunk.id, Chunk.document_id, Document.metadata_, _readable(session))
        .join(Document, Document.id == Chunk.document_id)
        .order_by(Chunk.id)
    )


def _batch(rows: Sequence[Any]) -> Batch:
    """(chunk ids, payloads); a document's chunks share one metadata object."""
    shared: dict[int, dict[str, Any] | None] = {}
    for _chunk_id, document_id, metadata, readable in rows:
        if document_id not in shared:
            shared[document_id] = dict(metadata or {}) if readable == 1 else None
    return [r[0] for r in rows], [shared[r[1]] for r in rows]


def iter_chunk_payloads(
    session: Session, collection_id: int, ids: Sequence[int] | None = None, batch: int = 5000
) -> Iterator[Batch]:
    """Batches of (chunk ids, metadata) of every chunk of the collection, or only of chunk ``ids``."""
    stmt = _select(session).where(Chunk.collection_id == collection_id)
    if ids is None:
        rows = session.execute(stmt.execution_options(yield_per=batch))
        for part in rows.partitions(batch):
            yield _batch(part)
        return
    wanted = [int(i) for i in ids]
    for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
        yield _batch(session.execute(stmt.where(Chunk.id.in_(wanted[start : start + 500]))).all())


def payloads_of_documents(session: Session, document_ids: Sequence[int]) -> Iterator[Batch]:
    """Batches of (chunk ids, metadata) of the chunks of ``document_ids``."""
    wanted = sorted({int(i) for i in document_ids})
    for start in range(0, len(wanted), 500):
        stmt = _select(session).where(Chunk.document_id.in_(wanted[start : start + 500]))
        yield _batch(session.execute(stmt).all())


def latest_change(session: Session, collection_id: int) -> datetime | None:
    """The newest ``updated_at`` of the collection's documents (None when it has none)."""
    return session.scalar(select(func.max(Document.updated_at)).where(Document.collection_id == collection_id))


def documents_changed_since(session: Session, collection_id: int, since: datetime) -> list[int]:
    """Ids of the collection's documents written or updated at or after ``since``."""
    stmt = select(Document.id).where(Document.collection_id == collection_id, Document.updated_at >= since)
    return list(session.scalars(stmt))
