"""Issue 18, class 6: tampered snapshots are refused with a clear error, and the data dir is left unchanged.

Each case starts from a good snapshot of collection ``s`` and damages it the way an attacker with write
access to a snapshot directory could (recomputing checksums where that helps the attack). The target
data dir already holds collection ``other``; after every refusal its files and its database rows are
exactly as before, nothing is left in a staging area, and the good snapshot still restores.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli_app
from core.errors import InvalidInput
from core.settings import Settings
from ingest.readers import SourceDocument
from services.snapshots import collection_tables, create_snapshot, restore_snapshot
from tests.conftest import make_engine

DIM = 384
_VOLATILE = {".write.lock", ".write.generation", ".write.generation.tmp", ".swap.lock", ".migrate.lock"}


def _fill(engine, name: str, count: int, start: int = 0) -> None:  # noqa: ANN001
    engine.create_collection(name)
    rng = np.random.default_rng(start)
    docs, vectors = [], {}
    for i in range(start, start + count):
        vector = rng.normal(size=DIM).astype(np.float32)
        vectors[f"d{i}"] = vector / np.linalg.norm(vector)
        docs.append(SourceDocument(f"d{i}", f"document number {i}", None, {"i": i, "tag": "t"}))
    assert engine.ingest(name, docs, vectors=vectors).added == count


def _world(tmp_path: Path, embedders, target_settings: Settings):  # noqa: ANN001, ANN202
    """(target engine, good snapshot path): ``s`` in the snapshot has ids that ``other`` in the target does not use."""
    source = make_engine(Settings(data_dir=tmp_path / "source", _env_file=None), embedders)
    target = make_engine(target_settings, embedders)
    try:
        _fill(source, "a", 10)  # takes ids 1-10, so the snapshot's rows are 11-16
        _fill(source, "s", 6, start=100)
        good = Path(create_snapshot(source.context, "s", tmp_path / "snaps").path)
        _fill(target, "other", 10, start=200)
        yield target, good
    finally:
        source.close()
        target.close()


@pytest.fixture
def world(tmp_path, embedders, settings):  # noqa: ANN001, ANN201
    """The target on each database kind (``settings``: SQLite, and PostgreSQL when reachable)."""
    yield from _world(tmp_path, embedders, settings)


@pytest.fixture
def sqlite_world(tmp_path, embedders, sqlite_settings):  # noqa: ANN001, ANN201
    """The target on SQLite in tmp_path/data, the data dir the CLI's ``env`` fixture points at."""
    yield from _world(tmp_path, embedders, sqlite_settings)


def _state(engine) -> tuple[list, dict]:  # noqa: ANN001
    """Every file of the data dir (but the database and lock files) with its content, and every row."""
    files = []
    root = engine.settings.data_dir
    for path in sorted(root.rglob("*")):
        if path.name in _VOLATILE or path.name.startswith("latentspace.db"):
            continue
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else _sha(path)
        files.append((str(path.relative_to(root)), kind))
    with engine.sessions() as session:
        rows = {t.name: sorted(repr(tuple(r)) for r in session.execute(select(t))) for t in collection_tables()}
    return files, rows


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(snap: Path, edit: Callable[[dict], None]) -> None:
    manifest = json.loads((snap / "manifest.json").read_text())
    edit(manifest)
    (snap / "manifest.json").write_text(json.dumps(manifest))


def _rows(snap: Path, table: str, edit: Callable[[list[str]], list[str]], rehash: bool = True) -> None:
    """Rewrite a table file's lines; with ``rehash`` the checksum is recomputed, as an attacker would."""
    file = snap / "tables" / f"{table}.jsonl"
    file.write_text("".join(edit(file.read_text().splitlines(keepends=True))))
    if rehash:
        _manifest(snap, lambda m: m["files"].__setitem__(f"tables/{table}.jsonl", _sha(file)))


def _edit_first_row(table: str, change: Callable[[dict], None]) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        row = json.loads(lines[0])
        change(row)
        return [json.dumps(row) + "\n", *lines[1:]]

    return edit


def _outside_relative(snap: Path) -> None:
    outside = snap.parent / "outside.txt"
    outside.write_text("not part of the snapshot")
    _manifest(snap, lambda m: m["files"].__setitem__("../outside.txt", _sha(outside)))


def _outside_absolute(snap: Path) -> None:
    outside = snap.parent / "absolute.txt"
    outside.write_text("not part of the snapshot")
    _manifest(snap, lambda m: m["files"].__setitem__(str(outside), _sha(outside)))


def _table_file_outside(snap: Path) -> None:
    elsewhere = snap.parent / "documents.jsonl"
    shutil.copy(snap / "tables" / "documents.jsonl", elsewhere)
    _manifest(snap, lambda m: m["tables"]["documents"].__setitem__("file", "../documents.jsonl"))


def _symlink_file(snap: Path) -> None:
    secret = snap.parent / "secret.txt"
    secret.write_text("a system file")
    os.symlink(secret, snap / "index" / "secret.bin")
    _manifest(snap, lambda m: m["files"].__setitem__("index/secret.bin", _sha(secret)))


def _symlink_dir(snap: Path) -> None:
    (snap.parent / "etc").mkdir()
    (snap.parent / "etc" / "passwd").write_text("root:x:0:0")
    os.symlink(snap.parent / "etc", snap / "index" / "etc")
    _manifest(snap, lambda m: m["files"].__setitem__("index/etc/passwd", _sha(snap.parent / "etc" / "passwd")))


def _unlisted_table(snap: Path) -> None:
    _rows(snap, "documents", _edit_first_row("documents", lambda r: r["metadata"].update(tag="forged")), False)
    _manifest(snap, lambda m: m["files"].pop("tables/documents.jsonl"))


def _unlisted_file(snap: Path) -> None:
    (snap / "index" / "extra.bin").write_bytes(b"smuggled")


def _bad_name(snap: Path) -> None:
    _rows(snap, "collections", _edit_first_row("collections", lambda r: r.update(name="../../escape")))
    _manifest(snap, lambda m: m.update(collection="../../escape"))


def _other_name_in_row(snap: Path) -> None:
    _rows(snap, "collections", _edit_first_row("collections", lambda r: r.update(name="other2")))


def _truncated_row(snap: Path) -> None:
    _rows(snap, "chunks", lambda lines: [*lines[:-1], lines[-1][: len(lines[-1]) // 2]])


def _missing_row(snap: Path) -> None:
    _rows(snap, "chunks", lambda lines: lines[:-1])


def _nan_metadata(snap: Path) -> None:
    _rows(snap, "documents", lambda lines: [lines[0].replace('"i": 100', '"i": NaN'), *lines[1:]])


def _surrogate_metadata(snap: Path) -> None:
    _rows(snap, "documents", lambda lines: [lines[0].replace('"tag": "t"', '"tag": "\\ud800"'), *lines[1:]])


def _row_of_another_collection(snap: Path) -> None:
    _rows(snap, "documents", _edit_first_row("documents", lambda r: r.update(collection_id=1)))


def _short_vector(snap: Path) -> None:
    forged = base64.b64encode(b"\x00" * 10).decode()
    _rows(snap, "chunks", _edit_first_row("chunks", lambda r: r.update(embedding=forged)))


def _wrong_type(snap: Path) -> None:
    _rows(snap, "documents", _edit_first_row("documents", lambda r: r.update(external_id=5)))


TAMPERINGS = {
    "outside-relative": (_outside_relative, "outside tables/ and index/"),
    "outside-absolute": (_outside_absolute, "outside tables/ and index/"),
    "table-file-outside": (_table_file_outside, "must be stored in tables/documents.jsonl"),
    "symlink-file": (_symlink_file, "link"),
    "symlink-dir": (_symlink_dir, "link"),
    "unlisted-table": (_unlisted_table, "not in the checksum list"),
    "unlisted-file": (_unlisted_file, "does not list"),
    "bad-name": (_bad_name, "not a valid collection name"),
    "other-name-in-row": (_other_name_in_row, "not the manifest's collection"),
    "truncated-row": (_truncated_row, "truncated"),
    "missing-row": (_missing_row, "manifest says"),
    "nan-metadata": (_nan_metadata, "not a JSON row"),
    "surrogate-metadata": (_surrogate_metadata, "lone surrogate"),
    "row-of-another-collection": (_row_of_another_collection, "another collection"),
    "short-vector": (_short_vector, "float32"),
    "wrong-type": (_wrong_type, "external_id"),
}


@pytest.mark.parametrize("case", sorted(TAMPERINGS))
def test_tampered_snapshot_is_refused_and_changes_nothing(world, tmp_path, case) -> None:  # noqa: ANN001
    target, good = world
    tamper, message = TAMPERINGS[case]
    snap = tmp_path / "tampered" / good.name
    shutil.copytree(good, snap, symlinks=True)
    tamper(snap)
    before = _state(target)
    with pytest.raises(InvalidInput, match=message):
        restore_snapshot(target.context, snap)
    assert _state(target) == before
    assert not list(target.settings.index_dir().glob(".restore-*"))
    assert restore_snapshot(target.context, good) == "s"  # a refusal blocks no retry
    assert target.collection_info("s").documents == 6


def test_a_restore_failing_after_the_commit_leaves_nothing_behind(world, monkeypatch) -> None:  # noqa: ANN001
    target, good = world
    before = _state(target)

    def broken(_collection):  # noqa: ANN001, ANN202
        raise RuntimeError("index cannot be loaded")

    with monkeypatch.context() as patch:
        patch.setattr(target.context.vectors, "get", broken)
        with pytest.raises(InvalidInput, match="nothing was restored"):
            restore_snapshot(target.context, good)
    assert _state(target) == before  # no half-restored collection: start-up and a retry are not blocked
    assert restore_snapshot(target.context, good) == "s"
    assert target.collection_info("s").indexed_vectors == 6


def test_api_and_cli_refuse_a_tampered_snapshot_in_one_line(sqlite_world, env) -> None:  # noqa: ANN001
    target, good = sqlite_world
    snaps = target.settings.snapshots_dir()
    snaps.mkdir(parents=True)
    tampered = snaps / "tampered"
    shutil.copytree(good, tampered)
    _bad_name(tampered)
    os.symlink(good, snaps / "linked")  # the snapshot directory itself may not be a link either
    before = _state(target)
    with TestClient(create_app(target.settings, engine=target)) as client:
        for snapshot_id in ("tampered", "linked"):
            response = client.post(f"/v1/admin/snapshots/{snapshot_id}/restore")
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "invalid_input"
    result = CliRunner().invoke(cli_app, ["snapshot", "restore", str(tampered)])
    assert result.exit_code == 1
    assert "not a valid collection name" in result.output and "Traceback" not in result.output
    assert _state(target) == before


def test_a_row_the_database_cannot_store_is_a_clear_error(world, tmp_path) -> None:  # noqa: ANN001
    """NUL in text is storable in SQLite, not in PostgreSQL: there, a 422-class error and nothing written."""
    target, good = world
    snap = tmp_path / "nul" / good.name
    shutil.copytree(good, snap)
    _rows(snap, "chunks", _edit_first_row("chunks", lambda r: r.update(text="a\x00b")))
    before = _state(target)
    with target.context.sessions() as session:
        dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        with pytest.raises(InvalidInput, match="do not fit this database"):
            restore_snapshot(target.context, snap)
        assert _state(target) == before
    else:
        assert restore_snapshot(target.context, snap) == "s"
