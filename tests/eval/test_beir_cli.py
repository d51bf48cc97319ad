"""``latentspace eval beir`` and ``eval ann`` end to end on a tiny BEIR folder the test writes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()
CORPUS = [
    ("d1", "Volcanoes", "Lava flows from an erupting volcano and cools into basalt."),
    ("d2", "Bread", "Knead the dough and bake the loaf in a hot oven."),
    ("d3", "Moon", "The moon orbits the earth every twenty-seven days."),
    ("d4", "Vaccines", "Vaccines train the immune system to recognise a pathogen."),
    ("d5", "Rivers", "Rivers carry sediment from mountains down to the sea."),
]
QUERIES = {"q1": "what happens when a volcano erupts", "q2": "how to bake bread", "q3": "immune response"}
QRELS = [("q1", "d1", 1), ("q2", "d2", 1), ("q3", "d4", 1)]



def write_beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    with (root / "corpus.jsonl").open("w") as out:
        for doc_id, title, text in CORPUS:
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text, "metadata": {}}) + "\n")
    with (root / "queries.jsonl").open("w") as out:
        for query_id, text in QUERIES.items():
            out.write(json.dumps({"_id": query_id, "text": text, "metadata": {}}) + "\n")
        out.write(json.dumps({"_id": "unjudged", "text": "not in the qrels"}) + "\n")
    lines = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{s}" for q, d, s in QRELS)]
    (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return root


def eval_json(*args: str) -> dict:
    result = runner.invoke(app, ["eval", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_eval_beir_reports_every_metric_and_reuses_a_named_collection(env: Path) -> None:
    folder = write_beir(env / "tiny")
    report = eval_json("beir", str(folder), "--collection", "tiny", "--k", "5")
    assert report["queries"] == 3 and report["ingest"]["added"] == 5
    assert [run["mode"] for run in report["runs"]] == ["dense", "lexical", "hybrid:convex"]
    for run in report["runs"]:
        assert set(run["metrics"]) == {"ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"}
        assert run["metrics"]["recall@10"] == 1.0  # 5 documents, k=5: every relevant one is returned
        assert 0.0 < run["metrics"]["ndcg@10"] <= 1.0
        assert set(run["latency_ms"]) == {"p50", "p90", "p95", "p99"}
    assert report["runs"][0]["metrics"]["mrr@10"] == 1.0  # plain sentences: MiniLM ranks each first
    assert (env / "data" / "eval" / "beir-tiny-test.json").exists()
    assert (env / "data" / "eval" / "beir-tiny-test.md").read_text().startswith("# Evaluation")
    again = eval_json("beir", str(folder), "--collection", "tiny", "--k", "5", "--mode", "hybrid", "--fusion", "rrf")
    assert again["ingest"]["unchanged"] == 5 and again["ingest"]["chunks_embedded"] == 0
    assert [run["mode"] for run in again["runs"]] == ["hybrid:rrf"]
    listed = runner.invoke(app, ["collections", "list"])
    assert "tiny" in listed.stdout


def test_eval_beir_temporary_collection_is_removed_and_table_printed(env: Path) -> None:
    folder = write_beir(env / "tiny")
    result = runner.invoke(app, ["eval", "beir", str(folder), "--mode", "lexical", "--out", str(env / "r")])
    assert result.exit_code == 0, result.output
    assert "ndcg@10" in result.stdout and (env / "r.json").exists()
    listed = runner.invoke(app, ["collections", "list"])
    assert "beir-tmp" not in listed.stdout


def test_eval_beir_refuses_bad_input(env: Path) -> None:
    missing = runner.invoke(app, ["eval", "beir", str(env / "nowhere")])
    assert missing.exit_code != 0 and "no such directory" in missing.output
    (env / "empty").mkdir()
    not_beir = runner.invoke(app, ["eval", "beir", str(env / "empty")])
    assert not_beir.exit_code != 0 and "corpus.jsonl is missing" in not_beir.output
    folder = write_beir(env / "tiny")
    bad_mode = runner.invoke(app, ["eval", "beir", str(folder), "--mode", "fuzzy"])
    assert bad_mode.exit_code != 0 and "unknown --mode" in bad_mode.output
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\tyes\n")
    bad_qrels = runner.invoke(app, ["eval", "beir", str(folder)])
    assert bad_qrels.exit_code != 0 and "integer score" in bad_qrels.output


def test_eval_ann_against_exact_search(env: Path) -> None:
    folder = write_beir(env / "tiny")
    eval_json("beir", str(folder), "--collection", "tiny", "--mode", "dense")
    report = eval_json("ann", "--collection", "tiny", "--queries", "5", "--k", "3", "--fraction", "0.5")
    assert report["vectors"] == 5 and report["queries"] == 5
    assert report["recall@3"] == 1.0 and report["filtered"]["recall@3"] == 1.0
    assert 1 <= report["filtered"]["allowed"] <= 5
    unknown = runner.invoke(app, ["eval", "ann", "--collection", "nope"])
    assert unknown.exit_code != 0 and "nope" in unknown.output
    configured = runner.invoke(app, ["index", "lexical", "--collection", "tiny", "--stemmer", "none"])
    assert configured.exit_code == 0 and "stemmer='none'" in configured.output
    refused = runner.invoke(app, ["index", "lexical", "--collection", "tiny", "--stopwords", "fr"])
    assert refused.exit_code != 0 and "stopwords" in refused.output


def test_eval_beir_per_backend_names_it_and_refuses_a_mismatch(env: Path) -> None:
    folder = write_beir(env / "tiny")
    report = eval_json("beir", str(folder), "--k", "5", "--mode", "dense", "--backend", "onnx-int8")
    assert report["backend"] == "onnx-int8" and report["ingest"]["added"] == 5
    assert report["runs"][0]["metrics"]["recall@10"] == 1.0
    assert "backend `onnx-int8`" in (env / "data" / "eval" / "beir-tiny-test.md").read_text()
    default_made = eval_json("beir", str(folder), "--collection", "kept", "--k", "5", "--mode", "lexical")
    assert default_made["backend"] == "onnx-int8"  # the default for new text collections
    refused = runner.invoke(app, ["eval", "beir", str(folder), "-c", "kept", "--backend", "torch"])
    assert refused.exit_code == 1 and "was embedded with backend 'onnx-int8'" in refused.output
