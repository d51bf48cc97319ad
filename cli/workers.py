"""``latentspace serve --workers N``: worker processes forked from a parent that has already loaded everything.

Why fork (issue 17): uvicorn's own supervisor starts each worker as a fresh interpreter (``spawn``) that
imports every module and loads every index itself, so two workers held two private copies of everything
(on 44,484 MiniLM vectors: 276 MB each, plus 122 MB for the parent and 13 MB for multiprocessing's
resource tracker). Here the parent builds the app and loads every index once, then forks: the workers
share those pages copy-on-write — the imported modules, hnswlib's graph, the mapped vector copy
(index/rows.py) — until one of them writes to a page. ``gc.freeze()`` before the fork keeps the
collector from touching (and so copying) the objects every worker inherits.

Every worker is still its own server, exactly as a separately started process would be: its own database
connections (the parent closes its pool before forking; nothing opened before the fork is used after it),
its own event loop, caches and Prometheus counters; another process's write reaches it through the write
generation and the index manifests (docs/SERVING.md). The parent only watches: a worker that dies is
replaced by a new fork of the parent (whose indexes may be older than the data dir: the new worker reloads
what changed on first use, as every worker does), and SIGINT/SIGTERM stop the workers (uvicorn's graceful
shutdown), then the parent. A worker that dies within ``STARTUP_GRACE`` seconds of its start stops the
server instead of crash-looping (a broken app would fail the same way every time).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from os import _exit as exit_now  # a forked worker must never run the parent's exit handlers

import uvicorn

log = logging.getLogger("latentspace.serve")
STARTUP_GRACE = 10.0  # seconds: a worker dying sooner is a start-up failure, not a crash to recover from
STOP_TIMEOUT = 30.0  # seconds a worker gets to finish its requests after SIGTERM before SIGKILL
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # HUP too: by default it would orphan the workers


def serve_in_process(config: uvicorn.Config) -> int:
    """One worker: the server runs in this process (exit status 3, as uvicorn's, if the app cannot start)."""
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3


class ForkedWorkers:
    """``count`` forked uvicorn servers of ``config`` on one listening socket, watched by this process."""

    def __init__(self, config: uvicorn.Config, count: int, before_fork: Callable[[], None]) -> None:
        self.config = config
        self.count = count
        self.before_fork = before_fork
        self.started: dict[int, float] = {}  # worker pid -> monotonic start time
        self.stopping = False
        self.failed = False

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM (exit status 0) or a start-up failure (1)."""
        sock = self.config.bind_socket()
        self.before_fork()
        gc.collect()
        gc.freeze()
        previous = {sig: signal.signal(sig, self._stop) for sig in STOP_SIGNALS}
        try:
            for _ in range(self.count):
                self._fork(sock)
            while not self.stopping:
                self._reap(sock)
                time.sleep(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all()
            sock.close()
        return 1 if self.failed else 0

    def _stop(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def _fork(self, sock: socket.socket) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's code
            exit_now(self._serve(sock))
        self.started[pid] = time.monotonic()
        log.info("started worker %d", pid)

    def _serve(self, sock: socket.socket) -> int:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own once it runs
        _stop_with_parent()
        try:
            server = uvicorn.Server(self.config)
            server.run(sockets=[sock])
            return 0 if server.started else 3  # 3: uvicorn's own start-up failure status
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("worker %d failed", os.getpid())
            return 1

    def _reap(self, sock: socket.socket) -> None:
        while self.started:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            began = self.started.pop(pid, None)
            if began is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if time.monotonic() - began < STARTUP_GRACE or code == 3:
                log.error("worker %d exited (%d) while starting; stopping the server", pid, code)
                self.failed = self.stopping = True
                return
            log.warning("worker %d exited (%d); starting a new one", pid, code)
            if not self.stopping:
                self._fork(sock)

    def _stop_all(self) -> None:
        for pid in self.started:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.started and time.monotonic() < deadline:
            pid, _status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.1)
            else:
                self.started.pop(pid, None)
        for pid in self.started:
            log.warning("worker %d did not stop in %.0f s; killing it", pid, STOP_TIMEOUT)
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.started.clear()


def _stop_with_parent() -> None:
    """Linux: SIGTERM this worker when the parent dies (even by SIGKILL), so no worker is left holding the port."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: a worker outlives a killed parent until it is stopped itself
    if os.getppid() == 1:  # the parent died before the call above
        os.kill(os.getpid(), signal.SIGTERM)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass  # already gone
