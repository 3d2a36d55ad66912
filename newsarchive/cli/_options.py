"""Option types and bundles shared by several commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from newsarchive.errors import QueryError
from newsarchive.search import parse_date_bound


class DateBound(click.ParamType):
    """YYYY, YYYY-MM or YYYY-MM-DD; an invalid date is a usage error (exit 2), never ignored."""

    name = "DATE"

    def __init__(self, *, end: bool) -> None:
        self.end = end

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_date_bound(str(value), end=self.end)
        except QueryError as exc:
            self.fail(f"{exc.message} ({exc.hint})", param, ctx)


def date_range_options(func: Any) -> Any:
    func = click.option(
        "--to", "date_to", type=DateBound(end=True), help="Published on or before (YYYY, YYYY-MM or YYYY-MM-DD; UTC)."
    )(func)
    func = click.option(
        "--from", "date_from", type=DateBound(end=False), help="Published on or after (YYYY, YYYY-MM or YYYY-MM-DD)."
    )(func)
    return func
