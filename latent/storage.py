"""Where fitted latent models live: ``<index dir>/<collection id>/latent/<name>``, JSON + .npy, no pickle.

Directories are written under a temporary name and renamed into place, so a reader never sees half a model.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from core.errors import IndexCorrupt


def latent_root(index_dir: Path, collection_id: int) -> Path:
    return index_dir / str(collection_id) / "latent"


def write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_dir)`` then move the finished directory to ``target`` (replacing it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    write(tmp)
    old = target.with_name(target.name + ".old")
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def read_meta(directory: Path) -> dict:
    try:
        return json.loads((directory / "model.json").read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"fitted model files in {directory} are missing or unreadable; fit again") from exc


def remove_collection(index_dir: Path, collection_id: int) -> None:
    shutil.rmtree(latent_root(index_dir, collection_id), ignore_errors=True)
