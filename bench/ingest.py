"""Ingest throughput: the latentspace pipeline vs raw ``model.encode`` on the same texts, one run.

    python -m bench.ingest --corpus ../shared/data/beir-scifact/corpus.jsonl [--limit N] [--chunking truncate]

Both sides use the same loaded torch model, batch size and texts (title + text, as the reader builds them).
Then the same documents go through the pipeline of each ``--backends`` collection (onnx and onnx-int8 by
default, each at its own batch size), reported as docs/s and as a ratio to the torch pipeline.
Raw ``encode`` is timed twice: on the document texts (which it silently truncates at the model's 256
tokens) and on the chunk texts the pipeline embeds: with the default ``split`` chunking, whole documents
(the same model work); with ``--chunking truncate`` (a collection option), one chunk per document, so
both raw timings encode the same texts.
The pipeline side reads the JSONL with the product's reader, chunks to the model's token limit,
embeds, writes SQLite rows and the index, exactly as ``latentspace ingest`` does (model loading excluded
on both sides). The CLI's own wall time, model load included, is reported too when --cli is given.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    args = parse_args()
    from core.settings import Settings
    from ingest.embedders import batch_size_for
    from ingest.readers import TableOptions, read_path
    from services.engine import Engine
    from store.migrate import upgrade

    docs = [d for d in read_path(args.corpus, TableOptions()) if hasattr(d, "text")]
    if args.limit:
        docs = docs[: args.limit]
    texts = [d.text for d in docs]
    tmp = Path(tempfile.mkdtemp(prefix="ls-ingest-"))
    settings = Settings(data_dir=tmp, _env_file=None, embed_batch_size=args.batch_size)
    upgrade(settings.resolved_database_url())
    engine = Engine(settings)
    embedder = engine.embedders.get(settings.default_model, "torch")  # the raw baseline is torch's encode
    torch_batch = batch_size_for("torch", args.batch_size)
    for backend in ("torch", *args.backends):
        engine.embedders.get(settings.default_model, backend).embed_documents(["warm up"])  # exports, loads

    chunk_texts = pipeline_chunks(embedder, texts, settings.chunk_overlap, args.chunking)
    raw_s, raw_chunks_s = time_raw_encode(embedder, settings, torch_batch, texts, chunk_texts)
    rounds, report = time_pipelines(engine, docs, args)
    engine.close()
    pipe_s = {backend: statistics.median(seconds) for backend, seconds in rounds.items()}

    raw_tokens, pipe_tokens = token_counts(embedder, texts, chunk_texts)
    n = len(docs)
    print(f"chunking: {args.chunking}")
    print(f"{n} documents, {report.chunks_embedded} chunks embedded by the pipeline ({len(chunk_texts)} here)")
    print(f"raw encode, documents : {n / raw_s:8.1f} docs/s  ({raw_s:.1f} s, {raw_tokens} tokens: "
          f"each truncated at {embedder.max_tokens}; torch, batch {torch_batch})")
    print(f"raw encode, chunks    : {n / raw_chunks_s:8.1f} docs/s  ({raw_chunks_s:.1f} s, {pipe_tokens} tokens: "
          "the pipeline's chunk texts, i.e. the same model work)")
    for backend, seconds in pipe_s.items():
        print(f"pipeline, {backend:<11} : {n / seconds:8.1f} docs/s  ({seconds:.1f} s, batch "
              f"{batch_size_for(backend, args.batch_size)}; read, chunk, embed, write rows + index)  "
              f"{pipe_s['torch'] / seconds:.2f}x the torch pipeline; rounds "
              f"{[round(n / t, 1) for t in rounds[backend]]} docs/s")
    torch_s = pipe_s["torch"]
    print(f"torch pipeline / raw encode of the same chunks : {raw_chunks_s / torch_s:.3f}  (what the pipeline adds)")
    print(f"torch pipeline / raw encode of truncated docs  : {raw_s / torch_s:.3f} (docs/s)   "
          f"{(pipe_tokens / torch_s) / (raw_tokens / raw_s):.3f} (tokens/s)")
    if args.cli:
        time_cli(args, tmp / "cli", len(docs))


def time_raw_encode(embedder, settings, batch: int, texts: list[str], chunks: list[str]) -> tuple[float, float]:  # noqa: ANN001
    """Seconds of the raw baseline, the loaded SentenceTransformer's own ``encode``, on the documents and on the
    pipeline's chunk texts, with the threads the pipeline gives a large batch (warm-ups of single texts leave
    torch on one thread: bench runs before this one timed the raw side on one thread)."""
    import torch

    torch.set_num_threads(settings.embed_batch_threads or embedder.default_threads)
    encode = embedder.model.encode
    return (
        timed(lambda: encode(texts, batch_size=batch, normalize_embeddings=True)),
        timed(lambda: encode(chunks, batch_size=batch, normalize_embeddings=True)),
    )


def time_pipelines(engine, docs: list, args: argparse.Namespace) -> tuple[dict[str, list[float]], object]:  # noqa: ANN001
    """Seconds of ``Engine.ingest`` of ``docs`` into a new collection per backend and round (backends take turns
    in each round), and the last ingest's report."""
    rounds: dict[str, list[float]] = {backend: [] for backend in ("torch", *args.backends)}
    for round_ in range(args.rounds):
        for backend, seconds in rounds.items():
            engine.create_collection(f"bench-{backend}-{round_}", chunking=args.chunking, backend=backend)
            start = time.perf_counter()
            report = engine.ingest(f"bench-{backend}-{round_}", iter(docs))
            seconds.append(time.perf_counter() - start)
    return rounds, report


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("LATENTSPACE_BENCH_CORPUS", "../shared/data/beir-scifact/corpus.jsonl")),
    )
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="texts per model call (default: each backend's)")
    parser.add_argument(
        "--backends", nargs="*", default=["onnx", "onnx-int8"], choices=("torch", "onnx", "onnx-int8"),
        help="backends whose pipeline is timed after torch's, in the same run (torch always runs: the baseline)",
    )
    parser.add_argument("--chunking", choices=("split", "truncate"), default="split", help="the collection's mode")
    parser.add_argument("--rounds", type=int, default=1, help="pipeline runs per backend (median reported)")
    parser.add_argument("--cli", action="store_true", help="also time the real CLI in a subprocess")
    return parser.parse_args()


def timed(run: Callable[[], object]) -> float:
    """Seconds one call of ``run`` takes."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def time_cli(args: argparse.Namespace, data_dir: Path, documents: int) -> None:
    """Wall time of the real ``latentspace ingest`` in a subprocess (model loading included)."""
    env = dict(os.environ, LATENTSPACE_DATA_DIR=str(data_dir))
    command = [sys.executable, "-m", "cli.main", "ingest", str(args.corpus), "-c", "cli", "--chunking", args.chunking]
    cli_s = timed(lambda: subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL))
    print(f"latentspace ingest CLI: {documents / cli_s:8.1f} docs/s wall, model load included")


def pipeline_chunks(embedder, texts: list[str], overlap: int, mode: str) -> list[str]:  # noqa: ANN001
    """The chunk texts the pipeline embeds for ``texts`` (same chunker, limit, overlap and mode)."""
    from ingest.chunking import chunk_texts, whole_text_chunks

    pieces = whole_text_chunks(texts) if mode == "truncate" else chunk_texts(
        texts, embedder.tokenizer, embedder.max_tokens, overlap
    )
    return [c.text for doc in pieces for c in doc]


def token_counts(embedder, texts: list[str], chunks: list[str]) -> tuple[int, int]:  # noqa: ANN001
    """Tokens the model sees (specials included, each text cut at its window) for the raw texts and the chunks."""
    tokenizer, limit = embedder.tokenizer, embedder.max_tokens

    def seen(batch: list[str]) -> int:
        encoded = tokenizer(batch, add_special_tokens=True, verbose=False)["input_ids"]
        return sum(min(len(ids), limit) for ids in encoded)

    return seen(texts), seen(chunks)


if __name__ == "__main__":
    main()
