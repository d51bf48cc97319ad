"""Recommendations through the HTTP API and the CLI, on the block-structured data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from cli.main import app as cli_app
from tests.recsys.blocks import block_matrix

PARAMS = {"factors": 4, "iterations": 15, "regularization": 5.0, "alpha": 10.0, "weighting": "binary"}


def block_events() -> list[dict]:
    coo = block_matrix().tocoo()
    return [{"user": f"u{u}", "item": f"i{i}", "value": 1.0} for u, i in zip(coo.row, coo.col, strict=True)]


@pytest.fixture
def client(sqlite_engine):  # noqa: ANN001, ANN201
    with TestClient(create_app(sqlite_engine.settings, engine=sqlite_engine)) as test_client:
        assert test_client.post("/v1/collections", json={"name": "c"}).status_code == 201
        docs = [
            {"id": "i0", "text": "a film about space travel", "metadata": {"genre": "scifi"}},
            {"id": "cold", "text": "a film about rockets and space", "metadata": {"genre": "scifi"}},
        ]
        assert test_client.post("/v1/collections/c/documents", json={"documents": docs}).status_code == 200
        yield test_client


def test_api_end_to_end(client, sqlite_engine) -> None:  # noqa: ANN001
    assert client.get("/v1/collections/c/users/u0/recommendations").json()["error"]["code"] == "model_not_fitted"
    added = client.post("/v1/collections/c/interactions", json={"interactions": block_events()}).json()
    assert added["added"] == 540 and added["failed"] == 0
    result = sqlite_engine.recommendations.train("c", "als", PARAMS)
    assert 0.0 <= result["metrics"]["ndcg@10"] <= 1.0 and result["active"]
    listed = client.get("/v1/collections/c/model-versions").json()
    assert [v["version"] for v in listed] == [result["version"]] and listed[0]["params"]["factors"] == 4
    assert listed[0]["metrics"]["tuning"]["fixed"] == sorted(PARAMS) and "validation_ndcg@10" in listed[0]["metrics"]
    body = client.get("/v1/collections/c/users/u0/recommendations", params={"k": 4, "explain": "true"}).json()
    assert body["source"] == "model" and len(body["items"]) == 4
    assert {i["id"] for i in body["items"]} <= {f"i{n}" for n in range(10)}
    assert all(i["reasons"] for i in body["items"])
    unknown = client.get("/v1/collections/c/users/nobody/recommendations").json()
    assert unknown["source"] == "popularity"
    cold = client.post(
        "/v1/collections/c/recommendations", json={"positive": ["i20", "i21"], "negative": ["i22"], "k": 3}
    ).json()
    assert cold["source"] == "fold_in" and {i["id"] for i in cold["items"]} <= {f"i{n}" for n in range(23, 30)}
    similar = client.get("/v1/collections/c/items/i12/similar", params={"k": 3}).json()
    assert similar["source"] == "latent" and len(similar["items"]) == 3
    content = client.get("/v1/collections/c/items/cold/similar", params={"k": 1}).json()
    assert content["source"] == "content" and content["items"][0]["id"] == "i0"
    filtered = client.get(
        "/v1/collections/c/users/u5/recommendations",
        params={"filter": json.dumps({"genre": "scifi"}), "exclude_seen": "false"},
    ).json()
    assert [i["id"] for i in filtered["items"]] == ["i0"] and filtered["items"][0]["metadata"] == {"genre": "scifi"}


def test_api_bad_input(client) -> None:  # noqa: ANN001
    bad = client.post("/v1/collections/c/interactions", json={"interactions": [{"user": "", "item": "x"}]})
    assert bad.status_code == 422
    assert client.post("/v1/collections/zz/interactions", json={"interactions": []}).status_code == 404
    assert client.get("/v1/collections/c/users/u/recommendations", params={"filter": "{"}).status_code == 422


runner = CliRunner()



def test_cli_ingest_train_recommend(env: Path) -> None:
    coo = block_matrix().tocoo()
    lines = [f"{u}\t{i}\t5\t88125094{u % 10}" for u, i in zip(coo.row, coo.col, strict=True)]
    data = env / "u.data"
    data.write_text("\n".join(lines + ["7", "8\t3\tnot-a-number\t1"]) + "\n")
    result = runner.invoke(cli_app, ["ingest-interactions", str(data), "--collection", "c"])
    assert result.exit_code == 0, result.output
    assert "540 added" in result.stdout and "line 541" in result.output and "line 542" in result.output
    trained = runner.invoke(cli_app, ["train", "-c", "c", "--model", "ease", "--params", '{"lambda": 10}'])
    assert trained.exit_code == 0 and "ndcg@10=" in trained.stdout, trained.output
    assert "tuned ease on validation folds" in trained.stdout and '"lambda": 10' in trained.stdout
    listed = runner.invoke(cli_app, ["model-versions", "-c", "c", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["metrics"]["tuning"]["chose"] == "ease"
    assert runner.invoke(cli_app, ["model-versions", "-c", "c"]).exit_code == 0
    rec = runner.invoke(cli_app, ["recommend", "0", "-c", "c", "-k", "4", "--json"])
    assert rec.exit_code == 0, rec.output
    assert {i["id"] for i in json.loads(rec.stdout)["items"]} <= {str(n) for n in range(10)}
    report = runner.invoke(cli_app, ["eval", "recsys", str(data), "--model", "popularity", "--model", "ease", "--json"])
    assert report.exit_code == 0, report.output
    assert [r["model"] for r in json.loads(report.stdout)] == ["popularity", "ease"]
    assert "ndcg@10" in json.loads(report.stdout)[1]


def test_cli_errors(env: Path) -> None:
    assert runner.invoke(cli_app, ["ingest-interactions", str(env / "missing.csv"), "-c", "c"]).exit_code != 0
    bad = env / "x.csv"
    bad.write_text("who,what\na,b\n")
    result = runner.invoke(cli_app, ["ingest-interactions", str(bad), "-c", "c"])
    assert result.exit_code == 1 and "columns found ['who', 'what']" in result.output and "--user COL" in result.output
    named = runner.invoke(cli_app, ["ingest-interactions", str(bad), "-c", "c", "--user", "who", "--item", "why"])
    assert named.exit_code != 0 and "header lacks" in named.output
    assert runner.invoke(cli_app, ["train", "-c", "c", "--model", "svd"]).exit_code != 0
