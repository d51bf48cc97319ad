"""The image side of ``latentspace ingest``: split the folder walk by kind, pick the modality, ingest images."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cli.common import err_console
from ingest.images import IMAGE_SUFFIXES, is_image_path
from ingest.pipeline import IngestReport

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from services.engine import Engine

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

    ``filters`` is (include, exclude); ``new`` is (modality, model, index kind, chunking) for a new collection,
    whose modality defaults to ``image`` when the walk finds only images.
    """
    from ingest.readers import SUPPORTED_SUFFIXES
    from ingest.readers.walk import iter_files
    from services.images import IMAGE_MODALITIES, open_collection

    found = list(iter_files(file_args, filters[0], filters[1], SUPPORTED_SUFFIXES | IMAGE_SUFFIXES))
    images = [p for p in found if is_image_path(p)]
    texts = [p for p in found if not is_image_path(p)]
    modality, model, index_kind, chunking = new
    if modality is None and images and not texts and not use_stdin:
        modality = None if _exists(engine, name) else "image"
    info = open_collection(engine, name, modality, model, index_kind, chunking)
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

    return ingest_images(engine, name, counted())


def merge_reports(first: IngestReport, second: IngestReport) -> IngestReport:
    for key in _COUNTS:
        setattr(first, key, getattr(first, key) + getattr(second, key))
    first.errors.extend(second.errors)
    return first


def _exists(engine: Engine, name: str) -> bool:
    return any(info.name == name for info in engine.list_collections())


def _notice(message: str) -> None:
    err_console.print(f"[yellow]note:[/] {message}", highlight=False)
