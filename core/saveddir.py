"""Saved directories: native files plus a JSON manifest, written to a temp dir and swapped in atomically.

The one crash-safe writer for everything saved as files: vector and BM25 indexes, recommender model
versions, topic models, maps and compressors. Layout::

    <directory>/manifest.json   {"format_version", "kind", "files", ...whatever the owner adds}
    <directory>/<files>         written by the owner (faiss/hnswlib binary, .npy arrays, ...)

``files`` records each file's size and sha256 so a truncated or flipped file is reported as
:class:`IndexCorrupt` before a native reader (which may crash the process on bad input) sees it.
Only ``format_version``, ``kind`` (what the directory holds) and ``files`` are required here; each
owner checks the keys it needs itself by passing ``required``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.errors import IndexCorrupt

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
GENERIC_KEYS = ("format_version", "kind", "files")


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _backup_dirs(directory: Path) -> list[Path]:
    return sorted(directory.parent.glob(f".{directory.name}.old-*"))


def write_saved_dir(directory: Path, manifest: dict[str, Any], write_files: Callable[[Path], None]) -> None:
    """Write ``write_files``' files plus a manifest to a temp dir, then swap it in for ``directory``.

    The previous directory stays untouched until the new one is complete; a crash between the two
    renames of the swap leaves a ``.<name>.old-*`` backup that :func:`read_saved_dir` restores.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        write_files(tmp)
        written = [p for p in sorted(tmp.iterdir()) if p.is_file()]
        files = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in written}
        body = {"format_version": FORMAT_VERSION, **manifest, "files": files}
        with (tmp / MANIFEST_NAME).open("w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        _swap_in(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(tmp: Path, directory: Path) -> None:
    # POSIX cannot rename a directory over a non-empty one, so move the old one aside first. Backup
    # names sort by time, so recovery can tell the newest from any a killed writer left behind.
    if directory.exists():
        os.rename(directory, directory.parent / f".{directory.name}.old-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}")
    os.rename(tmp, directory)
    _fsync_dir(directory.parent)
    for backup in _backup_dirs(directory):  # ours, and half-deleted ones of writers killed here before
        shutil.rmtree(backup, ignore_errors=True)


def _recover_interrupted_swap(directory: Path) -> None:
    """A writer killed between the swap's two renames left no ``directory``: restore the newest whole backup.

    A backup a killed writer was deleting may still hold its manifest but not all its files, so each
    candidate is checked against its checksums, newest first.
    """
    if directory.exists():
        return
    for backup in reversed(_backup_dirs(directory)):
        try:
            _verify_files(backup, json.loads((backup / MANIFEST_NAME).read_text(encoding="utf-8"))["files"])
        except (OSError, ValueError, KeyError, TypeError, IndexCorrupt):
            continue
        os.rename(backup, directory)
        return


def read_saved_dir(directory: Path, verify_files: bool = True, required: Iterable[str] = ()) -> dict[str, Any]:
    """Read and validate ``directory/manifest.json`` (restoring an interrupted swap first).

    Raises IndexCorrupt when the manifest is missing or unreadable, lacks a generic key or one of
    ``required``, has another format version, or (with ``verify_files``) a file fails its checksum.
    """
    directory = Path(directory)
    _recover_interrupted_swap(directory)
    path = directory / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"cannot read manifest {path}: {exc.__class__.__name__}") from exc
    keys = (*GENERIC_KEYS, *required)
    if not isinstance(manifest, dict) or any(key not in manifest for key in keys):
        raise IndexCorrupt(f"manifest {path} lacks required keys {list(keys)}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise IndexCorrupt(f"manifest {path} has unsupported format_version {manifest['format_version']!r}")
    if verify_files:
        _verify_files(directory, manifest["files"])
    return manifest


def _verify_files(directory: Path, files: Any) -> None:
    if not isinstance(files, dict):
        raise IndexCorrupt(f"manifest in {directory} has a malformed 'files' entry")
    for name, meta in files.items():
        path = directory / name
        try:
            ok = path.stat().st_size == meta["bytes"] and _sha256(path) == meta["sha256"]
        except (OSError, KeyError, TypeError):
            ok = False
        if not ok:
            raise IndexCorrupt(f"saved file {path} is missing or does not match its manifest checksum")


def has_saved_dir(directory: Path) -> bool:
    """Whether ``directory`` holds a saved directory (restoring an interrupted swap first)."""
    directory = Path(directory)
    _recover_interrupted_swap(directory)
    return (directory / MANIFEST_NAME).is_file()

