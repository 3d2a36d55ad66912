"""Any query text or key gives results or a usage error, never a traceback (property-based)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsarchive.cli import cli

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUERY_SYNTAX = st.sampled_from([
    "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "(", ")", '"', "'", "*", "?", "~", "~2", "^", "^3", ":", "[", "]",
    "{", "}", " TO ", "published:", "tags:", "headline:", "published:[2023 TO", "published:2023-02",
    "published:yesterday", "site:", "body:", "\\", "-", "+", "/", "<", ">", "=", "&", "|", "%", "\x00", "\x1b[2J",
    "\u202e", "\ufeff", "crimea", "blinken", "ukraine", "", " ",
])  # fmt: skip


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-faults") / "archive"
    result = CliRunner().invoke(
        cli, ["--archive", str(root), "import-warc", str(FIXTURES / "tour" / "example-news.warc.gz")]
    )
    assert result.exit_code == 0, result.stderr
    return root


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def assert_clean(code: int, err: str, allowed: tuple[int, ...] = (0, 1, 2)) -> None:
    assert code in allowed, err
    assert "Traceback" not in err
    assert "unexpected" not in err, err
    if code == 2:
        assert err.startswith(("Error: ", "Usage: ")), err


@pytest.mark.slow
@PROPERTY
@given(query=st.text(max_size=80))
def test_any_query_text_gives_results_or_a_usage_error(archive: Path, query: str) -> None:
    code, out, err = invoke("--archive", str(archive), "search", "--json", "--", query)
    assert_clean(code, err)
    if code == 0:
        assert isinstance(json.loads(out), list)


@pytest.mark.slow
@PROPERTY
@given(parts=st.lists(st.one_of(QUERY_SYNTAX, st.text(max_size=8)), max_size=12))
def test_any_query_syntax_soup_gives_results_or_a_usage_error(archive: Path, parts: list[str]) -> None:
    code, out, err = invoke("--archive", str(archive), "search", "--", " ".join(parts))
    assert_clean(code, err)
    assert "\x1b" not in out and "\u202e" not in out


@pytest.mark.slow
@PROPERTY
@given(date=st.one_of(st.text(max_size=20), st.dates().map(str), st.sampled_from(["0001-01", "9999-12-31", "2023-02"])))
def test_any_date_option_gives_results_or_a_usage_error(archive: Path, date: str) -> None:
    code, _, err = invoke("--archive", str(archive), "search", "crimea", "--from", date, "--to", date)
    assert_clean(code, err)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.text(max_size=60))
def test_any_show_key_gives_an_article_or_a_usage_error(archive: Path, key: str) -> None:
    code, out, err = invoke("--archive", str(archive), "show", key)
    assert_clean(code, err, allowed=(0, 2))
    assert "\x1b" not in out


@pytest.mark.parametrize("page", [1, 2, 10_000])
def test_pages_past_the_end_say_so(archive: Path, page: int) -> None:
    code, _, err = invoke("--archive", str(archive), "search", "crimea", "--page", str(page))
    assert_clean(code, err)


@pytest.mark.parametrize(
    "args",
    [
        ["search", "--limit", "0"],
        ["search", "--page", "-1"],
        ["search", "x", "--sort", "sideways"],
        ["search", "x", "--from", "2023-02", "--to", "2023-01"],
        ["show"],
        ["export", "--json", "--jsonl", "--bogus"],
        ["no-such-command"],
    ],
)
def test_bad_options_are_usage_errors(archive: Path, args: list[str]) -> None:
    code, _, err = invoke("--archive", str(archive), *args)
    assert code == 2
    assert_clean(code, err)


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00" * 100, b"%PDF-1.4 binary", "<html><body>\u202e\x1b[2J only</body></html>".encode(), b"\xff\xfe\xfd"],
    ids=["empty", "nuls", "pdf", "escapes-only", "bad-bytes"],
)
def test_parse_command_on_junk_exits_1_with_one_line(tmp_path: Path, content: bytes) -> None:
    page = tmp_path / "junk.html"
    page.write_bytes(content)
    code, _, err = invoke("parse", str(page), "--url", "https://example.com/a")
    assert code in (1, 3)
    assert err.startswith("Error: ") and "Traceback" not in err
    assert "\x1b" not in err
