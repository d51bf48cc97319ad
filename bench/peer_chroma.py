"""The Chroma agent of bench/peers.py (embedded ``PersistentClient``); runs in the peers' interpreter.

    python bench/peer_chroma.py DATA PATH QUERIES FILTER_QUERIES [--ef 64]

Loads the sentences with their vectors, texts and ``{"bucket": row % 100}`` into a persistent collection
at PATH (inner product, M=16, efC=200, ef as given), in the client's maximum batches, then times
``collection.query`` (documents, metadatas and distances included, as a hydrated search returns them),
unfiltered and with the 1% ``where`` filter. The orchestrator copies PATH for ``chroma run`` afterwards.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import peer_common as pc


def create(client, ef: int):  # noqa: ANN001, ANN201
    hnsw = {"space": "ip", "ef_construction": 200, "ef_search": ef, "max_neighbors": 16}
    try:
        return client.create_collection("bench", configuration={"hnsw": hnsw})
    except (TypeError, ValueError):  # older clients: the legacy metadata keys
        meta = {"hnsw:space": "ip", "hnsw:construction_ef": 200, "hnsw:search_ef": ef, "hnsw:M": 16}
        return client.create_collection("bench", metadata=meta)


def main() -> None:
    pc.claim_stdout()
    import chromadb

    data, path, count, filter_count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    ef = int(sys.argv[sys.argv.index("--ef") + 1]) if "--ef" in sys.argv else 64
    texts, base, queries = pc.load_data(data)
    client = chromadb.PersistentClient(path=str(path))
    collection = create(client, ef)
    batch = client.get_max_batch_size()
    started = time.perf_counter()
    for lo in range(0, len(base), batch):
        rows = range(lo, min(lo + batch, len(base)))
        collection.add(
            ids=[str(i) for i in rows],
            embeddings=base[lo : rows.stop],
            documents=[texts[i] for i in rows],
            metadatas=[{pc.FILTER_FIELD: pc.bucket_of(i)} for i in rows],
        )
    rate = len(base) / (time.perf_counter() - started)
    include = ["documents", "metadatas", "distances"]

    def search(i: int, where: dict | None = None) -> list[int]:
        found = collection.query(query_embeddings=queries[i : i + 1], n_results=pc.K, where=where, include=include)
        return [int(x) for x in found["ids"][0]]

    pc.pin(0)
    searches = {"engine": search, "engine_filtered": lambda i: search(i, {pc.FILTER_FIELD: pc.FILTER_VALUE})}
    info = {"load_vps": rate, "rss_mb": pc.rss_mb(), "version": chromadb.__version__, "count": collection.count()}
    pc.serve_agent(info, searches, {"engine": count, "engine_filtered": filter_count})


if __name__ == "__main__":
    main()
