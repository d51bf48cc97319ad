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
    """Apply migrations, then build the Engine (both cheap when already current)."""
    from services.engine import open_engine as open_migrated

    return open_migrated(get_settings())


def run(func: Callable[[], T]) -> T:
    """Turn LatentspaceError into a one-line message and a non-zero exit."""
    try:
        return func()
    except LatentspaceError as exc:
        raise fail(exc.message) from None


def json_option(value: str | None, flag: str) -> dict | None:
    if value is None:
        return None
    try:
        return parse_json_object(value, flag)
    except InvalidInput as exc:
        raise fail(exc.message) from None
