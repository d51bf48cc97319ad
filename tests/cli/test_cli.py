"""The CLI through Typer's runner: ingest folders incrementally, prune, fail clearly, search."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()



def write_corpus(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "volcano.txt").write_text("Lava flows from an erupting volcano and cools into basalt rock.")
    (docs / "sub" / "bread.md").write_text("# Bread\n\nKnead the dough and bake the loaf in a hot oven.")
    (docs / "page.html").write_text(
        "<html><head><title>Moon</title><script>var secret = 1;</script></head>"
        "<body><p>The moon orbits the earth.</p></body></html>"
    )
    return docs


def ingest(*args: str):  # noqa: ANN201
    return runner.invoke(app, ["ingest", *args])


def search(query: str, *extra: str) -> list[dict]:
    result = runner.invoke(app, ["search", query, "--collection", "c", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["hits"]


def test_ingest_folder_then_search(env: Path) -> None:
    docs = write_corpus(env)
    result = ingest(str(docs), "--collection", "c")
    assert result.exit_code == 0, result.output
    hits = search("baking a loaf")
    assert Path(hits[0]["id"]).name == "bread.md"
    assert all("secret" not in h["text"] for h in search("moon orbit"))
    table = runner.invoke(app, ["search", "volcanic rock", "--collection", "c", "-k", "1"], env={"COLUMNS": "300"})
    assert table.exit_code == 0 and "volcano.txt" in table.stdout


def test_reingest_is_incremental_and_prune_removes_deleted_files(env: Path) -> None:
    docs = write_corpus(env)
    assert ingest(str(docs), "-c", "c").exit_code == 0
    again = ingest(str(docs), "-c", "c")
    assert again.exit_code == 0
    assert _summary(again.stdout) == ["0", "0", "3", "0", "0", "0"]
    (docs / "volcano.txt").write_text("Volcanoes can also erupt under the sea.")
    (docs / "sub" / "bread.md").unlink()
    pruned = ingest(str(docs), "-c", "c", "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert _summary(pruned.stdout) == ["0", "1", "1", "0", "1", "1"]
    assert all(Path(h["id"]).name != "bread.md" for h in search("bread"))


def _summary(stdout: str) -> list[str]:
    row = [line for line in stdout.splitlines() if line.startswith("│") and any(c.isdigit() for c in line)][
        -1
    ]
    return [cell.strip() for cell in row.strip("│").split("│")]


def test_one_bad_file_fails_alone_with_nonzero_exit(env: Path) -> None:
    docs = write_corpus(env)
    (docs / "broken.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (docs / "empty.md").write_text("   ")
    result = ingest(str(docs), "-c", "c")
    assert result.exit_code == 1
    assert "broken.txt" in result.output and "empty.md" in result.output
    assert _summary(result.stdout)[:4] == ["3", "0", "0", "2"]
    assert len(search("anything", "-k", "10")) == 3


def test_include_exclude_and_stdin(env: Path) -> None:
    docs = write_corpus(env)
    assert ingest(str(docs), "-c", "c", "--include", "*.txt").exit_code == 0
    assert [Path(h["id"]).name for h in search("anything")] == ["volcano.txt"]
    piped = runner.invoke(app, ["ingest", "-", "-c", "c"], input="Comets have tails of gas and dust.")
    assert piped.exit_code == 0, piped.output
    assert search("comet tail", "-k", "1")[0]["id"] == "stdin"
    assert ingest(str(docs), "-c", "c", "--exclude", "*.txt").exit_code == 0
    assert len(search("anything")) == 4


def test_jsonl_with_beir_fields(env: Path) -> None:
    corpus = env / "corpus.jsonl"
    rows = [
        {"_id": "d1", "title": "Glaciers", "text": "Ice sheets carve valleys.", "metadata": {"src": "x"}},
        {"_id": "d2", "title": "Oceans", "text": "Tides follow the moon."},
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken json\n")
    result = ingest(str(corpus), "-c", "c")
    assert result.exit_code == 1  # the broken row is reported and counted
    assert "line 3" in result.output
    hits = search("glacier valleys", "-k", "1")
    assert hits[0]["id"] == "d1" and "Glaciers" in hits[0]["text"]


def test_errors_exit_nonzero_with_a_message(env: Path) -> None:
    missing = ingest(str(env / "nope"), "-c", "c")
    assert missing.exit_code != 0 and "no such file" in missing.output
    unknown = runner.invoke(app, ["search", "x", "--collection", "nope"])
    assert unknown.exit_code == 1 and "does not exist" in unknown.output
    bad_filter = runner.invoke(app, ["search", "x", "--collection", "c", "--filter", "{oops"])
    assert bad_filter.exit_code != 0 and "not valid JSON" in bad_filter.output


def test_a_setting_that_does_not_validate_is_one_line_naming_it(env: Path) -> None:
    docs = write_corpus(env)
    assert ingest(str(docs), "-c", "c").exit_code == 0
    commands = (["ingest", str(docs), "-c", "c", "--prune"], ["collections", "list"], ["serve"])
    for command, (value, why) in itertools.product(commands, (("0", "greater than or equal to 1"), ("abc", "integer"))):
        bad = runner.invoke(app, command, env={"LATENTSPACE_EMBED_BATCH_SIZE": value})
        assert bad.exit_code == 1 and isinstance(bad.exception, SystemExit), bad.exception  # a clean exit
        assert "LATENTSPACE_EMBED_BATCH_SIZE" in bad.output and why in bad.output
    listed = runner.invoke(app, ["search", "volcano", "--collection", "c", "--json"])  # nothing was pruned
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)["hits"]) == 3


def test_index_rebuild_command(env: Path) -> None:
    docs = write_corpus(env)
    assert ingest(str(docs), "-c", "c").exit_code == 0
    result = runner.invoke(app, ["index", "rebuild", "--collection", "c"])
    assert result.exit_code == 0 and "3 vectors" in result.stdout
    listed = runner.invoke(app, ["collections", "list"])
    assert listed.exit_code == 0 and "c" in listed.stdout
