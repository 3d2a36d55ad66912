"""Safety: only public http(s) URLs are fetched, scraped control characters never reach a terminal, paths stay put."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import fault_routes
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, run_cli
from server import FixtureServer

from newsarchive.cli import cli
from newsarchive.errors import FetchError, RefusedURL
from newsarchive.fetch import client
from newsarchive.fetch.client import Fetcher, check_url


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    srv = FixtureServer(FIXTURES / "e2e").start()
    fault_routes.install(srv)
    yield srv
    srv.stop()


@pytest.fixture
def no_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSARCHIVE_ALLOW_PRIVATE", raising=False)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com/",
        "javascript:alert(1)",
        "data:text/html,<h1>x</h1>",
        "//example.com/no-scheme",
        "http:///no-host",
    ],
)
def test_only_http_and_https_urls_are_fetched(url: str) -> None:
    with pytest.raises(RefusedURL, match="refused"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/admin",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/",
        "http://100.64.0.1/",  # carrier-grade NAT, not public
        "https://224.0.0.1/",
    ],
)
def test_non_public_addresses_are_refused_by_default(url: str, no_private: None) -> None:
    with pytest.raises(RefusedURL, match="non-public address"):
        check_url(url)


def test_the_environment_variable_allows_private_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSARCHIVE_ALLOW_PRIVATE", "1")
    check_url("http://127.0.0.1:8080/")
    check_url("http://192.168.1.1/")


def test_the_environment_variable_may_allow_only_some_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSARCHIVE_ALLOW_PRIVATE", "127.0.0.0/8, 192.168.1.7")
    check_url("http://127.0.0.1:8080/")
    check_url("http://192.168.1.7/")
    with pytest.raises(RefusedURL):
        check_url("http://192.168.1.8/")
    with pytest.raises(RefusedURL):
        check_url("http://169.254.169.254/")


def test_the_config_setting_allows_private_addresses(no_private: None) -> None:
    check_url("http://127.0.0.1/", allow_private=True)
    check_url("http://10.1.2.3/", allow_private=["10.0.0.0/8"])
    with pytest.raises(RefusedURL):
        check_url("http://10.1.2.3/", allow_private=False)


def test_a_typed_private_url_is_refused_with_the_reason_and_nothing_is_stored(
    server: FixtureServer, archive_dir: Path, no_private: None
) -> None:
    code, _, err = run_cli(archive_dir, "fetch", server.url("/ok"))
    assert code == 1
    assert "refused" in err and "non-public address 127.0.0.1" in err
    assert not list(archive_dir.glob("warc/*.warc.gz"))
    assert not any(path == "/ok" for path, _ in server.requests)


def _public_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker sees 'localhost' as a public host (the socket still reaches 127.0.0.1)."""
    real = client._resolve
    monkeypatch.setattr(
        client, "_resolve", lambda host, port: ["93.184.216.34"] if host == "localhost" else real(host, port)
    )


def test_a_redirect_into_a_private_address_is_refused(
    server: FixtureServer, monkeypatch: pytest.MonkeyPatch, no_private: None
) -> None:
    _public_localhost(monkeypatch)
    start = server.url("/redirect-private-literal").replace("127.0.0.1", "localhost")
    server.routes["/redirect-private-literal"] = fault_routes.redirect_to(server.url("/ok"))
    with pytest.raises(RefusedURL, match=r"non-public address 127\.0\.0\.1"):
        Fetcher(timeout=2.0).fetch(start)
    assert not any(path == "/ok" for path, _ in server.requests)


def test_a_redirect_to_cloud_metadata_is_refused_even_when_the_local_mirror_is_allowed(
    server: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSARCHIVE_ALLOW_PRIVATE", "127.0.0.1")
    with pytest.raises(RefusedURL, match=r"169\.254\.169\.254"):
        Fetcher(timeout=2.0).fetch(server.url("/redirect-metadata"))


def test_private_urls_found_in_a_sitemap_are_refused_and_never_requested(
    server: FixtureServer, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSARCHIVE_ALLOW_PRIVATE", "127.0.0.1")
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{server.url('/news/crimea-red-line.html')}</loc></url>"
        "<url><loc>http://169.254.169.254/latest/meta-data/</loc></url>"
        "<url><loc>http://10.1.2.3/news/internal.html</loc></url>"
        "<url><loc>file:///etc/passwd</loc></url>"
        "</urlset>"
    ).encode()
    server.routes["/sitemap.xml"] = fault_routes.charset(sitemap, "application/xml")
    archive_dir.mkdir()
    (archive_dir / "sources.toml").write_text(
        f'[settings]\ndelay = 0.0\n\n[[source]]\nname = "s"\nstart = ["{server.url("/sitemap.xml")}"]\n', "utf-8"
    )
    _, out, err = run_cli(archive_dir, "ingest", "--json")
    counts = json.loads(out)
    assert counts["new"] == 1, err
    assert counts["refused"] >= 2
    assert "Traceback" not in err
    _, out, _ = run_cli(archive_dir, "export", "--jsonl")
    assert [json.loads(line)["url"] for line in out.splitlines()] == [server.url("/news/crimea-red-line.html")]


def test_unresolvable_host_is_a_fetch_error_not_a_crash(no_private: None) -> None:
    with pytest.raises(FetchError, match="cannot resolve host"):
        check_url("http://no-such-host.invalid/")


EVIL_TITLE = "Evil &#27;[2J&#27;]0;pwned&#7; headline \x1b[31mred\x1b[0m \u202etxt.exe"
EVIL_PAGE = fault_routes.ARTICLE.format(
    title=EVIL_TITLE, text="Harbour text with a bell &#7; and CSI &#155;31m and raw \x1b[1m bold. " * 10
).encode()
BAD = ("\x1b", "\x07", "\x9b", "\u202e")


def _fetch_evil(server: FixtureServer, archive: Path) -> Path:
    server.routes["/news/evil.html"] = fault_routes.charset(EVIL_PAGE, "text/html; charset=utf-8")
    code, _, err = run_cli(archive, "fetch", server.url("/news/evil.html"))
    assert code == 0, err
    return archive


@pytest.fixture
def evil_archive(server: FixtureServer, archive_dir: Path) -> Path:
    """An archive of the evil page, for a test that changes it."""
    return _fetch_evil(server, archive_dir)


@pytest.fixture(scope="module")
def evil_server() -> Iterator[FixtureServer]:
    srv = FixtureServer(FIXTURES / "e2e").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def shared_evil_archive(evil_server: FixtureServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of the evil page built once for the module: only for tests that leave it as it is."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWSARCHIVE_ALLOW_PRIVATE", "1")
        return _fetch_evil(evil_server, tmp_path_factory.mktemp("evil") / "archive")


@pytest.mark.parametrize(
    "args",
    [
        ["search", "harbour"],
        ["search", "harbour", "--json"],
        ["search", "harbour", "--jsonl"],
        ["show", "URL"],
        ["show", "URL", "--json"],
        ["export", "--jsonl"],
        ["reparse", "--diff"],
    ],
)
def test_control_sequences_in_scraped_text_never_reach_the_output(
    shared_evil_archive: Path, evil_server: FixtureServer, args: list[str]
) -> None:
    args = [evil_server.url("/news/evil.html") if a == "URL" else a for a in args]
    code, out, err = run_cli(shared_evil_archive, *args)
    assert code == 0, err
    assert "Evil" in out or args[0] == "reparse"
    for ch in BAD:
        assert ch not in out and ch not in err


def test_stored_text_holds_no_control_characters(shared_evil_archive: Path) -> None:
    _, out, _ = run_cli(shared_evil_archive, "export", "--jsonl")
    record = json.loads(out)
    text = record["headline"] + record["body"]
    assert not any(ch in text for ch in BAD)
    assert record["headline"].startswith("Evil [2J]0;pwned headline [31mred[0m")


def test_show_raw_is_the_one_byte_for_byte_output(shared_evil_archive: Path, evil_server: FixtureServer) -> None:
    url = evil_server.url("/news/evil.html")
    result = CliRunner().invoke(cli, ["--archive", str(shared_evil_archive), "show", "--raw", url])
    assert result.exit_code == 0
    assert result.stdout_bytes == EVIL_PAGE


def test_a_warc_name_in_the_store_cannot_point_outside_the_archive(evil_archive: Path, server: FixtureServer) -> None:
    with sqlite3.connect(evil_archive / "store.sqlite") as db:
        db.execute("UPDATE captures SET warc = '../../../etc/passwd'")
    code, out, err = run_cli(evil_archive, "show", "--raw", server.url("/news/evil.html"))
    assert code == 1
    assert "refused to read" in err
    assert out == ""


def test_export_to_a_missing_directory_fails_cleanly_and_writes_nothing(
    shared_evil_archive: Path, tmp_path: Path
) -> None:
    target = tmp_path / "no" / "such" / "dir" / "out.json"
    code, _, err = run_cli(shared_evil_archive, "export", "-o", str(target))
    assert code == 2  # a usage error: the user named a place that does not exist
    assert err.strip().splitlines()[0] == f"Error: -o {target}: no such directory {target.parent}"
    assert not (tmp_path / "no").exists()


def test_export_writes_exactly_the_file_it_was_given(shared_evil_archive: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    code, _, err = run_cli(shared_evil_archive, "export", "-o", str(out_dir / "all.json"))
    assert code == 0, err
    assert [p.name for p in out_dir.iterdir()] == ["all.json"]
    assert len(json.loads((out_dir / "all.json").read_text("utf-8"))) == 1


def test_an_archive_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    code, _, err = run_cli(not_a_dir, "import-warc", str(FIXTURES / "tour" / "example-news.warc.gz"))
    assert code in (1, 2)
    assert err.startswith("Error: ") or "Invalid value" in err
    assert "Traceback" not in err
    assert not_a_dir.read_text() == "x"


def test_dns_rebinding_is_caught_at_the_connection(
    server: FixtureServer, monkeypatch: pytest.MonkeyPatch, archive_dir: Path, no_private: None
) -> None:
    """The name passes the check as a public address, then connects to 127.0.0.1: refused, nothing stored."""
    _public_localhost(monkeypatch)
    with pytest.raises(RefusedURL, match=r"connected to the non-public address 127\.0\.0\.1"):
        Fetcher(timeout=2.0).fetch(server.url("/ok").replace("127.0.0.1", "localhost"))
    code, _, err = run_cli(archive_dir, "fetch", server.url("/ok").replace("127.0.0.1", "localhost"))
    assert code == 1
    assert "connected to the non-public address" in err
    assert not list(archive_dir.glob("warc/*.warc.gz"))
