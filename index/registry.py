"""Explicit registry of VectorIndex backends, chosen by name (never by inspecting types)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import IndexCorrupt, UnknownIndexKind
from core.saveddir import read_saved_dir
from index.base import BaseIndex, VectorIndex
from index.exact import ExactIndex
from index.faiss_hnsw import FaissHnswIndex
from index.faiss_ivf import FaissIvfIndex
from index.hnsw import HnswlibIndex

__all__ = ["DEFAULT_EXACT_THRESHOLD", "INDEX_KINDS", "create_index", "default_kind", "load_index"]

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


def create_index(kind: str, dim: int, params: dict[str, Any] | None = None) -> VectorIndex:
    """A new empty index of registry name ``kind`` with vectors of width ``dim``."""
    return _index_class(kind)(dim, params)


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
