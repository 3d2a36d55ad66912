"""STAGE 7a: a search request -> ranked hits with snippets (Whoosh for text, dates as filters)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from whoosh import highlight, query
from whoosh.index import Index
from whoosh.qparser import MultifieldParser
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.searching import Hit

from newsarchive.errors import QueryError

SEARCH_FIELDS = ("headline", "description", "body", "byline", "tags")
Sort = Literal["relevance", "newest", "oldest"]

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")

#: Internal markers around matched terms in snippets; the CLI turns them into colour or nothing.
MARK_START = "\x02"
MARK_END = "\x03"


def parse_date_bound(text: str, *, end: bool) -> datetime:
    """'2023', '2023-02' or '2023-02-16' -> the first (or, with ``end``, last) instant, UTC.

    Raises QueryError for anything else, so a typo never widens a search silently.
    """
    m = _DATE.match(text.strip())
    if not m:
        raise QueryError(f"invalid date {text!r}", hint="use YYYY, YYYY-MM or YYYY-MM-DD, e.g. 2023-02")
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if month is None:
            start, stop = datetime(year, 1, 1), datetime(year + 1, 1, 1)
        elif day is None:
            mon = int(month)
            start = datetime(year, mon, 1)
            stop = start + timedelta(days=calendar.monthrange(year, mon)[1])
        else:
            start = datetime(year, int(month), int(day))
            stop = start + timedelta(days=1)
    except (ValueError, OverflowError) as exc:
        raise QueryError(f"invalid date {text!r}: {exc}", hint="use a real calendar date") from exc
    value = (stop - timedelta(microseconds=1)) if end else start
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None
    sort: Sort | None = None  # None: relevance with a query, newest without
    limit: int = 20
    page: int = 1


@dataclass(frozen=True)
class SearchHit:
    id: str
    headline: str
    url: str
    site: str
    published: datetime | None
    score: float | None
    snippet: str  # matched terms wrapped in MARK_START / MARK_END


@dataclass
class SearchResults:
    total: int
    hits: list[SearchHit] = field(default_factory=list)
    page: int = 1
    pages: int = 1


class _MarkFormatter(highlight.Formatter):  # type: ignore[misc]
    """Wrap matched terms in private marker characters (colour or plain is the CLI's choice)."""

    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"{MARK_START}{highlight.get_text(text, token, replace)}{MARK_END}"


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def build_query(ix: Index, text: str) -> query.Query:
    """Parse the user's query text; date errors in ``published:`` terms fail loudly."""
    if not text.strip():
        return query.Every()
    errors: list[Any] = []
    parser = MultifieldParser(list(SEARCH_FIELDS), ix.schema)  # every word must match
    parser.add_plugin(DateParserPlugin(callback=errors.append, free=False))
    try:
        q = parser.parse(text)
    except Exception as exc:  # whoosh raises assorted errors on odd syntax
        raise QueryError(f"cannot understand the query {text!r}: {exc}") from exc
    if errors:
        raise QueryError(
            f"cannot understand the date {errors[0]!r} in the query",
            hint="use --from/--to with YYYY, YYYY-MM or YYYY-MM-DD",
        )
    return q


def search(ix: Index, req: SearchRequest) -> SearchResults:
    q = build_query(ix, req.text)
    date_filter = None
    if req.date_from is not None or req.date_to is not None:
        date_filter = query.DateRange(
            "published",
            _naive_utc(req.date_from) if req.date_from else None,
            _naive_utc(req.date_to) if req.date_to else None,
        )
    sort = req.sort or ("relevance" if req.text.strip() else "newest")
    kwargs: dict[str, Any] = {"filter": date_filter, "terms": True}
    if sort != "relevance":
        kwargs["sortedby"] = "published"
        kwargs["reverse"] = sort == "newest"
    with ix.searcher() as searcher:
        page = searcher.search_page(q, max(req.page, 1), pagelen=max(req.limit, 1), **kwargs)
        page.results.fragmenter = highlight.ContextFragmenter(maxchars=200, surround=60)
        page.results.formatter = _MarkFormatter()
        hits = [_hit(h, sort == "relevance") for h in page]
        return SearchResults(total=page.total, hits=hits, page=page.pagenum, pages=page.pagecount)


def _hit(h: Hit, with_score: bool) -> SearchHit:
    snippet = h.highlights("body", top=2) or h.highlights("headline") or (h.get("description") or h["body"][:200])
    published = h.get("published")
    return SearchHit(
        id=h["id"],
        headline=h["headline"],
        url=h["url"],
        site=h["site"],
        published=published.replace(tzinfo=UTC) if published else None,
        score=float(h.score) if with_score and h.score is not None else None,
        snippet=" ".join(snippet.split()),
    )
