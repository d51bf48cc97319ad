"""A model-free Engine for hostile-input tests: a tiny deterministic embedder, collections fed with vectors.

No sentence-transformers model is loaded, so these tests stay in the fast lane; documents carry their own
``vector`` and text queries are embedded by hashing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

DIM = 8


class HashEmbedder:
    """Deterministic unit vectors from a text's sha256: enough to exercise every search path."""

    name = "hash-embedder"
    dim = DIM
    version = "1"
    max_tokens = 128
    tokenizer: Any = None

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self.embed_query(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        seed = hashlib.sha256(text.encode("utf-8", "replace")).digest()
        vector = np.frombuffer(seed[: DIM * 4], dtype=np.uint32).astype(np.float32) + 1.0
        return vector / np.linalg.norm(vector)


class HashEmbedders:
    """Stands in for ingest/embedders.EmbedderCache: every model name gives the hash embedder."""

    def __init__(self) -> None:
        self.embedder = HashEmbedder()

    def get(self, _name: str) -> HashEmbedder:
        return self.embedder


def vector_engine(data_dir: Path, **settings: Any):  # noqa: ANN201
    """An Engine over a fresh SQLite data dir whose every collection uses the hash embedder."""
    from core.settings import Settings
    from services.engine import Engine
    from store.migrate import upgrade

    config = Settings(data_dir=data_dir, _env_file=None, **settings)
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(config.resolved_database_url())
    return Engine(config, embedders=HashEmbedders())


def unit(i: int) -> list[float]:
    """A distinct non-zero vector for document ``i``."""
    vector = [0.1] * DIM
    vector[i % DIM] = 1.0 + i
    return vector
