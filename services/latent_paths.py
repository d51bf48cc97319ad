"""Where a collection's fitted latent models live: ``<index dir>/<collection id>/latent/<name>``."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.settings import Settings


def latent_root(settings: Settings, collection_id: int) -> Path:
    return settings.index_dir() / str(collection_id) / "latent"


def model_dir(settings: Settings, collection_id: int, name: str) -> Path:
    """``name``: ``topics-<model id>``, ``map-<map id>`` or ``compression``."""
    return latent_root(settings, collection_id) / name


def remove_collection(settings: Settings, collection_id: int) -> None:
    shutil.rmtree(latent_root(settings, collection_id), ignore_errors=True)
