"""`sources add URL`: what a fetched URL is (Blogger blog, known site, feed, sitemap, plain site) and how to read it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from newsarchive.discover import discover, sniff
from newsarchive.discover.listings import alternate_feeds, html_tree
from newsarchive.discover.safexml import refuse_entities
from newsarchive.discover.sitemaps import maybe_gunzip
from newsarchive.errors import ParseError, UsageError
from newsarchive.fetch.urls import is_valid

#: SITES.md 2.1: any one of these marks a Blogger page, on blogspot or a custom domain.
BLOGGER_MARKERS = tuple(
    re.compile(p, re.I)
    for p in (
        r"<meta\b[^>]*\bcontent=['\"]blogger['\"][^>]*\bname=['\"]generator['\"]",
        r"<meta\b[^>]*\bname=['\"]generator['\"][^>]*\bcontent=['\"]blogger['\"]",
        r"_WidgetManager\._Init\(\s*['\"](?:https?:)?//www\.blogger\.com/rearrange",
        r"rel=['\"]service\.post['\"][^>]*href=['\"]https?://www\.blogger\.com/feeds/\d+/posts/default",
        r"href=['\"]https?://www\.blogger\.com/feeds/\d+/posts/default['\"][^>]*rel=['\"]service\.post['\"]",
    )
)
_BLOGSPOT = re.compile(r"^(?P<name>[a-z0-9-]+)\.blogspot\.[a-z]{2,3}(?:\.[a-z]{2})?$")
_BLOGGER_FEED_ID = re.compile(rb"tag:blogger\.com,1999:blog-\d+")
#: Al Mayadeen editions (SITES.md 1.1) -> source name suffix.
ALMAYADEEN_HOSTS = {
    "english.almayadeen.net": "en",
    "www.almayadeen.net": "ar",
    "almayadeen.net": "ar",
    "espanol.almayadeen.net": "es",
}
_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SourceGuess:
    """What a URL turned out to be and the source that reads it."""

    kind: str  # "blogger" | "almayadeen" | "feed" | "sitemap" | "site"
    name: str
    start_urls: tuple[str, ...]
    parser: str | None = None  # a parser name ("blogger", "almayadeen") or None for automatic choice


def detect_source(body: bytes, url: str, content_type: str | None = None) -> SourceGuess:
    """Guess the source behind a fetched URL (its final URL after redirects); UsageError when nothing usable."""
    parts = urlsplit(url)
    host = parts.netloc.lower()
    origin = f"{parts.scheme}://{parts.netloc}"
    if host in ALMAYADEEN_HOSTS:
        edition = "www.almayadeen.net" if host == "almayadeen.net" else host
        base = f"https://{edition}"
        return SourceGuess("almayadeen", f"almayadeen-{ALMAYADEEN_HOSTS[host]}",
                           (f"{base}/sitemaps/all.xml", f"{base}/"), "almayadeen")  # fmt: skip
    try:
        refuse_entities(body, url)
        body = maybe_gunzip(body, what=url)
    except ParseError as exc:
        raise UsageError(f"{url}: {exc.message}") from exc
    kind = sniff(body, url, content_type)
    if kind == "feed":
        return _feed_guess(body, url, origin, host)
    if kind == "sitemap":
        return SourceGuess("sitemap", source_name(host), (url,), None)
    if kind == "robots":
        sitemaps = tuple(f.url for f in discover(body, url, content_type).followups)
        if not sitemaps:
            raise UsageError(f"{url} names no sitemap", hint="add the site's home page, a feed or a sitemap instead")
        return SourceGuess("sitemap", source_name(host), sitemaps, None)
    if kind != "html":
        raise UsageError(f"{url} is not a feed, a sitemap or a web page", hint="check the address")
    head = body[:400_000].decode("utf-8", "replace")
    if is_blogger_page(head) or _BLOGSPOT.match(host):
        return blogger_guess(origin)
    try:
        feeds = alternate_feeds(html_tree(body, url), url)
    except ParseError as exc:
        raise UsageError(exc.message) from exc
    feeds = [f for f in feeds if "comments" not in f.lower()] or feeds
    if not feeds:
        raise UsageError(
            f"{url} announces no feed (no <link rel=alternate> RSS/Atom)",
            hint="add the site's feed or sitemap URL, or a source with link_patterns in sources.toml",
        )
    return SourceGuess("site", source_name(host), (feeds[0],), None)


def is_blogger_page(html: str) -> bool:
    """Does this page carry any of Blogger's page markers (SITES.md 2.1)?"""
    return any(marker.search(html) for marker in BLOGGER_MARKERS)


def blogger_guess(origin: str) -> SourceGuess:
    """A Blogger blog at ``origin``: its posts feed (ordered, SITES.md 2.7) and its automatic sitemap."""
    host = urlsplit(origin).netloc.lower()
    match = _BLOGSPOT.match(host)
    name = match["name"] if match else source_name(host)
    start = (f"{origin}/feeds/posts/default?orderby=published", f"{origin}/sitemap.xml")
    return SourceGuess("blogger", name, start, "blogger")


def _feed_guess(body: bytes, url: str, origin: str, host: str) -> SourceGuess:
    try:
        found = discover(body, url)
    except ParseError as exc:
        raise UsageError(exc.message) from exc
    if _BLOGGER_FEED_ID.search(body[:20_000]) or any("blogger_post_id" in c.extra for c in found.candidates):
        if host != "www.blogger.com":
            return SourceGuess("blogger", blogger_guess(origin).name, (url, f"{origin}/sitemap.xml"), "blogger")
        post_hosts = [urlsplit(c.url).netloc for c in found.candidates if is_valid(c.url)]
        return SourceGuess("blogger", source_name(post_hosts[0] if post_hosts else host), (url,), "blogger")
    return SourceGuess("feed", source_name(host), (url,), None)


def source_name(host: str) -> str:
    """A sources.toml name from a host: ``www.example.com`` -> ``example.com``."""
    host = host.lower().split(":")[0]
    host = host.removeprefix("www.")
    name = _NAME_BAD.sub("-", host).strip("-._") or "source"
    return name[:64]
