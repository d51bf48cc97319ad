"""Argument shaping shared by the sync and async clients: calls in, public types out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from latentspace import calls
from latentspace.errors import InvalidInput
from latentspace.types import CollectionInfo, Hit, WriteResult


class Default(Enum):
    """``create_collection(name)`` without ``model``: the server's default model (``model=None``: no model)."""

    MODEL = "default"


def create_body(model: str | None | Default, dimension: int | None, options: dict[str, Any]) -> dict[str, Any]:
    body = dict(options)
    if model is not Default.MODEL:
        body["model"] = model  # None stays: an explicit null asks for a bring-your-own-vector collection
    if dimension is not None:
        body["dimension"] = dimension
    return body


def check_existing(info: CollectionInfo, model: str | None | Default, dimension: int | None) -> CollectionInfo:
    """An existing collection that get_or_create_collection may return: the model and dimension asked agree."""
    if model is not Default.MODEL and model != info.model:
        raise InvalidInput(f"collection {info.name!r} uses model {info.model!r}, not {model!r}", "embedder_mismatch")
    if dimension is not None and dimension != info.dimension:
        raise InvalidInput(
            f"collection {info.name!r} has {info.dimension}-d vectors, not {dimension}", "dimension_mismatch"
        )
    return info


def search_body(
    query: str | None,
    vector: Any,
    k: int,
    filter: dict | None,
    mode: str | None,
    explain: bool,
    options: dict,  # noqa: A002, ANN401
) -> dict[str, Any]:
    return {
        "query": query,
        "vector": vector,
        "k": k,
        "filter": filter,
        "mode": mode,
        "explain": explain or None,
    } | options


def hits(answer: dict[str, Any]) -> list[Hit]:
    return [Hit.from_json(h) for h in answer["hits"]]


def strict_write(answer: dict[str, Any], total: int) -> WriteResult:
    """The write's result; InvalidInput naming each refused document when any was refused."""
    result = WriteResult.from_json(answer)
    if result.failed:
        stored = total - result.failed
        raise InvalidInput(
            f"{result.failed} of {total} documents were refused ({stored} stored): " + "; ".join(result.errors[:10]),
            "invalid_input",
        )
    return result


def image_bytes(image: bytes | str | Path | None) -> bytes | None:
    if image is None or isinstance(image, bytes):
        return image
    try:
        return Path(image).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read image {str(image)!r}: {exc.strerror}", "invalid_input") from None


def interactions(events: Iterable[Any]) -> list[dict[str, Any]]:
    """``{"user", "item", "value"?, "timestamp"?}`` objects from dicts or (user, item[, value[, timestamp]])."""
    shaped = []
    for event in events:
        if isinstance(event, dict):
            shaped.append(dict(event))
        elif isinstance(event, Sequence) and not isinstance(event, str) and 2 <= len(event) <= 4:
            shaped.append(dict(zip(("user", "item", "value", "timestamp"), event, strict=False)))
        else:
            raise InvalidInput(
                f"an interaction is a dict or (user, item[, value[, timestamp]]), not {event!r}", "invalid_input"
            )
    return shaped


def missing(exc: Exception) -> bool:
    """Whether an error only says the document is not there (get and delete skip those)."""
    return getattr(exc, "code", None) in calls.MISSING_OK
