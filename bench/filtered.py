"""Filtered vector search benchmark on real MiniLM vectors with synthetic metadata (issue 17, part B).

    python -m bench.filtered --data ../shared/data/scifact-sentences-minilm [--queries 200] [--rounds 3] \
        [--workdir DIR] [--chroma-python /work/peers-venv/bin/python]
    python -m bench.filtered --sweep --workdir DIR    # exact vs hnswlib's filter by allowed share (the threshold)

The 44,484 sentence vectors go into one hnswlib collection (M 16, efConstruction 200, ef 64), each document
with metadata ``{"bucket": b, "tag": "t<b>"}`` where ``b`` is uniform over 0..999 (seeded), so
``{"bucket": {"$lt": s * 1000}}`` keeps a share ``s`` of the documents: 0.1%, 1%, 10% and 50%. Per selectivity:

* ``sql``: ``Engine.search`` with the filter compiled to SQL per query (an Engine with the payload index off);
* ``payload``: ``Engine.search`` with the payload index (the default);
* ``filter only: sql / payload``: just the allowed-id step;
* ``prefilter`` / ``native``: allowed ids from the payload index, then the vector index forced to search
  exactly over the allowed vectors, or through hnswlib's own filter (what exact_filter_limit chooses between);
* ``chroma`` (with ``--chroma-python``): Chroma embedded (PersistentClient) in that interpreter, same vectors,
  metadata and ``where`` filter, one subprocess per round (its load time is not counted).

Recall@10 is against exact inner-product search over the matching vectors. The systems take turns,
``--rounds`` times, and each reports its median QPS. Nothing is installed here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SELECTIVITIES = (0.001, 0.01, 0.1, 0.5)
K = 10


def load(data: Path) -> tuple[np.ndarray, np.ndarray]:
    base = np.load(data / "sentences_minilm_f16.npy").astype(np.float32)
    queries = np.load(data / "queries_minilm_f16.npy").astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return base, queries


def buckets(n: int, seed: int = 17) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1000, size=n)


def where(selectivity: float) -> dict:
    return {"bucket": {"$lt": max(1, round(selectivity * 1000))}}


def truth_for(base: np.ndarray, queries: np.ndarray, bucket: np.ndarray, selectivity: float) -> np.ndarray:
    rows = np.flatnonzero(bucket < max(1, round(selectivity * 1000)))
    scores = queries @ base[rows].T
    return rows[np.argsort(-scores, axis=1)[:, :K]]


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)]))


# ----------------------------------------------------------------------------- our systems


def build_engines(base: np.ndarray, bucket: np.ndarray, workdir: Path, ef: int) -> tuple:
    from core.settings import Settings
    from ingest.readers import SourceDocument
    from services.engine import Engine
    from store.migrate import upgrade

    settings = Settings(data_dir=workdir, _env_file=None, ingest_batch_docs=2000)
    workdir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url())
    engine = Engine(settings)
    if not any(c.name == "filtered" for c in engine.list_collections()):
        params = {"M": 16, "ef_construction": 200, "ef_search": ef}
        engine.create_collection("filtered", index_kind="hnswlib", index_params=params)
        docs = [
            SourceDocument(str(i), f"s{i}", None, {"bucket": int(b), "tag": f"t{int(b):03d}"})
            for i, b in enumerate(bucket.tolist())
        ]
        start = time.perf_counter()
        engine.ingest("filtered", docs, vectors={str(i): v for i, v in enumerate(base)})
        print(f"ingested {len(docs)} vectors in {time.perf_counter() - start:.1f}s", flush=True)
    sql = Engine(settings.model_copy(update={"payload_index": False}), embedders=engine.embedders)
    return engine, sql


def row_of(engine) -> dict[int, int]:  # noqa: ANN001
    """Chunk id (index label) -> the sentence's row (its external id)."""
    from sqlalchemy import select

    from store.models import Chunk, Document

    with engine.sessions() as session:
        pairs = session.execute(select(Chunk.id, Document.external_id).join(Document))
        return {label: int(ext) for label, ext in pairs}


def our_systems(engine, sql, selectivity: float) -> dict:  # noqa: ANN001
    from services.search.dispatch import allowed_chunk_ids
    from services.search.types import SearchRequest

    spec = where(selectivity)
    ctx = engine.context
    collection = ctx.collection("filtered")
    index = ctx.vectors.get(collection)
    rows = row_of(engine)

    def search_with(eng):  # noqa: ANN001, ANN202
        return lambda q: [int(h.id) for h in eng.search("filtered", SearchRequest(vector=q, k=K, filter=spec)).hits]

    def forced(exact: bool):  # noqa: ANN202
        def run(q: np.ndarray) -> list[int]:
            ids = index.search(q, K, allowed_ids=allowed_chunk_ids(ctx, collection, spec), exact=exact)[0][0]
            return [rows[i] for i in ids.tolist() if i >= 0]

        return run

    def filter_only(context):  # noqa: ANN001, ANN202
        def run(_q: np.ndarray) -> list[int]:
            allowed_chunk_ids(context, collection, spec)
            return []

        return run

    return {
        "Engine.search, filter in SQL": search_with(sql),
        "Engine.search, payload index": search_with(engine),
        "filter only: SQL": filter_only(sql.context),
        "filter only: payload index": filter_only(ctx),
        "payload + prefilter (exact)": forced(True),
        "payload + hnswlib filter": forced(False),
    }


# ----------------------------------------------------------------------------- Chroma, in its own interpreter


def chroma_round(python: str, args: argparse.Namespace, store: Path) -> dict:
    command = [python, "-m", "bench.filtered", "--chroma-worker", "--data", str(args.data), "--workdir", str(store),
               "--queries", str(args.queries)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=Path(__file__).parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"chroma worker failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def chroma_worker(args: argparse.Namespace) -> None:
    """Runs in the peers' interpreter: numpy and chromadb only, never this project."""
    import chromadb

    base, queries = load(args.data)
    bucket = buckets(len(base))
    client = chromadb.PersistentClient(path=str(args.workdir))
    collection = client.get_or_create_collection("filtered", metadata={"hnsw:space": "cosine"})
    if collection.count() != len(base):
        for start in range(0, len(base), 5000):
            part = range(start, min(start + 5000, len(base)))
            collection.add(ids=[str(i) for i in part], embeddings=base[start : part.stop],
                           metadatas=[{"bucket": int(bucket[i]), "tag": f"t{int(bucket[i]):03d}"} for i in part])
    out = {}
    for selectivity in SELECTIVITIES:
        spec = where(selectivity)
        collection.query(query_embeddings=queries[:1], n_results=K, where=spec)  # warm
        start = time.perf_counter()
        found = [collection.query(query_embeddings=q[None, :], n_results=K, where=spec)["ids"][0]
                 for q in queries[: args.queries]]
        out[str(selectivity)] = {"qps": args.queries / (time.perf_counter() - start),
                                 "ids": [[int(i) for i in f] for f in found]}
    print(json.dumps(out))


def sweep(args: argparse.Namespace) -> None:
    """Exact over the allowed vectors vs hnswlib's own filter, for random allowed sets of growing share of the
    index: where the crossover lies (index/hnsw.py EXACT_FILTER_FRACTION). Interleaved rounds, medians."""
    base, queries = load(args.data)
    engine, sql = build_engines(base, buckets(len(base)), args.workdir / "latentspace", args.ef)
    index = engine.context.vectors.get(engine.context.collection("filtered"))
    live, rng, rates = index.ids(), np.random.default_rng(1), {}
    shares = (0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
    for _ in range(args.rounds):
        for share in shares:
            allowed = np.sort(rng.choice(live, int(share * len(live)), replace=False))
            for exact in (True, False):
                rate, _ = timed(lambda q, a=allowed, e=exact: index.search(q, K, allowed_ids=a, exact=e), queries[:40])
                rates.setdefault((share, exact), []).append(rate)
    print(f"{'allowed share':<14}{'ids':>7}{'exact QPS':>11}{'hnswlib filter QPS':>20}{'exact/filter':>14}")
    for share in shares:
        exact, native = statistics.median(rates[(share, True)]), statistics.median(rates[(share, False)])
        print(f"{share:<14.1%}{int(share * len(live)):>7}{exact:>11.1f}{native:>20.1f}{exact / native:>14.2f}")
    engine.close()
    sql.close()


# ----------------------------------------------------------------------------- the run


def timed(fn, queries: np.ndarray) -> tuple[float, list]:  # noqa: ANN001
    fn(queries[0])  # warm
    start = time.perf_counter()
    results = [fn(q) for q in queries]
    return len(queries) / (time.perf_counter() - start), results


def run(args: argparse.Namespace) -> dict:
    base, queries = load(args.data)
    queries = queries[: args.queries]
    bucket = buckets(len(base))
    engine, sql = build_engines(base, bucket, args.workdir / "latentspace", args.ef)
    systems = {s: our_systems(engine, sql, s) for s in SELECTIVITIES}
    qps: dict[str, list[float]] = {}
    found: dict[str, list] = {}
    for _ in range(args.rounds):
        for selectivity, named in systems.items():
            for name, fn in named.items():
                rate, found[f"{selectivity}|{name}"] = timed(fn, queries)
                qps.setdefault(f"{selectivity}|{name}", []).append(rate)
        if args.chroma_python:
            for selectivity, row in chroma_round(args.chroma_python, args, args.workdir / "chroma").items():
                qps.setdefault(f"{float(selectivity)}|Chroma embedded", []).append(row["qps"])
                found[f"{float(selectivity)}|Chroma embedded"] = row["ids"]
    truth = {s: truth_for(base, queries, bucket, s) for s in SELECTIVITIES}
    table = {}
    for key, rates in qps.items():
        selectivity = float(key.split("|")[0])
        score = None if key.split("|")[1].startswith("filter only") else recall(found[key], truth[selectivity])
        table[key] = {"qps": statistics.median(rates), "rounds": rates, "recall@10": score}
    engine.close()
    sql.close()
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    default_data = os.environ.get("LATENTSPACE_BENCH_SENTENCES", "../shared/data/scifact-sentences-minilm")
    parser.add_argument("--data", type=Path, default=Path(default_data))
    parser.add_argument("--queries", type=int, default=200, help="query vectors per system and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ef", type=int, default=64)
    parser.add_argument("--workdir", type=Path, default=None, help="kept between runs: the ingest happens once")
    parser.add_argument("--chroma-python", default=None, help="an interpreter where chromadb is importable")
    parser.add_argument("--chroma-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sweep", action="store_true", help="only exact vs hnswlib filter by allowed share")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ls-filtered-"))
    if args.chroma_worker:
        chroma_worker(args)
        return
    if args.sweep:
        sweep(args)
        return
    table = run(args)
    print(f"\n{args.queries} queries, median of {args.rounds} interleaved rounds, k={K}, hnswlib ef {args.ef}\n")
    print(f"{'selectivity':<12}{'system':<34}{'QPS':>10}{'recall@10':>11}")
    for key, row in sorted(table.items(), key=lambda kv: float(kv[0].split("|")[0])):
        selectivity, name = key.split("|")
        r = "" if row["recall@10"] is None else f"{row['recall@10']:.3f}"
        print(f"{float(selectivity):<12.1%}{name:<34}{row['qps']:>10.1f}{r:>11}")
    if args.out:
        args.out.write_text(json.dumps(table, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
