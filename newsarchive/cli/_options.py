"""Option types and bundles shared by several commands."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import click

from newsarchive.archive_dir import ArchiveDir
from newsarchive.errors import QueryError, UsageError

if TYPE_CHECKING:
    from newsarchive.search import SearchRequest

    # ParamType is generic from click 8.4 on; pyproject accepts 8.1, where subscripting it fails at run time.
    _DateParam = click.ParamType[str | datetime]
    _ZoneParam = click.ParamType[tzinfo]
else:
    _DateParam = _ZoneParam = click.ParamType


def _search_loading() -> None:
    """Called before newsarchive.search is imported: when an option is checked or a request built, never
    for --help. The search module brings numpy and Whoosh, so ``_startup`` goes first (see its docstring),
    and a command's --help loads neither (tests/test_cli_conventions.py)."""
    import newsarchive.cli._startup  # noqa: F401


class DateBound(_DateParam):
    """YYYY, YYYY-MM or YYYY-MM-DD; an invalid date is a usage error (exit 2), never ignored.

    The value stays text (checked here): the time zone (``--tz``) is applied once every option is read.
    """

    name = "DATE"

    def __init__(self, *, end: bool) -> None:
        self.end = end

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str | datetime:
        if isinstance(value, datetime):
            return value
        _search_loading()
        from newsarchive.search import parse_date_bound

        try:
            parse_date_bound(str(value), end=self.end)
        except QueryError as exc:
            self.fail(f"{exc.message} ({exc.hint})", param, ctx)
        return str(value)


class TimeZone(_ZoneParam):
    """An IANA time zone name (Europe/Madrid, Asia/Beirut) or UTC."""

    name = "ZONE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tzinfo:
        if isinstance(value, tzinfo):
            return value
        if str(value).upper() in ("UTC", "Z"):
            return UTC
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # only when --tz is given

        try:
            return ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(f"unknown time zone {value!r} (use a name like Europe/Madrid or UTC)", param, ctx)


def resolve_date(value: str | datetime | None, *, end: bool, tz: tzinfo | None) -> datetime | None:
    """A checked --from/--to value -> an aware UTC datetime in the user's time zone."""
    if value is None or isinstance(value, datetime):
        return value
    _search_loading()
    from newsarchive.search import parse_date_bound

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
            ("site", "Only this site: its host, as hits show it (e.g. english.almayadeen.net)."),
            ("source", "Only the sites of this source of `sources list` (e.g. almayadeen-en)."),
            ("tag", "Only articles with this tag (case-insensitive)."),
            ("author", "Only articles by this author (case-insensitive)."),
            ("lang", "Only articles in this language (en, es, ar, ...)."),
            ("section", "Only articles of this section (case-insensitive)."),
        )
    ):
        func = click.option(f"--{name}", f"{name}s", multiple=True, metavar="VALUE", help=what + " Repeatable.")(func)
    return date_range_options(func)


def source_sites(archive: ArchiveDir, name: str) -> set[str]:
    """The sites a source covers: the hosts of its start URLs in the sources config, and the sites of the
    articles ingest fetched for it (the store keeps no source per article; the frontier knows who found a URL)."""
    from newsarchive.sources import load_config

    config = load_config(archive.root)
    known = {s.name: s for s in config.sources}
    fetched = archive.store.sites_fetched_for(name)
    if name not in known and not fetched:
        raise UsageError(
            f"no source named {name!r}",
            hint=f"known sources: {', '.join(known) or 'none'} (newsarchive sources list); --site takes a host",
        )
    starts = known[name].start if name in known else ()
    _search_loading()
    from newsarchive.search import site_key

    return {site_key(url) for url in starts} | fetched


def resolve_sites(req: SearchRequest, archive: ArchiveDir, sources: tuple[str, ...]) -> SearchRequest:
    """--site values as hosts, --source names as their sites; a value matching no article is a usage error.

    A search that cannot match anything because of a mistyped site says so (with the near names),
    instead of printing nothing or writing an empty export.
    """
    if not req.sites and not sources:
        return req
    _search_loading()
    from newsarchive.search import site_key

    present = archive.store.sites()
    sites = [site_key(v) for v in req.sites]
    for given, site in zip(req.sites, sites, strict=True):
        if site not in present:
            import difflib  # only for the error message

            close = difflib.get_close_matches(site, present, n=3, cutoff=0.5)
            if given in _source_names(archive):
                close.insert(0, f"--source {given}")
            raise UsageError(
                f"no articles from site {given!r} in this archive",
                hint=("did you mean: " + ", ".join(close) + "? " if close else "")
                + "--site takes a host as hits show it; newsarchive stats lists them",
            )
    chosen = set(sites)
    if sources:
        covered: set[str] = set()
        for name in sources:
            mine = source_sites(archive, name)
            if not mine & set(present):
                raise UsageError(
                    f"no articles from source {name!r} in this archive",
                    hint=f"its sites: {', '.join(sorted(mine)) or 'none'}; try: newsarchive ingest --source {name}",
                )
            covered |= mine
        chosen = (chosen & covered) if sites else covered & set(present)
        if not chosen:
            raise UsageError(
                "no --site value belongs to the --source given", hint=f"its sites: {', '.join(sorted(covered))}"
            )
    return replace(req, sites=tuple(sorted(chosen)))


def _source_names(archive: ArchiveDir) -> set[str]:
    from newsarchive.sources import load_config

    try:
        return {s.name for s in load_config(archive.root).sources}
    except UsageError:
        return set()


def request_from(params: dict[str, Any], **extra: Any) -> SearchRequest:
    """Build a SearchRequest from the shared query/filter options of search and export."""
    tz = params.get("tz")
    date_from = resolve_date(params.get("date_from"), end=False, tz=tz)
    date_to = resolve_date(params.get("date_to"), end=True, tz=tz)
    if date_from and date_to and date_from > date_to:
        raise UsageError("--from is after --to", hint="swap the two dates")
    _search_loading()
    from newsarchive.search import SearchRequest

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
