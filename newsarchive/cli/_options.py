"""Option types and bundles shared by several commands."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from newsarchive.errors import QueryError, UsageError
from newsarchive.search import SearchRequest, parse_date_bound


class DateBound(click.ParamType):
    """YYYY, YYYY-MM or YYYY-MM-DD; an invalid date is a usage error (exit 2), never ignored.

    The value stays text (checked here): the time zone (``--tz``) is applied once every option is read.
    """

    name = "DATE"

    def __init__(self, *, end: bool) -> None:
        self.end = end

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            parse_date_bound(str(value), end=self.end)
        except QueryError as exc:
            self.fail(f"{exc.message} ({exc.hint})", param, ctx)
        return str(value)


class TimeZone(click.ParamType):
    """An IANA time zone name (Europe/Madrid, Asia/Beirut) or UTC."""

    name = "ZONE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tzinfo:
        if isinstance(value, tzinfo):
            return value
        if str(value).upper() in ("UTC", "Z"):
            return UTC
        try:
            return ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(f"unknown time zone {value!r} (use a name like Europe/Madrid or UTC)", param, ctx)


def resolve_date(value: str | datetime | None, *, end: bool, tz: tzinfo | None) -> datetime | None:
    """A checked --from/--to value -> an aware UTC datetime in the user's time zone."""
    if value is None or isinstance(value, datetime):
        return value
    return parse_date_bound(value, end=end, tz=tz or UTC)


def date_range_options(func: Any) -> Any:
    func = click.option("--tz", type=TimeZone(), help="Time zone of --from/--to (default UTC), e.g. Asia/Beirut.")(func)
    func = click.option(
        "--to", "date_to", type=DateBound(end=True), help="Published on or before (YYYY, YYYY-MM or YYYY-MM-DD; UTC)."
    )(func)
    func = click.option(
        "--from", "date_from", type=DateBound(end=False), help="Published on or after (YYYY, YYYY-MM or YYYY-MM-DD)."
    )(func)
    return func


def filter_options(func: Any) -> Any:
    """--site, --tag, --author, --lang, --section: each repeatable; values of one option are OR-ed."""
    for name, what in reversed(
        (
            ("site", "Only this site (as shown in hits, e.g. almayadeen-en)."),
            ("tag", "Only articles with this tag (case-insensitive)."),
            ("author", "Only articles by this author (case-insensitive)."),
            ("lang", "Only articles in this language (en, es, ar, ...)."),
            ("section", "Only articles of this section (case-insensitive)."),
        )
    ):
        func = click.option(f"--{name}", f"{name}s", multiple=True, metavar="VALUE", help=what + " Repeatable.")(func)
    return date_range_options(func)


def request_from(params: dict[str, Any], **extra: Any) -> SearchRequest:
    """Build a SearchRequest from the shared query/filter options of search and export."""
    tz = params.get("tz")
    date_from = resolve_date(params.get("date_from"), end=False, tz=tz)
    date_to = resolve_date(params.get("date_to"), end=True, tz=tz)
    if date_from and date_to and date_from > date_to:
        raise UsageError("--from is after --to", hint="swap the two dates")
    return SearchRequest(
        text=params.get("query") or "",
        date_from=date_from,
        date_to=date_to,
        sites=tuple(params.get("sites") or ()),
        tags=tuple(params.get("tags") or ()),
        authors=tuple(params.get("authors") or ()),
        langs=tuple(params.get("langs") or ()),
        sections=tuple(params.get("sections") or ()),
        tz=tz or UTC,
        **extra,
    )
