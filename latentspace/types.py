"""What the client returns: plain dataclasses built from the API's JSON shapes, embedded or remote alike."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``cls`` present in ``data`` (a newer server may send more; they are ignored)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class CollectionInfo:
    """A collection's description: ``model`` is None for a bring-your-own-vector collection."""

    name: str
    modality: str
    model: str | None
    dimension: int
    model_version: str
    index_kind: str
    index_params: dict[str, Any]
    documents: int
    chunks: int
    indexed_vectors: int
    created_at: str
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CollectionInfo:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class Hit:
    """One search result: the document's ``id``, the ``score`` of ``mode``, the best chunk's ``text``."""

    id: str
    score: float
    text: str
    metadata: dict[str, Any]
    chunk: int = 0
    char_start: int = 0
    char_end: int = 0
    source_uri: str | None = None
    mode: str = "dense"
    explain: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hit:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class Document:
    """A stored document. ``text`` is None in listings (pages of :meth:`Collection.get` without ids)."""

    id: str
    text: str | None
    metadata: dict[str, Any]
    source_uri: str | None = None
    chunks: int = 0
    content_hash: str = ""
    created_at: str = ""
    updated_at: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        return cls(**_known(cls, {"text": None, **data}))


@dataclass(frozen=True)
class WriteResult:
    """What a write did: documents added, updated, unchanged or failed (with one line per failure)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WriteResult:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class Recommendations:
    """Recommended (or similar) items, best first: each ``{"item", "score", ...}``; ``source`` says how."""

    items: list[dict[str, Any]]
    source: str
    version: str
    ignored_items: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recommendations:
        return cls(**_known(cls, data))
