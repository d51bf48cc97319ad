"""The latentspace agent of bench/peers.py: loads the data set into a data dir, then times in-process searches.

    PYTHONPATH=<repo> python -m bench.peer_latentspace DATA DATA_DIR QUERIES FILTER_QUERIES [--ef 64]

Runs in the project's interpreter. Loading is ``Engine.ingest`` with the precomputed vectors (no model call
for the vectors; the chunker still tokenises the text), into an hnswlib index with M=16, efC=200 and the
given ef, metadata ``{"bucket": row % 100}``. Searches: the VectorIndex alone, ``Engine.search`` hydrated
(text, document id, metadata; rows from the hit cache) and ``Engine.search`` with the 1% filter. The data
dir is kept for the HTTP server the orchestrator starts on it afterwards.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from bench import peer_common as pc


def build(data: Path, data_dir: Path, ef: int):  # noqa: ANN201
    from core.settings import Settings
    from ingest.readers import SourceDocument
    from services.engine import Engine
    from store.migrate import upgrade

    texts, base, queries = pc.load_data(data)
    settings = Settings(data_dir=data_dir, _env_file=None, ingest_batch_docs=2000)
    upgrade(settings.resolved_database_url())
    engine = Engine(settings)
    params = {"M": 16, "ef_construction": 200, "ef_search": ef}
    engine.create_collection("bench", index_kind="hnswlib", index_params=params)
    docs = [SourceDocument(str(i), t, None, {pc.FILTER_FIELD: pc.bucket_of(i)}) for i, t in enumerate(texts)]
    started = time.perf_counter()
    engine.ingest("bench", docs, vectors={str(i): v for i, v in enumerate(base)})
    rate = len(docs) / (time.perf_counter() - started)
    return engine, queries, rate


def searches(engine, queries):  # noqa: ANN001, ANN201
    from sqlalchemy import select

    from services.search.types import SearchRequest
    from store.models import Chunk, Document

    collection = engine.context.collection("bench")
    index = engine.context.vectors.get(collection)
    with engine.sessions() as session:
        rows = dict(session.execute(select(Chunk.id, Document.external_id).join(Document)).all())
    lists = [q.tolist() for q in queries]  # what a client sends: a list of floats
    where = {pc.FILTER_FIELD: pc.FILTER_VALUE}
    wanted = {str(r) for r in pc.filtered_rows(len(index)).tolist()}
    allowed = np.array(sorted(label for label, ext in rows.items() if ext in wanted), dtype=np.int64)

    def by_index_filtered(i: int) -> list[int]:
        labels = index.search(queries[i][None, :], pc.K, allowed_ids=allowed)[0][0]
        return [int(rows[int(label)]) for label in labels if label >= 0]

    def by_index(i: int) -> list[int]:
        return [int(rows[int(label)]) for label in index.search(queries[i][None, :], pc.K)[0][0] if label >= 0]

    def by_engine(i: int, spec: dict | None = None) -> list[int]:
        result = engine.search("bench", SearchRequest(vector=lists[i], k=pc.K, filter=spec))
        return [int(hit.id) for hit in result.hits]

    return {
        "index": by_index,
        "index_filtered": by_index_filtered,
        "engine": by_engine,
        "engine_filtered": lambda i: by_engine(i, where),
    }


def main() -> None:
    pc.claim_stdout()
    data, data_dir, count, filter_count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    ef = int(sys.argv[sys.argv.index("--ef") + 1]) if "--ef" in sys.argv else 64
    engine, queries, rate = build(data, data_dir, ef)
    pc.pin(0)
    counts = {"index": count, "index_filtered": filter_count, "engine": count, "engine_filtered": filter_count}
    pc.serve_agent({"load_vps": rate, "rss_mb": pc.rss_mb()}, searches(engine, queries), counts)


if __name__ == "__main__":
    main()
