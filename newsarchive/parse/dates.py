"""Date strings from pages and feeds to timezone-aware datetimes; impossible dates become None."""

from __future__ import annotations

import logging
import re
import warnings
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from dateutil import parser as dateutil_parser

LOGGER = logging.getLogger(__name__)

#: Dates outside this window are CMS sentinels (0001-01-01, 1970-01-01, 9999-12-31) or typos.
MIN_YEAR = 1990
MAX_YEAR = 2100

#: Zone abbreviations that mean one thing only; others (IST, BST, CST in Asia) stay unknown.
_TZINFOS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "Z": 0, "EST": -5 * 3600, "EDT": -4 * 3600, "CDT": -5 * 3600,
    "MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600, "CET": 3600, "CEST": 7200,
}  # fmt: skip

_MAX_OFFSET = timedelta(hours=14)

_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})?$")


def parse_offset(text: str) -> tzinfo | None:
    """'+02:00', '+0200', '-5' -> a fixed-offset tzinfo; anything else -> None."""
    m = _OFFSET.match(text.strip())
    if not m:
        return None
    minutes = int(m.group("h")) * 60 + int(m.group("m") or 0)
    if minutes > 14 * 60:
        return None
    sign = -1 if m.group("sign") == "-" else 1
    return timezone(sign * timedelta(minutes=minutes))


def parse_date(text: str | None, *, default_tz: tzinfo | None = None) -> datetime | None:
    """Parse a date/time string as found in metadata into an aware datetime.

    A value without a zone gets ``default_tz`` when the caller knows the site's zone;
    otherwise it is returned as None (a naive time is a guess, and a guess is worse
    than nothing in an archive). Impossible or sentinel dates give None.
    """
    if not text:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            with warnings.catch_warnings():
                # dateutil warns on an unknown zone name and returns a naive value: that is handled below.
                warnings.simplefilter("ignore")
                value = dateutil_parser.parse(text, tzinfos=_TZINFOS)
        except (ValueError, OverflowError, TypeError):
            LOGGER.debug("unparseable date %r", text)
            return None
    if not (MIN_YEAR <= value.year <= MAX_YEAR):
        LOGGER.debug("date %r outside %d-%d, ignored", text, MIN_YEAR, MAX_YEAR)
        return None
    try:
        # dateutil accepts any offset ("+2500", "UTC+30"): datetime refuses one of 24 h or more when it
        # is used, and no zone is more than 14 h from UTC. Checked here, so a page's date never raises.
        offset = value.utcoffset()
    except (ValueError, OverflowError):
        LOGGER.debug("date %r has an impossible offset, ignored", text)
        return None
    if offset is not None and abs(offset) > _MAX_OFFSET:
        LOGGER.debug("date %r has an offset beyond 14 hours, ignored", text)
        return None
    if value.tzinfo is None or offset is None:
        if default_tz is None:
            # A date with no time at all (2023-02-16) is a calendar date: midnight UTC.
            if len(text) <= 10:
                return value.replace(tzinfo=UTC)
            return None
        value = value.replace(tzinfo=default_tz)
    try:
        value.astimezone(UTC)
    except (ValueError, OverflowError):
        LOGGER.debug("date %r cannot be moved to UTC, ignored", text)
        return None
    return value


def to_utc_naive(value: datetime) -> datetime:
    """Aware datetime -> naive UTC (what Whoosh can index without losing the offset)."""
    return value.astimezone(UTC).replace(tzinfo=None)
