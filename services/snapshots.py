"""Consistent snapshots of one collection: its database rows and its index directory, no pickle.

Layout of ``<snapshots_dir>/<collection>-<UTC timestamp>/``::

    manifest.json        {"format", "format_version", "collection", "collection_id", "created_at",
                          "tables": {name: {"file", "rows", "columns", "encodings"}}, "files": {path: sha256}}
    tables/<table>.jsonl one JSON object per row; LargeBinary as base64, DateTime as ISO 8601
    index/...            a copy of ``index_dir()/<collection_id>/`` (vector index and derived state)

Tables exported: ``collections`` (the row), and every table with a ``collection_id`` column (documents,
chunks, feature tables), in foreign-key order. A snapshot is taken under the data dir's write lock,
so no write interleaves; searches go on. Restore keeps the original primary keys (so index labels stay
valid) and refuses with Conflict when the name or any id is already used: restore into a fresh database.

The functions take the :class:`~services.context.ServiceContext` (``engine.context``): settings, sessions,
the write lock and the vector indexes are all a snapshot needs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, DateTime, LargeBinary, Table, func, select, text
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, InvalidInput, NotFound
from store import repositories as repo
from store.models import Base

if TYPE_CHECKING:
    from services.context import ServiceContext

FORMAT = "latentspace-snapshot"
FORMAT_VERSION = 1
_SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,200}$")
_SKIP_FILES = {".swap.lock"}


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
    return [t for t in Base.metadata.sorted_tables if t.name == "collections" or "collection_id" in t.c]


def _encodings(table: Table) -> dict[str, str]:
    kinds = {LargeBinary: "base64", DateTime: "datetime", Date: "date"}
    return {c.name: kind for c in table.columns for typ, kind in kinds.items() if isinstance(c.type, typ)}


def _encode(value: Any, kind: str | None) -> Any:
    if value is None or kind is None:
        return value
    if kind == "base64":
        return base64.b64encode(bytes(value)).decode("ascii")
    return value.isoformat()


def _decode(value: Any, kind: str | None) -> Any:
    if value is None or kind is None:
        return value
    if kind == "base64":
        return base64.b64decode(value)
    if kind == "date":
        return date.fromisoformat(value)
    return datetime.fromisoformat(value)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def create_snapshot(ctx: ServiceContext, name: str, root: Path | None = None) -> SnapshotInfo:
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
                shutil.copytree(source, tmp / "index", ignore=shutil.ignore_patterns(*_SKIP_FILES))
            stamp = datetime.now(UTC)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "collection": name,
                "collection_id": collection.id,
                "created_at": stamp.isoformat(),
                "tables": tables,
                "files": {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()},
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
            final = root / f"{name}-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}"
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return _info(final, manifest)


def _export_tables(ctx: ServiceContext, collection_id: int, directory: Path) -> dict[str, Any]:
    directory.mkdir(parents=True)
    described: dict[str, Any] = {}
    with ctx.sessions() as session:
        for table in collection_tables():
            key = table.c.id if table.name == "collections" else table.c.collection_id
            encodings = _encodings(table)
            path = directory / f"{table.name}.jsonl"
            rows = 0
            with path.open("w", encoding="utf-8") as fh:
                result = session.execute(select(table).where(key == collection_id).execution_options(yield_per=2000))
                for row in result.mappings():
                    fh.write(json.dumps({c: _encode(v, encodings.get(c)) for c, v in row.items()}) + "\n")
                    rows += 1
            described[table.name] = {
                "file": f"tables/{table.name}.jsonl",
                "rows": rows,
                "columns": [c.name for c in table.columns],
                "encodings": encodings,
            }
    return described


def _info(path: Path, manifest: dict[str, Any]) -> SnapshotInfo:
    tables = manifest.get("tables", {})
    return SnapshotInfo(
        id=path.name,
        collection=manifest["collection"],
        created_at=manifest["created_at"],
        documents=tables.get("documents", {}).get("rows", 0),
        chunks=tables.get("chunks", {}).get("rows", 0),
        path=str(path),
    )


def list_snapshots(root: Path) -> list[SnapshotInfo]:
    found = []
    for path in sorted(Path(root).glob("*/manifest.json")):
        try:
            found.append(_info(path.parent, read_manifest(path.parent, verify=False)))
        except InvalidInput:
            continue  # a foreign or damaged directory is not a snapshot
    return found


def resolve_snapshot(root: Path, snapshot_id: str) -> Path:
    """The snapshot directory named ``snapshot_id`` inside ``root``; never a path outside it."""
    if not _SNAPSHOT_ID.match(snapshot_id) or ".." in snapshot_id:
        raise InvalidInput("a snapshot id is a directory name: letters, digits, '_', '-', '.'")
    path = Path(root) / snapshot_id
    if not (path / "manifest.json").is_file():
        raise NotFound(f"no snapshot {snapshot_id!r}")
    return path


def read_manifest(path: Path, verify: bool = True) -> dict[str, Any]:
    try:
        manifest = json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path} is not a readable snapshot: {exc.__class__.__name__}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{path} is not a latentspace snapshot")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidInput(f"snapshot format_version {manifest.get('format_version')!r} is not supported")
    if verify:
        for rel, digest in manifest.get("files", {}).items():
            file = Path(path) / rel
            if not file.is_file() or _sha256(file) != digest:
                raise InvalidInput(f"snapshot file {rel} is missing or does not match its checksum")
    return manifest


def restore_snapshot(ctx: ServiceContext, path: Path) -> str:
    """Load a snapshot into this context's database and data dir; returns the collection name."""
    path = Path(path)
    manifest = read_manifest(path)
    name, collection_id = manifest["collection"], int(manifest["collection_id"])
    with ctx.write_lock:
        with ctx.sessions() as session:
            if repo.find_collection(session, name) is not None:
                raise Conflict(f"collection {name!r} already exists; delete it or restore elsewhere")
        target = ctx.settings.index_dir() / str(collection_id)
        staged = None
        if (path / "index").is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = Path(tempfile.mkdtemp(prefix=f".restore-{collection_id}-", dir=target.parent))
            shutil.copytree(path / "index", staged, dirs_exist_ok=True)
        try:
            _import_tables(ctx, path, manifest["tables"])
        except BaseException:
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)
            raise
        ctx.vectors.drop(collection_id)  # forget stale memory and files of a deleted namesake id
        if staged is not None:
            staged.rename(target)
    ctx.vectors.get(ctx.collection(name))  # loads the copied index and repairs it against the rows if needed
    return name


def _import_tables(ctx: ServiceContext, path: Path, tables: dict[str, Any]) -> None:
    known = {t.name: t for t in collection_tables()}
    unknown = sorted(set(tables) - set(known))
    if unknown:
        raise InvalidInput(f"snapshot has tables this version does not know: {unknown}")
    try:
        with ctx.sessions.begin() as session:
            for table in (t for t in collection_tables() if t.name in tables):
                spec = tables[table.name]
                _insert_rows(session, table, path / spec["file"], spec.get("encodings", {}))
            _bump_sequences(session, [known[n] for n in tables])
    except IntegrityError as exc:
        raise Conflict("snapshot ids are already used in this database; restore into a fresh one") from exc


def _insert_rows(session, table: Table, file: Path, encodings: dict[str, str]) -> None:  # noqa: ANN001
    batch: list[dict[str, Any]] = []
    with file.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            batch.append({c: _decode(v, encodings.get(c)) for c, v in row.items() if c in table.c})
            if len(batch) >= 1000:
                session.execute(table.insert(), batch)
                batch = []
    if batch:
        session.execute(table.insert(), batch)


def _bump_sequences(session, tables: list[Table]) -> None:  # noqa: ANN001
    """PostgreSQL serials do not see explicit ids; move them past the restored ones."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        if "id" not in table.c:
            continue
        top = session.scalar(select(func.max(table.c.id)))
        if top is not None:
            sql = "SELECT setval(s, :v) FROM (SELECT pg_get_serial_sequence(:t, 'id') AS s) q WHERE s IS NOT NULL"
            session.execute(text(sql), {"t": table.name, "v": top})
