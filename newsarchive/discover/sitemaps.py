"""XML sitemaps: urlset, sitemapindex, gzip (size-capped), Google News fields, dated children -> periods."""

from __future__ import annotations

import logging
import re
import zlib
from datetime import date, datetime
from urllib.parse import urlsplit

from lxml import etree

from newsarchive.discover.safexml import localname, parse_xml
from newsarchive.discover.types import Candidate, Discovery, Followup, absolute_url, month_span, parse_datetime
from newsarchive.errors import ParseError

LOGGER = logging.getLogger(__name__)
GZIP_MAGIC = b"\x1f\x8b"
#: The sitemap protocol's own limit for one uncompressed sitemap file.
MAX_DECOMPRESSED = 50 * 1024 * 1024
#: Entries read from one sitemap document (the protocol's own limit, 50,000 URLs a file); the rest is
#: ignored with a warning. 200,000 entries in an 11 MB sitemap put 200,000 rows in the frontier (24 s).
MAX_SITEMAP_ENTRIES = 50_000
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"

# sitemap-2024-8.xml (Al Mayadeen, month not zero-padded), sitemap-2024-08-05.xml, posts-2024-08.xml ...
_DATED = re.compile(r"(?<!\d)(?P<y>(?:19|20|21)\d\d)[-_/](?P<m>\d{1,2})(?:[-_/](?P<d>\d{1,2}))?(?!\d)")


def gunzip(body: bytes, *, limit: int = MAX_DECOMPRESSED, what: str = "sitemap") -> bytes:
    """Decompress gzip (several members allowed), refusing output beyond ``limit`` bytes (gzip bombs)."""
    out: list[bytes] = []
    size = 0
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = inflater.decompress(data, limit - size + 1)
            while True:
                size += len(chunk)
                if size > limit:
                    raise ParseError(f"{what}: gzip expands beyond {limit // (1024 * 1024)} MiB: refused (gzip bomb?)")
                out.append(chunk)
                if inflater.eof or not inflater.unconsumed_tail:
                    break
                chunk = inflater.decompress(inflater.unconsumed_tail, limit - size + 1)
            if not inflater.eof:
                raise ParseError(f"{what}: gzip data is truncated")
            data = inflater.unused_data
            if data and not data.startswith(GZIP_MAGIC):
                break  # trailing garbage after the last member: ignored, as gzip(1) does
    except zlib.error as exc:
        raise ParseError(f"{what}: not valid gzip ({exc})") from exc
    return b"".join(out)


def maybe_gunzip(body: bytes, *, what: str = "sitemap") -> bytes:
    """Gunzip by magic bytes only; bodies already decompressed (a `.gz` URL served plain) pass through."""
    if body.startswith(GZIP_MAGIC):
        return gunzip(body, what=what)
    return body


def period_of(url: str) -> tuple[date, date] | None:
    """The span a dated child sitemap covers, from its file name: ``sitemap-2024-8.xml`` -> August 2024."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    name = parts.path.rsplit("/", 1)[-1]
    match = _DATED.search(name)
    if match is None:
        return None
    year, month = int(match["y"]), int(match["m"])
    span = month_span(year, month)
    if span is None:
        return None
    if match["d"]:
        try:
            day = date(year, month, int(match["d"]))
        except ValueError:
            return span
        return day, day
    return span


def parse_sitemap(body: bytes, url: str) -> Discovery:
    """A sitemap document (plain or gzip) -> candidates (urlset) or sitemap followups (sitemapindex)."""
    root = parse_xml(maybe_gunzip(body), "sitemap")
    return sitemap_from_tree(root, url)


def sitemap_from_tree(root: etree._Element, url: str) -> Discovery:
    """Read a parsed sitemap tree; namespaces are matched by local name, so wrong or missing ones work."""
    kind = localname(root).lower()
    if kind not in ("urlset", "sitemapindex"):
        raise ParseError(f"sitemap root is <{localname(root)}>, not <urlset> or <sitemapindex>")
    own = _canon(url)
    seen: set[str] = set()
    candidates: list[Candidate] = []
    followups: list[Followup] = []
    entries = 0
    for entry in root:
        name = localname(entry).lower()
        if name not in ("url", "sitemap"):
            continue
        entries += 1
        if entries > MAX_SITEMAP_ENTRIES:
            LOGGER.warning("%s: more than %d sitemap entries, the rest ignored", url, MAX_SITEMAP_ENTRIES)
            break
        loc = _absolute(_child_text(entry, "loc"), url)
        if loc is None or loc in seen:
            continue
        seen.add(loc)
        lastmod = parse_datetime(_child_text(entry, "lastmod"))
        if kind == "sitemapindex" or name == "sitemap":
            if _canon(loc) == own:
                continue  # an index that lists itself is not followed back
            followups.append(Followup(url=loc, kind="sitemap", lastmod=lastmod, period=period_of(loc)))
            continue
        published, title, extra = _news(entry)
        candidates.append(
            Candidate(url=loc, lastmod=lastmod, published=published, title=title, via="sitemap", extra=extra)
        )
    return Discovery(kind=kind, candidates=candidates, followups=followups)


def _news(entry: etree._Element) -> tuple[datetime | None, str | None, dict[str, str]]:
    """Google News sitemap fields: publication date, title, keywords, publication name/language."""
    for child in entry:
        if localname(child).lower() != "news":
            continue
        published = parse_datetime(_child_text(child, "publication_date"))
        title = _child_text(child, "title")
        extra: dict[str, str] = {}
        keywords = _child_text(child, "keywords")
        if keywords:
            extra["news_keywords"] = keywords
        for pub in child:
            if localname(pub).lower() == "publication":
                for key in ("name", "language"):
                    value = _child_text(pub, key)
                    if value:
                        extra[f"news_publication_{key}"] = value
        return published, title or None, extra
    return None, None, {}


def _child_text(el: etree._Element, name: str) -> str | None:
    """Text of the first direct child with this local name (so <image:loc> inside <image:image> is skipped)."""
    for child in el:
        if localname(child).lower() == name:
            text = "".join(child.itertext()).strip()
            return text or None
    return None


def _absolute(loc: str | None, base: str) -> str | None:
    return absolute_url(base, loc)


def _canon(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path or '/'}?{parts.query}"
