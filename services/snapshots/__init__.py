"""Consistent snapshots of one collection: its database rows and its index directory, no pickle.

layout.py says what a snapshot holds; create.py takes, lists and finds them; restore.py restores one
(staging.py verifies and stages the files, rows.py checks and inserts the rows).

The functions take the :class:`~services.context.ServiceContext` (``engine.context``): settings, sessions,
the write lock and the vector indexes are all a snapshot needs.
"""

from __future__ import annotations

from services.snapshots.create import create_snapshot, list_snapshots, resolve_snapshot
from services.snapshots.layout import FORMAT, FORMAT_VERSION, SnapshotInfo, collection_tables, read_manifest
from services.snapshots.restore import restore_snapshot

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SnapshotInfo",
    "collection_tables",
    "create_snapshot",
    "list_snapshots",
    "read_manifest",
    "resolve_snapshot",
    "restore_snapshot",
]
