"""Discovery results (Candidate, Followup, Discovery), backfill period checks and lenient date parsing."""

from __future__ import annotations

import calendar
import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from dateutil import parser as dateutil_parser


@dataclass(frozen=True)
class Candidate:
    """A URL that may be an article."""

    url: str
    lastmod: datetime | None = None  # sitemap <lastmod>, feed entry updated (aware)
    published: datetime | None = None  # feed published / news:publication_date (aware)
    title: str | None = None
    via: str = ""  # "feed" | "sitemap" | "listing"
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Followup:
    """Another discovery document to fetch."""

    url: str
    kind: str  # "sitemap" | "feed" | "listing"
    lastmod: datetime | None = None
    period: tuple[date, date] | None = None  # the date span it covers when known (e.g. monthly sitemap)


@dataclass
class Discovery:
    """What one discovery document yielded."""

    kind: str  # "urlset" | "sitemapindex" | "feed" | "listing" | "robots"
    candidates: list[Candidate]
    followups: list[Followup]
    feed_entries: list[Any] = field(default_factory=list)  # raw feed entry dicts (site parsers may want them)


def absolute_url(base: str, href: object, *, keep_fragment: bool = True) -> str | None:
    """``href`` resolved against ``base``; None when empty or not http(s).

    A malformed absolute URL (``http://[::1/x``, a bad port) is returned as written instead of raising
    ValueError: the crawler then skips it and counts it (``bad_urls``), and the rest of the document is read.
    """
    if not isinstance(href, str) or not href.strip():
        return None
    text = href.strip()
    try:
        absolute = urljoin(base, text)
        if not keep_fragment:
            absolute = urldefrag(absolute)[0]
        parts = urlsplit(absolute)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return text if text.lower().startswith(("http://", "https://")) else None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return absolute


def in_period(f: Followup | Candidate, since: date | None, until: date | None) -> bool:
    """May this followup or candidate hold something in [since, until] (inclusive)? Unknown dates: yes.

    A followup with a ``period`` overlaps the range or not. Otherwise a ``lastmod`` before ``since`` means
    nothing in it changed since then. A candidate is judged by ``published`` (in its own offset), else by a
    ``lastmod`` before ``since`` (it cannot have been published after its last change).
    """
    if since is None and until is None:
        return True
    if isinstance(f, Followup):
        if f.period is not None:
            start, end = f.period
            return not ((since is not None and end < since) or (until is not None and start > until))
        return not (f.lastmod is not None and since is not None and f.lastmod.date() < since)
    if f.published is not None:
        day = f.published.date()
        return not ((since is not None and day < since) or (until is not None and day > until))
    return not (f.lastmod is not None and since is not None and f.lastmod.date() < since)


def month_span(year: int, month: int) -> tuple[date, date] | None:
    """First and last day of a month, or None when the numbers are not a month."""
    if not (1 <= month <= 12 and 1990 <= year <= 2200):
        return None
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_datetime(value: object) -> datetime | None:
    """A feed or sitemap date string -> aware datetime; no offset given means UTC; unparseable -> None.

    Accepts W3C/ISO 8601 (``2024-03-05``, ``2024-03-05T07:15:00.000+02:00``, ``Z``) and RFC 822/2822
    (``Tue, 05 Mar 2024 07:15:00 GMT``) plus what dateutil can read.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            try:
                parsed = dateutil_parser.parse(text)
            except (ValueError, OverflowError, TypeError):
                return None
    if parsed is None:
        return None
    try:
        offset = parsed.utcoffset()
    except (ValueError, OverflowError):  # dateutil's offset of a day or more ('-9999'): no instant at all
        return None
    if offset is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not (1990 <= parsed.year <= 2200):
        return None
    offset = parsed.utcoffset()
    if offset is not None and abs(offset) > timedelta(hours=14):
        return None
    return parsed
