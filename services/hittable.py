"""A read-only table of every chunk's hit row, built by the server's parent before it forks its workers.

Why (issue 17, memory of ``serve --workers 2``): each worker filled its own hit cache (services/hitcache.py)
with the rows its searches returned, as Python objects, so two workers held two copies, and objects inherited
from a parent get copied page by page as their reference counts change. This table holds what a search hit
shows of each chunk (services/search/common.py ``chunk_hits``: text, document id and external id, source uri,
metadata, ordinal, character span) as a few large read-only allocations: one ``bytes`` buffer with each chunk's
strings as UTF-8 (external id, source uri, metadata as JSON, text, one after the other) and numpy arrays (the
sorted chunk ids, the offsets of those strings, the integer fields). Forked workers read it without writing to
it, so its pages stay shared; a lookup decodes only the rows asked for.

Validity: a table is built under one even write generation (core/writelock.py) that must be unchanged after the
build (no write overlapped it). A search uses the tables only while the generation it pinned is that value:
once any write begins anywhere on the data dir, the generation moves on for good and every process falls
through to the hit cache and SQL, which are correct across processes as before. The build stops adding
collections at ``cap_bytes`` (``LATENTSPACE_PREFORK_HIT_TABLE_MB``): a collection that would not fit is skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import orjson
from sqlalchemy.orm import Session

from core.writelock import WriteGeneration
from store import repositories as repo
from store.repositories import ChunkHit

log = logging.getLogger(__name__)
NO_SOURCE, STDLIB_JSON = 1, 2  # flag bits: source uri is None; metadata JSON orjson cannot round-trip
FIELDS = 4  # external id, source uri, metadata JSON, text: consecutive slices of the buffer per chunk


@dataclass(frozen=True)
class HitTable:
    """The hit rows of one collection's chunks (``ids`` ascending); see the module docstring."""

    ids: np.ndarray  # int64 (n,)
    documents: np.ndarray  # int64 (n,): document primary key
    numbers: np.ndarray  # int64 (n, 3): ordinal, char_start, char_end
    bounds: np.ndarray  # int64 (FIELDS * n + 1,): where each string starts in ``buffer``; the last is its end
    flags: np.ndarray  # uint8 (n,): NO_SOURCE | STDLIB_JSON
    buffer: bytes

    @property
    def nbytes(self) -> int:
        arrays = (self.ids, self.documents, self.numbers, self.bounds, self.flags)
        return len(self.buffer) + sum(a.nbytes for a in arrays)

    def find(self, ids: np.ndarray) -> dict[int, ChunkHit]:
        """The rows of those of ``ids`` (int64) that this table holds."""
        if not len(self.ids) or not len(ids):
            return {}
        positions = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        rows = positions[self.ids[positions] == ids]
        offsets = self.bounds[rows[:, None] * FIELDS + np.arange(FIELDS + 1)].tolist()
        columns = zip(self.ids[rows].tolist(), self.documents[rows].tolist(), self.numbers[rows].tolist(),
                      self.flags[rows].tolist(), offsets, strict=True)
        return {chunk: self._row(chunk, document, numbers, flags, at)
                for chunk, document, numbers, flags, at in columns}

    def _row(self, chunk: int, document: int, numbers: list[int], flags: int, at: list[int]) -> ChunkHit:
        buffer = self.buffer
        metadata = buffer[at[2] : at[3]]
        return ChunkHit(
            chunk_id=chunk,
            document_id=document,
            external_id=buffer[at[0] : at[1]].decode("utf-8", "surrogatepass"),
            source_uri=None if flags & NO_SOURCE else buffer[at[1] : at[2]].decode("utf-8", "surrogatepass"),
            metadata=json.loads(metadata) if flags & STDLIB_JSON else orjson.loads(metadata),
            ordinal=numbers[0],
            text=buffer[at[3] : at[4]].decode("utf-8", "surrogatepass"),
            char_start=numbers[1],
            char_end=numbers[2],
        )


def encode_metadata(metadata: object) -> tuple[bytes, int]:
    """(JSON bytes, flag): orjson when it gives the same value back, else the stdlib (integers beyond 64 bits, NaN)."""
    try:
        encoded = orjson.dumps(metadata)
        if orjson.loads(encoded) == metadata:
            return encoded, 0
    except (TypeError, orjson.JSONEncodeError):
        pass  # orjson refuses it: the stdlib's encoding below keeps it exactly
    return json.dumps(metadata, ensure_ascii=False).encode("utf-8", "surrogatepass"), STDLIB_JSON


def build_table(batches: Iterable[Sequence[ChunkHit]], budget: int) -> HitTable | None:
    """A table of the rows in ``batches`` (ascending chunk id), or None once it would exceed ``budget`` bytes."""
    parts: list[bytes] = []
    ids: list[np.ndarray] = []
    documents: list[np.ndarray] = []
    numbers: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    used = 0
    for batch in batches:
        strings, batch_flags = _encode(batch)
        part = b"".join(strings)
        used += len(part) + 81 * len(batch)  # per row: 3 + 1 int64s, 3 int64 numbers, FIELDS offsets, a flag
        if used > budget:
            return None
        parts.append(part)
        lengths.append(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)))
        ids.append(np.fromiter((h.chunk_id for h in batch), dtype=np.int64, count=len(batch)))
        documents.append(np.fromiter((h.document_id for h in batch), dtype=np.int64, count=len(batch)))
        numbers.append(np.array([(h.ordinal, h.char_start, h.char_end) for h in batch], dtype=np.int64))
        flags.append(np.array(batch_flags, dtype=np.uint8))
    bounds = np.zeros(sum(len(x) for x in lengths) + 1, dtype=np.int64)
    if len(bounds) > 1:
        np.cumsum(np.concatenate(lengths), out=bounds[1:])
    empty = np.zeros(0, dtype=np.int64)
    return HitTable(
        ids=np.concatenate(ids) if ids else empty,
        documents=np.concatenate(documents) if documents else empty,
        numbers=np.concatenate(numbers) if numbers else np.zeros((0, 3), dtype=np.int64),
        bounds=bounds,
        flags=np.concatenate(flags) if flags else np.zeros(0, dtype=np.uint8),
        buffer=b"".join(parts),
    )


def _encode(batch: Sequence[ChunkHit]) -> tuple[list[bytes], list[int]]:
    strings: list[bytes] = []
    flags: list[int] = []
    for hit in batch:
        metadata, flag = encode_metadata(hit.metadata)
        source = hit.source_uri
        strings += [hit.external_id.encode("utf-8", "surrogatepass"),
                    b"" if source is None else source.encode("utf-8", "surrogatepass"),
                    metadata, hit.text.encode("utf-8", "surrogatepass")]
        flags.append(flag | (NO_SOURCE if source is None else 0))
    return strings, flags


class HitTables:
    """The tables built under write generation ``generation``; used only while the data dir is still at it."""

    def __init__(self, generation: int, tables: list[HitTable]) -> None:
        self.generation = generation
        self.tables = tables

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(len(t.ids) for t in self.tables)

    def lookup(self, generation: int, ids: Sequence[int]) -> tuple[dict[int, ChunkHit], list[int]]:
        """(rows found, ids to look up elsewhere); everything is elsewhere unless ``generation`` is the table's."""
        if generation != self.generation or not self.tables:
            return {}, list(ids)
        wanted = np.asarray(ids, dtype=np.int64)
        found: dict[int, ChunkHit] = {}
        for table in self.tables:
            found.update(table.find(wanted))
        return found, [i for i in ids if i not in found]


def build_hit_tables(
    sessions: Callable[[], Session], generation: WriteGeneration, collection_ids: Sequence[int], cap_bytes: int
) -> HitTables | None:
    """Tables of ``collection_ids`` within ``cap_bytes`` in all; None if off (cap 0) or a write overlapped."""
    before = generation.read()
    if cap_bytes <= 0 or before % 2:
        return None
    tables: list[HitTable] = []
    used = 0
    for collection_id in collection_ids:
        with sessions() as session:
            table = build_table(repo.iter_collection_chunk_hits(session, collection_id), cap_bytes - used)
        if table is None:
            log.warning("hit table: collection %d skipped (over LATENTSPACE_PREFORK_HIT_TABLE_MB)", collection_id)
            continue
        tables.append(table)
        used += table.nbytes
    if generation.read() != before:
        log.warning("hit table discarded: a write ran while it was built")
        return None
    return HitTables(before, tables)
