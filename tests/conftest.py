"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable) and the real bundled model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

POSTGRES_ENV = "LATENTSPACE_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    """The test server's URL if one is configured and reachable (skip reason printed otherwise)."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return None
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:  # unreachable server → the test is skipped with the reason below
        return None
    return url


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind; the PostgreSQL one is skipped when no server is reachable."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL not reachable: set {POSTGRES_ENV} (.ci/run starts a server)")
    reset_postgres(url)
    yield url


@pytest.fixture(scope="session")
def embedders(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """One real all-MiniLM-L6-v2 shared by the session (loading it takes seconds); ONNX exports made once.
    No batch size: each backend's own default, as a server with LATENTSPACE_EMBED_BATCH_SIZE unset has."""
    from ingest.embedders import EmbedderCache

    return EmbedderCache(export_root=tmp_path_factory.mktemp("onnx-exports"))


@pytest.fixture
def settings(tmp_path: Path, db_url: str):
    from core.settings import Settings

    return Settings(data_dir=tmp_path / "data", database_url=db_url, _env_file=None)


@pytest.fixture
def sqlite_settings(tmp_path: Path):
    from core.settings import Settings

    return Settings(data_dir=tmp_path / "data", _env_file=None)


def make_engine(settings, embedders):  # noqa: ANN001, ANN201
    from services.engine import Engine
    from store.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    return Engine(settings, embedders=embedders)


@pytest.fixture
def engine(settings, embedders):  # noqa: ANN001, ANN201
    """An Engine on each database kind."""
    eng = make_engine(settings, embedders)
    yield eng
    eng.close()


@pytest.fixture
def sqlite_engine(sqlite_settings, embedders):  # noqa: ANN001, ANN201
    eng = make_engine(sqlite_settings, embedders)
    yield eng
    eng.close()


@pytest.fixture
def env(tmp_path: Path, monkeypatch, embedders):  # noqa: ANN001, ANN201
    """For CLI tests: a fresh data dir (SQLite default) as cwd, and every Engine reuses the session's model."""
    monkeypatch.setenv("LATENTSPACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LATENTSPACE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    import services.engine

    original = services.engine.Engine.__init__
    monkeypatch.setattr(services.engine.Engine, "__init__", lambda self, s, e=None: original(self, s, embedders))
    return tmp_path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they need, from the fixtures they use, so `-m "not slow and not postgres"` is a fast lane.

    ``slow``: the real embedding model (the session's ``embedders`` fixture, directly or through another
    fixture). ``postgres``: the PostgreSQL case of ``db_url``.
    """
    for item in items:
        if "embedders" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)
