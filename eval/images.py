"""Image evaluation through the Engine: ingest throughput, pipeline correctness, retrieval and zero-shot.

* throughput: images/s of the whole ingest pipeline (read, decode, hash, embed, thumbnail, store, index)
  against images/s of the bare image tower on the same decoded pictures, in the same run;
* correctness: stored vectors equal a fresh encode, and every image finds itself first;
* image → image precision@10 by class, leave-one-out (each image queries by its stored vector);
* zero-shot text → image accuracy: the class whose prompt "a photo of a {label}" scores highest.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import InvalidInput
from ingest.clip import require_image_tower
from ingest.embedders import IMAGE_BATCH
from ingest.images import decode_image, read_image_file
from services.image_search import search_by_image, stored_vector
from services.images import image_files, ingest_images

if TYPE_CHECKING:
    from services.engine import Engine

PROMPT = "a photo of a {label}"


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: str


def load_labels(directory: Path, labels: Path, exclude: set[str] | None = None) -> list[LabelledImage]:
    """Rows ``path,label``; a path is taken relative to the labels file's folder, else to ``directory``."""
    try:
        with open(labels, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InvalidInput(f"{labels}: {exc.strerror or exc}") from None
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise InvalidInput(f"{labels}: needs a header with 'path' and 'label' columns and at least one row")
    found, missing = [], []
    for row in rows:
        if row["label"] in (exclude or set()):
            continue
        candidates = [labels.parent / row["path"], directory / row["path"]]
        path = next((c for c in candidates if c.is_file()), None)
        (found if path else missing).append(LabelledImage(path, row["label"]) if path else row["path"])
    if missing:
        raise InvalidInput(f"{len(missing)} labelled file(s) not found, e.g. {missing[0]!r}")
    if len({item.label for item in found}) < 2:
        raise InvalidInput("at least two labels are needed")
    return found


def evaluate_images(engine: Engine, name: str, items: list[LabelledImage], k: int = 10) -> dict[str, Any]:
    """Ingest ``items`` into the (existing, empty or current) image collection ``name`` and measure."""
    collection_info = engine.collection_info(name)
    embedder = require_image_tower(engine.embedders.get(collection_info.model))
    started = time.perf_counter()
    report = ingest_images(engine.context, name, image_files([i.path for i in items], engine.settings.image_max_bytes))
    pipeline_s = time.perf_counter() - started
    raw = _raw_encode(engine, embedder, items)
    ids = [i.path.resolve().as_posix() for i in items]
    collection = engine.context.collection(name)
    stored = np.vstack([stored_vector(engine.context, collection, doc_id) for doc_id in ids])
    labels = [i.label for i in items]
    retrieval = _leave_one_out(engine, name, ids, labels, k)
    return {
        "images": len(items),
        "classes": len(set(labels)),
        "ingest": report.as_dict() | {"errors": report.errors[:5]},
        "throughput": {
            "pipeline_images_per_s": round(len(items) / pipeline_s, 2),
            "pipeline_seconds": round(pipeline_s, 2),
            "raw_encode_images_per_s": round(len(items) / raw["encode_s"], 2),
            "raw_encode_seconds": round(raw["encode_s"], 2),
            "decode_seconds": round(raw["decode_s"], 2),
            "note": "pipeline = read+decode+hash+embed+thumbnail+store+index; raw = image tower only",
        },
        "correctness": {
            "max_abs_diff_stored_vs_raw": float(np.max(np.abs(stored - raw["vectors"]))),
            "self_rank1": retrieval["self_rank1"],
        },
        f"image_to_image_precision@{k}": retrieval["precision"],
        "zero_shot": _zero_shot(embedder, stored, labels),
        "chance": {"precision": _chance_precision(labels), "zero_shot_accuracy": round(1 / len(set(labels)), 4)},
    }


def _raw_encode(engine: Engine, embedder: Any, items: list[LabelledImage]) -> dict[str, Any]:
    settings = engine.settings
    started = time.perf_counter()
    pictures = [
        decode_image(read_image_file(i.path, settings.image_max_bytes), str(i.path), settings.image_max_pixels).image
        for i in items
    ]
    decoded = time.perf_counter()
    batch = settings.embed_batch_size or IMAGE_BATCH
    vectors = np.vstack([embedder.embed_images(pictures[s : s + batch]) for s in range(0, len(pictures), batch)])
    return {"vectors": vectors, "decode_s": decoded - started, "encode_s": time.perf_counter() - decoded}


def _leave_one_out(engine: Engine, name: str, ids: list[str], labels: list[str], k: int) -> dict[str, Any]:
    label_of = dict(zip(ids, labels, strict=True))
    by_class: dict[str, list[float]] = defaultdict(list)
    self_first = 0
    for doc_id, label in zip(ids, labels, strict=True):
        hits = search_by_image(engine.context, name, document_id=doc_id, k=k + 1).hits
        self_first += bool(hits) and hits[0].id == doc_id
        others = [h.id for h in hits if h.id != doc_id][:k]
        by_class[label].append(sum(label_of.get(o) == label for o in others) / k)
    per_class = {c: round(float(np.mean(v)), 4) for c, v in sorted(by_class.items())}
    return {
        "self_rank1": round(self_first / len(ids), 4),
        "precision": {"macro": round(float(np.mean(list(per_class.values()))), 4), "by_class": per_class},
    }


def _zero_shot(embedder: Any, images: np.ndarray, labels: list[str]) -> dict[str, Any]:
    classes = sorted(set(labels))
    prompts = embedder.embed_documents([PROMPT.format(label=c.replace("_", " ")) for c in classes])
    predicted = np.argmax(images @ prompts.T, axis=1)
    truth = np.asarray([classes.index(label) for label in labels])
    correct: dict[str, list[bool]] = defaultdict(list)
    for t, p in zip(truth, predicted, strict=True):
        correct[classes[t]].append(bool(t == p))
    return {
        "prompt": PROMPT,
        "accuracy": round(float(np.mean(predicted == truth)), 4),
        "by_class": {c: round(float(np.mean(v)), 4) for c, v in sorted(correct.items())},
    }


def _chance_precision(labels: list[str]) -> float:
    counts = defaultdict(int)
    for label in labels:
        counts[label] += 1
    n = len(labels)
    return round(sum(c * (c - 1) / (n - 1) for c in counts.values()) / n, 4)

