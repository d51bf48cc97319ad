"""The wheel installs into a clean venv, where ``import latentspace``, the README's client example and
``latentspace --help`` work.

Clean: a new venv *without* system site-packages; the wheel is installed into it with ``--no-deps``, and its
third-party dependencies (torch & co., too slow to download and install per test run) come from the project's
own .venv through one appended ``.pth`` line. That directory holds no project code of its own (the project's
editable install there is a ``.pth`` hook, and hooks of an appended directory are not run), so every project
module must come from the wheel: the test checks that ``latentspace``, ``services`` and ``cli`` load from it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- client-example -->\s*```python\n(.*?)```", text, re.S)
    assert found, "README.md has no <!-- client-example --> python block"
    return found.group(1)


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_installs_into_a_clean_venv_and_the_readme_example_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LATENTSPACE_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    wheels, source = tmp_path / "wheels", tmp_path / "source"  # built from a copy: no build/ in the work tree
    skip = shutil.ignore_patterns(".git", ".venv", "data", "build", "*.egg-info", "__pycache__", "test-artifacts")
    shutil.copytree(ROOT, source, ignore=skip)
    run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
        tmp_path,
        env,
    )
    wheel = next(wheels.glob("latentspace-*.whl"))
    clean = tmp_path / "clean"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(clean)
    python = clean / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], tmp_path, env)
    site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env).strip()
    )
    (site / "zz_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = run(
        [
            str(python),
            "-c",
            "import latentspace, services, cli; print(latentspace.__file__, services.__file__, "
            "cli.__file__, (Path := __import__('pathlib').Path)(latentspace.__file__).with_name('py.typed').exists())",
        ],
        tmp_path,
        env,
    ).split()
    assert all(path.startswith(str(site)) for path in where[:3]) and where[3] == "True", where
    example = tmp_path / "example.py"
    example.write_text(readme_example())
    printed = run([str(python), str(example)], tmp_path, env)
    assert printed.splitlines()[0].startswith("n1 ") and printed.splitlines()[-1] == "a", printed
    assert "Usage: latentspace" in run([str(clean / "bin" / "latentspace"), "--help"], tmp_path, env)
