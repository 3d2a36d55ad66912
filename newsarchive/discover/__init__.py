"""STAGE 1 discovery: bytes of a feed, sitemap, robots.txt or listing page -> candidate article URLs + followups."""

from __future__ import annotations

import re
from collections.abc import Sequence

from newsarchive.discover.feeds import parse_feed
from newsarchive.discover.listings import extract_links
from newsarchive.discover.robots import parse_robots
from newsarchive.discover.safexml import parse_xml, refuse_entities
from newsarchive.discover.sitemaps import GZIP_MAGIC, maybe_gunzip, sitemap_from_tree
from newsarchive.discover.types import Candidate, Discovery, Followup, in_period
from newsarchive.errors import ParseError

__all__ = ["Candidate", "Discovery", "Followup", "discover", "in_period", "sniff"]

_ROOT = re.compile(rb"<\s*(?![?!])(?:[A-Za-z_][\w.-]*:)?(?P<name>[A-Za-z_][\w.-]*)")
_FEED_ROOTS = {b"rss", b"rdf", b"feed", b"channel"}
_SITEMAP_ROOTS = {b"urlset", b"sitemapindex"}


def sniff(body: bytes, url: str = "", content_type: str | None = None) -> str:
    """What a document is, by its bytes first: "sitemap", "feed", "html", "robots" or "unknown"."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = body[:8192].decode("utf-16", "replace").encode("utf-8", "replace").lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")) or re.match(rb"^[\w.$]+\s*\(\s*\{", head):
        return "feed"
    if head.startswith(b"<"):
        name = _root_name(head)
        if name in _SITEMAP_ROOTS:
            return "sitemap"
        if name in _FEED_ROOTS:
            return "feed"
        if name in (b"html", b"head", b"body") or b"<html" in head.lower():
            return "html"
        return "unknown"
    ctype = (content_type or "").lower()
    if url.split("?")[0].endswith("/robots.txt") or (
        "text/plain" in ctype and re.search(rb"(?im)^\s*(user-agent|sitemap|disallow)\s*:", head)
    ):
        return "robots"
    return "unknown"


def _root_name(head: bytes) -> bytes | None:
    """Local name of the first element, skipping the XML declaration, comments and DOCTYPE."""
    pos = 0
    while True:
        head = head[pos:].lstrip()
        if head.startswith(b"<!--"):
            end = head.find(b"-->")
            if end < 0:
                return None
            pos = end + 3
            continue
        if head.startswith(b"<!DOCTYPE") and 0 <= head.find(b"[") < head.find(b">"):
            end = head.find(b"]>")  # skip the internal subset
            if end < 0:
                return None
            pos = end + 2
            continue
        if head.startswith((b"<?", b"<!")):
            end = head.find(b">")
            if end < 0:
                return None
            pos = end + 1
            continue
        match = _ROOT.match(head)
        return match["name"].lower() if match else None


def discover(
    body: bytes,
    url: str,
    content_type: str | None = None,
    *,
    hint: str | None = None,
    link_patterns: Sequence[str] = (),
) -> Discovery:
    """Sniff a fetched discovery document and read it; garbage raises ParseError (one clear line).

    ``hint`` ("sitemap" | "feed" | "listing") is what the referrer said the document is; the bytes win
    when they disagree (a "sitemap" that turns out to be a feed is read as a feed). ``link_patterns`` are
    the source's article URL regexes for listing pages (built-in ones exist for known sites).
    """
    if body.startswith(GZIP_MAGIC):
        body = maybe_gunzip(body, what=f"{url}")
    refuse_entities(body, url)
    kind = sniff(body, url, content_type)
    if kind == "sitemap":
        root = parse_xml(body, "sitemap")
        return sitemap_from_tree(root, url)
    if kind == "feed":
        return parse_feed(body, url, content_type)
    if kind == "robots":
        return parse_robots(body, url)
    if kind == "html":
        if hint in ("sitemap", "feed"):
            # an HTML page where a sitemap or feed was announced: an error page or a bot challenge
            raise ParseError(f"{url}: expected a {hint}, got an HTML page")
        return extract_links(body, url, link_patterns)
    if hint == "listing" and body.lstrip()[:1] == b"<":
        return extract_links(body, url, link_patterns)
    if not body.strip():
        raise ParseError(f"{url}: empty document")
    expected = {"sitemap": "a sitemap", "feed": "a feed", "listing": "an HTML page"}.get(hint or "", "")
    said = f" (expected {expected})" if expected else ""
    raise ParseError(f"{url}: not a feed, sitemap, robots.txt or HTML page{said}")
