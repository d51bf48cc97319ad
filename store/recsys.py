"""SQL for the recommendations feature. Functions take a Session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core.errors import CollectionNotFound
from store.filters import compile_filter
from store.models import Chunk, Collection, Document
from store.models_recsys import ActiveModel, Interaction, ModelVersion, RecsysItem, RecsysUser

AGGREGATES = ("sum", "max", "last")
_PART = 500  # stay under SQLite's bound-parameter limit


class Event(Protocol):
    """One user–item event as readers produce it (ingest/readers/interactions.py's Interaction)."""

    @property
    def user(self) -> str: ...

    @property
    def item(self) -> str: ...

    @property
    def value(self) -> float: ...

    @property
    def timestamp(self) -> float | None: ...


def _ids_by_external(session: Session, table: type, collection_id: int, names: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(names), _PART):
        part = list(names[start : start + _PART])
        stmt = select(table.external_id, table.id).where(
            table.collection_id == collection_id, table.external_id.in_(part)
        )
        found.update(dict(session.execute(stmt).all()))
    return found


def ensure_ids(session: Session, table: type, collection_id: int, names: set[str]) -> dict[str, int]:
    """Database ids of users or items by external id, inserting the missing ones."""
    ordered = sorted(names)
    found = _ids_by_external(session, table, collection_id, ordered)
    missing = [n for n in ordered if n not in found]
    if missing:
        session.execute(insert(table), [{"collection_id": collection_id, "external_id": n} for n in missing])
        found.update(_ids_by_external(session, table, collection_id, missing))
    return found


def upsert_interactions(session: Session, collection_id: int, events: list[Event], aggregate: str) -> tuple[int, int]:
    """Store a batch of events; duplicates of a (user, item) pair merge by ``aggregate``. Returns (added, updated)."""
    users = ensure_ids(session, RecsysUser, collection_id, {e.user for e in events})
    items = ensure_ids(session, RecsysItem, collection_id, {e.item for e in events})
    merged: dict[tuple[int, int], dict[str, Any]] = {}
    for event in events:
        key = (users[event.user], items[event.item])
        row = merged.get(key)
        if row is None:
            merged[key] = {"value": event.value, "count": 1, "timestamp": event.timestamp}
        else:
            _merge(row, event.value, 1, event.timestamp, aggregate)
    existing = _existing(session, sorted({u for u, _ in merged}))
    added, updated = [], 0
    for (user_id, item_id), row in merged.items():
        old = existing.get((user_id, item_id))
        if old is None:
            added.append({"collection_id": collection_id, "user_id": user_id, "item_id": item_id, **row})
            continue
        row_id, value, count, timestamp = old
        new = {"value": value, "count": count, "timestamp": timestamp}
        _merge(new, row["value"], row["count"], row["timestamp"], aggregate)
        session.execute(update(Interaction).where(Interaction.id == row_id).values(**new))
        updated += 1
    if added:
        session.execute(insert(Interaction), added)
    return len(added), updated


def _merge(row: dict[str, Any], value: float, count: int, timestamp: float | None, aggregate: str) -> None:
    if aggregate == "sum":
        row["value"] += value
    elif aggregate == "max":
        row["value"] = max(row["value"], value)
    elif (timestamp or 0.0) >= (row["timestamp"] or 0.0):  # "last": the latest event's value wins
        row["value"] = value
    row["count"] += count
    if timestamp is not None:
        row["timestamp"] = max(timestamp, row["timestamp"] or timestamp)


def _existing(session: Session, user_ids: list[int]) -> dict[tuple[int, int], tuple]:
    found: dict[tuple[int, int], tuple] = {}
    for start in range(0, len(user_ids), _PART):
        stmt = select(
            Interaction.user_id,
            Interaction.item_id,
            Interaction.id,
            Interaction.value,
            Interaction.count,
            Interaction.timestamp,
        ).where(Interaction.user_id.in_(user_ids[start : start + _PART]))
        found.update({(r[0], r[1]): tuple(r[2:]) for r in session.execute(stmt)})
    return found


def all_interactions(session: Session, collection_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(user db ids, item db ids, values, timestamps)`` of a collection, as int64/int64/float32/float64
    arrays; a missing timestamp is NaN."""
    stmt = select(Interaction.user_id, Interaction.item_id, Interaction.value, Interaction.timestamp).where(
        Interaction.collection_id == collection_id
    )
    rows = session.execute(stmt).all()
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float64)
    users, items, values, times = zip(*rows, strict=True)
    stamps = np.array([np.nan if t is None else t for t in times], np.float64)
    return np.array(users, np.int64), np.array(items, np.int64), np.array(values, np.float32), stamps


def user_with_interactions(
    session: Session, collection_id: int, name: str
) -> tuple[int | None, np.ndarray, np.ndarray]:
    """(user db id or None, item ids int64, values float32) in one query (the recommendation hot path)."""
    stmt = (
        select(RecsysUser.id, Interaction.item_id, Interaction.value)
        .outerjoin(Interaction, Interaction.user_id == RecsysUser.id)
        .where(RecsysUser.collection_id == collection_id, RecsysUser.external_id == name)
    )
    rows = session.execute(stmt).all()
    if not rows:
        return None, np.zeros(0, np.int64), np.zeros(0, np.float32)
    pairs = [(r[1], r[2]) for r in rows if r[1] is not None]
    return rows[0][0], np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.float32)


def item_ids_by_external(session: Session, collection_id: int, names: Sequence[str]) -> dict[str, int]:
    return _ids_by_external(session, RecsysItem, collection_id, list(names))


def item_views(session: Session, collection_id: int, item_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """``{item db id: {"id", "metadata", "has_document"}}``; metadata comes from the matching document."""
    views: dict[int, dict[str, Any]] = {}
    ids = [int(i) for i in item_ids]
    for start in range(0, len(ids), _PART):
        stmt = (
            select(RecsysItem.id, RecsysItem.external_id, Document.metadata_, Document.id)
            .outerjoin(
                Document,
                (Document.collection_id == RecsysItem.collection_id) & (Document.external_id == RecsysItem.external_id),
            )
            .where(RecsysItem.id.in_(ids[start : start + _PART]))
        )
        for item_id, external_id, metadata, doc_id in session.execute(stmt):
            views[item_id] = {"id": external_id, "metadata": metadata or {}, "has_document": doc_id is not None}
    return views


def filtered_item_ids(session: Session, collection_id: int, spec: dict[str, Any]) -> np.ndarray:
    """Items whose document matches a metadata filter (items without a document never match)."""
    dialect = session.get_bind().dialect.name
    stmt = (
        select(RecsysItem.id)
        .join(
            Document,
            (Document.collection_id == RecsysItem.collection_id) & (Document.external_id == RecsysItem.external_id),
        )
        .where(RecsysItem.collection_id == collection_id, compile_filter(spec, dialect))
    )
    return np.fromiter(session.scalars(stmt), dtype=np.int64)


def document_vectors(
    session: Session, collection_id: int, external_ids: Sequence[str], dim: int
) -> dict[str, np.ndarray]:
    """Mean chunk embedding (L2-normalised) of each named document that exists."""
    stmt = (
        select(Document.external_id, Chunk.embedding)
        .join(Chunk, Chunk.document_id == Document.id)
        .where(Document.collection_id == collection_id, Document.external_id.in_(list(external_ids)))
    )
    sums: dict[str, np.ndarray] = {}
    for external_id, blob in session.execute(stmt):
        vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        sums[external_id] = sums.get(external_id, np.zeros(dim, np.float32)) + vector
    return {k: v / (np.linalg.norm(v) or 1.0) for k, v in sums.items()}


def active_version(session: Session, collection_id: int) -> tuple[int, str] | None:
    """(version id, version name) of the collection's active model; two columns, no ORM entity (hot path)."""
    stmt = (
        select(ModelVersion.id, ModelVersion.version)
        .join(ActiveModel, ActiveModel.model_version_id == ModelVersion.id)
        .where(ActiveModel.collection_id == collection_id)
    )
    row = session.execute(stmt).first()
    return None if row is None else (row[0], row[1])


def active_version_by_name(session: Session, name: str) -> tuple[int, tuple[int, str] | None]:
    """(collection id, (version id, version name) or None) in one query; unknown collection → 404."""
    stmt = (
        select(Collection.id, ModelVersion.id, ModelVersion.version)
        .outerjoin(ActiveModel, ActiveModel.collection_id == Collection.id)
        .outerjoin(ModelVersion, ModelVersion.id == ActiveModel.model_version_id)
        .where(Collection.name == name)
    )
    row = session.execute(stmt).first()
    if row is None:
        raise CollectionNotFound(f"collection {name!r} does not exist")
    return row[0], (None if row[1] is None else (row[1], row[2]))


def set_active(session: Session, collection_id: int, version_id: int) -> None:
    active = session.get(ActiveModel, collection_id)
    if active is None:
        session.add(ActiveModel(collection_id=collection_id, model_version_id=version_id))
    else:
        active.model_version_id = version_id


def versions(session: Session, collection_id: int) -> list[ModelVersion]:
    stmt = select(ModelVersion).where(ModelVersion.collection_id == collection_id).order_by(ModelVersion.id)
    return list(session.scalars(stmt))
