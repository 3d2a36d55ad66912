"""Facets of frequent words from kept counts (pg_search, search_term_facets) against counting every match.

An adversarial set beside tests/test_search_postgres.py's: grants across the version-4 upgrade, writes
that commit while a search reads its facets, and words of every shape (author keys, stop words with a tag of
the same word, several keys, articles without a date, an empty site or language, NUL in a tag).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest

from newsarchive.article import Article
from newsarchive.index.pg_search import PgSearch, connect
from newsarchive.search import SearchRequest

psycopg = pytest.importorskip("psycopg")


def _article(i: int, **fields: Any) -> Article:
    values: dict[str, Any] = {
        "url": f"https://site{i % 3}.example/{i}",
        "headline": f"Zebra crossing number {i}",
        "body": "Traffic in the town centre near the zebra.",
        "site": f"site{i % 3}.example",
        "lang": "en",
        "tags": ("Zebra",) if i % 2 else ("roads",),
        "published": datetime(2021, 1 + i % 12, 3, tzinfo=UTC),
    }
    values.update(fields)
    return Article(**values)


def _facets(pg: PgSearch, word: str) -> dict[str, list[tuple[str, int]]]:
    return pg.search(SearchRequest(word, facets=True, limit=1)).facets


def _role(url: str, name: str, *grants: str) -> str:
    """A login role granted ``grants`` on the tables that exist now: its URL."""
    role = f"{name}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        for grant in grants:
            admin.execute(grant.format(role=f'"{role}"'))
    return url.replace("postgres@", f"{role}@", 1)


def test_roles_granted_on_version_4_tables_keep_working_after_the_owner_upgrades_them(pg_url: str) -> None:
    """The in-place upgrade adds two tables: the roles granted rights on the version-4 tables (a worker that
    writes, a user that reads) get the same rights on them, or the worker's next write and the reader's facets
    of a frequent word (and stats) are refused (permission denied for table search_facet_terms)."""
    owner = PgSearch(connect(pg_url))
    owner.add([_article(i) for i in range(20)])
    owner.close()
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("DROP TABLE search_facet_terms, search_term_facets")
        admin.execute("UPDATE search_meta SET value = '4' WHERE key = 'version'")
    worker_url = _role(
        pg_url,
        "facet_worker",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    )
    reader_url = _role(pg_url, "facet_reader", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    upgraded = PgSearch(connect(pg_url))  # the owner's next writing command upgrades them
    upgraded.facet_min_docs = None
    expected = _facets(upgraded, "zebra")
    upgraded.close()
    reader = PgSearch(connect(reader_url), create=False)
    reader.facet_min_docs = 1
    assert reader.facet_counts
    assert _facets(reader, "zebra") == expected
    assert reader.stats()["facet_terms"] == 0
    worker = PgSearch(connect(worker_url))
    worker.facet_min_docs = 1
    assert _facets(worker, "zebra") == expected
    assert worker.last_facets == "kept counts"  # the worker may keep them: it may write the tables
    worker.add([_article(i) for i in range(20, 30)])
    worker.delete([_article(3).id])
    worker.facet_min_docs = None
    expected = _facets(worker, "zebra")
    worker.close()
    assert _facets(reader, "zebra") == expected
    assert reader.last_facets == "kept counts"
    reader.close()


class _WriteBetween:
    """A search's connection that lets another connection commit a write right before (or after) the first statement
    of the search holding ``marker``: statements of one search see the writes committed before each of them."""

    def __init__(self, conn: Any, marker: str, write: Any, *, after: bool = False) -> None:
        self._conn, self._marker, self._write, self._after = conn, marker, write, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
        due = self._write is not None and self._marker in str(query)
        if due and not self._after:
            self._write(), setattr(self, "_write", None)
        out = self._conn.execute(query, params, **kw)
        if due and self._after:
            out = _Fetched(out.fetchall())
            self._write(), setattr(self, "_write", None)
        return out


class _Fetched:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def __iter__(self) -> Any:
        return iter(self.rows)

    def fetchall(self) -> list[Any]:
        return self.rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None


@pytest.mark.parametrize(
    ("marker", "after", "other_language_first"),
    [
        ("FROM search_term_facets", True, True),  # between the kept counts' sum and the read of the rest
        ("SELECT term FROM search_facet_terms WHERE", False, False),  # after the word's terms were looked up
    ],
)
def test_facets_from_kept_counts_see_one_state_of_an_article_moved_by_a_writer_meanwhile(
    pg_url: str, marker: str, after: bool, other_language_first: bool
) -> None:
    """An article re-indexed in another language while a search reads a word's facets moves from a term whose counts
    are kept (en:zebra) to one whose matches are read (xx:zebra): the search counts it once, before or after the
    move, never twice or not at all (as counting every match in one statement does)."""
    setup = PgSearch(connect(pg_url))
    articles = [_article(i) for i in range(10)]
    moved = _article(0, lang="de")  # German: no analysis of its own ('xx:' terms)
    setup.add(articles + ([_article(50, lang="de")] if other_language_first else []))
    setup.facet_min_docs = None
    before = _facets(setup, "zebra")
    writer = PgSearch(connect(pg_url))
    cached = PgSearch(connect(pg_url))
    cached.facet_min_docs = 5
    _facets(cached, "zebra")  # en:zebra kept from 5 documents; xx:zebra (at most 1) read
    assert cached.last_facets == "kept counts"
    cached.conn = _WriteBetween(cached.conn, marker, lambda: writer.add([moved]), after=after)
    got = _facets(cached, "zebra")
    assert cached.conn._write is None  # the write did come in between
    now = _facets(setup, "zebra")
    assert before != now  # the article's language moved
    assert got in (before, now)
    for pg in (setup, writer, cached):
        pg.close()
