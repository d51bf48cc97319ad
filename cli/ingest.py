"""``latentspace ingest``: files, folders and stdin into a collection, with progress and a summary.

The folder walk is split by kind: text files go through the readers and ``Engine.ingest``, image files
through services/images.py (image and multimodal collections); both reports are merged into one summary.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import BACKEND_HELP, CHUNKING_HELP, console, err_console, fail, open_engine, run
from core.errors import LatentspaceError, UnreadableFile
from core.settings import get_settings

if TYPE_CHECKING:  # the CLI starts fast: Pillow, the pipeline and the Engine load only when a command runs
    from rich.progress import TaskID

    from ingest.pipeline import IngestReport
    from services.engine import Engine


def ingest(
    paths: Annotated[list[str], typer.Argument(help="files, folders, or - for standard input")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="created with defaults if missing")],
    include: Annotated[list[str] | None, typer.Option(help="glob of files to take (repeatable)")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="glob of files to skip (repeatable)")] = None,
    prune: Annotated[bool, typer.Option(help="delete documents whose source files are gone")] = False,
    text_field: Annotated[list[str] | None, typer.Option(help="jsonl/csv text field(s)")] = None,
    id_field: Annotated[str, typer.Option(help="jsonl/csv id field")] = "_id",
    metadata_field: Annotated[list[str] | None, typer.Option(help="jsonl/csv metadata field(s)")] = None,
    stdin_format: Annotated[str, typer.Option(help="format of '-': text | jsonl | csv")] = "text",
    model: Annotated[str | None, typer.Option(help="model for a new collection")] = None,
    index: Annotated[str | None, typer.Option(help="index kind for a new collection")] = None,
    modality: Annotated[
        str | None, typer.Option(help="text | image | multimodal for a new collection; image if only images")
    ] = None,
    chunking: Annotated[str | None, typer.Option(help=CHUNKING_HELP)] = None,
    backend: Annotated[str | None, typer.Option(help=BACKEND_HELP)] = None,
    ray: Annotated[
        str | None, typer.Option("--ray", help="embed on a Ray Data actor pool: local | auto | address")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="with --ray: embedding actors (several need PostgreSQL)")] = None,
) -> None:
    """Ingest documents (.txt .md .html .pdf .jsonl .csv/.tsv) and images (.jpg .png .webp .gif .bmp)."""
    table = _table_options(text_field, id_field, metadata_field)
    if stdin_format not in ("text", "jsonl", "csv"):
        raise fail("--stdin-format must be text, jsonl or csv")
    file_args = [Path(p) for p in paths if p != "-"]
    missing = [str(p) for p in file_args if not p.exists()]
    if missing:
        raise fail(f"no such file or directory: {', '.join(missing)}")
    _check_ray(ray, workers)
    engine = open_engine()
    ingest_documents = _ingest_function(engine, ray, workers)
    new = (modality, model, index, chunking, backend)
    files, images = run(lambda: plan_files(engine, collection, file_args, (include, exclude), new, "-" in paths))
    seen: set[str] = set()
    with _progress() as progress:
        files_task = progress.add_task("files", total=len(files) + len(images) + (1 if "-" in paths else 0))
        docs_task = progress.add_task("documents", total=None)
        stream = _documents(files, "-" in paths, stdin_format, table, seen, progress, files_task)
        report = run(lambda: ingest_documents(collection, stream, on_progress=lambda n: progress.advance(docs_task, n)))
        if images:
            image_report = run(lambda: ingest_image_files(engine, collection, images, seen, progress, files_task))
            report = merge_reports(report, image_report)
    if prune:
        report.pruned = run(lambda: engine.prune(collection, file_args, seen))
    _summary(report)
    if report.failed:
        raise typer.Exit(1)


def _check_ray(ray: str | None, workers: int | None) -> None:
    """Refuse ``--ray``/``--workers`` combinations that cannot run (issue 13) before anything is read."""
    from services.cluster.start import check_ray_ingest

    run(lambda: check_ray_ingest(get_settings(), ray, workers))


def _ingest_function(engine: Engine, ray: str | None, workers: int | None):  # noqa: ANN202
    """``engine.ingest``, or with ``--ray`` the same ingest embedding on a Ray Data actor pool."""
    from services.cluster.start import ingest_function

    return ingest_function(engine.ingest, engine.context, ray, workers)


def _table_options(text_field: list[str] | None, id_field: str, metadata_field: list[str] | None):  # noqa: ANN202
    """How jsonl/csv rows become documents (text, id and metadata fields)."""
    from ingest.readers import TableOptions

    return TableOptions(
        text_fields=tuple(text_field or ("title", "text")),
        id_field=id_field or None,
        metadata_fields=tuple(metadata_field) if metadata_field else None,
    )


def _documents(files, use_stdin, stdin_format, table, seen, progress, task) -> Iterator:  # noqa: ANN001
    """Yield documents, and per-file or per-row errors for the engine to count as failures."""
    from ingest.readers import read_path, read_stream

    for path in files:
        seen.add(str(path.resolve()))
        try:
            yield from read_path(path, table)
        except UnreadableFile as exc:
            yield exc
        except (OSError, LatentspaceError) as exc:
            yield UnreadableFile(f"{path}: {exc}")
        progress.advance(task)
    if use_stdin:
        yield from read_stream(sys.stdin, "stdin", stdin_format, table)
        progress.advance(task)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )


class _RateColumn(TextColumn):
    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # noqa: ANN001, ANN201
        from rich.text import Text

        speed = task.finished_speed or task.speed
        return Text(f"{speed:8.1f} {task.description[:4]}/s" if speed else " " * 14, style="cyan")


def _summary(report) -> None:  # noqa: ANN001
    for line in report.errors:
        err_console.print(f"[red]failed:[/] {escape(line)}", highlight=False, soft_wrap=True)  # one greppable line
    table = Table("added", "updated", "unchanged", "failed", "pruned", "chunks embedded")
    table.add_row(
        *(
            str(v)
            for v in (
                report.added,
                report.updated,
                report.unchanged,
                report.failed,
                report.pruned,
                report.chunks_embedded,
            )
        )
    )
    console.print(table)


# -- the image side -------------------------------------------------------------------------------
_COUNTS = ("added", "updated", "unchanged", "failed", "pruned", "chunks_embedded")


def plan_files(
    engine: Engine,
    name: str,
    file_args: list[Path],
    filters: tuple[list[str] | None, list[str] | None],
    new: tuple[str | None, str | None, str | None, str | None],
    use_stdin: bool,
) -> tuple[list[Path], list[Path]]:
    """Open (or create) the collection and return (text files, image files) it should take.

    ``filters`` is (include, exclude); ``new`` is (modality, model, index kind, chunking, backend) for a new collection,
    whose modality defaults to ``image`` when the walk finds only images.
    """
    from ingest.images import IMAGE_SUFFIXES, is_image_path
    from ingest.readers import SUPPORTED_SUFFIXES
    from ingest.readers.walk import iter_files
    from services.images import IMAGE_MODALITIES, open_collection

    found = list(iter_files(file_args, filters[0], filters[1], SUPPORTED_SUFFIXES | IMAGE_SUFFIXES))
    images = [p for p in found if is_image_path(p)]
    texts = [p for p in found if not is_image_path(p)]
    modality, model, index_kind, chunking, backend = new
    if modality is None and images and not texts and not use_stdin:
        modality = None if _exists(engine, name) else "image"
    info = open_collection(engine.context, name, modality, model, index_kind, chunking, backend)
    if info.modality not in IMAGE_MODALITIES and images:
        _notice(f"skipped {len(images)} image file(s): {name!r} is a text collection (use --modality image)")
        images = []
    if info.modality == "image" and texts:
        _notice(f"skipped {len(texts)} text file(s): {name!r} is an image collection (use --modality multimodal)")
        texts = []
    return texts, images


def ingest_image_files(
    engine: Engine, name: str, images: list[Path], seen: set[str], progress: Progress, task: TaskID
) -> IngestReport:
    from services.images import image_files, ingest_images

    seen.update(str(p.resolve()) for p in images)

    def counted():  # noqa: ANN202
        for item in image_files(images, engine.settings.image_max_bytes):
            yield item
            progress.advance(task)

    return ingest_images(engine.context, name, counted())


def merge_reports(first: IngestReport, second: IngestReport) -> IngestReport:
    for key in _COUNTS:
        setattr(first, key, getattr(first, key) + getattr(second, key))
    first.errors.extend(second.errors)
    return first


def _exists(engine: Engine, name: str) -> bool:
    return any(info.name == name for info in engine.list_collections())


def _notice(message: str) -> None:
    err_console.print(f"[yellow]note:[/] {message}", highlight=False)
