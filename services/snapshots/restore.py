"""Restore a snapshot: verify everything into a staging area, then commit it all or nothing.

Under the data dir's write lock: (1) the snapshot is checked against its manifest and copied into a
staging directory inside the index dir (services/snapshots/staging.py); (2) in one database
transaction every row is checked and inserted (rows.py), and just before the commit the staged index
directory is renamed into place (same file system: atomic); a failure before the commit rolls the rows
back and removes the index directory; (3) the restored index is loaded, and if it cannot be, the rows
and files are removed again. Whatever fails, nothing is left behind: no half-restored collection that
would block start-up or a retry. Restore keeps the original primary keys (so index labels stay valid)
and refuses with Conflict when the name or any id is already used: restore into a fresh database.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.errors import Conflict, InvalidInput
from services.snapshots.layout import collection_tables
from services.snapshots.rows import delete_rows, import_rows
from services.snapshots.staging import Staged, stage_snapshot
from services.writes import drop_derived
from store import changelog
from store import repositories as repo

if TYPE_CHECKING:
    from services.context import ServiceContext

log = logging.getLogger(__name__)
STAGING_PREFIX = ".restore-"


def restore_snapshot(ctx: ServiceContext, path: Path) -> str:
    """Load a snapshot into this context's database and data dir; returns the collection name."""
    with ctx.write_lock:
        staging = new_staging(ctx.settings.index_dir())
        try:
            staged = stage_snapshot(Path(path), staging / "snapshot")
            with ctx.sessions() as session:
                if repo.find_collection(session, staged.collection) is not None:
                    raise Conflict(f"collection {staged.collection!r} already exists; delete it or restore elsewhere")
            _commit(ctx, staged)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _load_or_undo(ctx, staged)
    return staged.collection


def new_staging(root: Path) -> Path:
    """An empty staging directory beside the index directories; leftovers of a crashed restore go first.

    Only called under the write lock, so no other restore is using a leftover.
    """
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob(f"{STAGING_PREFIX}*"):
        if old.is_symlink() or not old.is_dir():
            old.unlink(missing_ok=True)
        else:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))


def _commit(ctx: ServiceContext, staged: Staged) -> None:
    """Rows in one transaction; the staged index moves into place just before the commit."""
    target = ctx.settings.index_dir() / str(staged.collection_id)
    placed = False
    try:
        with ctx.sessions.begin() as session:
            import_rows(session, staged)
            _bump_sequences(session, [t for t in collection_tables() if t.name in staged.tables])
            changelog.record_reset(session, staged.collection_id)
            drop_derived(ctx, staged.collection_id)  # memory and files of a deleted namesake id
            if staged.index.is_dir():
                staged.index.rename(target)
                placed = True
    except IntegrityError as exc:
        _remove_placed(ctx, staged, placed)
        raise Conflict("snapshot ids or names are already used in this database; restore into a fresh one") from exc
    except DBAPIError as exc:  # never echo the statement: it holds whole rows
        _remove_placed(ctx, staged, placed)
        raise InvalidInput(f"snapshot rows do not fit this database ({exc.orig.__class__.__name__})") from exc
    except BaseException:
        _remove_placed(ctx, staged, placed)
        raise


def _remove_placed(ctx: ServiceContext, staged: Staged, placed: bool) -> None:
    if placed:
        drop_derived(ctx, staged.collection_id)


def _load_or_undo(ctx: ServiceContext, staged: Staged) -> None:
    """Load the restored indexes (repairing them against the rows); if they cannot be, undo the restore."""
    try:
        collection = ctx.collection(staged.collection)
        ctx.vectors.get(collection)
        if ctx.lexical is not None:
            ctx.lexical.get(collection)
    except Exception as exc:
        log.warning("restored index of %r cannot be loaded (%s); undoing the restore", staged.collection, exc)
        with ctx.sessions.begin() as session:
            delete_rows(session, staged.collection_id)
        drop_derived(ctx, staged.collection_id)
        raise InvalidInput(
            f"snapshot index files cannot be loaded ({exc.__class__.__name__}); nothing was restored"
        ) from exc


def _bump_sequences(session: Any, tables: list[Any]) -> None:
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
