"""Read interaction logs: CSV, TSV, JSONL and whitespace-separated files (MovieLens ``u.data``).

Columns are configurable: ``user`` and ``item`` are required, ``value`` (rating / count / weight,
default 1.0) and ``timestamp`` (unix seconds or ISO 8601) are optional. For CSV/TSV with a header
and for JSONL the columns are field names; for header-less files (``--no-header``, and always for
the whitespace format) they are 0-based positions. A bad row becomes a :class:`RowError` with its
line number and the rest of the file is still read.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from core.errors import InvalidInput, UnreadableFile
from ingest.readers.models import RowError

FORMATS = ("csv", "tsv", "jsonl", "whitespace")
_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".data": "whitespace"}


@dataclass(frozen=True)
class Interaction:
    user: str
    item: str
    value: float = 1.0
    timestamp: float | None = None


@dataclass(frozen=True)
class Columns:
    user: str = "user"
    item: str = "item"
    value: str | None = None
    timestamp: str | None = None
    header: bool = True

    @classmethod
    def movielens(cls) -> Columns:
        return cls(user="0", item="1", value="2", timestamp="3", header=False)


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise InvalidInput(f"unknown interaction format {fmt!r}; choose one of {list(FORMATS)}")
        return fmt
    return _SUFFIX_FORMATS.get(path.suffix.lower(), "whitespace")


def read_interactions(path: Path, columns: Columns, fmt: str | None = None) -> Iterator[Interaction | RowError]:
    """Interactions and per-row errors from one file, in file order."""
    fmt = detect_format(path, fmt)
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            yield from read_stream(fh, str(path), columns, fmt)
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"{path}: cannot read interactions ({exc.__class__.__name__})") from exc


def read_stream(fh: TextIO, source: str, columns: Columns, fmt: str) -> Iterator[Interaction | RowError]:
    if fmt == "jsonl":
        yield from _jsonl(fh, source, columns)
    elif fmt == "whitespace":
        positional = columns if not columns.header else Columns.movielens()
        for line_no, line in enumerate(fh, 1):
            if line.strip():
                yield _row(dict(enumerate(line.split())), positional, source, line_no, by_position=True)
    else:
        yield from _delimited(fh, source, columns, "," if fmt == "csv" else "\t")


def _jsonl(fh: TextIO, source: str, columns: Columns) -> Iterator[Interaction | RowError]:
    for line_no, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowError(source, line_no, f"invalid JSON: {exc.msg}")
            continue
        if not isinstance(record, dict):
            yield RowError(source, line_no, "a JSONL row must be an object")
            continue
        yield _row(record, columns, source, line_no, by_position=False)


def _delimited(fh: TextIO, source: str, columns: Columns, delimiter: str) -> Iterator[Interaction | RowError]:
    reader = csv.reader(fh, delimiter=delimiter)
    header: list[str] | None = None
    for row in reader:
        line_no = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if columns.header and header is None:
            header = [cell.strip() for cell in row]
            missing = [
                c for c in (columns.user, columns.item, columns.value, columns.timestamp) if c and c not in header
            ]
            if missing:
                raise InvalidInput(f"{source}: header lacks column(s) {missing}; found {header}")
            continue
        record: dict[Any, Any] = dict(zip(header, row, strict=False)) if header else dict(enumerate(row))
        yield _row(record, columns, source, line_no, by_position=header is None)


def _row(
    record: dict[Any, Any], columns: Columns, source: str, line_no: int, by_position: bool
) -> Interaction | RowError:
    def get(name: str | None) -> Any:
        if name is None:
            return None
        key: Any = int(name) if by_position and name.isdigit() else name
        return record.get(key)

    user, item = get(columns.user), get(columns.item)
    if user is None or str(user).strip() == "" or item is None or str(item).strip() == "":
        return RowError(source, line_no, f"missing user or item (columns {columns.user!r}, {columns.item!r})")
    try:
        value = _number(get(columns.value), 1.0)
        timestamp = _timestamp(get(columns.timestamp))
    except ValueError as exc:
        return RowError(source, line_no, str(exc))
    return Interaction(str(user).strip(), str(item).strip(), value, timestamp)


def _number(raw: Any, default: float) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"value {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"value {raw!r} is not finite")
    return value


def _timestamp(raw: Any) -> float | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return _number(raw, 0.0)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(str(raw).strip()).timestamp()
    except ValueError:
        raise ValueError(f"timestamp {raw!r} is neither unix seconds nor ISO 8601") from None
