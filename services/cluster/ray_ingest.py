"""``latentspace ingest --ray``: the usual pipeline stages, with embedding on a Ray Data actor pool.

The driver reads, validates, classifies and chunks exactly as local ingest does (services/ingest.py), one
batch of ``ingest_batch_docs`` at a time; the chunks of a window of batches are then embedded by one Ray
Data job (``map_batches`` over an ``ActorPoolStrategy`` of ``workers`` actors, each loading the model
once with its torch threads pinned), and the driver writes the window's batches one transaction each,
with the same savepoints, dedup, change-log entries, progress callbacks and per-document failures. A window
ends early at a document id it already holds, so a repeated id is classified against the first one's
write, as it is locally. Only the driver writes; the actors only embed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

try:
    import ray
    from ray.data import ActorPoolStrategy
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("ingest --ray needs Ray: pip install 'latentspace[cluster]'") from exc

from core.errors import LatentspaceError
from ingest import pipeline
from ingest.embedders import Embedder, EmbedderCache, ThreadPolicy, collection_backend
from ingest.pipeline import IngestReport, PreparedDocument
from ingest.readers import RowError, SourceDocument
from services.context import ServiceContext
from services.ingest import IngestRun, ProgressCallback, within_size_limit
from services.writes import save_derived

Item = SourceDocument | RowError | LatentspaceError


class EmbedActor:
    """One model per actor, loaded once; ``threads`` torch threads for every call."""

    def __init__(self, model: str, backend: str, batch_size: int, threads: int, exports: str) -> None:
        from pathlib import Path

        policy = ThreadPolicy(small_threads=threads, batch_threads=threads)
        self.embedder = EmbedderCache(batch_size, policy, query_cache=0, export_root=Path(exports)).get(model, backend)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"row": batch["row"], "vector": self.embedder.embed_documents([str(t) for t in batch["text"]])}


class RayDataEmbedder:
    """What pipeline.embed_chunks needs of an Embedder (``embed_documents``, ``dim``): one Ray Data job per call."""

    def __init__(self, ctx: ServiceContext, local: Embedder, backend: str, workers: int) -> None:
        settings = ctx.settings
        self.dim, self.name, self.workers = local.dim, local.name, workers
        threads = (
            max(int(settings.cluster_replica_cpus * 2), 1)
            if settings.embed_batch_threads == 0
            else settings.embed_batch_threads
        )
        self.actor_args = (
            local.name,
            backend,
            settings.embed_batch_size,
            threads,
            str(settings.data_dir / "models" / "onnx"),
        )
        self.cpus, self.batch = settings.cluster_replica_cpus, max(settings.embed_batch_size * 4, 64)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return matrix
        rows = [{"row": n, "text": text} for n, text in enumerate(texts)]
        blocks = max(min(len(rows) // self.batch, self.workers * 4), 1)
        data = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            EmbedActor,
            fn_constructor_args=self.actor_args,
            compute=ActorPoolStrategy(size=self.workers),
            batch_size=self.batch,
            num_cpus=self.cpus,
            batch_format="numpy",
        )
        for part in data.iter_batches(batch_format="numpy", batch_size=None):
            matrix[np.asarray(part["row"], dtype=np.int64)] = np.asarray(part["vector"], dtype=np.float32)
        return matrix


def windows(batches: Iterable[list[Item]], limit: int) -> Iterator[list[list[Item]]]:
    """Group batches into windows of about ``limit`` documents; a batch repeating an id starts a new window."""
    window: list[list[Item]] = []
    ids: set[str] = set()
    size = 0
    for batch in batches:
        batch_ids = {item.external_id for item in batch if isinstance(item, SourceDocument)}
        if window and (size >= limit or ids & batch_ids):
            yield window
            window, ids, size = [], set(), 0
        window.append(batch)
        ids |= batch_ids
        size += len(batch)
    if window:
        yield window


def ingest_on_ray(
    ctx: ServiceContext,
    name: str,
    stream: Iterable[Item],
    workers: int,
    on_progress: ProgressCallback | None = None,
    window_docs: int = 4096,
) -> IngestReport:
    """Ingest like services.ingest.ingest, embedding on a Ray Data actor pool of ``workers`` actors."""
    collection = ctx.collection(name)
    local = ctx.embedder_for(collection)  # tokenizer and dimension for the driver's stages
    remote = RayDataEmbedder(ctx, local, collection_backend(collection.options), workers)
    stream = within_size_limit(stream, ctx.settings.max_document_chars)
    with ctx.write_lock:
        run = IngestRun(ctx, collection, local, ctx.vectors.get(collection))
        for window in windows(pipeline.batched(stream, ctx.settings.ingest_batch_docs), window_docs):
            _embed_window(run, window, remote, on_progress)
        save_derived(ctx, collection)
    return run.report


def _embed_window(run: IngestRun, window: list[list[Item]], remote: Any, on_progress: ProgressCallback | None) -> None:
    prepared: list[tuple[int, list[PreparedDocument]]] = []
    for batch in window:
        docs = run.valid_documents(batch, None)
        prepared.append((len(batch), run.classify_and_chunk(pipeline.prepare(docs))))
    everything = [item for _count, items in prepared for item in items]
    run.report.chunks_embedded += pipeline.embed_chunks(everything, remote)
    for count, items in prepared:
        run.write_embedded(items)
        if on_progress:
            on_progress(count)
