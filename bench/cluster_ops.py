"""What bench/cluster.py measures besides search: a shard replica's recovery after SIGKILL, and ingest rates.

The ingest rates alone, on a database of their own (everything in it is replaced):

    python -m bench.cluster_ops --database-url postgresql+psycopg://... --docs 1500 [--replica-cpus 0.5]
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np


def kill_and_wait(search: Any, pool: Any, query: np.ndarray) -> float:
    """SIGKILL one replica of shard 1, then search until a full answer comes back; the seconds it took."""
    os.kill(pool.status()[1]["pid"], signal.SIGKILL)
    started = time.perf_counter()
    while True:
        try:
            search(query)
            return round(time.perf_counter() - started, 2)
        except Exception:
            time.sleep(0.2)


def ingest_rates(settings: Any, corpus: Path, limit: int) -> dict[str, float]:
    """Docs/s of SciFact abstracts: local ingest, then --ray with 1 and 2 embedding actors (fresh collections)."""
    from ingest.readers import TableOptions, read_path
    from services.cluster.ray_ingest import ingest_on_ray
    from services.engine import open_engine

    docs = list(read_path(corpus, TableOptions(text_fields=("title", "text"), id_field="_id")))[:limit]
    engine = open_engine(settings)
    engine.create_collection("warm")
    engine.embedder_for(engine.context.collection("warm"))  # the model loads before the clock starts
    rates = {}
    for name, run in (
        ("local", lambda c: engine.ingest(c, docs)),
        ("ray-1", lambda c: ingest_on_ray(engine.context, c, docs, workers=1)),
        ("ray-2", lambda c: ingest_on_ray(engine.context, c, docs, workers=2)),
    ):
        engine.create_collection(f"abstracts-{name}")
        started = time.perf_counter()
        run(f"abstracts-{name}")
        rates[name] = round(len(docs) / (time.perf_counter() - started), 2)
    engine.close()
    return rates


def fresh_schema(database_url: str) -> None:
    """Empty a benchmark database of its own: everything in it is replaced."""
    from sqlalchemy import create_engine, text

    db = create_engine(database_url)
    with db.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


def main() -> None:
    import argparse
    import json
    import tempfile

    from core.settings import Settings
    from services.cluster.raylink import connect

    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("LATENTSPACE_DATABASE_URL"))
    parser.add_argument("--corpus", type=Path, default=Path("../shared/data/beir-scifact/corpus.jsonl"))
    parser.add_argument("--docs", type=int, default=1500)
    parser.add_argument("--replica-cpus", type=float, default=None, help="LATENTSPACE_CLUSTER_REPLICA_CPUS")
    args = parser.parse_args()
    fresh_schema(args.database_url)
    chosen = {"cluster_replica_cpus": args.replica_cpus} if args.replica_cpus else {}
    data_dir = Path(tempfile.mkdtemp(prefix="bench-cluster-ops-"))
    settings = Settings(data_dir=data_dir, database_url=args.database_url, **chosen, _env_file=None)
    connect("local", num_cpus=os.cpu_count())
    rates = ingest_rates(settings, args.corpus, args.docs)
    print(json.dumps({"docs": args.docs, "cluster_replica_cpus": settings.cluster_replica_cpus, **rates}))


if __name__ == "__main__":
    main()
