"""SQL for 2-D maps: map models and per-document positions. Functions take a Session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store import repositories as repo
from store.models import Chunk, Document
from store.models_topics import MapModel, MapPoint


def active_map(session: Session, collection_id: int) -> MapModel | None:
    return repo.active_row(session, MapModel, collection_id)


def add_active_map(session: Session, collection_id: int, method: str, params: dict[str, Any]) -> MapModel:
    """Deactivate the collection's maps and add (flushed, with its id) a new active one."""
    return repo.add_active_row(session, MapModel, collection_id, method=method, params=params)


def write_points(session: Session, map_id: int, document_ids: Sequence[int], positions: np.ndarray) -> None:
    rows = [{"map_id": map_id, "document_id": int(d), "x": float(p[0]), "y": float(p[1])}
            for d, p in zip(document_ids, positions, strict=True)]
    if rows:
        session.execute(MapPoint.__table__.insert(), rows)


def delete_points(session: Session, map_id: int, document_ids: Sequence[int]) -> None:
    session.execute(delete(MapPoint).where(MapPoint.map_id == map_id, MapPoint.document_id.in_(document_ids)))


def unplaced_documents(session: Session, collection_id: int, map_id: int) -> list[int]:
    placed = select(MapPoint.document_id).where(MapPoint.map_id == map_id)
    stmt = select(Document.id).where(Document.collection_id == collection_id, Document.id.not_in(placed))
    return list(session.scalars(stmt))


def points(session: Session, map_id: int) -> list[tuple[int, str, float, float]]:
    """(document id, external id, x, y) of every point of a map, by document id."""
    stmt = (select(MapPoint.document_id, Document.external_id, MapPoint.x, MapPoint.y)
            .join(Document, Document.id == MapPoint.document_id)
            .where(MapPoint.map_id == map_id).order_by(MapPoint.document_id))
    return [tuple(row) for row in session.execute(stmt).all()]


def first_chunk_snippets(session: Session, document_ids: list[int], length: int = 160) -> dict[int, str]:
    """The first ``length`` characters (whitespace collapsed) of each document's first chunk."""
    found: dict[int, str] = {}
    for start in range(0, len(document_ids), 500):
        part = document_ids[start : start + 500]
        stmt = select(Chunk.document_id, Chunk.text).where(Chunk.document_id.in_(part), Chunk.ordinal == 0)
        found.update({int(d): " ".join(t.split())[:length] for d, t in session.execute(stmt)})
    return found
