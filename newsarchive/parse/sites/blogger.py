"""Blogger / Blogspot posts (classic, layouts-v2 and third-party themes; blogspot and custom domains)."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml import html as lxml_html

from newsarchive.article import Article, Image
from newsarchive.errors import ParseError
from newsarchive.parse.dates import parse_date
from newsarchive.parse.dom import build_tree, clean_text
from newsarchive.parse.metadata import article_json_ld
from newsarchive.parse.site import SiteParser, SiteTest
from newsarchive.parse.sites import blogger_body as bb

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
# Class attributes that may carry a noise or body class token (a substring test: a superset, checked exactly).
_CLASS_HINT = re.compile("|".join(sorted(_NOISE_CLASSES | set(_BODY_CLASSES))))
_DATA_KEY = r"['\"]{key}['\"]\s*:\s*['\"]?([^'\",}}]*)['\"]?"
_LABEL_PREFIX = re.compile(r"^(?:labels|tags|label|tag|categories|etiquetas|libellés|etiketten)\s*:\s*", re.I)
_AUTHOR_PREFIX = re.compile(r"^(?:posted\s+by|written\s+by|by|author|publié\s+par|eingestellt\s+von)\s*:?\s*", re.I)
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


class Blogger(SiteParser):
    name = "blogger"
    version = "1"
    description = "Blogger posts on *.blogspot.* and custom domains (classic, layouts-v2, third-party themes)."
    url_patterns = (r"https?://[\w.-]+\.blogspot\.[a-z]{2,3}(?:\.[a-z]{2})?/\d{4}/\d{2}/[^/?#]+\.html",)
    page_markers = (
        r"<meta\b[^>]*\bcontent=['\"]blogger['\"][^>]*\bname=['\"]generator['\"]",
        r"<meta\b[^>]*\bname=['\"]generator['\"][^>]*\bcontent=['\"]blogger['\"]",
        r"_WidgetManager\._Init\(\s*['\"](?:https?:)?//www\.blogger\.com/rearrange",
        r"rel=['\"]service\.post['\"][^>]*href=['\"]https?://www\.blogger\.com/feeds/\d+/posts/default",
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
        SiteTest(url="https://example.blogspot.com/2023/04/some-post.html", only_matching=True),
        SiteTest(url="http://plentylife.blogspot.de/2017/05/strong-beautiful.html", only_matching=True),
    )

    def parse(self, html: str, url: str) -> Article:
        tree = build_tree(html)
        ctx = _data_context(html)
        md = _head_metadata(tree, url)
        ld = article_json_ld(tree) or {}
        body_el = _prune_and_find_body(tree, ctx.get("postId"))
        if body_el is None:
            raise ParseError(f"{url}: no Blogger post body", hint="no post-body / entry-content element found")
        scope = _post_scope(body_el)
        hints = _Hints(scope)
        headline = _headline(scope, body_el, hints) or clean_text(_unescape(ld.get("headline"))) or _title_fallback(md)
        author = _author(scope, hints)
        byline = (author,) if author else _ld_authors(ld) or _split(md.get("author"))
        published, updated, date_text = _dates(scope, ld, hints)
        tags = _labels(scope, body_el, hints)
        images = bb.images(body_el, url) or ((Image(urljoin(url, md["og:image"])),) if md.get("og:image") else ())
        body = bb.remove_repeated_headline(bb.render(body_el) or bb.render_template(body_el), headline)
        extra: dict[str, Any] = {}
        post_id = ctx.get("postId") or _post_id(tree, scope, body_el)
        blog_id = ctx.get("blogId") or _blog_id(tree, html)
        if post_id:
            extra["blogger_post_id"] = post_id
        if blog_id:
            extra["blogger_blog_id"] = blog_id
        if published is None and date_text:
            extra["blogger_date_text"] = date_text
            day = _text_date(date_text)
            if day:
                extra["blogger_published_date"] = day.isoformat()
        canonical = md.get("canonical") or ctx.get("canonicalUrl") or md.get("og:url") or url
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


def _data_context(html: str) -> dict[str, str]:
    """blogId, postId, locale, canonicalUrl from the ``_WidgetManager._SetDataContext`` script."""
    out: dict[str, str] = {}
    start = html.find("_SetDataContext")
    if start < 0:
        return out
    chunk = html[start : start + 20_000]
    for key in ("blogId", "postId", "locale", "canonicalUrl"):
        m = re.search(_DATA_KEY.format(key=key), chunk)
        if m and m.group(1).strip():
            out[key] = m.group(1).strip()
    return out


def _prune_and_find_body(tree: Element, post_id: str | None) -> Element | None:
    """One pass over the page: drop comment/pager/share noise, pick the post body (best candidate)."""
    noise: list[Element] = []
    best: tuple[int, Element] | None = None
    wanted = f"post-body-{post_id}" if post_id else None
    for el in _noise_or_body(tree):
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
    if best is not None and any(best[1] is n or n in best[1].iterancestors() for n in noise):
        return _prune_and_find_body(tree, post_id)
    return best[1] if best else None


def _noise_or_body(tree: Element) -> Iterator[Element]:
    """Every element that may be noise or a body candidate, in document order (a cheap superset)."""
    for el in tree.iter():
        value = el.get("class")
        if value and _CLASS_HINT.search(value):
            yield el
            continue
        value = el.get("id")
        if value and (value in _NOISE_IDS or value.startswith("post-body-")):
            yield el
            continue
        value = el.get("itemprop")
        if value and ("articleBody" in value or "articlesBody" in value):
            yield el


def _off_post(el: Element) -> bool:
    return any(set((a.get("class") or "").split()) & _OFF_POST for a in el.iterancestors())


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
            out["canonical"] = urljoin(url, link.get("href", "").strip())
            break
    titles = _TITLE_TEXT(tree)
    if titles:
        out["<title>"] = " ".join(str(titles[0]).split())
    return out


def _ld_authors(ld: dict[str, Any]) -> tuple[str, ...]:
    author = ld.get("author")
    items = author if isinstance(author, list) else [author]
    names = [a.get("name") if isinstance(a, dict) else a for a in items]
    return tuple(n.strip() for n in names if isinstance(n, str) and n.strip())


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


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


_CLASS_VALUES = etree.XPath(".//@class", smart_strings=False)
_ITEMPROP_VALUES = etree.XPath(".//@itemprop", smart_strings=False)
_REL_VALUES = etree.XPath(".//@rel", smart_strings=False)


class _Hints:
    """Class tokens, itemprop and rel values found in the post scope: queries that cannot match are skipped.

    Python's ``split()`` breaks on every XML space, so its tokens are a superset of the XPath class tokens.
    """

    __slots__ = ("classes", "itemprops", "rels")

    def __init__(self, scope: Element) -> None:
        self.classes = set(" ".join(_CLASS_VALUES(scope)).split())
        self.itemprops = set(_ITEMPROP_VALUES(scope))
        self.rels: list[str] = _REL_VALUES(scope)

    def cls(self, *names: str) -> bool:
        return not self.classes.isdisjoint(names)

    def prop(self, *names: str) -> bool:
        return not self.itemprops.isdisjoint(names)

    def rel(self, value: str) -> bool:
        return value in self.rels

    def rel_token(self, token: str) -> bool:
        return any(token in r.split() for r in self.rels)


Gate = Callable[[_Hints], bool] | None


def _post_scope(body: Element) -> Element:
    """The post's own container (title, byline, footer), never the whole blog column."""
    for xp in _SCOPES:
        el = bb.first(xp(body))
        if el is not None:
            return el
    parent = body.getparent()
    return parent if parent is not None else body


def _unescape(value: Any) -> str:
    return html_lib.unescape(value) if isinstance(value, str) else ""


def _outside(el: Element, body: Element) -> bool:
    return not (el is body or body in el.iterancestors())


_HEADLINES: tuple[tuple[etree.XPath, Gate], ...] = tuple(
    (etree.XPath(xp), gate)
    for xp, gate in (
        (f".//*[{_cls('post-title')} or {_cls('entry-title')}]", lambda h: h.cls("post-title", "entry-title")),
        (
            ".//*[@itemprop='name' or @itemprop='headline'][self::h1 or self::h2 or self::h3]",
            lambda h: h.prop("name", "headline"),
        ),
        (".//h1 | .//h2 | .//h3", None),
    )
)


def _headline(scope: Element, body: Element, hints: _Hints) -> str:
    for xp, gate in _HEADLINES:
        if gate is not None and not gate(hints):
            continue
        for el in xp(scope):
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


_AUTHOR_BOX = f"{_cls('post-author')} or {_cls('author')} or {_cls('vcard')}"
_AUTHORS: tuple[tuple[etree.XPath, Gate], ...] = tuple(
    (etree.XPath(xp), gate)
    for xp, gate in (
        (
            f".//*[{_AUTHOR_BOX}]//*[{_cls('fn')}]//*[@itemprop='name']",
            lambda h: h.cls("fn") and h.cls("post-author", "author", "vcard") and h.prop("name"),
        ),
        (f".//*[{_AUTHOR_BOX}]//*[{_cls('fn')}]", lambda h: h.cls("fn") and h.cls("post-author", "author", "vcard")),
        (".//*[@itemprop='author']//*[@itemprop='name']", lambda h: h.prop("author") and h.prop("name")),
        (
            f".//*[{_cls('entry-author')} or {_cls('post-author')} or {_cls('author-name')}]//a",
            lambda h: h.cls("entry-author", "post-author", "author-name"),
        ),
        (
            f".//*[{_cls('entry-author')} or {_cls('post-author')} or {_cls('byline-author')}]",
            lambda h: h.cls("entry-author", "post-author", "byline-author"),
        ),
        (".//a[@rel='author']", lambda h: h.rel("author")),
    )
)


def _author(scope: Element, hints: _Hints) -> str:
    for xp, gate in _AUTHORS:
        if gate is not None and not gate(hints):
            continue
        for el in xp(scope):
            text = _AUTHOR_PREFIX.sub("", clean_text(el.text_content())).strip()
            if text and len(text) < 80:
                return text
    return ""


_PUBLISHED: tuple[tuple[etree.XPath, Gate], ...] = tuple(
    (etree.XPath(xp), gate)
    for xp, gate in (
        (f".//abbr[{_cls('published')}]/@title", lambda h: h.cls("published")),
        (f".//time[{_cls('published')}]/@datetime", lambda h: h.cls("published")),
        (f".//time[{_cls('published')}]/@title", lambda h: h.cls("published")),
        (f".//*[{_cls('published')}]/@datetime", lambda h: h.cls("published")),
        (".//*[@itemprop='datePublished']/@content", lambda h: h.prop("datePublished")),
        (".//*[@itemprop='datePublished']/@datetime", lambda h: h.prop("datePublished")),
        (".//*[@itemprop='datePublished']/@title", lambda h: h.prop("datePublished")),
        (".//time/@datetime", None),
    )
)
_UPDATED = etree.XPath(f".//abbr[{_cls('updated')}]/@title | .//time[{_cls('updated')}]/@datetime")
_DATE_TEXTS: tuple[tuple[etree.XPath, Gate], ...] = tuple(
    (etree.XPath(xp), gate)
    for xp, gate in (
        (
            f".//*[{_cls('post-timestamp')} or {_cls('publishdate')} or {_cls('post-date')}]",
            lambda h: h.cls("post-timestamp", "publishdate", "post-date"),
        ),
        (".//*[@itemprop='datePublished']", lambda h: h.prop("datePublished")),
        (f".//*[{_cls('blog_links')}]//a[@rel='bookmark']", lambda h: h.cls("blog_links") and h.rel("bookmark")),
        (f"ancestor-or-self::*[{_cls('date-outer')}]//*[{_cls('date-header')}]", None),
        (f".//*[{_cls('date-header')}]", lambda h: h.cls("date-header")),
    )
)


def _dates(scope: Element, ld: dict[str, Any], hints: _Hints) -> tuple[Any, Any, str]:
    published = None
    for xp, gate in _PUBLISHED:
        if gate is not None and not gate(hints):
            continue
        for value in xp(scope):
            published = parse_date(str(value))
            if published is not None:
                break
        if published is not None:
            break
    if published is None and isinstance(ld.get("datePublished"), str):
        published = parse_date(ld["datePublished"])
    updated = None
    for value in _UPDATED(scope) if hints.cls("updated") else ():
        updated = parse_date(str(value)) or updated
    if updated is None and isinstance(ld.get("dateModified"), str):
        updated = parse_date(ld["dateModified"])
    date_text = ""
    if published is None:
        for xp, gate in _DATE_TEXTS:
            if gate is not None and not gate(hints):
                continue
            el = bb.first(xp(scope))
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


_LABELS: tuple[tuple[etree.XPath, Gate], ...] = tuple(
    (etree.XPath(xp), gate)
    for xp, gate in (
        (".//a[contains(concat(' ', normalize-space(@rel), ' '), ' tag ')]", lambda h: h.rel_token("tag")),
        (
            f".//*[{_cls('post-labels')} or {_cls('post-sidebar-labels')} or {_cls('labels')}]//a",
            lambda h: h.cls("post-labels", "post-sidebar-labels", "labels"),
        ),
        (".//a[contains(@href, '/search/label/')]", None),
    )
)
_IN_BREADCRUMB = etree.XPath("ancestor::*[@id='breadcrumb' or contains(@class, 'breadcrumb')]")


def _labels(scope: Element, body: Element, hints: _Hints) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for xp, gate in _LABELS:
        if gate is not None and not gate(hints):
            continue
        for a in xp(scope):
            if not _outside(a, body) or _IN_BREADCRUMB(a):
                continue
            text = _LABEL_PREFIX.sub("", clean_text(a.text_content())).strip(" ,;")
            if text and text.lower() not in seen:
                seen.add(text.lower())
                out.append(text)
        if out:
            return out
    return out


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
