"""Listing pages (article links by pattern) and `sources add` detection of what a URL is."""

from __future__ import annotations

import gzip

import pytest
from conftest import FIXTURES

from newsarchive.discover import discover
from newsarchive.discover.detect import SourceGuess, detect_source, source_name
from newsarchive.discover.listings import alternate_feeds, extract_links, html_tree
from newsarchive.errors import ParseError, UsageError

D = FIXTURES / "discover"
SITES = FIXTURES / "sites"
POLITICS = "https://english.almayadeen.net/news/politics"


def read(name: str) -> bytes:
    return (D / name).read_bytes()


def test_listing_uses_built_in_patterns_for_almayadeen_in_page_order_without_duplicates() -> None:
    found = discover(read("listing-almayadeen-politics.html"), POLITICS, "text/html", hint="listing")
    assert found.kind == "listing"
    assert [c.url.removeprefix("https://english.almayadeen.net") for c in found.candidates] == [
        "/news/politics/us-not-actively-encouraging-ukraine-to-retake-crimea:-report",
        "/news/politics/russia--foreign-troops-in-the-ukrainian-army-an--open-secret",
        "/articles/features/a-feature-story-slug",
        "/articles/opinion-piece-without-section",
    ]
    assert all(c.via == "listing" for c in found.candidates)
    assert found.candidates[1].title == "Russia: Foreign troops in the Ukrainian army an 'open secret'"
    assert found.candidates[2].title == "A feature story"
    assert [(f.url, f.kind) for f in found.followups] == [(POLITICS + "?page=2", "listing")]


def test_listing_with_the_sources_own_patterns() -> None:
    found = extract_links(read("listing-almayadeen-politics.html"), POLITICS, [r"/articles/features/"])
    assert [c.url for c in found.candidates] == [
        "https://english.almayadeen.net/articles/features/a-feature-story-slug"
    ]


def test_listing_resolves_links_against_base_href() -> None:
    found = extract_links(read("plain-site-home.html"), "https://plain.example.org/", [r"/\d{4}/\d{2}/"])
    assert [c.url for c in found.candidates] == ["https://plain.example.org/en/2024/03/some-story"]


def test_listing_without_patterns_for_an_unknown_site_yields_nothing_rather_than_guessing() -> None:
    found = discover(read("plain-site-home.html"), "https://plain.example.org/")
    assert found.kind == "listing" and found.candidates == []


def test_a_listing_page_of_endless_links_gives_at_most_the_cap_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    from newsarchive.discover.listings import MAX_LISTING_FOLLOWUPS, MAX_LISTING_LINKS

    links = "".join(f'<a href="/2024/01/story-{i}">s</a><a rel="next" href="?page={i}">n</a>' for i in range(20_000))
    found = extract_links(f"<html><body>{links}</body></html>".encode(), "https://plain.example.org/", [r"/\d{4}/"])
    assert len(found.candidates) == MAX_LISTING_LINKS
    assert found.candidates[-1].url == f"https://plain.example.org/2024/01/story-{MAX_LISTING_LINKS - 1}"
    assert len(found.followups) == MAX_LISTING_FOLLOWUPS
    assert "article links on one listing page, the rest ignored" in caplog.text


def test_bad_link_pattern_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="bad link pattern"):
        extract_links(read("plain-site-home.html"), "https://plain.example.org/", ["(unclosed"])


def test_alternate_feeds_in_page_order_absolutized_and_only_feed_types() -> None:
    root = html_tree(read("plain-site-home.html"), "https://plain.example.org/")
    assert alternate_feeds(root, "https://plain.example.org/") == [
        "https://plain.example.org/en/comments/feed/",
        "https://plain.example.org/en/feed/",
        "https://plain.example.org/en/atom.xml",
    ]


@pytest.mark.parametrize(
    ("fixture", "url", "name", "origin"),
    [
        ("blogger/white-house-classic-custom-domain.html",
         "https://www.minmenu-news.net/2023/04/white-house-we-dont-encourage-ukraine.html",
         "minmenu-news.net", "https://www.minmenu-news.net"),
        ("blogger/white-house-arabic-theme.html",
         "https://min-menu-news.blogspot.com/2023/04/white-house-we-dont-encourage-ukraine.html",
         "min-menu-news", "https://min-menu-news.blogspot.com"),
    ],
)  # fmt: skip
def test_blogger_pages_even_on_custom_domains_become_feed_and_sitemap(
    fixture: str, url: str, name: str, origin: str
) -> None:
    guess = detect_source((SITES / fixture).read_bytes(), url, "text/html; charset=UTF-8")
    assert guess == SourceGuess(
        kind="blogger",
        name=name,
        start_urls=(f"{origin}/feeds/posts/default?orderby=published", f"{origin}/sitemap.xml"),
        parser="blogger",
    )


def test_blogger_feed_url_is_a_blogger_source() -> None:
    url = "https://fixture-blog.blogspot.com/feeds/posts/default"
    guess = detect_source(read("blogger-page1.atom.xml"), url, "application/atom+xml")
    assert guess.kind == "blogger" and guess.parser == "blogger" and guess.name == "fixture-blog"
    assert guess.start_urls == (url, "https://fixture-blog.blogspot.com/sitemap.xml")


@pytest.mark.parametrize(
    ("url", "name", "base"),
    [
        ("https://english.almayadeen.net/", "almayadeen-en", "https://english.almayadeen.net"),
        ("https://www.almayadeen.net/news/politics", "almayadeen-ar", "https://www.almayadeen.net"),
        ("https://espanol.almayadeen.net/", "almayadeen-es", "https://espanol.almayadeen.net"),
    ],
)
def test_almayadeen_editions_become_sitemap_index_plus_home_listing(url: str, name: str, base: str) -> None:
    guess = detect_source(read("listing-almayadeen-politics.html"), url, "text/html")
    assert guess == SourceGuess("almayadeen", name, (f"{base}/sitemaps/all.xml", f"{base}/"), "almayadeen")


def test_a_feed_url_is_a_feed_source() -> None:
    guess = detect_source(read("rss2.xml"), "https://www.news.example.com/rss.xml", "application/rss+xml")
    assert guess == SourceGuess("feed", "news.example.com", ("https://www.news.example.com/rss.xml",), None)


def test_a_sitemap_url_plain_or_gzip_is_a_sitemap_source() -> None:
    url = "https://news.example.com/sitemap.xml.gz"
    assert detect_source(gzip.compress(read("news-sitemap.xml")), url, None).kind == "sitemap"
    assert detect_source(read("news-sitemap.xml"), url, None).start_urls == (url,)


def test_a_robots_txt_url_becomes_its_sitemaps() -> None:
    guess = detect_source(read("robots.txt"), "https://robots.example.com/robots.txt", "text/plain")
    assert guess.kind == "sitemap" and guess.start_urls[0] == "https://robots.example.com/sitemap.xml"


def test_plain_site_uses_its_announced_feed_skipping_comment_feeds() -> None:
    guess = detect_source(read("plain-site-home.html"), "https://plain.example.org/", "text/html")
    assert guess == SourceGuess("site", "plain.example.org", ("https://plain.example.org/en/feed/",), None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><head><title>No feeds here</title></head><body></body></html>", "announces no feed"),
        (b"\x00\x01binary", "not a feed, a sitemap or a web page"),
        (b"\x1f\x8bnot gzip at all", "not valid gzip"),
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><rss/>', "ENTITY"),
    ],
)
def test_unusable_urls_are_usage_errors(body: bytes, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        detect_source(body, "https://nothing.example.org/", "text/html")


def test_source_names_fit_the_sources_toml_rule() -> None:
    assert source_name("www.Example.COM:8080") == "example.com"
    assert source_name("xn--mgbh0fb.example") == "xn--mgbh0fb.example"
