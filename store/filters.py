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
Bounds (store/values.py, docs/OPERATIONS.md): at most 32 fields, 1000 values per $in/$nin, 2000 values
in all, strings of 1024 characters, finite numbers, integers in the signed 64-bit range.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, case, false, func, not_, or_, select, true

from core.errors import InvalidFilter
from store.models import Document
from store.models_topics import DocumentTopic, TopicModel
from store.values import MAX_FILTER_FIELDS, MAX_FILTER_OPERANDS, MAX_FILTER_VALUES, check_operand

_FIELD = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_RANGE_OPS = {"$gt": "__gt__", "$gte": "__ge__", "$lt": "__lt__", "$lte": "__le__"}
_SCALAR = (str, int, float, bool)


def compile_filter(spec: dict[str, Any] | None, dialect: str) -> ColumnElement[bool]:
    """Turn a filter dict into a boolean SQL expression over ``Document``.

    Every dimension is bounded before any SQL is built (store/values.py: fields, values per list,
    operands in total, string length, integer range, finite numbers), so a hostile filter is a 422,
    never a huge statement or a driver overflow.
    """
    if not spec:
        return true()
    if not isinstance(spec, dict):
        raise InvalidFilter("filter must be an object mapping metadata fields to conditions")
    if len(spec) > MAX_FILTER_FIELDS:
        raise InvalidFilter(f"a filter may name at most {MAX_FILTER_FIELDS} fields, not {len(spec)}")
    budget = [MAX_FILTER_OPERANDS]
    condition = and_(*(_field_condition(field, cond, dialect, budget) for field, cond in spec.items()))
    if dialect == "sqlite":
        # A row stored before validation (NaN, too deep) makes SQLite's JSON functions raise for the
        # whole query: such rows simply never match. CASE evaluates its branches in order.
        return case((func.json_valid(Document.metadata_) == 1, condition), else_=false())
    return condition


def _field_condition(field: str, cond: Any, dialect: str, budget: list[int]) -> ColumnElement[bool]:
    topics = _topic_ids(cond) if field == "topic" else None
    if topics is not None:
        _spend(budget, len(topics), field)
        return _topic_condition(topics)
    if not isinstance(field, str) or not _FIELD.match(field):
        raise InvalidFilter(f"invalid filter field name {str(field)[:64]!r}")
    if not isinstance(cond, dict):
        _spend(budget, 1, field)
        return _equals(field, check_operand(cond, f"filter {field!r}"), dialect)
    if not cond:
        raise InvalidFilter(f"empty condition for field {field!r}")
    return and_(*(_operator(field, op, value, dialect, budget) for op, value in cond.items()))


def _operator(field: str, op: str, value: Any, dialect: str, budget: list[int]) -> ColumnElement[bool]:
    where = f"filter {field!r} {str(op)[:16]}"
    if op in ("$eq", "$ne"):
        _spend(budget, 1, field)
        equal = _equals(field, check_operand(value, where), dialect)
        return equal if op == "$eq" else _negate(equal)
    if op in ("$in", "$nin"):
        if not isinstance(value, list) or not value:
            raise InvalidFilter(f"{op} for {field!r} needs a non-empty list")
        if len(value) > MAX_FILTER_VALUES:
            raise InvalidFilter(f"{op} for {field!r} has {len(value)} values; the limit is {MAX_FILTER_VALUES}")
        _spend(budget, len(value), field)
        member = _member(field, [check_operand(v, where) for v in value], dialect)
        return member if op == "$in" else _negate(member)
    if op in _RANGE_OPS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFilter(f"{op} for {field!r} needs a number")
        _spend(budget, 1, field)
        return getattr(_number(field, dialect), _RANGE_OPS[op])(check_operand(value, where))
    raise InvalidFilter(f"unknown filter operator {str(op)[:32]!r} for {field!r}")


def _spend(budget: list[int], count: int, field: str) -> None:
    budget[0] -= count
    if budget[0] < 0:
        raise InvalidFilter(f"filter has more than {MAX_FILTER_OPERANDS} values in total (at {field!r})")


def _topic_ids(cond: Any) -> list[int] | None:
    """Integer topic ids (``3`` or ``{"$in": [1, 2]}``); other values filter a metadata field "topic"."""
    wanted = cond.get("$in") if isinstance(cond, dict) and list(cond) == ["$in"] else [cond]
    if not (isinstance(wanted, list) and wanted and all(type(t) is int for t in wanted)):
        return None
    if len(wanted) > MAX_FILTER_VALUES:
        raise InvalidFilter(f"$in for 'topic' has {len(wanted)} values; the limit is {MAX_FILTER_VALUES}")
    for topic in wanted:
        check_operand(topic, "filter 'topic'")  # within the 64-bit range the database can bind
    return wanted


def _topic_condition(wanted: list[int]) -> ColumnElement[bool]:
    # Topic ids are 32-bit columns: PostgreSQL refuses to compare them with a larger integer (a 500), and
    # no topic can have such an id, so it simply matches nothing.
    wanted = [topic for topic in wanted if -(2**31) <= topic < 2**31]
    if not wanted:
        return false()
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


def _member(field: str, values: list[Any], dialect: str) -> ColumnElement[bool]:
    """``field`` equals one of ``values``: one SQL IN per JSON type instead of one OR branch per value
    (SQLite refuses expression trees deeper than 1000, and IN is one index-friendly comparison)."""
    strings = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    parts = [_equals(field, flag, dialect) for flag in sorted({v for v in values if isinstance(v, bool)})]
    if strings:
        parts.append(and_(_json_type(field, dialect).in_(_STRING_TYPES[dialect]), _text(field).in_(strings)))
    if numbers:
        parts.append(_number(field, dialect).in_(numbers))
    return or_(*parts)


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
