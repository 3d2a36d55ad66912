"""Dates in searches: ``published:`` in a query is exactly as strict as --from/--to; the ends of the calendar.

The archive holds articles in many months (some an hour from a month's edge, some in other languages, one
without a date); every date form --from/--to accepts is tried in the query and must give the same hits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh.index import Index

from newsarchive.archive_dir import ArchiveDir
from newsarchive.article import Article
from newsarchive.errors import QueryError
from newsarchive.index.writer import create_index, write_articles
from newsarchive.parse.dates import parse_date
from newsarchive.search import MAX_YEAR, MIN_YEAR, SearchRequest, date_filter, parse_date_bound, search
from newsarchive.store.articles import ArticleStore

_WHEN = [
    datetime(2022, 12, 31, 23, 30, tzinfo=UTC),
    datetime(2023, 1, 15, 9, tzinfo=UTC),
    datetime(2023, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),  # still January in UTC
    datetime(2023, 2, 16, 8, 35, tzinfo=UTC),
    datetime(2023, 2, 28, 23, 59, tzinfo=UTC),
    datetime(2023, 3, 1, tzinfo=UTC),
    datetime(2023, 4, 22, 6, 14, tzinfo=UTC),
    datetime(2023, 7, 2, 7, tzinfo=UTC),
    datetime(2023, 12, 31, 22, tzinfo=UTC),
    datetime(2024, 3, 16, 6, 51, tzinfo=UTC),
]
_LANGS = ["en", "es", "ar", "fr"]
_WORDS = {"en": "ukraine grain talks", "es": "ukraine gobierno", "ar": "ukraine الحكومة", "fr": "ukraine blé"}


def _articles() -> list[Article]:
    out = []
    for i, when in enumerate(_WHEN):
        lang = _LANGS[i % len(_LANGS)]
        out.append(
            Article(
                url=f"https://news{i % 3}.example/a{i}", headline=f"Story {i}", body=f"{_WORDS[lang]} number {i}.",
                site=f"news{i % 3}.example", lang=lang, tags=("Ukraine",), published=when,
            )
        )  # fmt: skip
    out.append(Article(url="https://news0.example/undated", headline="Undated", body="ukraine grain", lang="en"))
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Index, ArticleStore]]:
    root = tmp_path_factory.mktemp("dates")
    archive = ArchiveDir(root)
    for article in _articles():
        archive.store.upsert(article)
    ix = create_index(archive.index_dir)
    write_articles(ix, _articles())
    yield root, ix, archive.store
    ix.close()
    archive.close()


def _urls(ix: Index, store: ArticleStore | None, req: SearchRequest) -> set[str]:
    results = search(ix, req, store=store)
    assert len(results.hits) == results.total
    return {h.url for h in results.hits}


def _by_options(ix: Index, store: ArticleStore, lo: str | None, hi: str | None, tz: tzinfo, text: str = "") -> set[str]:
    req = SearchRequest(
        text,
        date_from=lo and parse_date_bound(lo, end=False, tz=tz),
        date_to=hi and parse_date_bound(hi, end=True, tz=tz),
        limit=1000,
        tz=tz,
    )
    found = _urls(ix, store, req)
    if not text:
        assert _urls(ix, None, req) == found  # the index answers a listing as the store does
    return found


_DAYS = st.dates(min_value=datetime(2022, 11, 1).date(), max_value=datetime(2024, 5, 1).date())


@st.composite
def _date_text(draw: st.DrawFn) -> str:
    day = draw(_DAYS)
    form = draw(st.sampled_from(["%Y", "%Y-%m", "%Y-%m-%d"]))
    return day.strftime(form)


_ZONES = st.sampled_from([UTC, ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Beirut")])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lo=st.none() | _date_text(), hi=st.none() | _date_text(), tz=_ZONES, text=st.sampled_from(["", "ukraine"]))
def test_a_range_in_the_query_finds_what_from_and_to_find(
    archive: tuple[Path, Index, ArticleStore], lo: str | None, hi: str | None, tz: tzinfo, text: str
) -> None:
    _, ix, store = archive
    if lo and hi and parse_date_bound(lo, end=False) > parse_date_bound(hi, end=True):
        lo, hi = hi, lo
    if lo and hi and parse_date_bound(lo, end=False) > parse_date_bound(hi, end=True):
        return  # e.g. 2023-02-16 and 2023-02: no order makes a range
    if lo is None and hi is None:
        return  # [TO] is not a range
    in_query = f"{text} published:[{lo or ''} TO {hi or ''}]".replace("[ TO", "[TO").replace(" ]", "]").strip()
    assert _urls(ix, store, SearchRequest(in_query, limit=1000, tz=tz)) == _by_options(ix, store, lo, hi, tz, text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_date_text(), tz=_ZONES)
def test_a_single_date_in_the_query_is_that_whole_period(
    archive: tuple[Path, Index, ArticleStore], value: str, tz: tzinfo
) -> None:
    _, ix, store = archive
    assert _urls(ix, store, SearchRequest(f"published:{value}", limit=1000, tz=tz)) == _by_options(
        ix, store, value, value, tz
    )


@pytest.mark.parametrize(
    ("query", "lo", "hi"),
    [
        ("published:[2023-02-01 TO 2023-02-28]", "2023-02-01", "2023-02-28"),
        ("published:2023-02", "2023-02", "2023-02"),
        ("published:[2023 TO]", "2023", None),
        ("published:[TO 2023-02]", None, "2023-02"),
        ("published:{2023-01 TO 2023-04}", "2023-02", "2023-03"),  # braces leave out both ends' periods
        ("published:[2023-02 TO 2023-04}", "2023-02", "2023-03"),
        ("published:2023-02 OR published:2023-07", None, None),
    ],
)
def test_each_form_of_the_issue_gives_exactly_its_dates(
    archive: tuple[Path, Index, ArticleStore], query: str, lo: str | None, hi: str | None
) -> None:
    _, ix, store = archive
    found = _urls(ix, store, SearchRequest(query, limit=1000))
    if lo is None and hi is None:
        expected = _by_options(ix, store, "2023-02", "2023-02", UTC) | _by_options(ix, store, "2023-07", "2023-07", UTC)
    else:
        expected = _by_options(ix, store, lo, hi, UTC)
    assert found == expected and found


def test_a_word_and_a_range_outside_its_months_find_nothing_outside_them(
    archive: tuple[Path, Index, ArticleStore],
) -> None:
    _, ix, store = archive
    results = search(ix, SearchRequest("ukraine published:[2023-05 TO 2023-12]", limit=100), store=store)
    assert results.hits
    for hit in results.hits:
        assert hit.published is not None and datetime(2023, 5, 1, tzinfo=UTC) <= hit.published < datetime(
            2024, 1, 1, tzinfo=UTC
        )


@pytest.mark.parametrize(
    "query",
    [
        "ukraine AND published:[2023-05 TO 2023-12]",
        "(ukraine) AND (published:[2023-05 TO 2023-12])",
        "ukraine AND (published:2023-07 OR published:[2023-08 TO 2023-12])",
        "ukraine AND published:[2023-05 TO 2023-12] AND NOT published:2024",
    ],
)
def test_a_range_joined_by_explicit_and_or_or_is_as_strict_as_the_options(
    archive: tuple[Path, Index, ArticleStore], query: str
) -> None:
    # Whoosh's normalize() flattens nested And/Or by multiplying every child's boost: the date filter
    # inside such a tree had none and every such query was exit 70.
    _, ix, store = archive
    found = _urls(ix, store, SearchRequest(query, limit=1000))
    expected = _by_options(ix, store, "2023-05", "2023-12", UTC, text="ukraine")
    assert found == expected and found


@pytest.mark.parametrize(
    "query",
    [
        "published:2023-13",
        "published:2023-02-30",
        "published:yesterday",
        "published:2023-02*",
        'published:"2023 02"',
        "published:[2023-05 TO 2023-02]",
        "published:[0001 TO]",
        "published:9999-12-15",
        "published:{2023-02 TO 2023-02}",
    ],
)
def test_a_query_date_that_from_would_refuse_is_a_usage_error(
    archive: tuple[Path, Index, ArticleStore], query: str
) -> None:
    _, ix, store = archive
    with pytest.raises(QueryError):
        search(ix, SearchRequest(query), store=store)


def test_on_the_command_line_the_query_form_and_the_options_agree(archive: tuple[Path, Index, ArticleStore]) -> None:
    root = archive[0]
    code, by_query, _ = run_cli(root, "search", "published:2023-02", "--tz", "Asia/Tokyo", "--json", "-n", "100")
    assert code == 0
    code, by_options, _ = run_cli(
        root, "search", "--from", "2023-02", "--to", "2023-02", "--tz", "Asia/Tokyo", "--json"
    )
    assert code == 0
    assert {a["url"] for a in json.loads(by_query)} == {a["url"] for a in json.loads(by_options)}
    code, _, err = run_cli(root, "search", "published:2023-13")
    assert code == 2 and "2023-13" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ("--from", "9999-12-15"),
        ("--to", "9999"),
        ("--from", "0001-01-01", "--tz", "Asia/Tokyo"),
        ("--to", "0001-01-01", "--tz", "America/New_York"),
        ("published:[9999-12 TO]",),
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_a_clear_usage_error(
    archive: tuple[Path, Index, ArticleStore], args: tuple[str, ...]
) -> None:
    for command in ("search", "export"):
        code, _, err = run_cli(archive[0], command, *args)
        assert code == 2, err
        assert "out of range" in err and f"{MIN_YEAR}" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [("--from", f"{MIN_YEAR}-01-01", "--tz", "Asia/Tokyo"), ("--to", f"{MAX_YEAR}")])
def test_the_first_and_last_search_dates_work_in_any_zone(
    archive: tuple[Path, Index, ArticleStore], args: tuple[str, ...]
) -> None:
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):
        code, out, err = (
            run_cli(archive[0], "search", *args, "--tz", zone, "-n", "1")
            if "--tz" not in args
            else run_cli(archive[0], "search", *args, "-n", "1")
        )
        assert code == 0, err
        assert "Story" in out


@settings(max_examples=200, deadline=None)
@given(
    year=st.integers(1, 9999),
    month=st.integers(1, 12),
    day=st.integers(1, 31),
    form=st.sampled_from(["{y:04d}", "{y:04d}-{m:02d}", "{y:04d}-{m:02d}-{d:02d}"]),
    end=st.booleans(),
    hours=st.integers(-14, 14),
)
def test_any_search_date_is_a_bound_or_a_query_error_never_an_overflow(
    year: int, month: int, day: int, form: str, end: bool, hours: int
) -> None:
    text = form.format(y=year, m=month, d=day)
    try:
        bound = parse_date_bound(text, end=end, tz=timezone(timedelta(hours=hours)))
    except QueryError:
        assert not MIN_YEAR <= year <= MAX_YEAR or day > 28
        return
    naive = bound.astimezone(UTC).replace(tzinfo=None)
    date_filter(None if end else naive, naive if end else None)  # the filter's month arithmetic too


@settings(max_examples=300, deadline=None)
@given(
    year=st.integers(1, 9999),
    offset=st.integers(-99, 99),
    minutes=st.sampled_from(["00", "30", "59"]),
    form=st.sampled_from(["{y:04d}-02-16T10:00:00{s}{h:02d}:{mi}", "{y:04d}-02-16 10:00 {s}{h:02d}{mi}",
                          "Thu, 16 Feb {y:04d} 10:00:00 {s}{h:02d}{mi}", "{y:04d}-02-16T10:00:00 UTC{s}{h}"]),
)  # fmt: skip
def test_a_page_date_with_any_year_or_offset_is_a_date_or_none_never_an_exception(
    year: int, offset: int, minutes: str, form: str
) -> None:
    text = form.format(y=year, s="-" if offset < 0 else "+", h=abs(offset), mi=minutes)
    value = parse_date(text)
    if value is not None:
        utc = value.astimezone(UTC)
        assert abs(value.utcoffset() or timedelta(0)) <= timedelta(hours=14)
        assert 1989 <= utc.year <= 2101


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-16T10:00:00+2500",
        "2023-02-16 10:00 +9999",
        "2023-02-16T10:00:00 UTC+30",
        "Thu, 16 Feb 2023 10:00:00 +2400",
    ],
)
def test_a_page_date_with_an_impossible_offset_is_none(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    "req",
    [
        SearchRequest(date_from=datetime(9999, 12, 15, tzinfo=UTC)),
        SearchRequest("ukraine", date_to=datetime.max.replace(tzinfo=UTC)),
        SearchRequest("ukraine", date_from=datetime.min.replace(tzinfo=UTC)),
    ],
)
def test_a_request_built_in_code_with_an_extreme_date_is_a_query_error(
    archive: tuple[Path, Index, ArticleStore], req: SearchRequest
) -> None:
    _, ix, _ = archive
    with pytest.raises(QueryError, match="out of range"):
        search(ix, req)


def test_a_hit_is_shown_on_its_day_in_the_tz_zone_the_dates_were_read_in(
    archive: tuple[Path, Index, ArticleStore],
) -> None:
    """2023-12-31 22:00 UTC is 2024-01-01 in Moscow: found by that day there, and shown on it (JSON: UTC)."""
    for query in ((), ("ukraine",)):
        code, out, _ = run_cli(
            archive[0], "search", *query, "--from", "2024-01-01", "--to", "2024-01-01", "--tz", "Europe/Moscow"
        )
        assert code == 0
        assert out.startswith("2024-01-01  Story 8"), out
    code, out, _ = run_cli(archive[0], "search", "--from", "2023-12-31", "--to", "2023-12-31")
    assert code == 0 and out.startswith("2023-12-31  Story 8"), out
    code, out, _ = run_cli(
        archive[0], "search", "--from", "2024-01-01", "--to", "2024-01-01", "--tz", "Europe/Moscow", "--json"
    )
    assert json.loads(out)[0]["published"].startswith("2023-12-31T22:00:00")


@pytest.mark.parametrize("zone", ["Asia/Beirut", "America/Havana", "Europe/Berlin", "America/Santiago", "UTC"])
def test_each_day_ends_where_the_next_one_starts_in_any_zone(zone: str) -> None:
    """A day's last instant is the next day's first minus a microsecond, also where the clocks go back at midnight
    (Beirut 2023-10-29 00:00 -> 10-28 23:00): the repeated hour belongs to the day it shows, never to no day."""
    tz = ZoneInfo(zone)
    day = datetime(2022, 1, 1)
    while day.year < 2025:
        text, following = day.strftime("%Y-%m-%d"), (day + timedelta(days=1)).strftime("%Y-%m-%d")
        end = parse_date_bound(text, end=True, tz=tz)
        assert end + timedelta(microseconds=1) == parse_date_bound(following, end=False, tz=tz), (zone, text)
        assert end.astimezone(tz).strftime("%Y-%m-%d") == text, (zone, text)
        day += timedelta(days=1)
    for month in ("2023-10", "2023-12"):
        end = parse_date_bound(month, end=True, tz=tz)
        assert end.astimezone(tz).strftime("%Y-%m") == month
        assert (end + timedelta(microseconds=1)).astimezone(tz).strftime("%Y-%m") != month


def test_an_article_of_the_hour_repeated_at_midnight_is_found_by_the_day_it_is_shown_on(tmp_path: Path) -> None:
    """2023-10-28 21:30 UTC is 23:30 on 10-28 in Beirut, in the hour lived twice before the clocks go back at
    midnight: --from/--to 2023-10-28 and published:2023-10-28 find it (it fell between that day and the next)."""
    when = datetime(2023, 10, 28, 21, 30, tzinfo=UTC)
    article = Article(url="https://b.example/late", headline="Late", body="ukraine", site="b.example", lang="en",
                      tags=("Ukraine",), published=when)  # fmt: skip
    archive = ArchiveDir(tmp_path)
    archive.store.upsert(article)
    ix = create_index(archive.index_dir)
    write_articles(ix, [article])
    try:
        tz = ZoneInfo("Asia/Beirut")
        day = (parse_date_bound("2023-10-28", end=False, tz=tz), parse_date_bound("2023-10-28", end=True, tz=tz))
        for req in (
            SearchRequest(date_from=day[0], date_to=day[1], tz=tz),  # a listing: the store
            SearchRequest(date_from=day[0], date_to=day[1], tags=("ukraine",), tz=tz),  # the index
            SearchRequest("ukraine", date_from=day[0], date_to=day[1], tz=tz),
            SearchRequest("published:2023-10-28", tz=tz),
            SearchRequest("ukraine published:[2023-10-27 TO 2023-10-28]", tz=tz),
        ):
            assert _urls(ix, archive.store, req) == {article.url}, req
        code, out, _ = run_cli(tmp_path, "search", "--from", "2023-10-28", "--to", "2023-10-28", "--tz", "Asia/Beirut")
        assert code == 0 and out.startswith("2023-10-28  Late"), out
    finally:
        ix.close()
        archive.close()
