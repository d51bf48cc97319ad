"""EASE's item-item inverse: float64 LU (``np.linalg.inv``, before) vs float32 Cholesky (latent/recsys/neighbours.py).

Synthetic interactions with Zipf item popularity; both inverses of the same regularised Gram matrix on one
thread, in turns, several rounds; prints the median seconds of each, their ratio and the largest difference
of the resulting EASE weights.

    python -m bench.ease --items 4000 --users 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from latent.recsys.neighbours import spd_inverse


def gram_matrix(users: int, items: int, interactions: int, seed: int, lam: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cols = rng.zipf(1.3, size=interactions) % items
    rows = rng.integers(0, users, interactions)
    matrix = sp.csr_matrix((np.ones(interactions, np.float32), (rows, cols)), shape=(users, items))
    matrix.data[:] = 1.0
    gram = (matrix.T @ matrix).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    return gram


def weights(inverse: np.ndarray) -> np.ndarray:
    out = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(out, 0.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--interactions", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lam", type=float, default=700.0)
    args = parser.parse_args()
    gram = gram_matrix(args.users, args.items, args.interactions, 0, args.lam)
    times: dict[str, list[float]] = {"lu_float64": [], "cholesky_float32": []}
    with threadpool_limits(1):
        for _ in range(args.rounds):
            started = time.perf_counter()
            lu = np.linalg.inv(gram)
            times["lu_float64"].append(time.perf_counter() - started)
            started = time.perf_counter()
            chol = spd_inverse(gram.astype(np.float32))
            times["cholesky_float32"].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    diff = float(np.abs(weights(lu) - weights(chol.astype(np.float64))).max())
    print(f"items {args.items}: " + ", ".join(f"{k} {v:.2f} s" for k, v in medians.items())
          + f"; speed-up {medians['lu_float64'] / medians['cholesky_float32']:.2f}x; max |weight diff| {diff:.1e}")


if __name__ == "__main__":
    main()
