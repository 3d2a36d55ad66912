"""A throwaway third site, registered only by tests/test_site_registry.py: one module, one declaration."""

from __future__ import annotations

import json
import re

from newsarchive.article import Article
from newsarchive.errors import ParseError
from newsarchive.parse.dom import build_tree, clean_text
from newsarchive.parse.site import DefaultSource, FeedMerge, Host, Site, SiteParser, SiteTest, Tag


def _feed_entries(body: bytes) -> list[tuple[str, str]]:
    """<entry id="N" author="..."/> elements of a TinyCMS feed -> (N, JSON)."""
    found = re.findall(rb'<entry id="(\d+)" author="([^"]*)"', body)
    return [(i.decode(), json.dumps({"author": a.decode()})) for i, a in found]


def _merge(article: Article, data: str) -> Article:
    return article.replace(byline=article.byline or (json.loads(data)["author"],))


class TinyNews(SiteParser):
    name = "tinynews"
    version = "1"
    description = "Tiny News (a test site)."
    site = Site(
        url_patterns=(r"https?://news\.tiny\.example/\d{4}/[^/?#]+$",),
        page_markers=(Tag("meta", {"name": "generator", "content": r"TinyCMS(?: [\d.]+)?"}),),
        hosts=(Host(r"(?:www\.)?news\.tiny\.example", "tinynews", "https://news.tiny.example"),),
        feeds=("/feed.xml",),
        sitemaps=("/sitemap.xml",),
        listings=("/latest",),
        link_patterns=(r"^https?://[^/]+/\d{4}/[^/?#]+$",),
        feed_markers=(rb"<generator>TinyCMS</generator>",),
        default_source=DefaultSource("tinynews", ("https://news.tiny.example/feed.xml",)),
        feed_merge=FeedMerge(_feed_entries, lambda a: a.extra.get("tinynews_id"), _merge),
    )
    tests = (SiteTest(url="https://news.tiny.example/2024/first-story", fixture="tinynews/story.html"),)

    def parse(self, html: str, url: str) -> Article:
        tree = build_tree(html)
        story = tree.find(".//article")
        if story is None:
            raise ParseError(f"{url}: no <article>")
        return Article(
            url=url,
            headline=clean_text(story.findtext(".//h1") or ""),
            body="\n\n".join(clean_text(p.text_content()) for p in story.iter("p")),
            extra={"tinynews_id": story.get("data-id") or ""},
        )
