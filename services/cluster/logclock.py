"""The ingress's read-cache clock: its own writes and every other process's, as the change log shows them.

The single process keeps hydrated rows (chunk text, document id, metadata; collection rows; counts) in
its read cache (services/hitcache.py) for as long as the data dir's write generation stays the same. A
cluster ingress cannot rely on that alone: other processes, maybe on other machines, write to the same
database without touching this data dir. Every committed write appends to the change log in its own
transaction (store/changelog.py), metadata-only updates included, so the log's newest seq moves whenever
anything a search shows may have changed.

:class:`LogClock` is the generation the ingress's cache runs on: the local write generation (odd while
this process writes) plus twice the newest seq it has seen, which a background thread reads every
``interval`` seconds. The sum only grows, moves on any write here or elsewhere, and is odd exactly while
a local write is in progress. So a write on another process empties the cache at the next poll, at most
``interval`` seconds (plus one query) after its commit: the same bound as the shards' own following. If
the log cannot be read, the clock turns odd ("don't trust") until a read succeeds again, and the cache
serves nothing from memory meanwhile.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from core.writelock import WriteGeneration
from store import changelog

log = logging.getLogger(__name__)


class LogClock:
    """A WriteGeneration-like counter (``read()``) over the local generation and the change log's seq."""

    def __init__(self, local: WriteGeneration, sessions: sessionmaker[Session], interval: float) -> None:
        self.local, self.sessions, self.interval = local, sessions, interval
        self.seq: int | None = None  # None: unknown (never read, or the last read failed)
        self._stop = threading.Event()
        self.poll()
        self._thread = threading.Thread(target=self._follow, name="latentspace-log-clock", daemon=True)
        self._thread.start()

    def read(self) -> int:
        """Even while the cache may be trusted; grows with every write anywhere (see the module docstring)."""
        seq = self.seq
        if seq is None:
            return -1
        return self.local.read() + 2 * seq

    def poll(self) -> int | None:
        """Read the newest seq now (also what the follower thread does every ``interval`` seconds)."""
        try:
            with self.sessions() as session:
                self.seq = changelog.last_seq(session)
        except Exception:  # the database is briefly away: distrust the cache until it answers again
            log.warning("the ingress could not read the change log; its read cache is off until it can")
            self.seq = None
        return self.seq

    def _follow(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
