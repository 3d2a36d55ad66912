"""Date listings' exact totals from the store's per-day counts, and the few fields a hit shows.

The totals are checked against counting the articles themselves, over generated archives (dates
near day and year edges, none, updates that move an article to another day or to none) and generated
ranges (any time of day, open at either end, one day, empty, in any zone), not over a hand-made case.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsarchive.article import Article
from newsarchive.store.articles import ArticleStore, HitText, _utc_text

_BASE = datetime(2023, 12, 30, tzinfo=UTC)
# Minutes from _BASE: a few days around a year's end, so many articles share a day and ranges cut days.
_MINUTES = st.integers(min_value=0, max_value=5 * 24 * 60)
_PUBLISHED = st.none() | _MINUTES.map(lambda m: _BASE + timedelta(minutes=m))
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-9, minutes=-30))])


def _article(n: int, published: datetime | None, body: str = "Body text.") -> Article:
    return Article(
        url=f"https://example.com/{n}",
        canonical_url=f"https://example.com/{n}",
        headline=f"Headline {n}",
        body=body,
        published=published,
    )


def _counted(store: ArticleStore, lo: datetime | None, hi: datetime | None) -> int:
    where, params = store._listing_where(lo, hi, (), ())
    return int(store.db.execute(f"SELECT COUNT(*) FROM articles{where}", params).fetchone()[0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dates=st.lists(_PUBLISHED, min_size=0, max_size=40),
    moves=st.lists(st.tuples(st.integers(0, 39), _PUBLISHED), max_size=10),
    ranges=st.lists(st.tuples(st.none() | _MINUTES, st.none() | _MINUTES, _ZONES), min_size=1, max_size=8),
)
def test_a_listings_total_from_day_counts_equals_its_articles_counted(
    tmp_path_factory: object,
    dates: list[datetime | None],
    moves: list[tuple[int, datetime | None]],
    ranges: list[tuple[int | None, int | None, timezone]],
) -> None:
    path = tmp_path_factory.mktemp("days") / "s.sqlite"  # type: ignore[attr-defined]
    store = ArticleStore(path)
    for n, published in enumerate(dates):
        store.upsert(_article(n, published))
    for n, published in moves:  # a changed article can move to another day, or lose its date
        if n < len(dates):
            store.upsert(_article(n, published, body=f"Changed {published}."))
    for lo_minutes, hi_minutes, tz in ranges:
        lo = None if lo_minutes is None else (_BASE + timedelta(minutes=lo_minutes)).astimezone(tz)
        hi = None if hi_minutes is None else (_BASE + timedelta(minutes=hi_minutes, seconds=59)).astimezone(tz)
        total, _ = store.list_by_date(date_from=lo, date_to=hi)
        assert total == _counted(store, lo, hi), (lo, hi)
    days = dict(store.db.execute("SELECT day, n FROM article_days WHERE n <> 0").fetchall())
    expected = dict(
        store.db.execute(
            "SELECT COALESCE(substr(published_utc, 1, 10), ''), COUNT(*) FROM articles GROUP BY 1"
        ).fetchall()
    )
    assert days == expected
    store.close()


def test_a_store_made_before_day_counts_gets_them_filled_when_a_writer_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = ArticleStore(path)
    for n in range(6):
        store.upsert(_article(n, datetime(2024, 1, 1 + n % 3, 12, tzinfo=UTC) if n < 5 else None))
    store.close()
    db = sqlite3.connect(path)
    for name in ("article_days_insert", "article_days_delete", "article_days_update"):
        db.execute(f"DROP TRIGGER {name}")
    db.execute("DROP TABLE article_days")
    db.commit()
    db.close()

    reader = ArticleStore(path, read_only=True)  # cannot add them: counts the articles instead
    assert reader.list_by_date(date_from=datetime(2024, 1, 1, tzinfo=UTC))[0] == 5
    reader.close()
    store = ArticleStore(path)
    assert dict(store.db.execute("SELECT day, n FROM article_days").fetchall()) == {
        "2024-01-01": 2,
        "2024-01-02": 2,
        "2024-01-03": 1,
        "": 1,
    }
    assert store.list_by_date(date_from=datetime(2024, 1, 2, tzinfo=UTC))[0] == 3
    assert store.list_by_date()[0] == 6


def test_hit_texts_are_the_articles_fields(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "s.sqlite")
    kept = [
        _article(1, datetime(2024, 5, 1, 8, 30, tzinfo=timezone(timedelta(hours=2))), body="Body one."),
        Article(url="https://example.com/2", canonical_url="https://example.com/2", headline="", body=""),
        Article(
            url="https://example.com/3",
            canonical_url="https://example.com/3",
            headline="Ein Titel",
            body='Text mit "Anführungszeichen" und\nZeilen.',
            description="Kurz.",
            lang="de",
            published=datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC),
        ),
    ]
    for a in kept:
        store.upsert(a)
    ids = [a.id for a in kept]
    got = store.hit_texts([*ids, "0" * 16])
    assert set(got) == set(ids)
    for a in kept:
        stored = store.get_many([a.id])[a.id]
        assert got[a.id] == HitText.of(stored)
        assert _utc_text(got[a.id].published) == _utc_text(a.published)


def test_a_listing_page_with_its_hit_texts_is_the_listing_and_the_hit_texts_of_its_ids(tmp_path: Path) -> None:
    """``list_hits_by_date`` reads the page's hit texts in its own statement: the same totals, order and texts as
    ``list_by_date`` followed by ``hit_texts``, with and without bounds, filters and paging."""
    store = ArticleStore(tmp_path / "s.sqlite")
    try:
        for i in range(30):
            day = None if i % 7 == 0 else datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=13 * i)
            lang = "ar" if i % 3 == 0 else "en"
            site = "b.example" if i % 4 == 0 else "a.example"
            store.upsert(
                Article(url=f"https://{site}/{i}", headline=f"H{i}", body=f"body {i}", lang=lang, published=day)
            )
        lo, hi = datetime(2024, 1, 3, 5, tzinfo=UTC), datetime(2024, 1, 10, 20, tzinfo=UTC)
        for kw in (
            {},
            {"date_from": lo},
            {"date_to": hi, "newest": False},
            {"date_from": lo, "date_to": hi, "limit": 3, "offset": 2},
            {"sites": ("b.example",), "langs": ("ar",)},
        ):
            total, ids = store.list_by_date(**kw)
            texts = store.hit_texts(ids)
            assert store.list_hits_by_date(**kw) == (total, [texts[i] for i in ids]), kw
    finally:
        store.close()
