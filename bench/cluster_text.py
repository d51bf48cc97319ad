"""``bench.cluster --mode hybrid|lexical``: text queries over the sentences, and the "dense-rides-only" ingress.

Kept apart from bench/cluster.py (which drives every mode) so that each module stays short.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def text_workload(data: Path, count: int, mode: str, search: Callable) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(mode, text) for the first ``count`` query texts and, as the truth to compare with, ``search``'s top 10
    for each (the single process's answer; asking it also puts every query's embedding in the query cache)."""
    texts = (data / "queries.txt").read_text(encoding="utf-8").splitlines()[:count]
    queries = [(mode, text) for text in texts]
    truth = np.full((len(queries), 10), -1, dtype=np.int64)
    for row, query in enumerate(queries):
        found = search(query)
        truth[row, : len(found)] = found
    return queries, truth


def dense_rides_only(engine: Any) -> Any:
    """``engine`` (a ClusterEngine) with only its dense searches sharing fan-outs, its BM25 rounds each alone:
    how the ingress coalesced before hybrid and lexical searches rode too."""
    from services.cluster.coalesce import SEARCH, CoalescingPool

    coalescing = engine.fanout.pool
    engine.fanout.pool = CoalescingPool(coalescing.pool, coalescing.inflight, rides={"search": SEARCH})
    return engine
