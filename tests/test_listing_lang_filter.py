"""--lang on a listing (no query text, answered by the store) matches what it matches on the index path: the
value's primary subtag exactly, LIKE's ``%`` and ``_`` (and the escape character) taken as themselves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsarchive.article import Article
from newsarchive.errors import QueryError
from newsarchive.index.writer import open_index, rebuild
from newsarchive.search import SearchRequest, search
from newsarchive.store.articles import ArticleStore
from newsarchive.store.backend import StoreSpec, open_store

LANGS = ("en", "en-GB", "EN_gb", "es", "es_MX", "ar", None, "e%", "e!x", "e\\x")
#: Odd --lang values: LIKE's wildcards, its escape character, PostgreSQL's default escape, an empty subtag.
VALUES = ("%", "e%", "%-GB", "e_", "!", "e!x", "e\\x", "e\\%", "en", "EN-us", "es_mx", "ar")
#: Values whose primary subtag is empty: a search refuses them (QueryError); a store given one lists nothing.
EMPTY = ("_", "-", "_n", "-x", " ")


def _articles() -> list[Article]:
    return [
        Article(
            url=f"https://news.example/l{i}",
            headline=f"Talks {i}",
            body="The talks went on into the night.",
            site="news.example",
            lang=lang,
            published=datetime(2024, 1, 1 + i, tzinfo=UTC),
        )
        for i, lang in enumerate(LANGS)
    ]


def _listed(store: Any, value: str) -> set[str]:
    _, ids = store.list_by_date(langs=(value,), limit=100)
    return set(ids)


def test_the_sqlite_listing_filters_languages_as_the_whoosh_index_does(tmp_path: Path) -> None:
    articles = _articles()
    store = ArticleStore(tmp_path / "store.sqlite")
    rebuild(tmp_path / "index", articles)
    ix = open_index(tmp_path / "index")
    try:
        for a in articles:
            store.upsert(a)
        for value in VALUES:
            indexed = {h.id for h in search(ix, SearchRequest("talks", langs=(value,), limit=100), store=store).hits}
            listing = search(ix, SearchRequest("", langs=(value,), limit=100), store=store)
            assert {h.id for h in listing.hits} == indexed, value
            assert listing.total == len(indexed), value
            assert _listed(store, value) == indexed, value
        assert len(_listed(store, "en")) == 3  # en, en-GB, EN_gb: still matched by their primary subtag
        assert _listed(store, "%") == set() and _listed(store, "e%") == {articles[7].id}
        assert all(_listed(store, value) == set() for value in EMPTY)
    finally:
        ix.close()
        store.close()


def test_the_postgresql_listing_filters_languages_as_its_search_tables_do(pg_url: str) -> None:
    from newsarchive.index.pg_search import PgSearch, connect

    articles = _articles()
    store: Any = open_store(StoreSpec("postgresql", url=pg_url))
    pg = PgSearch(connect(pg_url))
    try:
        for a in articles:
            store.upsert(a)
        pg.add(articles)
        for value in VALUES:
            indexed = {h.id for h in pg.search(SearchRequest("talks", langs=(value,), limit=100)).hits}
            assert _listed(store, value) == indexed, value
        assert len(_listed(store, "en")) == 3
        assert _listed(store, "%") == set() and _listed(store, "e\\x") == {articles[9].id}
        assert all(_listed(store, value) == set() for value in EMPTY)
    finally:
        pg.close()
        store.close()


def test_a_lang_value_that_names_no_language_is_a_query_error() -> None:
    """``--lang _`` matched nothing on one path and the articles of no language on another: it is refused."""
    for value in EMPTY:
        with pytest.raises(QueryError, match="names no language"):
            SearchRequest("talks", langs=("en", value))
