"""Explicit registry of VectorIndex backends, chosen by name (never by inspecting types)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.errors import IndexCorrupt, InvalidInput, UnknownIndexKind
from core.saveddir import read_saved_dir
from index.base import BaseIndex, VectorIndex
from index.exact import ExactIndex
from index.faiss_hnsw import FaissHnswIndex
from index.faiss_ivf import FaissIvfIndex
from index.hnsw import HnswlibIndex

__all__ = [
    "DEFAULT_EXACT_THRESHOLD",
    "INDEX_KINDS",
    "check_index_params",
    "create_index",
    "create_stored_index",
    "default_kind",
    "load_index",
]
log = logging.getLogger(__name__)

INDEX_KINDS: dict[str, type[BaseIndex]] = {
    ExactIndex.kind: ExactIndex,
    FaissHnswIndex.kind: FaissHnswIndex,
    FaissIvfIndex.kind: FaissIvfIndex,
    HnswlibIndex.kind: HnswlibIndex,
}

DEFAULT_EXACT_THRESHOLD = 20_000


def _index_class(kind: str) -> type[BaseIndex]:
    try:
        return INDEX_KINDS[kind]
    except (KeyError, TypeError):
        raise UnknownIndexKind(f"unknown index kind {kind!r}; valid kinds: {sorted(INDEX_KINDS)}") from None


def check_index_params(kind: str | None, params: Any) -> dict[str, Any]:
    """``params`` as they would be stored for a new collection of ``kind``, validated by that backend.

    Unknown keys, wrong types and values out of bounds raise InvalidInput (422) here, at creation,
    instead of failing every later load. An automatic kind (None) may become exact or hnswlib as the
    collection grows, so it takes no parameters.
    """
    if params is not None and not isinstance(params, dict):
        raise InvalidInput("index_params must be a JSON object")
    if kind is None:
        if params:
            raise InvalidInput("index_params need an explicit index_kind (the automatic kind takes none)")
        return {}
    cls = _index_class(kind)
    cls.check_params(params)
    return dict(params or {})


def create_index(kind: str, dim: int, params: dict[str, Any] | None = None) -> VectorIndex:
    """A new empty index of registry name ``kind`` with vectors of width ``dim``; bad params raise InvalidInput."""
    return _index_class(kind)(dim, params)


def create_stored_index(kind: str, dim: int, params: dict[str, Any] | None = None) -> VectorIndex:
    """:func:`create_index` for a collection's stored settings: parameters that no longer validate (stored
    before creation checked them) fall back to the backend's defaults with a warning, because a bad setting
    must not stop start-up or every search of the collection."""
    cls = _index_class(kind)
    try:
        cls.check_params(params)
    except InvalidInput as exc:
        log.warning("ignoring invalid index parameters for a %s index (%s); using the defaults", kind, exc.message)
        params = None
    return cls(dim, params)


def load_index(directory: Path) -> VectorIndex:
    """Load a saved index, dispatching on its manifest's ``kind``; damage raises IndexCorrupt."""
    kind = read_saved_dir(Path(directory), verify_files=False)["kind"]
    try:
        cls = _index_class(kind)
    except UnknownIndexKind as exc:
        raise IndexCorrupt(f"{directory}: manifest names an unknown index kind {kind!r}") from exc
    return cls.load(Path(directory))


def default_kind(n_vectors: int, threshold: int = DEFAULT_EXACT_THRESHOLD) -> str:
    """Exact search below ``threshold`` vectors (fast enough, perfect recall), hnswlib above."""
    return "exact" if n_vectors < threshold else "hnswlib"
