"""Search: UTC date bounds, time zones, sort orders, batch de-duplication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsarchive.article import Article
from newsarchive.errors import QueryError
from newsarchive.index.writer import create_index, write_articles
from newsarchive.search import SearchRequest, parse_date_bound, search

PLUS2 = timezone(timedelta(hours=2))


def _art(n: int, published: datetime, text: str = "crimea") -> Article:
    return Article(
        url=f"https://example.com/{n}", headline=f"Story {n} {text}", body=f"About {text}.", published=published
    )


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2023", False, datetime(2023, 1, 1, tzinfo=UTC)),
        ("2023", True, datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2024-02", True, datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2023-02-16", False, datetime(2023, 2, 16, tzinfo=UTC)),
    ],
)
def test_date_bounds_are_inclusive_whole_periods(text: str, end: bool, expected: datetime) -> None:
    assert parse_date_bound(text, end=end) == expected


@pytest.mark.parametrize("bad", ["2023-13", "2023-02-30", "yesterday", "23-02", ""])
def test_invalid_dates_are_errors_not_wider_searches(bad: str) -> None:
    with pytest.raises(QueryError):
        parse_date_bound(bad, end=False)


def test_offset_times_are_matched_in_utc(tmp_path: Path) -> None:
    """08:35+02:00 is 06:35Z: it is inside 06:00-07:00 UTC, whatever Whoosh does with tzinfo."""
    ix = create_index(tmp_path / "ix")
    write_articles(ix, [_art(1, datetime(2023, 2, 16, 8, 35, tzinfo=PLUS2))])
    hit = search(ix, SearchRequest("crimea", date_from=datetime(2023, 2, 16, 6, tzinfo=UTC),
                                   date_to=datetime(2023, 2, 16, 7, tzinfo=UTC)))  # fmt: skip
    assert hit.total == 1
    assert hit.hits[0].published == datetime(2023, 2, 16, 6, 35, tzinfo=UTC)
    miss = search(ix, SearchRequest("crimea", date_from=datetime(2023, 2, 16, 7, tzinfo=UTC)))
    assert miss.total == 0


def test_a_batch_with_one_id_twice_leaves_one_document(tmp_path: Path) -> None:
    ix = create_index(tmp_path / "ix")
    when = datetime(2023, 1, 1, tzinfo=UTC)
    write_articles(ix, [_art(1, when, "first"), _art(1, when, "second")])
    write_articles(ix, [_art(1, when, "third")])
    assert ix.doc_count() == 1
    assert search(ix, SearchRequest("third")).total == 1


def test_no_query_lists_newest_first_and_oldest_on_request(tmp_path: Path) -> None:
    ix = create_index(tmp_path / "ix")
    days = [datetime(2023, 1, d, tzinfo=UTC) for d in (3, 1, 2)]
    write_articles(ix, [_art(i, d) for i, d in enumerate(days)])
    newest = [h.published.day for h in search(ix, SearchRequest()).hits if h.published]
    oldest = [h.published.day for h in search(ix, SearchRequest(sort="oldest")).hits if h.published]
    assert newest == [3, 2, 1]
    assert oldest == [1, 2, 3]


def test_bad_date_inside_query_text_is_an_error(tmp_path: Path) -> None:
    ix = create_index(tmp_path / "ix")
    with pytest.raises(QueryError):
        search(ix, SearchRequest("published:blarg crimea"))
