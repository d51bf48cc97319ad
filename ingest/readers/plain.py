"""Decoding files strictly as UTF-8 text, and the plain-text and Markdown readers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.errors import UnreadableFile

SNIFF_BYTES = 8192
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_MATTER_LINE = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*$")
_ATX_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{path}: is a directory") from None
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror or exc}") from None


def check_not_binary(path: Path | str, head: bytes) -> None:
    """Reject content that is almost certainly not text (NUL bytes near the start)."""
    if b"\x00" in head[:SNIFF_BYTES]:
        raise UnreadableFile(f"{path}: binary content (NUL bytes), not a text document")


def decode_text(path: Path | str, data: bytes) -> str:
    """Strict UTF-8 (BOM tolerated), newlines normalised to ``\\n``; raises UnreadableFile otherwise."""
    check_not_binary(path, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{path}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at {exc.start})"
        ) from None
    return require_text(path, text.replace("\r\n", "\n").replace("\r", "\n"))


def require_text(path: Path | str, text: str) -> str:
    if not text.strip():
        raise UnreadableFile(f"{path}: empty (no text)")
    return text


def read_plain(path: Path) -> tuple[str, dict[str, Any]]:
    return decode_text(path, read_bytes(path)), {}


def read_markdown(path: Path) -> tuple[str, dict[str, Any]]:
    """Markdown is kept as text; YAML front matter is removed from it and its simple keys kept."""
    text = decode_text(path, read_bytes(path))
    extra: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        fields = dict(
            m.groups() for line in match.group(1).splitlines() if (m := _FRONT_MATTER_LINE.match(line))
        )
        extra["front_matter"] = {k: v.strip("'\"") for k, v in fields.items()}
        text = require_text(path, text[match.end() :])
    title = extra.get("front_matter", {}).get("title")
    heading = _ATX_H1.search(text)
    if title or heading:
        extra["title"] = title or heading.group(1)
    return text, extra
