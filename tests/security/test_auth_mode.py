"""Issue 18, class 1: revoking the last key must never reopen the API (``LATENTSPACE_AUTH=auto|on|off``)."""

from __future__ import annotations

from services.keys import KeyStore
from tests.ops.conftest import *  # noqa: F403 (the client fixtures)


def test_revoking_every_key_does_not_reopen_the_api(client, sqlite_engine) -> None:  # noqa: ANN001
    assert client.get("/v1/collections").status_code == 200  # auto, no key ever created: open (local use)
    store = KeyStore(sqlite_engine.sessions)
    key, info = store.create("only", ["admin"])
    assert client.get("/v1/collections").status_code == 401
    store.revoke(str(info.id))
    for method, path in (("GET", "/v1/collections"), ("POST", "/v1/collections"), ("GET", "/v1/admin/snapshots")):
        response = client.request(method, path, json={"name": "reopened"} if method == "POST" else None)
        assert response.status_code == 401, f"{method} {path} after revoking the last key: {response.status_code}"
    assert client.get("/v1/collections", headers={"X-API-Key": key}).status_code == 401
    assert "reopened" not in str(sqlite_engine.list_collections())


def test_revocation_seen_by_a_fresh_app_too(make_client, sqlite_engine) -> None:  # noqa: ANN001
    """A restarted server (a new app, nothing remembered) decides from the table, revoked rows included."""
    store = KeyStore(sqlite_engine.sessions)
    store.revoke(str(store.create("gone", ["read"])[1].id))
    assert make_client().get("/v1/collections").status_code == 401


def test_auth_on_requires_a_key_before_any_exists(make_client) -> None:  # noqa: ANN001
    client = make_client(auth="on")
    assert client.get("/v1/collections").status_code == 401
    assert client.get("/health/live").status_code == 200


def test_auth_off_checks_nothing(make_client, sqlite_engine) -> None:  # noqa: ANN001
    KeyStore(sqlite_engine.sessions).create("exists", ["read"])
    client = make_client(auth="off")
    assert client.get("/v1/collections").status_code == 200
    assert client.get("/v1/admin/snapshots").status_code == 200


def test_anonymous_read_still_only_reads_after_revocation(make_client, sqlite_engine) -> None:  # noqa: ANN001
    store = KeyStore(sqlite_engine.sessions)
    store.revoke(str(store.create("gone", ["write"])[1].id))
    client = make_client(allow_anonymous_read=True)
    assert client.get("/v1/collections").status_code == 200
    assert client.post("/v1/collections", json={"name": "x"}).status_code == 401


def test_cli_says_the_api_stays_closed_after_the_last_revoke(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("LATENTSPACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LATENTSPACE_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["keys", "create", "--name", "ops", "--scope", "admin"]).exit_code == 0
    revoked = runner.invoke(app, ["keys", "revoke", "1"])
    assert revoked.exit_code == 0 and "does not reopen" in revoked.output
