"""SQL for topic models: models, topics, per-document assignments. Functions take a Session, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store import repositories as repo
from store.models import Document
from store.models_topics import DocumentTopic, Topic, TopicModel


def active_model(session: Session, collection_id: int) -> TopicModel | None:
    return repo.active_row(session, TopicModel, collection_id)


def add_active_model(session: Session, collection_id: int, method: str, params: dict[str, Any]) -> TopicModel:
    """Deactivate the collection's models and add (flushed, with its id) a new active one."""
    return repo.add_active_row(session, TopicModel, collection_id, method=method, params=params)


def add_topic(session: Session, model_id: int, topic_id: int, terms: list, size: int, representatives: list) -> None:
    session.add(Topic(model_id=model_id, topic_id=topic_id, terms=terms, size=size, representatives=representatives))


def write_assignments(
    session: Session,
    model_id: int,
    document_ids: Sequence[int],
    labels: np.ndarray,
    ids: np.ndarray,
    weights: np.ndarray,
) -> None:
    """Rank 0 is the assigned topic (``labels``, -1 = outlier); ranks 1.. the next best of ``ids``."""
    rows = []
    for row, doc_id in enumerate(document_ids):
        rows.append(_row(model_id, doc_id, 0, labels[row], weights[row, 0]))
        rows.extend(_row(model_id, doc_id, r, ids[row, r], weights[row, r]) for r in range(1, ids.shape[1]))
    if rows:
        session.execute(DocumentTopic.__table__.insert(), rows)


def _row(model_id: int, doc_id: int, rank: int, topic: int, weight: float) -> dict[str, Any]:
    return {"model_id": model_id, "document_id": int(doc_id), "rank": rank, "topic_id": int(topic),
            "weight": round(float(weight), 6)}


def delete_assignments(session: Session, model_id: int, document_ids: Sequence[int]) -> None:
    session.execute(
        delete(DocumentTopic).where(
            DocumentTopic.model_id == model_id, DocumentTopic.document_id.in_([int(i) for i in document_ids])
        )
    )


def unassigned_documents(session: Session, collection_id: int, model_id: int) -> list[int]:
    assigned = select(DocumentTopic.document_id).where(DocumentTopic.model_id == model_id)
    stmt = select(Document.id).where(Document.collection_id == collection_id, Document.id.not_in(assigned))
    return [int(i) for i in session.scalars(stmt)]


def topics(session: Session, model_id: int) -> list[Topic]:
    return list(session.scalars(select(Topic).where(Topic.model_id == model_id).order_by(Topic.topic_id)))


def topic(session: Session, model_id: int, topic_id: int) -> Topic | None:
    return session.scalar(select(Topic).where(Topic.model_id == model_id, Topic.topic_id == topic_id))


def live_sizes(session: Session, model_id: int) -> dict[int, int]:
    """Documents assigned (rank 0) to each topic now, new documents included."""
    stmt = (
        select(DocumentTopic.topic_id, func.count())
        .where(DocumentTopic.model_id == model_id, DocumentTopic.rank == 0)
        .group_by(DocumentTopic.topic_id)
    )
    return {int(t): int(c) for t, c in session.execute(stmt)}


def topic_page(session: Session, model_id: int, topic_id: int, offset: int, limit: int) -> tuple[list, int]:
    """(``[{"id", "weight"}]`` of a page of the topic's documents, best weight first; total count)."""
    where = (DocumentTopic.model_id == model_id, DocumentTopic.topic_id == topic_id, DocumentTopic.rank == 0)
    stmt = (
        select(Document.external_id, DocumentTopic.weight)
        .join(Document, Document.id == DocumentTopic.document_id)
        .where(*where)
        .order_by(DocumentTopic.weight.desc(), Document.id)
        .offset(offset)
        .limit(limit)
    )
    items = [{"id": ext, "weight": w} for ext, w in session.execute(stmt)]
    total = session.scalar(select(func.count()).select_from(DocumentTopic).where(*where)) or 0
    return items, total


def document_topics(session: Session, model_id: int, document_ids: list[int]) -> dict[int, int]:
    """Assigned (rank-0) topic of each document id."""
    stmt = select(DocumentTopic.document_id, DocumentTopic.topic_id).where(
        DocumentTopic.model_id == model_id, DocumentTopic.rank == 0
    )
    if len(document_ids) <= 500:
        stmt = stmt.where(DocumentTopic.document_id.in_([int(i) for i in document_ids]))
    return {int(d): int(t) for d, t in session.execute(stmt)}


def document_ids(session: Session, collection_id: int) -> list[int]:
    return [int(i) for i in session.scalars(select(Document.id).where(Document.collection_id == collection_id))]

