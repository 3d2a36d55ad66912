"""Blogger / Blogspot posts (classic, layouts-v2 and third-party themes; blogspot and custom domains)."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lxml import etree
from lxml import html as lxml_html

from newsarchive.article import Article, Image
from newsarchive.errors import ParseError
from newsarchive.parse.dates import parse_date
from newsarchive.parse.dom import build_tree, clean_text
from newsarchive.parse.metadata import article_json_ld, canonical_url, join_url
from newsarchive.parse.site import Host, Site, SiteParser, SiteTest, Tag, Text
from newsarchive.parse.sites import blogger_body as bb
from newsarchive.parse.sites import blogger_feed

Element = lxml_html.HtmlElement


def _cls(name: str) -> str:
    """XPath predicate: the class token ``name`` (a cheap substring test first, for speed)."""
    return f"(contains(@class, '{name}') and {bb.cls(name)})"


# Pruned from the whole page before anything is read: comments, pager, share UI, related widgets.
_NOISE_IDS = frozenset({
    "comments", "comment-holder", "comments-block", "comment-editor", "comment-post-message", "blog-pager",
    "related-posts", "backlinks-container",
})  # fmt: skip
_NOISE_CLASSES = frozenset({
    "comments", "comment-thread", "comments-content", "comment-form", "comment-footer", "blog-pager", "post-feeds",
    "post-share-buttons", "sharing", "share-buttons", "item-control", "related-posts", "post-comment-link",
    "reactions", "post-backlinks", "jump-link",
})  # fmt: skip
_BODY_CLASSES = ("post-body", "entry-content", "post-content", "post-entry")
_OFF_POST = frozenset({"sidebar", "PopularPosts", "FeaturedPost"})
_DATA_KEY = r"['\"]{key}['\"]\s*:\s*['\"]?([^'\",}}]*)['\"]?"
_LABEL_PREFIX = re.compile(r"^(?:labels|tags|label|tag|categories|etiquetas|libellés|etiketten)\s*:\s*", re.I)
_AUTHOR_PREFIX = re.compile(rf"^{bb.BYLINE_LABEL}\b\s*:?\s*", re.I)
_MONTHS = {
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "maerz": 3, "mai": 5, "juni": 6, "juli": 7, "oktober": 10,
    "dezember": 12, "janvier": 1, "février": 2, "mars": 3, "avril": 4, "juin": 6, "juillet": 7, "août": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "enero": 1, "febrero": 2, "marzo": 3,
    "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8, "septiembre": 9, "octubre": 10,
    "noviembre": 11, "diciembre": 12, "january": 1, "february": 2, "march": 3, "april": 4, "may": 5,
    "june": 6, "july": 7, "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
    "nov": 11, "dec": 12,
}  # fmt: skip
#: The start of the ids Blogger gives its feeds and their entries (``tag:blogger.com,1999:blog-<id>.post-<id>``).
_FEED_TAG = r"tag:blogger\.com,1999:blog-"


class Blogger(SiteParser):
    name = "blogger"
    version = "3"
    description = (
        "Blogger posts on *.blogspot.* and custom domains (classic, layouts-v2, third-party themes); a post's own"
        " 'Posted by' line names its authors, Blogger's 'Unknown' / 'Anonymous' never do."
    )
    site = Site(
        url_patterns=(r"https?://[\w.-]+\.blogspot\.[a-z]{2,3}(?:\.[a-z]{2})?/\d{4}/\d{2}/[^/?#]+\.html",),
        # SITES.md 2.1: any one of these marks a Blogger page, on blogspot or on a custom domain.
        page_markers=(
            Tag("meta", {"name": "generator", "content": "blogger"}),
            Tag("link", {"rel": r"service\.post", "href": r"https?://www\.blogger\.com/feeds/\d+/posts/default"}),
            Tag("link", {"rel": r"openid\.server", "href": r"https?://www\.blogger\.com/openid-server\.g"}),
            Tag("link", {"rel": "alternate", "href": r"[^'\"\s>]*/feeds/posts/default(?:\?alt=rss)?"}),
            Tag("link", {"href": r"(?:https?:)?//www\.blogger\.com/static/v1/widgets/[^'\"\s>]*"}),
            Tag("html", {"xmlns:b": r"http://www\.google\.com/2005/gml/b"}),
            Text(r"_WidgetManager\._Init\(\s*['\"](?:https?:)?//www\.blogger\.com/rearrange"),
        ),
        hosts=(Host(r"(?P<name>[a-z0-9-]+)\.blogspot\.[a-z]{2,3}(?:\.[a-z]{2})?", "{name}"),),
        feeds=("/feeds/posts/default?orderby=published",),  # ordered (SITES.md 2.7)
        sitemaps=("/sitemap.xml",),  # automatic (SITES.md 2.8)
        link_patterns=(r"^https?://[^/]+/\d{4}/\d{2}/[^/?#]+\.html$",),  # posts are /YYYY/MM/slug.html (2.9)
        feed_markers=(_FEED_TAG.encode() + rb"\d+",),
        feed_ids=_FEED_TAG + r"(?P<blog>\d+)(?:\.post-(?P<post>\d+))?",  # -> blogger_blog_id, blogger_post_id
        platform_hosts=("www.blogger.com",),
        feed_merge=blogger_feed.FEED_MERGE,
    )
    example_sites = ("blog.python.org", "plentylife.blogspot.com")
    tests = (
        SiteTest(
            fixture="blogger/white-house-arabic-theme.html",
            url="https://min-menu-news.blogspot.com/2023/04/white-house-we-dont-encourage-ukraine.html",
            expect={
                "headline": "White House: We don't encourage Ukraine to hit Russia in depth",
                "body": "startswith:U.S. National Security Council Strategic Communications Coordinator John Kirby",
                "published": "2023-04-22T09:14:00+03:00",
                "byline": ["Abu Yazan"],
                "tags": ["Ukraine", "Russia", "White House"],
            },
            never=("Min menu", "Pages", "Comments", "Post a Comment", "Popular Posts", "Powered by Blogger"),
        ),
        SiteTest(
            fixture="blogger/white-house-arabic-theme-min.html",
            url="https://min-menu-news.blogspot.com/2023/04/white-house-we-dont-encourage-ukraine.html?m=1",
            expect={
                "headline": "White House: We don't encourage Ukraine to hit Russia in depth",
                "body": "endswith:We appreciate your interest in this crucial topic.",
                "published": None,
                "extra": {"blogger_post_id": "7305518724931260419", "blogger_blog_id": "4417283950126783341"},
            },
            never=("Min menu", "Comments", "Karim Haddad", "Pentagon does another", "Telegram channel", "Newer Post"),
        ),
        SiteTest(
            fixture="blogger/white-house-classic-custom-domain.html",
            url="https://www.minmenu-news.net/2023/04/white-house-we-dont-encourage-ukraine.html",
            expect={
                "headline": "White House: We don't encourage Ukraine to hit Russia in depth",
                "byline": ["Abu Yazan"],
                "published": "2023-04-22T09:14:00+03:00",
                "tags": ["Ukraine", "Russia", "White House"],
                "body": "contains:Earlier :",
            },
            never=(
                "Posted by",
                "Email This",
                "Share to Twitter",
                "Karim Haddad",
                "2 comments:",
                "Post a Comment",
                "Older Post",
                "Blog Archive",
                "Powered by",
                "Subscribe to:",
                "Labels:",
            ),
        ),
        SiteTest(
            fixture="blogger/olive-harvest-contempo-no-labels.html",
            url="https://fieldnotes-ar.blogspot.com/2023/09/olive-harvest-notes.html",
            expect={
                "headline": "Olive harvest notes from the valley",
                "byline": ["Layla Mansour"],
                "published": "2023-09-15T07:30:00-07:00",
                "updated": "2023-09-16T11:04:51-07:00",
                "tags": [],
                "body": "endswith:The press in town opens at six; we were third in line.",
                "images": "count:1",
            },
            never=("Greener oil", "Our press was closed", "Get link", "Other Apps", "Summer figs", "Report Abuse"),
        ),
        SiteTest(
            fixture="blogger/corporate-posted-by-in-body.html",
            url="https://devblog.fixture-corp.example/2020/05/new-build-tools.html",
            expect={
                "headline": "New build tools for faster releases",
                "byline": ["Jane Fixture", "Omar Example"],
                "published": "2020-05-19T10:00:00-07:00",
                "tags": ["Build Tools", "Releases"],
                "body": "startswith:Today we are releasing version 4.1 of the build tools",
            },
            never=("Posted by", "Fixture Developers", "Email This", "Newer Post", "Contributors", "Powered by"),
        ),
        SiteTest(url="https://example.blogspot.com/2023/04/some-post.html", only_matching=True),
        SiteTest(url="http://plentylife.blogspot.de/2017/05/strong-beautiful.html", only_matching=True),
    )

    def parse(self, html: str, url: str) -> Article:
        tree = build_tree(html)
        ctx = _data_context(html)
        md = _head_metadata(tree, url)
        ld = (article_json_ld(tree, url) or {}) if _has_json_ld(tree) else {}
        alive: list[Element] = []  # every element proxy, kept for the whole parse: the later passes reuse them
        body_el = _prune_and_find_body(tree, ctx.get("postId"), alive)
        if body_el is None:
            raise ParseError(f"{url}: no Blogger post body", hint="no post-body / entry-content element found")
        scope = _post_scope(body_el)
        post = _Scope(scope)
        headline = _headline(post, body_el) or clean_text(_unescape(ld.get("headline"))) or _title_fallback(md)
        author = _author(post)
        published, updated, date_text = _dates(post, ld)
        tags = _labels(post, body_el)
        og_image = join_url(url, md.get("og:image"))
        images = bb.images(body_el, url) or ((Image(og_image),) if og_image else ())
        post_id = ctx.get("postId") or _post_id(tree, scope, body_el)
        blog_id = ctx.get("blogId") or _blog_id(tree, html)
        body = bb.remove_repeated_headline(bb.render_post(body_el), headline)  # the last reader of the tree
        # The post's own "Posted by" line wins over the theme's byline (on corporate blogs, the blog's name).
        named, body = bb.split_byline(body)
        byline = named or ((author,) if author else _ld_authors(ld) or _split(md.get("author")))
        extra: dict[str, Any] = {}
        if post_id:
            extra["blogger_post_id"] = post_id
        if blog_id:
            extra["blogger_blog_id"] = blog_id
        if published is None and date_text:
            extra["blogger_date_text"] = date_text
            day = _text_date(date_text)
            if day:
                extra["blogger_published_date"] = day.isoformat()
        candidates = (md.get("canonical"), ctx.get("canonicalUrl"), md.get("og:url"))
        canonical = next((c for c in candidates if c and canonical_url(url, c)), url)
        description = _unescape(ld.get("description") or md.get("og:description") or md.get("description"))
        return Article(
            url=url,
            canonical_url=_strip_mobile(canonical),
            headline=headline,
            body=body,
            byline=byline,
            published=published,
            updated=updated,
            description=" ".join(description.split()) or None,
            tags=tuple(tags),
            images=images,
            lang=_lang(tree, ctx),
            extra=extra,
        )


# -- page-level helpers -------------------------------------------------------------------------


_DATA_KEYS = tuple(
    (key, re.compile(_DATA_KEY.format(key=key))) for key in ("blogId", "postId", "locale", "canonicalUrl")
)


def _data_context(html: str) -> dict[str, str]:
    """blogId, postId, locale, canonicalUrl from the ``_WidgetManager._SetDataContext`` script."""
    out: dict[str, str] = {}
    start = html.find("_SetDataContext")
    if start < 0:
        return out
    chunk = html[start : start + 20_000]
    for key, pattern in _DATA_KEYS:
        m = _search_after_quote(pattern, chunk, key)
        if m and m.group(1).strip():
            out[key] = m.group(1).strip()
    return out


def _search_after_quote(pattern: re.Pattern[str], text: str, key: str) -> re.Match[str] | None:
    """``pattern.search(text)`` for a pattern that starts with a quote and then ``key``: only the places
    where ``key`` follows a character are tried (a substring search is far faster than a regex scan)."""
    i = text.find(key, 1)
    while i > 0:
        m = pattern.match(text, i - 1)
        if m:
            return m
        i = text.find(key, i + 1)
    return None


def _prune_and_find_body(tree: Element, post_id: str | None, alive: list[Element]) -> Element | None:
    """One pass over the page: drop comment/pager/share noise, pick the post body (best candidate).

    The page's elements are added to ``alive``.
    """
    noise: list[Element] = []
    best: tuple[int, Element] | None = None
    wanted = f"post-body-{post_id}" if post_id else None
    for el in _noise_or_body(tree, alive):
        el_id = el.get("id") or ""
        classes = set((el.get("class") or "").split())
        if el_id in _NOISE_IDS or classes & _NOISE_CLASSES:
            noise.append(el)
            continue
        rank = None
        if wanted and el_id == wanted:
            rank = 0
        elif el_id.startswith("post-body-"):
            rank = 1
        elif "post-body" in classes:
            rank = 2
        elif "articleBody" in (el.get("itemprop") or "") or "articlesBody" in (el.get("itemprop") or ""):
            rank = 3
        else:
            for i, name in enumerate(_BODY_CLASSES[1:]):
                if name in classes:
                    rank = 4 + i
                    break
        if rank is not None and (best is None or rank < best[0]) and not _off_post(el):
            best = (rank, el)
    for el in noise:
        bb.drop(el)
    if best is not None and noise:
        dropped = set(noise)
        if best[1] in dropped or any(a in dropped for a in best[1].iterancestors()):
            return _prune_and_find_body(tree, post_id, alive)
    return best[1] if best else None


_NOISE_OR_BODY_CLASSES = _NOISE_CLASSES | frozenset(_BODY_CLASSES)


def _noise_or_body(tree: Element, alive: list[Element]) -> list[Element]:
    """Every element that may be noise or a body candidate (by class token, id or itemprop), in document order.

    The page's elements are added to ``alive``.
    """
    elements = list(tree.iter())
    alive.extend(elements)
    if next(tree.iter(etree.PI), None) is not None:
        return _noise_or_body_pi(elements)
    out: list[Element] = []
    for el in elements:
        keys = el.keys()  # one call; most elements have none of the three attributes (or none at all)
        if not keys:
            continue
        if "class" in keys:
            value = el.get("class")
            if value and not _NOISE_OR_BODY_CLASSES.isdisjoint(value.split()):
                out.append(el)
                continue
        if "id" in keys:
            value = el.get("id")
            if value and (value in _NOISE_IDS or value.startswith("post-body-")):
                out.append(el)
                continue
        if "itemprop" in keys:
            value = el.get("itemprop")
            if value and ("articleBody" in value or "articlesBody" in value):
                out.append(el)
    return out


def _noise_or_body_pi(elements: list[Element]) -> list[Element]:
    """As _noise_or_body(), on a page with processing instructions: get() reads their pseudo-attributes."""
    out: list[Element] = []
    for el in elements:
        value = el.get("class")
        if value and not _NOISE_OR_BODY_CLASSES.isdisjoint(value.split()):
            out.append(el)
            continue
        value = el.get("id")
        if value and (value in _NOISE_IDS or value.startswith("post-body-")):
            out.append(el)
            continue
        value = el.get("itemprop")
        if value and ("articleBody" in value or "articlesBody" in value):
            out.append(el)
    return out


def _off_post(el: Element) -> bool:
    for a in el.iterancestors():
        value = a.get("class")
        if value and not _OFF_POST.isdisjoint(value.split()):
            return True
    return False


def _head_metadata(tree: Element, url: str) -> dict[str, str]:
    """<meta> values by property/name (first wins) plus the canonical link, in one pass."""
    out: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = meta.get("property") or meta.get("name")
        value = (meta.get("content") or "").strip()
        if key and value and key.lower() not in out:
            out[key.lower()] = value
    for link in tree.iter("link"):
        if (link.get("rel") or "").lower() == "canonical" and (link.get("href") or "").strip():
            canonical = join_url(url, link.get("href"))
            if canonical:
                out["canonical"] = canonical
            break
    titles = _TITLE_TEXT(tree)
    if titles:
        out["<title>"] = " ".join(str(titles[0]).split())
    return out


def _has_json_ld(tree: Element) -> bool:
    """The page has a block article_json_ld() reads (its ``//script[@type="application/ld+json"]``)."""
    return any(s.get("type") == "application/ld+json" for s in tree.iter("script"))


def _ld_authors(ld: dict[str, Any]) -> tuple[str, ...]:
    author = ld.get("author")
    items = author if isinstance(author, list) else [author]
    names = [a.get("name") if isinstance(a, dict) else a for a in items]
    return tuple(n.strip() for n in names if isinstance(n, str) and n.strip() and not bb.is_placeholder_author(n))


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip() and not bb.is_placeholder_author(v))


_TITLE_TEXT = etree.XPath("//title/text()")
_SCOPES = tuple(
    etree.XPath(xp)
    for xp in (
        f"ancestor::*[{_cls('post-outer')}][1]",
        f"ancestor::*[{_cls('hentry')} or @itemprop='blogPost'][1]",
        f"ancestor::*[{_cls('post')}][1]",
        "ancestor::article[1]",
        f"ancestor::*[{_cls('date-outer')}][1]",
        f"ancestor::*[{_cls('Blog')}][1]",
    )
)


def _post_scope(body: Element) -> Element:
    """The post's own container (title, byline, footer), never the whole blog column."""
    for xp in _SCOPES:
        el: Element | None = bb.first(xp(body))
        if el is not None:
            return el
    parent = body.getparent()
    return parent if parent is not None else body


def _unescape(value: Any) -> str:
    return html_lib.unescape(value) if isinstance(value, str) else ""


def _outside(el: Element, body: Element) -> bool:
    return not (el is body or body in el.iterancestors())


# The post scope's attributes are read once (class; itemprop and rel when a lookup first needs them) instead of
# one XPath query per field. Every lookup below answers exactly what the XPath query in its comment would:
# elements in document order, each once, class tokens split on XML white space as normalize-space() does.
_SCOPE_CLASSES = etree.XPath(".//*/@class")  # smart strings: getparent() is the element
_SCOPE_ITEMPROPS = etree.XPath(".//*/@itemprop")
_SCOPE_RELS = etree.XPath(".//*/@rel")
_TITLE_CLASSES = frozenset({"post-title", "entry-title"})
_AUTHOR_BOX = frozenset({"post-author", "author", "vcard"})
_AUTHOR_LINK_BOX = frozenset({"entry-author", "post-author", "author-name"})
_AUTHOR_CLASSES = frozenset({"entry-author", "post-author", "byline-author"})
_DATE_CLASSES = frozenset({"post-timestamp", "publishdate", "post-date"})
_LABEL_BOX = frozenset({"post-labels", "post-sidebar-labels", "labels"})
_FN = frozenset({"fn"})
_PUBLISHED_CLASS = frozenset({"published"})
_UPDATED_CLASS = frozenset({"updated"})
_BLOG_LINKS = frozenset({"blog_links"})
_DATE_HEADER = frozenset({"date-header"})
_TOKENS = (
    _TITLE_CLASSES | _AUTHOR_BOX | _AUTHOR_LINK_BOX | _AUTHOR_CLASSES | _DATE_CLASSES | _LABEL_BOX | _FN
    | _PUBLISHED_CLASS | _UPDATED_CLASS | _BLOG_LINKS | _DATE_HEADER
)  # fmt: skip
_HEADINGS = ("h1", "h2", "h3")


class _Scope:
    """The post scope's descendants that carry a class token, itemprop or rel value some field lookup uses."""

    __slots__ = ("_itemprops", "_rels", "classed", "root", "tokens")

    def __init__(self, root: Element) -> None:
        self.root = root
        self.classed: list[tuple[Element, frozenset[str]]] = []
        self.tokens: dict[Element, frozenset[str]] = {}  # keeps the element proxies alive: identity holds
        for value in _SCOPE_CLASSES(root):
            if _TOKENS.isdisjoint(value.split()):  # split() cuts at every XML space (and more): a superset test
                continue
            found = _TOKENS.intersection(value.translate(bb.XML_SPACE).split(" "))
            if found:
                el = value.getparent()
                self.classed.append((el, found))
                self.tokens[el] = found
        self._itemprops: list[tuple[Element, str]] | None = None
        self._rels: list[tuple[Element, str]] | None = None

    @property
    def itemprops(self) -> list[tuple[Element, str]]:
        """(element, itemprop) in document order; read when a lookup first needs it."""
        if self._itemprops is None:
            self._itemprops = [(v.getparent(), str(v)) for v in _SCOPE_ITEMPROPS(self.root)]
        return self._itemprops

    @property
    def rels(self) -> list[tuple[Element, str]]:
        """(element, rel) in document order; read when a lookup first needs it."""
        if self._rels is None:
            self._rels = [(v.getparent(), str(v)) for v in _SCOPE_RELS(self.root)]
        return self._rels

    def with_class(self, names: frozenset[str]) -> list[Element]:
        """``.//*[cls(name) or ...]``"""
        return [el for el, found in self.classed if not found.isdisjoint(names)]

    def with_prop(self, value: str) -> list[Element]:
        """``.//*[@itemprop=value]``"""
        return [el for el, v in self.itemprops if v == value]

    def links_with_rel(self, value: str) -> list[Element]:
        """``.//a[@rel=value]``"""
        return [el for el, v in self.rels if v == value and el.tag == "a"]

    def inside(self, el: Element, names: frozenset[str]) -> bool:
        """``el`` has an ancestor below the scope root with one of the class tokens ``names``."""
        root, tokens = self.root, self.tokens
        for a in el.iterancestors():
            if a is root:
                return False
            found = tokens.get(a)
            if found is not None and not found.isdisjoint(names):
                return True
        return False

    def links_in(self, names: frozenset[str]) -> list[Element]:
        """``.//*[cls(name) or ...]//a``"""
        return _descendants(self.with_class(names), "a")

    def headline_candidates(self) -> Iterator[list[Element]]:
        yield self.with_class(_TITLE_CLASSES)  # .//*[cls('post-title') or cls('entry-title')]
        # .//*[@itemprop='name' or @itemprop='headline'][self::h1 or self::h2 or self::h3]
        yield [el for el, v in self.itemprops if (v == "name" or v == "headline") and el.tag in _HEADINGS]
        yield list(self.root.iterdescendants(*_HEADINGS))  # .//h1 | .//h2 | .//h3

    def author_candidates(self) -> Iterator[list[Element]]:
        boxed_fn = [el for el, classes in self.classed if "fn" in classes and self.inside(el, _AUTHOR_BOX)]
        # .//*[box]//*[cls('fn')]//*[@itemprop='name']
        yield [el for el in _descendants(boxed_fn, etree.Element) if el.get("itemprop") == "name"]
        yield boxed_fn  # .//*[box]//*[cls('fn')]
        # .//*[@itemprop='author']//*[@itemprop='name']
        root = self.root
        props = dict(self.itemprops)
        yield [el for el in self.with_prop("name") if any(props.get(a) == "author" for a in _below(el, root))]
        yield self.links_in(_AUTHOR_LINK_BOX)
        yield self.with_class(_AUTHOR_CLASSES)
        yield self.links_with_rel("author")

    def published_values(self) -> Iterator[str]:
        """The attribute values the published-date queries give, query after query."""
        published = self.with_class(_PUBLISHED_CLASS)
        for tag, attr in (("abbr", "title"), ("time", "datetime"), ("time", "title"), (None, "datetime")):
            for el in published:  # .//abbr[cls('published')]/@title ...
                if tag is None or el.tag == tag:
                    value = el.get(attr)
                    if value is not None:
                        yield value
        props = self.with_prop("datePublished")
        for attr in ("content", "datetime", "title"):  # .//*[@itemprop='datePublished']/@content ...
            for el in props:
                value = el.get(attr)
                if value is not None:
                    yield value
        for el in self.root.iterdescendants("time"):  # .//time/@datetime
            value = el.get("datetime")
            if value is not None:
                yield value

    def updated_values(self) -> Iterator[str]:
        """``.//abbr[cls('updated')]/@title | .//time[cls('updated')]/@datetime``"""
        for el in self.with_class(_UPDATED_CLASS):
            value = el.get("title") if el.tag == "abbr" else el.get("datetime") if el.tag == "time" else None
            if value is not None:
                yield value

    def date_text_candidates(self) -> Iterator[Element | None]:
        """The first element of each date-text query, query after query."""
        yield bb.first(self.with_class(_DATE_CLASSES))
        yield bb.first(self.with_prop("datePublished"))
        # .//*[cls('blog_links')]//a[@rel='bookmark']
        yield next((a for a in self.links_with_rel("bookmark") if self.inside(a, _BLOG_LINKS)), None)
        yield bb.first(_DATE_HEADER_IN_DATE_OUTER(self.root))
        yield bb.first(self.with_class(_DATE_HEADER))

    def label_candidates(self) -> Iterator[list[Element]]:
        # .//a[contains(concat(' ', normalize-space(@rel), ' '), ' tag ')]
        yield [el for el, v in self.rels if el.tag == "a" and "tag" in v.translate(bb.XML_SPACE).split(" ")]
        yield self.links_in(_LABEL_BOX)  # .//*[cls('post-labels') or ...]//a
        yield _LABEL_SEARCH_LINKS(self.root)


def _descendants(boxes: list[Element], tag: Any) -> list[Element]:
    """The ``tag`` descendants of any of ``boxes`` (given in document order): each once, in document order."""
    out: list[Element] = []
    last: Element | None = None
    for box in boxes:
        if last is not None and any(a is last for a in box.iterancestors()):
            continue  # inside the previous box: its descendants are in already
        last = box
        out.extend(box.iterdescendants(tag))
    return out


def _below(el: Element, root: Element) -> Iterator[Element]:
    """The ancestors of ``el`` below ``root``."""
    for a in el.iterancestors():
        if a is root:
            return
        yield a


def _headline(scope: _Scope, body: Element) -> str:
    for candidates in scope.headline_candidates():
        for el in candidates:
            if not _outside(el, body) or el in body.iterancestors() or "date-header" in (el.get("class") or ""):
                continue
            text = clean_text(el.text_content())
            if text:
                return text
    return ""


def _title_fallback(md: dict[str, str]) -> str:
    title = clean_text(_unescape(md.get("og:title") or md.get("twitter:title") or md.get("<title>")))
    blog = clean_text(md.get("og:site_name"))
    if blog and title.startswith(blog + ": "):
        title = title[len(blog) + 2 :]
    return title


def _author(scope: _Scope) -> str:
    for candidates in scope.author_candidates():
        for el in candidates:
            text = _AUTHOR_PREFIX.sub("", clean_text(el.text_content())).strip()
            if text and len(text) < 80 and not bb.is_placeholder_author(text):
                return text
    return ""


_DATE_HEADER_IN_DATE_OUTER = etree.XPath(f"ancestor-or-self::*[{_cls('date-outer')}]//*[{_cls('date-header')}]")


def _dates(scope: _Scope, ld: dict[str, Any]) -> tuple[Any, Any, str]:
    published = None
    for value in scope.published_values():
        published = parse_date(value)
        if published is not None:
            break
    if published is None and isinstance(ld.get("datePublished"), str):
        published = parse_date(ld["datePublished"])
    updated = None
    for value in scope.updated_values():
        updated = parse_date(value) or updated
    if updated is None and isinstance(ld.get("dateModified"), str):
        updated = parse_date(ld["dateModified"])
    date_text = ""
    if published is None:
        for el in scope.date_text_candidates():
            if el is not None and clean_text(el.text_content()):
                date_text = clean_text(el.text_content())
                break
    return published, updated, date_text


def _text_date(text: str) -> date | None:
    """A localized long date ('Thursday, May 30, 2019', 'Mai 03, 2017', '5. Juni 2018') -> date."""
    words = re.findall(r"[^\W\d_]+|\d+", text.lower())
    month = next((_MONTHS[w] for w in words if w in _MONTHS), None)
    numbers = [int(w) for w in words if w.isdigit()]
    year = next((n for n in numbers if 1990 <= n <= 2100), None)
    day = next((n for n in numbers if 1 <= n <= 31), None)
    if month is None or year is None or day is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


#: Anything pointing at a label's search page: a link, or a button / span that goes there by script
#: (``onclick="location.href='/search/label/X'"``) or carries the URL in a ``data-*`` attribute.
_LABEL_SEARCH_LINKS = etree.XPath(
    ".//*[contains(@href, '/search/label/') or contains(@onclick, '/search/label/')"
    " or @*[starts-with(name(), 'data-') and contains(., '/search/label/')]]"
)


def _labels(scope: _Scope, body: Element) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    placed: dict[Element, tuple[bool, bool]] = {}
    for candidates in scope.label_candidates():
        for a in candidates:
            if a is body or any(_placement(a, body, placed)):  # in the body, or in a breadcrumb trail
                continue
            text = _LABEL_PREFIX.sub("", clean_text(a.text_content())).strip(" ,;")
            if text and text.lower() not in seen:
                seen.add(text.lower())
                out.append(text)
        if out:
            return out
    return out


def _placement(el: Element, body: Element, known: dict[Element, tuple[bool, bool]]) -> tuple[bool, bool]:
    """Whether an ancestor of ``el`` is ``body``, and whether one is a breadcrumb trail
    (``ancestor::*[@id='breadcrumb' or contains(@class, 'breadcrumb')]``).

    ``known`` keeps the answer for each ancestor and itself: the links of one box share the walk up.
    """
    chain: list[Element] = []
    above = (False, False)
    for a in el.iterancestors():
        found = known.get(a)
        if found is not None:
            above = found
            break
        chain.append(a)
    in_body, in_crumb = above
    for a in reversed(chain):
        in_body = in_body or a is body
        in_crumb = in_crumb or a.get("id") == "breadcrumb" or "breadcrumb" in (a.get("class") or "")
        known[a] = (in_body, in_crumb)
    return in_body, in_crumb


_META_POST_ID = etree.XPath("//meta[@itemprop='postId']/@content")
_ANCHOR_NAMES = etree.XPath(".//a[@name]/@name")
_POST_ID_HREFS = etree.XPath(".//a[contains(@href, 'postID=')]/@href")
_META_BLOG_ID = etree.XPath("//meta[@itemprop='blogId']/@content")


def _post_id(tree: Element, scope: Element, body: Element) -> str | None:
    m = re.match(r"post-body-(\d+)$", body.get("id") or "")
    if m:
        return m.group(1)
    for value in (*_META_POST_ID(tree), *_ANCHOR_NAMES(scope)):
        if str(value).isdigit() and len(str(value)) > 8:
            return str(value)
    for href in _POST_ID_HREFS(scope):
        m = re.search(r"postID=(\d+)", str(href))
        if m:
            return m.group(1)
    return None


def _blog_id(tree: Element, html: str) -> str | None:
    value = bb.first(_META_BLOG_ID(tree))
    if value and str(value).isdigit():
        return str(value)
    m = re.search(r"blogger\.com/feeds/(\d+)/posts|blogID=(\d+)", html)
    return (m.group(1) or m.group(2)) if m else None


def _lang(tree: Element, ctx: dict[str, str]) -> str | None:
    value = tree.get("lang") or ctx.get("locale")
    if not value:
        return None
    return value.replace("_", "-").split("-")[0].lower() or None


def _strip_mobile(url: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("m="))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
