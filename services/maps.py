"""2-D maps of a collection (fit, place new documents, read points); the model itself is latent/maps.py."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from core.errors import ModelNotFitted
from latent.maps import FittedMap, fit_projection
from services.context import ServiceContext
from services.documents_matrix import load_documents
from services.latent_paths import model_dir
from store import maps as mrepo
from store import repositories as repo
from store import topics as trepo
from store.models import Collection

# Fitted maps by (index dir, map id), shared by every service object of the process; immutable files.
_cache: dict[tuple[str, int], FittedMap] = {}
_cache_lock = threading.Lock()


class MapService:
    """The active 2-D map of each collection of one context."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def fit(self, name: str, method: str = "pca", seed: int = 0) -> dict[str, Any]:
        """Project every document of ``name`` to 2-D, make it the active map, store the positions."""
        with self.ctx.sessions() as session:
            collection = repo.get_collection(session, name)
            docs = load_documents(session, collection)
        fitted = fit_projection(docs.vectors, method, seed)
        positions = fitted.anchors if method == "umap" else fitted.transform(docs.vectors)
        with self.ctx.write_lock, self.ctx.sessions.begin() as session:
            model = mrepo.add_active_map(session, collection.id, method, {"seed": seed})
            fitted.save(model_dir(self.ctx.settings, collection.id, f"map-{model.id}"))
            mrepo.write_points(session, model.id, docs.ids, positions)
            summary = {"map_id": model.id, "method": method, "documents": len(docs)}
        with self.ctx.sessions() as session:  # documents written during the fit are placed like later ones
            late = mrepo.unplaced_documents(session, collection.id, summary["map_id"])
        self.place_documents(collection, late)
        return summary

    def place_documents(self, collection: Collection, document_ids: list[int]) -> None:
        """Place new or changed documents on the active map by its fitted transform (no refit)."""
        with self.ctx.sessions.begin() as session:
            model = mrepo.active_map(session, collection.id)
            if model is None or not document_ids:
                return
            mrepo.delete_points(session, model.id, document_ids)
            docs = load_documents(session, collection, document_ids)
            if len(docs):
                fitted = self._fitted(collection.id, model.id)
                mrepo.write_points(session, model.id, docs.ids, fitted.transform(docs.vectors))

    def _fitted(self, collection_id: int, map_id: int) -> FittedMap:
        key = (str(self.ctx.settings.index_dir().resolve()), map_id)
        with _cache_lock:
            if key not in _cache:
                _cache[key] = FittedMap.load(model_dir(self.ctx.settings, collection_id, f"map-{map_id}"))
            return _cache[key]

    def points(self, name: str, sample: int | None = None, seed: int = 0) -> dict[str, Any]:
        """Points (id, x, y, topic, label) of the active map; ``sample`` draws that many at random (seeded)."""
        with self.ctx.sessions() as session:
            collection = repo.get_collection(session, name)
            model = mrepo.active_map(session, collection.id)
            if model is None:
                raise ModelNotFitted(f"collection {name!r} has no map; run `latentspace map fit`")
            rows = mrepo.points(session, model.id)
            total = len(rows)
            if sample is not None and sample < total:
                picked = np.sort(np.random.default_rng(seed).choice(total, size=sample, replace=False))
                rows = [rows[i] for i in picked]
            topics_model = trepo.active_model(session, collection.id)
            doc_ids = [r[0] for r in rows]
            topics = trepo.document_topics(session, topics_model.id, doc_ids) if topics_model else {}
            snippets = mrepo.first_chunk_snippets(session, doc_ids)
            points = [{"id": ext, "x": x, "y": y, "topic": topics.get(d), "label": snippets.get(d, "")}
                      for d, ext, x, y in rows]
            return {"map_id": model.id, "method": model.method, "total": total, "points": points}
