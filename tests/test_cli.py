"""The command line: help, exit codes and messages, never a traceback for a user mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from newsarchive.cli import cli
from newsarchive.runlock import RunLock

PAGE = FIXTURES / "e2e" / "news" / "crimea-red-line.html"
URL = "https://news.example.com/news/crimea-red-line.html"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", [["--help"], ["-h"], *[[name, "--help"] for name in sorted(cli.commands)]])
def test_help_is_available_everywhere(args: list[str]) -> None:
    code, out, _ = invoke(*args)
    assert code == 0
    assert "Usage: " in out


def test_version_flag_prints_the_version() -> None:
    code, out, _ = invoke("--version")
    assert code == 0
    assert out.startswith("newsarchive, version ")


def test_parse_json_prints_the_article_record() -> None:
    code, out, _ = invoke("parse", str(PAGE), "--url", URL, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["headline"] == "US not actively encouraging Ukraine to retake Crimea"
    assert data["published"] == "2023-02-16T08:35:00+02:00"
    assert data["byline"] == ["Jane Roe"]
    assert data["capture"] is None


def test_parse_of_dash_reads_the_page_from_standard_input() -> None:
    result = CliRunner().invoke(cli, ["parse", "-", "--url", URL, "--json"], input=PAGE.read_bytes())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["headline"] == "US not actively encouraging Ukraine to retake Crimea"


def test_parse_of_a_page_without_text_fails_with_status_1(tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text("<html><head><title>x</title></head><body></body></html>")
    code, _, err = invoke("parse", str(page), "--url", URL)
    assert code == 1
    assert err.startswith("Error: ")
    assert "Traceback" not in err


def test_parse_of_a_missing_file_is_a_usage_error() -> None:
    code, _, err = invoke("parse", "/nonexistent/page.html", "--url", URL)
    assert code == 2
    assert "cannot read" in err


def test_parse_needs_an_absolute_url() -> None:
    code, _, err = invoke("parse", str(PAGE), "--url", "crimea.html")
    assert code == 2
    assert "absolute URL" in err


@pytest.mark.parametrize("bad", ["2023-13", "last week", "2023-02-30"])
def test_search_with_an_invalid_date_exits_2(bad: str, tmp_path: Path) -> None:
    code, _, err = invoke("--archive", str(tmp_path), "search", "x", "--from", bad)
    assert code == 2
    assert "Invalid value for '--from'" in err


def test_search_in_an_empty_place_says_there_is_no_archive(tmp_path: Path) -> None:
    code, _, err = invoke("--archive", str(tmp_path / "nothing"), "search", "crimea")
    assert code == 2
    assert "no archive at" in err


def test_search_with_no_hits_says_so_and_exits_1(tmp_path: Path) -> None:
    invoke("--archive", str(tmp_path), "import-warc", str(FIXTURES / "tour" / "example-news.warc.gz"))
    code, _, err = invoke("--archive", str(tmp_path), "search", "zanzibar")
    assert code == 1
    assert "No articles match." in err


def test_json_and_jsonl_together_are_refused(tmp_path: Path) -> None:
    invoke("--archive", str(tmp_path), "import-warc", str(FIXTURES / "tour" / "example-news.warc.gz"))
    code, _, err = invoke("--archive", str(tmp_path), "search", "crimea", "--json", "--jsonl")
    assert code == 2
    assert "just one of" in err


def test_a_second_writer_exits_75_with_a_clear_message(tmp_path: Path) -> None:
    with RunLock(tmp_path / "lock"):
        code, _, err = invoke(
            "--archive", str(tmp_path), "import-warc", str(FIXTURES / "tour" / "example-news.warc.gz")
        )
    assert code == 75
    assert "another newsarchive run is using" in err


def test_show_unknown_article_is_a_usage_error(tmp_path: Path) -> None:
    invoke("--archive", str(tmp_path), "import-warc", str(FIXTURES / "tour" / "example-news.warc.gz"))
    code, _, err = invoke("--archive", str(tmp_path), "show", "https://nowhere.example/x")
    assert code == 2
    assert "no article" in err


@pytest.mark.parametrize("key", ["\udcff", "https://news.example.com/\udcff.html", "  \udcff\udc80  "])
def test_show_of_a_key_with_bytes_that_are_not_utf8_is_an_unknown_article(tour: Path, key: str) -> None:
    """A non-UTF-8 argv byte reaches Python as a lone surrogate: not found (exit 2), as on PostgreSQL, never 70."""
    code, out, err = invoke("--archive", str(tour), "show", key)
    assert code == 2, err
    assert err.startswith(f"Error: no article {key!r} in the archive\n")
    assert out == "" and "unexpected" not in err


def test_show_prints_text_and_json(tmp_path: Path) -> None:
    invoke("--archive", str(tmp_path), "import-warc", str(FIXTURES / "tour" / "example-news.warc.gz"))
    url = "https://news.example.com/news/grain-deal.html"
    code, out, _ = invoke("--archive", str(tmp_path), "show", url)
    assert code == 0
    assert out.splitlines()[0] == "Black Sea grain corridor talks resume in Istanbul"
    code, out, _ = invoke("--archive", str(tmp_path), "show", url, "--json")
    assert json.loads(out)["tags"] == ["Turkey", "Grain"]


def test_export_writes_a_json_array_to_a_file(tmp_path: Path) -> None:
    invoke("--archive", str(tmp_path), "import-warc", str(FIXTURES / "tour" / "example-news.warc.gz"))
    out_file = tmp_path / "all.json"
    code, _, _ = invoke("--archive", str(tmp_path), "export", "-o", str(out_file))
    assert code == 0
    assert len(json.loads(out_file.read_text("utf-8"))) == 4


def test_import_of_a_file_that_is_not_warc_fails_cleanly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(b"not a warc file at all")
    code, _, err = invoke("--archive", str(tmp_path / "a"), "import-warc", str(junk))
    assert code == 1
    assert "not a readable WARC file" in err


def test_terminal_escapes_in_scraped_text_never_reach_the_output(tmp_path: Path) -> None:
    page = tmp_path / "evil.html"
    page.write_text(
        "<html><head><title>Evil \x1b[2J title</title></head><body><article><h1>Evil \x1b]0;pwned\x07 title</h1>"
        + "<p>"
        + "A paragraph of real text with an escape \x1b[31m inside it. " * 8
        + "</p></article></body></html>"
    )
    code, out, _ = invoke("parse", str(page), "--url", URL)
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
