"""Date strings from pages and feeds to timezone-aware datetimes; impossible dates become None."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
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


#: A numeric date with the year last (``02/03/2023``, ``2.3.23``, ``02-03-2023 10:15``): its first two numbers
#: are a day and a month, in an order only the writer knows. Year-first dates (``2023/02/03``) are always
#: year-month-day and never match.
_YEAR_LAST = re.compile(r"(?<![\d./-])(\d{1,2})([./-])(\d{1,2})\2(?:\d{4}|\d{2})(?!\d|[./-]\d)")

#: Regions whose numeric dates put the month first (``02/03/2023`` is 3 February there): the United States,
#: the territories and freely associated states that follow its usage, and the Philippines.
MONTH_FIRST_REGIONS = frozenset({"US", "AS", "GU", "MP", "PR", "UM", "VI", "FM", "MH", "PW", "PH"})
#: English-speaking regions that write numeric dates both ways (Canada): their tag decides nothing.
MIXED_ORDER_REGIONS = frozenset({"CA"})

_LANGUAGE = re.compile(r"[a-z]{2,3}")
_REGION = re.compile(r"[A-Z]{2}|\d{3}")


def locale_dayfirst(tag: str | None) -> bool | None:
    """Whether the numeric dates of a page in language ``tag`` put the day first.

    ``en-US`` (and ``es-US``, ``en-PH``...: MONTH_FIRST_REGIONS) -> False; any other region (``en-GB``,
    ``en-AU``, ``en-IN``, ``fr-FR``, ``es-419``) -> True; a language without a region -> True, but for bare
    ``en``, which is said of American and British pages alike -> None, as is ``en-CA`` and anything that
    is no language tag. ``en_GB`` (og:locale's form) is read as ``en-GB``.
    """
    if not tag:
        return None
    parts = tag.strip().replace("_", "-").split("-")
    language = parts[0].lower()
    if not _LANGUAGE.fullmatch(language):
        return None
    region = next((p.upper() for p in parts[1:] if _REGION.fullmatch(p.upper())), None)
    if region in MONTH_FIRST_REGIONS:
        return False
    if language == "en" and (region is None or region in MIXED_ORDER_REGIONS):
        return None
    return True


def _day_month_pairs(text: str) -> Iterator[tuple[int, int]]:
    for m in _YEAR_LAST.finditer(text):
        yield int(m.group(1)), int(m.group(3))


def numeric_orders(text: str) -> Iterator[bool]:
    """The order each year-last numeric date in ``text`` gives away: True (day first) for ``25/03/2023``,
    False (month first) for ``03/25/2023``; dates that could be read either way (``02/03/2023``) give nothing."""
    for first, second in _day_month_pairs(text):
        if 12 < first <= 31 and 1 <= second <= 12:
            yield True
        elif 12 < second <= 31 and 1 <= first <= 12:
            yield False


def is_ambiguous(text: str) -> bool:
    """Whether ``text`` holds a numeric date whose day and month could be swapped (``02/03/2023``)."""
    return any(1 <= a <= 12 and 1 <= b <= 12 and a != b for a, b in _day_month_pairs(text))


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


def parse_date(text: str | None, *, default_tz: tzinfo | None = None, dayfirst: bool = False) -> datetime | None:
    """Parse a date/time string as found in metadata into an aware datetime.

    A value without a zone gets ``default_tz`` when the caller knows the site's zone;
    otherwise it is returned as None (a naive time is a guess, and a guess is worse
    than nothing in an archive). Impossible or sentinel dates give None.

    ``dayfirst`` is the order of a year-last numeric date (``02/03/2023``: 2 March when True, 3 February
    when False), which the caller knows from the page (metadata.page_dayfirst). A date that shows its
    order (``25/03/2023``), a year-first or ISO date and a date with a month name read the same either way.
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
                # dateutil's dayfirst also reads 2023/02/03 as 2 March: it is passed for year-last dates only.
                dayfirst = dayfirst and _YEAR_LAST.search(text) is not None
                value = dateutil_parser.parse(text, tzinfos=_TZINFOS, dayfirst=dayfirst)
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
