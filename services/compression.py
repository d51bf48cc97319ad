"""Latent compression of a collection (fit, outliers); the compressors themselves are latent/compression.py."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import ModelNotFitted
from latent.compression import Compressor, fit_compressor
from latent.saved import has_model
from services.context import ServiceContext
from services.documents_matrix import load_documents
from services.latent_paths import model_dir
from store import repositories as repo


class CompressionService:
    """The compressor of each collection of one context (one per collection, replaced by a refit)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def fit(self, name: str, method: str = "pca", dim: int = 32, seed: int = 0) -> dict[str, Any]:
        """Fit a compressor on a collection's document vectors; it then scores outliers."""
        with self.ctx.sessions() as session:
            collection = repo.get_collection(session, name)
            docs = load_documents(session, collection)
        model = fit_compressor(docs.vectors, method, dim, seed)
        with self.ctx.write_lock:  # one writer per data dir, files included
            model.save(model_dir(self.ctx.settings, collection.id, "compression"))
        errors = model.reconstruction_error(docs.vectors)
        return {"method": method, "dim": dim, "documents": len(docs), "mean_error": float(errors.mean())}

    def outliers(self, name: str, k: int = 10) -> dict[str, Any]:
        """The ``k`` documents with the largest reconstruction error under the fitted compressor."""
        with self.ctx.sessions() as session:
            collection = repo.get_collection(session, name)
            directory = model_dir(self.ctx.settings, collection.id, "compression")
            if not has_model(directory):
                raise ModelNotFitted(
                    f"collection {name!r} has no compression model; run `latentspace compress fit`"
                )
            model = Compressor.load(directory)
            docs = load_documents(session, collection)
        if docs.vectors.shape[1] != model.weights[0].shape[0] and model.method == "pca":
            raise ModelNotFitted(f"the compression model of {name!r} does not match its vectors; fit it again")
        scores = model.reconstruction_error(docs.vectors)
        order = np.argsort(-scores, kind="stable")[:k]
        items = [{"id": docs.external_ids[i], "score": round(float(scores[i]), 6),
                  "snippet": " ".join(docs.texts[i].split())[:160]} for i in order]
        return {"method": model.method, "dim": model.dim, "total": len(docs), "items": items}

    def chunk_vectors(self, name: str) -> np.ndarray:
        """Every chunk vector of ``name`` as stored (n, dim) float32, for offline compression studies."""
        with self.ctx.sessions() as session:
            collection = repo.get_collection(session, name)
            parts = [v for _ids, v in repo.iter_vectors(session, collection.id, collection.embedder_dim)]
        if not parts:
            return np.zeros((0, collection.embedder_dim), np.float32)
        return np.vstack(parts).astype(np.float32, copy=False)
