"""The one validation layer for JSON values that reach the database: metadata, interaction values, filters.

Every entry point (API bodies, image form fields, CLI readers, snapshot restore, filters) calls these
functions, so a value is refused the same way everywhere, before anything is written. What is refused,
and why each rule exists:

* non-finite floats (NaN, Infinity): Python's json writes them, but they are not JSON; SQLite's JSON
  functions then fail on the whole column ("malformed JSON") and every filtered search returned 500;
* lone surrogates in strings or keys: they cannot be encoded as UTF-8, so every response holding them failed;
* integers outside the signed 64-bit range: the database drivers cannot bind them (OverflowError);
* nesting deeper than :data:`MAX_DEPTH`: pydantic refuses to serialise very deep values, Python's json
  recurses, and no metadata needs it.

Reading is defensive too (:func:`clean_json`, installed as the engine's JSON deserializer by
store/session.py): a row written before these rules, or by another tool, is repaired on the way out
(NaN → null, lone surrogate → U+FFFD, too deep → null) instead of failing every read of its collection.
"""

from __future__ import annotations

import json
import math
from typing import Any

from core.errors import InvalidFilter, InvalidInput

MAX_DEPTH = 32  # levels of nested objects/arrays inside one metadata value
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_KEY_CHARS = 256  # a metadata key; filters address keys of at most 128 characters
# Filter bounds: one filter compiles to one SQL statement, so these bound its size and its bind parameters.
MAX_FILTER_FIELDS = 32  # fields ANDed in one filter
MAX_FILTER_VALUES = 1000  # values in one $in / $nin list
MAX_FILTER_OPERANDS = 2000  # values in the whole filter (SQLite binds at most 32,766 parameters)
MAX_FILTER_STRING = 1024  # characters of one string operand

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_FILTER_FIELDS",
    "MAX_FILTER_OPERANDS",
    "MAX_FILTER_STRING",
    "MAX_FILTER_VALUES",
    "check_document",
    "check_finite",
    "check_interaction",
    "check_json",
    "check_metadata",
    "check_operand",
    "check_text",
    "clean_json",
    "dump_json",
    "load_json",
]


def check_metadata(value: Any, where: str = "metadata") -> dict[str, Any]:
    """``value`` if it is a JSON object that can be stored and read back; else InvalidInput naming ``where``.

    Stable signature: snapshot restore and every ingest path call it.
    """
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object, not {_type_name(value)}")
    check_json(value, where)
    return value


def check_json(value: Any, where: str, max_depth: int = MAX_DEPTH, error: type[InvalidInput] = InvalidInput) -> None:
    """Raise ``error`` unless ``value`` is plain, storable JSON (see the module doc for the rules).

    Iterative, so a hostile depth cannot exhaust Python's recursion limit before it is refused.
    """
    stack: list[tuple[Any, int, str]] = [(value, 0, where)]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise error(f"{path}: nested deeper than {max_depth} levels")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(item, dict):
                    _check_key(key, path, error)
                stack.append((child, depth + 1, _child_path(path, key, isinstance(item, dict))))
        else:
            _check_scalar(item, path, error)


def _child_path(path: str, key: Any, in_object: bool) -> str:
    if len(path) > 120:  # keep error messages one readable line however deep the value goes
        return path if path.endswith("…") else path + "…"
    return f"{path}.{key}" if in_object else f"{path}[{key}]"


def _check_key(key: Any, path: str, error: type[InvalidInput]) -> None:
    if not isinstance(key, str):
        raise error(f"{path}: object keys must be strings, not {_type_name(key)}")
    if len(key) > MAX_KEY_CHARS:
        raise error(f"{path}: key longer than {MAX_KEY_CHARS} characters")
    check_text(key, f"{path} key", error)


def _check_scalar(item: Any, path: str, error: type[InvalidInput]) -> None:
    if item is None or isinstance(item, bool):
        return
    if isinstance(item, str):
        check_text(item, path, error)
    elif isinstance(item, int):
        if not INT64_MIN <= item <= INT64_MAX:
            raise error(f"{path}: integer outside the 64-bit range")
    elif isinstance(item, float):
        if not math.isfinite(item):
            raise error(f"{path}: {item!r} is not a JSON number (NaN and Infinity are refused)")
    else:
        raise error(f"{path}: {_type_name(item)} is not a JSON value")


def check_text(value: str, where: str, error: type[InvalidInput] = InvalidInput) -> str:
    """``value`` if it encodes as UTF-8 and holds no NUL; else ``error``. A lone surrogate (``"\\ud800"`` in
    JSON) cannot be encoded by any response; PostgreSQL stores no NUL in text or JSONB."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{where}: text contains a lone surrogate (invalid Unicode)") from None
    if "\x00" in value:
        raise error(f"{where}: text contains a NUL character")
    return value


def check_finite(value: Any, where: str, error: type[InvalidInput] = InvalidInput) -> float:
    """``value`` as a float if it is a finite number (bools refused); else ``error`` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"{where} must be a number, not {_type_name(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise error(f"{where} is too large") from None
    if not math.isfinite(number):
        raise error(f"{where} must be a finite number, not {value!r}")
    return number


def check_operand(value: Any, where: str) -> Any:
    """A filter operand: a string (≤ MAX_FILTER_STRING chars), a finite number in range, or a boolean."""
    if isinstance(value, str) and len(value) > MAX_FILTER_STRING:
        raise InvalidFilter(f"{where}: string operand longer than {MAX_FILTER_STRING} characters")
    if not isinstance(value, str | int | float | bool):
        raise InvalidFilter(f"{where}: filter values must be strings, numbers or booleans")
    _check_scalar(value, where, InvalidFilter)
    return value


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# ----------------------------------------------------------------------------- reading and writing


def clean_json(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` that every reader can serialise: NaN/Infinity → None, lone surrogates → U+FFFD,
    nesting beyond MAX_DEPTH → None. Valid values come back equal."""
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return None
        return {_clean_str(str(k)): clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return None if depth >= MAX_DEPTH else [clean_json(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return _clean_str(value)
    return value


def _clean_str(value: str) -> str:
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)


def load_json(text: str | bytes) -> Any:
    """The database engines' JSON deserializer: parse, then :func:`clean_json` (see the module doc)."""
    try:
        value = json.loads(text)
    except RecursionError:  # deeper than Python's json can parse: unreadable, read as an empty value
        return {} if text.lstrip()[:1] in ("{", b"{") else None  # an object column stays an object
    return clean_json(value)


def dump_json(value: Any) -> str:
    """The engines' JSON serializer: strict JSON, so a NaN that escaped validation fails instead of being stored."""
    return json.dumps(value, allow_nan=False)


# ----------------------------------------------------------------------------- documents and interactions

MAX_ID_CHARS = 512  # documents.external_id is VARCHAR(512); PostgreSQL would refuse a longer one mid-write
MAX_INTERACTION_VALUE = 1e12  # |value| of one interaction: sums of many stay finite


def check_document(external_id: Any, text: Any, metadata: Any, source_uri: Any = None) -> None:
    """Raise InvalidInput unless a document's id, text, source and metadata can all be stored and read back."""
    if not isinstance(external_id, str) or not external_id:
        raise InvalidInput("document id must be a non-empty string")
    if len(external_id) > MAX_ID_CHARS:
        raise InvalidInput(f"document id {external_id[:40]!r}… is longer than {MAX_ID_CHARS} characters")
    check_text(external_id, f"document id {external_id[:40]!r}")
    where = f"document {external_id!r}"
    if not isinstance(text, str):
        raise InvalidInput(f"{where}: text must be a string")
    check_text(text, f"{where} text")
    if source_uri is not None:
        check_text(str(source_uri), f"{where} source")
    check_metadata(metadata, f"{where} metadata")


def check_interaction(user: Any, item: Any, value: Any, timestamp: Any = None) -> None:
    """Raise InvalidInput unless one interaction (user, item, value, optional timestamp) can be stored."""
    for role, name in (("user", user), ("item", item)):
        if not isinstance(name, str) or not name or len(name) > MAX_ID_CHARS:
            raise InvalidInput(f"interaction {role} must be a string of 1-{MAX_ID_CHARS} characters")
        check_text(name, f"interaction {role} {name[:40]!r}")
    number = check_finite(value, f"interaction value for {user[:40]!r}/{item[:40]!r}")
    if abs(number) > MAX_INTERACTION_VALUE:
        raise InvalidInput(f"interaction value {number!r} is outside ±{MAX_INTERACTION_VALUE:g}")
    if timestamp is not None:
        check_finite(timestamp, f"interaction timestamp for {user[:40]!r}/{item[:40]!r}")
