"""Unknown sites: the metadata cascade plus main-text extraction (trafilatura)."""

from __future__ import annotations

from urllib.parse import urljoin

import trafilatura

from newsarchive.article import Article, Image
from newsarchive.parse.dom import build_tree, clean_text, join_paragraphs
from newsarchive.parse.metadata import extract_metadata
from newsarchive.parse.site import SiteParser, SiteTest


class GenericParser(SiteParser):
    name = "generic"
    version = "1"
    description = "Any other site: JSON-LD / OpenGraph metadata and main-text extraction."
    tests = (SiteTest(url="https://example.com/news/some-article", only_matching=True),)

    @classmethod
    def claims_url(cls, url: str) -> bool:
        return True

    def parse(self, html: str, url: str) -> Article:
        tree = build_tree(html)
        md = extract_metadata(tree, url)
        body = extract_body(html, url)
        if md.article_body and len(md.article_body) > len(body) * 0.8:
            body = join_paragraphs([clean_text(p) for p in md.article_body.split("\n")])
        images = (Image(urljoin(url, md.image)),) if md.image else ()
        return Article(
            url=url,
            canonical_url=md.canonical_url or url,
            headline=clean_text(md.headline),
            body=body,
            byline=tuple(md.byline),
            published=md.published,
            updated=md.updated,
            description=clean_text(md.description) or None,
            section=md.section,
            tags=tuple(md.tags),
            images=images,
            lang=md.lang,
        )


def extract_body(html: str, url: str) -> str:
    """Main text of the page, paragraphs separated by blank lines ('' when none is found)."""
    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=False, favor_precision=True, deduplicate=False
    )
    if not text:
        return ""
    return join_paragraphs([clean_text(line) for line in text.split("\n")])
