from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from core.errors import InvalidInput, UnreadableFile
from ingest.readers import (
    SUPPORTED_SUFFIXES,
    RowError,
    SourceDocument,
    TableOptions,
    iter_files,
    read_path,
    read_stream,
)


def _pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF with one Helvetica text line per page (offsets computed, so xref is exact)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for text in pages:
        stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET"
        page_no, content_no = len(objects) + 1, len(objects) + 2
        kids.append(f"{page_no} 0 R")
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents "
            f"{content_no} 0 R /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 "
            "/BaseFont /Helvetica >> >> >> >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def _one(path: Path, table: TableOptions | None = None) -> SourceDocument:
    (doc,) = list(read_path(path, table or TableOptions()))
    assert isinstance(doc, SourceDocument)
    return doc


def test_plain_text_document(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("Hello\r\nworld\n", encoding="utf-8")
    doc = _one(path)
    assert doc.text == "Hello\nworld\n"
    assert doc.external_id == doc.source_uri == path.resolve().as_posix()
    assert doc.metadata["filename"] == "note.txt" and doc.metadata["suffix"] == ".txt"
    assert doc.metadata["size_bytes"] == path.stat().st_size
    json.dumps(doc.metadata)


def test_markdown_front_matter_stripped(tmp_path: Path) -> None:
    path = tmp_path / "post.md"
    path.write_text("---\ntitle: 'My Post'\ntags: a\n---\n# Heading\n\nBody text.\n", encoding="utf-8")
    doc = _one(path)
    assert doc.text.startswith("# Heading")
    assert doc.metadata["title"] == "My Post"
    assert doc.metadata["front_matter"] == {"title": "My Post", "tags": "a"}


def test_html_visible_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<!doctype html><html><head><title> The  Title </title><style>.x{color:red}</style>"
        "<script>var secret = 1;</script></head><body><h1>Header</h1><p>First\n   para"
        "<b>bold</b>.</p><!-- hidden comment --><noscript>enable js</noscript>"
        "<template><p>tmpl</p></template><ul><li>one</li><li>two</li></ul>"
        "<script>alert('x')</script><p>Last&nbsp;para</p></body></html>",
        encoding="utf-8",
    )
    doc = _one(path)
    assert doc.metadata["title"] == "The Title"
    for hidden in ("secret", "color", "alert", "enable js", "tmpl", "hidden comment"):
        assert hidden not in doc.text
    assert doc.text == "Header\n\nFirst parabold.\n\none\ntwo\n\nLast para"


def test_pdf_pages_and_spans(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(_pdf_bytes(["Hello PDF page one", "Second page here"]))
    doc = _one(path)
    assert doc.metadata["pages"] == 2
    assert doc.pages is not None and len(doc.pages) == 2
    first, second = (doc.text[a:b] for a, b in doc.pages)
    assert "Hello PDF page one" in first and "Second page here" in second


def test_beir_jsonl_with_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    rows = [
        {
            "_id": "4983",
            "title": "Microstructural development",
            "text": "Alterations of the brain.",
            "metadata": {"year": 1999},
        },
        {"_id": "5836", "title": "", "text": "Only text.", "metadata": {}},
    ]
    lines = [
        json.dumps(rows[0]),
        "{not json",
        "",
        json.dumps(rows[1]),
        json.dumps({"_id": "x", "title": ""}),
        "[1]",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = list(read_path(path, TableOptions()))
    docs = [r for r in results if isinstance(r, SourceDocument)]
    errors = [r for r in results if isinstance(r, RowError)]
    assert [d.external_id for d in docs] == ["4983", "5836"]
    assert docs[0].text == "Microstructural development\n\nAlterations of the brain."
    assert docs[0].metadata == {"year": 1999}
    assert docs[0].source_uri == f"{path.resolve().as_posix()}#1"
    assert docs[1].text == "Only text."
    assert [e.line for e in errors] == [2, 5, 6]


def test_jsonl_id_fallbacks(tmp_path: Path) -> None:
    path = tmp_path / "rows.ndjson"
    path.write_text('{"id": 7, "text": "a", "lang": "en"}\n{"text": "b"}\n', encoding="utf-8")
    first, second = read_path(path, TableOptions())
    assert first.external_id == "7" and first.metadata == {"lang": "en"}
    assert second.external_id == f"{path.resolve().as_posix()}#2"
    (only,) = [d for d in read_path(path, TableOptions(id_field=None)) if d.text == "a"]
    assert only.external_id.endswith("#1") and only.metadata == {"id": 7, "lang": "en"}


@pytest.mark.parametrize(("suffix", "sep"), [(".csv", ","), (".tsv", "\t")])
def test_csv_and_tsv_with_chosen_fields(tmp_path: Path, suffix: str, sep: str) -> None:
    path = tmp_path / f"table{suffix}"
    header = sep.join(["key", "headline", "body", "author", "ignored"])
    rows = [sep.join(["k1", "Head", "Body one", "ann", "z"]), sep.join(["k2", "", "", "bob", "z"])]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    table = TableOptions(text_fields=("headline", "body"), id_field="key", metadata_fields=("author",))
    doc, error = read_path(path, table)
    assert doc.external_id == "k1" and doc.text == "Head\n\nBody one"
    assert doc.metadata == {"author": "ann"}
    assert isinstance(error, RowError) and error.line == 3


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("blob.txt", b"abc\x00\x01\x02" * 10, "binary"),
        ("latin.txt", "caf\u00e9 cr\u00e8me".encode("latin-1"), "UTF-8"),
        ("empty.md", b"  \n\t\n", "empty"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "PDF"),
        ("rows.jsonl", b"\x00\x00binary", "binary"),
        ("rows.csv", "t\u00eate,x\n".encode("latin-1"), "UTF-8"),
        ("none.jsonl", b"\n\n", "empty"),
        ("thing.docx", b"PK", "unsupported"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=reason) as info:
        list(read_path(path, TableOptions()))
    assert str(path) in str(info.value)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="no such file"):
        list(read_path(tmp_path / "gone.txt", TableOptions()))


def test_iter_files_globs_hidden_and_order(tmp_path: Path) -> None:
    for rel in [
        "b.txt",
        "a.md",
        "sub/c.html",
        "sub/skip.bin",
        ".git/x.txt",
        "sub/.hidden/y.txt",
        "drafts/d.txt",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x", encoding="utf-8")
    rel = lambda found: [p.relative_to(tmp_path).as_posix() for p in found]  # noqa: E731
    assert rel(iter_files([tmp_path], None, None)) == ["a.md", "b.txt", "drafts/d.txt", "sub/c.html"]
    assert rel(iter_files([tmp_path], ["*.txt"], ["drafts"])) == ["b.txt"]
    assert rel(iter_files([tmp_path], ["sub/*"], None)) == ["sub/c.html"]
    explicit = tmp_path / "sub" / "skip.bin"
    assert list(iter_files([explicit, tmp_path / "b.txt", tmp_path], None, ["b.txt"])) == [
        explicit,
        tmp_path / "b.txt",
        tmp_path / "a.md",
        tmp_path / "drafts" / "d.txt",
        tmp_path / "sub" / "c.html",
    ]
    assert {".txt", ".md", ".html", ".pdf", ".jsonl", ".csv", ".tsv"} <= SUPPORTED_SUFFIXES


def test_stdin_streams() -> None:
    (doc,) = read_stream(io.StringIO("piped text\n"), "stdin", "text", TableOptions())
    assert doc.external_id == "stdin" and doc.source_uri == "stdin" and doc.text == "piped text\n"
    results = list(
        read_stream(io.StringIO('{"_id": "1", "text": "a"}\nnope\n'), "stdin", "jsonl", TableOptions())
    )
    assert results[0].external_id == "1" and results[0].source_uri == "stdin#1"
    assert isinstance(results[1], RowError) and results[1].source_uri == "stdin"
    (row,) = read_stream(io.StringIO("id,text\n9,hello\n"), "stdin", "csv", TableOptions())
    assert row.external_id == "9" and row.text == "hello"
    with pytest.raises(UnreadableFile, match="empty"):
        list(read_stream(io.StringIO("   "), "stdin", "text", TableOptions()))
    with pytest.raises(InvalidInput, match="unknown stream format"):
        read_stream(io.StringIO("x"), "stdin", "xml", TableOptions())
