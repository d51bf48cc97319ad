"""2-D maps of a collection: PCA (fast default) or UMAP, one point per document, stored per document.

PCA is saved as ``mean.npy`` + ``components.npy`` and places new documents exactly by its linear
transform. umap-learn's transform needs the fitted Python object, which cannot be saved without pickle,
so a UMAP map saves the fitted documents' vectors and 2-D positions instead and places a new document at
the similarity-weighted mean position of its k nearest fitted documents (k-NN interpolation, k=10):
a documented approximation that keeps new points next to their neighbours.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, select, update

from core.errors import InvalidInput, ModelNotFitted
from latent.documents import load_documents
from latent.storage import latent_root, read_meta, write_atomically
from store import repositories as repo
from store.models import Collection, Document
from store.models_topics import MapModel, MapPoint

if TYPE_CHECKING:
    from services.engine import Engine

METHODS = ("pca", "umap")
KNN = 10
_cache: dict[tuple[str, int], FittedMap] = {}
_cache_lock = threading.Lock()


@dataclass
class FittedMap:
    method: str
    mean: np.ndarray  # pca: (dim,)        umap: unused (empty)
    basis: np.ndarray  # pca: (2, dim)     umap: fitted unit vectors (n, dim)
    anchors: np.ndarray  # pca: unused     umap: fitted positions (n, 2)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Positions (n, 2) float32 of unit vectors (n, dim)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.method == "pca":
            return ((vectors - self.mean) @ self.basis.T).astype(np.float32)
        sims = vectors @ self.basis.T
        k = min(KNN, sims.shape[1])
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        weights = np.clip(np.take_along_axis(sims, nearest, axis=1), 1e-6, None)
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkd->nd", weights, self.anchors[nearest]).astype(np.float32)

    def save(self, directory: Path) -> None:
        for name in ("mean", "basis", "anchors"):
            np.save(directory / f"{name}.npy", getattr(self, name))
        (directory / "model.json").write_text(json.dumps({"method": self.method}))

    @classmethod
    def load(cls, directory: Path) -> FittedMap:
        meta = read_meta(directory)
        arrays = [np.load(directory / f"{n}.npy", allow_pickle=False) for n in ("mean", "basis", "anchors")]
        return cls(meta["method"], *arrays)


def fit_projection(vectors: np.ndarray, method: str = "pca", seed: int = 0, neighbours: int = 15) -> FittedMap:
    """Fit a 2-D projection of unit vectors (n, dim); deterministic for a given seed."""
    if method not in METHODS:
        raise InvalidInput(f"unknown map method {method!r}; choose one of {list(METHODS)}")
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) < 3:
        raise InvalidInput(f"a map needs at least 3 documents, got {len(vectors)}")
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="full").fit(vectors)
        basis = _fix_signs(pca.components_.astype(np.float32))
        return FittedMap("pca", pca.mean_.astype(np.float32), basis, np.zeros((0, 2), np.float32))
    try:
        import umap
    except ImportError as exc:
        raise ImportError("UMAP maps need the umap-learn package: pip install umap-learn") from exc
    reducer = umap.UMAP(n_components=2, n_neighbors=min(neighbours, len(vectors) - 1), metric="cosine",
                        random_state=seed, n_jobs=1)
    positions = reducer.fit_transform(vectors).astype(np.float32)
    return FittedMap("umap", np.zeros(0, np.float32), vectors, positions)


def _fix_signs(components: np.ndarray) -> np.ndarray:
    # An axis's sign is arbitrary; fix it (largest coordinate positive) so refits look the same.
    rows = np.arange(len(components))
    signs = np.sign(components[rows, np.argmax(np.abs(components), axis=1)])
    return components * np.where(signs == 0, 1, signs)[:, None]


def fit_map(engine: Engine, name: str, method: str = "pca", seed: int = 0) -> dict[str, Any]:
    """Project every document of ``name`` to 2-D, make it the active map, store the positions."""
    with engine.sessions() as session:
        collection = repo.get_collection(session, name)
        docs = load_documents(session, collection)
    fitted = fit_projection(docs.vectors, method, seed)
    positions = fitted.anchors if method == "umap" else fitted.transform(docs.vectors)
    with engine.write_lock, engine.sessions.begin() as session:
        session.execute(update(MapModel).where(MapModel.collection_id == collection.id).values(active=False))
        model = MapModel(collection_id=collection.id, method=method, params={"seed": seed}, active=True)
        session.add(model)
        session.flush()
        write_atomically(_directory(engine, collection.id, model.id), fitted.save)
        _write_points(session, model.id, docs.ids, positions)
        summary = {"map_id": model.id, "method": method, "documents": len(docs)}
    placed = select(MapPoint.document_id).where(MapPoint.map_id == summary["map_id"])
    with engine.sessions() as session:  # documents written during the fit are placed like later ones
        late = list(session.scalars(select(Document.id).where(
            Document.collection_id == collection.id, Document.id.not_in(placed))))
    place_documents(engine, collection, late)
    return summary


def _write_points(session, map_id: int, document_ids: np.ndarray, positions: np.ndarray) -> None:  # noqa: ANN001
    rows = [{"map_id": map_id, "document_id": int(d), "x": float(p[0]), "y": float(p[1])}
            for d, p in zip(document_ids, positions, strict=True)]
    if rows:
        session.execute(MapPoint.__table__.insert(), rows)


def _directory(engine: Engine, collection_id: int, map_id: int) -> Path:
    return latent_root(engine.settings.index_dir(), collection_id) / f"map-{map_id}"


def active_map(session, collection_id: int) -> MapModel | None:  # noqa: ANN001
    stmt = select(MapModel).where(MapModel.collection_id == collection_id, MapModel.active)
    return session.scalar(stmt.order_by(MapModel.id.desc()).limit(1))


def place_documents(engine: Engine, collection: Collection, document_ids: list[int]) -> None:
    """Place new or changed documents on the active map by its fitted transform (no refit)."""
    with engine.sessions.begin() as session:
        model = active_map(session, collection.id)
        if model is None or not document_ids:
            return
        session.execute(
            delete(MapPoint).where(MapPoint.map_id == model.id, MapPoint.document_id.in_(document_ids))
        )
        docs = load_documents(session, collection, document_ids)
        if len(docs):
            key = (str(engine.settings.index_dir().resolve()), model.id)
            with _cache_lock:
                if key not in _cache:
                    _cache[key] = FittedMap.load(_directory(engine, collection.id, model.id))
                fitted = _cache[key]
            _write_points(session, model.id, docs.ids, fitted.transform(docs.vectors))


def map_points(engine: Engine, name: str, sample: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Points (id, x, y, topic, label) of the active map; ``sample`` draws that many at random (seeded)."""
    from services.topics import active_model, document_topics

    with engine.sessions() as session:
        collection = repo.get_collection(session, name)
        model = active_map(session, collection.id)
        if model is None:
            raise ModelNotFitted(f"collection {name!r} has no map; run `latentspace map fit`")
        stmt = (select(MapPoint.document_id, Document.external_id, MapPoint.x, MapPoint.y)
                .join(Document, Document.id == MapPoint.document_id)
                .where(MapPoint.map_id == model.id).order_by(MapPoint.document_id))
        rows = session.execute(stmt).all()
        total = len(rows)
        if sample is not None and sample < total:
            picked = np.sort(np.random.default_rng(seed).choice(total, size=sample, replace=False))
            rows = [rows[i] for i in picked]
        topics_model = active_model(session, collection.id)
        doc_ids = [r[0] for r in rows]
        topics = document_topics(session, topics_model.id, doc_ids) if topics_model else {}
        snippets = _snippets(session, doc_ids)
        points = [{"id": ext, "x": x, "y": y, "topic": topics.get(d), "label": snippets.get(d, "")}
                  for d, ext, x, y in rows]
        return {"map_id": model.id, "method": model.method, "total": total, "points": points}


def _snippets(session, document_ids: list[int], length: int = 160) -> dict[int, str]:  # noqa: ANN001
    from store.models import Chunk

    found: dict[int, str] = {}
    for start in range(0, len(document_ids), 500):
        part = document_ids[start : start + 500]
        stmt = select(Chunk.document_id, Chunk.text).where(Chunk.document_id.in_(part), Chunk.ordinal == 0)
        found.update({int(d): " ".join(t.split())[:length] for d, t in session.execute(stmt)})
    return found
