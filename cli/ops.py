"""Operations commands: ``latentspace keys ...`` and ``latentspace snapshot ...``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from cli.common import console, fail, open_engine, run

keys_app = typer.Typer(help="API keys (stored hashed; shown once at creation).", no_args_is_help=True)
snapshot_app = typer.Typer(help="Consistent snapshots of a collection.", no_args_is_help=True)
T = TypeVar("T")


def _key_store():  # noqa: ANN202
    from services.keys import KeyStore, keys_marker

    engine = open_engine()
    return KeyStore(engine.sessions, marker=keys_marker(engine.settings.data_dir))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="who or what the key is for")],
    scope: Annotated[list[str], typer.Option("--scope", help="read | write | admin (repeatable)")],
) -> None:
    """Create a key and print it once; only its hash is stored."""
    key, info = run(lambda: _key_store().create(name, scope))
    console.print(f"created key {info.id} ({info.name}) scopes={','.join(info.scopes)}", highlight=False)
    print(key)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (prefix, scopes, state); the secrets are never shown again."""
    table = Table("id", "name", "prefix", "scopes", "created", "state")
    for info in _key_store().list():
        state = "revoked" if info.revoked else "active"
        table.add_row(str(info.id), info.name, info.prefix, ",".join(info.scopes), info.created_at, state)
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="the key's id or prefix")]) -> None:
    """Revoke a key; requests using it get 401 from then on."""
    store = _key_store()
    info = run(lambda: store.revoke(key))
    console.print(f"revoked key {info.id} ({info.name})", highlight=False)
    if not store.any_active():  # say what revoking the last key means: the API stays closed, it never reopens
        console.print(
            "no active key remains: the API stays closed (401 without a valid key), it does not reopen; "
            "create a key with `latentspace keys create`, or set LATENTSPACE_AUTH=off to open it deliberately",
            highlight=False,
            soft_wrap=True,
        )


def _snapshot_run(func: Callable[[], T]) -> T:
    """Like ``run``, and a file system error (unwritable --dir, full disk) is one line too, not a traceback."""
    try:
        return run(func)
    except OSError as exc:
        raise fail(f"snapshot: {exc.strerror or exc.__class__.__name__}: {exc.filename or ''}") from None


@snapshot_app.command("create")
def snapshot_create(
    collection: Annotated[str, typer.Option("--collection", "-c")],
    directory: Annotated[Path | None, typer.Option("--dir", help="default: data_dir/snapshots")] = None,
) -> None:
    """Snapshot a collection's rows and index files (safe while the service runs)."""
    from services.snapshots import create_snapshot

    engine = open_engine()
    info = _snapshot_run(lambda: create_snapshot(engine.context, collection, directory))
    console.print(f"snapshot {info.id}: {info.documents} documents, {info.chunks} chunks -> {info.path}")


@snapshot_app.command("list")
def snapshot_list(
    directory: Annotated[Path | None, typer.Option("--dir", help="default: data_dir/snapshots")] = None,
) -> None:
    """List snapshots."""
    from core.settings import get_settings
    from services.snapshots import list_snapshots

    table = Table("id", "collection", "created", "documents", "chunks")
    for info in list_snapshots(directory or get_settings().snapshots_dir()):
        table.add_row(info.id, info.collection, info.created_at, str(info.documents), str(info.chunks))
    console.print(table)


@snapshot_app.command("restore")
def snapshot_restore(path: Annotated[Path, typer.Argument(help="a snapshot directory")]) -> None:
    """Restore a snapshot into the configured (fresh) database and data dir."""
    from services.snapshots import restore_snapshot

    engine = open_engine()
    name = _snapshot_run(lambda: restore_snapshot(engine.context, path))
    console.print(f"restored collection {name} from {path}")
