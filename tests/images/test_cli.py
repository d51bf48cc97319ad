"""``latentspace ingest`` on a photo folder and ``latentspace eval images`` on a labelled one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.images.conftest import picture

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch, clip_path: str, clip_embedders):  # noqa: ANN001, ANN201
    monkeypatch.setenv("LATENTSPACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LATENTSPACE_IMAGE_MODEL", clip_path)
    monkeypatch.delenv("LATENTSPACE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    import services.engine

    original = services.engine.Engine.__init__
    monkeypatch.setattr(services.engine.Engine, "__init__", lambda self, s, e=None: original(self, s, clip_embedders))
    return tmp_path


def test_ingest_photo_folder_creates_image_collection(env: Path, photo_dir: Path) -> None:
    (photo_dir / "notes.txt").unlink()
    first = runner.invoke(app, ["ingest", str(photo_dir), "-c", "photos"])
    assert first.exit_code == 1  # broken.jpg is reported and the run exits non-zero
    assert "broken.jpg" in first.output and "7" in first.output
    (photo_dir / "broken.jpg").unlink()
    again = runner.invoke(app, ["ingest", str(photo_dir), "-c", "photos"])
    assert again.exit_code == 0, again.output
    listed = runner.invoke(app, ["collections", "list"])
    assert "photos" in listed.output


def test_text_collection_skips_images_with_a_note(env: Path, photo_dir: Path, clip_path: str) -> None:
    args = ["ingest", str(photo_dir), "-c", "notes", "--modality", "text", "--model", clip_path]
    result = runner.invoke(app, args)
    output = " ".join(result.output.split())
    assert result.exit_code == 0, output
    assert "skipped 8 image file(s)" in output and "text collection" in output


def test_missing_image_model_fails_clearly(env: Path, photo_dir: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("LATENTSPACE_IMAGE_MODEL", "clip-ViT-B-32")
    (photo_dir / "notes.txt").unlink()
    result = runner.invoke(app, ["ingest", str(photo_dir), "-c", "photos"])
    assert result.exit_code == 1
    assert "clip-ViT-B-32" in result.output and "LATENTSPACE_IMAGE_MODEL" in result.output
    assert "photos" not in runner.invoke(app, ["collections", "list"]).output


def test_eval_images_reports_correct_pipeline(env: Path, tmp_path: Path) -> None:
    root = tmp_path / "labelled"
    rows = []
    for label, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220)), ("green", (20, 220, 20))):
        (root / label).mkdir(parents=True)
        for i in range(4):
            (root / label / f"{i}.png").write_bytes(picture(tuple(c + 8 * i for c in colour)))
            rows.append({"path": f"{label}/{i}.png", "label": label})
    with open(tmp_path / "labels.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["path", "label"])
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(app, ["eval", "images", str(root), "--labels", str(tmp_path / "labels.csv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert (report["images"], report["classes"], report["ingest"]["added"]) == (12, 3, 12)
    assert report["correctness"]["self_rank1"] == 1.0
    assert report["correctness"]["max_abs_diff_stored_vs_raw"] < 1e-5
    assert set(report["image_to_image_precision@10"]["by_class"]) == {"red", "blue", "green"}
    assert 0.0 <= report["zero_shot"]["accuracy"] <= 1.0
    bad = runner.invoke(app, ["eval", "images", str(root), "--labels", str(tmp_path / "nope.csv")])
    assert bad.exit_code == 1 and "nope.csv" in bad.output
