"""Issue 18, class 7: ingest robustness of the row readers.

One hostile JSONL row (a 5,000-digit ``_id``, 100k-deep nesting, NaN metadata) is a one-line per-row
error while the rest of the run goes on and the command exits non-zero; an unterminated CSV quote is an
error, not rows silently merged into one field.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ingest.readers import RowError, SourceDocument, read_path

HOSTILE_ROWS = [
    '{"_id": %s, "text": "huge id"}' % ("9" * 5000),
    '{"_id": "deep", "text": "deep", "x": %s}' % ("[" * 100_000 + "]" * 100_000),
    '{"_id": "nan", "text": "not a number", "score": NaN}',
    '{"_id": "%s", "text": "an id longer than the column"}' % ("7" * 5000),
]


def _jsonl(path: Path) -> Path:
    rows = [json.dumps({"_id": "first", "text": "lava flows from the volcano"}), *HOSTILE_ROWS]
    rows.append(json.dumps({"_id": "last", "text": "bread is baked in a hot oven"}))
    path.write_text("\n".join(rows) + "\n")
    return path


def test_jsonl_reader_turns_hostile_rows_into_row_errors(tmp_path: Path) -> None:
    results = list(read_path(_jsonl(tmp_path / "rows.jsonl")))
    documents = [r.external_id for r in results if isinstance(r, SourceDocument)]
    errors = [r for r in results if isinstance(r, RowError)]
    assert documents[0] == "first" and documents[-1] == "last"  # the rows after the bad ones were read
    assert [e.line for e in errors] == [2, 3]  # unparseable rows; the others are refused at ingest
    assert all("\n" not in e.message and len(e.message) < 200 for e in errors)


def test_csv_unterminated_quote_is_an_error_not_merged_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text('id,text\n1,first row\n2,"this quote never ends\n3,third row\n4,fourth row\n')
    results = list(read_path(path))
    assert isinstance(results[0], SourceDocument) and results[0].text == "first row"
    assert any(isinstance(r, RowError) and "CSV" in r.message for r in results)
    merged = [r for r in results if isinstance(r, SourceDocument) and "third row" in r.text]
    assert not merged


def test_cli_ingest_goes_on_after_hostile_rows(env: Path) -> None:
    from cli.main import app

    path = _jsonl(env / "rows.jsonl")
    result = CliRunner().invoke(app, ["ingest", str(path), "--collection", "c"])
    assert result.exit_code == 1, result.output  # failures make the run exit non-zero, at the end
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    failed = [line for line in result.output.splitlines() if line.startswith("failed:")]
    assert len(failed) == len(HOSTILE_ROWS)
    listed = CliRunner().invoke(app, ["search", "volcano", "--collection", "c", "--json"])
    ids = {hit["id"] for hit in json.loads(listed.stdout)["hits"]}
    assert {"first", "last"} <= ids
