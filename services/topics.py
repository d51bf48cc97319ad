"""Fit, store, assign and read topic models of a collection (what the API and CLI call via the Engine)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import InvalidInput, ModelNotFitted, TopicNotFound
from latent.documents import DocumentMatrix
from latent.saved import load_meta
from services.context import ServiceContext
from services.documents_matrix import load_documents
from services.latent_paths import model_dir
from store import repositories as repo
from store import topics as trepo
from store.models import Collection
from store.models_topics import Topic, TopicModel

if TYPE_CHECKING:  # the models import scikit-learn: loaded on first fit or assignment, not with the Engine
    from latent.topics.cluster import ClusterTopics
    from latent.topics.lda import LdaTopics

    FittedTopics = LdaTopics | ClusterTopics

METHODS = ("lda", "cluster")
# Fitted models by (index dir, model id): shared by every service object of the process (the write
# listener and the Engine's facade), loaded once; a model's files never change after its fit.
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


def fit_documents(docs: DocumentMatrix, params: TopicParams) -> tuple[FittedTopics, np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``params.method`` on documents: (model, labels, ranked topic ids, weights); no I/O."""
    from latent.topics.cluster import fit_clusters
    from latent.topics.lda import fit_lda

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
    if fitted.method == "lda":
        return _ranked(fitted.transform(docs.texts))
    return fitted.assign(docs.vectors)


def model_view(model: TopicModel) -> dict[str, Any]:
    return {"model_id": model.id, "method": model.method, "params": model.params, "stats": model.stats,
            "created_at": model.created_at.isoformat()}


def topic_view(topic: Topic, sizes: dict[int, int]) -> dict[str, Any]:
    return {"id": topic.topic_id, "label": " ".join(t for t, _ in topic.terms[:3]) or "outliers",
            "terms": [{"term": t, "weight": w} for t, w in topic.terms], "size": sizes.get(topic.topic_id, 0),
            "representatives": topic.representatives}


class TopicService:
    """Topic models of the collections of one context."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def fit(self, name: str, params: TopicParams) -> dict[str, Any]:
        """Fit a topic model on every document of ``name``, make it the active one, return its summary."""
        if params.method not in METHODS:
            raise InvalidInput(f"unknown topic method {params.method!r}; choose one of {list(METHODS)}")
        with self.ctx.sessions() as session:
            collection = repo.get_collection(session, name)
            docs = load_documents(session, collection)
        if len(docs) < 2:
            raise InvalidInput(f"collection {name!r} has {len(docs)} documents; topics need at least 2")
        fitted, labels, ids, weights = fit_documents(docs, params)
        with self.ctx.write_lock, self.ctx.sessions.begin() as session:
            model = trepo.add_active_model(session, collection.id, params.method, vars(params))
            fitted.save(model_dir(self.ctx.settings, collection.id, f"topics-{model.id}"))
            sizes = _write_topics(session, model.id, fitted, docs, labels, weights)
            trepo.write_assignments(session, model.id, docs.ids, labels, ids, weights)
            model.stats = {"documents": len(docs), "topics": fitted.n_topics, "outliers": sizes.get(-1, 0)}
            view = model_view(model)
        # Documents written while the model was being fitted get their topics like any later document.
        with self.ctx.sessions() as session:
            late = trepo.unassigned_documents(session, collection.id, view["model_id"])
        self.assign_documents(collection, late)
        return view

    def assign_documents(self, collection: Collection, document_ids: list[int]) -> None:
        """Give documents (new or changed) their topics by the active model, replacing earlier ones."""
        with self.ctx.sessions.begin() as session:
            model = trepo.active_model(session, collection.id)
            if model is None or not document_ids:
                return
            docs = load_documents(session, collection, document_ids)
            trepo.delete_assignments(session, model.id, document_ids)
            if len(docs):
                labels, ids, weights = assign(self._fitted(collection.id, model.id), docs)
                trepo.write_assignments(session, model.id, docs.ids, labels, ids, weights)

    def _fitted(self, collection_id: int, model_id: int) -> FittedTopics:
        from latent.topics.cluster import ClusterTopics
        from latent.topics.lda import LdaTopics

        key = (str(self.ctx.settings.index_dir().resolve()), model_id)
        with _cache_lock:
            if key not in _cache:
                directory = model_dir(self.ctx.settings, collection_id, f"topics-{model_id}")
                meta = load_meta(directory, "topics")
                loader = LdaTopics if meta["method"] == "lda" else ClusterTopics
                _cache[key] = loader.load(directory, meta)
            return _cache[key]

    def list(self, name: str) -> dict[str, Any]:
        """The active model and its topics, with live sizes (new documents included)."""
        with self.ctx.sessions() as session:
            model = self._require_model(session, name)
            sizes = trepo.live_sizes(session, model.id)
            topics = [topic_view(t, sizes) for t in trepo.topics(session, model.id)]
            return {"model": model_view(model), "topics": topics}

    def documents(self, name: str, topic_id: int, offset: int, limit: int) -> dict[str, Any]:
        """One topic with a page of the documents assigned to it, best weight first."""
        with self.ctx.sessions() as session:
            model = self._require_model(session, name)
            topic = trepo.topic(session, model.id, topic_id)
            if topic is None:
                raise TopicNotFound(f"topic {topic_id} does not exist in the active model of {name!r}")
            items, total = trepo.topic_page(session, model.id, topic_id, offset, limit)
            return {"topic": topic_view(topic, {topic_id: total}), "items": items, "total": total,
                    "offset": offset, "limit": limit}

    def _require_model(self, session, name: str) -> TopicModel:  # noqa: ANN001
        model = trepo.active_model(session, repo.get_collection(session, name).id)
        if model is None:
            raise ModelNotFitted(f"collection {name!r} has no topic model; run `latentspace topics fit`")
        return model


def _write_topics(session, model_id: int, fitted, docs: DocumentMatrix, labels, weights) -> dict[int, int]:  # noqa: ANN001
    """One Topic row per topic (and the outlier bucket -1): terms, size, five representatives."""
    terms = fitted.topic_terms() if fitted.method == "lda" else fitted.terms
    sizes = {int(t): int(c) for t, c in zip(*np.unique(labels, return_counts=True), strict=True)}
    topic_ids = list(range(fitted.n_topics)) + ([-1] if -1 in sizes else [])
    for topic_id in topic_ids:
        members = np.flatnonzero(labels == topic_id)
        best = members[np.argsort(-weights[members, 0], kind="stable")[:5]]
        representatives = [docs.external_ids[i] for i in best]
        trepo.add_topic(session, model_id, topic_id, terms[topic_id] if topic_id >= 0 else [], sizes.get(topic_id, 0),
                        representatives)
    return sizes
