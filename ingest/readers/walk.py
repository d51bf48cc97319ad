"""Expanding path arguments into the files to read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path


def iter_files(
    paths: list[Path], include: list[str] | None, exclude: list[str] | None, suffixes: frozenset[str]
) -> Iterator[Path]:
    """Yield files named or found under ``paths``, each once, directories walked in sorted order.

    Explicitly named files (and paths that do not exist) are yielded unfiltered so reading them fails
    with a clear error. Inside directories, hidden entries and unsupported suffixes are skipped, and
    ``include``/``exclude`` globs are matched against both the path relative to the argument and the
    basename (an excluded directory is not descended into).
    """
    seen: set[Path] = set()
    for arg in paths:
        found = _walk(arg, include or [], exclude or [], suffixes) if arg.is_dir() else [arg]
        for path in found:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield path


def _matches(rel: str, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in patterns)


def _walk(root: Path, include: list[str], exclude: list[str], suffixes: frozenset[str]) -> list[Path]:
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        rel_dir = base.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        # Prune in place so os.walk never enters hidden or excluded directories.
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and not _matches(prefix + d, exclude)]
        for name in filenames:
            rel = prefix + name
            if name.startswith(".") or Path(name).suffix.lower() not in suffixes:
                continue
            if (include and not _matches(rel, include)) or _matches(rel, exclude):
                continue
            found.append((rel, base / name))
    found.sort(key=lambda item: item[0])
    return [path for _, path in found]
