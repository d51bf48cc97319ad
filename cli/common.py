"""Shared pieces of the CLI: consoles, engine start-up, error rendering."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from core.errors import InvalidInput, LatentspaceError
from core.jsonargs import parse_json_object
from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from services.engine import Engine

T = TypeVar("T")
CHUNKING_HELP = (
    "for a new collection: split (token-aware overlapping chunks, the default) | truncate (one vector per "
    "document from its first max_seq_length tokens; faster on long texts)"
)
BACKEND_HELP = (
    "for a new collection: torch | onnx (fp32 ONNX Runtime, the same vectors as torch) | onnx-int8 (quantized); "
    "default LATENTSPACE_EMBEDDING_BACKEND"
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def migrate(settings: Settings) -> None:
    """Apply migrations under the data dir's migration lock."""
    from store.migrate import upgrade_data_dir

    upgrade_data_dir(settings)


def open_engine() -> Engine:
    """Apply migrations, then build the Engine (both cheap when already current).

    A data dir or database that cannot be opened (read-only or full file system, missing permission,
    unreachable server) is one line and exit 1, not a traceback: even ``collections list`` takes the
    data dir's migration lock, so a read-only data dir fails here first.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from services.engine import open_engine as open_migrated

    settings = get_settings()
    try:
        return open_migrated(settings)
    except OSError as exc:
        raise fail(f"cannot use the data dir {settings.data_dir}: {os_reason(exc)}") from None
    except SQLAlchemyError as exc:
        raise fail(f"cannot open the database: {db_reason(exc)}") from None


def os_reason(exc: OSError) -> str:
    """``Read-only file system: /data/.migrate.lock`` rather than a traceback or an errno tuple."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def db_reason(exc: Exception) -> str:
    """The driver's own first line (e.g. ``attempt to write a readonly database``), never the SQL or its parameters."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return (lines[0] if lines else type(original).__name__)[:300]


def run(func: Callable[[], T]) -> T:
    """Turn LatentspaceError, and a file system or database that refuses a write, into one line and exit 1."""
    from sqlalchemy.exc import OperationalError

    try:
        return func()
    except LatentspaceError as exc:
        raise fail(exc.message) from None
    except OSError as exc:
        raise fail(os_reason(exc)) from None
    except OperationalError as exc:  # e.g. a read-only SQLite file, a server gone away: not a bug of ours
        raise fail(f"database error: {db_reason(exc)}") from None


def json_option(value: str | None, flag: str) -> dict | None:
    if value is None:
        return None
    try:
        return parse_json_object(value, flag)
    except InvalidInput as exc:
        raise fail(exc.message) from None
