"""A synthetic interaction matrix with a known block structure.

Users 0..29 like items 0..9, users 30..59 like items 10..19, users 60..89 like items 20..29 (each user
sees 6 of their block's 10 items). The right recommendations are certain: the unseen items of the
user's own block.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from latent.recsys.matrix import build_matrix

N_BLOCKS, USERS_PER_BLOCK, ITEMS_PER_BLOCK, SEEN = 3, 30, 10, 6


def block_of_user(user: int) -> int:
    return user // USERS_PER_BLOCK


def block_items(block: int) -> set[int]:
    return set(range(block * ITEMS_PER_BLOCK, (block + 1) * ITEMS_PER_BLOCK))


def block_matrix(seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(N_BLOCKS * USERS_PER_BLOCK):
        block = block_of_user(user)
        chosen = rng.choice(ITEMS_PER_BLOCK, size=SEEN, replace=False) + block * ITEMS_PER_BLOCK
        users += [user] * SEEN
        items += chosen.tolist()
    shape = (N_BLOCKS * USERS_PER_BLOCK, N_BLOCKS * ITEMS_PER_BLOCK)
    return build_matrix(np.array(users), np.array(items), np.ones(len(users)), shape)


def block_timestamps(matrix: sp.csr_matrix, seed: int = 1) -> sp.csr_matrix:
    """Unix seconds with the pattern of ``matrix``: each user's items one minute apart, in random order."""
    rng = np.random.default_rng(seed)
    times = matrix.copy().astype(np.float64)
    for user in range(matrix.shape[0]):
        start, end = times.indptr[user], times.indptr[user + 1]
        times.data[start:end] = 1.7e9 + 86_400.0 * user + 60.0 * rng.permutation(end - start)
    return times
