"""Embedders: the model cache, and the names callers import (``Embedder``, ``SentenceTransformerEmbedder``).

The protocol and the sentence-transformers implementation live in ingest/embedder_base.py; ingest/clip.py
builds on them. The cache imports both, so the dependency runs one way: embedders -> clip -> embedder_base.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from core.errors import BackendUnsupported, EmbedderMismatch, InvalidInput, ModelUnavailable
from ingest.clip import encodes_images, with_image_tower
from ingest.embedder_base import (
    BUNDLED_MINILM_NAMES,
    Embedder,
    SentenceTransformerEmbedder,
    ThreadPolicy,
    resolve_model_path,
)

BACKENDS = ("torch", "onnx", "onnx-int8")
# Backends whose vectors equal each other's (fp32 ONNX vs torch within 1e-5, tests/ingest/test_onnx_backend.py):
# a collection made with one may be searched or extended with the other.
INTERCHANGEABLE = frozenset({"torch", "onnx"})
# Texts per model call when LATENTSPACE_EMBED_BATCH_SIZE is unset, by backend (docs/BENCHMARKS.md, "Embedding
# backends on an AVX-512 VNNI CPU, and ONNX batches of 16"): ONNX Runtime ran SciFact abstracts 1.2-1.3x faster
# in batches of 16 than of 64 (a batch of 64 x 256 tokens outgrows the caches); torch was no faster below 64.
# Images: 64 (not measured).
DEFAULT_BATCH = {"torch": 64, "onnx": 16, "onnx-int8": 16}
IMAGE_BATCH = 64


def batch_size_for(backend: str, configured: int | None) -> int:
    """Texts per model call for ``backend``: the configured size, else the backend's measured default."""
    return configured or DEFAULT_BATCH.get(backend, DEFAULT_BATCH["torch"])

__all__ = [
    "BACKENDS",
    "INTERCHANGEABLE",
    "BUNDLED_MINILM_NAMES",
    "DEFAULT_BATCH",
    "IMAGE_BATCH",
    "Embedder",
    "EmbedderCache",
    "SentenceTransformerEmbedder",
    "ThreadPolicy",
    "batch_size_for",
    "resolve_model_path",
]


class EmbedderCache:
    """Loads each model once per process; models are large and slow to load."""

    def __init__(
        self,
        batch_size: int | None = None,
        threads: ThreadPolicy | None = None,
        query_cache: int = 1024,
        export_root: Path | None = None,
    ) -> None:
        self._batch_size = batch_size  # None: each backend's DEFAULT_BATCH
        self._threads = threads
        self._query_cache = query_cache
        self._export_root = export_root  # where ONNX exports go (the data dir's models/onnx)
        self._models: dict[tuple[str, str], Embedder] = {}
        self._text: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str, backend: str = "torch") -> Embedder:
        """The model ``name`` run by ``backend`` (see :data:`BACKENDS`), loaded once per process."""
        check_backend(backend)
        with self._lock:
            key = (name, backend)
            if key not in self._models:
                self._text[key], self._models[key] = self._load(name, backend)
            return self._models[key]

    def _load(self, name: str, backend: str) -> tuple[Any, Embedder]:
        """(the text embedder, whose query cache /metrics counts; what callers get, a CLIP's image tower added)."""
        options = {
            "batch_size": batch_size_for(backend, self._batch_size), "threads": self._threads,
            "query_cache": self._query_cache,
        }
        if backend == "torch":
            text = SentenceTransformerEmbedder(name, **options)
            return text, with_image_tower(text)
        if self._export_root is None:
            raise ModelUnavailable("the ONNX backends need a directory for their exported models")
        from ingest.onnx_embedder import OnnxEmbedder

        try:
            onnx = OnnxEmbedder(name, backend, self._export_root, **options)
            return onnx, onnx
        except ModelUnavailable as not_mean_pooling:
            return self._load_clip(name, backend, options, not_mean_pooling)

    def _load_clip(
        self, name: str, backend: str, options: dict[str, Any], error: ModelUnavailable
    ) -> tuple[Any, Embedder]:
        """A CLIP on an ONNX backend: its image tower in ONNX Runtime (fp32 only), its text tower in torch."""
        from ingest.onnx_image import OnnxImageTower

        text = self._torch_text(name, options)
        if not encodes_images(text):
            raise error
        if backend != "onnx":
            raise BackendUnsupported(
                f"a CLIP model runs with the 'torch' or 'onnx' backend, not {backend!r}: the quality of an int8 "
                "image tower could not be checked here"
            )
        tower = OnnxImageTower(
            text.model, resolve_model_path(name), self._export_root, text.version,  # type: ignore[arg-type]
            batch_size=self._batch_size or IMAGE_BATCH, threads=self._threads,
        )
        return text, with_image_tower(text, tower)

    def _torch_text(self, name: str, options: dict[str, Any]) -> SentenceTransformerEmbedder:
        """The torch embedder of ``name``, kept as its ``torch`` entry: a CLIP's text tower runs in torch in every
        backend, and a refused backend falls back to torch (services/collections.py), so it is loaded once.
        Called under the cache's lock."""
        key = (name, "torch")
        if key not in self._models:
            torch_options = {**options, "batch_size": batch_size_for("torch", self._batch_size)}
            text = SentenceTransformerEmbedder(name, **torch_options)
            self._text[key], self._models[key] = text, with_image_tower(text)
        return self._text[key]

    def query_cache_counts(self) -> tuple[int, int]:
        """(hits, misses) of every loaded model's query-vector cache, for /metrics (a cache shared by two
        backends of one CLIP counts once)."""
        with self._lock:
            caches = list({id(model): model.queries for model in self._text.values()}.values())
        return sum(c.hits for c in caches), sum(c.misses for c in caches)


def collection_backend(options: dict[str, Any] | None) -> str:
    """A collection's embedding backend from its stored options (collections made before the option: torch)."""
    return (options or {}).get("backend", "torch")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise InvalidInput(f"unknown embedding backend {backend!r}; choose one of {list(BACKENDS)}")
    return backend


def require_backend(name: str, options: dict[str, Any] | None, backend: str | None) -> None:
    """Refuse a backend whose vectors differ from those a collection already holds (fp32 ONNX = torch)."""
    if backend is None:
        return
    current = collection_backend(options)
    if check_backend(backend) != current and not {backend, current} <= INTERCHANGEABLE:
        raise EmbedderMismatch(
            f"collection {name!r} was embedded with backend {current!r}, whose vectors differ from {backend!r}'s; "
            "the backend is set when a collection is created"
        )
