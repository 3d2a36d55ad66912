"""A facet counts articles: a tag given twice in one article, or spelled two ways that make one key ("Gaza",
"GAZA", " gaza "), is one article in the tag facet, on every path that counts facets: the SQLite and PostgreSQL
stores' date listings, the Whoosh index and the PostgreSQL search tables (generated articles, checked against
the number of articles holding each key)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsarchive.analysis import tag_key
from newsarchive.article import Article
from newsarchive.index.writer import open_index, rebuild
from newsarchive.search import SearchRequest, search
from newsarchive.store.articles import ArticleStore

_TAGS = ("Gaza", "Lebanon News", "Economy", "وقف إطلاق النار", "Élections")


def _spelling(rng: random.Random, tag: str) -> str:
    return rng.choice((tag, tag.upper(), tag.lower(), f"  {tag} ", tag.replace(" ", "   ")))


def _articles(n: int = 60, seed: int = 11) -> Iterator[Article]:
    rng = random.Random(seed)
    for i in range(n):
        chosen = rng.sample(_TAGS, rng.randint(0, 3))
        # Each chosen tag once or more, in one spelling or several, shuffled among the others.
        tags = [_spelling(rng, t) for t in chosen for _ in range(rng.choice((1, 1, 2, 3)))]
        rng.shuffle(tags)
        yield Article(
            url=f"https://news.example/{i}",
            headline=f"Talks on day {i}",
            body="The talks went on through the night. " * 5,
            site="news.example",
            lang="en",
            tags=tuple(tags),
            published=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i),
        )


def _expected(articles: list[Article]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for a in articles:
        counts.update({tag_key(t) for t in a.tags})
    assert any(len(a.tags) > len({tag_key(t) for t in a.tags}) for a in articles)  # duplicates are there
    return dict(counts)


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    return list(_articles())


@contextmanager
def _stored_and_indexed(tmp_path: Path, articles: list[Article]) -> Iterator[tuple[ArticleStore, Any]]:
    """The articles in a SQLite store and a Whoosh index built from them."""
    store = ArticleStore(tmp_path / "store.sqlite")
    try:
        for a in articles:
            store.upsert(a)
        rebuild(tmp_path / "index", articles)
        ix = open_index(tmp_path / "index")
        try:
            yield store, ix
        finally:
            ix.close()
    finally:
        store.close()


def test_sqlite_store_and_whoosh_index_count_each_article_once_per_tag(tmp_path: Path, articles: list[Article]) -> None:
    with _stored_and_indexed(tmp_path, articles) as (store, ix):
        expected = _expected(articles)
        assert dict(store.facet_counts()["tag"]) == expected
        listing = search(ix, SearchRequest(date_from=datetime(2024, 1, 1, tzinfo=UTC), facets=True), store=store)
        text = search(ix, SearchRequest("talks", facets=True), store=store)
        assert listing.total == text.total == len(articles)
        assert dict(listing.facets["tag"]) == dict(text.facets["tag"]) == expected
        tagged = search(ix, SearchRequest("talks", tags=("gaza",), facets=True), store=store)
        assert tagged.total == dict(tagged.facets["tag"])["gaza"] == expected["gaza"]


def test_postgresql_store_and_search_tables_count_each_article_once_per_tag(
    pg_url: str, articles: list[Article]
) -> None:
    from newsarchive.index.pg_search import PgSearch, connect
    from newsarchive.store.backend import StoreSpec, open_store

    expected = _expected(articles)
    store: Any = open_store(StoreSpec("postgresql", url=pg_url))
    try:
        for a in articles:
            store.upsert(a)
        assert dict(store.facet_counts()["tag"]) == expected
    finally:
        store.close()
    pg = PgSearch(connect(pg_url))
    try:
        pg.add(articles)
        for req in (SearchRequest("", facets=True), SearchRequest("talks", facets=True)):
            got = pg.search(req)
            assert got.total == len(articles)
            assert dict(got.facets["tag"]) == expected
    finally:
        pg.close()


def test_an_article_before_year_1000_has_a_four_digit_month_on_every_path(tmp_path: Path, pg_url: str) -> None:
    """The month of an article published in 999 is ``0999-05`` in the Whoosh index, the SQLite store and the
    PostgreSQL search tables alike (strftime would give ``999-05``, which sorts after ``2024-01``), and a date filter
    open at its start finds it on both backends."""
    from newsarchive.index.pg_search import PgSearch, connect

    dated = [
        Article(
            url=f"https://news.example/m{i}",
            headline="Talks",
            body="The talks went on.",
            site="news.example",
            lang="en",
            published=when,
        )
        for i, when in enumerate((datetime(999, 5, 3, tzinfo=UTC), datetime(2024, 1, 9, tzinfo=UTC)))
    ]
    expected = [("0999-05", 1), ("2024-01", 1)]
    before_2020 = SearchRequest("talks", date_to=datetime(2019, 12, 31, tzinfo=UTC))  # a month range open at its start
    with _stored_and_indexed(tmp_path, dated) as (store, ix):
        assert sorted(search(ix, SearchRequest("talks", facets=True), store=store).facets["month"]) == expected
        assert sorted(store.facet_counts()["month"]) == expected
        assert search(ix, before_2020, store=store).total == 1
    pg = PgSearch(connect(pg_url))
    try:
        pg.add(dated)
        assert sorted(pg.search(SearchRequest("talks", facets=True)).facets["month"]) == expected
        assert pg.search(before_2020).total == 1
    finally:
        pg.close()
