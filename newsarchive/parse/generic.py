"""Unknown sites: the metadata cascade plus main-text extraction (trafilatura, checked against readability)."""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin

import trafilatura
from lxml import html as lxml_html
from readability import Document

from newsarchive.article import Article, Image
from newsarchive.parse.dom import build_tree, clean_text, join_paragraphs
from newsarchive.parse.metadata import extract_metadata
from newsarchive.parse.site import SiteParser, SiteTest

LOGGER = logging.getLogger(__name__)

#: Readability replaces trafilatura only when its text is this much longer and holds trafilatura's.
#: (Pages that split one article over sibling containers: trafilatura keeps the first one only.)
SUPERSET_MIN_RATIO = 1.5
#: Share of trafilatura's text (in characters) that must be found inside readability's.
SUPERSET_MIN_COVER = 0.9
#: A JSON-LD articleBody is used only when the extracted text is shorter than this share of it:
#: measured on the Zyte benchmark, articleBody is usually worse (captions, promos, no paragraphs).
ARTICLE_BODY_RESCUE_RATIO = 0.5

_TOKEN = re.compile(r"\w+")
_READABILITY_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")


class GenericParser(SiteParser):
    name = "generic"
    version = "2"
    description = "Any other site: JSON-LD / OpenGraph metadata and main-text extraction."
    tests = (SiteTest(url="https://example.com/news/some-article", only_matching=True),)

    @classmethod
    def claims_url(cls, url: str) -> bool:
        return True

    def parse(self, html: str, url: str) -> Article:
        tree = build_tree(html)
        md = extract_metadata(tree, url)
        body = extract_body(html, url, headline=md.headline, article_body=md.article_body)
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


def extract_body(html: str, url: str, *, headline: str | None = None, article_body: str | None = None) -> str:
    """Main text of the page, paragraphs separated by blank lines ('' when none is found).

    trafilatura (favor_precision) gives the text; readability's text replaces it when it
    is clearly longer *and* contains it (an article split over sibling containers); a
    JSON-LD ``articleBody`` rescues pages where both found little; leading paragraphs
    repeating the headline (h1 then an h2 copy) are dropped.
    """
    paragraphs = _trafilatura_paragraphs(html, url)
    wider = _readability_paragraphs(html)
    if _is_superset(wider, paragraphs):
        LOGGER.debug("readability text holds trafilatura's and more: using it")
        paragraphs = wider
    if article_body:
        ld_paragraphs = [clean_text(p) for p in article_body.splitlines()]
        if _length(paragraphs) < ARTICLE_BODY_RESCUE_RATIO * _length(ld_paragraphs):
            paragraphs = ld_paragraphs
    paragraphs = [p for p in paragraphs if p]
    while paragraphs and headline and _norm(paragraphs[0]) == _norm(headline):
        paragraphs = paragraphs[1:]
    return join_paragraphs(paragraphs)


def _trafilatura_paragraphs(html: str, url: str) -> list[str]:
    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=True, favor_precision=True, deduplicate=False
    )
    return [clean_text(line) for line in (text or "").split("\n")]


def _readability_paragraphs(html: str) -> list[str]:
    """Block texts of readability-lxml's article candidate (merged sibling containers included)."""
    try:
        summary = Document(html).summary(html_partial=True)
        tree = lxml_html.fragment_fromstring(summary, create_parent="div")
    except Exception as exc:  # readability raises Unparseable, lxml and plain errors on odd pages
        LOGGER.debug("readability failed: %s", exc)
        return []
    out = []
    for el in tree.iter(*_READABILITY_BLOCKS):
        if any(a.tag in ("p", "li", "blockquote", "pre") for a in el.iterancestors()):
            continue
        text = clean_text(el.text_content())
        if text:
            out.append(text)
    return out


def _norm(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower()))


def _length(paragraphs: list[str]) -> int:
    return sum(len(p) for p in paragraphs)


def _is_superset(wider: list[str], narrow: list[str]) -> bool:
    """True when ``wider`` is much longer than ``narrow`` and holds nearly all of its text."""
    narrow_len = _length(narrow)
    if not narrow_len or _length(wider) < SUPERSET_MIN_RATIO * narrow_len:
        return False
    haystack = "\n".join(_norm(p) for p in wider)
    covered = sum(len(p) for p in narrow if _norm(p) and _norm(p) in haystack)
    return covered >= SUPERSET_MIN_COVER * narrow_len
