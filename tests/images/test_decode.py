"""Decoding, EXIF, pixel limits and thumbnails on pictures generated with Pillow."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from core.errors import InvalidInput, UnreadableFile
from ingest.images import decode_image, thumbnail_jpeg, thumbnail_path
from tests.images.conftest import picture

LIMIT = 1_000_000


def _encode(image: Image.Image, fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming a huge canvas, with almost no data behind it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"\x00\x00\x00\x00IEND\xaeB`\x82"


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "LA", "I;16"])
def test_every_mode_becomes_rgb(mode: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    decoded = decode_image(_encode(Image.new(mode, (20, 10)), fmt), f"x.{fmt.lower()}", LIMIT)
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (20, 10)
    assert decoded.metadata["mode"] == mode


def test_transparent_pixels_become_white() -> None:
    decoded = decode_image(_encode(Image.new("RGBA", (4, 4), (255, 0, 0, 0)), "PNG"), "a.png", LIMIT)
    assert decoded.image.getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_date_and_camera() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[271], exif[272], exif[306] = "Acme", "Cam 1", "2024:05:06 07:08:09"
    data = _encode(Image.new("RGB", (40, 20), (9, 9, 9)), "JPEG", exif=exif)
    decoded = decode_image(data, "r.jpg", LIMIT)
    assert decoded.image.size == (20, 40)
    meta = decoded.metadata
    assert (meta["width"], meta["height"]) == (20, 40)
    assert meta["taken_at"] == "2024-05-06T07:08:09"
    assert (meta["camera_make"], meta["camera_model"], meta["format"]) == ("Acme", "Cam 1", "jpeg")


def test_gif_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    decoded = decode_image(buffer.getvalue(), "a.gif", LIMIT)
    assert decoded.metadata["frames"] == 3
    assert decoded.image.getpixel((0, 0)) == (255, 0, 0)


def test_same_bytes_same_hash_and_bmp_webp() -> None:
    for fmt in ("BMP", "WEBP"):
        data = picture((1, 2, 3), fmt=fmt)
        assert decode_image(data, "x", LIMIT).content_hash == decode_image(data, "y", LIMIT).content_hash


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (picture((1, 2, 3), fmt="JPEG")[:150], "x.jpg"),
        (picture((1, 2, 3), size=(64, 64), fmt="PNG")[:-40], "x.jpg"),
        (b"definitely not an image", "not a readable image"),
        (b"", "empty file"),
        (_bomb_png(100_000, 100_000), "exceeds"),
        (_bomb_png(2_000, 1_000), "2000x1000 pixels exceeds the limit of 1000000"),
    ],
)
def test_bad_files_raise_unreadable(data: bytes, needle: str) -> None:
    with pytest.raises(UnreadableFile) as info:
        decode_image(data, "x.jpg", LIMIT)
    assert needle in info.value.message


def test_thumbnail_fits_box_and_path_comes_from_hash(tmp_path) -> None:  # noqa: ANN001
    decoded = decode_image(picture((5, 6, 7), size=(300, 150)), "big.png", LIMIT)
    thumb = Image.open(io.BytesIO(thumbnail_jpeg(decoded.image, 64)))
    assert thumb.format == "JPEG" and thumb.size == (64, 32)
    path = thumbnail_path(tmp_path, 3, decoded.content_hash)
    assert path == tmp_path / "thumbnails" / "3" / f"{decoded.content_hash}.jpg"
    with pytest.raises(InvalidInput):
        thumbnail_path(tmp_path, 3, "../../etc/passwd")
