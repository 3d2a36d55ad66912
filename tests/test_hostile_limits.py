"""Issue 12, class 2: a limit on everything a server, a page or a file controls.

Each case gives a number far past its limit (a wait, a count, a size, a length) on a real 127.0.0.1
server or in a real file, and checks that the limit holds: the run neither waits nor grows with it.
The limits and their defaults are listed in docs/faults.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_kit import XML, archive_of_good_page, body, config, page, run, sitemap, source, with_good_page
from server import FixtureServer

from newsarchive.discover.safexml import parse_xml
from newsarchive.discover.sitemaps import MAX_SITEMAP_ENTRIES, sitemap_from_tree
from newsarchive.parse import MAX_AUTHORS, MAX_HEADLINE_CHARS, MAX_IMAGES, MAX_SHORT_CHARS, parse_page


@pytest.fixture
def site(empty_site: FixtureServer) -> FixtureServer:
    return with_good_page(empty_site)


def requests_for(server: FixtureServer, path: str) -> int:
    return sum(1 for p, _ in server.requests if p == path)


# --- waits a server asks for -------------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", ["Fri, 31 Dec 9999 23:59:59 GMT", "99999999999999999999999", "86401", "1e300"])
def test_a_retry_after_past_the_cap_or_unreadable_is_never_waited_for(
    site: FixtureServer, tmp_path: Path, retry_after: str
) -> None:
    site.routes["/busy"] = body(b"busy", {"Retry-After": retry_after, "Content-Type": "text/plain"}, status=503)
    archive = tmp_path / "a"
    config(archive, settings="delay = 0.0\nretries = 1")
    result = run(archive, "fetch", site.url("/busy"), site.url("/good.html"))
    assert result.code == 1 and not result.crashed, result.err
    # Over the cap: one request. Unreadable (1e300 is no delay-seconds): the backoff, bounded by retries.
    assert requests_for(site, "/busy") <= 2
    assert requests_for(site, "/good.html") == 1


@pytest.mark.parametrize("delay", ["1e300", "99999999999999999999", "86401"])
def test_a_crawl_delay_past_the_cap_skips_the_host_for_the_run_without_sleeping(
    site: FixtureServer, tmp_path: Path, delay: str
) -> None:
    site.routes["/robots.txt"] = body(f"User-agent: *\nCrawl-delay: {delay}\n".encode(), {"Content-Type": "text/plain"})
    archive = tmp_path / "a"
    result = run(archive, "fetch", site.url("/good.html"))
    assert result.code == 1 and not result.crashed, result.err
    assert "max_crawl_delay" in result.err or "crawl-delay" in result.err.lower()
    assert requests_for(site, "/good.html") == 0


@pytest.mark.parametrize("delay", ["nan", "-5", "inf", "-inf", "0x10", "1e-300"])
def test_a_crawl_delay_that_is_no_delay_is_ignored(site: FixtureServer, tmp_path: Path, delay: str) -> None:
    site.routes["/robots.txt"] = body(f"User-agent: *\nCrawl-delay: {delay}\n".encode(), {"Content-Type": "text/plain"})
    result = run(tmp_path / "a", "fetch", site.url("/good.html"))
    assert result.code in (0, 1) and not result.crashed, result.err
    if delay != "inf":
        assert requests_for(site, "/good.html") == 1


def test_a_robots_txt_of_26_mb_is_read_up_to_its_cap(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/robots.txt"] = body(
        b"User-agent: *\n" + b"Disallow: /x\n" * 2_000_000, {"Content-Type": "text/plain"}
    )
    result = run(tmp_path / "a", "fetch", site.url("/good.html"))
    assert result.code == 0, result.err


# --- numbers from options -----------------------------------------------------------------------------


@pytest.fixture
def archived(site: FixtureServer, tmp_path: Path) -> Path:
    return archive_of_good_page(site, tmp_path / "a")


@pytest.mark.parametrize(
    "args",
    [
        ["search", "--page", "99999999999999999999"],  # was OverflowError in SQLite: exit 70
        ["search", "--page", "9223372036854775808"],
        ["search", "--offset", "99999999999999999999"],
        ["search", "harbour", "--page", "99999999999999999999"],
        ["search", "-n", "0"],
        ["search", "-n", "10001"],
        ["search", "-n", "1e3"],
        ["ingest", "--max-pages", "1e9"],
        ["ingest", "--max-pages", "-3"],
        ["fetch", "--delay", "nan", "http://127.0.0.1/"],
        ["fetch", "--delay", "1e9", "http://127.0.0.1/"],
        ["import-warc", "--max-record-size", "0", "x.warc"],
        ["import-warc", "--max-record-size", "-1", "x.warc"],
        ["--wait", "-1", "ingest"],
        ["--wait", "nan", "ingest"],
    ],
)
def test_every_number_an_option_takes_is_range_checked(archived: Path, args: list[str]) -> None:
    result = run(archived, *args)
    assert result.code == 2 and not result.crashed, result.err
    assert result.err.count("\n") <= 4


def test_the_largest_page_accepted_is_an_empty_page_not_an_error(archived: Path) -> None:
    result = run(archived, "search", "--page", "1000000000", "-n", "10000")
    assert result.code in (0, 1) and not result.crashed, result.err


# --- queries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        " ".join(f"word{i}" for i in range(1000)),
        " ".join(f"word{i}" for i in range(10000)),
        "a" * 100_000,
        "(" * 10_000 + "a" + ")" * 10_000,
        " OR ".join(f"w{i}*" for i in range(2000)),
    ],
    ids=["1000-words", "10000-words", "100k-characters", "10k-parentheses", "2000-wildcards"],
)
def test_a_query_past_the_word_or_character_cap_is_a_usage_error(archived: Path, query: str) -> None:
    result = run(archived, "search", query)
    assert result.code == 2 and not result.crashed, result.err
    assert "up to 100 words" in result.err


@pytest.mark.parametrize("args", [["--tag", "x" * 1_000_000], ["--author", "y" * 1_000_000]])
def test_a_megabyte_filter_value_is_no_hit_or_a_usage_error(archived: Path, args: list[str]) -> None:
    result = run(archived, "search", *args)
    assert result.code in (1, 2) and not result.crashed, result.err


def test_a_megabyte_show_key_is_not_found(archived: Path) -> None:
    result = run(archived, "show", "x" * 1_000_000)
    assert result.code == 2 and not result.crashed and len(result.err) < 5000


# --- what a page controls -----------------------------------------------------------------------------


def test_a_5_mb_headline_is_cut_at_the_headline_cap(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/big.html"] = body(page("H" * 5_000_000))
    archive = tmp_path / "a"
    assert run(archive, "fetch", site.url("/big.html")).code == 0
    shown = json.loads(run(archive, "show", site.url("/big.html"), "--json").out)
    assert len(shown["headline"]) == MAX_HEADLINE_CHARS


def test_thousands_of_authors_images_and_huge_sections_are_capped() -> None:
    authors = json.dumps([{"@type": "Person", "name": f"Person {i}"} for i in range(5000)])
    images = json.dumps([f"https://news.example.com/i{i}.jpg" for i in range(5000)])
    head = (
        f'<script type="application/ld+json">{{"@type":"NewsArticle","author":{authors},"image":{images},'
        f'"articleSection":"{"S" * 100_000}"}}</script>'
    )
    art = parse_page(page("Many authors", head), "https://news.example.com/a.html")
    assert 0 < len(art.byline) <= MAX_AUTHORS
    assert len(art.images) <= MAX_IMAGES
    assert art.section is None or len(art.section) <= MAX_SHORT_CHARS


def test_a_sitemap_is_read_up_to_the_protocols_50000_entries() -> None:
    locs = [f"https://news.example.com/p{i}.html" for i in range(MAX_SITEMAP_ENTRIES + 5000)]
    found = sitemap_from_tree(parse_xml(sitemap(*locs), "sitemap"), "https://news.example.com/sitemap.xml")
    assert len(found.candidates) == MAX_SITEMAP_ENTRIES
    assert found.candidates[-1].url == locs[MAX_SITEMAP_ENTRIES - 1]


def test_a_sitemap_index_of_50000_children_is_read_without_fetching_them_all(
    site: FixtureServer, tmp_path: Path
) -> None:
    children = [site.url(f"/sub{i}.xml") for i in range(50_000)]
    site.routes["/index.xml"] = body(sitemap(*children, index=True), XML)
    archive = tmp_path / "a"
    config(archive, settings="delay = 0.0\nmax_discovery_docs = 5", sources=source("s", site.url("/index.xml")))
    result = run(archive, "ingest")
    assert result.code in (0, 1) and not result.crashed, result.err
    assert sum(1 for p, _ in site.requests if p.startswith("/sub")) <= 5
