"""Fitted latent models on disk: the shared crash-safe writer, damage reported, older saves still load."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from core.errors import IndexCorrupt
from latent.compression import Compressor, fit_pca
from latent.maps import FittedMap, fit_projection
from latent.saved import has_model

RNG = np.random.default_rng(0)
VECTORS = RNG.normal(size=(40, 8)).astype(np.float32)


def test_damaged_or_foreign_model_dirs_raise_index_corrupt(tmp_path: Path) -> None:
    fit_projection(VECTORS).save(tmp_path / "map")
    fit_pca(VECTORS, 3).save(tmp_path / "compression")
    with pytest.raises(IndexCorrupt, match="compressor"):
        Compressor.load(tmp_path / "map")  # a map is not a compressor
    array = tmp_path / "map" / "basis.npy"
    array.write_bytes(array.read_bytes()[:-8])
    with pytest.raises(IndexCorrupt):
        FittedMap.load(tmp_path / "map")
    (tmp_path / "compression" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt):
        Compressor.load(tmp_path / "compression")
    with pytest.raises(IndexCorrupt):
        FittedMap.load(tmp_path / "nothing")
    assert not has_model(tmp_path / "nothing")


def test_models_saved_before_the_shared_writer_still_load(tmp_path: Path) -> None:
    fitted = fit_projection(VECTORS)
    for name in ("mean", "basis", "anchors"):  # the former layout: model.json + arrays, no manifest
        np.save(tmp_path / f"{name}.npy", getattr(fitted, name))
    (tmp_path / "model.json").write_text(json.dumps({"method": "pca"}))
    assert has_model(tmp_path)
    assert np.array_equal(FittedMap.load(tmp_path).transform(VECTORS), fitted.transform(VECTORS))


def test_an_interrupted_swap_restores_the_newest_whole_model(tmp_path: Path) -> None:
    old, new = fit_pca(VECTORS, 2), fit_pca(VECTORS, 4)
    directory = tmp_path / "compression"
    old.save(directory)
    # A writer killed while deleting its backup left half of it (manifest, not every array) ...
    stale = tmp_path / f".compression.old-{time.time_ns():020d}-stale000"
    shutil.copytree(directory, stale)
    (stale / "w1.npy").unlink()
    new.save(directory)
    assert [p.name for p in tmp_path.iterdir()] == ["compression"]  # the stale backup went with ours
    shutil.copytree(directory, stale)
    (stale / "w1.npy").unlink()
    # ... and the next writer was killed between moving the model aside and moving the new one in.
    os.rename(directory, tmp_path / f".compression.old-{time.time_ns():020d}-killed00")
    assert has_model(directory)
    assert Compressor.load(directory).dim == 4
