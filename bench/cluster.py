"""Scale-out benchmark (issue 13): sharded + replicated search on Ray Serve against the single process, in one run.

    python -m bench.cluster --database-url postgresql+psycopg://... [--limit N] [--rounds 3] [--ingest-docs 1000]
        [--abstracts N] [--mode dense|hybrid|lexical] [--inflight 1 2] [--window 0 2] [--http]

Search: the 44,484 SciFact-sentence MiniLM vectors (../shared/data/scifact-sentences-minilm) go into one
hnswlib collection (M 16, ef_construction 200, ef_search 32); with ``--abstracts N`` the first N SciFact
abstracts (../shared/data/beir-scifact, title + text, ``truncate`` chunking: one vector each, embedded by
the default model) into a second one, searched with the embedded SciFact queries. Systems, all queried
in-process through ``Engine.search`` (dense, by vector, k=10; the HTTP layer is the same for all and left out): the
single-process Engine (hit cache on, as served; and off, for reference), and
ClusterEngines over S = 1, 2, 4 shards (R replicas each, one phase per R) on a local Ray. Every round
runs each system at 1, 4 and 16 concurrent clients (threads) in turn; the report gives the median over
rounds of QPS and of p50/p99 latency, and recall@10 against exact search. Then: seconds from SIGKILL of a
shard replica (S=2, R=1) to the first full answer, RSS per replica, and ingest docs/s of SciFact abstracts
(../shared/data/beir-scifact) locally and with ``--ray`` on 1 and 2 embedding actors.

With ``--mode hybrid`` the sentences are searched hybrid instead, by the query texts (queries.txt, embedded
once by the default model: the query cache then answers; BM25 with global statistics; RRF; k=10), or with
``--mode lexical`` by BM25 alone: recall@10 is then agreement with the single process's answer, and every
layout also runs as "dense-rides-only": the same shards behind a CoalescingPool on which only dense
searches share fan-outs (what main did before BM25 rounds rode too).

``--floor`` adds the same ingress over in-process shards and a 200-vector collection (bench/cluster_floor.py).
``--inflight`` and ``--window`` add ingresses over the same shards with more fan-outs in flight or a fan-out
window (``LATENTSPACE_CLUSTER_FANOUT_WINDOW_MS``); ``--http`` then also measures both over HTTP, a real
``latentspace serve`` against ``latentspace serve --ray local`` (bench/cluster_http.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench.cluster_floor import floor_summary, floor_workload, in_process_engine
from bench.cluster_ops import fresh_schema, ingest_rates, kill_and_wait
from bench.cluster_text import dense_rides_only, text_workload

os.environ.setdefault("HF_HUB_OFFLINE", "1")
CLIENTS = (1, 4, 16)
HNSW = {"M": 16, "ef_construction": 200, "ef_search": 32}


def load(data: Path, limit: int | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(sentence texts, their unit vectors, the query vectors), the first ``limit`` sentences if given."""
    texts = (data / "sentences.txt").read_text(encoding="utf-8").splitlines()
    base = np.load(data / "sentences_minilm_f16.npy").astype(np.float32)
    queries = np.load(data / "queries_minilm_f16.npy").astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return (texts[:limit], base[:limit], queries) if limit else (texts, base, queries)


def build(settings: Any, texts: list[str], base: np.ndarray) -> tuple[Any, float]:
    from ingest.readers import SourceDocument
    from services.engine import open_engine

    engine = open_engine(settings)
    engine.create_collection("sentences", index_kind="hnswlib", index_params=HNSW)
    started = time.perf_counter()
    docs = [SourceDocument(str(i), t or ".", None, {}) for i, t in enumerate(texts)]
    engine.ingest("sentences", docs, vectors={str(i): base[i] for i in range(len(texts))})
    return engine, time.perf_counter() - started


def build_abstracts(engine: Any, corpus: Path, limit: int, count: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The first ``limit`` abstracts in an hnswlib collection; (query vectors, exact top-10 doc ids, seconds)."""
    from sqlalchemy import select

    from ingest.readers import TableOptions, read_path
    from store.models import Chunk, Document

    docs = list(read_path(corpus, TableOptions(text_fields=("title", "text"), id_field="_id")))[:limit]
    engine.create_collection("abstracts", index_kind="hnswlib", index_params=HNSW, chunking="truncate")
    started = time.perf_counter()
    engine.ingest("abstracts", docs)
    seconds = time.perf_counter() - started
    collection = engine.context.collection("abstracts")
    lines = (corpus.parent / "queries.jsonl").read_text(encoding="utf-8").splitlines()[:count]
    embedder = engine.embedder_for(collection)
    queries = np.vstack([embedder.embed_query(json.loads(line)["text"]) for line in lines]).astype(np.float32)
    with engine.sessions() as session:
        rows = session.execute(
            select(Document.external_id, Chunk.embedding).join(Chunk).where(Document.collection_id == collection.id)
        ).all()
    ids = np.asarray([int(external_id) for external_id, _ in rows])
    base = np.vstack([np.frombuffer(blob, dtype=np.float32) for _, blob in rows])
    return queries, ids[np.argsort(-(queries @ base.T), axis=1)[:, :10]], seconds


def searcher(engine: Any, collection: str) -> Any:
    """Search by a query vector (dense), or by a (mode, text) pair: hybrid (embedded, BM25, RRF) or lexical."""
    from services.search.types import SearchRequest

    def one(query: Any) -> list[int]:
        if isinstance(query, tuple):
            request = SearchRequest(query=query[1], k=10, mode=query[0], group_by_document=False)
        else:
            request = SearchRequest(vector=query.tolist(), k=10, mode="dense", group_by_document=False)
        return [int(h.id) for h in engine.search(collection, request).hits]

    return one


def measure(search: Any, queries: np.ndarray, clients: int) -> dict[str, Any]:
    """QPS and latency percentiles with ``clients`` threads sharing the queries."""
    latencies: list[float] = []
    found: list[list[int]] = [[] for _ in queries]

    def task(n: int) -> None:
        started = time.perf_counter()
        found[n] = search(queries[n])
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(task, range(len(queries))))
    wall = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {
        "qps": len(queries) / wall,
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "found": found,
    }


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)]))


def rounds(systems: dict[str, Any], queries: np.ndarray, truth: np.ndarray, count: int) -> dict[str, Any]:
    """Every system at every client count in turn, ``count`` times; medians per (system, clients)."""
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for search in systems.values():
        search(queries[0])  # warm: shards load, caches fill
    for _ in range(count):
        for clients in CLIENTS:
            for name, search in systems.items():
                runs.setdefault((name, clients), []).append(measure(search, queries, clients))
    table: dict[str, Any] = {}
    for (name, clients), results in runs.items():
        table.setdefault(name, {"recall@10": recall(results[0]["found"], truth)})[str(clients)] = {
            key: round(statistics.median(r[key] for r in results), 2) for key in ("qps", "p50", "p99")
        }
    return table


def cluster_phase(settings: Any, replicas: int, args: argparse.Namespace, data: tuple) -> dict[str, Any]:
    from services.cluster import deploy
    from services.cluster.ingress import ClusterEngine
    from store import changelog

    single, single_nocache, workloads = data
    engines = {"single": single, "single-nocache": single_nocache}
    pools = {}
    for shards in args.shards:
        with single.sessions.begin() as session:  # no reset entry: the other layouts keep serving them
            for collection in workloads:
                collection_id = single.context.collection(collection).id
                changelog.set_shard_layout(session, collection_id, shards, reset=False)
        pools[shards] = deploy.deploy_shards(settings, shards, replicas, name=f"bench-s{shards}-r{replicas}")
        names = [f"S={shards} R={replicas}"]
        engines[names[0]] = ClusterEngine(settings, pools[shards], single.embedders)
        if args.mode != "dense":  # the same shards, only dense searches riding (main before BM25 rounds rode)
            names.append(f"S={shards} R={replicas} dense-rides-only")
            engines[names[-1]] = dense_rides_only(ClusterEngine(settings, pools[shards], single.embedders))
        for inflight in args.inflight[1:]:  # the same shards behind an ingress with more fan-outs in flight
            more = settings.model_copy(update={"cluster_fanout_inflight": inflight})
            names.append(f"S={shards} R={replicas} inflight={inflight}")
            engines[names[-1]] = ClusterEngine(more, pools[shards], single.embedders)
        for window in (args.window or [])[1:]:  # the same shards behind an ingress whose fan-outs wait for riders
            more = settings.model_copy(update={"cluster_fanout_window_ms": window})
            names.append(f"S={shards} R={replicas} window={window:g}ms")
            engines[names[-1]] = ClusterEngine(more, pools[shards], single.embedders)
        if args.floor and shards == 2:  # the same ingress and shards without Ray Serve between them
            names.append("S=2 in-process")
            engines[names[-1]] = in_process_engine(settings, shards, single.embedders)
        for collection, (queries, _truth) in workloads.items():  # load before the next layout is recorded
            for name in names:
                searcher(engines[name], collection)(queries[0])
    table: dict[str, Any] = {}
    for collection, (queries, truth) in workloads.items():
        systems = {name: searcher(engine, collection) for name, engine in engines.items()}
        table[collection] = rounds(systems, queries, truth, args.rounds)
    if args.floor and 2 in pools:
        table["vs_single"] = floor_summary(table, 2, replicas)
    table["rss_mb"] = {f"S={s}": [r["rss_mb"] for r in pool.status()] for s, pool in pools.items()}
    if replicas == 1 and 2 in pools:
        search = searcher(engines["S=2 R=1"], "sentences")
        table["kill_to_full_answer_s"] = kill_and_wait(search, pools[2], next(iter(workloads.values()))[0][0])
    for shards in pools:
        deploy.undeploy(shards, name=f"bench-s{shards}-r{replicas}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data/scifact-sentences-minilm"))
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/beir-scifact/corpus.jsonl"))
    parser.add_argument("--database-url", default=os.environ.get("LATENTSPACE_DATABASE_URL"))
    parser.add_argument("--limit", type=int, default=None, help="first N sentence vectors (default: all)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ingest-docs", type=int, default=1000)
    parser.add_argument("--abstracts", type=int, default=0, help="also search the first N SciFact abstracts")
    parser.add_argument("--inflight", type=int, nargs="+", default=[1], help="fan-outs in flight (first: default)")
    parser.add_argument(
        "--window", type=float, nargs="+", default=None, help="fan-out windows, ms (first: the default)"
    )
    parser.add_argument("--mode", choices=("dense", "hybrid", "lexical"), default="dense", help="text: sentences")
    parser.add_argument("--floor", action="store_true", help="also: S=2 in-process, and over a tiny collection")
    parser.add_argument("--http", action="store_true", help="also: serve vs serve --ray over HTTP (S: the last)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.mode != "dense" and args.abstracts:
        parser.error(f"--mode {args.mode} searches the sentences only; leave out --abstracts")
    report = run(args)
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from core.settings import Settings
    from services.cluster.raylink import connect
    from services.engine import Engine

    fresh_schema(args.database_url)  # a benchmark database of its own: everything in it is replaced
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    settings = Settings(
        data_dir=tmp,
        database_url=args.database_url,
        cluster_replica_cpus=0.1,
        cluster_fanout_inflight=args.inflight[0],
        **({"cluster_fanout_window_ms": args.window[0]} if args.window else {}),  # else the setting's default
        _env_file=None,
    )
    texts, base, queries = load(args.data, args.limit)
    queries = queries[: args.queries]
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    single, seconds = build(settings, texts, base)
    report: dict[str, Any] = {"vectors": len(base), "queries": len(queries), "build_s": round(seconds, 1)}
    workloads = {"sentences": (queries, truth)}
    if args.mode != "dense":  # recall@10 then reads as agreement with the single process's answer
        workloads["sentences"] = text_workload(args.data, len(queries), args.mode, searcher(single, "sentences"))
    if args.abstracts:
        abstract_queries, abstract_truth, seconds = build_abstracts(single, args.corpus, args.abstracts, args.queries)
        workloads["abstracts"] = (abstract_queries, abstract_truth)
        report["abstracts"] = {"docs": args.abstracts, "queries": len(abstract_queries), "ingest_s": round(seconds, 1)}
    if args.floor:
        workloads["floor"] = floor_workload(single, base, queries, HNSW)
    nocache = Engine(settings.model_copy(update={"hit_cache_entries": 0}), single.embedders)
    connect("local", num_cpus=os.cpu_count())
    for replicas in args.replicas:
        report[f"R={replicas}"] = cluster_phase(settings, replicas, args, (single, nocache, workloads))
    if args.http:  # both servers as users meet them; one Ray at a time: the servers start their own
        import ray

        from bench.cluster_http import http_phase

        ray.shutdown()
        report["http"] = http_phase(settings, *workloads["sentences"], args.rounds, args.shards[-1])
    if args.ingest_docs:
        report["ingest_docs_per_s"] = ingest_rates(settings, args.corpus, args.ingest_docs)
    return report


if __name__ == "__main__":
    main()
