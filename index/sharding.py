"""Which shard a chunk lives on: ``stable_hash(chunk id) % shards``.

The hash is the splitmix64 finaliser over the id's 64 bits: the same on every machine, process and Python
version (unlike the built-in ``hash`` of strings, which is salted per process), and it spreads
consecutive ids (a batch of one ingest) evenly over the shards.
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def stable_hash(ids: np.ndarray | list[int]) -> np.ndarray:
    """splitmix64(id) for int64 ids (n,) -> uint64 (n,)."""
    z = np.asarray(ids, dtype=np.int64).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def shard_of(ids: np.ndarray | list[int], shards: int) -> np.ndarray:
    """The shard number (int64 (n,), in [0, shards)) of each chunk id."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    return (stable_hash(ids) % np.uint64(shards)).astype(np.int64)


def on_shard(ids: np.ndarray | list[int], shard: int, shards: int) -> np.ndarray:
    """The ids (int64) of ``ids`` that live on ``shard`` of ``shards``, in their given order."""
    arr = np.asarray(ids, dtype=np.int64)
    return arr[shard_of(arr, shards) == shard]
