"""Image collections through the Engine: creation, ingest, dedup, search both ways, thumbnails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import InvalidInput, ModelUnavailable, NotFound
from services.image_search import search_by_image, thumbnail_for
from services.images import ImageInput, image_files, ingest_images
from services.search.types import SearchRequest
from tests.images.conftest import picture


def _ingest_dir(engine, root: Path):  # noqa: ANN001, ANN202
    from ingest.images import is_image_path

    paths = sorted(p for p in root.rglob("*") if is_image_path(p))
    return ingest_images(engine.context, "photos", image_files(paths, engine.settings.image_max_bytes))


def test_unloadable_model_names_it_and_creates_nothing(image_engine) -> None:  # noqa: ANN001
    image_engine.settings.image_model = "clip-ViT-B-32"
    with pytest.raises(ModelUnavailable) as info:
        image_engine.create_collection("photos", modality="image")
    assert "'clip-ViT-B-32'" in info.value.message and "LATENTSPACE_IMAGE_MODEL" in info.value.message
    assert image_engine.list_collections() == []
    assert not (image_engine.settings.data_dir / "thumbnails").exists()


def test_text_model_is_refused_for_images(image_engine, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(InvalidInput, match="unknown modality"):
        image_engine.create_collection("x", modality="video")
    image_engine.create_collection("texts", model=image_engine.settings.image_model)
    with pytest.raises(InvalidInput, match="text collection"):
        ingest_images(image_engine.context, "texts", [ImageInput("a", picture((1, 1, 1)), "a.png")])


def test_ingest_dedup_and_incremental(image_engine, photo_dir: Path, monkeypatch) -> None:  # noqa: ANN001
    info = image_engine.create_collection("photos", modality="image")
    assert (info.modality, info.dimension) == ("image", 16)
    report = _ingest_dir(image_engine, photo_dir)
    assert (report.added, report.failed, report.chunks_embedded) == (7, 1, 7)
    assert "broken.jpg" in report.errors[0]
    calls: list[int] = []
    embedder = image_engine.embedders.get(info.model)
    original = embedder.embed_images
    monkeypatch.setattr(embedder, "embed_images", lambda images: calls.append(len(images)) or original(images))
    again = _ingest_dir(image_engine, photo_dir)
    assert (again.added, again.unchanged, again.chunks_embedded) == (0, 7, 0)
    assert sum(calls) == 0  # unchanged images are never re-embedded
    (photo_dir / "red" / "red_0.png").write_bytes(picture((0, 0, 0)))
    changed = _ingest_dir(image_engine, photo_dir)
    assert (changed.updated, changed.unchanged, sum(calls)) == (1, 6, 1)


def test_identical_bytes_embedded_once(image_engine) -> None:  # noqa: ANN001
    image_engine.create_collection("photos", modality="image")
    data = picture((7, 7, 7))
    items = [ImageInput(f"id-{i}", data, f"same_{i}.png") for i in range(3)]
    report = ingest_images(image_engine.context, "photos", items)
    assert (report.added, report.chunks_embedded) == (3, 1)


def test_metadata_thumbnails_and_filters(image_engine, photo_dir: Path) -> None:  # noqa: ANN001
    image_engine.create_collection("photos", modality="image")
    _ingest_dir(image_engine, photo_dir)
    uri = (photo_dir / "grey.png").resolve().as_posix()
    doc = image_engine.get_document("photos", uri)
    assert doc["metadata"]["mode"] == "L" and doc["metadata"]["width"] == 30
    assert doc["text"] == "grey"
    path = thumbnail_for(image_engine.context, "photos", uri)
    assert path.is_file() and image_engine.settings.data_dir.resolve() in path.resolve().parents
    path.unlink()  # a missing thumbnail is rebuilt from the unchanged source file
    assert thumbnail_for(image_engine.context, "photos", uri).is_file()
    request = SearchRequest(query="red", k=10, filter={"format": "jpeg"}, mode="dense")
    hits = image_engine.search("photos", request).hits
    assert {h.metadata["suffix"] for h in hits} == {".jpg"} and len(hits) == 2


def test_image_and_text_queries(image_engine, photo_dir: Path) -> None:  # noqa: ANN001
    image_engine.create_collection("photos", modality="image")
    _ingest_dir(image_engine, photo_dir)
    query = (photo_dir / "blue" / "blue_1.jpg").read_bytes()
    hits = search_by_image(image_engine.context, "photos", data=query, k=3).hits
    assert len(hits) == 3 and hits[0].id.endswith("blue/blue_1.jpg")
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    by_id = search_by_image(image_engine.context, "photos", document_id=hits[1].id, k=2).hits
    assert by_id[0].id == hits[1].id
    text_hits = image_engine.search("photos", SearchRequest(query="a photo of a dog", k=4, mode="dense")).hits
    assert len(text_hits) == 4 and all(-1.0 <= h.score <= 1.0 for h in text_hits)
    with pytest.raises(NotFound):
        search_by_image(image_engine.context, "photos", document_id="nope")
    with pytest.raises(InvalidInput):
        search_by_image(image_engine.context, "photos")


def test_image_query_on_text_collection_with_same_clip(image_engine) -> None:  # noqa: ANN001
    from ingest.readers import SourceDocument

    image_engine.create_collection("captions", model=image_engine.settings.image_model)
    docs = [SourceDocument(f"c{i}", text, None, {}) for i, text in enumerate(["a red square", "a blue sky"])]
    image_engine.ingest("captions", docs)
    hits = search_by_image(image_engine.context, "captions", data=picture((200, 0, 0)), k=2).hits
    assert [len(hits), sorted(h.id for h in hits)] == [2, ["c0", "c1"]]
    vector = np.asarray(image_engine.embedders.get(image_engine.settings.image_model).embed_query("a red square"))
    assert vector.shape == (16,)


def test_thumbnails_go_with_the_last_document_that_shows_them(image_engine) -> None:  # noqa: ANN001
    from ingest.images import thumbnail_dir

    image_engine.create_collection("photos", modality="image")
    red, blue = picture((200, 10, 10)), picture((10, 10, 200))
    images = [ImageInput("r1", red, "r1.png"), ImageInput("r2", red, "r2.png"), ImageInput("b", blue, "b.png")]
    ingest_images(image_engine.context, "photos", images)
    folder = thumbnail_dir(image_engine.settings.data_dir, image_engine.context.collection("photos").id)
    ctx = image_engine.context
    red_thumb, blue_thumb = thumbnail_for(ctx, "photos", "r1"), thumbnail_for(ctx, "photos", "b")
    assert red_thumb == thumbnail_for(image_engine.context, "photos", "r2") and len(list(folder.iterdir())) == 2
    image_engine.delete_document("photos", "r1")
    assert red_thumb.exists()  # r2 still shows the same picture
    image_engine.delete_document("photos", "r2")
    assert not red_thumb.exists() and blue_thumb.exists()
    ingest_images(image_engine.context, "photos", [ImageInput("b", picture((10, 200, 10)), "b.png")])  # replaced
    assert not blue_thumb.exists() and thumbnail_for(image_engine.context, "photos", "b").exists()
    image_engine.delete_collection("photos")
    assert not folder.exists()
