"""Row sources (jsonl, csv/tsv): one document per row, row-level failures reported as RowError."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from core.errors import UnreadableFile
from ingest.readers.models import RowError, SourceDocument, TableOptions

Result = SourceDocument | RowError


def jsonl_rows(lines: TextIO, origin: str, table: TableOptions) -> Iterator[Result]:
    """Documents from JSON-object lines; blank lines are skipped, bad lines become RowError."""
    for line_no, item in enumerate(_guarded(lines, origin, lambda read: read + 1), start=1):
        if isinstance(item, RowError):
            yield item
            return
        if item.strip():
            yield _json_row(item, origin, line_no, table)


def csv_rows(stream: TextIO, origin: str, delimiter: str, table: TableOptions) -> Iterator[Result]:
    # strict: an unterminated quote is a csv.Error (reported, rest skipped), not rows silently merged into
    # one field up to the end of the file.
    reader = csv.DictReader(stream, delimiter=delimiter, strict=True)
    for item in _guarded(reader, origin, lambda _read: reader.line_num + 1):
        if isinstance(item, RowError):
            yield item
            return
        # Surplus cells land under the key None; they have no column name to keep them by.
        row = {k: v for k, v in item.items() if k is not None and v is not None}
        yield row_document(row, origin, reader.line_num, table)


def require_rows(results: Iterable[Result], origin: str) -> Iterator[Result]:
    """Pass results through; a source that produced nothing at all is an unreadable file."""
    produced = False
    for result in results:
        produced = True
        yield result
    if not produced:
        raise UnreadableFile(f"{origin}: empty (no rows)")


def _guarded(items: Iterable[Any], origin: str, next_line: Callable[[int], int]) -> Iterator[Any]:
    """Iterate, turning a decode/csv error into one final RowError (the stream cannot resume past it).

    ``next_line(n)`` gives the line number to report after ``n`` items were read.
    """
    iterator = iter(items)
    read = 0
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            yield RowError(origin, next_line(read), f"not valid UTF-8 ({exc.reason}); rest of source skipped")
            return
        except csv.Error as exc:
            yield RowError(origin, next_line(read), f"malformed CSV ({exc}); rest of source skipped")
            return
        read += 1
        yield item


def _json_row(line: str, origin: str, line_no: int, table: TableOptions) -> Result:
    try:
        # NaN/Infinity parse here and are refused with the row's other values by services/ingest.py
        # (store/values.py), the same way as on every other path.
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return RowError(origin, line_no, f"invalid JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:  # e.g. 100k nested arrays: one bad row, not a traceback that ends the run
        return RowError(origin, line_no, "invalid JSON: nested too deeply")
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return RowError(origin, line_no, f"invalid JSON: {str(exc).split(';')[0][:120]}")
    if not isinstance(row, dict):
        return RowError(origin, line_no, f"expected a JSON object, got {type(row).__name__}")
    return row_document(row, origin, line_no, table)


def row_document(row: dict[str, Any], origin: str, line_no: int, table: TableOptions) -> Result:
    """Map one parsed row to a document per ``table``."""
    uri = f"{origin}#{line_no}"
    text = "\n\n".join(t for f in table.text_fields if (t := _as_text(row.get(f))))
    if not text:
        return RowError(origin, line_no, f"no text in field(s) {', '.join(table.text_fields)}")
    id_key = _id_key(row, table.id_field)
    external_id = _as_text(row.get(id_key)) if id_key else ""
    skip = {*table.text_fields, id_key}
    return SourceDocument(external_id or uri, text, uri, _row_metadata(row, skip, table.metadata_fields))


def _id_key(row: dict[str, Any], id_field: str | None) -> str | None:
    if id_field is None:
        return None
    if id_field == "_id" and "_id" not in row and "id" in row:
        return "id"
    return id_field


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return str(value)
    return ""


def _row_metadata(
    row: dict[str, Any], skip: set[str | None], wanted: tuple[str, ...] | None
) -> dict[str, Any]:
    keys = [k for k in row if k not in skip] if wanted is None else [k for k in wanted if k in row]
    metadata: dict[str, Any] = {}
    nested = row.get("metadata") if "metadata" in keys else None
    if isinstance(nested, dict):
        metadata.update(nested)  # BEIR keeps extra fields in a nested "metadata" dict; flatten it
    for key in keys:
        if key != "metadata" or not isinstance(nested, dict):
            metadata[key] = row[key]
    return metadata
