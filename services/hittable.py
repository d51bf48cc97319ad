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
    # int64 (n, 11), one row per chunk so that a lookup is one gather: chunk id, document id, ordinal, char_start,
    # char_end, flags (NO_SOURCE | STDLIB_JSON), then where its FIELDS strings start in ``buffer`` and where they end
    records: np.ndarray
    buffer: bytes

    @property
    def nbytes(self) -> int:
        return len(self.buffer) + self.ids.nbytes + self.records.nbytes

    def find(self, ids: np.ndarray) -> dict[int, ChunkHit]:
        """The rows of those of ``ids`` (int64) that this table holds."""
        if not len(self.ids) or not len(ids):
            return {}
        positions = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        found: dict[int, ChunkHit] = {}
        buffer = self.buffer
        for chunk, document, ordinal, start, end, flags, a, b, c, d, e in self.records[
            positions[self.ids[positions] == ids]
        ].tolist():
            metadata = buffer[c:d]
            found[chunk] = ChunkHit(
                chunk,
                document,
                buffer[a:b].decode("utf-8", "surrogatepass"),
                None if flags & NO_SOURCE else buffer[b:c].decode("utf-8", "surrogatepass"),
                json.loads(metadata) if flags & STDLIB_JSON else orjson.loads(metadata),
                ordinal,
                buffer[d:e].decode("utf-8", "surrogatepass"),
                start,
                end,
            )
        return found


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
    records: list[np.ndarray] = []
    used = offset = 0
    for batch in batches:
        strings, flags = _encode(batch)
        part = b"".join(strings)
        used += len(part) + 96 * len(batch)  # per row: its id and its 11 int64 record fields
        if used > budget:
            return None
        ends = offset + np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)))
        bounds = np.concatenate([[offset], ends]).reshape(-1)
        record = np.empty((len(batch), 6 + FIELDS + 1), dtype=np.int64)
        record[:, :6] = [(h.chunk_id, h.document_id, h.ordinal, h.char_start, h.char_end, f)
                         for h, f in zip(batch, flags, strict=True)]
        starts = bounds[:-1].reshape(len(batch), FIELDS)
        record[:, 6 : 6 + FIELDS] = starts
        record[:, 6 + FIELDS] = bounds[FIELDS::FIELDS]
        records.append(record)
        parts.append(part)
        offset = int(bounds[-1])
    matrix = np.concatenate(records) if records else np.zeros((0, 6 + FIELDS + 1), dtype=np.int64)
    return HitTable(ids=np.ascontiguousarray(matrix[:, 0]), records=matrix, buffer=b"".join(parts))


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
