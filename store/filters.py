"""Metadata filters compiled to SQL expressions, never interpolated strings.

Grammar (all conditions are ANDed)::

    {"lang": "en"}                          equality (string, number or boolean)
    {"lang": {"$in": ["en", "de"]}}         membership ($nin for exclusion)
    {"year": {"$gte": 2000, "$lt": 2010}}   numeric range ($gt, $gte, $lt, $lte)
    {"lang": {"$ne": "en"}}                 inequality

    {"topic": 3}                            documents assigned topic 3 by the active topic model
    {"topic": {"$in": [1, 2]}}              (integer ids, -1 = outliers; other values of a "topic"
                                            key filter the metadata field "topic" as usual)

Field names are metadata keys (letters, digits, ``_ - .``). A numeric comparison only matches
documents whose value is a JSON number, so a stray string never raises a database cast error.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, case, false, func, not_, or_, select, true

from core.errors import InvalidFilter
from store.models import Document
from store.models_topics import DocumentTopic, TopicModel

_FIELD = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_RANGE_OPS = {"$gt": "__gt__", "$gte": "__ge__", "$lt": "__lt__", "$lte": "__le__"}
_SCALAR = (str, int, float, bool)


def compile_filter(spec: dict[str, Any] | None, dialect: str) -> ColumnElement[bool]:
    """Turn a filter dict into a boolean SQL expression over ``Document``."""
    if not spec:
        return true()
    if not isinstance(spec, dict):
        raise InvalidFilter("filter must be an object mapping metadata fields to conditions")
    return and_(*(_field_condition(field, cond, dialect) for field, cond in spec.items()))


def _field_condition(field: str, cond: Any, dialect: str) -> ColumnElement[bool]:
    if field == "topic" and _topic_ids(cond):
        return _topic_condition(_topic_ids(cond))
    if not isinstance(field, str) or not _FIELD.match(field):
        raise InvalidFilter(f"invalid filter field name {field!r}")
    if not isinstance(cond, dict):
        return _equals(field, cond, dialect)
    if not cond:
        raise InvalidFilter(f"empty condition for field {field!r}")
    parts = []
    for op, value in cond.items():
        if op == "$eq":
            parts.append(_equals(field, value, dialect))
        elif op == "$ne":
            parts.append(_negate(_equals(field, value, dialect)))
        elif op in ("$in", "$nin"):
            if not isinstance(value, list) or not value:
                raise InvalidFilter(f"{op} for {field!r} needs a non-empty list")
            member = or_(*(_equals(field, v, dialect) for v in value))
            parts.append(member if op == "$in" else _negate(member))
        elif op in _RANGE_OPS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidFilter(f"{op} for {field!r} needs a number")
            parts.append(getattr(_number(field, dialect), _RANGE_OPS[op])(value))
        else:
            raise InvalidFilter(f"unknown filter operator {op!r} for {field!r}")
    return and_(*parts)


def _topic_ids(cond: Any) -> list[int] | None:
    """Integer topic ids (``3`` or ``{"$in": [1, 2]}``); other values filter a metadata field "topic"."""
    wanted = cond.get("$in") if isinstance(cond, dict) and list(cond) == ["$in"] else [cond]
    if isinstance(wanted, list) and wanted and all(type(t) is int for t in wanted):
        return wanted
    return None


def _topic_condition(wanted: list[int]) -> ColumnElement[bool]:
    active = (
        select(TopicModel.id)
        .where(TopicModel.collection_id == Document.collection_id, TopicModel.active)
        .order_by(TopicModel.id.desc())
        .limit(1)
        .correlate(Document)
        .scalar_subquery()
    )
    assigned = select(DocumentTopic.document_id).where(
        DocumentTopic.model_id == active, DocumentTopic.rank == 0, DocumentTopic.topic_id.in_(wanted)
    )
    return Document.id.in_(assigned)


def _equals(field: str, value: Any, dialect: str) -> ColumnElement[bool]:
    if value is None or not isinstance(value, _SCALAR):
        raise InvalidFilter(f"filter value for {field!r} must be a string, number or boolean")
    if isinstance(value, bool):
        word = "true" if value else "false"
        if dialect == "sqlite":  # json_type() names booleans 'true' / 'false'
            return _json_type(field, dialect) == word
        return and_(_json_type(field, dialect) == "boolean", _text(field) == word)
    if isinstance(value, int | float):
        return _number(field, dialect) == value
    return and_(_json_type(field, dialect).in_(_STRING_TYPES[dialect]), _text(field) == value)


def _negate(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    # A document without the field is "not equal": turn SQL's unknown into false before negating.
    return not_(func.coalesce(condition, false(), type_=Boolean))


def _text(field: str) -> ColumnElement[Any]:
    return Document.metadata_[field].as_string()


def _number(field: str, dialect: str) -> ColumnElement[Any]:
    # SQL does not promise to evaluate AND left to right, so guard the cast itself.
    return case((_is_number(field, dialect), Document.metadata_[field].as_float()), else_=None)


_NUMBER_TYPES = {"sqlite": ("integer", "real"), "postgresql": ("number",)}
_STRING_TYPES = {"sqlite": ("text",), "postgresql": ("string",)}


def _json_type(field: str, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.jsonb_typeof(Document.metadata_[field])
    if dialect == "sqlite":
        return func.json_type(Document.metadata_, f'$."{field}"')
    raise InvalidFilter(f"metadata filters are not supported on {dialect}")


def _is_number(field: str, dialect: str) -> ColumnElement[bool]:
    if dialect not in _NUMBER_TYPES:
        return false()
    return _json_type(field, dialect).in_(_NUMBER_TYPES[dialect])
