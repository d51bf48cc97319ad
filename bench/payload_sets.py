"""Set operations the payload index needs: numpy sorted int64 arrays vs pyroaring bitmaps, on 44,484 ids.

    python bench/payload_sets.py     # in an interpreter where numpy and pyroaring are importable

pyroaring is not a dependency of latentspace: this decided it would not pay (docs/BENCHMARKS.md). 1,000 values
uniform over the ids, like bench/filtered.py's "bucket"; medians of 3 runs, microseconds per operation.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from pyroaring import BitMap

N = 44484


def timed(fn, reps: int = 50) -> float:  # noqa: ANN001
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        runs.append((time.perf_counter() - start) / reps * 1e6)
    return statistics.median(runs)


def in_sorted(values: np.ndarray, ref: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(ref, values), len(ref) - 1)
    return ref[pos] == values


def main() -> None:
    bucket = np.random.default_rng(17).integers(0, 1000, N)
    ids = np.arange(1, N + 1, dtype=np.int64)
    post = {b: ids[bucket == b] for b in range(1000)}
    bits = {b: BitMap(post[b].tolist()) for b in range(1000)}
    universe = BitMap(ids.tolist())
    half = np.sort(np.concatenate([post[b] for b in range(500)]))
    one = np.sort(np.concatenate([post[b] for b in range(10)]))
    half_bits, one_bits = BitMap(half.tolist()), BitMap(one.tolist())

    def out(bitmap: BitMap) -> np.ndarray:
        return np.frombuffer(bitmap.to_array(), dtype=np.uint32).astype(np.int64)

    def complement() -> np.ndarray:
        keep = np.ones(N, dtype=bool)
        keep[np.searchsorted(ids, one)] = False
        return ids[keep]

    cases = {
        "$in 10 values (1%), np.unique": (lambda: np.unique(np.concatenate([post[b] for b in range(10)])), None),
        "$in 10 values (1%)": (lambda: np.sort(np.concatenate([post[b] for b in range(10)])),
                               lambda: out(BitMap.union(*[bits[b] for b in range(10)]))),
        "$in 500 values (50%)": (lambda: np.sort(np.concatenate([post[b] for b in range(500)])),
                                 lambda: out(BitMap.union(*[bits[b] for b in range(500)]))),
        "AND 50% with 1%, intersect1d": (lambda: np.intersect1d(half, one, assume_unique=True), None),
        "AND 50% with 1%": (lambda: one[in_sorted(one, half)], lambda: out(half_bits & one_bits)),
        "$nin 1% (complement)": (complement, lambda: out(universe - one_bits)),
    }
    for name, (numpy_way, roaring_way) in cases.items():
        ours = timed(numpy_way)
        theirs = "" if roaring_way is None else f"{timed(roaring_way):10.0f}"
        print(f"{name:<32} numpy {ours:10.0f} us   pyroaring {theirs:>10} us")


if __name__ == "__main__":
    main()
