"""Cross-process locking: one writer per data directory, short exclusive swaps of index directories.

Concurrency model: every write (ingest, delete, rebuild, snapshot) holds :class:`WriteLock`, an
``flock`` on ``<data_dir>/.write.lock`` that is also re-entrant within a thread and exclusive between
threads. Readers never take it: they search an in-memory index that they reload when the saved
manifest changes, and hits whose rows are gone from the database are dropped. The kernel releases an
``flock`` when its process dies, so a SIGKILLed writer never leaves a stale lock behind. A writer that
has to wait says so (a WARNING log line naming the holder's pid and command, which the lock file holds
while it is locked) after ``NOTICE_AFTER`` seconds and again every ``NOTICE_EVERY`` seconds, instead of
waiting silently behind a long ingest in another process or thread.
:func:`file_lock` guards the short rename window while an index directory is swapped in or read.
:class:`WriteGeneration` counts writes (odd while one holds the lock), so readers can tell whether
what they cached from the database may have changed (see services/hitcache.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)
NOTICE_AFTER = 2.0  # seconds of waiting before a writer says it waits (short writes never trigger it)
NOTICE_EVERY = 30.0  # then again this often, so a long wait is never silent


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


class _Waiter:
    """Says that a writer waits for the lock: first after ``after`` seconds, then every ``every`` seconds."""

    def __init__(self, path: Path, after: float, every: float) -> None:
        self.path = path
        self.every = every
        self.start = time.monotonic()
        self.next = self.start + after
        self.said = False

    def remaining(self) -> float:
        return max(self.next - time.monotonic(), 0.0)

    def say(self, holder: str) -> None:
        log.warning(
            "waiting for the write lock %s: %s holds it (an ingest, delete, rebuild or snapshot); waited %.0f s so far",
            self.path,
            holder,
            time.monotonic() - self.start,
        )
        self.said = True
        self.next = time.monotonic() + self.every

    def done(self) -> None:
        if self.said:
            log.warning("got the write lock %s after %.0f s", self.path, time.monotonic() - self.start)


def _holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it into the lock file (see :meth:`WriteLock._claim`)."""
    try:
        text = os.pread(fd, 256, 0).decode("utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return f"another writer ({text})" if text else "another writer"


class WriteLock:
    """Re-entrant per thread, exclusive across threads and processes (``flock`` on ``path``).

    With a ``generation``, every outermost hold is bracketed by ``generation.begin()`` / ``end()``.
    A blocking acquire that has to wait logs who holds the lock after ``notice_after`` seconds and
    again every ``notice_every`` seconds.
    """

    def __init__(
        self,
        path: Path,
        generation: WriteGeneration | None = None,
        notice_after: float = NOTICE_AFTER,
        notice_every: float = NOTICE_EVERY,
    ) -> None:
        self.path = Path(path)
        self.generation = generation
        self.notice_after = notice_after
        self.notice_every = notice_every
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        if not self._acquire_thread(blocking):
            return False
        if self._depth == 0:
            try:
                fd = self._acquire_file(blocking)
            except BaseException:
                self._thread_lock.release()
                raise
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

    def _acquire_thread(self, blocking: bool) -> bool:
        """The in-process lock; another thread's write (e.g. a concurrent API request) is waited for aloud."""
        if self._thread_lock.acquire(blocking=False):
            return True
        if not blocking:
            return False
        waiter = _Waiter(self.path, self.notice_after, self.notice_every)
        while not self._thread_lock.acquire(timeout=waiter.remaining()):
            waiter.say("another thread of this process")
        waiter.done()
        return True

    def _acquire_file(self, blocking: bool) -> int | None:
        """The ``flock``; while another process holds it, wait and say so."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_flock(fd):
            if not blocking:
                os.close(fd)
                return None
            _wait_for_flock(fd, _Waiter(self.path, self.notice_after, self.notice_every))
        _claim(fd)
        return fd

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
            try:
                os.ftruncate(self._fd, 0)  # no stale holder for the next waiter to name
            except OSError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._thread_lock.release()

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for_flock(fd: int, waiter: _Waiter) -> None:
    """A blocking ``flock`` in a helper thread, so that this one can say it waits (flock has no timeout).

    The kernel wakes the helper when the holder releases, as a plain blocking flock would (no polling,
    which a busy writer could starve). On any error or interrupt ``fd`` is closed, by the helper if its
    flock is still pending (closing releases a lock that was acquired for nobody).
    """
    done, guard = threading.Event(), threading.Lock()
    failure: list[OSError] = []
    abandoned = False

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            failure.append(exc)
        with guard:
            done.set()
            if abandoned:
                os.close(fd)

    threading.Thread(target=wait, name="write-lock-wait", daemon=True).start()
    try:
        while not done.wait(waiter.remaining()):
            waiter.say(_holder(fd))
    except BaseException:
        with guard:
            abandoned = not done.is_set()
            if not abandoned:
                os.close(fd)
        raise
    if failure:
        os.close(fd)
        raise failure[0]
    waiter.done()


def _claim(fd: int) -> None:
    """Write who holds the lock into the lock file, for a waiting writer's message."""
    command = " ".join([Path(sys.argv[0]).name if sys.argv else "python", *sys.argv[1:2]])[:120]
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {command}".encode("utf-8", errors="replace"), 0)
    except OSError:
        pass  # the message only loses its detail


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
