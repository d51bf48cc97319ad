"""Cross-process locking: one writer per data directory, short exclusive swaps of index directories.

Concurrency model: every write (ingest, delete, rebuild, snapshot) holds :class:`WriteLock`, an
``flock`` on ``<data_dir>/.write.lock`` that is also re-entrant within a thread and exclusive between
threads. Readers never take it: they search an in-memory index that they reload when the saved
manifest changes, and hits whose rows are gone from the database are dropped. The kernel releases an
``flock`` when its process dies, so a SIGKILLed writer never leaves a stale lock behind.
:func:`file_lock` guards the short rename window while an index directory is swapped in or read.
:class:`WriteGeneration` counts writes (odd while one holds the lock), so readers can tell whether
what they cached from the database may have changed (see services/hitcache.py).
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


class WriteGeneration:
    """A counter in a file beside the lock, odd while a writer holds the lock and even otherwise.

    Like a sequence lock: a reader that sees the same even value before and after reading the database
    knows no write overlapped its read. The writer bumps it to odd before it touches the database and to
    the next even value after; a writer that dies mid-write leaves it odd, so readers stop caching until
    the next write completes. The file is replaced atomically, so a reader sees the old or the new value.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._name = str(self.path)  # read on every search: skip pathlib and buffered IO

    def read(self) -> int:
        """The current value; 0 before any write, -1 (odd: "don't trust") if the file is unreadable."""
        try:
            fd = os.open(self._name, os.O_RDONLY)
        except FileNotFoundError:
            return 0
        except OSError:
            return -1
        try:
            return int(os.read(fd, 32))
        except (OSError, ValueError):
            return -1
        finally:
            os.close(fd)

    def begin(self) -> None:
        value = self.read()
        self._write(value + (1 if value % 2 == 0 else 2))

    def end(self) -> None:
        value = self.read()
        self._write(value + (1 if value % 2 == 1 else 2))

    def _write(self, value: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")  # only the lock holder writes it
        tmp.write_text(str(value))
        os.replace(tmp, self.path)


class WriteLock:
    """Re-entrant per thread, exclusive across threads and processes (``flock`` on ``path``).

    With a ``generation``, every outermost hold is bracketed by ``generation.begin()`` / ``end()``.
    """

    def __init__(self, path: Path, generation: WriteGeneration | None = None) -> None:
        self.path = Path(path)
        self.generation = generation
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
            if self.generation is not None:
                try:
                    self.generation.begin()
                except BaseException:
                    self._unlock()
                    raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth > 0 or self._fd is None:
            self._thread_lock.release()
            return
        try:
            if self.generation is not None:
                self.generation.end()
        finally:
            self._unlock()

    def _unlock(self) -> None:
        """Release the ``flock`` and the thread lock of the outermost hold."""
        if self._fd is not None:
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
