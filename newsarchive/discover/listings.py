"""Section/listing pages: article links matching a site's URL regexes, absolutized, de-duplicated, page order."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import cast
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from newsarchive.discover.types import Candidate, Discovery, Followup, absolute_url
from newsarchive.errors import ParseError

LOGGER = logging.getLogger(__name__)

#: Article links taken from one listing page; the rest are ignored with a warning. A real section page
#: links a few hundred articles; a page of a million links (a hostile or broken site) must not fill the
#: frontier in one run. Sitemaps have their own cap, the protocol's 50,000 URLs per file.
MAX_LISTING_LINKS = 5000
#: rel=next listing pages followed from one listing page.
MAX_LISTING_FOLLOWUPS = 10

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")


def html_tree(body: bytes, url: str) -> etree._Element:
    """Parse an HTML page (lxml's HTML parser: no DTDs, no entities beyond HTML's own, no network)."""
    if not body.strip():
        raise ParseError(f"{url}: empty page")
    try:
        root = lxml.html.document_fromstring(body, base_url=url)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"{url}: not a readable HTML page: {exc}") from exc
    return root


def base_url(root: etree._Element, url: str) -> str:
    """The page's ``<base href>`` resolved against its URL, else its URL."""
    for base in root.iter("base"):
        href = base.get("href")
        if href and href.strip():
            return absolute_url(url, str(href)) or url
    return url


def patterns_for(url: str, link_patterns: Sequence[str] = ()) -> list[re.Pattern[str]]:
    """Compile the source's patterns, or those its site declares for a host it owns (parse/registry.py)."""
    from newsarchive.parse import registry  # here: reading sources.toml or a feed never loads the parsers

    chosen = tuple(link_patterns) or registry.link_patterns_for((urlsplit(url).hostname or "").lower())
    compiled = []
    for pattern in chosen:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ParseError(f"bad link pattern {pattern!r}: {exc}") from exc
    return compiled


def extract_links(body: bytes, url: str, link_patterns: Sequence[str] = ()) -> Discovery:
    """Article links on a listing page (those matching any pattern, searched in the absolute URL)."""
    root = html_tree(body, url)
    return listing_from_tree(root, url, link_patterns)


def listing_from_tree(root: etree._Element, url: str, link_patterns: Sequence[str] = ()) -> Discovery:
    """Candidates (matching links, first occurrence, fragment dropped) and the rel=next listing page."""
    base = base_url(root, url)
    patterns = patterns_for(url, link_patterns)
    seen: set[str] = set()
    candidates: list[Candidate] = []
    followups: list[Followup] = []
    for anchor in root.iter("a", "link"):
        href = anchor.get("href")
        if not href:
            continue
        absolute = absolute_url(base, href, keep_fragment=False)
        if absolute is None:
            continue
        rel = (anchor.get("rel") or "").lower().split()
        if "next" in rel:
            if absolute != url and len(followups) < MAX_LISTING_FOLLOWUPS and all(f.url != absolute for f in followups):
                followups.append(Followup(url=absolute, kind="listing"))
            continue
        if anchor.tag != "a" or absolute in seen or not any(p.search(absolute) for p in patterns):
            continue
        if len(candidates) >= MAX_LISTING_LINKS:
            LOGGER.warning("%s: more than %d article links on one listing page, the rest ignored", url, len(candidates))
            break
        seen.add(absolute)
        text = " ".join(cast("lxml.html.HtmlElement", anchor).text_content().split()) or None  # an HTML tree's element
        candidates.append(Candidate(url=absolute, title=text, via="listing"))
    return Discovery(kind="listing", candidates=candidates, followups=followups)


def alternate_feeds(root: etree._Element, url: str) -> list[str]:
    """``<link rel=alternate type=application/rss+xml|atom+xml|feed+json>`` URLs, absolutized, in page order."""
    base = base_url(root, url)
    found: list[str] = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = link.get("href")
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        if kind == "application/json" and "feed" not in href.lower():
            continue
        absolute = absolute_url(base, href)
        if absolute is not None and absolute not in found:
            found.append(absolute)
    return found
