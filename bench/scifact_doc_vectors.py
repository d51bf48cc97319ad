"""Ingest BEIR SciFact with per-document vectors built from the precomputed MiniLM sentence vectors.

Re-embedding 5k abstracts takes a long time on shared CPUs; ../shared/data/scifact-sentences-minilm holds
every abstract sentence embedded by the same all-MiniLM-L6-v2. Its README's split rule (after . ! ? before a
capital letter, sentences of 20+ characters, corpus order) maps each sentence back to its document; a
document's vector is the renormalised mean of its sentence vectors (the same rule latent/documents.py uses
for chunks), supplied to Engine.ingest like the API's ``vector`` field. Used for docs/LATENT.md:

    LATENTSPACE_DATA_DIR=/tmp/ls-topics-vec python -m bench.scifact_doc_vectors \\
        ../shared/data/beir-scifact/corpus.jsonl ../shared/data/scifact-sentences-minilm --collection scifact
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def document_vectors(corpus: list[dict], sentences: list[str], vectors: np.ndarray) -> dict[str, np.ndarray]:
    position, sums = 0, {}
    for doc in corpus:
        for sentence in (s.strip() for s in _SPLIT.split(doc["text"])):
            if len(sentence) < 20:
                continue
            if sentences[position] != sentence:
                raise SystemExit(f"sentence {position} does not match document {doc['_id']}")
            sums.setdefault(doc["_id"], []).append(position)
            position += 1
    out = {}
    for doc_id, rows in sums.items():
        mean = vectors[rows].astype(np.float32).mean(axis=0)
        out[doc_id] = mean / np.linalg.norm(mean)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("sentences_dir", type=Path)
    parser.add_argument("--collection", default="scifact")
    args = parser.parse_args()
    from core.settings import get_settings
    from ingest.readers import SourceDocument
    from services.engine import Engine
    from store.migrate import upgrade

    corpus = [json.loads(line) for line in args.corpus.read_text().splitlines() if line.strip()]
    sentences = (args.sentences_dir / "sentences.txt").read_text().splitlines()
    vectors = np.load(args.sentences_dir / "sentences_minilm_f16.npy", allow_pickle=False)
    by_doc = document_vectors(corpus, sentences, vectors)
    docs = [SourceDocument(d["_id"], f"{d.get('title', '')}\n{d['text']}".strip(), None, {"title": d.get("title", "")})
            for d in corpus if d["_id"] in by_doc]
    settings = get_settings()  # the configured data dir and database, as the CLI uses (bench/ imports no cli/)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the SQLite file lives there by default
    upgrade(settings.resolved_database_url())
    engine = Engine(settings)
    engine.create_collection(args.collection, exist_ok=True)
    report = engine.ingest(args.collection, docs, vectors=by_doc)
    print(json.dumps(report.as_dict() | {"errors": report.errors[:5]}))


if __name__ == "__main__":
    main()
