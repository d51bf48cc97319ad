"""HTML to text: visible text only, block elements on their own lines, whitespace normalised."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, CData, NavigableString, Tag

from ingest.readers.plain import decode_text, read_bytes, require_text

# Elements whose content is never visible text.
_DROPPED = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe", "object"})
_PARAGRAPH_BLOCKS = frozenset(
    "address article aside blockquote details dialog dd div dl fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr main nav ol p pre section table ul".split()
)
_LINE_BLOCKS = frozenset({"li", "dt", "tr", "caption", "summary", "option", "legend"})
_CELLS = frozenset({"td", "th"})
_INLINE_SPACE = re.compile(r"\s+")
_SPACES = re.compile(r"[ \t]+")
# Separators are private-use marks while walking, so a run of them (plus the whitespace between
# adjacent blocks) collapses to one line or paragraph break afterwards.
_PARA, _LINE = "\ue000", "\ue001"
_BREAK_RUN = re.compile(r"[ \ue000\ue001]*[\ue000\ue001][ \ue000\ue001]*")


def read_html(path: Path) -> tuple[str, dict[str, Any]]:
    soup = BeautifulSoup(decode_text(path, read_bytes(path)), "html.parser")
    title_tag = soup.find("title")
    title = _INLINE_SPACE.sub(" ", title_tag.get_text()).strip() if title_tag else ""
    text = require_text(path, _visible_text(soup))
    return text, ({"title": title} if title else {})


def _visible_text(root: Tag) -> str:
    # Iterative walk with explicit separator markers (plain str, unlike NavigableString) pushed after a
    # block's children, so deep documents cannot hit the recursion limit.
    parts: list[str] = []
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if type(node) is str:
            parts.append(node)
        elif isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):  # skips comments, doctype, processing instructions
                parts.append(_INLINE_SPACE.sub(" ", node))
        elif isinstance(node, Tag) and node.name not in _DROPPED:
            sep = _separator(node.name)
            parts.append(sep)
            stack.append(sep)
            stack.extend(reversed(node.contents))
    return _normalise("".join(parts))


def _separator(name: str) -> str:
    if name in _PARAGRAPH_BLOCKS:
        return _PARA
    if name in _LINE_BLOCKS or name == "br":
        return _LINE
    return " " if name in _CELLS else ""


def _normalise(text: str) -> str:
    text = _SPACES.sub(" ", text)  # source newlines were already folded into spaces per text node
    text = _BREAK_RUN.sub(lambda m: "\n\n" if _PARA in m.group() else "\n", text)
    return text.strip()
