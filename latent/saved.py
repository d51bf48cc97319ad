"""Fitted latent models (topics, maps, compressors) on disk: ``.npy`` arrays + a manifest, no pickle.

Written through core/saveddir.py, the crash-safe writer the indexes use (temp dir, sha256 of every
file, atomic swap, recovery of an interrupted swap), so a reader sees the previous model or the new
one, never half of one. The manifest holds ``kind`` (what the model is) and ``model`` (its small
JSON metadata). Directories saved before this format (``model.json`` + arrays, no manifest) still load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import IndexCorrupt
from core.saveddir import MANIFEST_NAME, has_saved_dir, read_saved_dir, write_saved_dir

_LEGACY_META = "model.json"


def save_model(directory: Path, kind: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Replace ``directory`` with the arrays and metadata of a fitted model of ``kind``, crash-safely."""

    def write(tmp: Path) -> None:
        for name, value in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(value), allow_pickle=False)

    write_saved_dir(Path(directory), {"kind": kind, "model": meta, "arrays": sorted(arrays)}, write)


def load_meta(directory: Path, kind: str) -> dict[str, Any]:
    """The metadata saved with a model of ``kind``; IndexCorrupt when missing, damaged or another kind."""
    directory = Path(directory)
    if not (directory / MANIFEST_NAME).exists() and (directory / _LEGACY_META).exists():
        return _legacy_meta(directory)
    manifest = read_saved_dir(directory, required=("model",))
    if manifest["kind"] != kind:
        raise IndexCorrupt(f"{directory} holds a {manifest['kind']!r} model, not a {kind!r} model")
    return manifest["model"]


def load_array(directory: Path, name: str) -> np.ndarray:
    try:
        return np.load(Path(directory) / f"{name}.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"fitted model files in {directory} are missing or unreadable; fit again") from exc


def _legacy_meta(directory: Path) -> dict[str, Any]:
    # Before the shared writer, a model was model.json + arrays renamed into place (no checksums).
    try:
        return json.loads((directory / _LEGACY_META).read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"fitted model files in {directory} are missing or unreadable; fit again") from exc


def has_model(directory: Path) -> bool:
    """Whether a model was saved at ``directory`` (an interrupted swap counts: loading restores it)."""
    return has_saved_dir(Path(directory)) or (Path(directory) / _LEGACY_META).is_file()
