"""Taking, listing and finding snapshots (the layout is in layout.py; restoring in restore.py).

Tables exported: ``collections`` (the row), and every table with a ``collection_id`` column (documents,
chunks, feature tables), in foreign-key order. A snapshot is taken under the data dir's write lock,
so no write interleaves; searches go on.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.errors import InvalidInput, NotFound
from services.collections import NAME
from services.snapshots.layout import (
    FORMAT,
    FORMAT_VERSION,
    SnapshotInfo,
    collection_tables,
    encode,
    encodings,
    read_manifest,
    sha256,
    snapshot_info,
)

if TYPE_CHECKING:
    from services.context import ServiceContext

SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,200}$")
_SKIP_FILES = {".swap.lock"}


def create_snapshot(ctx: ServiceContext, name: str, root: Path | None = None) -> SnapshotInfo:
    # The directory name comes from the collection name: only a valid name can never point elsewhere
    # (a row restored by an older version could hold anything).
    if not NAME.match(name or ""):
        raise InvalidInput("collection names are 1-128 letters, digits, '_', '-' or '.', starting alnum")
    root = Path(root or ctx.settings.snapshots_dir())
    root.mkdir(parents=True, exist_ok=True)
    with ctx.write_lock:
        collection = ctx.collection(name)
        ctx.vectors.save(collection)  # the in-memory index, if loaded, is the newest state
        tmp = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=root))
        try:
            tables = _export_tables(ctx, collection.id, tmp / "tables")
            source = ctx.settings.index_dir() / str(collection.id)
            if source.is_dir():
                # links are copied as links, never followed: restore refuses them rather than import a target
                shutil.copytree(source, tmp / "index", symlinks=True, ignore=shutil.ignore_patterns(*_SKIP_FILES))
            stamp = datetime.now(UTC)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "collection": name,
                "collection_id": collection.id,
                "created_at": stamp.isoformat(),
                "tables": tables,
                "files": {str(p.relative_to(tmp)): sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()},
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
            final = root / f"{name}-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}"
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return snapshot_info(final, manifest)


def _export_tables(ctx: ServiceContext, collection_id: int, directory: Path) -> dict[str, Any]:
    directory.mkdir(parents=True)
    described: dict[str, Any] = {}
    with ctx.sessions() as session:
        for table in collection_tables():
            key = table.c.id if table.name == "collections" else table.c.collection_id
            kinds = encodings(table)
            path = directory / f"{table.name}.jsonl"
            rows = 0
            with path.open("w", encoding="utf-8") as fh:
                result = session.execute(select(table).where(key == collection_id).execution_options(yield_per=2000))
                for row in result.mappings():
                    fh.write(json.dumps({c: encode(v, kinds.get(c)) for c, v in row.items()}) + "\n")
                    rows += 1
            described[table.name] = {
                "file": f"tables/{table.name}.jsonl",
                "rows": rows,
                "columns": [c.name for c in table.columns],
                "encodings": kinds,
            }
    return described


def list_snapshots(root: Path) -> list[SnapshotInfo]:
    found = []
    for path in sorted(Path(root).glob("*/manifest.json")):
        try:
            found.append(snapshot_info(path.parent, read_manifest(path.parent)))
        except InvalidInput:
            continue  # a foreign or damaged directory is not a snapshot
    return found


def resolve_snapshot(root: Path, snapshot_id: str) -> Path:
    """The snapshot directory named ``snapshot_id`` inside ``root``; never a path outside it."""
    if not SNAPSHOT_ID.match(snapshot_id) or ".." in snapshot_id:
        raise InvalidInput("a snapshot id is a directory name: letters, digits, '_', '-', '.'")
    path = Path(root) / snapshot_id
    if not (path / "manifest.json").is_file():
        raise NotFound(f"no snapshot {snapshot_id!r}")
    return path
