"""The payload index: each chunk's document metadata, inverted per field and value, for filtered search.

A metadata filter used to be compiled to SQL over the JSON column for every query (store/filters.py); this
structure answers the same filter in memory. It holds, per chunk id (the vector index's label), its
document's metadata object, and per field:

* strings and booleans: value → sorted int64 chunk-id array (built lazily, cached until the field changes);
* numbers: one array of values (as float64, sorted) with the chunk ids beside them, for ranges and equality.

What it answers, and how :mod:`index.payload_query` keeps SQL's exact semantics, is documented there.
It is pure (no SQL): services/sync/payload.py keeps one per collection in step with the database.
Saved state is a directory (core/saveddir.py): ``chunks.npy`` (chunk ids), ``rows.npy`` (each chunk's
metadata row, -1 for a row SQL itself never matches) and ``metadata.json`` (the distinct metadata objects).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import IndexCorrupt
from core.saveddir import read_saved_dir, write_saved_dir

FORMAT = "latentspace-payload/1"
SAFE_INTEGER = 2**53  # integers up to this magnitude convert to float64 exactly
_EMPTY = np.zeros(0, dtype=np.int64)


def value_key(value: Any) -> tuple[str, Any] | None:
    """The posting key of one stored metadata value: ("s", str), ("b", bool), ("n", float), ("big", None) for an
    integer beyond float64's range, or None for a value no equality or range can match (null, list, object)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, int):
        # Both databases cast a stored number to float64 with correct rounding, exactly like float():
        # 2**53 + 1 is compared as 2**53 there too. Only a number beyond float64 cannot be compared.
        try:
            return ("n", float(value))
        except OverflowError:
            return ("big", None)
    if isinstance(value, float):
        return ("n", value)
    return None


@dataclass
class FieldColumn:
    """The query-ready arrays of one field, rebuilt from its postings after it changed."""

    equal: dict[tuple[str, Any], np.ndarray]  # posting key → sorted chunk ids
    numbers: np.ndarray  # float64, ascending
    number_ids: np.ndarray  # int64, the chunk of each entry of ``numbers``
    unsafe: bool  # some chunk holds an integer beyond float64's range: numeric conditions go to SQL


@dataclass
class _Postings:
    keys: dict[tuple[str, Any], set[int]] = field(default_factory=dict)
    column: FieldColumn | None = None


class PayloadIndex:
    """Chunk id → metadata, inverted per field; ``add(ids, payloads)`` / ``remove(ids)`` like every derived index.

    A payload is the chunk's document metadata (a dict), or None for a row SQL never matches (SQLite cannot
    parse its JSON). Thread-safe: mutations and queries take one lock; a query costs microseconds to a few
    milliseconds, so readers do not queue behind each other for long.
    """

    kind = "payload"

    def __init__(self) -> None:
        self._payloads: dict[int, dict[str, Any] | None] = {}
        self._fields: dict[str, _Postings] = {}
        self._universe: np.ndarray | None = None  # sorted ids of rows SQL can match
        self._sorted_ids: np.ndarray | None = None
        self.lock = threading.RLock()
        self.watermark: str | None = None  # the newest document change reflected (set by its keeper)

    def __len__(self) -> int:
        return len(self._payloads)

    def ids(self) -> np.ndarray:
        """Every chunk id held, int64, sorted."""
        with self.lock:
            if self._sorted_ids is None:
                self._sorted_ids = np.sort(np.fromiter(self._payloads, dtype=np.int64, count=len(self._payloads)))
            return self._sorted_ids

    def add(self, ids: Sequence[int], payloads: Sequence[dict[str, Any] | None]) -> None:
        """Add or replace chunks: ``payloads[i]`` is chunk ``ids[i]``'s document metadata (None: never matches)."""
        if len(ids) != len(payloads):
            raise ValueError(f"got {len(ids)} ids for {len(payloads)} payloads")
        with self.lock:
            self._drop([int(i) for i in ids if int(i) in self._payloads])
            fields = self._fields
            for chunk_id, payload in zip(ids, payloads, strict=True):
                chunk_id = int(chunk_id)
                self._payloads[chunk_id] = payload  # shared by a document's chunks; never mutated here
                for name, value in (payload or {}).items():
                    key = value_key(value)
                    if key is None:  # matches no equality or range: only the universe ($ne, $nin) has it
                        continue
                    postings = fields.get(name)
                    if postings is None:
                        postings = fields[name] = _Postings()
                    postings.column = None
                    members = postings.keys.get(key)
                    if members is None:
                        members = postings.keys[key] = set()
                    members.add(chunk_id)
            self._universe = self._sorted_ids = None

    def remove(self, ids: Sequence[int]) -> None:
        """Forget chunks; unknown ids are ignored."""
        with self.lock:
            self._drop([int(i) for i in ids if int(i) in self._payloads])

    def _drop(self, ids: list[int]) -> None:
        for chunk_id in ids:
            payload = self._payloads.pop(chunk_id)
            for name, value in (payload or {}).items():
                key = value_key(value)
                if key is None:
                    continue
                postings = self._fields[name]
                postings.column = None
                members = postings.keys[key]
                members.discard(chunk_id)
                if not members:
                    del postings.keys[key]
        if ids:
            self._universe = self._sorted_ids = None

    # -- what index/payload_query.py reads (under ``lock``) -------------------------------------
    def universe(self) -> np.ndarray:
        """Sorted ids of every chunk a negated condition ($ne, $nin) can match: all but unreadable rows."""
        if self._universe is None:
            live = [i for i, payload in self._payloads.items() if payload is not None]
            self._universe = np.sort(np.fromiter(live, dtype=np.int64, count=len(live)))
        return self._universe

    def column(self, name: str) -> FieldColumn | None:
        """The query arrays of field ``name`` (None if no chunk has it)."""
        postings = self._fields.get(name)
        if postings is None:
            return None
        if postings.column is None:
            postings.column = _build_column(postings.keys)
        return postings.column

    def prepare(self) -> None:
        """Build every field's query arrays and the universe now (a forking server's parent: shared by workers)."""
        with self.lock:
            for name in list(self._fields):
                self.column(name)
            self.universe()

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write ``directory`` atomically (core/saveddir.py): ids, row numbers and the distinct metadata."""
        with self.lock:
            ids = self.ids()
            rows, objects, seen = np.empty(len(ids), dtype=np.int64), [], {}
            for position, chunk_id in enumerate(ids.tolist()):
                payload = self._payloads[chunk_id]
                if payload is None:
                    rows[position] = -1
                    continue
                if id(payload) not in seen:  # chunks of one document share one metadata object and row
                    seen[id(payload)] = len(objects)
                    objects.append(json.dumps(payload, allow_nan=False))
                rows[position] = seen[id(payload)]
            manifest = {"kind": self.kind, "format": FORMAT, "count": len(ids), "watermark": self.watermark}

            def write_files(target: Path) -> None:
                np.save(target / "chunks.npy", ids, allow_pickle=False)
                np.save(target / "rows.npy", rows, allow_pickle=False)
                (target / "metadata.json").write_text("[" + ",".join(objects) + "]", encoding="utf-8")

            write_saved_dir(Path(directory), manifest, write_files)

    @classmethod
    def load(cls, directory: Path) -> PayloadIndex:
        """Read a saved index; a missing, damaged or foreign directory raises IndexCorrupt."""
        directory = Path(directory)
        manifest = read_saved_dir(directory)
        if manifest.get("kind") != cls.kind or manifest.get("format") != FORMAT:
            raise IndexCorrupt(f"{directory}: not a {FORMAT} payload index")
        try:
            ids = np.load(directory / "chunks.npy", allow_pickle=False)
            rows = np.load(directory / "rows.npy", allow_pickle=False)
            objects = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
            payloads = [None if row < 0 else objects[row] for row in rows.tolist()]
            if len(ids) != manifest.get("count") or not all(p is None or isinstance(p, dict) for p in payloads):
                raise ValueError("counts or rows do not match the manifest")
        except (OSError, ValueError, IndexError, TypeError) as exc:
            raise IndexCorrupt(f"cannot load payload index from {directory}: {exc.__class__.__name__}") from exc
        index = cls()
        index.add(ids.tolist(), payloads)
        watermark = manifest.get("watermark")
        index.watermark = watermark if isinstance(watermark, str) else None
        return index


def _build_column(keys: dict[tuple[str, Any], set[int]]) -> FieldColumn:
    equal: dict[tuple[str, Any], np.ndarray] = {}
    values: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    unsafe = False
    for key, members in keys.items():
        ids = np.sort(np.fromiter(members, dtype=np.int64, count=len(members)))
        if key[0] == "big":
            unsafe = True
            continue
        equal[key] = ids
        if key[0] == "n":
            values.append(np.full(len(ids), key[1], dtype=np.float64))
            owners.append(ids)
    if not values:
        return FieldColumn(equal, np.zeros(0, dtype=np.float64), _EMPTY, unsafe)
    numbers, number_ids = np.concatenate(values), np.concatenate(owners)
    order = np.argsort(numbers, kind="stable")
    return FieldColumn(equal, numbers[order], number_ids[order], unsafe)
