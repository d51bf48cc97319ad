"""Issue 18, class 9: a read-only data dir is one clear line and exit 1, not a 50-line traceback."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("LATENTSPACE_DATA_DIR", str(data))
    monkeypatch.delenv("LATENTSPACE_DATABASE_URL", raising=False)
    assert CliRunner().invoke(app, ["collections", "list"]).exit_code == 0  # a working data dir first
    return data


def test_read_only_data_dir_is_one_line(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if writing and str(path).startswith(str(data_dir)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    for command in (["collections", "list"], ["keys", "list"], ["search", "x", "-c", "c"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (command, result.exception)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Read-only file system" in lines[0] and "Traceback" not in result.output, lines


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare and root")
def test_really_read_only_mount(data_dir: Path) -> None:
    """The same on a real read-only bind mount (a private mount namespace; skipped where that is not allowed)."""
    script = (
        f'mount --bind "{data_dir}" "{data_dir}" && mount -o remount,bind,ro "{data_dir}" || exit 99; '
        f'"{sys.executable}" -m cli.main collections list'
    )
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=os.environ.copy())
    if done.returncode == 99 or "unshare failed" in done.stderr:
        pytest.skip(f"no read-only mount possible here: {done.stderr.strip()[:200]}")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0], done.stderr
