"""Which columns of an interaction file hold the user, item, value and timestamp.

Column options given by the user win; the rest is recognised from the header (CSV/TSV) or the first
object's keys (JSONL) by common names, compared case-insensitively and ignoring ``_``/``-``/spaces
(``userId``, ``user_id``, ``movieId``, ``item_id``, ``rating``, ``timestamp``, ...). Whitespace files
(MovieLens ``u.data``) and header-less files are positional: user 0, item 1, and for whitespace files
value 2 and timestamp 3. A file whose user or item column cannot be told gets one error naming the
columns found and the options to use.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from core.errors import InvalidInput, UnreadableFile
from ingest.readers.interactions import Columns, detect_format

ALIASES: dict[str, tuple[str, ...]] = {
    "user": (
        "user",
        "userid",
        "uid",
        "users",
        "customer",
        "customerid",
        "visitor",
        "visitorid",
        "reviewer",
        "reviewerid",
        "member",
        "memberid",
        "account",
        "accountid",
        "client",
        "clientid",
        "person",
        "personid",
        "session",
        "sessionid",
    ),
    "item": (
        "item",
        "itemid",
        "iid",
        "items",
        "movie",
        "movieid",
        "product",
        "productid",
        "asin",
        "sku",
        "track",
        "trackid",
        "song",
        "songid",
        "book",
        "bookid",
        "isbn",
        "article",
        "articleid",
        "artist",
        "artistid",
        "business",
        "businessid",
        "video",
        "videoid",
        "doc",
        "docid",
        "document",
        "documentid",
        "content",
        "contentid",
        "recipe",
        "recipeid",
        "game",
        "gameid",
        "anime",
        "animeid",
        "course",
        "courseid",
        "post",
        "postid",
        "news",
        "newsid",
        "object",
        "objectid",
    ),
    "value": (
        "value",
        "rating",
        "ratings",
        "score",
        "weight",
        "count",
        "plays",
        "playcount",
        "listens",
        "clicks",
        "quantity",
        "qty",
        "stars",
        "rate",
        "preference",
    ),
    "timestamp": (
        "timestamp",
        "time",
        "ts",
        "datetime",
        "date",
        "createdat",
        "eventtime",
        "unixtime",
        "unixtimestamp",
        "utc",
        "when",
    ),
}
OPTIONS_HINT = "name them with --user COL --item COL (optional: --value COL --timestamp COL, --format, --no-header)"


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name).lower()


def file_fields(path: Path, fmt: str) -> list[str]:
    """The header row of a CSV/TSV file or the keys of a JSONL file's first object ([] if there is none)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            if fmt == "jsonl":
                for line in fh:
                    if line.strip():
                        record = json.loads(line)
                        return [str(key) for key in record] if isinstance(record, dict) else []
                return []
            for row in csv.reader(fh, delimiter="," if fmt == "csv" else "\t"):
                if any(cell.strip() for cell in row):
                    return [cell.strip() for cell in row]
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"{path}: cannot read interactions ({exc.__class__.__name__})") from exc
    except json.JSONDecodeError:
        return []
    return []


def recognise(fields: list[str]) -> dict[str, str]:
    """Role → field for every role a common name of :data:`ALIASES` finds (first alias match wins)."""
    by_key = {}
    for field in fields:
        by_key.setdefault(_key(field), field)
    found = {}
    for role, aliases in ALIASES.items():
        match = next((by_key[a] for a in aliases if a in by_key and by_key[a] not in found.values()), None)
        if match is not None:
            found[role] = match
    return found


def resolve_columns(
    path: Path,
    fmt: str | None = None,
    user: str | None = None,
    item: str | None = None,
    value: str | None = None,
    timestamp: str | None = None,
    header: bool = True,
) -> tuple[str, Columns]:
    """The file's format and its :class:`Columns`: options as given, the rest recognised from the header."""
    kind = detect_format(path, fmt)
    if kind == "whitespace" or (kind != "jsonl" and not header):
        if user is None and item is None and value is None and timestamp is None and kind == "whitespace":
            return kind, Columns.movielens()
        return kind, Columns(user or "0", item or "1", value, timestamp, header=False)
    fields = file_fields(path, kind)
    found = recognise(fields)
    given = {"user": user, "item": item, "value": value, "timestamp": timestamp}
    chosen = {role: given[role] if given[role] is not None else found.get(role) for role in given}
    if chosen["user"] is None or chosen["item"] is None:
        missing = [r for r in ("user", "item") if chosen[r] is None]
        what = f"{' and '.join(missing)} column{'s' if len(missing) > 1 else ''}"
        raise InvalidInput(f"{path}: cannot tell the {what} among the columns found {fields}; {OPTIONS_HINT}")
    return kind, Columns(chosen["user"], chosen["item"], chosen["value"], chosen["timestamp"], header=True)
