"""Value types produced by the readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceDocument:
    """One document to ingest.

    ``external_id``: absolute posix path for files, the id field (or ``"<source>#<line>"``) for rows,
    the stream name for a text stream. ``source_uri``: absolute path, ``"<path>#<line>"`` for rows, or the
    stream name. ``pages``: for PDFs, ``pages[i]`` is the ``(start, end)`` char span of page ``i + 1`` in
    ``text`` (empty pages have ``start == end``).
    """

    external_id: str
    text: str
    source_uri: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    pages: list[tuple[int, int]] | None = None


@dataclass(frozen=True)
class RowError:
    """A row of a jsonl/csv source that could not be turned into a document; the rest still is."""

    source_uri: str | None
    line: int
    message: str


@dataclass(frozen=True)
class TableOptions:
    """How rows of jsonl/csv sources map to documents.

    ``text_fields`` are joined with a blank line, skipping missing/empty ones. ``id_field`` falls back to
    ``"id"`` when it is ``"_id"`` and absent; rows without an id get ``"<source>#<line>"``.
    ``metadata_fields=None`` keeps every other field; a nested ``"metadata"`` dict is merged flat.
    """

    text_fields: tuple[str, ...] = ("title", "text")
    id_field: str | None = "_id"
    metadata_fields: tuple[str, ...] | None = None
