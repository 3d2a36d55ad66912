"""Blogger feeds (Atom and ``alt=json``) to per-post records, and merging them into parsed posts."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from newsarchive.article import Article
from newsarchive.errors import ParseError
from newsarchive.parse.dates import parse_date
from newsarchive.parse.site import FeedMerge
from newsarchive.parse.sites.blogger_body import is_placeholder_author

ATOM = "http://www.w3.org/2005/Atom"
LABEL_SCHEME = "http://www.blogger.com/atom/ns#"
_NS = {"a": ATOM, "os": "http://a9.com/-/spec/opensearchrss/1.0/", "thr": "http://purl.org/syndication/thread/1.0"}
_ENTRY_ID = re.compile(r"blog-(?P<blog>\d+)\.post-(?P<post>\d+)")


@dataclass(frozen=True)
class FeedEntry:
    """One post as the blog's feed describes it."""

    post_id: str
    blog_id: str | None = None
    title: str = ""
    link: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    author: str | None = None
    labels: tuple[str, ...] = ()
    comments: int | None = None


@dataclass(frozen=True)
class FeedPage:
    """One page of a feed: its entries plus what paging needs."""

    entries: tuple[FeedEntry, ...]
    total_results: int | None = None
    start_index: int | None = None
    next_url: str | None = None


def parse_feed(data: bytes | str) -> FeedPage:
    """A Blogger feed page, Atom or JSON (``alt=json``; ``json-in-script`` callbacks are unwrapped)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<"):
        return parse_atom(data)
    return parse_json_feed(stripped)


def parse_atom(data: bytes | str) -> FeedPage:
    """A Blogger Atom feed (or single-entry document) -> FeedPage."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        root = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False, no_network=True, recover=True))
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not an Atom feed: {exc}") from exc
    if root is None:
        raise ParseError("not an Atom feed: empty document")
    entries = [root] if etree.QName(root).localname == "entry" else root.findall("a:entry", _NS)
    return FeedPage(
        entries=tuple(e for e in (_atom_entry(el) for el in entries) if e is not None),
        total_results=_int(root.findtext("os:totalResults", namespaces=_NS)),
        start_index=_int(root.findtext("os:startIndex", namespaces=_NS)),
        next_url=_first_href(root, "next"),
    )


def _atom_entry(el: etree._Element) -> FeedEntry | None:
    m = _ENTRY_ID.search(el.findtext("a:id", default="", namespaces=_NS))
    if not m:
        return None
    labels = [
        c.get("term", "").strip()
        for c in el.findall("a:category", _NS)
        if c.get("scheme") in (None, LABEL_SCHEME) and c.get("term", "").strip()
    ]
    author = el.findtext("a:author/a:name", default="", namespaces=_NS).strip()
    return FeedEntry(
        post_id=m.group("post"),
        blog_id=m.group("blog"),
        title=" ".join(el.findtext("a:title", default="", namespaces=_NS).split()),
        link=_first_href(el, "alternate"),
        published=parse_date(el.findtext("a:published", namespaces=_NS)),
        updated=parse_date(el.findtext("a:updated", namespaces=_NS)),
        author=author if author and not is_placeholder_author(author) else None,
        labels=_dedupe(labels),
        comments=_int(el.findtext("thr:total", namespaces=_NS)),
    )


def _first_href(el: etree._Element, rel: str) -> str | None:
    for link in el.findall("a:link", _NS):
        if link.get("rel") == rel and link.get("href"):
            return str(link.get("href"))
    return None


def parse_json_feed(text: str) -> FeedPage:
    """The ``alt=json`` form: the Atom tree under ``feed`` with ``{"$t": ...}`` text values."""
    m = re.match(r"^[\w$.]+\((.*)\);?\s*$", text.strip(), re.S)
    try:
        data = json.loads(m.group(1) if m else text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not a Blogger JSON feed: {exc}") from exc
    feed = data.get("feed") if isinstance(data, dict) else None
    if not isinstance(feed, dict):
        entry = data.get("entry") if isinstance(data, dict) else None
        feed = {"entry": [entry]} if isinstance(entry, dict) else {}
    entries = [e for e in (_json_entry(x) for x in feed.get("entry") or [] if isinstance(x, dict)) if e]
    next_url = next((lk.get("href") for lk in feed.get("link") or [] if lk.get("rel") == "next"), None)
    return FeedPage(
        entries=tuple(entries),
        total_results=_int(_t(feed.get("openSearch$totalResults"))),
        start_index=_int(_t(feed.get("openSearch$startIndex"))),
        next_url=next_url,
    )


def _t(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("$t")
    return value if isinstance(value, str) else ""


def _json_entry(e: dict[str, Any]) -> FeedEntry | None:
    m = _ENTRY_ID.search(_t(e.get("id")))
    if not m:
        return None
    labels = [
        str(c.get("term", "")).strip()
        for c in e.get("category") or []
        if isinstance(c, dict) and c.get("scheme") in (None, LABEL_SCHEME) and str(c.get("term", "")).strip()
    ]
    authors = e.get("author") or []
    author = _t(authors[0].get("name")).strip() if authors and isinstance(authors[0], dict) else ""
    link = next((lk.get("href") for lk in e.get("link") or [] if lk.get("rel") == "alternate"), None)
    return FeedEntry(
        post_id=m.group("post"),
        blog_id=m.group("blog"),
        title=" ".join(_t(e.get("title")).split()),
        link=link,
        published=parse_date(_t(e.get("published"))),
        updated=parse_date(_t(e.get("updated"))),
        author=author if author and not is_placeholder_author(author) else None,
        labels=_dedupe(labels),
        comments=_int(_t(e.get("thr$total"))),
    )


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).strip()) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def _dedupe(values: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for v in values:
        if v.lower() not in seen:
            seen.add(v.lower())
            out.append(v)
    return tuple(out)


def merge_feed_entry(article: Article, entry: FeedEntry) -> Article:
    """Fill what the theme hides from the feed entry of the same post (matched by post id).

    The feed wins for dates; author is filled when the page has none; labels keep the
    page's order when the page has them (feed-only labels are appended), else the feed's.
    An entry for another post leaves the article unchanged.
    """
    if article.extra.get("blogger_post_id") != entry.post_id:
        return article
    tags = list(article.tags)
    known = {t.lower() for t in tags}
    tags += [label for label in entry.labels if label.lower() not in known]
    extra = dict(article.extra)
    if entry.blog_id and not extra.get("blogger_blog_id"):
        extra["blogger_blog_id"] = entry.blog_id
    return article.replace(
        published=entry.published or article.published,
        updated=entry.updated or article.updated,
        byline=article.byline or ((entry.author,) if entry.author else ()),
        tags=tuple(tags),
        headline=article.headline or entry.title,
        extra=extra,
    )


def merge_feed(article: Article, entries: tuple[FeedEntry, ...] | list[FeedEntry]) -> Article:
    """Merge the entry whose post id matches the article's, if the feed page holds one."""
    post_id = article.extra.get("blogger_post_id")
    for entry in entries:
        if entry.post_id == post_id:
            return merge_feed_entry(article, entry)
    return article


def entry_to_json(entry: FeedEntry) -> str:
    """A feed entry as JSON, to keep it in the store until its page is parsed (or re-parsed)."""
    data = dataclasses.asdict(entry)
    for key in ("published", "updated"):
        data[key] = data[key].isoformat() if data[key] else None
    return json.dumps(data, ensure_ascii=False)


def entry_from_json(text: str) -> FeedEntry:
    data = json.loads(text)
    for key in ("published", "updated"):
        data[key] = datetime.fromisoformat(data[key]) if data[key] else None
    data["labels"] = tuple(data.get("labels") or ())
    return FeedEntry(**data)


def _kept_entries(body: bytes) -> list[tuple[str, str]]:
    return [(entry.post_id, entry_to_json(entry)) for entry in parse_feed(body).entries]


def _post_key(article: Article) -> str | None:
    return article.extra.get("blogger_post_id")


def _merge_kept(article: Article, data: str) -> Article:
    return merge_feed_entry(article, entry_from_json(data))


#: The Blogger declaration's feed-merge step: entries kept by post id, merged into the page of that post.
FEED_MERGE = FeedMerge(entries=_kept_entries, key=_post_key, merge=_merge_kept)
