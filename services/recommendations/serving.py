"""Serve the active model version of a collection: recommendations, similar items, explanations.

The active version is read from the database on every request (one indexed lookup) and the loaded
model is swapped when it changes, so a ``train`` in another process is picked up without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from core.errors import InvalidInput, ItemNotFound, ModelNotFitted
from index.base import VectorIndex
from index.registry import load_index
from latent.recsys.base import Recommender, csr_row, top_k
from latent.recsys.factors import FactorRecommender
from latent.recsys.registry import load_model
from services.context import ServiceContext
from services.recommendations.training import recsys_dir
from services.recommendations.types import Query, Recommendations
from services.search.types import SearchRequest, SearchResult
from store import recsys as rrepo
from store import repositories as repo
from store.models import Collection

# Search of a collection by name (the Engine's): cold items fall back to their content neighbours.
Search = Callable[[str, SearchRequest], SearchResult]
__all__ = ["Loaded", "Query", "RecommendationService", "Recommendations", "Search"]


@dataclass
class Loaded:
    version_id: int
    version: str
    model: Recommender
    index: VectorIndex | None
    items: np.ndarray  # item database ids, sorted: column j of the model is items[j]
    users: np.ndarray  # user database ids, sorted


_REQUEST_SESSION: ContextVar[Session | None] = ContextVar("recsys_request_session", default=None)


class RecommendationService:
    def __init__(self, ctx: ServiceContext, search: Search) -> None:
        self.ctx = ctx
        self._search = search
        self._loaded: dict[int, Loaded] = {}
        self._lock = threading.Lock()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """One database session per request: the lookups of a request share it (checkouts dominate latency)."""
        current = _REQUEST_SESSION.get()
        if current is not None:
            yield current
            return
        with self.ctx.sessions() as session:
            token = _REQUEST_SESSION.set(session)
            try:
                yield session
            finally:
                _REQUEST_SESSION.reset(token)

    # -- model loading --------------------------------------------------------------------------
    def active(self, collection_id: int) -> Loaded:
        with self._session() as session:
            version = rrepo.active_version(session, collection_id)
        return self._load(collection_id, version)

    def active_by_name(self, name: str) -> tuple[int, Loaded]:
        """(collection id, loaded active model): one query, cached until the next write (services/hitcache.py)."""

        def load() -> tuple[int, tuple[int, str] | None]:
            with self._session() as session:
                return rrepo.active_version_by_name(session, name)

        collection_id, version = self.ctx.hits.value(("recsys-active", name), load)
        return collection_id, self._load(collection_id, version)

    def _load(self, collection_id: int, version: tuple[int, str] | None) -> Loaded:
        if version is None:
            raise ModelNotFitted("no recommendation model is trained for this collection; run `latentspace train`")
        version_id, name = version
        loaded = self._loaded.get(collection_id)
        if loaded is not None and loaded.version_id == version_id:
            return loaded
        with self._lock:
            directory = recsys_dir(self.ctx.settings, collection_id) / name
            model = load_model(directory / "model")
            index = load_index(directory / "index") if isinstance(model, FactorRecommender) else None
            loaded = Loaded(version_id, name, model, index, model.labels["items"], model.labels["users"])
            self._loaded[collection_id] = loaded
            return loaded

    def collection_id(self, name: str) -> int:
        """Database id of the collection ``name`` (CollectionNotFound if absent)."""
        with self._session() as session:
            return repo.get_collection_id(session, name)

    # -- recommendations ------------------------------------------------------------------------
    def for_user(self, name: str, user: str, query: Query) -> Recommendations:
        """Recommend for a stored user: trained → model, new but with interactions → fold-in, else popularity."""
        self._check(query)
        with self._session():
            return self._for_user(name, user, query)

    def _for_user(self, name: str, user: str, query: Query) -> Recommendations:
        cid, loaded = self.active_by_name(name)
        with self._session() as session:
            user_id, items, values = rrepo.user_with_interactions(session, cid, user)
        cols, vals = self._columns(loaded, items, values)
        row = csr_row(cols, vals, loaded.model.n_items)
        seen = cols if query.exclude_seen else np.zeros(0, np.int64)
        position = np.searchsorted(loaded.users, user_id) if user_id is not None else -1
        if user_id is not None and position < len(loaded.users) and loaded.users[position] == user_id:
            vector_or_scores, source = ("user", int(position)), "model"
        elif row.nnz:
            vector_or_scores, source = ("row", row), "fold_in"
        else:
            return self._popular(cid, loaded, query, seen)
        ranked = self._rank(cid, loaded, vector_or_scores, query, seen)
        return Recommendations(
            self._render(cid, loaded, ranked, row if query.explain else None), source, loaded.version
        )

    def for_interactions(
        self, name: str, interactions: list[tuple[str, float]], negatives: list[str], query: Query
    ) -> Recommendations:
        """Cold-user fold-in from interactions / positive examples (value > 0) and negative examples."""
        self._check(query)
        cid = self.collection_id(name)
        loaded = self.active(cid)
        names = [n for n, _ in interactions] + list(negatives)
        with self._session() as session:
            ids = rrepo.item_ids_by_external(session, cid, names)
        known = [(ids[n], v) for n, v in interactions if n in ids] + [(ids[n], -1.0) for n in negatives if n in ids]
        ignored = [n for n in names if n not in ids]
        cols, vals = self._columns(loaded, np.array([k for k, _ in known], np.int64), np.array([v for _, v in known]))
        ignored += [n for n in names if n in ids and ids[n] not in set(loaded.items[cols].tolist())]
        row = csr_row(cols, vals, loaded.model.n_items)
        seen = cols if query.exclude_seen else cols[vals < 0]
        if not row.nnz:
            result = self._popular(cid, loaded, query, seen)
        else:
            ranked = self._rank(cid, loaded, ("row", row), query, seen)
            items = self._render(cid, loaded, ranked, row if query.explain else None)
            result = Recommendations(items, "fold_in", loaded.version)
        result.ignored_items = sorted(set(ignored))
        return result

    def similar_items(self, name: str, item: str, k: int = 10) -> Recommendations:
        """Neighbours in latent space; a cold item (no interactions) falls back to content embeddings."""
        self._check(Query(k=k))
        cid = self.collection_id(name)
        loaded = self.active(cid)
        with self._session() as session:
            item_id = rrepo.item_ids_by_external(session, cid, [item]).get(item)
        position = np.searchsorted(loaded.items, item_id) if item_id is not None else len(loaded.items)
        if position < len(loaded.items) and loaded.items[position] == item_id and loaded.model.has_similarity:
            cols, scores = loaded.model.similar_items(int(position), k)
            return Recommendations(self._render(cid, loaded, (cols, scores), None), "latent", loaded.version)
        return self._content_neighbours(name, cid, item, k, loaded.version)

    # -- internals ------------------------------------------------------------------------------
    def _check(self, query: Query) -> None:
        if not 1 <= query.k <= self.ctx.settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self.ctx.settings.max_k}")

    @staticmethod
    def _columns(loaded: Loaded, item_ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model columns of database item ids; items unknown to the model are dropped."""
        pos = np.searchsorted(loaded.items, item_ids).clip(max=max(len(loaded.items) - 1, 0))
        known = loaded.items[pos] == item_ids if len(loaded.items) else np.zeros(len(item_ids), bool)
        return pos[known].astype(np.int64), np.asarray(values, np.float32)[known]

    def _allowed(self, cid: int, loaded: Loaded, spec: dict[str, Any] | None) -> np.ndarray | None:
        if not spec:
            return None
        with self._session() as session:
            ids = rrepo.filtered_item_ids(session, cid, spec)
        cols, _ = self._columns(loaded, np.sort(ids), np.zeros(len(ids)))
        return cols

    def _rank(self, cid: int, loaded: Loaded, target: tuple, query: Query, seen: np.ndarray) -> tuple:
        allowed = self._allowed(cid, loaded, query.filter)
        model, kind = loaded.model, target[0]
        negatives = kind == "row" and (target[1].data < 0).any()
        if loaded.index is not None and not negatives:
            if kind == "user":
                vector = model.user_factors[target[1]]
            else:
                vector = model.foldin_vectors(model.weighting.transform(target[1]))[0]
            return self._index_search(loaded, vector, query.k, seen, allowed)
        if kind == "user":
            scores = model.user_scores(np.array([target[1]]))[0]
        else:
            scores = model.foldin_scores(target[1])[0]
        return top_k(scores, query.k, seen, allowed)

    @staticmethod
    def _index_search(loaded: Loaded, vector: np.ndarray, k: int, seen: np.ndarray, allowed: np.ndarray | None):  # noqa: ANN205
        allowed_ids = loaded.items[allowed] if allowed is not None else None
        fetch = min(k + len(seen), len(loaded.items))
        ids, scores = loaded.index.search(vector[None, :].astype(np.float32), max(fetch, 1), allowed_ids=allowed_ids)
        cols = np.searchsorted(loaded.items, ids[0][ids[0] >= 0])
        keep = ~np.isin(cols, seen)
        return cols[keep][:k], scores[0][ids[0] >= 0][keep][:k]

    def _popular(self, cid: int, loaded: Loaded, query: Query, seen: np.ndarray) -> Recommendations:
        allowed = self._allowed(cid, loaded, query.filter)
        ranked = top_k(loaded.model.labels["popularity"], query.k, seen, allowed)
        return Recommendations(self._render(cid, loaded, ranked, None), "popularity", loaded.version)

    def _render(self, cid: int, loaded: Loaded, ranked: tuple, row: Any) -> list[dict[str, Any]]:
        cols, scores = ranked
        reasons = {int(c): loaded.model.explain(row, int(c)) for c in cols} if row is not None else {}
        wanted = set(loaded.items[cols].tolist()) | {int(loaded.items[j]) for r in reasons.values() for j, _ in r}
        views = self._item_views(cid, sorted(wanted))
        out = []
        for col, score in zip(cols.tolist(), np.asarray(scores).tolist(), strict=True):
            view = dict(views[int(loaded.items[col])], score=float(score))
            if row is not None:
                view["reasons"] = [
                    {"item": views[int(loaded.items[j])]["id"], "contribution": c} for j, c in reasons[col]
                ]
            out.append(view)
        if row is not None:
            self._content_reasons(cid, out)
        return out

    def _item_views(self, cid: int, item_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Each item's id, metadata and whether it has a document; cached until the next write."""

        def load(missing: list[int]) -> dict[int, dict[str, Any]]:
            with self._session() as session:
                return rrepo.item_views(session, cid, missing)

        return self.ctx.hits.rows(("recsys-item", cid), item_ids, load)

    def _content_reasons(self, cid: int, items: list[dict[str, Any]]) -> None:
        """Add the content (embedding) similarity between a recommendation and each reason, when both are documents."""
        names = {i["id"] for i in items} | {r["item"] for i in items for r in i["reasons"]}
        with self._session() as session:
            collection = session.get(Collection, cid)
            vectors = rrepo.document_vectors(session, cid, sorted(names), collection.embedder_dim)
        for item in items:
            for reason in item["reasons"]:
                if item["id"] in vectors and reason["item"] in vectors:
                    reason["content_similarity"] = float(vectors[item["id"]] @ vectors[reason["item"]])

    def _content_neighbours(self, name: str, cid: int, item: str, k: int, version: str) -> Recommendations:
        with self._session() as session:
            collection = session.get(Collection, cid)
            vectors = rrepo.document_vectors(session, cid, [item], collection.embedder_dim)
        if item not in vectors:
            raise ItemNotFound(f"item {item!r} has no interactions in the active model and no document in {name!r}")
        result = self._search(name, SearchRequest(vector=vectors[item].tolist(), k=k + 1))
        hits = [h for h in result.hits if h.id != item][:k]
        items = [{"id": h.id, "score": h.score, "metadata": h.metadata, "has_document": True} for h in hits]
        return Recommendations(items, "content", version)
