"""Measure the BM25 index alone: quality on a BEIR folder per analysis variant, and rebuild cost at scale.

    python -m eval.lexical_bench quality ../shared/data/beir-scifact [--chunked]
    python -m eval.lexical_bench scale ../shared/data/beir-scifact --chunks 100000

``quality`` indexes each document (title + text, as ingest joins them) with :class:`index.lexical.Bm25Index`
and reports nDCG@10 on the train and test splits per variant, so BM25 settings can be picked on train.
With ``--chunked`` it indexes the chunks ingest would store (bundled model's tokenizer, default chunk size
and overlap) and ranks each document by its best chunk, as lexical search with ``group_by_document`` does.
``scale`` replicates the corpus to N chunks and times analysis (paid once per chunk, at ingest), the
bm25s matrix rebuild from stored tokens (paid after each write, lazily), one query, and save/load.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from eval.beir import load_beir
from eval.metrics import evaluate
from index.lexical import Bm25Index, LexicalOptions

VARIANTS = {
    "english (stem + stop words), k1=1.5 b=0.75": LexicalOptions(),
    "english, k1=1.2 b=0.75": LexicalOptions(k1=1.2),
    "english, k1=0.9 b=0.4": LexicalOptions(k1=0.9, b=0.4),
    "no stemming": LexicalOptions(stemmer="none"),  # k1=1.5 from here on
    "no stemming, no stop words": LexicalOptions(stemmer="none", stopwords="none"),
}


def read_corpus(root: Path) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with (root / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            ids.append(str(row["_id"]))
            texts.append("\n\n".join(t for t in (row.get("title", ""), row.get("text", "")) if t))
    return ids, texts


def product_chunks(texts: list[str]) -> tuple[list[str], list[int]]:
    """The chunks ingest stores for ``texts`` (default settings), and each chunk's document position."""
    from core.settings import Settings
    from ingest.chunking import chunk_texts
    from ingest.embedders import EmbedderCache

    settings = Settings(_env_file=None)
    embedder = EmbedderCache().get(settings.default_model)
    limit = min(settings.chunk_tokens or embedder.max_tokens, embedder.max_tokens)
    chunked = chunk_texts(texts, embedder.tokenizer, limit, settings.chunk_overlap)
    return [c.text for chunks in chunked for c in chunks], [n for n, chunks in enumerate(chunked) for _ in chunks]


def _best_per_document(chunk_ids: np.ndarray, owners: list[int], doc_ids: list[str]) -> list[str]:
    ranked: list[str] = []
    for chunk in chunk_ids.tolist():
        doc = doc_ids[owners[chunk]]
        if doc not in ranked:
            ranked.append(doc)
    return ranked


def quality(root: Path, chunked: bool = False) -> dict[str, dict[str, float]]:
    doc_ids, texts = read_corpus(root)
    owners = list(range(len(texts)))
    if chunked:
        texts, owners = product_chunks(texts)
    splits = {split: load_beir(root, split) for split in ("train", "test") if (root / f"qrels/{split}.tsv").exists()}
    results: dict[str, dict[str, float]] = {}
    for name, options in VARIANTS.items():
        index = Bm25Index(options)
        index.add(np.arange(len(texts), dtype=np.int64), texts)
        results[name] = {"chunks": len(texts)}
        for split, data in splits.items():
            run = {q: _best_per_document(index.search(t, 400)[0], owners, doc_ids) for q, t in data.queries.items()}
            results[name][f"{split} ndcg@10"] = round(evaluate(run, data.qrels, ["ndcg@10"])["ndcg@10"], 4)
    return results


def scale(root: Path, chunks: int) -> dict[str, float]:
    _, texts = read_corpus(root)
    corpus = [texts[i % len(texts)] + f" copy{i // len(texts)}" for i in range(chunks)]
    index = Bm25Index()
    started = time.perf_counter()
    index.add(np.arange(chunks, dtype=np.int64), corpus)
    analysed = time.perf_counter()
    index.search("warm up", 1)  # first search after writes builds the matrix
    built = time.perf_counter()
    index.remove(np.arange(100))
    index.add(np.arange(100), corpus[:100])  # a small write, then the rebuild it costs
    small_write = time.perf_counter()
    index.search("microstructural development", 10)
    rebuilt = time.perf_counter()
    index.search("cerebral white matter diffusion", 10)
    queried = time.perf_counter()
    with TemporaryDirectory() as tmp:
        index.save(Path(tmp) / "lex")
        saved = time.perf_counter()
        Bm25Index.load(Path(tmp) / "lex")
        loaded = time.perf_counter()
    return {
        "chunks": chunks,
        "analyse_all_s": round(analysed - started, 2),
        "build_matrix_s": round(built - analysed, 2),
        "write_100_chunks_s": round(small_write - built, 3),
        "rebuild_after_write_s": round(rebuilt - small_write, 2),
        "query_ms": round((queried - rebuilt) * 1000, 1),
        "save_s": round(saved - queried, 2),
        "load_s": round(loaded - saved, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("quality", "scale"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--chunked", action="store_true", help="quality: index ingest's chunks, not documents")
    args = parser.parse_args()
    if args.what == "quality":
        result = quality(args.directory, args.chunked)
    else:
        result = scale(args.directory, args.chunks)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
