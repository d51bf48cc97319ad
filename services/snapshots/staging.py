"""Check a snapshot directory against its manifest and copy it into a private staging directory.

Nothing in a snapshot is trusted: the manifest names the collection (it must be a valid collection name)
and lists every file with its sha256 (each a plain relative path under ``tables/`` or ``index/``);
the directory must hold exactly those files, as regular files, and no links at all. Each file is copied
into the staging directory and hashed while it is copied, so what is later imported is exactly what
was verified, whatever happens to the snapshot directory meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from core.errors import InvalidInput
from services.collections import NAME
from services.snapshots.layout import collection_tables, read_manifest

TOP_DIRS = ("tables", "index")
MAX_FILES = 100_000
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_INT64 = 2**63


@dataclass(frozen=True)
class TableSpec:
    name: str
    file: Path  # inside the staging directory
    rows: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Staged:
    """A verified copy of a snapshot: what restore imports."""

    directory: Path
    collection: str
    collection_id: int
    tables: dict[str, TableSpec]

    @property
    def index(self) -> Path:
        return self.directory / "index"


def stage_snapshot(source: Path, staging: Path) -> Staged:
    """Verify ``source`` and copy it into the empty directory ``staging``; InvalidInput on anything odd."""
    source = Path(source)
    if source.is_symlink() or not source.is_dir():
        raise InvalidInput(f"{source} is not a snapshot directory (links are refused)")
    manifest = read_manifest(source)
    name, collection_id = _identity(manifest)
    listed = _listed_files(manifest.get("files"))
    tables = _tables(manifest.get("tables"), listed, staging)
    present = _inventory(source)
    unlisted = sorted(present - set(listed))
    if unlisted:
        raise InvalidInput(f"snapshot has files its manifest does not list (refused): {unlisted[:5]}")
    missing = sorted(set(listed) - present)
    if missing:
        raise InvalidInput(f"snapshot files are missing: {missing[:5]}")
    for rel, digest in sorted(listed.items()):
        _copy_verified(source / rel, staging / rel, digest, rel)
    return Staged(staging, name, collection_id, tables)


def _identity(manifest: dict[str, Any]) -> tuple[str, int]:
    name, collection_id = manifest.get("collection"), manifest.get("collection_id")
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidInput(f"snapshot collection name {str(name)[:80]!r} is not a valid collection name")
    if not isinstance(collection_id, int) or isinstance(collection_id, bool) or not 0 < collection_id < _INT64:
        raise InvalidInput("snapshot collection_id must be a positive 64-bit integer")
    return name, collection_id


def safe_relative(rel: Any) -> str:
    """``rel`` if it is a plain relative path under tables/ or index/ (no '..', no absolute path, no '.')."""
    if not isinstance(rel, str) or not rel or "\x00" in rel or "\\" in rel:
        raise InvalidInput(f"snapshot lists a file with an invalid path: {str(rel)[:120]!r}")
    path = PurePosixPath(rel)
    parts = rel.split("/")
    if path.is_absolute() or any(p in ("", ".", "..") for p in parts) or len(parts) < 2 or parts[0] not in TOP_DIRS:
        raise InvalidInput(f"snapshot lists a file outside tables/ and index/: {rel[:120]!r}")
    return rel


def _listed_files(files: Any) -> dict[str, str]:
    if not isinstance(files, dict) or len(files) > MAX_FILES:
        raise InvalidInput("snapshot manifest has no valid file list")
    for rel, digest in files.items():
        safe_relative(rel)
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise InvalidInput(f"snapshot file {rel!r} has no valid sha256")
    return dict(files)


def _tables(tables: Any, listed: dict[str, str], staging: Path) -> dict[str, TableSpec]:
    """Every table file is listed (so checksummed), every listed tables/ file is a known table's."""
    known = {t.name: t for t in collection_tables()}
    if not isinstance(tables, dict) or "collections" not in tables:
        raise InvalidInput("snapshot manifest has no collections table")
    unknown = sorted(str(n)[:80] for n in set(tables) - set(known))
    if unknown:
        raise InvalidInput(f"snapshot has tables this version does not know: {unknown}")
    specs = {name: _table_spec(known[name], spec, listed, staging) for name, spec in tables.items()}
    stray = sorted(
        rel for rel in listed if rel.startswith("tables/") and rel not in {f"tables/{n}.jsonl" for n in specs}
    )
    if stray:
        raise InvalidInput(f"snapshot lists table files no table describes: {stray[:5]}")
    if specs["collections"].rows != 1:
        raise InvalidInput("snapshot must hold exactly one collections row")
    return specs


def _table_spec(table: Any, spec: Any, listed: dict[str, str], staging: Path) -> TableSpec:
    file = f"tables/{table.name}.jsonl"
    if not isinstance(spec, dict) or spec.get("file") != file:
        raise InvalidInput(f"snapshot table {table.name} must be stored in {file}")
    if file not in listed:
        raise InvalidInput(f"snapshot table file {file} is not in the checksum list (refused)")
    rows, columns = spec.get("rows"), spec.get("columns")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        raise InvalidInput(f"snapshot table {table.name} has no valid row count")
    if (
        not isinstance(columns, list)
        or not all(isinstance(c, str) for c in columns)
        or len(set(columns)) != len(columns)
    ):
        raise InvalidInput(f"snapshot table {table.name} has no valid column list")
    foreign = sorted(set(columns) - set(table.c.keys()))
    required = {c.name for c in table.columns if not c.nullable and c.default is None and c.server_default is None}
    if foreign or not required <= set(columns):
        raise InvalidInput(f"snapshot table {table.name} columns do not match this version's")
    return TableSpec(table.name, staging / file, rows, tuple(columns))


def _inventory(source: Path) -> set[str]:
    """Relative paths of the regular files under ``source`` (manifest.json aside); refuses links and devices."""
    present: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        for entry in dirnames + filenames:
            full = Path(dirpath) / entry
            rel = full.relative_to(source).as_posix()
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                raise InvalidInput(f"snapshot contains a link ({rel}); links are never followed, refused")
            if stat.S_ISREG(mode):
                present.add(rel)
            elif not stat.S_ISDIR(mode):
                raise InvalidInput(f"snapshot contains {rel}, which is not a regular file; refused")
        if len(present) > MAX_FILES + 1:
            raise InvalidInput("snapshot has too many files")
    present.discard("manifest.json")
    return present


def _copy_verified(source: Path, target: Path, digest: str, rel: str) -> None:
    """Copy one regular file without following links, hashing what is copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fin:
            if not stat.S_ISREG(os.fstat(fin.fileno()).st_mode):
                raise InvalidInput(f"snapshot file {rel} is not a regular file; refused")
            with target.open("xb") as fout:
                while chunk := fin.read(1 << 20):
                    hasher.update(chunk)
                    fout.write(chunk)
    except OSError as exc:  # a link swapped in (ELOOP), unreadable, or the staging disk is full
        raise InvalidInput(f"snapshot file {rel} cannot be copied ({exc.strerror or exc.__class__.__name__})") from exc
    if hasher.hexdigest() != digest:
        raise InvalidInput(f"snapshot file {rel} is missing or does not match its checksum")
