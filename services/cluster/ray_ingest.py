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
        """One input row = one ingest batch's texts, embedded in one call as local ingest does (so even
        batch-dependent backends such as onnx-int8 give the same vectors); one output row per text."""
        rows, positions, vectors = [], [], []
        for row, texts in zip(batch["row"], batch["texts"], strict=True):
            matrix = self.embedder.embed_documents([str(t) for t in texts])
            rows.append(np.full(len(matrix), int(row), dtype=np.int64))
            positions.append(np.arange(len(matrix), dtype=np.int64))
            vectors.append(matrix)
        return {"row": np.concatenate(rows), "pos": np.concatenate(positions), "vector": np.vstack(vectors)}


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
        self.cpus = settings.cluster_replica_cpus

    def embed_groups(self, groups: list[list[str]]) -> list[np.ndarray]:
        """Each group of texts embedded in one model call (one Ray Data job for all groups): float32 matrices."""
        out = [np.zeros((len(g), self.dim), dtype=np.float32) for g in groups]
        rows = [{"row": n, "texts": list(g)} for n, g in enumerate(groups) if g]
        if not rows:
            return out
        data = ray.data.from_items(rows, override_num_blocks=min(len(rows), self.workers * 4)).map_batches(
            EmbedActor,
            fn_constructor_args=self.actor_args,
            compute=ActorPoolStrategy(size=self.workers),
            batch_size=1,
            num_cpus=self.cpus,
            batch_format="numpy",
        )
        for part in data.iter_batches(batch_format="numpy", batch_size=None):
            for row, pos, vector in zip(part["row"], part["pos"], part["vector"], strict=True):
                out[int(row)][int(pos)] = vector
        return out


class Precomputed:
    """The Embedder face pipeline.embed_chunks calls, answering with vectors computed on the actors."""

    def __init__(self, matrix: np.ndarray, dim: int) -> None:
        self.matrix, self.dim = matrix, dim

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if len(texts) != len(self.matrix):
            raise RuntimeError(f"{len(texts)} texts but {len(self.matrix)} vectors came back")
        return self.matrix


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
    groups = [[c.text for item in items if item.vector is None for c in item.chunks] for _n, items in prepared]
    matrices = remote.embed_groups(groups)
    for (count, items), matrix in zip(prepared, matrices, strict=True):
        run.report.chunks_embedded += pipeline.embed_chunks(items, Precomputed(matrix, remote.dim))
        run.write_embedded(items)
        if on_progress:
            on_progress(count)
