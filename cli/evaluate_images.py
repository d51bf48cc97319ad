"""``latentspace eval images DIR --labels labels.csv``: image retrieval, zero-shot and throughput.

cli/main.py adds :func:`eval_images` to the ``eval`` group; this module imports no other command module.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import console, err_console, fail, open_engine, run


def eval_images(
    directory: Annotated[Path, typer.Argument(help="folder holding the labelled images")],
    labels: Annotated[Path, typer.Option(help="CSV with path,label columns (paths relative to it or DIR)")],
    model: Annotated[str | None, typer.Option(help="CLIP model name or local path; default: the setting")] = None,
    exclude_label: Annotated[list[str] | None, typer.Option(help="label to leave out (repeatable)")] = None,
    k: Annotated[int, typer.Option("--k", "-k", help="precision@k of image → image")] = 10,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="named collection to (re)use; default: temporary")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report on stdout")] = False,
) -> None:
    """Ingest a labelled image folder; report throughput, correctness, precision@k and zero-shot accuracy."""
    from eval.images import evaluate_images, load_labels
    from services.images import open_collection

    if not directory.is_dir():
        raise fail(f"no such directory: {directory}")
    if k < 1:
        raise fail("--k must be positive")
    items = run(lambda: load_labels(directory, labels, set(exclude_label or [])))
    engine = open_engine()
    name = collection or f"images-eval-{uuid.uuid4().hex[:8]}"
    run(lambda: open_collection(engine.context, name, "image", model, None))
    try:
        err_console.print(f"ingesting {len(items)} images into {name}")
        report = run(lambda: evaluate_images(engine, name, items, k))
    finally:
        if collection is None:
            engine.delete_collection(name)
    report["model"] = model or engine.settings.image_model
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _render(report, k)


def _render(report: dict[str, Any], k: int) -> None:
    speed, check = report["throughput"], report["correctness"]
    console.print(
        f"model {report['model']}: {report['images']} images, {report['classes']} classes\n"
        f"  ingest: {report['ingest']['added']} added, {report['ingest']['unchanged']} unchanged, "
        f"{report['ingest']['failed']} failed\n"
        f"  throughput: pipeline {speed['pipeline_images_per_s']} images/s, "
        f"raw encode {speed['raw_encode_images_per_s']} images/s\n"
        f"  correctness: self ranked first {check['self_rank1']:.4f}, "
        f"max |stored - raw| {check['max_abs_diff_stored_vs_raw']:.2e}\n"
        f"  image → image precision@{k} (macro, leave-one-out): {report[f'image_to_image_precision@{k}']['macro']:.4f}"
        f" (chance {report['chance']['precision']:.4f})\n"
        f"  zero-shot text → image accuracy: {report['zero_shot']['accuracy']:.4f}"
        f" (chance {report['chance']['zero_shot_accuracy']:.4f})"
    )
