"""CLI errors and outputs that need no embedding model; topic quality metrics on the planted corpus."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from eval.topics import evaluate_documents, npmi_coherence, topic_diversity
from latent.documents import DocumentMatrix
from services.topics import TopicParams
from tests.latent.planted import planted_corpus


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:  # noqa: ANN001
    monkeypatch.setenv("LATENTSPACE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LATENTSPACE_DATABASE_URL", raising=False)
    return CliRunner()


def test_cli_errors_are_one_line_and_non_zero(runner: CliRunner) -> None:
    for args in (["topics", "fit", "-c", "missing"], ["map", "fit", "-c", "missing"],
                 ["compress", "outliers", "-c", "missing"], ["eval", "topics", "-c", "missing"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and "does not exist" in result.output, (args, result.output)
    assert runner.invoke(app, ["compress", "evaluate"]).exit_code == 1


def test_cli_compress_evaluate_on_a_vector_file(runner: CliRunner, tmp_path) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    data = rng.normal(size=(400, 4)) @ rng.normal(size=(4, 32))
    np.save(tmp_path / "base.npy", data.astype(np.float16))
    result = runner.invoke(app, ["compress", "evaluate", "--vectors", str(tmp_path / "base.npy"), "--dims", "4",
                                 "--holdout", "50"])
    assert result.exit_code == 0, result.output
    assert "pca" in result.output and "faiss_sq8" in result.output and "recall@10" in result.output
    bad = runner.invoke(app, ["compress", "evaluate", "--vectors", str(tmp_path / "base.npy"), "--dims", "x"])
    assert bad.exit_code == 1 and "--dims" in bad.output


def test_topic_quality_metrics() -> None:
    assert topic_diversity([["a", "b"], ["b", "c"]]) == 0.75
    texts = [["a", "b"], ["a", "b"], ["c", "d"], ["c", "d"]]
    assert npmi_coherence([["a", "b"], ["c", "d"]], texts) == pytest.approx(1.0, abs=1e-6)
    docs, vectors = planted_corpus(per_topic=15)
    matrix = DocumentMatrix(np.arange(len(docs)), [d for d, _, _ in docs],
                            np.vstack([vectors[d] for d, _, _ in docs]), [t for _, t, _ in docs])
    for params in (TopicParams("lda", 3), TopicParams("cluster", 3)):
        quality = evaluate_documents(matrix, params)
        assert quality.diversity == 1.0 and quality.npmi > 0.0 and quality.topics == 3
