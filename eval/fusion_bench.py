"""Pick hybrid fusion settings on a BEIR train split, offline, with precomputed sentence vectors.

    python -m eval.fusion_bench ../shared/data/beir-scifact ../shared/data/scifact-sentences-minilm [--chunked]

A *proxy* for the product path, cheap enough to sweep: the dense signal is the best-matching sentence of
each abstract (MaxP over precomputed all-MiniLM-L6-v2 sentence vectors, titles not embedded), the lexical
signal is :class:`index.lexical.Bm25Index` over title + text (with ``--chunked``: over the chunks ingest
stores, each document scored by its best chunk, as the product does), and fusion is :mod:`index.fusion` with the
same candidate rule as services/search/hybrid.py (top ``depth`` per signal, both signals scored on the union).
Settings are chosen on ``train`` and reported on ``test``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from eval.beir import BeirDataset, load_beir
from eval.lexical_bench import product_chunks, read_corpus
from eval.metrics import evaluate
from index import fusion
from index.lexical import Bm25Index

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def sentence_owners(root: Path) -> list[int]:
    """Document position of every sentence, by the rule the sentence file was made with."""
    owners = []
    with (root / "corpus.jsonl").open(encoding="utf-8") as lines:
        for position, line in enumerate(lines):
            text = json.loads(line).get("text", "")
            owners += [position for s in _SENTENCE.split(text) if len(s.strip()) >= 20]
    return owners


def dense_scores(queries: np.ndarray, sentences: np.ndarray, owners: np.ndarray, docs: int) -> np.ndarray:
    """(q, docs) MaxP cosine: each document's best sentence."""
    scores = np.full((len(queries), docs), -1.0, dtype=np.float32)
    sims = queries @ sentences.T
    for q in range(len(queries)):
        np.maximum.at(scores[q], owners, sims[q])
    return scores


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = matrix.astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def signals_for(dense_row: np.ndarray, lexical_row: np.ndarray, depth: int) -> dict[str, dict[int, float]]:
    top_dense = np.argpartition(-dense_row, depth)[:depth]
    top_lexical = [i for i in np.argpartition(-lexical_row, depth)[:depth] if lexical_row[i] > 0]
    union = set(top_dense.tolist()) | set(int(i) for i in top_lexical)
    return {
        "dense": {i: float(dense_row[i]) for i in union},
        "lexical": {i: float(lexical_row[i]) for i in union if lexical_row[i] > 0},
    }


def score_runs(per_query: dict[str, dict], doc_ids: list[str], data: BeirDataset, configs: dict) -> dict:
    results = {}
    for name, (method, weight, rrf_k) in configs.items():
        run = {}
        for q, signals in per_query.items():
            if method == "convex-z":
                fused = fusion.convex(signals["dense"], signals["lexical"], weight, normalise="zscore")
            else:
                fused = fusion.fuse(signals["dense"], signals["lexical"], method, weight, rrf_k)
            run[q] = [doc_ids[i] for i in sorted(fused, key=lambda i: (-fused[i], i))[:100]]
        results[name] = round(evaluate(run, data.qrels, ["ndcg@10"])["ndcg@10"], 4)
    return results


def sweep(beir: Path, sentences_dir: Path, chunked: bool = False, depth: int = 100) -> dict[str, dict[str, float]]:
    doc_ids, texts = read_corpus(beir)
    units, unit_owner = product_chunks(texts) if chunked else (texts, list(range(len(texts))))
    owners = np.asarray(sentence_owners(beir))
    sentences = _unit(np.load(sentences_dir / "sentences_minilm_f16.npy"))
    query_vectors = _unit(np.load(sentences_dir / "queries_minilm_f16.npy"))
    with (beir / "queries.jsonl").open(encoding="utf-8") as lines:
        query_row = {str(json.loads(line)["_id"]): n for n, line in enumerate(lines)}
    index = Bm25Index()
    index.add(np.arange(len(units), dtype=np.int64), units)
    configs = {"dense only": ("convex", 1.0, 0), "lexical only": ("convex", 0.0, 0)}
    configs |= {f"rrf k={k}": ("rrf", 0.0, k) for k in (10, 30, 60, 100)}
    configs |= {f"convex w={w:.1f}": ("convex", w, 0) for w in np.arange(0.1, 0.95, 0.1)}
    configs |= {f"convex z-score w={w:.1f}": ("convex-z", w, 0) for w in np.arange(0.3, 0.75, 0.1)}
    report = {}
    for split in ("train", "test"):
        data = load_beir(beir, split)
        rows = [query_row[q] for q in data.queries]
        dense = dense_scores(query_vectors[rows], sentences, owners, len(texts))
        per_query = {}
        for n, (q, text) in enumerate(data.queries.items()):
            chunk_ids, lexical = index.scores(text)
            per_doc = np.zeros(len(texts), dtype=np.float32)
            np.maximum.at(per_doc, np.asarray(unit_owner)[chunk_ids], lexical)
            per_query[q] = signals_for(dense[n], per_doc, depth)
        report[split] = score_runs(per_query, doc_ids, data, configs)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("beir", type=Path)
    parser.add_argument("sentences", type=Path)
    parser.add_argument("--chunked", action="store_true", help="BM25 over ingest's chunks, best chunk per document")
    args = parser.parse_args()
    print(json.dumps(sweep(args.beir, args.sentences, args.chunked), indent=2))


if __name__ == "__main__":
    main()
