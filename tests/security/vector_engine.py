"""A model-free Engine for hostile-input tests: a tiny deterministic embedder, collections fed with vectors.

No sentence-transformers model is loaded, so these tests stay in the fast lane; documents carry their own
``vector`` and text queries are embedded by hashing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

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

    def get(self, _name: str, _backend: str = "torch") -> HashEmbedder:
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


COLLECTION = "c"


def seed_documents(n: int = 6) -> list[dict[str, Any]]:
    return [
        {"id": f"d{i}", "text": f"document number {i}", "vector": unit(i), "metadata": {"i": i, "lang": "en"}}
        for i in range(n)
    ]


@contextmanager
def seeded_client(data_dir: Path, **settings: Any) -> Iterator[tuple[TestClient, Any]]:
    """A TestClient (server errors as 500 responses, not exceptions) on a collection holding a few documents."""
    from api.app import create_app

    engine = vector_engine(data_dir, **settings)
    try:
        with TestClient(create_app(engine.settings, engine=engine), raise_server_exceptions=False) as client:
            assert client.post("/v1/collections", json={"name": COLLECTION}).status_code == 201
            added = client.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": seed_documents()})
            assert added.status_code == 200 and added.json()["added"] == 6, added.text
            yield client, engine
    finally:
        engine.close()


def post_raw(client: TestClient, path: str, body: str) -> Any:
    """POST a JSON text as is: Python's json (and so the API) accepts NaN, Infinity and lone surrogates."""
    return client.post(path, content=body.encode("utf-8"), headers={"content-type": "application/json"})
