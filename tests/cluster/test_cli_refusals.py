"""What cluster mode refuses up front, with a message and exit 1 (no Ray, no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LATENTSPACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LATENTSPACE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("hello", encoding="utf-8")
    return tmp_path


def test_ingest_with_two_ray_workers_on_sqlite_is_refused(sqlite_env: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", "a.txt", "-c", "notes", "--ray", "local", "--workers", "2"])
    assert result.exit_code == 1
    assert "needs PostgreSQL" in result.output
    assert not (sqlite_env / "data" / "latentspace.db").exists()  # refused before anything was opened


def test_workers_without_ray_and_shards_without_ray_are_refused(sqlite_env: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", "a.txt", "-c", "notes", "--workers", "2"])
    assert result.exit_code == 1 and "--workers needs --ray" in result.output
    result = CliRunner().invoke(app, ["serve", "--shards", "3"])
    assert result.exit_code == 1 and "need --ray" in result.output


def test_serve_on_ray_with_sqlite_is_refused(sqlite_env: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--ray", "local", "--shards", "2"])
    assert result.exit_code == 1 and "needs PostgreSQL" in result.output


def test_serve_workers_with_ray_is_refused(sqlite_env: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--ray", "local", "--shards", "2", "--workers", "2"])
    assert result.exit_code == 1 and "--replicas adds throughput" in result.output
    assert not (sqlite_env / "data" / "latentspace.db").exists()  # refused before anything was opened
