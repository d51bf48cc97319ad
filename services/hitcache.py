"""Read-side cache of rows that searches and recommendations show, correct across processes.

Hydrating results from SQL (a hit's chunk text, document id and metadata; a recommended item's metadata;
the active model version) costs milliseconds per request, far more than the ANN search or the model
itself. This cache keeps such rows in memory for as long as no write happened anywhere on the data dir.
Validity comes from the data dir's :class:`~core.writelock.WriteGeneration`: every write (ingest,
delete, rebuild, restore, lexical options, interactions, training, model activation) holds the
WriteLock, which makes the generation odd before the write touches the database and even again after
it. So:

- an entry is used only while the generation is the even value it was read under; any change empties
  the cache (in every process, on its next request);
- rows read from the database are kept only if the generation was the same even value before and
  after the read (no write overlapped it); while a write is in progress nothing is cached or served
  from the cache, and requests read the database as before.

Entries are shared between threads and must be treated as read-only. ``max_entries`` bounds the rows
(least recently used go first); 0 turns the cache off.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from core.writelock import WriteGeneration

_LOAD = object()  # value(): no fallback given, load when uncached


class HitCache:
    def __init__(self, generation: WriteGeneration, max_entries: int) -> None:
        self._generation = generation
        self._max = max_entries
        self._lock = threading.Lock()
        self._seen: int | None = None  # the generation the entries belong to
        self._hits: OrderedDict[tuple[Hashable, int], Any] = OrderedDict()  # (kind, id) -> row, LRU order
        self._values: dict[Hashable, Any] = {}  # small per-generation facts: collection rows, stats
        self._local = threading.local()  # a generation pinned for one search (see pin)

    def __len__(self) -> int:
        return len(self._hits)

    def _usable(self, value: int | None = None) -> int | None:
        """The current generation (or ``value``, just read) if cached entries may be used (even), after dropping
        older entries."""
        if self._max <= 0:
            return None
        if value is None:
            value = self._generation.read()
        with self._lock:
            if value != self._seen:
                self._hits.clear()
                self._values.clear()
                self._seen = value
        return value if value % 2 == 0 else None

    def pin(self) -> None:
        """Read the generation once for everything this thread caches until :meth:`unpin` (one search)."""
        value = self._generation.read()
        self._local.generation = self._usable(value)
        self._local.read = value
        self._local.pinned = True

    def generation(self) -> int:
        """The write generation this thread's search pinned, else the current one (odd: a write is under way).

        For readers with their own per-generation state (services/hittable.py), even with the cache off.
        """
        local = self._local
        if getattr(local, "pinned", False):
            return local.read
        return self._generation.read()

    def unpin(self) -> None:
        self._local.pinned = False

    def _current(self) -> int | None:
        local = self._local
        if getattr(local, "pinned", False):
            return local.generation
        return self._usable()

    def _still(self, generation: int) -> bool:
        """True if no write started since ``generation`` was read (caller holds the lock)."""
        return self._seen == generation and self._generation.read() == generation

    def value(self, key: Hashable, load: Callable[[], Any], uncached: Any = _LOAD) -> Any:
        """``load()``, remembered under ``key`` until the next write (a raising load is not remembered).

        When nothing may be cached (a write in progress, cache off), ``uncached`` is returned if given
        instead of loading: for facts that only speed things up and cost a query to find out.
        """
        generation = self._current()
        if generation is None and uncached is not _LOAD:
            return uncached
        if generation is not None:
            with self._lock:
                if key in self._values:
                    return self._values[key]
        value = load()
        if generation is not None:
            with self._lock:
                if self._still(generation):
                    self._values[key] = value
        return value

    def rows(self, kind: Hashable, ids: Sequence[int], load: Callable[[list[int]], dict[int, Any]]) -> dict[int, Any]:
        """Rows of ``kind`` for ``ids`` (ids whose row is gone are absent), loading the ones not cached.

        ``kind`` names the table and scope (e.g. ``"chunk"``, ``("recsys-item", collection_id)``); all kinds share
        the ``max_entries`` bound.
        """
        generation = self._current()
        if generation is None:
            return load(list(ids))
        found: dict[int, Any] = {}
        with self._lock:
            for row_id in ids:
                row = self._hits.get((kind, row_id))
                if row is not None:
                    self._hits.move_to_end((kind, row_id))
                    found[row_id] = row
        missing = [i for i in ids if i not in found]
        if missing:
            loaded = load(missing)
            found.update(loaded)
            with self._lock:
                if self._still(generation):
                    self._hits.update(((kind, row_id), row) for row_id, row in loaded.items())
                    while len(self._hits) > self._max:
                        self._hits.popitem(last=False)
        return found
