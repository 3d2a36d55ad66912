"""Issue 12, the independent audit: hostile cases the other hostile files do not list, class by class.

Every case runs the CLI as a user would, against a real 127.0.0.1 server (two "sites": ``127.0.0.1`` and
``localhost``) or real files: ``ingest`` with a sources.toml, ``fetch``, ``import-warc``, then the reading
commands. Each checks that the hostile item is a one-line failure or is read, the good item next to it
is archived, and nothing exits 70 (internal error) or prints a traceback or a control character.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile_kit import CONTROLS, XML, Run, body, config, feed, page, run, sitemap, source, warc
from server import FixtureServer

from newsarchive.cli import cli


@pytest.fixture
def site(empty_site: FixtureServer) -> FixtureServer:
    empty_site.routes["/good.html"] = body(page("Harbour reopens after storm"))
    return empty_site


def urls_of(archive: Path) -> set[str]:
    result = run(archive, "export", "--jsonl")
    assert result.code == 0, result.err
    return {json.loads(line)["url"] for line in result.out.splitlines()}


def articles(archive: Path) -> dict[str, dict[str, object]]:
    result = run(archive, "export", "--jsonl")
    assert result.code == 0, result.err
    return {a["url"]: a for a in map(json.loads, result.out.splitlines())}


def fetch(archive: Path, *urls: str) -> Run:
    """``newsarchive fetch URLS`` in an archive with no delay between requests (unless its sources.toml says)."""
    if not (archive / "sources.toml").exists():
        config(archive)
    return run(archive, "fetch", *urls)


def ingest_of(site: FixtureServer, archive: Path, *start: str, settings: str = "delay = 0.0") -> tuple[int, str]:
    config(archive, settings=settings, sources=source("s", *start))
    result = run(archive, "ingest")
    assert not result.crashed, result.err
    again = run(archive, "ingest")  # and every later run
    assert not again.crashed, again.err
    return result.code, result.err


def raw_route(raw: bytes) -> object:
    """A route writing ``raw`` bytes as the whole response (status line and headers included)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(raw)
        handler.wfile.flush()
        handler.close_connection = True

    return route


def redirect_to(location: bytes) -> object:
    return raw_route(b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n")


# --- class 1: URLs, IRIs, IDN, ports, userinfo, zone ids in every place a URL comes from -----------------

LISTED = [
    "http://[fe80::1%25eth0]/zone.html",  # an IPv6 zone id (RFC 6874)
    "http://[fe80::1%eth0]/zone.html",  # ... not percent-encoded
    "http://127.0.0.1:0/zero-port.html",
    "http://127.0.0.1:-1/negative-port.html",
    "http://127.0.0.1:65536/too-big.html",
    "http://127.0.0.1:8x/letters.html",
    "http://xn--/bad-punycode.html",
    "http://xn--zz-/bad-punycode.html",
    "http://" + "\u00fc" * 60 + ".example/long-idn.html",  # a label over 63 octets once punycoded
    "http://b\u00fccher.example/idn.html",
    "http://user:p%40ss@[::1]:1/userinfo.html",
    "http:///no-host.html",
    "http://exa mple.com/space.html",
    "http://a\x00b.example/nul.html",
    "http://[::ffff:999.1.1.1]/bad-v4-in-v6.html",
    "http://\uff21.example/fullwidth.html",
    "http://example.com\u3002/ideographic-dot.html",
    "http://\u202eevil.example/bidi.html",
]


@pytest.mark.parametrize("bad", LISTED)
@pytest.mark.parametrize("where", ["sitemap", "feed"])
def test_an_odd_url_listed_among_good_ones_never_stops_the_run(
    site: FixtureServer, tmp_path: Path, bad: str, where: str
) -> None:
    listed = (bad.replace("&", "&amp;"), site.url("/good.html"))
    if where == "sitemap":
        site.routes["/doc.xml"] = body(sitemap(*listed), XML)
    else:
        site.routes["/doc.xml"] = body(feed(*listed), XML)
    archive = tmp_path / "a"
    code, err = ingest_of(site, archive, site.url("/doc.xml"))
    assert code in (0, 1), err
    assert site.url("/good.html") in urls_of(archive)


def test_a_listed_url_on_a_dead_port_of_the_host_never_takes_the_hosts_other_pages_out_of_the_run(
    site: FixtureServer, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    listed = [f"http://127.0.0.1:{dead}/{i}.html" for i in range(3)] + [site.url("/good.html")]
    site.routes["/doc.xml"] = body(sitemap(*listed), XML)
    archive = tmp_path / "a"
    code, err = ingest_of(site, archive, site.url("/doc.xml"))
    assert code == 1 and err.count(f"127.0.0.1:{dead}") == 1, err  # the dead origin reported, once
    assert urls_of(archive) == {site.url("/good.html")}


def test_on_a_shared_postgresql_frontier_a_dead_port_leaves_the_hosts_other_pages_in_the_run(
    site: FixtureServer, tmp_path: Path, pg_url: str
) -> None:
    """The same on the shared frontier (claims in the database): only the dead origin waits for the next run."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    for i in range(4):
        site.routes[f"/good{i}.html"] = body(page(f"Harbour story number {i}"))
    good = {site.url(f"/good{i}.html") for i in range(4)}
    listed = [f"http://127.0.0.1:{dead}/{i}.html" for i in range(3)] + sorted(good)
    site.routes["/doc.xml"] = body(sitemap(*listed), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("s", site.url("/doc.xml")))
    env = {"NEWSARCHIVE_STORE": pg_url}
    first = run(archive, "ingest", env=env)
    assert first.code == 1 and not first.crashed and first.err.count(f"127.0.0.1:{dead}") == 1, first.err
    result = run(archive, "export", "--jsonl", env=env)
    assert {json.loads(line)["url"] for line in result.out.splitlines()} == good
    again = run(archive, "ingest", env=env)  # the dead origin's pages are due again, not lost or claimed
    assert again.code == 1 and f"cannot reach 127.0.0.1:{dead}" in again.err, again.err


@pytest.mark.parametrize(
    "location",
    [
        b"http://[fe80::1%25eth0]/x",
        b"http://127.0.0.1:0/x",
        b"http://127.0.0.1:65536/x",
        b"http://xn--/x",
        b"http://" + "\u00fc".encode() * 60 + b".example/x",
        b"http:///x",
        b"http://exa mple.com/x",
        b"",
        b"\x1b]0;pwn\x07",
    ],
)
def test_a_redirect_to_an_odd_location_fails_that_page_and_the_next_is_fetched(
    site: FixtureServer, tmp_path: Path, location: bytes
) -> None:
    site.routes["/moved"] = redirect_to(location)
    archive = tmp_path / "a"
    result = fetch(archive, site.url("/moved"), site.url("/good.html"))
    assert result.code in (0, 1) and not result.crashed, result.err
    assert not CONTROLS & set(result.err + result.out)
    assert site.url("/good.html") in urls_of(archive)


def test_a_redirect_with_userinfo_keeps_the_credentials_out_of_the_archive(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/moved"] = redirect_to(site.url("/good.html").replace("http://", "http://u:secret@").encode())
    archive = tmp_path / "a"
    result = fetch(archive, site.url("/moved"))
    assert result.code in (0, 1) and not result.crashed, result.err
    assert "secret" not in json.dumps(list(urls_of(archive)))


@pytest.mark.parametrize(
    "uri",
    [
        "http://[fe80::1%25eth0]/a.html",
        "http://ok.example:99999/a.html",
        "http://b\u00fccher.example/a.html",
        "http://ok.example/a b.html",
        "http://xn--/a.html",
        "http://u:secret@ok.example/a.html",
    ],
)
def test_an_odd_warc_target_uri_never_stops_the_import_or_later_runs(tmp_path: Path, uri: str) -> None:
    path = warc(
        tmp_path / "t.warc.gz",
        [(uri, page("Odd target story"), None), ("http://ok.example/ok.html", page("Fine after odd"), None)],
    )
    archive = tmp_path / "a"
    result = run(archive, "import-warc", str(path))
    assert result.code in (0, 1) and not result.crashed, result.err
    assert "http://ok.example/ok.html" in urls_of(archive)
    for args in (["stats"], ["search", "story", "--json"], ["store", "rebuild"], ["reparse"], ["export", "--csv"]):
        later = run(archive, *args)
        assert later.code in (0, 1) and not later.crashed, (args, later.err)


@pytest.mark.parametrize(
    "args",
    [
        ["search", "harbour", "--site", "http://[oops/"],
        ["search", "harbour", "--site", "http://[::1/x"],
        ["search", "harbour site:http://[oops/"],
        ["export", "--jsonl", "--site", "http://[oops/"],
    ],
)
def test_a_malformed_url_given_as_a_site_filter_matches_nothing(
    site: FixtureServer, tmp_path: Path, args: list[str]
) -> None:
    archive = tmp_path / "a"
    assert fetch(archive, site.url("/good.html")).code == 0
    result = run(archive, *args)
    assert result.code in (1, 2) and not result.crashed, result.err


@pytest.mark.parametrize("kind", ["fifo", "device", "symlink-loop", "dangling-symlink"])
@pytest.mark.parametrize("how", ["option", "environment"])
def test_an_archive_path_that_is_no_directory_is_a_usage_error(tmp_path: Path, kind: str, how: str) -> None:
    path = tmp_path / "archive"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/null")
    elif kind == "symlink-loop":
        path.symlink_to(tmp_path / "other")
        (tmp_path / "other").symlink_to(path)
    else:
        path.symlink_to(tmp_path / "missing")
    for args in (["ingest"], ["fetch", "http://127.0.0.1:9/"], ["search", "x"], ["stats"]):
        if how == "option":
            result = run(path, *args)
        else:
            invoked = CliRunner().invoke(cli, list(args), env={"NEWSARCHIVE_HOME": str(path)})
            result = Run(invoked.exit_code, invoked.stdout, invoked.stderr)
        assert result.code == 2 and not result.crashed, (args, result.err)
        assert "not a directory" in result.err
    assert not (tmp_path / "missing").exists()


# --- class 1: charsets, BOMs, UTF-16, UTF-7 -----------------------------------------------------------

HEADLINE = "Caf\u00e9 r\u00e9ouvre apr\u00e8s la temp\u00eate"


def encoded_page(encoding: str, meta: str = "", bom: bytes = b"") -> bytes:
    html = page(HEADLINE, meta).decode("utf-8")
    return bom + html.encode(encoding)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (encoded_page("utf-16-le", bom=b"\xff\xfe"), "text/html"),
        (encoded_page("utf-16-be", bom=b"\xfe\xff"), "text/html; charset=iso-8859-1"),
        (encoded_page("utf-16-le", '<meta charset="iso-8859-1">', bom=b"\xff\xfe"), "text/html"),
        (encoded_page("utf-8", '<meta charset="utf-16">', bom=b""), "text/html"),  # WHATWG: utf-16 in meta is utf-8
        (encoded_page("utf-8", bom=b"\xef\xbb\xbf"), "text/html; charset=windows-1252"),  # the BOM wins
        (encoded_page("utf-8", '<meta charset="utf-7">'), "text/html"),
        (encoded_page("utf-8"), "text/html; charset=utf-7"),
        (encoded_page("utf-8"), 'text/html; charset="utf-8'),
        (encoded_page("utf-8"), "text/html; charset=x-user-defined"),
        (encoded_page("utf-8"), "text/html; charset=\x1b[31m"),
        (encoded_page("latin-1", '<meta charset="latin1\x00">'), "text/html"),
    ],
    ids=[
        "utf16le-bom", "utf16be-bom-vs-header", "utf16-bom-vs-meta", "meta-utf16-on-utf8", "utf8-bom-vs-header",
        "meta-utf7", "header-utf7", "unclosed-quote", "x-user-defined", "escape-in-label", "nul-in-meta-label",
    ],
)  # fmt: skip
def test_a_page_in_an_odd_encoding_keeps_its_headline(
    site: FixtureServer, tmp_path: Path, data: bytes, content_type: str
) -> None:
    site.routes["/enc.html"] = body(data, {"Content-Type": content_type})
    archive = tmp_path / "a"
    result = fetch(archive, site.url("/enc.html"))
    assert result.code == 0 and not result.crashed, result.err
    assert articles(archive)[site.url("/enc.html")]["headline"] == HEADLINE
    assert run(archive, "reparse").code == 0


def test_a_utf7_page_never_smuggles_markup_through_the_label(site: FixtureServer, tmp_path: Path) -> None:
    text = "Plain words about the harbour. " * 10 + "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"
    site.routes["/u7.html"] = body(page(HEADLINE, '<meta charset="utf-7">', text), {"Content-Type": "text/html"})
    archive = tmp_path / "a"
    assert fetch(archive, site.url("/u7.html")).code == 0
    assert "<script>" not in json.dumps(articles(archive))


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\xff\xfe" + feed("{good}").decode().replace("utf-8", "utf-16").encode("utf-16-le"), "feed"),
        (b"\xef\xbb\xbf" + feed("{good}"), "feed"),
        (b"\xff\xfe" + sitemap("{good}").decode().replace("utf-8", "utf-16").encode("utf-16-le"), "sitemap"),
        (b"\xef\xbb\xbf" + sitemap("{good}"), "sitemap"),
        (sitemap("{good}", encoding="utf-7"), "sitemap"),
        (feed("{good}", encoding="utf-7"), "feed"),
    ],
    ids=["feed-utf16-bom", "feed-utf8-bom", "sitemap-utf16-bom", "sitemap-utf8-bom", "sitemap-utf7", "feed-utf7"],
)
def test_a_discovery_document_with_a_bom_or_odd_label_is_read(
    site: FixtureServer, tmp_path: Path, data: bytes, kind: str
) -> None:
    good = site.url("/good.html")
    if data[:2] == b"\xff\xfe":
        text = data[2:].decode("utf-16-le").replace("{good}", good)
        data = b"\xff\xfe" + text.encode("utf-16-le")
    else:
        data = data.replace(b"{good}", good.encode())
    site.routes["/doc.xml"] = body(data, XML)
    archive = tmp_path / "a"
    _, err = ingest_of(site, archive, site.url("/doc.xml"))
    assert good in urls_of(archive), err


# --- class 1: dates at the ends of the calendar, in every input -------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":1e300}</script>',
        '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":-62135596801}</script>',
        '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"+275760-09-13T00:00:00Z"}</script>',
        '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":["-0001-01-01",'
        '"0000-00-00T00:00:00Z"]}</script>',
        '<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"9999-12-31T23:59:60+14:00"}'
        "</script>",
        '<meta property="article:published_time" content="99999999999999999999">',
        '<meta name="date" content="31/12/9999 23:59 GMT+99">',
        '<time datetime="0001-01-01T00:00:00-23:59" pubdate>old</time>',
        '<meta property="article:published_time" content="2024-03-05T07:15:00+99:99">',
    ],
)
def test_a_page_with_a_date_beyond_any_calendar_is_archived_and_every_output_works(
    site: FixtureServer, tmp_path: Path, head: str
) -> None:
    site.routes["/dated.html"] = body(page("Dated story", head))
    archive = tmp_path / "a"
    result = fetch(archive, site.url("/dated.html"))
    assert result.code == 0 and not result.crashed, result.err
    for args in (["stats"], ["search", "--histogram"], ["search", "dated", "--json"], ["export", "--csv"],
                 ["show", site.url("/dated.html")], ["reparse"]):  # fmt: skip
        later = run(archive, *args)
        assert later.code == 0 and not later.crashed, (args, later.err)


@pytest.mark.parametrize(
    ("lastmod", "pubdate"),
    [
        ("10000-01-01T00:00:00Z", "Sat, 01 Jan 10000 00:00:00 GMT"),
        ("0000-01-01", "Mon, 01 Jan 0000 00:00:00 GMT"),
        ("9999-12-31T23:59:59.999999999-23:59", "Fri, 31 Dec 9999 23:59:59 -9999"),
        ("-0001-01-01", "Fri, 31 Dec 9999 23:59:60 +1400"),
        ("1e300", "1e300"),
    ],
)
def test_lastmod_and_pubdate_beyond_any_calendar_never_stop_a_backfill(
    site: FixtureServer, tmp_path: Path, lastmod: str, pubdate: str
) -> None:
    site.routes["/other.html"] = body(page("Other harbour story"))
    site.routes["/feed.xml"] = body(feed(site.url("/other.html"), dates=[pubdate]), XML)
    site.routes["/sm.xml"] = body(sitemap(site.url("/good.html"), extra=f"<lastmod>{lastmod}</lastmod>"), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("f", site.url("/feed.xml")) + source("m", site.url("/sm.xml")))
    for args in (["ingest", "--since", "0001-01-01"], ["ingest", "--since", "9999-12-31"], ["ingest"]):
        result = run(archive, *args)
        assert result.code in (0, 1) and not result.crashed, (args, result.err)
    assert {site.url("/good.html"), site.url("/other.html")} <= urls_of(archive)


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "--since", "0001-01-01", "--until", "0001-01-01"],
        ["ingest", "--until", "9999-12-31"],
        ["ingest", "--since", "99999-01-01"],
        ["ingest", "--since", "0000-12-31"],
    ],
)
def test_ingest_backfill_dates_at_the_ends_of_the_calendar_exit_cleanly(
    site: FixtureServer, tmp_path: Path, args: list[str]
) -> None:
    site.routes["/sm.xml"] = body(sitemap(site.url("/good.html"), extra="<lastmod>2024-01-01</lastmod>"), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("m", site.url("/sm.xml")))
    result = run(archive, *args)
    assert result.code in (0, 1, 2) and not result.crashed, result.err


@pytest.mark.parametrize(
    "date",
    ["2024-13-01T00:00:00Z", "2024-01-01T25:00:00Z", "9999-12-31T23:59:60Z", "1969-12-31T23:59:59+23:59", ""],
)
def test_an_impossible_warc_date_never_stops_the_import(tmp_path: Path, date: str) -> None:
    path = warc(tmp_path / "d.warc.gz", [("http://d.example/a.html", page("Dated capture"), date or None),
                                         ("http://d.example/b.html", page("Next capture"), None)])  # fmt: skip
    archive = tmp_path / "a"
    result = run(archive, "import-warc", str(path))
    assert result.code in (0, 1) and not result.crashed, result.err
    assert "http://d.example/b.html" in urls_of(archive)
    for args in (["stats"], ["search", "--histogram"], ["reparse"]):
        assert not run(archive, *args).crashed


@pytest.mark.parametrize(
    "settings",
    [
        "delay = 1979-05-27T07:32:00Z",
        "timeout = 1979-05-27",
        "max_pages = 07:32:00",
        "user_agent = 1979-05-27T00:32:00-07:00",
        "delay = 0.0\nsince = 9999-12-31",
    ],
)
def test_a_toml_date_where_a_number_or_text_belongs_is_a_usage_error_naming_the_key(
    tmp_path: Path, settings: str
) -> None:
    archive = tmp_path / "a"
    config(archive, settings=settings, sources=source("s", "http://127.0.0.1:9/feed.xml"))
    result = run(archive, "ingest")
    assert result.code == 2 and not result.crashed, result.err
    assert "line" in result.err


# --- class 2: limits on what a server controls -----------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"".join(b"X-H%d: v\r\n" % i for i in range(500)),  # more headers than http.client takes (100)
        b"X-Big: " + b"a" * 200_000 + b"\r\n",  # one header line past http.client's 64 KiB
        b"Set-Cookie: " + b"c=" + b"b" * 70_000 + b"\r\n",
    ],
    ids=["500-headers", "200k-header", "70k-cookie"],
)
def test_a_response_with_huge_or_many_headers_fails_that_page_in_one_line(
    site: FixtureServer, tmp_path: Path, head: bytes
) -> None:
    html = page("Header story")
    site.routes["/hdr.html"] = raw_route(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + head + b"Content-Length: %d\r\n\r\n" % len(html) + html
    )
    archive = tmp_path / "a"
    result = fetch(archive, site.url("/hdr.html"), site.url("/good.html"))
    assert result.code in (0, 1) and not result.crashed, result.err
    assert site.url("/good.html") in urls_of(archive)


@pytest.mark.parametrize("kind", ["rss", "json"])
def test_a_feed_of_more_items_than_the_cap_is_read_up_to_it_with_a_warning(
    site: FixtureServer, tmp_path: Path, kind: str
) -> None:
    links = [site.url(f"/n/{i}.html") for i in range(2_100)]
    if kind == "rss":
        site.routes["/feed"] = body(feed(*links), XML)
    else:
        items = [{"id": link, "url": link, "title": "t"} for link in links]
        doc = {"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": items}
        site.routes["/feed"] = body(json.dumps(doc).encode(), {"Content-Type": "application/feed+json"})
    archive = tmp_path / "a"
    config(archive, settings="delay = 0.0\nmax_pages = 0", sources=source("s", site.url("/feed")))
    result = run(archive, "ingest", "--json")
    assert result.code in (0, 1) and not result.crashed, result.err
    assert json.loads(result.out)["discovered"] == 2_000
    assert "more than 2000 feed items, the rest ignored" in result.err


def test_an_endless_chunked_body_is_cut_at_the_body_cap(site: FixtureServer, tmp_path: Path) -> None:
    def endless(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"<p>" + b"x" * 65_530 + b"</p>"
        try:
            for _ in range(2_000):  # 128 MiB if nobody stops reading
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        handler.close_connection = True

    site.routes["/endless.html"] = endless
    archive = tmp_path / "a"
    result = fetch(archive, site.url("/endless.html"), site.url("/good.html"))
    assert result.code in (0, 1) and not result.crashed, result.err
    assert site.url("/good.html") in urls_of(archive)
    assert sum(p.stat().st_size for p in (archive / "warc").glob("*")) < 40 * 2**20


@pytest.mark.parametrize(
    "ld",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        '{"@graph":' + "[" * 5_000 + '{"@type":"NewsArticle","headline":"Deep"}' + "]" * 5_000 + "}",
    ],
    ids=["100k-arrays", "50k-objects", "5k-graph"],
)
def test_deeply_nested_json_ld_never_stops_the_page(site: FixtureServer, tmp_path: Path, ld: str) -> None:
    site.routes["/deep.html"] = body(page("Deep nesting story", f'<script type="application/ld+json">{ld}</script>'))
    archive = tmp_path / "a"
    result = fetch(archive, site.url("/deep.html"), site.url("/good.html"))
    assert result.code == 0 and not result.crashed, result.err
    assert "Deep nesting story" in json.dumps(articles(archive))


def test_a_megabyte_srcset_is_parsed_and_capped(site: FixtureServer, tmp_path: Path) -> None:
    srcset = ", ".join(f"/img/{i}.jpg {i}w" for i in range(60_000))
    text = "The harbour story continues below the picture. " * 10
    head = '<meta property="og:image" content="/lead.jpg">'
    html = page("Srcset story", head, text).replace(b"</article>", f'<img srcset="{srcset}"></article>'.encode())
    site.routes["/srcset.html"] = body(html)
    archive = tmp_path / "a"
    result = fetch(archive, site.url("/srcset.html"))
    assert result.code == 0 and not result.crashed, result.err
    assert len(articles(archive)[site.url("/srcset.html")].get("images") or []) <= 200


def test_a_sitemap_index_loop_and_a_deep_chain_end(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/a.xml"] = body(sitemap(site.url("/b.xml"), site.url("/chain0.xml"), index=True), XML)
    site.routes["/b.xml"] = body(sitemap(site.url("/a.xml"), index=True), XML)
    for i in range(400):
        site.routes[f"/chain{i}.xml"] = body(sitemap(site.url(f"/chain{i + 1}.xml"), index=True), XML)
    site.routes["/chain400.xml"] = body(sitemap(site.url("/good.html")), XML)
    site.routes["/leaf.xml"] = body(sitemap(site.url("/good.html")), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("s", site.url("/a.xml"), site.url("/leaf.xml")))
    result = run(archive, "ingest")
    assert result.code in (0, 1) and not result.crashed, result.err
    assert site.url("/good.html") in urls_of(archive)
    assert sum(1 for p, _ in site.requests if p.startswith("/chain")) <= 200


def test_a_gzip_inside_a_gzip_sitemap_is_bounded_and_never_crashes(site: FixtureServer, tmp_path: Path) -> None:
    inner = gzip.compress(sitemap(site.url("/good.html")))
    site.routes["/nested.xml.gz"] = body(gzip.compress(inner), {"Content-Type": "application/x-gzip"})
    bomb = gzip.compress(gzip.compress(b"<" * (200 * 2**20)))  # 200 MiB inside two layers
    site.routes["/bomb.xml.gz"] = body(bomb, {"Content-Type": "application/x-gzip"})
    site.routes["/leaf.xml"] = body(sitemap(site.url("/good.html")), XML)
    archive = tmp_path / "a"
    config(archive, sources=source("s", site.url("/nested.xml.gz"), site.url("/bomb.xml.gz"), site.url("/leaf.xml")))
    result = run(archive, "ingest")
    assert result.code in (0, 1) and not result.crashed, result.err
    assert site.url("/good.html") in urls_of(archive)


# --- class 2: WARC records with bad lengths and headers ---------------------------------------------------


def raw_record(
    uri: str, html: bytes, length: bytes | None = None, extra: bytes = b"", block: bytes | None = None
) -> bytes:
    """An uncompressed WARC response record, written by hand (bad lengths and headers included)."""
    http = block if block is not None else b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
    size = length if length is not None else str(len(http)).encode()
    return (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:%s>\r\nWARC-Date: 2024-03-05T07:15:00Z\r\n"
        % os.urandom(8).hex().encode()
        + b"WARC-Target-URI: " + uri.encode() + b"\r\nContent-Type: application/http; msgtype=response\r\n"
        + extra + b"Content-Length: " + size + b"\r\n\r\n" + http + b"\r\n\r\n"
    )  # fmt: skip


GOOD_RECORD = raw_record("http://ok.example/first.html", page("First good capture"))


@pytest.mark.parametrize(
    "bad",
    [
        raw_record("http://ok.example/neg.html", page("Neg"), length=b"-5"),
        raw_record("http://ok.example/nan.html", page("Nan"), length=b"lots"),
        raw_record("http://ok.example/huge.html", page("Huge"), length=b"99999999999999999999999"),
        raw_record("http://ok.example/zero.html", page("Zero"), length=b"0"),
        raw_record("http://ok.example/hdr.html", page("Hdr"), extra=b"this line has no colon\r\n"),
        raw_record("http://ok.example/ctl.html", page("Ctl"), extra=b"X-Evil: \x1b]0;pwn\x07\r\n"),
        raw_record("http://ok.example/big.html", page("Big"), extra=b"X-Big: " + b"a" * 2_000_000 + b"\r\n"),
        b"WARC/1.0\r\nWARC-Type: response\r\nContent-Len",  # cut inside the header block
        b"WARC/9.9\r\n\r\n",
    ],
    ids=["negative-length", "text-length", "20-digit-length", "zero-length", "headerline-no-colon",
         "control-in-header", "2mb-header", "cut-in-headers", "unknown-version"],
)  # fmt: skip
def test_an_uncompressed_warc_with_a_bad_record_keeps_the_good_one_and_exits_cleanly(
    tmp_path: Path, bad: bytes
) -> None:
    imports_cleanly(tmp_path, GOOD_RECORD + bad, kept="http://ok.example/first.html")


def imports_cleanly(tmp_path: Path, warc: bytes, *, kept: str | None = None) -> None:
    """``import-warc`` of ``warc`` ends cleanly (exit 0 or 1, no crash, no control character printed) and keeps
    the record ``kept``; then stats, reparse and store rebuild end cleanly on that archive too."""
    path = tmp_path / "h.warc"
    path.write_bytes(warc)
    archive = tmp_path / "a"
    result = run(archive, "import-warc", str(path))
    assert result.code in (0, 1) and not result.crashed, result.err
    assert not CONTROLS & set(result.err + result.out)
    if kept is None:
        return
    assert kept in urls_of(archive)
    for args in (["stats"], ["reparse"], ["store", "rebuild"]):
        later = run(archive, *args)
        assert later.code in (0, 1) and not later.crashed, (args, later.err)


_HTML_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
_PROBE = page("Probe story")
HTTP_BLOCKS = {
    "chunked-raw": _HTML_HEAD + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(_PROBE), _PROBE),
    "chunked-bad": _HTML_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + _PROBE,
    "gzip-garbage": _HTML_HEAD + b"Content-Encoding: gzip\r\n\r\n\x1f\x8bgarbage" + _PROBE,
    "gzip-bomb": _HTML_HEAD + b"Content-Encoding: gzip\r\n\r\n" + gzip.compress(b" " * (100 * 2**20)),
    "brotli-never-asked": _HTML_HEAD + b"Content-Encoding: br\r\n\r\n" + _PROBE,
    "status-999": b"HTTP/1.1 999 Weird\r\nContent-Type: text/html\r\n\r\n" + _PROBE,
    "status-letters": b"HTTP/1.1 abc OK\r\nContent-Type: text/html\r\n\r\n" + _PROBE,
    "no-status-line": b"\r\n\r\n" + _PROBE,
    "http-0.9": _PROBE,
    "100k-headers": _HTML_HEAD + b"".join(b"X-%d: v\r\n" % i for i in range(100_000)) + b"\r\n" + _PROBE,
    "escape-in-charset": _HTML_HEAD[:-2] + b"; charset=\x1b[31m\r\n\r\n" + _PROBE,
    "malformed-location": b"HTTP/1.1 302 Found\r\nLocation: http://[oops/\r\n\r\n" + _PROBE,
}  # fmt: skip


@pytest.mark.parametrize("name", list(HTTP_BLOCKS))
def test_a_warc_record_with_a_hostile_http_block_never_costs_the_next_record(tmp_path: Path, name: str) -> None:
    after = raw_record("http://ok.example/after.html", page("After story"))
    hostile = raw_record(f"http://ok.example/{name}.html", b"", length=None, block=HTTP_BLOCKS[name])
    imports_cleanly(tmp_path, hostile + after, kept="http://ok.example/after.html")


def test_a_warc_whose_http_block_is_garbage_is_skipped(tmp_path: Path) -> None:
    bad = (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:x>\r\nWARC-Date: 2024-03-05T07:15:00Z\r\n"
        b"WARC-Target-URI: http://ok.example/garbage.html\r\nContent-Type: application/http; msgtype=response\r\n"
        b"Content-Length: 12\r\n\r\n\x00\xff\x1b[31mJUNK\r\n\r\n\r\n"
    )
    imports_cleanly(tmp_path, bad + GOOD_RECORD)


# --- class 3: canonical URLs via redirects, relative, protocol-relative ----------------------------------

ORIGINAL = "The harbour authority reopened the port on Monday after the storm. " * 8
EVIL_TEXT = "This page says something else entirely and wants the other site's place. " * 8


def two_sites(site: FixtureServer) -> tuple[str, str]:
    return site.base, site.base.replace("127.0.0.1", "localhost")


@pytest.mark.parametrize(
    "canonical",
    [
        "{orig}/story.html",
        "//{orig_host}/story.html",
        "{orig_upper}/story.html",
        "http://u@{orig_host}/story.html",
        "{orig}/story.html#frag",
        "{orig}/./story.html",
    ],
    ids=["absolute", "protocol-relative", "upper-case-host", "userinfo", "fragment", "dot-segment"],
)
def test_a_canonical_naming_another_sites_article_in_any_spelling_never_replaces_it(
    site: FixtureServer, tmp_path: Path, canonical: str
) -> None:
    orig, other = two_sites(site)
    site.routes["/story.html"] = body(page("Harbour reopens", "", ORIGINAL))
    orig_host = orig.split("//", 1)[1]
    href = canonical.format(orig=orig, orig_host=orig_host, orig_upper=orig.upper().replace("HTTP", "http"))
    site.routes["/copy.html"] = body(page("Fake news", f'<link rel="canonical" href="{href}">', EVIL_TEXT))
    archive = tmp_path / "a"
    assert fetch(archive, orig + "/story.html").code == 0
    result = fetch(archive, other + "/copy.html")
    assert result.code in (0, 1) and not result.crashed, result.err
    stored = articles(archive)
    assert stored[orig + "/story.html"]["headline"] == "Harbour reopens"


@pytest.mark.parametrize(
    "head",
    [
        '<base href="{orig}/"><link rel="canonical" href="/story.html">',
        '<link rel="canonical" href="/copy.html"><link rel="canonical" href="{orig}/story.html">',
        '<link rel="canonical" href="{orig_https}/story.html">',
        '<meta property="og:url" content="{orig}/story.html">',
        '<script type="application/ld+json">{{"@type":"NewsArticle","url":"{orig}/story.html",'
        '"mainEntityOfPage":"{orig}/story.html"}}</script>',
        '<link rel="canonical" href="  \n{orig}/story.html\t ">',
        '<link rel="canonical" href="javascript:alert(1)">',
    ],
    ids=["base-elsewhere", "two-canonicals", "https-of-original", "og-url", "json-ld-url", "whitespace", "javascript"],
)
def test_no_other_spelling_of_a_canonical_claim_replaces_another_sites_article(
    site: FixtureServer, tmp_path: Path, head: str
) -> None:
    orig, other = two_sites(site)
    site.routes["/story.html"] = body(page("Harbour reopens", "", ORIGINAL))
    claim = head.format(orig=orig, orig_https=orig.replace("http://", "https://"))
    site.routes["/copy.html"] = body(page("Fake news", claim, EVIL_TEXT))
    archive = tmp_path / "a"
    assert fetch(archive, orig + "/story.html").code == 0
    for args in (["fetch", other + "/copy.html"], ["reparse"]):
        result = run(archive, *args)
        assert result.code == 0 and not result.crashed, (args, result.err)
    stored = articles(archive)
    assert stored[orig + "/story.html"]["headline"] == "Harbour reopens"
    assert stored[other + "/copy.html"]["headline"] == "Fake news"


@pytest.mark.parametrize("where", ["canonical", "og:url", "og:image"])
def test_a_page_url_longer_than_the_fetchers_cap_is_dropped_and_the_page_kept(
    site: FixtureServer, tmp_path: Path, where: str
) -> None:
    long = "/" + "a" * 10_000
    head = {
        "canonical": f'<link rel="canonical" href="{long}">',
        "og:url": f'<meta property="og:url" content="{long}">',
        "og:image": f'<meta property="og:image" content="{long}.png">',
    }[where]
    site.routes["/long.html"] = body(page("Long url story", head, ORIGINAL))
    archive = tmp_path / "a"
    assert fetch(archive, site.url("/long.html")).code == 0
    stored = articles(archive)[site.url("/long.html")]
    assert stored["canonical_url"] == site.url("/long.html")
    assert all(len(image["url"]) <= 8192 for image in stored.get("images") or [])


def test_a_redirect_from_the_original_site_to_another_does_not_lend_it_the_originals_name(
    site: FixtureServer, tmp_path: Path
) -> None:
    orig, other = two_sites(site)
    site.routes["/story.html"] = body(page("Harbour reopens", "", ORIGINAL))
    site.routes["/go"] = redirect_to((other + "/copy.html").encode())
    site.routes["/copy.html"] = body(page("Fake news", f'<link rel="canonical" href="{orig}/story.html">', EVIL_TEXT))
    archive = tmp_path / "a"
    assert fetch(archive, orig + "/story.html").code == 0
    result = fetch(archive, orig + "/go")
    assert result.code in (0, 1) and not result.crashed, result.err
    assert articles(archive)[orig + "/story.html"]["headline"] == "Harbour reopens"


def test_a_relative_canonical_resolves_against_the_final_url_after_a_redirect(
    site: FixtureServer, tmp_path: Path
) -> None:
    orig, other = two_sites(site)
    site.routes["/story.html"] = body(page("Harbour reopens", "", ORIGINAL))
    site.routes["/go"] = redirect_to((other + "/copy.html").encode())
    site.routes["/copy.html"] = body(page("Fake news", '<link rel="canonical" href="/story.html">', EVIL_TEXT))
    archive = tmp_path / "a"
    assert fetch(archive, orig + "/story.html").code == 0
    assert fetch(archive, orig + "/go").code in (0, 1)
    assert articles(archive)[orig + "/story.html"]["headline"] == "Harbour reopens"


# --- class 4: controls in every field that reaches output ---------------------------------------------

EVIL = "\x1b]0;pwn\x07\u202eevil\u2066\x9b31m\x85"


def test_controls_in_a_warc_target_uri_never_reach_any_output(tmp_path: Path) -> None:
    uri = "http://ok.example/a\x1b]0;pwn\x07\u202e.html"
    path = warc(tmp_path / "e.warc.gz", [(uri, page("Escaped uri story"), None)])
    archive = tmp_path / "a"
    result = run(archive, "import-warc", str(path))
    assert not result.crashed, result.err
    for args in (["search", "escaped"], ["search", "escaped", "--json"], ["stats"], ["search", "--facets", "escaped"],
                 ["export", "--csv"], ["export", "--jsonl"], ["sources", "list"]):  # fmt: skip
        out = run(archive, *args)
        assert not out.crashed and not CONTROLS & set(out.out + out.err), args


def test_controls_in_a_servers_reason_phrase_and_headers_never_reach_the_terminal(
    site: FixtureServer, tmp_path: Path
) -> None:
    site.routes["/err.html"] = raw_route(
        b"HTTP/1.1 500 \x1b]0;pwn\x07\xe2\x80\xae\r\nContent-Type: text/\x1b[31mhtml\r\nContent-Length: 0\r\n\r\n"
    )
    site.routes["/pdf.html"] = raw_route(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/\x1b]0;x\x07pdf\r\nContent-Length: 8\r\n\r\n%PDF-1.4"
    )
    archive = tmp_path / "a"
    result = fetch(archive, site.url("/err.html"), site.url("/pdf.html"), site.url("/good.html"))
    assert result.code == 1 and not result.crashed, result.err
    assert not CONTROLS & set(result.err + result.out)


def test_controls_in_a_feed_title_and_source_name_never_reach_sources_list(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/feed.xml"] = body(
        feed(site.url("/good.html")).replace(b"<title>T</title>", f"<title>T{EVIL}</title>".encode()), XML
    )
    archive = tmp_path / "a"
    added = run(archive, "sources", "add", site.url("/feed.xml"))
    assert not added.crashed and not CONTROLS & set(added.out + added.err)
    for args in (["sources", "list"], ["sources", "list", "--json"], ["ingest"], ["stats"]):
        out = run(archive, *args)
        assert not out.crashed and not CONTROLS & set(out.out + out.err), args


@pytest.mark.parametrize(
    "value",
    [EVIL, "\u2028\u2029x", "\ufeffBOM", "\x00nul", "a\x7fdel", "\U000e0041tag"],
)
def test_controls_in_json_ld_fields_are_stored_clean(site: FixtureServer, tmp_path: Path, value: str) -> None:
    ld = json.dumps({"@type": "NewsArticle", "headline": "H" + value, "author": {"name": "A" + value},
                     "keywords": ["k" + value], "articleSection": "S" + value, "inLanguage": "en" + value,
                     "image": "/i" + value + ".png", "datePublished": "2024-03-05T07:15:00Z"})  # fmt: skip
    site.routes["/ld.html"] = body(page("Ld story", f'<script type="application/ld+json">{ld}</script>'))
    archive = tmp_path / "a"
    assert fetch(archive, site.url("/ld.html")).code == 0
    for args in (["search", "ld", "--facets"], ["show", site.url("/ld.html")], ["stats"], ["export", "--csv"]):
        out = run(archive, *args)
        bad = set("\x1b\x07\x9b\x85\u202e\u2066\x00\x7f\u2028\u2029")
        assert not out.crashed and not bad & set(out.out), (args, [c for c in out.out if c in bad][:5])


@pytest.mark.parametrize("cell", ["\u00a0=1+1", " =cmd|' /C calc'!A0", "\uff1d1+1", "\n=1+1", "%0A=1+1"])
def test_csv_cells_with_a_formula_behind_blanks_are_neutralised(site: FixtureServer, tmp_path: Path, cell: str) -> None:
    head = f'<meta name="author" content="{cell}"><meta property="article:tag" content="{cell}">'
    site.routes["/f.html"] = body(page("Formula story", head))
    archive = tmp_path / "a"
    assert fetch(archive, site.url("/f.html")).code == 0
    import csv
    import io

    rows = list(csv.reader(io.StringIO(run(archive, "export", "--csv").out)))
    for row in rows[1:]:
        for value in row:
            assert not value.lstrip(" \t\r\n\u00a0").startswith(("=", "+", "-", "@")) or value.startswith("'"), value


# --- class 4: export -o onto odd targets ---------------------------------------------------------------


@pytest.fixture
def archived(site: FixtureServer, tmp_path: Path) -> Path:
    archive = tmp_path / "a"
    assert fetch(archive, site.url("/good.html")).code == 0
    return archive


def leftovers(*dirs: Path) -> list[str]:
    return [p.name for d in dirs for p in d.iterdir() if "atomic" in p.name]


def test_export_onto_a_new_file_on_another_file_system_writes_it(archived: Path, other_fs: Path) -> None:
    result = run(archived, "export", "--jsonl", "-o", str(other_fs / "new.jsonl"))
    assert result.code == 0, result.err
    assert json.loads((other_fs / "new.jsonl").read_text().splitlines()[0])["headline"]
    assert leftovers(other_fs) == []


def test_export_onto_a_chain_of_symlinks_writes_the_last_target(archived: Path, tmp_path: Path, other_fs: Path) -> None:
    target = other_fs / "t.csv"
    target.write_text("old")
    (tmp_path / "l2").symlink_to(target)
    (tmp_path / "l1").symlink_to(tmp_path / "l2")
    result = run(archived, "export", "--csv", "-o", str(tmp_path / "l1"))
    assert result.code == 0, result.err
    assert (tmp_path / "l1").is_symlink() and (tmp_path / "l2").is_symlink()
    assert "Harbour" in target.read_text()
    assert leftovers(tmp_path, other_fs) == []


def test_export_onto_a_symlink_loop_is_a_one_line_error(archived: Path, tmp_path: Path) -> None:
    (tmp_path / "x").symlink_to(tmp_path / "y")
    (tmp_path / "y").symlink_to(tmp_path / "x")
    result = run(archived, "export", "--jsonl", "-o", str(tmp_path / "x"))
    assert result.code in (1, 2) and not result.crashed, result.err
    assert leftovers(tmp_path) == []


def test_export_into_a_full_file_system_leaves_the_old_file_and_no_temporary(archived: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old export")
    os.chmod(tmp_path, 0o555)
    try:
        if os.access(tmp_path, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = run(archived, "export", "--jsonl", "-o", str(out))
    finally:
        os.chmod(tmp_path, 0o755)
    assert result.code in (1, 2) and not result.crashed, result.err
    assert out.read_text() == "old export" and leftovers(tmp_path) == []


def test_export_onto_a_unix_socket_is_a_one_line_error(archived: Path, tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    try:
        result = run(archived, "export", "--jsonl", "-o", str(path))
    finally:
        sock.close()
    assert result.code in (1, 2) and not result.crashed, result.err
    assert leftovers(tmp_path) == []


def test_export_onto_a_fifo_with_a_reader_streams_into_it(archived: Path, tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = run(archived, "export", "--jsonl", "-o", str(fifo))
    reader.join(10)
    assert result.code == 0, result.err
    assert fifo.exists() and not fifo.is_file() and b"Harbour" in got[0]
    assert leftovers(tmp_path) == []
