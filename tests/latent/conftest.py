"""One planted collection per session (the real bundled model is loaded once; vectors are supplied)."""

from __future__ import annotations

import pytest

from tests.conftest import make_engine
from tests.latent.planted import ingest_planted


@pytest.fixture(scope="session")
def planted(tmp_path_factory, embedders):  # noqa: ANN001, ANN201
    """(engine, docs, vectors) with the collection "planted": 3 topics × 20 documents + 2 outliers."""
    from core.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("latent") / "data", _env_file=None)
    engine = make_engine(settings, embedders)
    docs, vectors = ingest_planted(engine)
    yield engine, docs, vectors
    engine.close()


def purity(labels: dict[str, int], docs: list) -> float:  # noqa: ANN001
    """Share of planted documents whose topic is their planted topic's majority topic, topics distinct."""
    from collections import Counter

    majority = {}
    for name in {t for _, _, t in docs if t != "odd"}:
        majority[name] = Counter(labels[d] for d, _, t in docs if t == name).most_common(1)[0][0]
    if len(set(majority.values())) != len(majority):
        return 0.0
    planted = [(d, t) for d, _, t in docs if t != "odd"]
    return sum(labels[d] == majority[t] for d, t in planted) / len(planted)
