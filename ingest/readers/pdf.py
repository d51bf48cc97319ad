"""PDF text extraction with pypdf, recording each page's char span in the joined text."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from core.errors import UnreadableFile
from ingest.readers.plain import read_bytes

PAGE_SEPARATOR = "\n\n"


def read_pdf(path: Path) -> tuple[str, dict[str, Any], list[tuple[int, int]]]:
    from pypdf import PdfReader  # imported lazily: only PDF ingests pay for it

    data = read_bytes(path)
    # pypdf raises a wide, version-dependent mix of exceptions on damaged input (PdfReadError, KeyError,
    # ValueError, struct.error ...); for untrusted files any of them just means "not readable".
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile(f"{path}: encrypted PDF")
        page_texts, failed = _extract_pages(reader)
    except UnreadableFile:
        raise
    except Exception as exc:
        raise UnreadableFile(f"{path}: not a readable PDF ({type(exc).__name__})") from None
    text, spans = _join_pages(page_texts)
    if not text:
        raise UnreadableFile(f"{path}: PDF has no extractable text (scanned images?)")
    extra: dict[str, Any] = {"pages": len(page_texts)}
    if failed:
        extra["unreadable_pages"] = failed
    return text, extra, spans


def _extract_pages(reader: Any) -> tuple[list[str], list[int]]:
    """Text of each page; a page that fails to extract counts as empty rather than losing the file."""
    texts: list[str] = []
    failed: list[int] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            raw = page.extract_text() or ""
        except Exception as exc:  # same reasoning as in read_pdf: damaged page content
            logging.getLogger(__name__).debug("page %d: %s", number, exc)
            failed.append(number)
            raw = ""
        # NUL is no text (and PostgreSQL cannot store it); some PDFs' text layers contain it
        texts.append(raw.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip())
    return texts, failed


def _join_pages(page_texts: list[str]) -> tuple[str, list[tuple[int, int]]]:
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for text in page_texts:
        if text and parts:
            parts.append(PAGE_SEPARATOR)
            pos += len(PAGE_SEPARATOR)
        spans.append((pos, pos + len(text)))
        if text:
            parts.append(text)
            pos += len(text)
    return "".join(parts), spans
