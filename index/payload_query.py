"""A metadata filter answered by the payload index (index/payload.py), with exactly SQL's semantics.

The filter language is store/filters.py's (conditions on several fields and several operators on one field
are ANDed; there is no ``$and``/``$or``), and the caller validates a filter there first, so this module
only ever sees filters SQL accepts. For every chunk and condition it gives the answer SQL gives:

* ``$eq`` (or a bare value): a string matches only a JSON string equal to it; a boolean only that JSON
  boolean; a number only a JSON number equal to it as a float (``1`` matches ``1.0``, never ``true`` or ``"1"``).
  Null, lists, objects and a missing field equal nothing.
* ``$in``: equals one of the values, each compared as by ``$eq``.
* ``$ne`` / ``$nin``: the negation of ``$eq`` / ``$in``, so a chunk whose field is missing, null, a list or
  of another type *does* match (SQL's unknown is turned into false before negating).
* ``$gt $gte $lt $lte``: only JSON numbers, compared as floats.
* A row SQLite cannot parse as JSON (written before validation) matches nothing, not even ``$ne``.

Stored numbers are compared as float64, as both databases cast them (``2**53 + 1`` equals ``2**53`` there too).
What goes back to SQL (:func:`match` returns None): an integer topic-id condition on ``"topic"`` (it reads
the topic model's assignments, not metadata), and a numeric condition whose operand is an integer beyond
±2**53 (SQLite compares it exactly, PostgreSQL rounds it to float64 first) or on a field holding an integer
beyond float64's range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from index.arrays import in_sorted
from index.payload import SAFE_INTEGER, PayloadIndex

_EMPTY = np.zeros(0, dtype=np.int64)
_RANGES = {"$gt": ("right", True), "$gte": ("left", True), "$lt": ("left", False), "$lte": ("right", False)}


class Unanswerable(Exception):
    """This condition needs SQL (see the module docstring)."""


def match(index: PayloadIndex, spec: dict[str, Any]) -> np.ndarray | None:
    """Sorted int64 chunk ids matching the (already validated) filter ``spec``; None when SQL must answer."""
    with index.lock:
        try:
            parts = [
                _condition(index, name, op, value)
                for name, cond in spec.items()
                for op, value in _operators(name, cond)
            ]
        except Unanswerable:
            return None
        if not parts:
            return index.universe().copy()
        parts.sort(key=len)
        result = parts[0]
        for part in parts[1:]:  # smallest first: each step costs |result| log |part|
            if not len(result):
                break
            result = result[in_sorted(result, part)]
        return result.copy() if len(parts) == 1 else result


def _operators(name: str, cond: Any) -> list[tuple[str, Any]]:
    if name == "topic" and _is_topic_condition(cond):
        raise Unanswerable
    return list(cond.items()) if isinstance(cond, dict) else [("$eq", cond)]


def _is_topic_condition(cond: Any) -> bool:
    """The same test as store/filters.py: integer ids (``3`` or ``{"$in": [1, 2]}``) select topics."""
    wanted = cond.get("$in") if isinstance(cond, dict) and list(cond) == ["$in"] else [cond]
    return isinstance(wanted, list) and bool(wanted) and all(type(t) is int for t in wanted)


def _condition(index: PayloadIndex, name: str, op: str, value: Any) -> np.ndarray:
    if op == "$eq":
        return _members(index, name, [value])
    if op == "$in":
        return _members(index, name, value)
    if op == "$ne":
        return _complement(index, _members(index, name, [value]))
    if op == "$nin":
        return _complement(index, _members(index, name, value))
    if op in _RANGES:
        return _range(index, name, op, value)
    raise Unanswerable  # validation should have refused it; SQL will say why


def _key(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, int | float):
        _check_safe(value)
        return ("n", float(value))
    raise Unanswerable


def _check_safe(value: Any) -> None:
    if isinstance(value, int) and not -SAFE_INTEGER <= value <= SAFE_INTEGER:
        raise Unanswerable


def _members(index: PayloadIndex, name: str, values: list[Any]) -> np.ndarray:
    keys = {_key(v) for v in values}
    column = index.column(name)
    if column is None:
        return _EMPTY
    if column.unsafe and any(k[0] == "n" for k in keys):
        raise Unanswerable
    found = [column.equal[k] for k in keys if k in column.equal]
    if not found:
        return _EMPTY
    if len(found) == 1:
        return found[0]
    return np.sort(np.concatenate(found))  # one value per chunk and field: the postings are disjoint


def _complement(index: PayloadIndex, matched: np.ndarray) -> np.ndarray:
    universe = index.universe()
    if not len(matched):
        return universe
    keep = np.ones(len(universe), dtype=bool)
    keep[np.searchsorted(universe, matched)] = False  # postings hold only readable rows: all in the universe
    return universe[keep]


def _range(index: PayloadIndex, name: str, op: str, value: Any) -> np.ndarray:
    _check_safe(value)
    column = index.column(name)
    if column is None:
        return _EMPTY
    if column.unsafe:
        raise Unanswerable
    side, above = _RANGES[op]
    cut = int(np.searchsorted(column.numbers, value, side=side))
    ids = column.number_ids[cut:] if above else column.number_ids[:cut]
    return np.sort(ids)
