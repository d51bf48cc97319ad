"""Fit, store, assign and read topic models of a collection (the functions the API and CLI call)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.errors import InvalidInput, ModelNotFitted, TopicNotFound
from latent.documents import DocumentMatrix, load_documents
from latent.storage import latent_root, read_meta, write_atomically
from latent.topics.cluster import ClusterTopics, fit_clusters
from latent.topics.lda import LdaTopics, fit_lda
from store import repositories as repo
from store.models import Collection, Document
from store.models_topics import DocumentTopic, Topic, TopicModel

if TYPE_CHECKING:
    from services.engine import Engine

METHODS = ("lda", "cluster")
FittedTopics = LdaTopics | ClusterTopics
_cache: dict[tuple[str, int], FittedTopics] = {}
_cache_lock = threading.Lock()


@dataclass
class TopicParams:
    method: str = "cluster"
    n_topics: int = 10
    seed: int = 0
    algorithm: str = "kmeans"  # cluster method only
    outlier_fraction: float = 0.05
    min_cluster_size: int = 10


def fit_topics(engine: Engine, name: str, params: TopicParams) -> dict[str, Any]:
    """Fit a topic model on every document of ``name``, make it the active one, return its summary."""
    if params.method not in METHODS:
        raise InvalidInput(f"unknown topic method {params.method!r}; choose one of {list(METHODS)}")
    with engine.sessions() as session:
        collection = repo.get_collection(session, name)
        docs = load_documents(session, collection)
    if len(docs) < 2:
        raise InvalidInput(f"collection {name!r} has {len(docs)} documents; topics need at least 2")
    fitted, labels, ids, weights = fit_documents(docs, params)
    with engine.write_lock, engine.sessions.begin() as session:
        session.execute(
            update(TopicModel).where(TopicModel.collection_id == collection.id).values(active=False)
        )
        model = TopicModel(collection_id=collection.id, method=params.method, params=vars(params), active=True)
        session.add(model)
        session.flush()
        write_atomically(_directory(engine, collection.id, model.id), fitted.save)
        sizes = _write_topics(session, model, fitted, docs, labels, weights)
        _write_assignments(session, model.id, docs.ids, labels, ids, weights)
        model.stats = {"documents": len(docs), "topics": fitted.n_topics, "outliers": sizes.get(-1, 0)}
        view = model_view(model)
    # Documents written while the model was being fitted get their topics like any later document.
    assign_documents(engine, collection, unassigned_documents(engine, collection.id, model.id))
    return view


def unassigned_documents(engine: Engine, collection_id: int, model_id: int) -> list[int]:
    assigned = select(DocumentTopic.document_id).where(DocumentTopic.model_id == model_id)
    stmt = select(Document.id).where(Document.collection_id == collection_id, Document.id.not_in(assigned))
    with engine.sessions() as session:
        return [int(i) for i in session.scalars(stmt)]


def fit_documents(docs: DocumentMatrix, params: TopicParams) -> tuple[FittedTopics, np.ndarray, np.ndarray, np.ndarray]:
    if params.method == "lda":
        model, mixtures = fit_lda(docs.texts, params.n_topics, params.seed)
        return (model, *_ranked(mixtures))
    return fit_clusters(
        docs.vectors,
        docs.texts,
        params.n_topics,
        params.algorithm,
        params.outlier_fraction,
        params.min_cluster_size,
        params.seed,
    )


def _ranked(mixtures: np.ndarray, top: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(-mixtures, axis=1, kind="stable")[:, :top]
    return order[:, 0], order, np.take_along_axis(mixtures, order, axis=1)


def assign(fitted: FittedTopics, docs: DocumentMatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topics of documents by an already fitted model (labels, ranked topic ids, weights); no refit."""
    if isinstance(fitted, LdaTopics):
        return _ranked(fitted.transform(docs.texts))
    return fitted.assign(docs.vectors)


def _write_topics(session, model, fitted, docs, labels, weights) -> dict[int, int]:  # noqa: ANN001
    terms = fitted.topic_terms() if isinstance(fitted, LdaTopics) else fitted.terms
    sizes = {int(t): int(c) for t, c in zip(*np.unique(labels, return_counts=True), strict=True)}
    topic_ids = list(range(fitted.n_topics)) + ([-1] if -1 in sizes else [])
    for topic_id in topic_ids:
        members = np.flatnonzero(labels == topic_id)
        best = members[np.argsort(-weights[members, 0], kind="stable")[:5]]
        session.add(
            Topic(
                model_id=model.id,
                topic_id=topic_id,
                terms=terms[topic_id] if topic_id >= 0 else [],
                size=sizes.get(topic_id, 0),
                representatives=[docs.external_ids[i] for i in best],
            )
        )
    return sizes


def _write_assignments(session: Session, model_id: int, document_ids, labels, ids, weights) -> None:  # noqa: ANN001
    rows = []
    for row, doc_id in enumerate(document_ids):
        rows.append(_row(model_id, doc_id, 0, labels[row], weights[row, 0]))
        rows.extend(_row(model_id, doc_id, r, ids[row, r], weights[row, r]) for r in range(1, ids.shape[1]))
    if rows:
        session.execute(DocumentTopic.__table__.insert(), rows)


def _row(model_id: int, doc_id: int, rank: int, topic: int, weight: float) -> dict[str, Any]:
    return {"model_id": model_id, "document_id": int(doc_id), "rank": rank, "topic_id": int(topic),
            "weight": round(float(weight), 6)}


def _directory(engine: Engine, collection_id: int, model_id: int):  # noqa: ANN202
    return latent_root(engine.settings.index_dir(), collection_id) / f"topics-{model_id}"


def active_model(session: Session, collection_id: int) -> TopicModel | None:
    stmt = select(TopicModel).where(TopicModel.collection_id == collection_id, TopicModel.active)
    return session.scalar(stmt.order_by(TopicModel.id.desc()).limit(1))


def load_fitted(engine: Engine, collection_id: int, model: TopicModel) -> FittedTopics:
    key = (str(engine.settings.index_dir().resolve()), model.id)
    with _cache_lock:
        if key not in _cache:
            directory = _directory(engine, collection_id, model.id)
            meta = read_meta(directory)
            loader = LdaTopics if meta["method"] == "lda" else ClusterTopics
            _cache[key] = loader.load(directory, meta)
        return _cache[key]


def assign_documents(engine: Engine, collection: Collection, document_ids: list[int]) -> None:
    """Give documents (new or changed) their topics by the active model, replacing earlier ones."""
    with engine.sessions.begin() as session:
        model = active_model(session, collection.id)
        if model is None or not document_ids:
            return
        docs = load_documents(session, collection, document_ids)
        session.execute(
            delete(DocumentTopic).where(
                DocumentTopic.model_id == model.id, DocumentTopic.document_id.in_([int(i) for i in document_ids])
            )
        )
        if len(docs):
            labels, ids, weights = assign(load_fitted(engine, collection.id, model), docs)
            _write_assignments(session, model.id, docs.ids, labels, ids, weights)


def model_view(model: TopicModel) -> dict[str, Any]:
    return {"model_id": model.id, "method": model.method, "params": model.params, "stats": model.stats,
            "created_at": model.created_at.isoformat()}


def _require_model(session: Session, name: str) -> tuple[Collection, TopicModel]:
    collection = repo.get_collection(session, name)
    model = active_model(session, collection.id)
    if model is None:
        raise ModelNotFitted(f"collection {name!r} has no topic model; run `latentspace topics fit`")
    return collection, model


def list_topics(engine: Engine, name: str) -> dict[str, Any]:
    with engine.sessions() as session:
        _collection, model = _require_model(session, name)
        sizes = _live_sizes(session, model.id)
        topics = session.scalars(select(Topic).where(Topic.model_id == model.id).order_by(Topic.topic_id))
        return {"model": model_view(model), "topics": [_topic_view(t, sizes) for t in topics]}


def _live_sizes(session: Session, model_id: int) -> dict[int, int]:
    stmt = (
        select(DocumentTopic.topic_id, func.count())
        .where(DocumentTopic.model_id == model_id, DocumentTopic.rank == 0)
        .group_by(DocumentTopic.topic_id)
    )
    return {int(t): int(c) for t, c in session.execute(stmt)}


def _topic_view(topic: Topic, sizes: dict[int, int]) -> dict[str, Any]:
    return {"id": topic.topic_id, "label": " ".join(t for t, _ in topic.terms[:3]) or "outliers",
            "terms": [{"term": t, "weight": w} for t, w in topic.terms], "size": sizes.get(topic.topic_id, 0),
            "representatives": topic.representatives}


def topic_documents(engine: Engine, name: str, topic_id: int, offset: int, limit: int) -> dict[str, Any]:
    """One topic with a page of the documents assigned to it, best weight first."""
    with engine.sessions() as session:
        _collection, model = _require_model(session, name)
        topic = session.scalar(select(Topic).where(Topic.model_id == model.id, Topic.topic_id == topic_id))
        if topic is None:
            raise TopicNotFound(f"topic {topic_id} does not exist in the active model of {name!r}")
        where = (DocumentTopic.model_id == model.id, DocumentTopic.topic_id == topic_id, DocumentTopic.rank == 0)
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
        return {"topic": _topic_view(topic, {topic_id: total}), "items": items, "total": total,
                "offset": offset, "limit": limit}


def document_topics(session: Session, model_id: int, document_ids: list[int]) -> dict[int, int]:
    """Assigned (rank-0) topic of each document id."""
    stmt = select(DocumentTopic.document_id, DocumentTopic.topic_id).where(
        DocumentTopic.model_id == model_id, DocumentTopic.rank == 0
    )
    if len(document_ids) <= 500:
        stmt = stmt.where(DocumentTopic.document_id.in_([int(i) for i in document_ids]))
    return {int(d): int(t) for d, t in session.execute(stmt)}
