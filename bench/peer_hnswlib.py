"""The raw hnswlib agent of bench/peers.py: the library alone, the baseline every row is read against.

    python bench/peer_hnswlib.py DATA QUERIES FILTER_QUERIES [--ef 64]

Inner product, M=16, efC=200, labels = row numbers; one thread for search; the 1% filter through
hnswlib's own ``filter`` callable (a set's ``__contains__``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import peer_common as pc


def main() -> None:
    pc.claim_stdout()
    import hnswlib

    data, count, filter_count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    ef = int(sys.argv[sys.argv.index("--ef") + 1]) if "--ef" in sys.argv else 64
    _, base, queries = pc.load_data(data)
    started = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=len(base), M=16, ef_construction=200, random_seed=100)
    index.add_items(base, np.arange(len(base)), num_threads=1)
    rate = len(base) / (time.perf_counter() - started)
    index.set_ef(ef)
    index.set_num_threads(1)
    allowed = set(pc.filtered_rows(len(base)).tolist())

    def search(i: int) -> list[int]:
        return index.knn_query(queries[i], k=pc.K)[0][0].tolist()

    def filtered(i: int) -> list[int]:
        return index.knn_query(queries[i], k=pc.K, filter=allowed.__contains__)[0][0].tolist()

    pc.pin(0)
    counts = {"index": count, "engine_filtered": filter_count}
    pc.serve_agent({"load_vps": rate, "rss_mb": pc.rss_mb()}, {"index": search, "engine_filtered": filtered}, counts)


if __name__ == "__main__":
    main()
