"""What a snapshot directory holds, shared by taking one (create.py) and restoring one (restore.py).

Layout of ``<snapshots_dir>/<collection>-<UTC timestamp>/``::

    manifest.json        {"format", "format_version", "collection", "collection_id", "created_at",
                          "tables": {name: {"file", "rows", "columns", "encodings"}}, "files": {path: sha256}}
    tables/<table>.jsonl one JSON object per row; LargeBinary as base64, DateTime as ISO 8601
    index/...            a copy of ``index_dir()/<collection_id>/`` (vector index and derived state)

Every file but manifest.json is listed in ``files`` with its sha256; a snapshot holds no links.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, LargeBinary, Table

from core.errors import InvalidInput
from store.models import Base

FORMAT = "latentspace-snapshot"
FORMAT_VERSION = 1
MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # a manifest lists files and tables; anything larger is not one of ours


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    collection: str
    created_at: str
    documents: int
    chunks: int
    path: str


def collection_tables() -> list[Table]:
    """Tables holding a collection's rows, parents before children."""
    tables = Base.metadata.sorted_tables
    # The change log is the database's history, not a collection's rows (issue 13): never snapshotted.
    return [t for t in tables if (t.name == "collections" or "collection_id" in t.c) and t.name != "change_log"]


def encodings(table: Table) -> dict[str, str]:
    """How columns that JSON cannot hold are written: bytes as base64, dates as ISO 8601."""
    kinds = {LargeBinary: "base64", DateTime: "datetime", Date: "date"}
    return {c.name: kind for c in table.columns for typ, kind in kinds.items() if isinstance(c.type, typ)}


def encode(value: Any, kind: str | None) -> Any:
    if value is None or kind is None:
        return value
    if kind == "base64":
        return base64.b64encode(bytes(value)).decode("ascii")
    return value.isoformat()


def decode(value: Any, kind: str | None) -> Any:
    """The column value of an encoded one; ValueError/TypeError when it is not what ``kind`` says."""
    if value is None or kind is None:
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected a {kind} string")
    if kind == "base64":
        return base64.b64decode(value, validate=True)
    if kind == "date":
        return date.fromisoformat(value)
    return datetime.fromisoformat(value)


def sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def strict_json(data: bytes | str) -> Any:
    """``json.loads`` without the NaN/Infinity extensions (no JSON writer of ours produces them)."""
    return json.loads(data, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_manifest(path: Path) -> dict[str, Any]:
    """The snapshot's manifest, format-checked; never through a link, never unbounded."""
    try:
        fd = os.open(Path(path) / "manifest.json", os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise ValueError("manifest.json is too large")
        manifest = strict_json(data)
    except (OSError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"{path} is not a readable snapshot: {exc.__class__.__name__}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{path} is not a latentspace snapshot")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(f"snapshot format_version {manifest.get('format_version')!r} is not supported")
    return manifest


def snapshot_info(path: Path, manifest: dict[str, Any]) -> SnapshotInfo:
    """What ``list`` shows; tolerant of odd manifests (listing must not fail on a foreign directory)."""
    tables = manifest.get("tables") if isinstance(manifest.get("tables"), dict) else {}

    def rows(name: str) -> int:
        spec = tables.get(name)
        count = spec.get("rows", 0) if isinstance(spec, dict) else 0
        return count if isinstance(count, int) and not isinstance(count, bool) else 0

    return SnapshotInfo(
        id=path.name,
        collection=str(manifest.get("collection", "")),
        created_at=str(manifest.get("created_at", "")),
        documents=rows("documents"),
        chunks=rows("chunks"),
        path=str(path),
    )
