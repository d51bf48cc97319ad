"""Cross-process locking: one writer per data directory, short exclusive swaps of index directories.

Concurrency model: every write (ingest, delete, rebuild, snapshot) holds :class:`WriteLock`, an
``flock`` on ``<data_dir>/.write.lock`` that is also re-entrant within a thread and exclusive between
threads. Readers never take it: they search an in-memory index that they reload when the saved
manifest changes, and hits whose rows are gone from the database are dropped. The kernel releases an
``flock`` when its process dies, so a SIGKILLed writer never leaves a stale lock behind.
:func:`file_lock` guards the short rename window while an index directory is swapped in or read.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _open_locked(path: Path, flags: int) -> int | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, flags)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class WriteLock:
    """Re-entrant per thread, exclusive across threads and processes (``flock`` on ``path``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        if not self._thread_lock.acquire(blocking=blocking):
            return False
        if self._depth == 0:
            fd = _open_locked(self.path, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            if fd is None:
                self._thread_lock.release()
                return False
            self._fd = fd
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._thread_lock.release()

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


@contextmanager
def file_lock(path: Path, exclusive: bool) -> Iterator[None]:
    """A blocking shared/exclusive ``flock`` held for the ``with`` block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
