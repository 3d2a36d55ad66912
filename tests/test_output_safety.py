"""Nothing from a page reaches a terminal or a spreadsheet as a control; read-only archives stay readable."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsarchive.article import Article, Image, ParserInfo, RelatedLink, clean_article, clean_text
from newsarchive.cli import cli
from newsarchive.cli._context import safe
from newsarchive.export import csv_row, to_json

#: What must never be printed raw: bidi overrides and isolates, C1 controls (0x9b is CSI), ESC.
BAD = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
       "\x85", "\x9b", "\x1b", "\x07"]  # fmt: skip

EVIL_URL = "https://news.example.com/news/evil.html"
EVIL_PAGE = (
    '<!DOCTYPE html><html lang="en\u202e\u0085"><head><meta charset="utf-8">'
    '<title>=HYPERLINK("http://evil.example/x") Gas \u202eprices\x1b[2J rise</title>'
    '<link rel="canonical" href="https://news.example.com/news/evil\u202e-\u009b31m.html">'
    '<meta property="og:image" content="https://news.example.com/img/\u202elead\u0085.jpg">'
    '<meta property="article:published_time" content="2024-03-01T10:00:00+02:00">'
    '<meta property="article:section" content="Eco\u202enomy">'
    '<meta name="author" content="-Jane \u2066Roe\u2069">'
    '<meta name="description" content="+Desc \u202eription\u0085">'
    '</head><body><article><h1>=HYPERLINK("http://evil.example/x") Gas \u202eprices\x1b[2J rise</h1>'
    + "<p>Fuel prices rose again this week as the harbour authority\u202e said tankers were delayed"
    " \u009b by storms at sea.</p>" * 6 + "</article></body></html>"
)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _warc(path: Path, pages: list[tuple[str, str]]) -> Path:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, html in pages:
            body = html.encode("utf-8")
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )  # fmt: skip
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers,
                warc_headers_dict={"WARC-Date": "2024-03-17T09:00:00Z"},
            )  # fmt: skip
            writer.write_record(record)
    return path


@pytest.fixture
def evil(tmp_path: Path) -> Path:
    archive = tmp_path / "evil-archive"
    warc = _warc(tmp_path / "e.warc.gz", [(EVIL_URL, EVIL_PAGE)])
    code, _, err = invoke("--archive", str(archive), "import-warc", str(warc))
    assert code == 0, err
    return archive


def _assert_clean(text: str) -> None:
    found = [hex(ord(c)) for c in BAD if c in text]
    assert not found, f"{found} reached the output: {text[:500]!r}"


# --- at parse time: every field -------------------------------------------------------------


def test_every_article_field_is_cleaned_by_the_one_cleaning_function() -> None:
    bidi, c1 = "\u202e", "\u0085"
    article = clean_article(Article(
        url=f"https://x.example/a{bidi}", headline=f"Head{bidi}line\x1b[31m", body=f"Para{c1} one\r\nPara two{bidi}",
        canonical_url=f"https://x.example/c{bidi}{c1}", site=f"x{bidi}", byline=(f"Jane{bidi}",),
        source=f"AP{c1}", description=f"De{bidi}sc", section=f"Eco{bidi}", series=f"S{c1}", tags=(f"t{bidi}ag",),
        images=(Image(f"https://x.example/i{bidi}.jpg", f"cap{c1}"),),
        related=(RelatedLink(f"ti{bidi}tle", f"https://x.example/r{c1}"),), lang=f"en{bidi}{c1}",
        parser=ParserInfo(f"gen{bidi}", "1"), extra={f"k{bidi}": [f"v{c1}"]},
    ))  # fmt: skip
    _assert_clean(json.dumps(article.to_dict(), ensure_ascii=False))
    assert article.lang == "en"
    assert article.canonical_url == "https://x.example/c"
    assert article.headline == "Headline[31m"
    assert article.body == "Para one\nPara two"
    assert article.images[0].url == "https://x.example/i.jpg"
    assert article.id == Article(url="https://x.example/a", headline="h", body="b",
                                 canonical_url="https://x.example/c").id  # fmt: skip


def test_one_line_fields_lose_line_breaks_and_multi_line_fields_keep_them() -> None:
    assert clean_text("a\nb\tc", one_line=True) == "a b c"
    assert clean_text("a\n\nb\tc") == "a\n\nb\tc"
    article = clean_article(Article(url="https://x.example/a", headline="Fake\nline", body="b", tags=("a\nb",)))
    assert article.headline == "Fake line" and article.tags == ("a b",)


def test_a_clean_article_is_returned_as_it_is() -> None:
    article = Article(url="https://x.example/a", headline="H", body="One\n\nTwo\tthree", lang="ar")
    assert clean_article(article) is article


def test_parsing_a_page_applies_the_cleaning_to_every_field() -> None:
    from newsarchive.parse import parse_html

    article = parse_html(EVIL_PAGE, EVIL_URL)
    _assert_clean(json.dumps(article.to_dict(), ensure_ascii=False))
    assert article.canonical_url == "https://news.example.com/news/evil-31m.html"


def test_arabic_direction_marks_are_kept() -> None:
    text = "\u0627\u0644\u062e\u0628\u0631 \u200f(AP)\u200e \u061c"
    assert clean_text(text) == text


# --- at output time: text and JSON --------------------------------------------------------


def test_safe_removes_controls_and_bidi_from_printed_text() -> None:
    assert safe("a\u202eb\x1b[2Jc\x9bd\u2066e") == "ab[2Jcde"
    assert safe("a\nb", one_line=True) == "a b"


def test_json_output_escapes_c1_and_bidi_controls() -> None:
    text = to_json({"h": "a\u202eb\x85c\u2028d", "ok": "caf\u00e9 \u0627"})
    _assert_clean(text)
    assert "\\u202e" in text and "\\u0085" in text and "\\u2028" in text
    assert "caf\u00e9 \u0627" in text  # other characters stay readable
    assert json.loads(text) == {"h": "a\u202eb\x85c\u2028d", "ok": "caf\u00e9 \u0627"}


@pytest.mark.parametrize(
    "args",
    [
        ["search", "fuel"],
        ["search", "fuel", "--json"],
        ["search", "fuel", "--jsonl"],
        ["search", "fuel", "--facets"],
        ["search", "fuel", "--json", "--facets"],
        ["search", "--histogram"],
        ["show", EVIL_URL],
        ["show", EVIL_URL, "--json"],
        ["stats"],
        ["stats", "--json"],
        ["export", "--jsonl"],
        ["export", "--csv"],
    ],
)
def test_no_control_from_a_page_reaches_any_output(evil: Path, args: list[str]) -> None:
    code, out, err = invoke("--archive", str(evil), *args)
    assert code == 0, err
    assert "Gas prices" in out or "articles" in out or "2024-03" in out
    _assert_clean(out)
    _assert_clean(err)


def test_the_page_fields_that_carried_controls_are_stored_clean(evil: Path) -> None:
    code, out, _ = invoke("--archive", str(evil), "show", EVIL_URL, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["lang"] in ("en", None)
    assert data["canonical_url"] == "https://news.example.com/news/evil-31m.html"
    assert [i["url"] for i in data["images"]] == ["https://news.example.com/img/lead.jpg"]
    assert data["section"] == "Economy"


# --- CSV injection --------------------------------------------------------------------------


def test_csv_cells_that_would_run_as_formulas_are_neutralised() -> None:
    record = {"headline": "=HYPERLINK(\"http://evil\")", "body": "-2+3", "description": "+1", "source": "@SUM(A1)",
              "section": "\tx", "series": "\rx", "site": "normal", "byline": ["=cmd"]}  # fmt: skip
    cells = dict(zip(("headline", "body", "description", "source", "section", "series", "site", "byline"),
                     [csv_row(record)[i] for i in (4, 13, 9, 6, 10, 11, 3, 5)], strict=True))  # fmt: skip
    assert cells == {"headline": "'=HYPERLINK(\"http://evil\")", "body": "'-2+3", "description": "'+1",
                     "source": "'@SUM(A1)", "section": "'\tx", "series": "'\rx", "site": "normal",
                     "byline": "'=cmd"}  # fmt: skip
    raw = csv_row(record, formulas=True)
    assert raw[4] == '=HYPERLINK("http://evil")' and raw[13] == "-2+3"


def test_export_csv_neutralises_formulas_by_default_and_keeps_them_on_request(evil: Path) -> None:
    code, out, _ = invoke("--archive", str(evil), "export", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["headline"].startswith("'=HYPERLINK(")
    assert rows[0]["byline"] == "'-Jane Roe"
    code, out, _ = invoke("--archive", str(evil), "export", "--csv", "--csv-formulas")
    assert code == 0
    assert next(csv.DictReader(io.StringIO(out)))["headline"].startswith("=HYPERLINK(")


# --- read-only archives ---------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


needs_mount = pytest.mark.skipif(
    shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0,
    reason="needs `unshare -m` (a private mount namespace) for a read-only bind mount",
)


def _on_read_only_mount(archive: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run newsarchive with the archive bind-mounted read-only (root ignores chmod, not a read-only mount)."""
    command = " ".join(f"'{a}'" for a in [sys.executable, "-m", "newsarchive", "--archive", str(archive), *args])
    script = f"mount --bind -o ro '{archive}' '{archive}' && exec {command}"
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=_env())


@needs_mount
@pytest.mark.parametrize(
    "args",
    [["search", "fuel"], ["search", "fuel", "--json", "--facets"], ["show", EVIL_URL], ["show", EVIL_URL, "--raw"],
     ["export", "--jsonl"], ["export", "fuel", "--csv"], ["stats"], ["sources", "list"]],
)  # fmt: skip
def test_a_read_only_archive_can_still_be_read(evil: Path, args: list[str]) -> None:
    result = _on_read_only_mount(evil, args)
    assert result.returncode == 0, result.stderr
    assert "Fuel" in result.stdout or "articles" in result.stdout or "# built-in" in result.stdout


@needs_mount
def test_a_read_only_copy_without_its_wal_side_files_can_be_read(evil: Path, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(evil, backup)
    for side in backup.glob("store.sqlite-*"):
        side.unlink()
    result = _on_read_only_mount(backup, ["export", "--jsonl"])
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1


@needs_mount
@pytest.mark.parametrize("args", [["reindex"], ["reparse"], ["import-warc", "{warc}"], ["sources", "remove", "x"]])
def test_writing_commands_on_a_read_only_archive_exit_2_with_a_clear_message(
    evil: Path, tmp_path: Path, args: list[str]
) -> None:
    warc = _warc(tmp_path / "w.warc.gz", [(EVIL_URL, EVIL_PAGE)])
    result = _on_read_only_mount(evil, [a.replace("{warc}", str(warc)) for a in args])
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"Error: the archive {evil} is read-only\n")
    assert "Traceback" not in result.stderr


def test_reading_commands_write_nothing_in_the_archive(evil: Path) -> None:
    """No lock file, no change to the store or the index: the reading side opens the store read-only.

    (SQLite itself may create the empty -wal/-shm side files of a WAL database to read it alongside a writer.)
    """
    (evil / "lock").unlink(missing_ok=True)
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in evil.rglob("*") if "sqlite-" not in p.name}
    for args in (["search", "fuel"], ["show", EVIL_URL], ["export", "fuel"], ["stats"]):
        code, _, err = invoke("--archive", str(evil), *args)
        assert code == 0, err
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in evil.rglob("*") if "sqlite-" not in p.name}
    assert after == before
    assert not (evil / "lock").exists()


def test_newsarchive_readonly_makes_writing_commands_refuse(evil: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSARCHIVE_READONLY", "1")
    code, _, err = invoke("--archive", str(evil), "reindex")
    assert code == 2
    assert f"the archive {evil} is read-only" in err
    code, out, _ = invoke("--archive", str(evil), "search", "fuel")
    assert code == 0 and "Fuel" in out
