"""``latentspace topics|map|compress ...`` and ``latentspace eval topics``: fit and inspect latent views."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from cli.common import console, fail, open_engine, run

topics_app = typer.Typer(help="Topic models of a collection (LDA, embedding clusters).", no_args_is_help=True)
map_app = typer.Typer(help="2-D maps of a collection (PCA, UMAP).", no_args_is_help=True)
compress_app = typer.Typer(help="Latent compression (PCA, autoencoder) and outliers.", no_args_is_help=True)
CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="collection name")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add ``topics``, ``map`` and ``compress`` to the ``latentspace`` app and ``eval topics`` to ``eval_app``."""
    app.add_typer(topics_app, name="topics")
    app.add_typer(map_app, name="map")
    app.add_typer(compress_app, name="compress")
    eval_app.command("topics")(eval_topics)


@topics_app.command("fit")
def topics_fit(
    collection: CollectionOpt,
    method: Annotated[str, typer.Option(help="lda | cluster")] = "cluster",
    topics: Annotated[int, typer.Option("--topics", "-n", help="number of topics (k-means k, LDA topics)")] = 10,
    algorithm: Annotated[str, typer.Option(help="cluster method: kmeans | hdbscan")] = "kmeans",
    outlier_fraction: Annotated[float, typer.Option(help="k-means: share of documents put in topic -1")] = 0.05,
    min_cluster_size: Annotated[int, typer.Option(help="HDBSCAN minimum cluster size")] = 10,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Fit a topic model on every document and make it the collection's active one."""
    from services.topics import TopicParams

    engine = open_engine()
    params = TopicParams(method, topics, seed, algorithm, outlier_fraction, min_cluster_size)
    summary = run(lambda: engine.topics.fit(collection, params))
    console.print(f"fitted {method} topics on {collection}: {json.dumps(summary['stats'])}")
    _print_topics(run(lambda: engine.topics.list(collection))["topics"])


@topics_app.command("list")
def topics_list(collection: CollectionOpt) -> None:
    """Show the active topic model's topics."""
    _print_topics(run(lambda: open_engine().topics.list(collection))["topics"])


def _print_topics(topics: list[dict]) -> None:
    table = Table("topic", "size", "terms")
    for topic in topics:
        terms = ", ".join(t["term"] for t in topic["terms"][:8]) or "(outliers)"
        table.add_row(str(topic["id"]), str(topic["size"]), terms)
    console.print(table)


@map_app.command("fit")
def map_fit(
    collection: CollectionOpt,
    method: Annotated[str, typer.Option(help="pca (fast) | umap")] = "pca",
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Project every document to 2-D and store the positions (new documents follow by the fitted transform)."""
    engine = open_engine()
    summary = run(lambda: engine.maps.fit(collection, method, seed))
    console.print(f"fitted {method} map of {collection}: {summary['documents']} documents")


@compress_app.command("fit")
def compress_fit(
    collection: CollectionOpt,
    method: Annotated[str, typer.Option(help="pca | autoencoder")] = "pca",
    dim: Annotated[int, typer.Option(help="compressed dimension d'")] = 32,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Fit a compressor on the document vectors; it scores outliers (GET .../outliers)."""
    summary = run(lambda: open_engine().compression.fit(collection, method, dim, seed))
    console.print(f"fitted {method} d'={dim} on {summary['documents']} documents; "
                  f"mean reconstruction error {summary['mean_error']:.4f}")


@compress_app.command("outliers")
def compress_outliers(collection: CollectionOpt, k: Annotated[int, typer.Option("-k")] = 10) -> None:
    """Documents with the largest reconstruction error."""
    result = run(lambda: open_engine().compression.outliers(collection, k))
    table = Table("score", "id", "text")
    for item in result["items"]:
        table.add_row(f"{item['score']:.4f}", item["id"], item["snippet"][:100])
    console.print(table)


@compress_app.command("evaluate")
def compress_evaluate(
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="use this collection's chunks")] = None,
    vectors: Annotated[Path | None, typer.Option(help=".npy of base vectors instead of a collection")] = None,
    queries: Annotated[Path | None, typer.Option(help=".npy of query vectors; default: held-out base")] = None,
    dims: Annotated[str, typer.Option(help="comma-separated d' values")] = "16,32,48,96",
    holdout: Annotated[int, typer.Option(help="base vectors held out as queries when no --queries")] = 500,
    k: Annotated[int, typer.Option("-k")] = 10,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Recall@k of compressed search vs exact full vectors, next to FAISS PQ / SQ8 at equal memory."""
    from latent.compression_eval import best_learned, compression_table

    base = _base_vectors(collection, vectors)
    try:
        dim_list = [int(d) for d in dims.split(",") if d.strip()]
    except ValueError:
        raise fail(f"--dims must be integers separated by commas, got {dims!r}") from None
    base, query = _split_queries(base, queries, holdout, seed)
    rows = run(lambda: compression_table(base, query, dim_list, k, seed))
    table = Table("method", "d'", "bytes/vector", f"recall@{k}")
    for row in rows:
        table.add_row(row.method, str(row.dim or ""), str(row.bytes_per_vector), f"{row.recall:.4f}")
    console.print(table)
    winner = best_learned(rows)
    console.print(f"best learned compression that beats FAISS at equal memory: {asdict(winner) if winner else 'none'}")


def _base_vectors(collection: str | None, vectors: Path | None) -> np.ndarray:
    if (collection is None) == (vectors is None):
        raise fail("give exactly one of --collection or --vectors")
    if vectors is not None:
        if not vectors.is_file():
            raise fail(f"no such file: {vectors}")
        return _unit(np.load(vectors, allow_pickle=False))
    base = run(lambda: open_engine().compression.chunk_vectors(collection))
    if not len(base):
        raise fail(f"collection {collection!r} has no vectors")
    return _unit(base)


def _split_queries(base: np.ndarray, queries: Path | None, holdout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if queries is not None:
        if not queries.is_file():
            raise fail(f"no such file: {queries}")
        query = _unit(np.load(queries, allow_pickle=False))
        if query.shape[1] != base.shape[1]:
            raise fail(f"queries have {query.shape[1]} dims, base vectors {base.shape[1]}")
        return base, query
    if not 0 < holdout < len(base) // 2:
        raise fail(f"--holdout must be between 1 and {len(base) // 2 - 1}")
    order = np.random.default_rng(seed).permutation(len(base))
    return base[order[holdout:]], base[order[:holdout]]


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2:
        raise fail("vectors must be a 2-D array")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def eval_topics(
    collection: CollectionOpt,
    topics: Annotated[int, typer.Option("--topics", "-n", help="topics per method")] = 20,
    algorithm: Annotated[str, typer.Option(help="cluster method: kmeans | hdbscan")] = "kmeans",
    seed: Annotated[int, typer.Option()] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """NPMI coherence and topic diversity of LDA and cluster topics, fitted in memory on the collection."""
    from eval.topics import evaluate_collection
    from services.topics import TopicParams

    params = [TopicParams("lda", topics, seed), TopicParams("cluster", topics, seed, algorithm)]
    results = run(lambda: evaluate_collection(open_engine().context, collection, params))
    if as_json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return
    table = Table("method", "topics", "NPMI", "diversity", "outliers", "first topics")
    for r in results:
        sample = " | ".join(", ".join(words) for words in r.top_terms[:3])
        table.add_row(r.method, str(r.topics), f"{r.npmi:.4f}", f"{r.diversity:.3f}", str(r.outliers), sample)
    console.print(table)
