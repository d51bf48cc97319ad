"""`latentspace collections create --no-model --dimension N` (no model is loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import latentspace
from cli.main import app

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LATENTSPACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LATENTSPACE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def test_create_without_a_model(data_dir: Path) -> None:
    made = runner.invoke(app, ["collections", "create", "own", "--no-model", "--dimension", "4"])
    assert made.exit_code == 0, made.output
    assert "model=(none) dim=4" in made.output
    listed = runner.invoke(app, ["collections", "list"])
    assert listed.exit_code == 0 and "own" in listed.output
    with latentspace.connect(data_dir) as client:
        info = client.get_collection("own").info
    assert (info.model, info.dimension) == (None, 4)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--no-model"], "needs its 'dimension'"),
        (["--no-model", "--dimension", "0"], "dimension must be"),
        (["--no-model", "--dimension", "4", "--model", "all-MiniLM-L6-v2"], "cannot also name a model"),
    ],
)
def test_bad_no_model_options_exit_non_zero_with_a_message(data_dir: Path, args: list[str], says: str) -> None:
    result = runner.invoke(app, ["collections", "create", "bad", *args])
    assert result.exit_code != 0 and says in result.output
    with latentspace.connect(data_dir) as client:
        assert client.list_collections() == []
