"""Fixtures for the operations tests: an API client on SQLite with known, seeded vectors."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app

DIM = 384


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def vector_docs(n: int, seed: int = 0, prefix: str = "d") -> list[dict]:
    return [
        {"id": f"{prefix}{i}", "text": f"document number {i}", "metadata": {"i": i}, "vector": v.tolist()}
        for i, v in enumerate(unit_vectors(n, seed))
    ]


@pytest.fixture
def make_client(sqlite_engine):  # noqa: ANN001
    """Build a client for the shared engine, optionally with other settings (auth, limits)."""
    clients = []

    def build(**overrides) -> TestClient:  # noqa: ANN003
        settings = sqlite_engine.settings.model_copy(update=overrides)
        sqlite_engine.context.settings = settings  # limits are enforced by the engine and the app alike
        client = TestClient(create_app(settings, engine=sqlite_engine))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):  # noqa: ANN001
    return make_client()
