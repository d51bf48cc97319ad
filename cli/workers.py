"""``latentspace serve --workers N``: gunicorn's pre-fork supervisor over an app the parent has already loaded.

Why fork (issue 17): uvicorn's own supervisor starts each worker as a fresh interpreter (``spawn``) that
imports every module and loads every index itself, so two workers held two private copies of everything
(on 44,484 MiniLM vectors: 276 MB each, plus 122 MB for the parent and 13 MB for multiprocessing's
resource tracker). Here the parent builds the app and loads every index once, then gunicorn
(``preload_app``) forks the workers: they share those pages copy-on-write — the imported modules,
hnswlib's graph, the payload (filter) indexes with their query arrays, the table of every chunk's hit row
(services/hittable.py; BM25 indexes too if ``LATENTSPACE_PREFORK_LEXICAL``) — until one of them writes to a
page. ``gc.freeze()`` before the first fork keeps the collector from touching (and so copying) the objects
every worker inherits.

Every worker is still its own server, exactly as a separately started process would be: its own database
connections (the parent closes its pool before forking; nothing opened before the fork is used after it),
its own event loop (uvicorn, run by ``uvicorn_worker.UvicornWorker``) and caches; another process's write
reaches it through the write generation and the index manifests (docs/SERVING.md). Prometheus counters are
the one thing summed over the workers: prometheus_client's multiprocess mode, in a directory private to this
server run (:func:`shared_metrics_dir`), so ``/metrics`` on any worker shows the whole server's counters.

gunicorn's arbiter does the rest: a worker that dies, or misses its heartbeat for ``WORKER_TIMEOUT``
seconds, is replaced by a new fork of the parent (whose indexes may be older than the data dir: the new
worker reloads what changed on first use); a worker that fails to boot stops the server (exit 3);
SIGINT/SIGQUIT stop at once, SIGTERM gracefully (``GRACEFUL_TIMEOUT``), SIGHUP forks fresh workers,
SIGTTIN/SIGTTOU add/remove one. One thing gunicorn does not do for this worker class is kept here:
``PR_SET_PDEATHSIG``, so a worker stops at once when the parent is killed (gunicorn's own check of the
parent pid lives in its sync workers' loops, which the uvicorn worker does not run).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from gunicorn.app.base import BaseApplication
from uvicorn_worker import UvicornWorker

# The heartbeat: uvicorn's loop pings the arbiter every WORKER_TIMEOUT/2 s; a worker silent for WORKER_TIMEOUT
# s is killed and replaced. The ping is a coroutine on the event loop, and a text query's first model load
# runs in the threadpool (seconds: importing torch, reading the model), so it does not silence the worker;
# 120 s leaves room for a loaded machine and for a long synchronous stretch on the loop, and still replaces
# a hung worker within two minutes.
WORKER_TIMEOUT = 120
GRACEFUL_TIMEOUT = 30  # seconds a worker gets to finish its requests after SIGTERM before SIGKILL
KEEPALIVE = 5  # uvicorn's own default keep-alive (gunicorn's would be 2 s)
METRICS_DIR_PREFIX = "latentspace-metrics-"  # then the parent's pid: a later server removes a killed one's directory


def serve_in_process(config: uvicorn.Config) -> int:
    """One worker: the server runs in this process (exit status 3, as uvicorn's, if the app cannot start)."""
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3


class LatentspaceWorker(UvicornWorker):
    """gunicorn's uvicorn worker with the options ``latentspace serve`` gives uvicorn in one process.

    log_config stays None: gunicorn configured logging (logconfig_dict) before the fork.
    """

    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": "httptools", "log_level": "info", "access_log": False}  # noqa: RUF012

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # UvicornWorker points uvicorn's error log at gunicorn's handlers; ours has none of its own (it
        # propagates to the root's JSON handler), so uvicorn's lines must propagate too or be lost.
        uvicorn_error = logging.getLogger("uvicorn.error")
        uvicorn_error.handlers = []
        uvicorn_error.propagate = True


class ForkedWorkers(BaseApplication):
    """``count`` gunicorn workers forked from this process, serving ``app`` on ``host:port``."""

    def __init__(self, app: Any, options: dict[str, Any], before_fork: Callable[[], None]) -> None:
        self.app = app
        self.options = options
        self.before_fork = before_fork
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("when_ready", self.when_ready)
        self.cfg.set("post_fork", post_fork)
        self.cfg.set("child_exit", child_exit)

    def load(self) -> Any:
        return self.app

    def when_ready(self, _arbiter: Any) -> None:
        """In the parent, once, after the socket is bound and before the first worker is forked."""
        self.before_fork()
        gc.collect()
        _release_free_heap()
        gc.freeze()


def gunicorn_options(host: str, port: int, count: int, log_config: dict[str, Any]) -> dict[str, Any]:
    """gunicorn's settings for ``latentspace serve --workers count`` (set in code: no config file is read)."""
    loggers = dict(log_config.get("loggers", {}))
    for name in ("gunicorn.error", "gunicorn.access"):  # gunicorn's lines go through our (JSON) root handler
        loggers[name] = {"level": "INFO", "handlers": [], "propagate": True}
    return {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": count,
        "worker_class": LatentspaceWorker,
        "preload_app": True,
        "timeout": WORKER_TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": KEEPALIVE,
        "logconfig_dict": {**log_config, "loggers": loggers},
        "proc_name": "latentspace",
        # gunicorn's control socket (a path shared by every server of the user, and a thread in the
        # parent that later forks) is off: TTIN/TTOU/HUP signals do what it would.
        "control_socket_disable": True,
    }


def serve_workers(engine: Any, where: tuple[str, int, int], log_config: dict[str, Any], create_app: Callable) -> int:
    """``count`` workers on ``host:port`` (``where``), forked from this process once it loaded what they share."""
    from cli.common import console

    host, port, count = where
    loaded = engine.load_for_workers()
    on = {True: "on", False: "off"}
    console.print(
        f"loaded before the fork, shared by the workers: {loaded['collections']} collection(s), hit table "
        f"{loaded['hit_table_rows']} rows ({loaded['hit_table_mb']} MB), payload indexes "
        f"{on[loaded['payload_indexes']]}, BM25 indexes {on[loaded['lexical_indexes']]}",
        soft_wrap=True,
    )
    options = gunicorn_options(host, port, count, log_config)
    ForkedWorkers(create_app(engine.settings, engine=engine), options, before_fork=engine.db.dispose).run()
    return 0


@contextmanager
def shared_metrics_dir() -> Iterator[str]:
    """A private ``PROMETHEUS_MULTIPROC_DIR`` for this server run: made here, removed when this process leaves.

    Set before prometheus_client is imported (it chooses per-process files on import). Each worker writes its
    counters to its own files there and ``/metrics`` sums them (api/metrics.py); a dead worker's counts stay.
    A parent killed by SIGKILL cannot remove its directory: the next server started with the same temp dir does.
    """
    owner = os.getpid()
    _remove_orphaned_metrics_dirs()
    directory = tempfile.mkdtemp(prefix=f"{METRICS_DIR_PREFIX}{owner}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield directory
    finally:
        if os.getpid() == owner:  # a worker that exits returns through here too (it was forked inside the block)
            shutil.rmtree(directory, ignore_errors=True)


def _remove_orphaned_metrics_dirs() -> None:
    """Remove the metrics directories of servers whose parent is gone without cleaning up (SIGKILL)."""
    for path in Path(tempfile.gettempdir()).glob(f"{METRICS_DIR_PREFIX}*-*"):
        pid = path.name[len(METRICS_DIR_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists() and Path("/proc/self").exists():
            shutil.rmtree(path, ignore_errors=True)


def child_exit(_arbiter: Any, worker: Any) -> None:
    """In the parent, when a worker has exited: prometheus_client's bookkeeping for its live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(_arbiter: Any, _worker: Any) -> None:
    """In each new worker, before it starts serving."""
    _stop_with_parent()


def _release_free_heap() -> None:
    """glibc: give the heap's free pages back to the kernel before forking.

    What the parent freed while loading (building the hit table reads every chunk through Python objects)
    stays resident in its heap otherwise, and every worker would inherit it: on 44,484 sentences ~24 MB.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        return  # not glibc: the pages stay, as before


def _stop_with_parent() -> None:
    """Linux: SIGTERM this worker when the parent dies (even by SIGKILL), so no worker is left holding the port."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: a worker outlives a killed parent until it is stopped itself
    if os.getppid() == 1:  # the parent died before the call above
        os.kill(os.getpid(), signal.SIGTERM)
