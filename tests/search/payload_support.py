"""A model-free Engine on each database kind for the payload index tests (documents carry their own vectors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.security.vector_engine import HashEmbedders


def payload_engine(data_dir: Path, database_url: str | None = None, **settings: Any):  # noqa: ANN201
    """An Engine over ``database_url`` (SQLite in ``data_dir`` by default) whose collections use the hash embedder."""
    from core.settings import Settings
    from services.engine import Engine
    from store.migrate import upgrade

    config = Settings(data_dir=data_dir, database_url=database_url, _env_file=None, **settings)
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(config.resolved_database_url())
    return Engine(config, embedders=HashEmbedders())


def add_documents(engine, name: str, metadata: list[dict[str, Any]], vectors: np.ndarray | None = None,  # noqa: ANN001
                  prefix: str = "d") -> None:
    """Upsert documents ``<prefix><i>`` with ``metadata[i]`` and a vector each (seeded when not given)."""
    from ingest.readers import SourceDocument

    if vectors is None:
        vectors = np.random.default_rng(len(metadata)).normal(size=(len(metadata), 8)).astype(np.float32)
    docs = [SourceDocument(f"{prefix}{i}", f"text {prefix}{i}", None, m) for i, m in enumerate(metadata)]
    report = engine.ingest(name, docs, vectors={f"{prefix}{i}": v for i, v in enumerate(vectors)})
    assert report.failed == 0, report.errors


def sql_ids(engine, name: str, spec: dict) -> list[int]:  # noqa: ANN001
    """The chunk ids SQL gives for ``spec`` (store/filters.py), sorted."""
    from store import repositories as repo

    with engine.sessions() as session:
        collection = repo.get_collection(session, name)
        return sorted(repo.filtered_chunk_ids(session, collection.id, spec).tolist())


def payload_ids(engine, name: str, spec: dict) -> list[int] | None:  # noqa: ANN001
    """The chunk ids the payload index gives for ``spec``, sorted; None when it leaves the filter to SQL."""
    found = engine.context.payload.match(engine.context.collection(name), spec)
    return None if found is None else sorted(found.tolist())
