"""Read a staged snapshot's table files and insert their rows, every value checked first.

Rows are written with the types and rules of the write path, never trusted: each line a complete JSON
object with exactly the manifest's columns, each value of its column's type and range, JSON values
(metadata, params, options) strict, every row in the snapshot's own collection, every foreign key
pointing at a row of the same snapshot, vectors of the collection's dimension with finite numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy import JSON, Boolean, Column, Float, Integer, String, Table, delete

from core.errors import InvalidInput
from index.registry import INDEX_KINDS, check_index_params
from ingest.chunking import check_chunking
from ingest.embedders import check_backend
from services.collections import MODALITIES
from services.snapshots.layout import collection_tables, decode, encodings, strict_json
from services.snapshots.staging import Staged, TableSpec
from store.values import check_metadata as check_stored_metadata

MAX_ROW_BYTES = 64 * 1024 * 1024  # one row is one line; a longer line is not a row we wrote
MAX_DIM = 65_536
_INT64 = 2**63
_BATCH = 1000


def check_metadata(value: Any, where: str) -> None:
    """A stored JSON value passes the write path's own checks: objects through store.values.check_metadata
    (no NaN/Infinity, no lone surrogates, bounded nesting and sizes), other JSON values as strict JSON."""
    if isinstance(value, dict):
        check_stored_metadata(value, where)
        return
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")  # a lone surrogate cannot encode
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidInput(f"{where}: not storable JSON ({exc.__class__.__name__})") from exc


def import_rows(session: Any, staged: Staged) -> None:
    """Insert every staged table's rows, parents first; InvalidInput names the first bad row."""
    seen: dict[tuple[str, str], set[Any]] = {}  # referenced (table, column) -> values imported so far
    referenced = {(fk.column.table.name, fk.column.name) for t in collection_tables() for fk in t.foreign_keys}
    context: dict[str, Any] = {}
    for table in collection_tables():
        spec = staged.tables.get(table.name)
        if spec is None:
            continue
        keep = [c for c in table.c.keys() if (table.name, c) in referenced]
        batch: list[dict[str, Any]] = []
        for number, raw in read_rows(spec):
            row = check_row(table, raw, f"tables/{table.name}.jsonl line {number}", staged, context, seen)
            for column in keep:
                seen.setdefault((table.name, column), set()).add(row[column])
            batch.append(row)
            if len(batch) >= _BATCH:
                session.execute(table.insert(), batch)
                batch = []
        if batch:
            session.execute(table.insert(), batch)


def read_rows(spec: TableSpec) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each line as a JSON object; refuses truncated, malformed, missing or extra rows."""
    where = f"tables/{spec.name}.jsonl"
    number = 0
    with spec.file.open("rb") as fh:
        while line := fh.readline(MAX_ROW_BYTES + 1):
            number += 1
            if number > spec.rows:
                raise InvalidInput(f"{where} has more rows than the manifest's {spec.rows}")
            if not line.endswith(b"\n"):
                raise InvalidInput(f"{where} line {number} is truncated or too long")
            try:
                row = strict_json(line)
            except (ValueError, RecursionError) as exc:
                raise InvalidInput(f"{where} line {number} is not a JSON row ({exc.__class__.__name__})") from exc
            if not isinstance(row, dict) or set(row) != set(spec.columns):
                raise InvalidInput(f"{where} line {number} does not have the manifest's columns")
            yield number, row
    if number != spec.rows:
        raise InvalidInput(f"{where} has {number} rows, the manifest says {spec.rows} (truncated?)")


def check_row(  # noqa: PLR0913
    table: Table,
    raw: dict[str, Any],
    where: str,
    staged: Staged,
    context: dict[str, Any],
    seen: dict[tuple[str, str], set[Any]],
) -> dict[str, Any]:
    """The row's column values, decoded and checked; InvalidInput otherwise."""
    kinds = encodings(table)
    row = {name: check_value(table.c[name], value, kinds.get(name), f"{where}, {name}") for name, value in raw.items()}
    if "collection_id" in row and row["collection_id"] != staged.collection_id:
        raise InvalidInput(f"{where}: a row of another collection (collection_id {row['collection_id']})")
    for column in table.columns:
        for fk in column.foreign_keys:
            target = (fk.column.table.name, fk.column.name)
            if row.get(column.name) is not None and row[column.name] not in seen.get(target, ()):
                raise InvalidInput(f"{where}: {column.name} points at no row of this snapshot")
    if table.name == "collections":
        context["dim"] = check_collection_row(row, where, staged)
    if table.name == "chunks":
        check_vector(row["embedding"], context["dim"], f"{where}, embedding")
    return row


def check_value(column: Column, value: Any, kind: str | None, where: str) -> Any:
    """One column value of the column's type and range (the database would otherwise fail or 500)."""
    if value is None:
        if not column.nullable:
            raise InvalidInput(f"{where}: must not be null")
        return None
    if kind is not None:
        try:
            return decode(value, kind)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{where}: not a valid {kind} value") from exc
    typ = column.type
    if isinstance(typ, JSON):
        check_metadata(value, where)
        return value
    if isinstance(typ, Boolean):
        ok = isinstance(value, bool)
    elif isinstance(typ, Integer):
        ok = isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64
    elif isinstance(typ, Float):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif isinstance(typ, String):  # lengths are the database's to enforce, as on the write path
        ok = isinstance(value, str)
        if ok:
            check_metadata(value, where)  # no lone surrogates, as in a JSON value
    else:
        raise InvalidInput(f"{where}: columns of type {typ!r} cannot be restored")
    if not ok:
        raise InvalidInput(f"{where}: not a valid {typ.__class__.__name__} value")
    return value


def check_collection_row(row: dict[str, Any], where: str, staged: Staged) -> int:
    """The collection row is the snapshot's own, with settings this version accepts; its dimension."""
    if row["id"] != staged.collection_id or row["name"] != staged.collection:
        raise InvalidInput(f"{where}: the collection row is not the manifest's collection")
    if row.get("modality", "text") not in MODALITIES:
        raise InvalidInput(f"{where}: unknown modality")
    if row.get("index_kind") is not None and row["index_kind"] not in INDEX_KINDS:
        raise InvalidInput(f"{where}: unknown index kind")
    for field in ("index_params", "options"):
        if not isinstance(row.get(field, {}), dict):
            raise InvalidInput(f"{where}: {field} must be an object")
    options = row.get("options") or {}
    if options.get("chunking") is not None:
        check_chunking(options["chunking"])
    if options.get("backend") is not None:
        check_backend(options["backend"])
    if row.get("index_kind") is not None:
        check_index_params(row["index_kind"], row.get("index_params") or {})
    dim = row["embedder_dim"]
    if not 0 < dim <= MAX_DIM:
        raise InvalidInput(f"{where}: embedder_dim must be 1-{MAX_DIM}")
    return dim


def check_vector(value: bytes, dim: int, where: str) -> None:
    if len(value) != dim * 4:
        raise InvalidInput(f"{where}: {len(value)} bytes, not {dim} float32 values")
    if not np.isfinite(np.frombuffer(value, dtype="<f4")).all():
        raise InvalidInput(f"{where}: NaN or infinite values")


def delete_rows(session: Any, collection_id: int) -> None:
    """Remove a collection's rows, children first (undoing a restore whose index cannot be loaded)."""
    for table in reversed(collection_tables()):
        key = table.c.id if table.name == "collections" else table.c.collection_id
        session.execute(delete(table).where(key == collection_id))
