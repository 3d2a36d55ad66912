"""Unknown sites: the metadata cascade plus main-text extraction (trafilatura, checked against readability).

The page is parsed once (dom.build_tree) and that tree is shared: the metadata cascade reads it; trafilatura
(parse/trafilatura_text.py) works on one copy of it, pruned of comment sections and appended articles, and
readability-lxml's second opinion reads that same copy and takes it over once trafilatura is done with it.
"""

from __future__ import annotations

import bisect
import copy
import logging
import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from itertools import pairwise
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html
from readability import Document
from readability.readability import REGEXES as _READABILITY_RE

from newsarchive.article import Article, Image
from newsarchive.errors import ParseError
from newsarchive.fetch.urls import site_of
from newsarchive.parse.dom import build_tree, clean_text, join_paragraphs
from newsarchive.parse.metadata import extract_metadata, fallback_headline
from newsarchive.parse.site import SiteParser, SiteTest
from newsarchive.parse.trafilatura_text import TrafilaturaRun

LOGGER = logging.getLogger(__name__)

#: Most elements a page may have for the generic extractors to run on it. Their work grows faster
#: than the page (a 16 MB table page took 112 s and 2 GB); real article pages have a few thousand.
MAX_ELEMENTS = 200_000

#: A page that declares no headline is an article only with at least this much text (a few sentences):
#: below it, a stray line of a junk or script-only page would become an "article" named after the site.
MIN_BODY_WITHOUT_HEADLINE = 120

#: The two opinions and when readability's replaces trafilatura's (measured with bench/quality.py):
#: readability's text is taken when trafilatura found nothing; when it is a part of trafilatura's
#: (trafilatura kept boilerplate around the article) and not a small one; or when it holds
#: trafilatura's and clearly more (an article split over sibling containers, which trafilatura cuts).
#: Below READABILITY_MIN_CHARS readability picked a fragment (a caption, a teaser): never taken.
#: The three thresholds below were chosen on half A of the dev sets (bench/quality.py --halves) and
#: checked on half B (no set worse there): docs/benchmarks.md.
READABILITY_MIN_CHARS = 200
#: Readability's text inside trafilatura's: taken when at least this share of its length.
SUBSET_MIN_SHARE = 0.25
#: Readability's text holding trafilatura's: taken when at least this many times longer.
SUPERSET_MIN_RATIO = 1.1
#: Share of one text's words found in the other for it to count as contained in it.
CONTAINED_MIN_COVER = 0.7
#: Where readability's text replaces trafilatura's, trafilatura's lines that lie between two of readability's
#: lines of at least GAP_ANCHOR_WORDS words (in trafilatura's order) and that readability left out are put back:
#: readability's cleaning drops lists, tables and embedded posts (quoted tweets) inside the article, while the
#: boilerplate trafilatura kept lies around the article, not inside it. A line counts as left out when under
#: GAP_KEPT_COVER of its words are in readability's text (a table row holding several of readability's
#: paragraphs is not left out); a run of such lines is not put back when more than GAP_MAX_LINK_SHARE of its
#: characters are the text of the page's links (a navigation box floated inside the article).
#: Chosen on half A of the dev sets, checked on half B (docs/benchmarks.md).
GAP_ANCHOR_WORDS = 5
GAP_KEPT_COVER = 0.9
GAP_MAX_LINK_SHARE = 0.5
#: A line of the text that is nothing but the text of a link to another page of the same site (a teaser headline
#: of another article, "Read more", a sign-up or app promo) is dropped, unless that text also stands on the page
#: outside links (a heading that a table of contents links to) or the line is an item of a list in the text
#: (trafilatura's "- " lines: an article's own list of further reading): drop_link_lines(). Chosen on half A of the
#: dev sets, checked on half B (docs/benchmarks.md). Only lines up to LINK_LINE_MAX_CHARS are tested (the longest
#: such line on the dev pages, a linked promo, had 382 characters; testing long paragraphs costs time for nothing).
LINK_LINE_MAX_CHARS = 1000
#: A JSON-LD articleBody is used only when the extracted text is shorter than this share of it:
#: measured on the Zyte benchmark, articleBody is usually worse (captions, promos, no paragraphs).
ARTICLE_BODY_RESCUE_RATIO = 0.5

#: trafilatura's main extractor alone is trusted unless its text is shorter than DOUBTFUL_CHARS or its
#: lines are shorter than DOUBTFUL_MEAN_LINE on average (measured on half of the dev sets, checked on the
#: other half: about one page in ten runs the whole cascade).
DOUBTFUL_CHARS = 1000
DOUBTFUL_MEAN_LINE = 40
#: ... or when it is shorter than DOUBTFUL_PAGE_CHARS and than DOUBTFUL_PAGE_SHARE of the page's text (the
#: main extractor read a fragment of a page with much more text: trafilatura's own escalation test).
DOUBTFUL_PAGE_CHARS = 3000
DOUBTFUL_PAGE_SHARE = 0.2
#: trafilatura's text is taken without readability's second opinion when it is long (CONFIDENT_CHARS) and
#: made of paragraphs: at most CONFIDENT_SHORT_SHARE of it in lines shorter than SHORT_LINE_CHARS (menus,
#: link lists, table rows). On such pages (a quarter of the dev pages, the largest) the second opinion
#: changed next to nothing (half A: -0.0001 F1, half B: +0.0013) and cost most.
CONFIDENT_CHARS = 8000
CONFIDENT_SHORT_SHARE = 0.2
SHORT_LINE_CHARS = 100

_TOKEN = re.compile(r"\w+")
#: Elements that start a new line in readability's output (inline ones and text run on).
_BLOCKS = frozenset({
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote", "pre", "table", "tbody",
    "thead", "tr", "td", "th", "br", "hr", "section", "article", "main", "header", "footer", "aside", "dl", "dd",
    "dt", "figure", "figcaption", "form", "center", "address", "details", "summary",
})  # fmt: skip


class GenericParser(SiteParser):
    name = "generic"
    version = "5"
    description = "Any other site: JSON-LD / OpenGraph metadata and main-text extraction."
    tests = (SiteTest(url="https://example.com/news/some-article", only_matching=True),)

    @classmethod
    def claims_url(cls, url: str) -> bool:
        return True

    def parse(self, html: str, url: str) -> Article:
        tree = check_size(page_tree(html), url)
        md = extract_metadata(tree, url)
        extra: dict[str, Any] = {}
        headline = clean_text(md.headline)
        if not headline:
            # A page with article text is an article even when it declares no headline.
            headline, extra["headline_source"] = fallback_headline(tree, url, md.site_name)
            headline = clean_text(headline)
        body = extract_body(tree, url, headline=headline, article_body=md.article_body)
        if extra and len(body) < MIN_BODY_WITHOUT_HEADLINE:
            raise ParseError(
                f"{url}: no headline and no article text found",
                hint=f"the page declares no title and has {len(body)} characters of text",
            )
        images = (Image(md.image),) if md.image else ()  # resolved by extract_metadata
        return Article(
            url=url,
            canonical_url=md.canonical_url or url,
            headline=headline,
            body=body,
            byline=tuple(md.byline),
            published=md.published,
            updated=md.updated,
            description=clean_text(md.description) or None,
            section=md.section,
            tags=tuple(md.tags),
            images=images,
            lang=md.lang,
            extra=extra,
        )


def extract_body(
    page: str | lxml_html.HtmlElement, url: str, *, headline: str | None = None, article_body: str | None = None
) -> str:
    """Main text of the page, paragraphs separated by blank lines ('' when none is found).

    ``page`` is the HTML or its tree (dom.build_tree), which is not changed. trafilatura gives
    the text; unless it is confident() of it, readability-lxml gives a second opinion that
    replaces it by the rules above (choose()), with the lines of trafilatura's that it left out inside the
    article put back (restore_gaps()); a JSON-LD ``articleBody`` rescues pages where both found little; leading
    paragraphs repeating the headline (h1 then an h2 copy) are dropped, and so are lines that are only a link to
    another page of the site (drop_link_lines(): teasers, "Read more", sign-up and app promos).
    """
    tree = check_size(page_tree(page), url) if isinstance(page, str) else page
    run = TrafilaturaRun(tree, url)  # one pruned copy of the tree, shared by trafilatura's runs and readability
    paragraphs, doubtful = _trafilatura_paragraphs(run)
    if doubtful or not confident(paragraphs):
        # readability reads the tree trafilatura read (comment sections and appended articles pruned), and
        # takes it over: trafilatura is done with it
        second = _readability_paragraphs(run.take_raw(), fresh=run.pruned_copy)
        chosen = choose(paragraphs, second)
        if chosen is second and paragraphs:
            chosen = restore_gaps(paragraphs, second, lambda: link_texts(tree))
        paragraphs = chosen
    if article_body:
        ld_paragraphs = [clean_text(p) for p in article_body.splitlines()]
        if _length(paragraphs) < ARTICLE_BODY_RESCUE_RATIO * _length(ld_paragraphs):
            paragraphs = ld_paragraphs
    paragraphs = [p for p in paragraphs if p]
    while paragraphs and headline and _norm(paragraphs[0]) == _norm(headline):
        paragraphs = paragraphs[1:]
    return join_paragraphs(drop_link_lines(paragraphs, tree, url))


#: A <title> never closed holds the rest of the page as its text (an HTML parser reads it as text up to a
#: ``</title>``): a title this long holding markup is one, and is closed at its first line or tag.
SWALLOWING_TITLE_CHARS = 300
_MARKUP = re.compile(r"<(?:/?[a-zA-Z]|!--)")
_TITLE_START = re.compile(r"<title\b[^>]*>[^<\n]*", re.IGNORECASE)


def page_tree(html: str) -> lxml_html.HtmlElement:
    """dom.build_tree(html), re-parsed with its <title> closed where an unclosed one swallowed the page."""
    tree = build_tree(html)
    title = tree.find(".//title")
    text = title.text if title is not None else None
    if text and len(text) > SWALLOWING_TITLE_CHARS and _MARKUP.search(text):
        LOGGER.debug("unclosed <title> holds the page: closing it")
        tree = build_tree(_TITLE_START.sub(lambda m: m.group(0) + "</title>", html, count=1))
    return tree


def check_size(tree: lxml_html.HtmlElement, url: str) -> lxml_html.HtmlElement:
    """The tree, unless it has more than MAX_ELEMENTS elements (a ParseError saying so)."""
    size = sum(1 for _ in tree.iter())
    if size > MAX_ELEMENTS:
        raise ParseError(
            f"{url}: page too large for the generic extractor: {size:,} elements (limit {MAX_ELEMENTS:,})",
            hint="the extractors' work grows faster than the page; no article page is that large",
        )
    return tree


def choose(first: list[str], second: list[str]) -> list[str]:
    """trafilatura's paragraphs (``first``) or readability's (``second``), by the rules above."""
    first_len, second_len = _length(first), _length(second)
    if second_len < READABILITY_MIN_CHARS:
        return first
    if not first_len:
        return second  # the second opinion counts even when the first found nothing
    if SUBSET_MIN_SHARE * first_len <= second_len < first_len and _cover(second, first) >= CONTAINED_MIN_COVER:
        LOGGER.debug("readability text is the core of trafilatura's: using it")
        return second
    if second_len >= SUPERSET_MIN_RATIO * first_len and _cover(first, second) >= CONTAINED_MIN_COVER:
        LOGGER.debug("readability text holds trafilatura's and more: using it")
        return second
    return first


def restore_gaps(first: list[str], second: list[str], links: Callable[[], list[str]]) -> list[str]:
    """readability's lines (``second``), with trafilatura's (``first``) that it left out between two of its own.

    trafilatura's lines are matched in order against readability's text (normalized words); those of at
    least GAP_ANCHOR_WORDS words found there are anchors. The lines between two consecutive anchors that
    readability does not hold (under GAP_KEPT_COVER of their words in its text) go back in, after the
    readability line of the matched line before them, unless a run of them is mostly link text (``links()``:
    the page's link texts, normalized, read only when there is a run to test).
    """
    norms = [_norm(line) for line in second]
    joined = " ".join(norms)
    starts, at = [], 0  # where each of readability's lines starts in ``joined``
    for n in norms:
        starts.append(at)
        at += len(n) + 1
    bag: Counter[str] | None = None
    where: list[int | None] = [None] * len(first)  # readability line holding trafilatura's line, in order
    held = [True] * len(first)
    first_norms = [_norm(line) for line in first]
    pos = 0
    for i, n in enumerate(first_norms):
        if not n:
            continue
        found = joined.find(n, pos)
        if found >= 0:
            pos = found + len(n)
            where[i] = bisect.bisect_right(starts, pos - 1) - 1  # the line where the match ends
        elif n not in joined:
            if bag is None:
                bag = Counter(joined.split())
            words = Counter(n.split())
            held[i] = sum((words & bag).values()) >= GAP_KEPT_COVER * sum(words.values())
    anchors = [i for i, j in enumerate(where) if j is not None and len(first_norms[i].split()) >= GAP_ANCHOR_WORDS]
    inserts: dict[int, list[str]] = {}
    link_list: list[str] | None = None
    for a, b in pairwise(anchors):
        gap = [i for i in range(a + 1, b) if not held[i]]
        if not gap:
            continue
        if link_list is None:
            link_list = [text for text in links() if len(text) >= 2]
        gap_norms = [first_norms[i] for i in gap]
        if sum(_link_chars(n, link_list) for n in gap_norms) > GAP_MAX_LINK_SHARE * sum(map(len, gap_norms)):
            continue
        last = where[a]
        for i in range(a + 1, b):
            if where[i] is not None:
                last = where[i]
            elif not held[i]:
                inserts.setdefault(cast(int, last), []).append(first[i])
    if not inserts:
        return second
    LOGGER.debug("readability left out %d of trafilatura's lines inside the article: put back",
                 sum(map(len, inserts.values())))  # fmt: skip
    out: list[str] = []
    for j, line in enumerate(second):
        out.append(line)
        out.extend(inserts.get(j, ()))
    return out


def drop_link_lines(paragraphs: list[str], tree: lxml_html.HtmlElement, url: str) -> list[str]:
    """``paragraphs`` without the lines that are only the text of a link to another page of the same site.

    A line is dropped when its words (normalized) are those of such a link (same host, ``www.`` aside; another
    path or query than ``url``'s), unless it is a list item (trafilatura's "- " lines) or the page also holds that
    text in a block of its own with words outside links (a heading a table of contents links to). Nothing is
    dropped when that would leave no text.
    """
    firsts: dict[str, list[str]] = {}  # each tested line by its first word: most links are told apart by theirs
    for p in paragraphs:
        if len(p) <= LINK_LINE_MAX_CHARS and not p.startswith("- ") and (first := _TOKEN.search(p)):
            firsts.setdefault(first.group().lower(), []).append(p)
    if not firsts:
        return paragraphs
    candidates = _site_links(tree, url, firsts)
    if not candidates:
        return paragraphs
    drop = candidates - _plain_texts(tree, candidates)
    if not drop:
        return paragraphs
    kept = [p for p in paragraphs if p.startswith("- ") or len(p) > LINK_LINE_MAX_CHARS or _norm(p) not in drop]
    if not kept:
        return paragraphs
    LOGGER.debug("dropped %d lines that are links to other pages of the site", len(paragraphs) - len(kept))
    return kept


def _site_links(tree: lxml_html.HtmlElement, url: str, firsts: dict[str, list[str]]) -> set[str]:
    """Normalized texts of the lines (``firsts``: by their first word, lower-cased) that are the text of a link
    to another page of the page's own site (same host, ``www.`` aside)."""
    host = site_of(url)
    if not host:
        return set()
    here = urlsplit(url)  # read by site_of: no ValueError
    this_page = (here.path.rstrip("/"), here.query)
    norms: dict[str, set[str]] = {}  # the lines' normalized texts, by first word, made when a link needs them
    out: set[str] = set()
    for a in tree.iter("a"):
        first = _TOKEN.search(a.text or "")  # its own text comes first: most links are tested without text_content()
        if first is None:
            first = _TOKEN.search(a.text_content())
        if first is None or (word := first.group().lower()) not in firsts:
            continue
        href = a.get("href")
        if not href or href.lstrip().startswith("#"):
            continue
        if word not in norms:
            norms[word] = {_norm(p) for p in firsts[word]}
        text = _norm(a.text_content())
        if text not in norms[word] or text in out:
            continue
        try:
            absolute = urljoin(url, href.strip())
            target = urlsplit(absolute)
        except ValueError:
            continue
        if (
            target.scheme in ("http", "https")
            and site_of(absolute) == host
            and (target.path.rstrip("/"), target.query) != this_page
        ):
            out.add(text)
    return out


_NOT_TEXT = ("a", "script", "style", "template")  # text inside these is no text of the page outside links


def _plain_texts(tree: lxml_html.HtmlElement, texts: set[str]) -> set[str]:
    """Those of ``texts`` (normalized) that the page holds as the whole text of a block (the nearest block element
    around a piece of text outside links) with words outside links."""
    body = tree.find("body")
    root = tree if body is None else body
    words = {w for text in texts for w in text.split()}
    found: set[str] = set()
    seen: set[Any] = set()
    for piece in _TEXT_NODES(root):
        first = _TOKEN.search(piece)
        if first is None or first.group().lower() not in words:
            continue
        el = piece.getparent()
        if piece.is_tail:
            el = el.getparent()
        if el is None or el.tag in _NOT_TEXT or next(el.iterancestors(*_NOT_TEXT), None) is not None:
            continue
        while el is not None and el is not root and el.tag not in _BLOCKS:
            el = el.getparent()
        if el is None or el in seen:
            continue
        seen.add(el)
        text = _norm(el.text_content())
        if text in texts:
            found.add(text)
    return found


_TEXT_NODES = etree.XPath(".//text()")


def link_texts(tree: lxml_html.HtmlElement) -> list[str]:
    """The page's link texts, normalized as _norm() does, each once."""
    return sorted({_norm(a.text_content()) for a in tree.iter("a")} - {""})


def _link_chars(text: str, links: list[str]) -> int:
    """Characters of ``text`` (normalized) covered by whole-word occurrences of the given link texts."""
    covered = bytearray(len(text))
    for link in links:
        if len(link) > len(text):
            continue
        start = text.find(link)
        while start >= 0:
            end = start + len(link)
            if (start == 0 or text[start - 1] == " ") and (end == len(text) or text[end] == " "):
                covered[start:end] = b"\x01" * len(link)
            start = text.find(link, start + 1)
    return sum(covered)


def confident(paragraphs: list[str]) -> bool:
    """Whether trafilatura's text needs no second opinion: long, and mostly paragraphs, not short lines."""
    length = _length(paragraphs)
    if length < CONFIDENT_CHARS or _doubtful(paragraphs):
        return False
    short = sum(len(p) for p in paragraphs if len(p) < SHORT_LINE_CHARS)
    return short <= CONFIDENT_SHORT_SHARE * length


def _trafilatura_paragraphs(run: TrafilaturaRun) -> tuple[list[str], bool]:
    """trafilatura's text as lines: its main extractor alone, its whole cascade where that is doubtful.

    The cascade (its own readability port, jusText, a baseline) costs as much again as the main
    extractor and changes the result on few pages: those where the main extractor's text is short,
    a run of short lines (a link list), or a small part of the page's text. Elsewhere readability-lxml's
    second opinion (choose()) does that work. Returns the lines and whether the main extractor was doubtful.
    """
    paragraphs = _lines(run.text(fast=True))
    length = _length(paragraphs)
    if _doubtful(paragraphs) or (
        length < DOUBTFUL_PAGE_CHARS and length < DOUBTFUL_PAGE_SHARE * _page_text_length(run.tree)
    ):
        LOGGER.debug("trafilatura's main extractor is doubtful here: running its whole cascade")
        return _lines(run.text(fast=False)), True
    return paragraphs, False


def _page_text_length(tree: lxml_html.HtmlElement) -> int:
    """Characters of text in the page's body (runs of white space as one), scripts and styles left out."""
    body = tree.find("body")
    root = tree if body is None else body
    hidden = sum(_collapsed_length(el) for el in root.iter("script", "style", "noscript"))
    return _collapsed_length(root) - hidden


def _lines(text: str) -> list[str]:
    return [clean_text(line) for line in text.split("\n")]


def _doubtful(paragraphs: list[str]) -> bool:
    """Whether trafilatura's main extractor alone is not to be trusted: little text, or short lines."""
    length = _length(paragraphs)
    lines = sum(1 for p in paragraphs if p)
    return length < DOUBTFUL_CHARS or length < DOUBTFUL_MEAN_LINE * lines


class _Readability(Document):  # type: ignore[misc]
    """readability-lxml on our tree, without its own parse and HTML cleaner.

    Our tree has no comments; the cleaner's other work (scripts, styles, link elements, hidden
    elements) is done here. It works on a copy of the tree given, or, with ``fresh`` (a function
    giving a new tree like it), on the tree itself, which it changes. The retry readability makes on a
    page it finds little in gets a fresh copy (its stock ``_parse`` would reuse the tree it already pruned).
    """

    def __init__(self, tree: lxml_html.HtmlElement, fresh: Callable[[], lxml_html.HtmlElement] | None = None) -> None:
        super().__init__(tree)
        self._fresh = fresh
        self._owned: lxml_html.HtmlElement | None = tree if fresh is not None else None

    def _parse(self, input: Any) -> lxml_html.HtmlElement:
        if self._owned is not None:
            doc, self._owned = self._owned, None
        elif self._fresh is not None:
            doc = self._fresh()
        else:
            doc = cast("lxml_html.HtmlElement", copy.deepcopy(input))
        etree.strip_elements(doc, "script", "style", "link", "noscript", with_tail=False)
        for elem in doc.xpath("//*[@hidden or @style]"):  # one pass for both (dropped in document order)
            if elem.get("hidden") is not None or "display:none" in elem.get("style", "").replace(" ", "").lower():
                elem.drop_tree()
        self.encoding = "utf-8"
        return doc

    def get_link_density(self, elem: lxml_html.HtmlElement) -> float:
        """readability's link density, its text lengths measured without its three regex passes per call.

        (Spaces are counted collapsed, as its clean() counts them: a quarter of its time went there.)
        """
        links = sum(_collapsed_length(a) for a in elem.iterdescendants("a"))
        return links / max(_collapsed_length(elem), 1)

    def score_paragraphs(self) -> dict[Any, dict[str, Any]]:
        """readability's own scoring, without its debug line formatted for every branch (a describe() of
        the node, built even when nothing logs it) and with text lengths counted in one split."""
        min_len = self.min_text_length
        candidates: dict[Any, dict[str, Any]] = {}
        ordered = []
        for elem in self.tags(self._html(), "p", "pre", "td", "blockquote"):
            parent_node = elem.getparent()
            if parent_node is None:
                continue
            grand_parent_node = parent_node.getparent()
            inner_text = elem.text_content() or ""
            inner_text_len = _squeezed_length(inner_text)
            if inner_text_len < min_len:
                continue
            if parent_node not in candidates:
                candidates[parent_node] = self.score_node(parent_node)
                ordered.append(parent_node)
            if grand_parent_node is not None and grand_parent_node not in candidates:
                candidates[grand_parent_node] = self.score_node(grand_parent_node)
                ordered.append(grand_parent_node)
            content_score = 1 + inner_text.count(",") + 1 + min(inner_text_len / 100, 3)
            candidates[parent_node]["content_score"] += content_score
            if grand_parent_node is not None:
                candidates[grand_parent_node]["content_score"] += content_score / 2.0
        # get_link_density(), each link's text measured once (nested candidates hold the same links)
        link_lengths: dict[Any, int] = {}
        for elem in ordered:
            links = 0
            for a in elem.iterdescendants("a"):
                length = link_lengths.get(a)
                if length is None:
                    length = link_lengths[a] = _collapsed_length(a)
                links += length
            candidates[elem]["content_score"] *= 1 - links / max(_collapsed_length(elem), 1)
        return candidates

    def remove_unlikely_candidates(self) -> None:
        """readability's own pass, with its regexes run only on elements that have a class or an id.

        (Its stock loop formats and searches a string for every element of the page.) The elements are
        found by one XPath; one inside an element already dropped is dropped or kept from a tree that is
        gone, which changes nothing (as in the stock pass, which tests every element of its first list).
        """
        for elem in self.html.xpath(".//*[@class or @id]"):
            tag = elem.tag
            if tag in ("html", "body", "pre", "code"):
                continue
            cls, ident = elem.get("class"), elem.get("id")
            label = f"{cls or ''} {ident or ''}"
            if (
                len(label) >= 2
                and _unlikely_label(label)
                and next(elem.iterancestors("pre", "code"), None) is None
                and next(elem.iter("main", "article", "math"), None) is None
            ):
                elem.drop_tree()

    def transform_misused_divs_into_paragraphs(self) -> None:
        """readability's own pass, its block test made on tag names instead of serialized HTML.

        Stock readability serializes every div's children (and every child) to search the markup
        for ``<p``, ``<div``, ``<table``...: a pass that grows with the page's depth times its size.
        The test here (an element whose tag starts so) answers the same for every element.
        """
        for elem in self.html.findall(".//div"):
            if not _holds_block(elem, itself=False):
                elem.tag = "p"
        for elem in self.html.findall(".//div"):
            children = list(elem)
            paragraph = None
            if elem.text and elem.text.strip():
                p = lxml_html.fragment_fromstring("<p/>")
                p.text = elem.text
                elem.text = None
                elem.insert(0, p)
                paragraph = p
            for child in children:
                if child.tag == "br":
                    paragraph = None
                    continue
                if child.tag not in _INLINE_TAGS or _holds_block(child, itself=True):
                    paragraph = None
                    continue
                if paragraph is None:
                    paragraph = lxml_html.fragment_fromstring("<p/>")
                    child.addprevious(paragraph)
                paragraph.append(child)
            for pos, child in reversed(list(enumerate(elem))):
                if child.tail and child.tail.strip():
                    p = lxml_html.fragment_fromstring("<p/>")
                    p.text = child.tail
                    child.tail = None
                    elem.insert(pos + 1, p)
                if child.tag == "br":
                    child.drop_tree()


@lru_cache(maxsize=4096)
def _unlikely_label(label: str) -> bool:
    """readability's test of an element's "class id" (pages repeat the same few labels)."""
    return bool(
        _READABILITY_RE["unlikelyCandidatesRe"].search(label)
        and not _READABILITY_RE["okMaybeItsACandidateRe"].search(label)
    )


#: What readability's divToPElementsRe finds in serialized HTML (``<(blockquote|dl|div|img|ol|p|pre|table|ul)``,
#: any case), as tag-name prefixes.
_BLOCK_PREFIXES = ("blockquote", "dl", "div", "img", "ol", "p", "table", "ul")
_INLINE_TAGS = frozenset({"a", "b", "cite", "code", "em", "font", "i", "small", "span", "strong", "sub", "sup", "u"})


def _holds_block(el: lxml_html.HtmlElement, *, itself: bool) -> bool:
    nodes = el.iter() if itself else el.iterdescendants()
    return any(isinstance(n.tag, str) and n.tag.lower().startswith(_BLOCK_PREFIXES) for n in nodes)


def _collapsed_length(el: lxml_html.HtmlElement) -> int:
    return _squeezed_length(el.text_content())


def _squeezed_length(text: str) -> int:
    """Length of ``text`` with its runs of white space counted as one character (and none at the ends)."""
    words = text.split()
    return sum(map(len, words)) + max(len(words) - 1, 0)


def _readability_paragraphs(
    tree: lxml_html.HtmlElement, fresh: Callable[[], lxml_html.HtmlElement] | None = None
) -> list[str]:
    """Lines of readability-lxml's article candidate (merged sibling containers included).

    With ``fresh``, ``tree`` is readability's to change (_Readability).

    Text is split where a block element starts or ends, so text held in ``<div>``s or between
    ``<br>``s (older pages) is kept with its line breaks, not only ``<p>`` text.
    """
    try:
        summary = _Readability(tree, fresh).summary(html_partial=True)
        article = lxml_html.fragment_fromstring(summary, create_parent="div")
    except Exception as exc:  # readability raises Unparseable, lxml and plain errors on odd pages
        LOGGER.debug("readability failed: %s", exc)
        return []
    return block_lines(article)


def block_lines(root: lxml_html.HtmlElement) -> list[str]:
    """The text of an element as lines: one per run of text between block-element boundaries."""
    lines: list[str] = []
    run: list[str] = []

    def flush() -> None:
        text = clean_text("".join(run))
        if text:
            lines.append(text)
        run.clear()

    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _BLOCKS:
                flush()
            if tag and el.text:
                run.append(el.text)
        else:
            if tag in _BLOCKS:
                flush()
            if el is not root and el.tail:
                run.append(el.tail)
    flush()
    return lines


def _norm(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower()))


def _length(paragraphs: list[str]) -> int:
    return sum(len(p) for p in paragraphs)


def _cover(part: list[str], whole: list[str]) -> float:
    """Share of ``part``'s words (counted with repeats) found among ``whole``'s."""
    words = Counter(_TOKEN.findall(" ".join(part).lower()))
    total = sum(words.values())
    if not total:
        return 0.0
    shared = words & Counter(_TOKEN.findall(" ".join(whole).lower()))
    return sum(shared.values()) / total
