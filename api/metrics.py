"""Prometheus metrics: requests and latency by route template, search/ingest counters, index sizes.

Each app owns its own registry (several apps in one process, as in tests, never collide). Routes are
labelled by their template (``/v1/collections/{name}/search``), never the raw path, so label
cardinality stays bounded; unmatched paths share the label ``unmatched``. The method and status labels
are bounded the same way: a client may send any token as an HTTP method (3,000 made-up ones grew the
page to 5.4 MB), so methods outside :data:`KNOWN_METHODS` share the label ``other``, as do statuses
outside 100-599.

With several workers (``latentspace serve --workers N``, cli/workers.py) prometheus_client runs in multiprocess
mode: each worker's counters and histograms live in its own file in a directory private to the server run, and
``/metrics`` on any worker sums them (``MultiProcessCollector``), so a scrape shows the whole server. The
query-vector cache counts live in the embedders of each worker; there each worker adds its new hits and misses
to counters after every successful search and before a scrape. The index sizes are the answering worker's.
One process (no workers) keeps a registry of its own, as before.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import Scope

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"


class ChunkDelta(Protocol):
    """What the metrics count of a committed write (the Engine passes its IndexDelta, which has both).

    Typed structurally so the API layer imports neither the store's models nor the ingest pipeline.
    """

    added_ids: Sequence[int]
    removed_ids: Sequence[int]


def shared_between_processes() -> bool:
    """Whether metrics live in ``PROMETHEUS_MULTIPROC_DIR`` files (the variable was set before the import)."""
    return bool(getattr(values.ValueClass, "_multiprocess", False) and os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class QueryCacheCounters:
    """Multiprocess mode: this worker's query-vector cache hits and misses, added to counters as they grow."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.hits = Counter("latentspace_query_cache_hits", "Query texts embedded from the cache", registry=registry)
        self.misses = Counter("latentspace_query_cache_misses", "Query texts the model embedded", registry=registry)
        self.counts: Callable[[], tuple[int, int]] | None = None  # the engine's, once the app has one
        self._seen = (0, 0)
        self._lock = threading.Lock()

    def sync(self) -> None:
        if self.counts is None:
            return
        hits, misses = self.counts()
        with self._lock:
            seen, self._seen = self._seen, (hits, misses)
        if hits > seen[0]:
            self.hits.inc(hits - seen[0])
        if misses > seen[1]:
            self.misses.inc(misses - seen[1])


class AppMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = shared_between_processes()
        self.query_cache = QueryCacheCounters(self.registry) if self.multiprocess else None
        self.requests = Counter(
            "latentspace_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "latentspace_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.searches = Counter("latentspace_searches", "Successful search requests", registry=self.registry)
        self.chunks_added = Counter("latentspace_ingested_chunks", "Chunks indexed", registry=self.registry)
        self.chunks_removed = Counter("latentspace_removed_chunks", "Chunks removed", registry=self.registry)
        # (method, route, status) -> its request counter, latency histogram and whether it is a search;
        # labels() takes a lock and re-validates the labels on every call. Bounded as the labels are.
        self._children: dict[tuple[str, str, str], tuple[Any, Any, bool]] = {}
        self.scrape_time: list[Collector] = []  # read at scrape time from this process (index sizes)

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one answered request (api/edge.py calls it for every HTTP request, refusals included)."""
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        key = (method_label(scope.get("method", "")), route, status_label(status))
        children = self._children.get(key)
        if children is None:
            search = status == 200 and route.endswith("/search")
            children = (self.requests.labels(*key), self.latency.labels(key[0], route), search)
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if children[2]:
            self.searches.inc()
            if self.query_cache is not None:
                self.query_cache.sync()

    def exposition(self) -> bytes:
        """The text ``/metrics`` serves: this registry, or with workers every worker's counters summed."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        if self.query_cache is not None:
            self.query_cache.sync()
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        for collector in self.scrape_time:
            registry.register(collector)
        return generate_latest(registry)


class IndexSizeCollector(Collector):
    """Reads the loaded indexes' sizes at scrape time."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("latentspace_index_vectors", "Vectors in each loaded index", labels=["collection_id"])
        engine = getattr(self._app.state, "engine", None)
        if engine is not None:
            for collection_id, size in engine.loaded_index_sizes().items():
                gauge.add_metric([str(collection_id)], size)
        yield gauge


class MetricsListener:
    """A WriteListener that counts committed chunk changes; metrics keep no files, so the rest is no-op.

    The collection arguments are the Engine's collection rows; the counters never look at them.
    """

    name = "metrics"

    def __init__(self, metrics: AppMetrics) -> None:
        self._metrics = metrics

    def apply(self, collection: object, delta: ChunkDelta) -> None:
        self._metrics.chunks_added.inc(len(delta.added_ids))
        self._metrics.chunks_removed.inc(len(delta.removed_ids))

    def save(self, collection: object) -> None:
        return None  # counters live in memory only

    def rebuild(self, collection: object) -> None:
        return None  # a rebuild changes no document

    def drop(self, collection_id: int) -> None:
        return None  # counters are not per collection


def install_metrics(app: FastAPI) -> AppMetrics:
    """The app's metrics (recorded by api/edge.py) and ``GET /metrics``; call once in create_app."""
    metrics = AppMetrics()
    metrics.scrape_time.append(IndexSizeCollector(app))
    metrics.registry.register(metrics.scrape_time[0])
    if not metrics.multiprocess:
        metrics.registry.register(QueryCacheCollector(app))
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def attach_engine(app: FastAPI) -> None:
    """Count the engine's writes; call in the lifespan once ``app.state.engine`` exists."""
    metrics: AppMetrics = app.state.metrics
    engine = app.state.engine
    if not any(isinstance(listener, MetricsListener) for listener in engine.listeners):
        engine.add_listener(MetricsListener(metrics))
    if metrics.query_cache is not None:
        metrics.query_cache.counts = engine.query_cache_counts


class QueryCacheCollector(Collector):
    """Hits and misses of the query-vector caches (ingest/embedder_base.py), read at scrape time."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[CounterMetricFamily]:
        engine = getattr(self._app.state, "engine", None)
        hits, misses = engine.query_cache_counts() if engine is not None else (0, 0)
        yield CounterMetricFamily("latentspace_query_cache_hits", "Query texts embedded from the cache", value=hits)
        yield CounterMetricFamily("latentspace_query_cache_misses", "Query texts the model embedded", value=misses)
