"""Image files → RGB pictures, content hashes, metadata and thumbnails (Pillow only).

Decoding is defensive: the pixel count in the header is checked before any pixel is decoded (so a
decompression bomb costs a header read), EXIF orientation is applied, every mode (greyscale, palette,
CMYK, alpha) becomes RGB on a white background, and a truncated or corrupt file raises
:class:`~core.errors.UnreadableFile` naming the file. An animated GIF contributes its first frame.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from core.errors import InvalidInput, UnreadableFile

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"})
IMAGE_FORMATS: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "MPO"})
_EXIF_IFD = 0x8769
_TAG_DATETIME, _TAG_MAKE, _TAG_MODEL, _TAG_DATETIME_ORIGINAL = 306, 271, 272, 36867


@dataclass
class DecodedImage:
    """One decoded picture: ``image`` is RGB, ``content_hash`` the SHA-256 of the file's bytes."""

    image: Image.Image
    content_hash: str
    metadata: dict[str, Any]


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_image(data: bytes, name: str, max_pixels: int) -> DecodedImage:
    """Bytes of one image file → :class:`DecodedImage`; ``name`` only labels error messages."""
    if not data:
        raise UnreadableFile(f"{name}: empty file")
    with warnings.catch_warnings():
        # Our own limit below replaces Pillow's process-wide one (which only warns up to 2x).
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise UnreadableFile(f"{name}: image exceeds the pixel limit (decompression bomb?)") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise UnreadableFile(f"{name}: not a readable image ({_reason(exc)})") from None
        width, height = opened.size
        if opened.format not in IMAGE_FORMATS:
            raise UnreadableFile(f"{name}: unsupported image format {opened.format!r}")
        if width * height > max_pixels:
            raise UnreadableFile(
                f"{name}: {width}x{height} pixels exceeds the limit of {max_pixels} (LATENTSPACE_IMAGE_MAX_PIXELS)"
            )
        try:
            opened.seek(0)  # first frame of an animation
            opened.load()
            metadata = image_metadata(opened, len(data))
            upright = ImageOps.exif_transpose(opened)
            rgb = to_rgb(upright)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise UnreadableFile(f"{name}: corrupt or truncated image ({_reason(exc)})") from None
    metadata["width"], metadata["height"] = rgb.size
    return DecodedImage(rgb, hash_bytes(data), metadata)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode → RGB; transparent pixels become white rather than the black of a bare convert."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = image.convert("F").point(lambda v: v / 256.0).convert("L")  # 16-bit greyscale → 8-bit
    return image.convert("RGB")


def image_metadata(image: Image.Image, size_bytes: int) -> dict[str, Any]:
    """Format, original mode and EXIF date/camera (when present) as flat, filterable fields."""
    meta: dict[str, Any] = {
        "format": (image.format or "").lower(),
        "mode": image.mode,
        "size_bytes": size_bytes,
        "frames": int(getattr(image, "n_frames", 1)),
    }
    exif = image.getexif()
    taken = _exif_text(exif.get_ifd(_EXIF_IFD).get(_TAG_DATETIME_ORIGINAL)) or _exif_text(exif.get(_TAG_DATETIME))
    if taken:
        meta["taken_at"] = _exif_date(taken)
    for key, tag in (("camera_make", _TAG_MAKE), ("camera_model", _TAG_MODEL)):
        value = _exif_text(exif.get(tag))
        if value:
            meta[key] = value
    return meta


def _exif_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned[:200] or None


def _exif_date(value: str) -> str:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` → ISO 8601 (so range filters compare as strings); else as given."""
    date, _, time = value.partition(" ")
    parts = date.split(":")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return "-".join(parts) + (f"T{time}" if time else "")
    return value


_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _reason(exc: BaseException) -> str:
    """The library's first line without object reprs: Pillow names the in-memory buffer it was given
    (``cannot identify image file <_io.BytesIO object at 0x…>``); the caller names the file instead."""
    text = _OBJECT_REPR.sub("", str(exc)).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def thumbnail_jpeg(image: Image.Image, size: int) -> bytes:
    """A JPEG no larger than ``size`` x ``size``, aspect ratio kept."""
    thumb = image.copy()
    thumb.thumbnail((size, size))
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def thumbnail_dir(data_dir: Path, collection_id: int) -> Path:
    return data_dir / "thumbnails" / str(int(collection_id))


def thumbnail_path(data_dir: Path, collection_id: int, content_hash: str) -> Path:
    """Names come from the collection id and the content hash only, never from user input."""
    if len(content_hash) != 64 or any(c not in "0123456789abcdef" for c in content_hash):
        raise InvalidInput("thumbnail names must be SHA-256 hex digests")
    return thumbnail_dir(data_dir, collection_id) / f"{content_hash}.jpg"


def write_thumbnail(path: Path, image: Image.Image, size: int) -> None:
    """Write atomically (temp file + rename) and skip when the same content already has one."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(thumbnail_jpeg(image, size))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_image_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of an image file, refusing files over ``max_bytes`` before reading them."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnreadableFile(f"{path}: {size} bytes exceeds the image size limit of {max_bytes}")
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror or exc}") from None
