"""Issue 18, class 9: upload errors name the file, never ``<_io.BytesIO object at 0x…>``."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.app import create_app
from tests.images.conftest import *  # noqa: F403 (the tiny-CLIP engine fixtures)
from tests.images.conftest import picture

OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def test_upload_errors_name_the_file(image_engine) -> None:  # noqa: ANN001
    with TestClient(create_app(image_engine.settings, engine=image_engine)) as client:
        assert client.post("/v1/collections", json={"name": "album", "modality": "image"}).status_code == 201
        files = [
            ("files", ("good.png", picture((10, 20, 30)), "image/png")),
            ("files", ("holiday notes.png", b"this is not a picture", "image/png")),
            ("files", ("empty-ish.gif", b"GIF89a" + b"\0" * 10, "image/gif")),
        ]
        mixed = client.post("/v1/collections/album/images", files=files)
        only_bad = client.post("/v1/collections/album/images", files=[files[1]])
    assert mixed.status_code == 200 and mixed.json()["failed"] == 2, mixed.text
    errors = mixed.json()["errors"]
    assert any(e.startswith("holiday notes.png:") for e in errors) and any("empty-ish.gif" in e for e in errors)
    assert not any(OBJECT_REPR.search(e) for e in errors), errors
    message = only_bad.json()["error"]["message"]
    assert only_bad.status_code == 422 and "holiday notes.png" in message and not OBJECT_REPR.search(message)
