"""EASE at catalogue scale: low-rank EASE (``ease_lr``) on a synthetic 50k-item catalogue, and its quality
against dense EASE on a 10k-item subset of the same kind of data.

The catalogue: users belong to one of ``--blocks`` taste groups; each interaction picks, with probability
0.8, an item of the user's group and otherwise any item, by Zipf (power-law) popularity within the pool.
Per-user random 75/25 split, seed 42, top-10, training items excluded (the protocol of ``eval recsys``).
NDCG@10 over ``--eval-users`` sampled test users. Prints train seconds, peak memory of the process
(ru_maxrss) and NDCG@10.

    OPENBLAS_NUM_THREADS=1 python -m bench.ease_scale --items 10000 --compare-dense
    OPENBLAS_NUM_THREADS=1 python -m bench.ease_scale --items 50000
"""

from __future__ import annotations

import argparse
import json
import resource

import numpy as np
import scipy.sparse as sp

from latent.recsys.evaluate import fit_and_evaluate
from latent.recsys.matrix import split_per_user


def catalogue(users: int, items: int, blocks: int, per_user: int, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    block_size = items // blocks
    group = rng.integers(0, blocks, users)
    rows = np.repeat(np.arange(users), per_user)
    own = rng.random(users * per_user) < 0.8
    rank_in_block = (rng.zipf(1.2, users * per_user) - 1) % block_size
    rank_global = (rng.zipf(1.2, users * per_user) - 1) % items
    cols = np.where(own, group[rows] * block_size + rank_in_block, rank_global)
    matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(users, items))
    matrix.data[:] = 1.0
    return matrix


def sample_users(test: sp.csr_matrix, count: int) -> sp.csr_matrix:
    """Keep the held-out items of ``count`` random users (seeded) so scoring a large catalogue stays short."""
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    if count <= 0 or count >= len(users):
        return test
    keep = np.zeros(test.shape[0], dtype=bool)
    keep[np.random.default_rng(7).choice(users, count, replace=False)] = True
    sampled = test.tocsr(copy=True)
    sampled.data[~keep[np.repeat(np.arange(test.shape[0]), np.diff(test.indptr))]] = 0.0
    sampled.eliminate_zeros()
    return sampled


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(name: str, params: dict, split) -> dict:  # noqa: ANN001
    _, metrics = fit_and_evaluate(name, params, split.train, split.test, 10)
    return {"model": name, "params": params, "train_seconds": metrics["train_seconds"],
            "ndcg@10": round(metrics["ndcg@10"], 4), "peak_rss_mb": round(peak_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=0, help="default: 2 users per item")
    parser.add_argument("--blocks", type=int, default=50)
    parser.add_argument("--per-user", type=int, default=40)
    parser.add_argument("--rank", type=int, default=512)
    parser.add_argument("--lam", type=float, default=700.0)
    parser.add_argument("--eval-users", type=int, default=5000, help="users scored (0: all)")
    parser.add_argument("--compare-dense", action="store_true", help="also train dense EASE (needs items^2 floats)")
    args = parser.parse_args()
    matrix = catalogue(args.users or 2 * args.items, args.items, args.blocks, args.per_user, seed=0)
    split = split_per_user(matrix, 0.25, 42)
    split.test = sample_users(split.test, args.eval_users)
    print(json.dumps({"users": matrix.shape[0], "items": matrix.shape[1], "interactions": int(matrix.nnz)}))
    print(json.dumps(run("ease_lr", {"lambda": args.lam, "rank": args.rank}, split)), flush=True)
    if args.compare_dense:
        print(json.dumps(run("ease", {"lambda": args.lam, "max_items": args.items}, split)), flush=True)


if __name__ == "__main__":
    main()
