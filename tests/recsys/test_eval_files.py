"""``eval recsys`` reads every interaction format ingest-interactions reads and recognises common headers."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app as cli_app
from ingest.readers.interaction_columns import recognise
from tests.recsys.blocks import block_matrix

runner = CliRunner()
MODELS = ["--model", "popularity", "--model", "ease"]


def rows() -> list[tuple[int, int, int]]:
    coo = block_matrix().tocoo()
    return [(int(u), int(i), 881250000 + n) for n, (u, i) in enumerate(zip(coo.row, coo.col, strict=True))]


def write_files(directory: Path) -> dict[str, Path]:
    data = rows()
    files = {
        "u.data": "\n".join(f"{u}\t{i}\t4\t{t}" for u, i, t in data),
        "ratings.csv": "userId,movieId,rating,timestamp\n" + "\n".join(f"{u},{i},4.0,{t}" for u, i, t in data),
        "log.tsv": "user_id\titem_id\n" + "\n".join(f"{u}\t{i}" for u, i, _ in data),
        "events.jsonl": "\n".join(json.dumps({"user": str(u), "item": str(i), "ts": t}) for u, i, t in data),
    }
    for name, text in files.items():
        (directory / name).write_text(text + "\n")
    return {name: directory / name for name in files}


def evaluate(path: Path, *options: str) -> list[dict]:
    result = runner.invoke(cli_app, ["eval", "recsys", str(path), *MODELS, "--json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_common_headers_evaluate_without_options(env: Path) -> None:
    files = write_files(env)
    reports = {name: evaluate(path) for name, path in files.items()}
    reference = reports["u.data"]
    assert [r["model"] for r in reference] == ["popularity", "ease"] and reference[0]["users"] == 90
    for report in reports.values():  # the same interactions, so the same split and the same numbers
        assert [r["ndcg@10"] for r in report] == [r["ndcg@10"] for r in reference]
        assert report[1]["interactions"] == reference[1]["interactions"] == 540


def test_column_options_and_unknown_headers(env: Path) -> None:
    odd = env / "odd.csv"
    odd.write_text("who,what,stars\n" + "\n".join(f"{u},{i},5" for u, i, _ in rows()) + "\n")
    result = runner.invoke(cli_app, ["eval", "recsys", str(odd), "--model", "popularity"])
    assert result.exit_code == 1
    assert "columns found ['who', 'what', 'stars']" in result.output and "--user COL --item COL" in result.output
    assert result.output.count("error:") == 1
    named = evaluate(odd, "--user", "who", "--item", "what")
    assert named[0]["users"] == 90
    plain = env / "plain.tsv"
    plain.write_text("\n".join(f"{u}\t{i}" for u, i, _ in rows()) + "\n")
    assert evaluate(plain, "--no-header")[1]["interactions"] == 540


def test_eval_tune_chooses_on_validation(env: Path) -> None:
    files = write_files(env)
    report = evaluate(files["ratings.csv"], "--tune", "--budget", "5")
    ease = report[1]
    assert ease["chose"] == "ease" and ease["tuning"]["searches"][0]["trials"]
    assert 0 <= ease["validation_ndcg@10"] <= 1 and "tuned on a validation split" in ease["protocol"]


def test_recognised_header_names() -> None:
    assert recognise(["userId", "movieId", "rating", "timestamp"]) == {
        "user": "userId",
        "item": "movieId",
        "value": "rating",
        "timestamp": "timestamp",
    }
    assert recognise(["USER_ID", "Item-Id"]) == {"user": "USER_ID", "item": "Item-Id"}
    assert recognise(["customer_id", "product_id", "quantity", "created_at"])["item"] == "product_id"
    assert recognise(["a", "b"]) == {}
