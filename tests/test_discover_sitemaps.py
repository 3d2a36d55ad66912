"""Discovery from sitemaps (urlset, index, gzip, Google News, Al Mayadeen monthly) and robots.txt."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import FIXTURES

from newsarchive.discover import Candidate, Followup, discover, in_period
from newsarchive.discover.robots import RobotsPolicy
from newsarchive.discover.sitemaps import period_of
from newsarchive.errors import ParseError

D = FIXTURES / "discover"
UA = "newsarchive/0.1 (+https://example.org/newsarchive)"


def read(name: str) -> bytes:
    return (D / name).read_bytes()


def test_google_news_sitemap_gives_publication_date_title_and_ignores_image_locs() -> None:
    found = discover(read("news-sitemap.xml"), "https://news.example.com/news-sitemap.xml", "application/xml")
    assert found.kind == "urlset" and found.followups == []
    assert [c.url for c in found.candidates] == [
        "https://news.example.com/news/gaza-aid-convoy.html?a=1&b=2",
        "https://news.example.com/news/date-only.html",
    ]
    gaza = found.candidates[0]
    assert gaza.via == "sitemap" and gaza.title == "Aid convoy reaches northern Gaza"
    assert gaza.published is not None and gaza.published.isoformat() == "2024-03-05T07:15:00+02:00"
    assert gaza.lastmod is not None and gaza.lastmod.utcoffset() == timedelta(hours=2)
    assert gaza.extra == {"news_keywords": "Gaza, aid", "news_publication_name": "Example News",
                          "news_publication_language": "en"}  # fmt: skip
    assert found.candidates[1].lastmod == datetime(2024, 3, 4, tzinfo=UTC)


def test_almayadeen_index_children_get_their_month_as_period() -> None:
    found = discover(read("almayadeen-index.xml"), "https://english.almayadeen.net/sitemaps/all.xml")
    assert found.kind == "sitemapindex" and found.candidates == []
    assert [(f.url.rsplit("/", 1)[1], f.kind, f.period) for f in found.followups] == [
        ("sitemap-2024-8.xml", "sitemap", (date(2024, 8, 1), date(2024, 8, 31))),
        ("sitemap-2024-10.xml", "sitemap", (date(2024, 10, 1), date(2024, 10, 31))),
        ("sitemap-2023-1.xml", "sitemap", (date(2023, 1, 1), date(2023, 1, 31))),
        ("sitemap-2022-12.xml", "sitemap", (date(2022, 12, 1), date(2022, 12, 31))),
    ]
    assert (
        found.followups[0].lastmod is not None and found.followups[0].lastmod.isoformat() == "2024-08-31T21:00:00+03:00"
    )


def test_backfill_keeps_only_monthly_sitemaps_overlapping_the_range() -> None:
    found = discover(read("almayadeen-index.xml"), "https://english.almayadeen.net/sitemaps/all.xml")
    kept = [f.url.rsplit("-", 2)[-2:] for f in found.followups if in_period(f, date(2023, 1, 1), date(2024, 8, 15))]
    assert kept == [["2024", "8.xml"], ["2023", "1.xml"]]
    assert len([f for f in found.followups if in_period(f, date(2024, 9, 1), None)]) == 1
    assert all(in_period(f, None, None) for f in found.followups)


def test_candidates_are_filtered_by_published_date_then_by_lastmod_before_since() -> None:
    pub = datetime(2023, 5, 10, 23, 30, tzinfo=UTC)
    assert in_period(Candidate("u", published=pub), date(2023, 5, 10), date(2023, 5, 10))
    assert not in_period(Candidate("u", published=pub), date(2023, 5, 11), None)
    assert not in_period(Candidate("u", published=pub), None, date(2023, 5, 9))
    old = datetime(2022, 1, 1, tzinfo=UTC)
    assert not in_period(Candidate("u", lastmod=old), date(2023, 1, 1), None)
    assert in_period(Candidate("u", lastmod=datetime(2024, 1, 1, tzinfo=UTC)), date(2023, 1, 1), date(2023, 2, 1))
    assert in_period(Candidate("u"), date(2023, 1, 1), date(2023, 2, 1))  # unknown: kept
    assert not in_period(Followup("f", "sitemap", lastmod=old), date(2023, 1, 1), None)


def test_almayadeen_monthly_urlset_loc_only_deduplicated() -> None:
    found = discover(read("almayadeen-month.xml"), "https://english.almayadeen.net/sitemaps/all/sitemap-2023-2.xml")
    assert [c.url.rsplit("/", 1)[1] for c in found.candidates] == [
        "us-not-actively-encouraging-ukraine-to-retake-crimea:-report",
        "russia--foreign-troops-in-the-ukrainian-army-an--open-secret",
    ]
    assert all(c.lastmod is None and c.published is None for c in found.candidates)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sitemap-2024-8.xml", (date(2024, 8, 1), date(2024, 8, 31))),
        ("sitemap-2024-02.xml", (date(2024, 2, 1), date(2024, 2, 29))),
        ("sitemap-2024-03-05.xml", (date(2024, 3, 5), date(2024, 3, 5))),
        ("sitemap-2024-13.xml", None),
        ("post-sitemap2.xml", None),
        ("sitemap.xml?page=2", None),
    ],
)
def test_period_is_read_from_the_child_sitemap_file_name(name: str, expected: object) -> None:
    assert period_of(f"https://x.example.com/sitemaps/{name}") == expected


def test_blogger_sitemap_index_pages_are_followups_without_period() -> None:
    found = discover(read("blogger-sitemapindex.xml"), "https://fixture-blog.blogspot.com/sitemap.xml")
    assert [(f.url, f.period) for f in found.followups] == [
        ("https://fixture-blog.blogspot.com/sitemap.xml?page=1", None),
        ("https://fixture-blog.blogspot.com/sitemap.xml?page=2", None),
    ]


def test_sitemap_index_listing_itself_is_not_followed_back() -> None:
    found = discover(read("self-index.xml"), "https://loop.example.com/sitemap_index.xml")
    assert [f.url for f in found.followups] == ["https://loop.example.com/post-sitemap.xml"]


@pytest.mark.parametrize("name", ["wrong-namespace.xml", "no-namespace.xml"])
def test_wrong_or_missing_sitemap_namespace_is_tolerated(name: str) -> None:
    found = discover(read(name), "https://ns.example.com/sitemap.xml")
    assert found.kind == "urlset"
    assert len(found.candidates) == 1 and found.candidates[0].url.startswith("https://ns.example.com/")
    assert found.candidates[0].url == found.candidates[0].url.strip()


def test_bare_ampersand_in_a_loc_is_tolerated() -> None:
    found = discover(read("bare-ampersand.xml"), "https://amp.example.com/sitemap.xml")
    assert [c.url for c in found.candidates] == ["https://amp.example.com/story?id=1&page=2"]


def test_gzip_sitemap_is_recognised_by_magic_bytes_whatever_the_url() -> None:
    body = gzip.compress(read("news-sitemap.xml"))
    found = discover(body, "https://news.example.com/sitemap", "application/octet-stream")
    assert len(found.candidates) == 2


def test_dot_gz_url_served_already_decompressed_is_read_as_plain_xml() -> None:
    found = discover(read("news-sitemap.xml"), "https://news.example.com/sitemap.xml.gz", "application/x-gzip")
    assert len(found.candidates) == 2


def test_robots_txt_gives_sitemap_followups_in_order() -> None:
    found = discover(read("robots.txt"), "https://robots.example.com/robots.txt", "text/plain")
    assert found.kind == "robots" and found.candidates == []
    assert [(f.url, f.kind) for f in found.followups] == [
        ("https://robots.example.com/sitemap.xml", "sitemap"),
        ("https://robots.example.com/relative-sitemap.xml", "sitemap"),
        ("https://robots.example.com/news-sitemap.xml", "sitemap"),
    ]


def test_robots_policy_obeys_the_group_for_our_user_agent_and_its_crawl_delay() -> None:
    policy = RobotsPolicy.from_bytes(read("robots.txt"), UA)
    assert not policy.allowed("https://robots.example.com/search?q=x")
    assert policy.allowed("https://robots.example.com/private/page")  # only the * group disallows it
    assert policy.crawl_delay == 3.0
    other = RobotsPolicy.from_bytes(read("robots.txt"), "SomeOtherBot/1.0")
    assert not other.allowed("https://robots.example.com/private/page")
    assert other.allowed("https://robots.example.com/news/a.html")
    assert other.crawl_delay == 7.0
    assert policy.sitemaps[0] == "https://robots.example.com/sitemap.xml"


def test_robots_missing_allows_all_and_unreachable_disallows_all() -> None:
    assert RobotsPolicy.allow_all(UA).allowed("https://x.example.com/anything")
    assert RobotsPolicy.allow_all(UA).crawl_delay is None and RobotsPolicy.allow_all(UA).sitemaps == []
    assert not RobotsPolicy.disallow_all(UA).allowed("https://x.example.com/anything")
    assert RobotsPolicy.from_bytes(b"", UA).allowed("https://x.example.com/anything")


def test_blogger_default_robots_disallows_search_and_names_the_sitemap() -> None:
    policy = RobotsPolicy.from_bytes(read("blogger-robots.txt"), UA)
    assert not policy.allowed("https://fixture-blog.blogspot.com/search/label/Ukraine")
    assert policy.allowed("https://fixture-blog.blogspot.com/2024/03/post.html")
    assert policy.sitemaps == ["https://fixture-blog.blogspot.com/sitemap.xml"]


def test_robots_txt_garbage_bytes_do_not_crash() -> None:
    policy = RobotsPolicy.from_bytes(b"\xff\xfe\x00garbage\nDisallow /x\n" * 100, UA)
    assert policy.allowed("https://x.example.com/")


def test_a_sitemap_root_that_is_neither_urlset_nor_index_is_refused() -> None:
    with pytest.raises(ParseError):
        discover(b"<?xml version='1.0'?><nothing/>", "https://x.example.com/sitemap.xml", hint="sitemap")
