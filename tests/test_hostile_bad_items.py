"""Issue 12, class 1: one bad item never stops a run, or any later run.

Each case puts one hostile value (a URL, a charset label, a date at the end of the calendar, a state of
the archive, a value in sources.toml) among good items, on real 127.0.0.1 servers or real files, and
checks that the good items are archived, the bad one is a one-line failure or refusal, and no command
exits 70 (internal error).
"""

from __future__ import annotations

import os
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hostile_kit import XML, archive_of_good_page, body, config, feed, page, run, sitemap, source, warc, with_good_page
from server import FixtureServer, send

from newsarchive.errors import ParseError
from newsarchive.fetch.urls import InvalidURL, to_uri
from newsarchive.parse import parse_html


@pytest.fixture
def site(empty_site: FixtureServer) -> FixtureServer:
    return with_good_page(empty_site)


def urls_of(archive: Path) -> set[str]:
    result = run(archive, "export", "--jsonl")
    assert result.code == 0, result.err
    return {line.split('"url": "', 1)[1].split('"', 1)[0] for line in result.out.splitlines()}


# --- non-text codecs named as a charset -------------------------------------------------------------

NON_TEXT_CODECS = ["undefined", "punycode", "rot13", "base64", "hex", "zlib_codec", "uu", "idna", "unicode-escape"]


@pytest.mark.parametrize("label", NON_TEXT_CODECS)
def test_a_feed_declaring_a_non_text_codec_is_read_as_an_ordinary_feed(
    site: FixtureServer, tmp_path: Path, label: str
) -> None:
    site.routes["/feed.xml"] = body(feed(site.url("/good.html"), encoding=label), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("s", site.url("/feed.xml")))
    result = run(archive, "ingest")
    assert not result.crashed and result.code == 0, result.err
    assert urls_of(archive) == {site.url("/good.html")}


@pytest.mark.parametrize("label", ["undefined", "punycode", "base64"])
def test_a_feed_whose_content_type_names_a_non_text_codec_is_read(
    site: FixtureServer, tmp_path: Path, label: str
) -> None:
    site.routes["/feed.xml"] = body(
        feed(site.url("/good.html")), {"Content-Type": f"application/rss+xml; charset={label}"}
    )
    archive = tmp_path / "a"
    config(archive, sources=source("s", site.url("/feed.xml")))
    result = run(archive, "ingest")
    assert result.code == 0, result.err
    assert urls_of(archive) == {site.url("/good.html")}


@pytest.mark.parametrize("label", ["undefined", "punycode", "rot13", "base64"])
def test_a_sitemap_declaring_a_non_text_codec_is_read(site: FixtureServer, tmp_path: Path, label: str) -> None:
    site.routes["/sitemap.xml"] = body(sitemap(site.url("/good.html"), encoding=label), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("s", site.url("/sitemap.xml")))
    result = run(archive, "ingest")
    assert result.code == 0, result.err
    assert urls_of(archive) == {site.url("/good.html")}


@pytest.mark.parametrize(
    "label", ["undefined", "rot13", "base64", "uu_codec", "bz2", "x-user-defined", "replacement", "unicode-escape"]
)
def test_a_page_in_a_non_text_codec_is_archived_then_reparsed_with_the_whole_archive(
    site: FixtureServer, tmp_path: Path, label: str
) -> None:
    site.routes["/odd.html"] = body(
        page("Codec story caf\u00e9", f'<meta charset="{label}">'), {"Content-Type": f"text/html; charset={label}"}
    )
    archive = tmp_path / "a"
    assert run(archive, "fetch", site.url("/good.html")).code == 0
    result = run(archive, "fetch", site.url("/odd.html"))
    assert result.code == 0, result.err
    reparse = run(archive, "reparse")
    assert reparse.code == 0 and not reparse.crashed, reparse.err
    found = run(archive, "search", "codec", "--json")
    assert found.code == 0 and "Codec story caf\u00e9" in found.out


# --- malformed URLs in pages, redirects, sitemap indexes, typed ---------------------------------------

MALFORMED = ["http://[::1/x", "http://[oops/", "//[::1/x", "http://host.example:99999/x"]


@pytest.mark.parametrize("bad", MALFORMED)
def test_a_malformed_canonical_og_url_or_image_url_is_dropped_and_the_page_kept(
    site: FixtureServer, tmp_path: Path, bad: str
) -> None:
    head = (
        f'<link rel="canonical" href="{bad}"><meta property="og:url" content="{bad}">'
        f'<meta property="og:image" content="{bad}">'
    )
    site.routes["/odd.html"] = body(page("Malformed links story", head))
    archive = tmp_path / "a"
    result = run(archive, "fetch", site.url("/odd.html"))
    assert result.code == 0 and not result.crashed, result.err
    shown = run(archive, "show", site.url("/odd.html"), "--json").json()
    assert isinstance(shown, dict)
    assert shown["canonical_url"] == site.url("/odd.html")
    assert shown["images"] == []


@pytest.mark.parametrize(
    "bad", ["http://[oops/", "http://[::1/x", "//[::1/x", "http://a..b/", f"http://{'a' * 64}.example/"]
)
def test_a_redirect_to_a_malformed_url_fails_that_page_and_the_next_is_fetched(
    site: FixtureServer, tmp_path: Path, bad: str
) -> None:
    site.routes["/moved"] = lambda h: send(h, 302, b"", {"Location": bad, "Content-Length": "0"})
    archive = tmp_path / "a"
    result = run(archive, "fetch", site.url("/moved"), site.url("/good.html"))
    assert result.code == 1 and not result.crashed, result.err
    assert "malformed" in result.err or "not a valid" in result.err
    assert urls_of(archive) == {site.url("/good.html")}


@pytest.mark.parametrize("bad", [*MALFORMED, "http://a..b/sitemap.xml", "http://\u00e9\u00e9..x/"])
def test_a_malformed_child_of_a_sitemap_index_is_skipped_and_its_siblings_read(
    site: FixtureServer, tmp_path: Path, bad: str
) -> None:
    site.routes["/child.xml"] = body(sitemap(site.url("/good.html")), XML)
    site.routes["/index.xml"] = body(sitemap(bad.replace("&", "&amp;"), site.url("/child.xml"), index=True), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("s", site.url("/index.xml")))
    result = run(archive, "ingest")
    assert result.code in (0, 1) and not result.crashed, result.err
    if result.code == 1:  # a malformed absolute URL is counted, never hidden (a scheme-relative one is no URL)
        assert "1 bad-urls" in result.err
    assert urls_of(archive) == {site.url("/good.html")}


@pytest.mark.parametrize(
    "bad", ["http://a..b/", "http://.example/", f"http://{'a' * 64}.example/", f"http://{'a.' * 130}x/"]
)
def test_a_host_with_an_empty_or_overlong_label_is_refused_before_any_request(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidURL):
        to_uri(bad)
    for args in (["sources", "add", bad], ["fetch", bad]):
        result = run(tmp_path / "a", *args)
        assert result.code in (1, 2) and not result.crashed, result.err
        assert "not a valid" in result.err


def test_a_host_name_ending_in_a_dot_is_still_a_valid_url() -> None:
    assert to_uri("https://news.example.com./a") == "https://news.example.com./a"


def test_an_iri_listed_in_a_feed_is_archived_and_shown_by_the_url_as_listed(
    site: FixtureServer, tmp_path: Path
) -> None:
    listed = site.url("/\u00f1ews/\u00fc.html?q=\u00e9#top")
    site.routes["/%C3%B1ews/%C3%BC.html"] = body(page("Enye story"))
    site.routes["/feed.xml"] = body(feed(listed), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("s", site.url("/feed.xml")))
    assert run(archive, "ingest").code == 0
    assert run(archive, "ingest").code == 0  # the next run is unharmed
    assert urls_of(archive) == {site.url("/%C3%B1ews/%C3%BC.html?q=%C3%A9")}
    for key in (listed, site.url("/\u00f1ews/\u00fc.html?q=\u00e9"), site.url("/%C3%B1ews/%C3%BC.html?q=%C3%A9")):
        shown = run(archive, "show", key)
        assert shown.code == 0 and "Enye story" in shown.out, (key, shown.err)


def test_a_redirect_whose_location_is_raw_latin1_bytes_is_followed(site: FixtureServer, tmp_path: Path) -> None:
    def latin1(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler._headers_buffer.append(b"Location: /caf\xe9.html\r\n")  # type: ignore[attr-defined]
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    site.routes["/moved"] = latin1
    site.routes["/caf%C3%A9.html"] = body(page("Cafe story"))
    site.routes["/caf%E9.html"] = body(page("Cafe story"))
    archive = tmp_path / "a"
    result = run(archive, "fetch", site.url("/moved"))
    assert result.code == 0 and not result.crashed, result.err
    assert "/caf%E9.html" in [p for p, _ in site.requests]  # the bytes percent-encoded, as browsers send them


# --- dates at the ends of the calendar ---------------------------------------------------------------


@pytest.fixture
def archived(site: FixtureServer, tmp_path: Path) -> Path:
    return archive_of_good_page(site, tmp_path / "a")


@pytest.mark.parametrize(
    "dates",
    [
        ["--from", "9999-12-15"],
        ["--from", "9999"],
        ["--to", "9999-12-31", "--tz", "Pacific/Kiritimati"],
        ["--from", "0001-01-01", "--tz", "Asia/Tokyo"],
        ["--to", "0001-01-01", "--tz", "America/Anchorage"],
        ["--from", "9999-12", "--tz", "Etc/GMT+12"],
        ["--to", "0001-01", "--tz", "Etc/GMT-14"],
        ["--from", "10000-01-01"],
        ["--from", "0000-01-01"],
        ["--from", "2024-02-30"],
    ],
)
@pytest.mark.parametrize("view", [[], ["--facets"], ["--histogram"], ["--json"]])
def test_search_dates_at_the_ends_of_the_calendar_are_hits_none_or_a_usage_error(
    archived: Path, dates: list[str], view: list[str]
) -> None:
    result = run(archived, "search", *dates, *view)
    assert result.code in (0, 1, 2) and not result.crashed, result.err
    if result.code == 2:
        assert len(result.err.strip().splitlines()) <= 4


@pytest.mark.parametrize("dates", [["--from", "9999-12-15"], ["--from", "0001-01-01", "--tz", "Asia/Tokyo"]])
def test_export_dates_at_the_ends_of_the_calendar_exit_cleanly(archived: Path, dates: list[str]) -> None:
    result = run(archived, "export", "--jsonl", *dates)
    assert result.code in (0, 1, 2) and not result.crashed, result.err


@pytest.mark.parametrize(
    "query", ["published:[9999-12-15 TO]", "published:[0001-01-01 TO 0001-01-02]", "published:99999"]
)
def test_date_ranges_in_the_query_at_the_ends_of_the_calendar_exit_cleanly(archived: Path, query: str) -> None:
    result = run(archived, "search", query)
    assert result.code in (0, 1, 2) and not result.crashed, result.err


@pytest.mark.parametrize(
    "published", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31", "0001-01-01", "99999-01-01"]
)
def test_a_page_dated_at_the_ends_of_the_calendar_is_archived_counted_and_exported(
    site: FixtureServer, tmp_path: Path, published: str
) -> None:
    head = (
        f'<meta property="article:published_time" content="{published}">'
        f'<script type="application/ld+json">{{"@type":"NewsArticle","datePublished":"{published}",'
        f'"dateModified":"{published}"}}</script>'
    )
    site.routes["/dated.html"] = body(page("Dated story", head))
    archive = tmp_path / "a"
    assert run(archive, "fetch", site.url("/dated.html")).code == 0
    for args in (
        ["stats"],
        ["search", "--histogram"],
        ["search", "--sort", "oldest", "--json"],
        ["export", "--csv"],
        ["reparse"],
    ):
        result = run(archive, *args)
        assert result.code == 0 and not result.crashed, (args, result.err)


def test_feed_and_sitemap_dates_at_the_ends_of_the_calendar_are_read_and_filtered(
    site: FixtureServer, tmp_path: Path
) -> None:
    site.routes["/other.html"] = body(page("Other harbour story"))
    site.routes["/feed.xml"] = body(
        feed(site.url("/good.html"), site.url("/other.html"),
             dates=["Fri, 31 Dec 9999 23:59:59 -1400", "Mon, 01 Jan 0001 00:00:00 +1400"]),
        XML,
    )  # fmt: skip
    lastmod = (
        "<lastmod>9999-12-31T23:59:59-14:00</lastmod><news:news>"
        "<news:publication_date>0001-01-01T00:00:00+14:00</news:publication_date></news:news>"
    )
    site.routes["/sitemap.xml"] = body(sitemap(site.url("/good.html"), extra=lastmod), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("f", site.url("/feed.xml")) + source("m", site.url("/sitemap.xml")))
    backfill = run(archive, "ingest", "--since", "2020-01-01")
    assert backfill.code == 0 and not backfill.crashed, backfill.err
    result = run(archive, "ingest")
    assert result.code == 0 and not result.crashed, result.err
    assert site.url("/good.html") in urls_of(archive)


@pytest.mark.parametrize(
    "date",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "garbage",
        "2024-02-30T00:00:00Z",
        "99999-01-01T00:00:00Z",
    ],
)
def test_a_warc_date_at_the_ends_of_the_calendar_never_harms_later_runs(
    site: FixtureServer, tmp_path: Path, date: str
) -> None:
    archive = tmp_path / "a"
    imported = run(
        archive,
        "import-warc",
        str(warc(tmp_path / "d.warc.gz", [("http://d.example/a.html", page("Dated capture"), date)])),
    )
    assert imported.code in (0, 1) and not imported.crashed, imported.err
    # Later runs write new WARC files (their names come from the clock) and read the old record.
    for args in (["fetch", site.url("/good.html")], ["stats"], ["export", "--csv"], ["reparse"], ["store", "rebuild"]):
        result = run(archive, *args)
        assert result.code == 0 and not result.crashed, (args, result.err)


# --- a WARC record that lacks or garbles its target URI ----------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "http://[::1/x",
        "http://[oops/",
        "http://ex.example/\u00f1/\u00e9?q=\u00fc",
        "relative/path",
        "mailto:x@y.example",
        "http://a..b/",
    ],
)
def test_a_warc_record_with_a_missing_or_malformed_target_uri_never_stops_the_import(tmp_path: Path, uri: str) -> None:
    path = warc(
        tmp_path / "t.warc.gz",
        [(uri, page("Odd target"), None), ("http://ok.example/ok.html", page("Fine after odd"), None)],
    )
    archive = tmp_path / "a"
    result = run(archive, "import-warc", str(path))
    assert result.code == 0 and not result.crashed, result.err
    assert "Fine after odd" in run(archive, "search", "fine", "--json").out
    for args in (["stats"], ["store", "rebuild"], ["reparse"]):
        later = run(archive, *args)
        assert later.code == 0 and not later.crashed, (args, later.err)


# --- the environment and the state of the archive ---------------------------------------------------


@pytest.mark.parametrize("value", ["localhost", "::1/200", "127.0.0.1/33", "yes please", "\x1b[31m"])
def test_a_bad_allow_private_value_stops_fetching_with_a_usage_error_but_reading_works(
    archived: Path, site: FixtureServer, value: str
) -> None:
    env = {"NEWSARCHIVE_ALLOW_PRIVATE": value}
    fetched = run(archived, "fetch", site.url("/good.html"), env=env)
    assert fetched.code == 2 and "NEWSARCHIVE_ALLOW_PRIVATE" in fetched.err
    assert "\x1b" not in fetched.err
    assert run(archived, "search", "harbour", env=env).code == 0
    assert run(archived, "stats", env=env).code == 0


@pytest.mark.parametrize("kind", ["directory", "fifo", "dangling-symlink", "symlink-to-directory", "device"])
def test_a_lock_that_is_not_a_regular_file_refuses_writing_and_keeps_reading(
    archived: Path, site: FixtureServer, tmp_path: Path, kind: str
) -> None:
    lock = archived / "lock"
    lock.unlink(missing_ok=True)
    if kind == "directory":
        lock.mkdir()
    elif kind == "fifo":
        os.mkfifo(lock)
    elif kind == "dangling-symlink":
        lock.symlink_to(tmp_path / "nowhere" / "lock")
    elif kind == "symlink-to-directory":
        lock.symlink_to(tmp_path)
    else:
        lock.symlink_to("/dev/null")
    result = run(archived, "fetch", site.url("/good.html"))
    assert result.code == 2 and not result.crashed, result.err
    assert "cannot use the lock file" in result.err
    assert run(archived, "search", "harbour").code == 0
    assert run(archived, "stats").code == 0


# --- sources.toml: every value checked, with its line -------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ('user_agent = "bot\\n"', "user_agent"),  # a trailing newline passed a `$` check: every fetch failed
        ('contact = "me@example.org\\n"', "contact"),
        ("delay = true", "delay"),
        ("delay = [1]", "delay"),
        ("delay = 1979-05-27", "delay"),
        ("delay = 1e309", "delay"),
        ("timeout = -0.0", "timeout"),
        ("retries = 1e9", "retries"),
        ("retries = 99999999999999999999", "retries"),
        ("max_crawl_delay = nan", "max_crawl_delay"),
        ("max_retry_after = inf", "max_retry_after"),
        ('allow_private = ["::1/200"]', "allow_private"),
    ],
)
def test_a_bad_settings_value_is_a_usage_error_naming_its_line_and_key(
    site: FixtureServer, tmp_path: Path, settings: str, key: str
) -> None:
    archive = tmp_path / "a"
    path = config(
        archive,
        settings=f"delay = 0.0\n{settings}" if key != "delay" else settings,
        sources=source("s", site.url("/good.html")),
    )
    for args in (["ingest"], ["fetch", site.url("/good.html")]):
        result = run(archive, *args)
        assert result.code == 2 and not result.crashed, (args, result.err)
        assert str(path) in result.err and "line " in result.err and key in result.err
    assert site.requests == [] or all(p == "/robots.txt" for p, _ in site.requests)


@pytest.mark.parametrize(
    "entry",
    [
        'name = "s\\n"\nstart = ["URL"]',
        'name = 5\nstart = ["URL"]',
        'name = "s"\nstart = [5]',
        'name = "s"\nstart = []',
        'name = "../x"\nstart = ["URL"]',
        'name = "s"\nstart = ["URL"]\ndelay = -3',
        'name = "s"\nstart = ["URL"]\nmax_pages = 1e3',
        'name = "s"\nstart = ["http://[::1/x"]',
    ],
)
def test_a_bad_source_entry_is_a_usage_error_naming_its_line(site: FixtureServer, tmp_path: Path, entry: str) -> None:
    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_text(
        "[settings]\ndelay = 0.0\n\n[[source]]\n" + entry.replace("URL", site.url("/good.html")) + "\n", "utf-8"
    )
    result = run(archive, "ingest")
    assert result.code == 2 and not result.crashed, result.err
    assert "sources.toml" in result.err and "line " in result.err


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe[\x00s\x00]\x00", b"[settings]\x00\ndelay = 0.0\n", b"[settings]\ndelay = 0.0\n" + b"x" * 2_000_000],
)
def test_a_sources_file_that_is_not_toml_text_is_a_usage_error(tmp_path: Path, raw: bytes) -> None:
    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_bytes(raw)
    for args in (["ingest"], ["sources", "list"]):
        result = run(archive, *args)
        assert result.code == 2 and not result.crashed, (args, result.err)


@pytest.mark.parametrize("name", ["s\n", "\ns", "a b", "a/b", "..", "-rf", "\u0430", "a\u200bb", "x" * 65])
def test_sources_add_refuses_every_name_the_tool_would_refuse_later(
    site: FixtureServer, tmp_path: Path, name: str
) -> None:
    site.routes["/feed.xml"] = body(feed(site.url("/good.html")), XML)
    archive = tmp_path / "a"
    result = run(archive, "sources", "add", site.url("/feed.xml"), "--name", name)
    assert result.code == 2 and "is not a source name" in result.err
    assert not (archive / "sources.toml").exists() or name not in (archive / "sources.toml").read_text("utf-8")


@pytest.mark.parametrize("name", ["CON", "a.", "a-", "a_b", "1", "x" * 64])
def test_a_name_sources_add_accepts_works_in_every_later_command(
    site: FixtureServer, tmp_path: Path, name: str
) -> None:
    site.routes["/feed.xml"] = body(feed(site.url("/good.html")), XML)
    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_text("[settings]\ndelay = 0.0\n", "utf-8")
    assert run(archive, "sources", "add", site.url("/feed.xml"), "--name", name).code == 0
    assert run(archive, "ingest", "--source", name).code == 0
    assert run(archive, "ingest").code == 0
    assert run(archive, "search", "--source", name).code == 0
    assert name in run(archive, "sources", "list").out
    assert run(archive, "sources", "remove", name).code == 0


def test_a_site_parser_that_meets_a_malformed_url_fails_only_that_page(
    site: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ValueError a site parser lets out (urljoin on a bad URL, say) is that page's ParseError, never exit 70."""
    from newsarchive.parse.sites.blogger import Blogger

    def raising(self: Blogger, html: str, url: str) -> None:
        raise ValueError("Invalid IPv6 URL")  # what urljoin raises on http://[::1/x

    head = '<link rel="canonical" href="http://[::1/x"><meta property="og:image" content="http://[oops/">'
    site.routes["/odd.html"] = body(page("Blog story", head))
    monkeypatch.setattr(Blogger, "parse", raising)
    with pytest.raises(ParseError):
        parse_html(page("Blog story", head).decode(), "https://x.blogspot.com/2024/01/a.html", parser="blogger")
    archive = tmp_path / "a"
    result = run(archive, "fetch", "--parser", "blogger", site.url("/odd.html"), site.url("/good.html"))
    assert result.code == 1 and not result.crashed, result.err
    assert "unreadable value in the page" in result.err
