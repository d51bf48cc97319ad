"""The ``onnx`` backend of an image collection: CLIP's image tower in ONNX Runtime, equal to torch's vectors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import InvalidInput
from services.image_search import search_by_image
from services.images import ImageInput, ingest_images
from tests.conftest import make_engine
from tests.images.conftest import picture


@pytest.fixture(scope="module")
def onnx_embedders(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from ingest.embedders import EmbedderCache

    return EmbedderCache(batch_size=4, export_root=tmp_path_factory.mktemp("clip-onnx"))


def _pictures() -> list[Image.Image]:
    colours = [(200, 10, 10), (10, 10, 200), (0, 255, 0), (128, 128, 128), (250, 250, 5)]
    sizes = [(48, 40), (31, 77), (120, 33), (32, 32), (200, 180)]
    images = [Image.open(io.BytesIO(picture(c, s))).convert("RGB") for c, s in zip(colours, sizes, strict=True)]
    return [*images, Image.new("L", (30, 30), 90).convert("RGB")]


def test_onnx_image_vectors_equal_torch(onnx_embedders, clip_path: str) -> None:  # noqa: ANN001
    images = _pictures()
    torch_vectors = onnx_embedders.get(clip_path, "torch").embed_images(images)
    onnx = onnx_embedders.get(clip_path, "onnx")
    one_by_one = np.stack([onnx.embed_images([image])[0] for image in images])  # the single-image session
    batched = onnx.embed_images(images)  # batches of 4 on the batch session, a last batch of 2
    np.testing.assert_allclose(batched, torch_vectors, atol=1e-5)
    np.testing.assert_allclose(one_by_one, torch_vectors, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert len({tuple(np.round(v, 4)) for v in batched}) == len(images)  # different pictures, different vectors
    same_text_tower = onnx_embedders.get(clip_path).embed_query("a red square")
    np.testing.assert_allclose(onnx.embed_query("a red square"), same_text_tower)


def test_int8_clip_is_refused(onnx_embedders, clip_path: str) -> None:  # noqa: ANN001
    with pytest.raises(InvalidInput, match="'torch' or 'onnx'"):
        onnx_embedders.get(clip_path, "onnx-int8")


def test_onnx_image_collection_searches_like_torch(tmp_path: Path, clip_path: str, onnx_embedders) -> None:  # noqa: ANN001
    from core.settings import Settings

    engine = make_engine(Settings(data_dir=tmp_path / "data", image_model=clip_path, _env_file=None), onnx_embedders)
    try:
        with pytest.raises(InvalidInput, match="'torch' or 'onnx'"):
            engine.create_collection("int8", modality="image", backend="onnx-int8")
        assert engine.list_collections() == []
        inputs = [ImageInput(f"p{i}", picture((40 * i, 200 - 30 * i, 90)), f"p{i}.png") for i in range(6)]
        for name, backend in (("t", "torch"), ("o", "onnx")):
            assert engine.create_collection(name, modality="image", backend=backend).options["backend"] == backend
            assert ingest_images(engine.context, name, inputs).added == 6
        query = picture((40, 170, 90))  # exactly p1
        torch_hits, onnx_hits = (search_by_image(engine.context, n, query, k=6).hits for n in ("t", "o"))
        assert [h.id for h in torch_hits] == [h.id for h in onnx_hits] and torch_hits[0].id == "p1"
        np.testing.assert_allclose([h.score for h in torch_hits], [h.score for h in onnx_hits], atol=1e-5)
        engine.create_collection("t", modality="image", exist_ok=True, backend="onnx")  # interchangeable
    finally:
        engine.close()


def test_default_int8_falls_back_to_torch_for_a_clip_text_collection(image_engine) -> None:  # noqa: ANN001
    from core.errors import BackendUnsupported

    assert image_engine.settings.embedding_backend == "onnx-int8"  # the default for new text collections
    clip = image_engine.settings.image_model
    with pytest.raises(BackendUnsupported, match="'torch' or 'onnx'"):
        image_engine.create_collection("asked", model=clip, backend="onnx-int8")
    assert image_engine.list_collections() == []
    info = image_engine.create_collection("texts", model=clip)  # backend not asked for: torch
    assert info.options["backend"] == "torch" and info.dimension == 16
