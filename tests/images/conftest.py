"""Fixtures for image tests: a tiny random CLIP (built once per session) and engines that use it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import make_engine
from tests.images.clip_model import build_clip


@pytest.fixture(scope="session")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_clip(tmp_path_factory.mktemp("tiny-clip")))


@pytest.fixture(scope="session")
def clip_embedders(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from ingest.embedders import EmbedderCache

    return EmbedderCache(batch_size=16, export_root=tmp_path_factory.mktemp("clip-onnx-exports"))


@pytest.fixture
def image_settings(tmp_path: Path, clip_path: str):
    from core.settings import Settings

    return Settings(data_dir=tmp_path / "data", image_model=clip_path, _env_file=None)


@pytest.fixture
def image_engine(image_settings, clip_embedders):  # noqa: ANN001, ANN201
    eng = make_engine(image_settings, clip_embedders)
    yield eng
    eng.close()


def picture(colour: tuple[int, int, int], size: tuple[int, int] = (48, 40), fmt: str = "PNG", **save) -> bytes:
    """A picture with a colour block and a diagonal, so different colours give different vectors."""
    image = Image.new("RGB", size, colour)
    for i in range(min(size)):
        image.putpixel((i, i), (255 - colour[0], 255 - colour[1], 255 - colour[2]))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """Six pictures of three colours, one greyscale, one RGBA, plus a text file and a corrupt .jpg."""
    root = tmp_path / "photos"
    (root / "red").mkdir(parents=True)
    (root / "blue").mkdir()
    for i in range(2):
        (root / "red" / f"red_{i}.png").write_bytes(picture((200 + i * 20, 10, 10)))
        (root / "blue" / f"blue_{i}.jpg").write_bytes(picture((10, 10, 200 + i * 20), fmt="JPEG"))
    grey = io.BytesIO()
    Image.new("L", (30, 30), 128).save(grey, format="PNG")
    (root / "grey.png").write_bytes(grey.getvalue())
    rgba = io.BytesIO()
    Image.new("RGBA", (30, 30), (0, 255, 0, 100)).save(rgba, format="PNG")
    (root / "green.webp").write_bytes(picture((0, 255, 0), fmt="WEBP"))
    (root / "alpha.png").write_bytes(rgba.getvalue())
    (root / "broken.jpg").write_bytes(picture((1, 2, 3), fmt="JPEG")[:120])
    (root / "notes.txt").write_text("not a picture")
    return root
