"""`sources add URL`: what a fetched URL is (a declared site, a feed, a sitemap, a site)."""

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
from newsarchive.parse import registry
from newsarchive.parse.site import MARKER_WINDOW, Host, Site

_NAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SourceGuess:
    """What a URL turned out to be and the source that reads it."""

    kind: str  # a declared site's name (parse/registry.py) | "feed" | "sitemap" | "site"
    name: str
    start_urls: tuple[str, ...]
    parser: str | None = None  # the site's parser name, or None for automatic choice


def detect_source(body: bytes, url: str, content_type: str | None = None) -> SourceGuess:
    """Guess the source behind a fetched URL (its final URL after redirects); UsageError when nothing usable.

    A declared site (parse/registry.py) is recognised by its hosts, its page markers or its feed markers and
    gets the start URLs its declaration gives; anything else is read through its feed or sitemap.
    """
    parts = urlsplit(url)
    host = parts.netloc.lower()
    origin = f"{parts.scheme}://{parts.netloc}"
    owner = registry.site_for_host((parts.hostname or "").lower())
    try:
        refuse_entities(body, url)
        body = maybe_gunzip(body, what=url)
    except ParseError as exc:
        raise UsageError(f"{url}: {exc.message}") from exc
    kind = sniff(body, url, content_type)
    if kind == "feed":
        return _feed_guess(body, url, origin, host, owner)
    if kind in ("sitemap", "robots"):
        starts: tuple[str, ...] = (url,)
        if kind == "robots":
            starts = tuple(f.url for f in discover(body, url, content_type).followups)
            if not starts:
                hint = "add the site's home page, a feed or a sitemap instead"
                raise UsageError(f"{url} names no sitemap", hint=hint)
        if owner:
            return _site_source(owner, host, origin, given=starts, paths=())
        return SourceGuess("sitemap", source_name(host), starts, None)
    if owner:  # a page (or anything) on a host a site owns
        return _site_source(owner, host, origin)
    if kind != "html":
        raise UsageError(f"{url} is not a feed, a sitemap or a web page", hint="check the address")
    site = registry.site_for_page(body[:MARKER_WINDOW].decode("utf-8", "replace"))
    if site:
        return _site_source((site, None, {}), host, origin)
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


Owner = tuple[Site, Host | None, dict[str, str]]  # a site, the declared host matched (if any), its groups


def _site_source(
    owner: Owner, host: str, origin: str, *, given: tuple[str, ...] = (), paths: tuple[str, ...] | None = None
) -> SourceGuess:
    """The source of a declared site: named as its declared host says (else after the host), started at the
    URLs given, then at its declared start paths (or ``paths``) under its origin."""
    site, declared, groups = owner
    name = declared.source.format(**groups) if declared else source_name(host)
    base = (declared.origin if declared and declared.origin else origin).rstrip("/")
    paths = site.start_paths() if paths is None else paths
    return SourceGuess(site.name, name, (*given, *(f"{base}{path}" for path in paths)), site.name)


def _feed_guess(body: bytes, url: str, origin: str, host: str, owner: Owner | None) -> SourceGuess:
    try:
        found = discover(body, url)
    except ParseError as exc:
        raise UsageError(exc.message) from exc
    # The feed says whose it is, or its entries carry a site's ids ("<site>_post_id"), or its host does.
    keys = {key for c in found.candidates for key in c.extra}
    site = registry.site_for_feed(body) or next(
        (s for s in registry.sites() if any(key.startswith(f"{s.name}_") for key in keys)), owner[0] if owner else None
    )
    if site is None:
        return SourceGuess("feed", source_name(host), (url,), None)
    if (urlsplit(url).hostname or "") in site.platform_hosts:  # the platform's feed URL: named after the posts
        post_host = next((urlsplit(c.url).hostname or "" for c in found.candidates if is_valid(c.url)), "") or host
        post_owner = registry.site_for_host(post_host)
        name = _site_source(post_owner, post_host, origin).name if post_owner else source_name(post_host)
        return SourceGuess(site.name, name, (url,), site.name)
    own = owner if owner is not None and owner[0] is site else (site, None, {})
    return _site_source(own, host, origin, given=(url,), paths=site.sitemaps)


def source_name(host: str) -> str:
    """A sources.toml name from a host: ``www.example.com`` -> ``example.com``."""
    host = host.lower().split(":")[0]
    host = host.removeprefix("www.")
    name = _NAME_BAD.sub("-", host).strip("-._") or "source"
    return name[:64]
