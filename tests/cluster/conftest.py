"""Fixtures of the cluster tests: PostgreSQL (skipped without it) and a seeded corpus written once per module."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import postgres_url

WORDS = (
    "glacier comet vaccine bread river mountain star planet virus immune cell ocean wave dough oven "
    "protein enzyme galaxy orbit yeast flour tide storm climate gene"
).split()


def corpus(n: int, seed: int = 0) -> list[tuple[str, str, dict]]:
    """Seeded short texts over a small vocabulary, so BM25 statistics differ between shards."""
    rng = np.random.default_rng(seed)
    return [(f"d{i}", " ".join(rng.choice(WORDS, int(rng.integers(4, 16)))), {"n": i}) for i in range(n)]


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def pg_url() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL not reachable: set LATENTSPACE_TEST_POSTGRES_URL (.ci/run starts a server)")
    return url
