"""Embedders: the model cache, and the names callers import (``Embedder``, ``SentenceTransformerEmbedder``).

The protocol and the sentence-transformers implementation live in ingest/embedder_base.py; ingest/clip.py
builds on them. The cache imports both, so the dependency runs one way: embedders -> clip -> embedder_base.
"""

from __future__ import annotations

import threading

from ingest.clip import with_image_tower
from ingest.embedder_base import (
    BUNDLED_MINILM_NAMES,
    Embedder,
    SentenceTransformerEmbedder,
    ThreadPolicy,
    resolve_model_path,
)

__all__ = [
    "BUNDLED_MINILM_NAMES",
    "Embedder",
    "EmbedderCache",
    "SentenceTransformerEmbedder",
    "ThreadPolicy",
    "resolve_model_path",
]


class EmbedderCache:
    """Loads each model once per process; models are large and slow to load."""

    def __init__(self, batch_size: int = 64, threads: ThreadPolicy | None = None, query_cache: int = 1024) -> None:
        self._batch_size = batch_size
        self._threads = threads
        self._query_cache = query_cache
        self._models: dict[str, Embedder] = {}
        self._text: dict[str, SentenceTransformerEmbedder] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Embedder:
        with self._lock:
            if name not in self._models:
                loaded = SentenceTransformerEmbedder(
                    name, batch_size=self._batch_size, threads=self._threads, query_cache=self._query_cache
                )
                self._text[name] = loaded
                self._models[name] = with_image_tower(loaded)  # CLIP models also embed images
            return self._models[name]

    def query_cache_counts(self) -> tuple[int, int]:
        """(hits, misses) of every loaded model's query-vector cache, for /metrics."""
        with self._lock:
            caches = [model.queries for model in self._text.values()]
        return sum(c.hits for c in caches), sum(c.misses for c in caches)
