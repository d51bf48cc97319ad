"""How close ``onnx-int8`` (and ``onnx``) vectors stay to torch's, by token count: words, phrases, queries, sentences.

Dynamic int8 quantization errs most where few token vectors are averaged, so the table is by wordpiece token
count (special tokens included, as the model sees them; truncated at the model's maximum). Every text is
embedded twice by each embedder: alone (as a query is) and in ingest batches (``embed_documents`` on the whole
set, batched by token count as ingest does). Cosine is to the torch vector of the same text.

Texts, all from a BEIR SciFact directory (never copied anywhere): ``--words`` distinct words of the corpus (split
at white space, surrounding punctuation stripped, so "IL-6" and "COVID-19" count) that occur at least
``--min-count`` times (0: every one), ``--phrases`` runs of 2-5 consecutive words, every query, and ``--sentences``
corpus sentences; samples are seeded.

    python -m bench.int8_short /work/shared/data/beir-scifact --backends onnx-int8 onnx
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BUCKETS = [(n, n) for n in range(3, 21)] + [(21, 32), (33, 64), (65, 128), (129, 256)]
PUNCTUATION = ".,;:()[]{}\"'"


def load_texts(dataset: Path, args: argparse.Namespace) -> dict[str, list[str]]:
    rng = random.Random(args.seed)
    abstracts = [json.loads(line)["text"] for line in (dataset / "corpus.jsonl").open()]
    queries = [json.loads(line)["text"] for line in (dataset / "queries.jsonl").open()]
    counts = collections.Counter(w.strip(PUNCTUATION) for text in abstracts for w in text.split())
    vocabulary = sorted(w for w, c in counts.items() if w and c >= args.min_count)
    words = rng.sample(vocabulary, args.words) if 0 < args.words < len(vocabulary) else vocabulary
    sentences = [s.strip() for text in abstracts for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4]
    phrases = []
    for sentence in rng.sample(sentences, args.phrases):
        tokens = sentence.split()
        size = rng.randint(2, min(5, len(tokens)))
        start = rng.randrange(len(tokens) - size + 1)
        phrases.append(" ".join(tokens[start : start + size]))
    return {
        "word": words,
        "phrase": phrases,
        "query": queries,
        "sentence": rng.sample(sentences, args.sentences),
    }


def embed_both_ways(embedder, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """(each text alone, the whole list in ingest batches)."""
    alone = np.vstack([embedder.embed_documents([t]) for t in texts])
    return alone, embedder.embed_documents(texts)


def table(lengths: np.ndarray, cosines: np.ndarray) -> list[dict[str, object]]:
    rows = []
    for low, high in BUCKETS:
        inside = (lengths >= low) & (lengths <= high)
        if inside.any():
            values = cosines[inside]
            rows.append({
                "tokens": str(low) if low == high else f"{low}-{high}", "n": int(inside.sum()),
                "min": round(float(values.min()), 4), "p1": round(float(np.percentile(values, 1)), 4),
                "below_0.99": int((values < 0.99).sum()),
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--backends", nargs="+", default=["onnx-int8"], choices=("onnx-int8", "onnx"))
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--min-count", type=int, default=3)
    parser.add_argument("--phrases", type=int, default=1500)
    parser.add_argument("--sentences", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--exports", type=Path, default=Path("/tmp/latentspace-bench-exports"))
    parser.add_argument("--batch-size", type=int, default=None, help="texts per model call (default: each backend's)")
    args = parser.parse_args()
    from ingest.embedder_base import token_lengths
    from ingest.embedders import EmbedderCache

    texts = load_texts(args.dataset, args)
    cache = EmbedderCache(batch_size=args.batch_size, export_root=args.exports)
    torch_model = cache.get("all-MiniLM-L6-v2", "torch")
    measured = {backend: cache.get("all-MiniLM-L6-v2", backend) for backend in args.backends}
    for kind, items in texts.items():
        lengths = token_lengths(torch_model.tokenizer, items, torch_model.max_tokens)
        reference = torch_model.embed_documents(items)
        for backend, embedder in measured.items():
            started = time.perf_counter()
            alone, batched = embed_both_ways(embedder, items)
            for mode, vectors in (("alone", alone), ("batched", batched)):
                cosines = (vectors * reference).sum(axis=1)
                print(json.dumps({
                    "texts": kind, "count": len(items), "backend": backend, "mode": mode,
                    "min": round(float(cosines.min()), 4), "below_0.99": int((cosines < 0.99).sum()),
                    "seconds": round(time.perf_counter() - started, 1), "by_tokens": table(lengths, cosines),
                    "worst": [[items[i][:60], int(lengths[i]), round(float(cosines[i]), 4)]
                              for i in np.argsort(cosines)[:5]],
                }))


if __name__ == "__main__":
    main()
