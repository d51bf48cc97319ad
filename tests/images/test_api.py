"""The image endpoints through the ASGI app: upload, search by picture, thumbnails, clear 4xx/503."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.app import create_app
from tests.images.conftest import picture


@pytest.fixture
def client(image_engine):  # noqa: ANN001
    with TestClient(create_app(image_engine.settings, engine=image_engine)) as test_client:
        yield test_client


@pytest.fixture
def album(client):  # noqa: ANN001
    created = client.post("/v1/collections", json={"name": "album", "modality": "image"})
    assert created.status_code == 201, created.text
    assert created.json()["modality"] == "image"
    files = [
        ("files", (f"shot_{i}.png", picture((40 * i, 200 - 30 * i, 90)), "image/png")) for i in range(5)
    ]
    response = client.post("/v1/collections/album/images", files=files, data={"metadata": '{"trip": "alps"}'})
    assert response.status_code == 200, response.text
    assert (response.json()["added"], response.json()["chunks_embedded"]) == (5, 5)
    return client


def test_upload_is_idempotent_and_reports_bad_files(album) -> None:  # noqa: ANN001
    again = album.post(
        "/v1/collections/album/images",
        files=[
            ("files", ("shot_0.png", picture((0, 200, 90)), "image/png")),
            ("files", ("bad.jpg", b"\xff\xd8\xff garbage", "image/jpeg")),
        ],
        data={"metadata": '{"trip": "alps"}'},
    )
    body = again.json()
    assert (body["unchanged"], body["failed"], body["chunks_embedded"]) == (1, 1, 0)
    assert "bad.jpg" in body["errors"][0]
    only_bad = album.post("/v1/collections/album/images", files=[("files", ("x.png", b"nope", "image/png"))])
    assert only_bad.status_code == 422 and only_bad.json()["error"]["code"] == "unreadable_file"


def test_upload_limits(client, image_engine) -> None:  # noqa: ANN001
    client.post("/v1/collections", json={"name": "album", "modality": "image"})
    image_engine.settings.image_max_bytes = 1024
    big = picture((1, 2, 3), size=(300, 300), fmt="BMP")
    response = client.post("/v1/collections/album/images", files=[("files", ("big.bmp", big, "image/bmp"))])
    assert response.status_code == 413 and "big.bmp" in response.json()["error"]["message"]
    image_engine.settings.max_upload_files = 1
    two = [("files", (f"{i}.png", picture((i, i, i)), "image/png")) for i in range(2)]
    assert client.post("/v1/collections/album/images", files=two).status_code == 413
    assert client.post("/v1/collections/album/images").status_code == 422
    missing = client.post("/v1/collections/nope/images", files=two[:1])
    assert missing.status_code == 404


def test_text_and_image_search_and_thumbnail(album) -> None:  # noqa: ANN001
    text = album.post("/v1/collections/album/search", json={"query": "a mountain", "k": 3, "mode": "dense"})
    assert text.status_code == 200, text.text
    assert len(text.json()["hits"]) == 3
    query = picture((80, 140, 90))  # exactly shot_2.png's bytes
    found = album.post("/v1/collections/album/search/image", files={"file": ("q.png", query, "image/png")})
    hits = found.json()["hits"]
    assert found.status_code == 200 and len(hits) == 5
    assert hits[0]["metadata"]["filename"] == "shot_2.png" and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert hits[0]["metadata"]["trip"] == "alps"
    by_id = album.post(
        "/v1/collections/album/search/image",
        data={"document_id": hits[1]["id"], "k": "2", "filter": '{"trip": "alps"}'},
    )
    assert by_id.status_code == 200 and by_id.json()["hits"][0]["id"] == hits[1]["id"]
    thumb = album.get(f"/v1/collections/album/documents/{hits[0]['id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (48, 40)
    assert album.get("/v1/collections/album/documents/nope/thumbnail").status_code == 404


def test_search_image_errors(album) -> None:  # noqa: ANN001
    neither = album.post("/v1/collections/album/search/image", data={"k": "3"})
    assert neither.status_code == 422
    bad_filter = album.post("/v1/collections/album/search/image", data={"document_id": "x", "filter": "[1]"})
    assert bad_filter.status_code == 422 and "filter" in bad_filter.json()["error"]["message"]


def test_missing_model_is_503_and_creates_nothing(client, image_engine) -> None:  # noqa: ANN001
    response = client.post("/v1/collections", json={"name": "p", "modality": "image", "model": "clip-ViT-B-32"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "model_unavailable" and "'clip-ViT-B-32'" in error["message"]
    assert "LATENTSPACE_IMAGE_MODEL" in error["message"]
    assert client.get("/v1/collections").json() == []
