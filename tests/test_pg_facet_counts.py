"""Facets of frequent words from kept counts (pg_search, search_term_facets) against counting every match.

An adversarial set beside tests/test_search_postgres.py's: grants across the version-4 upgrade; writes that
commit while a search reads its facets (at known points: _WriteBetween), writers and searchers at once, a
database defaulting to REPEATABLE READ; words of every shape (author keys, stop words with a tag of the same
word, several keys, articles without a date, an empty site or language, NUL in a tag), against counting every
match and against Whoosh.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from newsarchive.article import Article
from newsarchive.index import pg_search
from newsarchive.index.backend import WhooshBackend
from newsarchive.index.pg_search import _FACET_VALUES, PgSearch, _facet_term_condition, connect
from newsarchive.index.writer import rebuild
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
        "upgraded_worker",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    )
    reader_url = _role(pg_url, "upgraded_reader", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
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
    """A connection (a search's or a writer's) that lets another connection act (commit a write, search) right before
    (or after) the first statement it runs holding ``marker``, so that statements of one transaction interleave with
    another's at a known point."""

    def __init__(self, conn: Any, marker: str, write: Any, *, after: bool = False) -> None:
        self._conn, self._marker, self._write, self._after = conn, marker, write, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def cursor(self, *args: Any, **kw: Any) -> Any:
        return _CursorBetween(self, self._conn.cursor(*args, **kw))

    def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
        return self._run(self._conn.execute, query, params, **kw)

    def _run(self, run: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        due = self._write is not None and self._marker in str(query)
        if due and not self._after:
            self._act()
        out = run(query, params, **kw)
        if due and self._after:
            if getattr(out, "description", None) is not None:
                out = _Fetched(out.fetchall())  # read before the other connection acts
            self._act()
        return out

    def _act(self) -> None:
        write, self._write = self._write, None
        write()


class _CursorBetween:
    def __init__(self, between: _WriteBetween, cur: Any) -> None:
        self._between, self._cur = between, cur

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)

    def __enter__(self) -> _CursorBetween:
        self._cur.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cur.__exit__(*exc)

    def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
        out = self._between._run(self._cur.execute, query, params, **kw)
        return self if out is self._cur else out

    def executemany(self, query: Any, params: Any, **kw: Any) -> Any:
        return self._between._run(self._cur.executemany, query, params, **kw)


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


_VOCAB = ["zebra", "zebras", "crossing", "smith", "número", "numero", "guerra", "غزة", "the", "el", "de", "a", "road"]
_WORDS = ["zebra", "zebras", "crossing", "smith", "roads", "número", "numero", "the", "el", "de", "a", "غزة", "2021"]
_LANGS = ["en", "en-GB", "es", "ES", "ar", "fr", "de", "", "es-ES"]
_TAG_POOL = ["Zebra", "zebra ", "The", "El", "roads", "Zebra crossing", "a\x00b", "x\ufffdy", "de", "Smith", "2021"]
_BY_POOL = ["Zebra", "John Smith", "Smith", "Ana", "El"]


def _random_article(rng: random.Random, i: int) -> Article:
    def text(k: int) -> str:
        return " ".join(rng.choice(_VOCAB) for _ in range(k))

    return Article(
        url=f"https://s{i % 4}.example/{i}",
        headline=text(rng.randint(0, 4)),
        body=text(rng.randint(0, 12)),
        site=rng.choice(["s1.example", "s2.example", ""]),
        lang=rng.choice(_LANGS),
        tags=tuple(rng.sample(_TAG_POOL, rng.randint(0, 4))),
        byline=tuple(rng.sample(_BY_POOL, rng.randint(0, 2))),
        published=rng.choice([None, datetime(2020 + rng.randint(0, 2), rng.randint(1, 12), 5, tzinfo=UTC)]),
    )


@pytest.mark.parametrize(("least", "most_terms"), [(1, 500), (15, 500), (40, 500), (1, 9)])
def test_facets_from_kept_counts_equal_counting_every_match_for_words_of_every_shape(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, least: int, most_terms: int
) -> None:
    """Words that are also one-word tags and author names (two keys), stop words of a language with a tag of the
    same word, a word only in tags, a stemmed form whose key is another, an accent folded in one language only;
    articles without a date, with an empty site or language, a region subtag, duplicate tag keys (counted twice, as
    on Whoosh), a NUL in a tag: through random adds, re-indexes and deletes from two connections, each word's facets
    equal those counted on every match. ``least``: the matches from which a term's counts are kept; ``most_terms``:
    FACET_TERMS (9: reached mid-way, the rest read)."""
    monkeypatch.setattr(pg_search, "FACET_TERMS", most_terms)
    rng = random.Random(least * 1000 + most_terms)
    cached, counted = PgSearch(connect(pg_url)), PgSearch(connect(pg_url))
    cached.facet_min_docs, counted.facet_min_docs = least, None
    articles = {a.id: a for a in (_random_article(rng, i) for i in range(120))}
    cached.add(articles.values())
    answered = 0
    for round_ in range(6):
        for word in _WORDS:
            req = SearchRequest(word, facets=True, limit=1)
            got = cached.search(req)
            assert got.facets == counted.search(req).facets, (round_, word)
            answered += cached.last_facets == "kept counts"
        writer = (cached, counted)[round_ % 2]  # either connection's writes keep the counts
        changed = [replace(_random_article(rng, rng.randrange(500)), url=a.url, id=a.id) for a in rng.sample(
            list(articles.values()), 25)]  # fmt: skip
        fresh = [_random_article(rng, 1000 * (round_ + 1) + i) for i in range(15)]
        gone = rng.sample(sorted(articles), 10)
        writer.add(changed + fresh)
        articles.update((a.id, a) for a in changed + fresh)
        writer.delete(gone)
        for doc_id in gone:
            articles.pop(doc_id)
    kept = cached.conn.execute("SELECT count(*) FROM search_facet_terms").fetchone()[0]
    negative = cached.conn.execute("SELECT count(*) FROM search_term_facets WHERE n <= 0").fetchone()[0]
    cached.conn.commit()
    assert answered >= (len(_WORDS) if least == 1 else 1) and negative == 0
    assert kept <= most_terms
    cached.close()
    counted.close()


def _assert_kept_counts_exact(url: str) -> int:
    """Every kept term's counts (search_term_facets) equal a count of its documents' values now: how many terms."""
    with psycopg.connect(url) as conn:
        terms = [r[0] for r in conn.execute("SELECT term FROM search_facet_terms")]
        for term in terms:
            cond, param = _facet_term_condition(term)
            recount = dict(conn.execute(_FACET_VALUES.format(cond), (param,)).fetchall())
            kept = dict(conn.execute("SELECT value, n FROM search_term_facets WHERE term = %s", (term,)).fetchall())
            assert kept == recount, term
    return len(terms)


def test_a_search_while_a_writer_holds_the_lock_counts_every_match_then_the_writer_commits(pg_url: str) -> None:
    """A facet search that would keep a term while a writer is in the middle of its transaction (it holds the
    writers' lock) does not wait and keeps nothing: it counts every match, as they were before the write."""
    writer = PgSearch(connect(pg_url))
    rng = random.Random(7)
    writer.add(_random_article(rng, i) for i in range(60))
    counted = PgSearch(connect(pg_url))
    counted.facet_min_docs = None
    before = {w: _facets(counted, w) for w in ("zebra", "the", "roads")}
    searcher = PgSearch(connect(pg_url))
    searcher.facet_min_docs = 1
    seen: dict[str, Any] = {}

    def search_meanwhile() -> None:
        for word in before:
            seen[word] = (_facets(searcher, word), searcher.last_facets)

    writer.conn = _WriteBetween(writer.conn, "INSERT INTO search_docs", search_meanwhile)
    writer.add(_random_article(rng, i) for i in range(60, 90))
    assert seen == {w: (before[w], "every match") for w in before}
    assert _assert_kept_counts_exact(pg_url) == 0
    for word in before:
        assert _facets(searcher, word) == _facets(counted, word)
        assert searcher.last_facets == "kept counts"
    assert _assert_kept_counts_exact(pg_url) > 0
    for pg in (writer, counted, searcher):
        pg.close()


def test_a_writer_that_waits_for_a_search_keeping_a_term_counts_its_articles_into_it(pg_url: str) -> None:
    """A writer that starts while a search is keeping a term (the search holds the writers' lock until it commits)
    waits, then sees the term kept and counts the articles it adds, re-indexes and deletes."""
    setup = PgSearch(connect(pg_url))
    rng = random.Random(8)
    articles = [_random_article(rng, i) for i in range(80)]
    setup.add(articles)
    searcher = PgSearch(connect(pg_url))
    searcher.facet_min_docs = 1
    writes: list[threading.Thread] = []

    def write() -> None:
        writer = PgSearch(connect(pg_url))
        changed = [replace(_random_article(rng, 500 + i), url=a.url, id=a.id) for i, a in enumerate(articles[:20])]
        writer.add(changed + [_random_article(rng, i) for i in range(100, 120)])
        writer.delete(a.id for a in articles[20:30])
        writer.close()

    def start_writer() -> None:
        writes.append(threading.Thread(target=write))
        writes[0].start()
        time.sleep(0.3)  # the writer reaches the lock (no assertion depends on it: the test holds either way)

    searcher.conn = _WriteBetween(searcher.conn, "INSERT INTO search_facet_terms", start_writer, after=True)
    _facets(searcher, "zebra")
    assert searcher.last_facets == "kept counts"
    writes[0].join(60)
    assert not writes[0].is_alive()
    assert _assert_kept_counts_exact(pg_url) > 0
    setup.facet_min_docs = None
    assert _facets(searcher, "zebra") == _facets(setup, "zebra")
    setup.close()
    searcher.close()


def test_concurrent_writers_and_searchers_leave_the_kept_counts_exact(pg_url: str) -> None:
    """Two writers (adds, re-indexes, deletes) and two searchers keeping terms, each on its own connection, at once:
    afterwards every kept term's counts equal a count of its documents, and the facets those of every match."""
    setup = PgSearch(connect(pg_url))
    rng = random.Random(1)
    setup.add(_random_article(rng, i) for i in range(100))
    setup.facet_min_docs = 1
    for word in _WORDS[::2]:  # some terms kept before the writes, the others while they write
        _facets(setup, word)
    setup.close()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        pg = PgSearch(connect(pg_url))
        try:
            for _ in range(8):
                pg.add(_random_article(rng, rng.randrange(300)) for _ in range(10))
                pg.delete(_random_article(rng, rng.randrange(300)).id for _ in range(4))
        except BaseException as exc:
            errors.append(exc)
        finally:
            pg.close()

    def searcher(seed: int) -> None:
        rng = random.Random(seed)
        pg = PgSearch(connect(pg_url))
        pg.facet_min_docs = rng.choice([1, 5])
        try:
            for _ in range(25):
                _facets(pg, rng.choice(_WORDS))
        except BaseException as exc:
            errors.append(exc)
        finally:
            pg.close()

    threads = [threading.Thread(target=writer, args=(s,)) for s in (2, 3)]
    threads += [threading.Thread(target=searcher, args=(s,)) for s in (4, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors
    assert _assert_kept_counts_exact(pg_url) > 0
    cached, counted = PgSearch(connect(pg_url)), PgSearch(connect(pg_url))
    cached.facet_min_docs, counted.facet_min_docs = 1, None
    for word in _WORDS:
        assert _facets(cached, word) == _facets(counted, word), word
    cached.close()
    counted.close()


def test_a_search_in_a_repeatable_read_database_keeps_counts_of_every_write_committed_before_it(pg_url: str) -> None:
    """A database whose sessions default to REPEATABLE READ: a search's statements would all read the snapshot of its
    first one, so the counts it keeps under the writers' lock missed a write committed between that snapshot and the
    lock, for good. The search tables' transactions are READ COMMITTED whatever the default."""
    setup = PgSearch(connect(pg_url))
    setup.add(_article(i) for i in range(10))
    setup.conn.execute(f"ALTER DATABASE {setup.conn.info.dbname} SET default_transaction_isolation = 'repeatable read'")
    setup.conn.commit()
    searcher = PgSearch(connect(pg_url))
    assert searcher.conn.execute("SHOW default_transaction_isolation").fetchone()[0] == "repeatable read"
    assert searcher.conn.execute("SHOW transaction_isolation").fetchone()[0] == "read committed"
    searcher.conn.commit()
    searcher.facet_min_docs = 1
    writer = PgSearch(connect(pg_url))
    searcher.conn = _WriteBetween(
        searcher.conn, "pg_try_advisory_xact_lock", lambda: writer.add([_article(i) for i in range(10, 20)])
    )
    _facets(searcher, "zebra")
    assert searcher.conn._write is None and searcher.last_facets == "kept counts"
    assert _assert_kept_counts_exact(pg_url) > 0
    setup.facet_min_docs = None
    assert _facets(searcher, "zebra") == _facets(setup, "zebra")
    for pg in (setup, writer, searcher):
        pg.close()


def test_a_read_only_session_counts_facets_on_every_match(pg_url: str) -> None:
    """A session that may not write (default_transaction_read_only, as on a standby) keeps no counts: its facets
    are counted on every match, and the same."""
    owner = PgSearch(connect(pg_url))
    owner.add(_article(i) for i in range(10))
    owner.facet_min_docs = None
    expected = _facets(owner, "zebra")
    reader = PgSearch(connect(pg_url + "?options=-c%20default_transaction_read_only%3Don"), create=False)
    reader.facet_min_docs = 1
    assert _facets(reader, "zebra") == expected and reader.last_facets == "every match"
    assert _facets(reader, "zebra") == expected
    assert _assert_kept_counts_exact(pg_url) == 0
    owner.close()
    reader.close()


def test_a_kept_term_whose_articles_are_all_deleted_then_come_back_is_counted_again(pg_url: str) -> None:
    """A kept term's last article deleted (its search_terms row goes) and then new ones: its counts follow."""
    pg, counted = PgSearch(connect(pg_url)), PgSearch(connect(pg_url))
    pg.facet_min_docs, counted.facet_min_docs = 1, None
    plain = [_article(i, headline=f"Roads {i}", body="Traffic.", tags=("roads",)) for i in range(5)]
    zebras = [_article(i) for i in range(5, 12)]
    pg.add(plain + zebras)
    for word in ("zebra", "roads"):
        assert _facets(pg, word) == _facets(counted, word) and pg.last_facets == "kept counts"
    pg.delete(a.id for a in zebras)
    assert pg.conn.execute("SELECT count(*) FROM search_terms WHERE term = 'en:zebra'").fetchone()[0] == 0
    pg.conn.commit()
    assert _facets(pg, "zebra") == _facets(counted, "zebra") == {"site": [], "tag": [], "lang": [], "month": []}
    back = [_article(i, site="back.example", published=None) for i in range(20, 23)]
    counted.add(back)
    assert _facets(pg, "zebra") == _facets(counted, "zebra")
    assert pg.last_facets == "kept counts"
    assert ("back.example", 3) in _facets(pg, "zebra")["site"]
    assert _assert_kept_counts_exact(pg_url) >= 2
    pg.close()
    counted.close()


def test_terms_are_kept_from_exactly_facet_min_docs_matches(pg_url: str) -> None:
    pg = PgSearch(connect(pg_url))
    pg.add(_article(i) for i in range(7))  # en:zebra in 7 articles
    pg.facet_min_docs = 8
    _facets(pg, "zebra")
    assert pg.last_facets == "every match"
    pg.facet_min_docs = 7
    _facets(pg, "zebra")
    assert pg.last_facets == "kept counts"
    pg.close()


def test_two_searches_keeping_the_same_term_at_once_keep_it_once(pg_url: str) -> None:
    """A search that would keep a term another search is keeping (not committed yet: it holds the writers' lock)
    counts every match instead; the term is kept once, and exact."""
    setup = PgSearch(connect(pg_url))
    rng = random.Random(9)
    setup.add(_random_article(rng, i) for i in range(60))
    setup.facet_min_docs = None
    expected = _facets(setup, "zebra")
    first, second = PgSearch(connect(pg_url)), PgSearch(connect(pg_url))
    first.facet_min_docs = second.facet_min_docs = 1
    seen: list[Any] = []

    def search_meanwhile() -> None:
        seen.append((_facets(second, "zebra"), second.last_facets))

    first.conn = _WriteBetween(first.conn, "INSERT INTO search_facet_terms", search_meanwhile, after=True)
    got = _facets(first, "zebra")
    assert seen == [(expected, "every match")]
    assert got == expected and first.last_facets == "kept counts"
    assert _facets(second, "zebra") == expected and second.last_facets == "kept counts"
    kept = second.conn.execute("SELECT term, count(*) FROM search_facet_terms GROUP BY term").fetchall()
    second.conn.commit()
    assert kept and all(n == 1 for _, n in kept)
    assert _assert_kept_counts_exact(pg_url) == len(kept)
    for pg in (setup, first, second):
        pg.close()


_TRICKY = ["covid-19", "U.S.", "don't", "niño", "NIÑO", "straße", "İstanbul", "ﬁne", "وغزة", "Zürich", "café", "ａｂｃ"]


def test_facets_from_kept_counts_equal_whooshs_for_words_of_every_shape(pg_url: str, tmp_path: Any) -> None:
    """The same articles in Whoosh and PostgreSQL: each word's facets from kept counts equal Whoosh's (an article
    with two tags of one key, ``Ukraine`` and ``ukraine ``, counts once for it on every path: a facet counts articles),
    and so do the totals."""
    rng = random.Random(12)
    articles = [_random_article(rng, i) for i in range(150)]
    articles = [
        replace(
            a,
            tags=tuple(t for t in a.tags if "\x00" not in t) + (("Ukraine", "ukraine ") if i % 5 == 0 else ()),
            body=a.body + " " + " ".join(rng.sample(_TRICKY, 3)),
        )
        for i, a in enumerate(articles)
    ]
    rebuild(tmp_path / "index", articles)
    whoosh = WhooshBackend(tmp_path / "index")
    pg = PgSearch(connect(pg_url))
    pg.facet_min_docs = 3
    pg.add(articles)
    answered = 0
    for word in [*_WORDS, *_TRICKY, "ukraine"]:
        req = SearchRequest(word, facets=True, limit=1)
        got, expected = pg.search(req), whoosh.search(req)
        assert (got.total, got.facets) == (expected.total, expected.facets), word
        answered += pg.last_facets == "kept counts"
    assert answered > len(_WORDS)
    assert ("ukraine", len(articles[::5])) in pg.search(SearchRequest("ukraine", facets=True)).facets["tag"]
    whoosh.close()
    pg.close()


def test_a_writer_in_a_repeatable_read_session_counts_into_a_term_kept_while_it_waited(pg_url: str) -> None:
    """A database whose sessions default to REPEATABLE READ: a writer's snapshot is taken by its first statement, the
    writers' lock, before it waits; a term a search kept meanwhile (a session in READ COMMITTED) would be missing
    from its snapshot, and its articles never counted into it. The search tables' transactions are READ COMMITTED."""
    setup = PgSearch(connect(pg_url))
    setup.add(_article(i) for i in range(10))
    setup.conn.execute(f"ALTER DATABASE {setup.conn.info.dbname} SET default_transaction_isolation = 'repeatable read'")
    setup.conn.commit()
    searcher = PgSearch(connect(pg_url + "?options=-c%20default_transaction_isolation%3Dread%5C%20committed"))
    searcher.facet_min_docs = 1
    writes: list[threading.Thread] = []

    def write() -> None:
        writer = PgSearch(connect(pg_url))
        writer.add(_article(i) for i in range(10, 20))
        writer.close()

    def start_writer() -> None:
        writes.append(threading.Thread(target=write))
        writes[0].start()
        time.sleep(0.5)  # the writer reaches the lock (the test holds either way)

    searcher.conn = _WriteBetween(searcher.conn, "INSERT INTO search_facet_terms", start_writer, after=True)
    _facets(searcher, "zebra")
    assert searcher.last_facets == "kept counts"
    writes[0].join(60)
    assert _assert_kept_counts_exact(pg_url) > 0
    setup.facet_min_docs = None
    assert _facets(searcher, "zebra") == _facets(setup, "zebra")
    setup.close()
    searcher.close()


@pytest.mark.parametrize("reload", ["bulk_load", "clear"])
def test_a_reload_gives_way_to_a_search_reading_the_tables_one_after_another(pg_url: str, reload: str) -> None:
    """A search reads search_terms, then search_docs; a reload that took search_docs and waited for search_terms
    deadlocked with it (the server killed the reload: DeadlockDetected). It now takes every table at once,
    letting go while a search holds one: both end."""
    articles = [
        Article(
            url=f"https://r.example/{i}", headline=f"Harbour {i}", body="A harbour town.", site="r.example", lang="en"
        )
        for i in range(20)
    ]
    writer = PgSearch(connect(pg_url))
    writer.add(articles)
    search = PgSearch(connect(pg_url), create=False)
    search.conn.execute("SELECT df FROM search_terms WHERE term = 'en:harbour'").fetchall()  # a search's first read
    errors: list[BaseException] = []

    def run() -> None:
        try:
            if reload == "bulk_load":
                writer.bulk_load(iter(articles[:10]), replace=True)
            else:
                writer.clear()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    pid = writer.conn.info.backend_pid
    watch = psycopg.connect(pg_url, autocommit=True)
    for _ in range(500):  # the reload waits for the search's table
        row = watch.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        if row and row[0] == "Lock":
            break
        time.sleep(0.01)
    count = search.conn.execute("SELECT count(*) FROM search_docs").fetchone()[0]  # the search's next read
    search.conn.commit()
    thread.join(30)
    watch.close()
    assert not thread.is_alive() and not errors, errors
    assert count == 20  # the search saw the tables as they were before the reload
    assert search.doc_count() == (10 if reload == "bulk_load" else 0)
    search.conn.commit()
    search.close()
    writer.close()


def _analysed_facts(articles: list[Article]) -> list[tuple[Any, ...]]:
    """Each article's facts as a bulk load's analysis has them (pg_search._Facts), and its lexemes as a writer does."""
    out = []
    for article in articles:
        row, terms, others, *_ = pg_search._analysis(article, 0.0)
        lexemes = [f"{row[5]}:{t}" for t in terms] + others
        out.append(((row[5], terms, others, row[3], row[4], row[7], row[9]), lexemes))
    return out


def test_a_reloads_count_of_kept_terms_is_the_writers_one_document_by_document() -> None:
    """The kept terms a bulk load finds in a document (_Kept.hits: by family, without prefixes) are those a writer
    finds (_kept_of), ``only:`` keys and ``lang:`` terms included, and its counts (_tally: numpy) the writer's
    (_count_facets), for kept sets of every shape."""
    rng = random.Random(5)
    articles = [_random_article(rng, i) for i in range(300)]
    facts = _analysed_facts(articles)
    every = sorted({lex for _, lexemes in facts for lex in lexemes})
    candidates = every + [pg_search.ONLY + lex for lex in every if lex.startswith(("tag:", "by:"))] + ["xx:absent"]
    for size in (1, 3, 10, 40, len(candidates)):
        terms = rng.sample(candidates, min(size, len(candidates)))
        kept = pg_search._Kept(terms)
        expected: Counter[tuple[str, str]] = Counter()
        for (family, terms_, others, site, lang, month, tags), lexemes in facts:
            found = pg_search._kept_of(frozenset(terms), lexemes)
            assert sorted(kept.terms[i - 1] for i in kept.hits(family, terms_, others)) == sorted(found)
            pg_search._count_facets(expected, found, site, lang, month, tags)
        values, counts = pg_search._tally([f for f, _ in facts], kept)
        got = Counter(
            {(kept.terms[i], values[j]): int(counts[j, i]) for j in range(len(values)) for i in range(len(terms))}
        )
        assert +got == +expected, size


@pytest.mark.parametrize("procs", [1, 2])
def test_a_reload_keeps_the_frequent_terms_counts_exact_through_writes_and_the_next_reload(
    pg_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, procs: int
) -> None:
    """bulk_load (reindex, store migrate) keeps from the start the counts of the terms in FACET_LOAD_SHARE of the
    first articles, counted chunk by chunk by the analysis processes: each kept term's counts equal a count of its
    documents, the words' facets are counted on no match and equal counting every match and Whoosh's; then through
    adds, updates that move an article's tags, site, language and date, deletes, and the next reload."""
    monkeypatch.setattr(pg_search, "LOAD_CHUNK", 25)
    monkeypatch.setattr(pg_search, "FACET_LOAD_SAMPLE", 30)
    monkeypatch.setattr(pg_search, "FACET_LOAD_SHARE", 0.15)
    rng = random.Random(procs)
    articles = {a.id: a for a in (_random_article(rng, i) for i in range(160))}
    pg, counted = PgSearch(connect(pg_url)), PgSearch(connect(pg_url))
    pg.facet_min_docs, counted.facet_min_docs = 10, None
    assert pg.bulk_load(iter(articles.values()), procs=procs) == len(articles)
    kept = _assert_kept_counts_exact(pg_url)
    assert kept >= 5
    listed = {r[0] for r in pg.conn.execute("SELECT term FROM search_facet_terms")}
    pg.conn.commit()
    assert {t.partition(":")[0] for t in listed} & {"en", "es", "xx"} and any(t.startswith("lang:") for t in listed)

    def check(round_: int) -> None:
        rebuild(tmp_path / f"index{round_}", list(articles.values()))
        whoosh = WhooshBackend(tmp_path / f"index{round_}")
        from_counts = 0
        for word in _WORDS:
            req = SearchRequest(word, facets=True, limit=1)
            pg.facet_min_docs = 10**9  # keep nothing more: the facets come from the reload's counts or every match
            got = pg.search(req)
            from_counts += pg.last_facets == "kept counts"
            expected = whoosh.search(req)
            assert got.facets == counted.search(req).facets, (round_, word)
            assert (got.total, got.facets) == (expected.total, expected.facets), (round_, word)
        whoosh.close()
        assert from_counts >= 4, round_

    check(0)
    for round_ in range(1, 3):
        moved = [
            replace(
                a,
                tags=tuple(rng.sample(_TAG_POOL, rng.randint(0, 3))),
                site=rng.choice(["s1.example", "s3.example", ""]),
                lang=rng.choice(_LANGS),
                published=rng.choice([None, datetime(2019, rng.randint(1, 12), 9, tzinfo=UTC)]),
            )
            for a in rng.sample(list(articles.values()), 30)
        ]
        fresh = [_random_article(rng, 1000 * round_ + i) for i in range(20)]
        gone = rng.sample(sorted(articles), 15)
        (pg, counted)[round_ % 2].add(moved + fresh)  # either connection's writes keep the counts
        articles.update((a.id, a) for a in moved + fresh)
        (counted, pg)[round_ % 2].delete(gone)
        for doc_id in gone:
            articles.pop(doc_id)
        assert _assert_kept_counts_exact(pg_url) == kept
        check(round_)
    pg.facet_min_docs = 10
    assert pg.bulk_load(iter(articles.values()), replace=True, procs=procs) == len(articles)
    assert _assert_kept_counts_exact(pg_url) >= 5
    check(3)
    pg.close()
    counted.close()


def test_a_reload_keeps_no_term_under_facet_min_docs_and_none_when_counts_are_off(pg_url: str) -> None:
    """The terms of the first articles are kept by a reload only with FACET_MIN_DOCS documents in the end; a backend
    that keeps no counts (facet_min_docs None) counts none at load."""
    rng = random.Random(4)
    articles = [_random_article(rng, i) for i in range(80)]
    pg = PgSearch(connect(pg_url))
    pg.facet_min_docs = 10**6
    pg.bulk_load(iter(articles))
    assert _assert_kept_counts_exact(pg_url) == 0
    pg.facet_min_docs = None
    pg.bulk_load(iter(articles), replace=True)
    assert _assert_kept_counts_exact(pg_url) == 0
    pg.facet_min_docs = 1
    pg.bulk_load(iter(articles), replace=True)
    assert _assert_kept_counts_exact(pg_url) > 0
    pg.close()


def test_facets_from_kept_counts_with_few_matches_to_read_start_no_parallel_workers(pg_url: str) -> None:
    """A word whose parts are all kept (or read from a few documents) is summed with no parallel workers (starting
    them took 10-14 ms of a statement of 0.5 ms once the kept counts' table was large), and the setting is the
    search's own again after it; a word with many matches to read may still use them."""
    pg = PgSearch(connect(pg_url))
    pg.add(_article(i) for i in range(30))
    pg.facet_min_docs = 5
    seen: list[str] = []
    execute = pg.conn.execute

    def spy(query: Any, params: Any = None, **kw: Any) -> Any:
        seen.append(str(query))
        return execute(query, params, **kw)

    pg.conn.execute = spy  # type: ignore[method-assign]
    expected = _facets(pg, "zebra")
    assert pg.last_facets == "kept counts"
    sets = [q for q in seen if "set_config" in q]
    assert len(sets) == 2 and "'0'" in sets[0]
    facet = next(i for i, q in enumerate(seen) if "FROM search_term_facets WHERE term = ANY" in q)
    assert seen.index(sets[0]) < facet < seen.index(sets[1])
    pg.conn.execute = execute  # type: ignore[method-assign]
    pg.facet_min_docs = None
    assert _facets(pg, "zebra") == expected
    pg.close()


def test_store_migrate_and_reindex_keep_the_frequent_terms_counts_exact(
    tour: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commands that reload the search tables (store migrate, then reindex on the PostgreSQL store) keep the load's
    counts: each kept term's counts equal a count of its articles, and each word's facets from them equal counting
    every match."""
    monkeypatch.setattr(pg_search, "FACET_MIN_DOCS", 3)
    monkeypatch.setattr(pg_search, "FACET_LOAD_SAMPLE", 8)
    monkeypatch.setattr(pg_search, "FACET_LOAD_SHARE", 0.3)
    monkeypatch.setattr(pg_search, "LOAD_CHUNK", 4)
    for args in (("store", "migrate", "--to", pg_url), ("--store", pg_url, "reindex")):
        code, _, err = run_cli(tour, *args)
        assert code == 0, err
        assert _assert_kept_counts_exact(pg_url) > 0, args
        from_load, counted = PgSearch(connect(pg_url), create=False), PgSearch(connect(pg_url), create=False)
        from_load.facet_min_docs, counted.facet_min_docs = 10**9, None  # the load's counts, or every match
        answered = 0
        for word in ("grain", "russia", "ukraine", "sea", "said", "the", "black", "crimea"):
            assert _facets(from_load, word) == _facets(counted, word), (args, word)
            answered += from_load.last_facets == "kept counts"
        assert answered >= 2, args
        from_load.close()
        counted.close()
