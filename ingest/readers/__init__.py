"""Readers: turn files and streams into :class:`SourceDocument` values.

``read_path`` raises :class:`~core.errors.UnreadableFile` for a file that cannot be read as a whole.
Row sources (jsonl/ndjson/csv/tsv) yield a :class:`RowError` for each bad row instead, and keep going;
a row source with no rows at all raises UnreadableFile after yielding nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from core.errors import InvalidInput, UnreadableFile
from ingest.readers import walk
from ingest.readers.markup import read_html
from ingest.readers.models import RowError, SourceDocument, TableOptions
from ingest.readers.pdf import read_pdf
from ingest.readers.plain import SNIFF_BYTES, check_not_binary, read_markdown, read_plain, require_text
from ingest.readers.tables import csv_rows, jsonl_rows, require_rows

__all__ = [
    "STREAM_FORMATS",
    "SUPPORTED_SUFFIXES",
    "RowError",
    "SourceDocument",
    "TableOptions",
    "iter_files",
    "read_path",
    "read_stream",
]

_DOCUMENT_READERS: dict[str, Callable[[Path], tuple[str, dict[str, Any]]]] = {
    ".txt": read_plain,
    ".text": read_plain,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".rst": read_plain,
    ".html": read_html,
    ".htm": read_html,
}
_ROW_DELIMITERS = {".jsonl": None, ".ndjson": None, ".csv": ",", ".tsv": "\t"}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset({*_DOCUMENT_READERS, ".pdf", *_ROW_DELIMITERS})
STREAM_FORMATS: frozenset[str] = frozenset({"text", "jsonl", "csv", "tsv"})


def iter_files(paths: list[Path], include: list[str] | None, exclude: list[str] | None) -> Iterator[Path]:
    """Files to read for ``paths``; see :func:`ingest.readers.walk.iter_files` for the rules."""
    return walk.iter_files(paths, include, exclude, SUPPORTED_SUFFIXES)


def read_path(path: Path, table: TableOptions | None = None) -> Iterator[SourceDocument | RowError]:
    """Documents in one file, dispatched on its (case-insensitive) suffix."""
    suffix = path.suffix.lower()
    if suffix in _ROW_DELIMITERS:
        return require_rows(_read_rows(path, suffix, table or TableOptions()), _absolute(path))
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFile(f"{path}: unsupported file type {suffix or '(no suffix)'!r}")
    return iter([_read_document(path, suffix)])


def read_stream(
    stream: TextIO, name: str, fmt: str, table: TableOptions | None = None
) -> Iterator[SourceDocument | RowError]:
    """Documents from an already-open text stream (e.g. stdin); ``fmt`` is one of STREAM_FORMATS."""
    table = table or TableOptions()
    if fmt == "jsonl":
        return require_rows(jsonl_rows(stream, name, table), name)
    if fmt in ("csv", "tsv"):
        return require_rows(csv_rows(stream, name, "," if fmt == "csv" else "\t", table), name)
    if fmt != "text":
        raise InvalidInput(f"unknown stream format {fmt!r}; expected one of {sorted(STREAM_FORMATS)}")
    try:
        text = stream.read()
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{name}: not valid UTF-8 ({exc.reason})") from None
    if "\x00" in text[:SNIFF_BYTES]:
        raise UnreadableFile(f"{name}: binary content (NUL bytes), not a text document")
    text = require_text(name, text.replace("\r\n", "\n").replace("\r", "\n"))
    return iter([SourceDocument(name, text, name, {"source": name})])


def _absolute(path: Path) -> str:
    return path.resolve().as_posix()


def _read_document(path: Path, suffix: str) -> SourceDocument:
    pages = None
    if suffix == ".pdf":
        text, extra, pages = read_pdf(path)
    else:
        text, extra = _DOCUMENT_READERS[suffix](path)
    uri = _absolute(path)
    return SourceDocument(uri, text, uri, {**_file_metadata(path, uri), **extra}, pages)


def _file_metadata(path: Path, uri: str) -> dict[str, Any]:
    stat = path.stat()
    return {
        "path": uri,
        "filename": path.name,
        "suffix": path.suffix.lower(),
        "size_bytes": stat.st_size,
        "mtime": stat.st_mtime,
    }


def _read_rows(path: Path, suffix: str, table: TableOptions) -> Iterator[SourceDocument | RowError]:
    origin = _absolute(path)
    _check_head(path)
    delimiter = _ROW_DELIMITERS[suffix]
    # newline="" lets the csv module see quoted embedded newlines; json lines use universal newlines.
    with open(path, encoding="utf-8-sig", newline="" if delimiter else None) as stream:
        if delimiter is None:
            yield from jsonl_rows(stream, origin, table)
        else:
            yield from csv_rows(stream, origin, delimiter, table)


def _check_head(path: Path) -> None:
    """Fail the whole file early when it is clearly not UTF-8 text, rather than row by row."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror or exc}") from None
    check_not_binary(path, head)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # a multi-byte char cut by the sniff window is fine
            raise UnreadableFile(
                f"{path}: not valid UTF-8 (byte 0x{head[exc.start]:02x} at {exc.start})"
            ) from None
