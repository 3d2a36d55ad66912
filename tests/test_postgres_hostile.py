"""Hostile text on the PostgreSQL store and search: what PostgreSQL cannot hold (NUL, lone surrogates), query words
too long for a lexeme, odd query text, huge articles; each compared with the SQLite store and the Whoosh index.

An article stored by an older version may hold a NUL in any field (the parsers remove them now; the SQLite store
holds them): on PostgreSQL its columns and search terms hold U+FFFD instead (store/pg.pg_text), its JSON keeps the
``\\u0000`` escape, so the article read back is the same on both stores.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import export_jsonl, run_cli
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from newsarchive.analysis import tag_key
from newsarchive.article import Article, clean_text
from newsarchive.errors import QueryError
from newsarchive.index.backend import WhooshBackend
from newsarchive.index.writer import rebuild
from newsarchive.search import SearchRequest
from newsarchive.store.articles import ArticleStore

psycopg = pytest.importorskip("psycopg")

from newsarchive.index.pg_search import MAX_LEXEME_BYTES, PgSearch, connect  # noqa: E402
from newsarchive.store.pg import PgArticleStore, pg_text  # noqa: E402

WORDS = ["harbour", "quiet", "town", "storm", "ferry", "gaza", "política", "غزة", "😀"]
#: Text pieces with what PostgreSQL refuses among them (NUL) and what is odd but fine (marks, emoji, quotes).
PIECES = [*WORDS, " ", "\x00", "a\x00b", "\u200f", "\u200e", "'", "\\", '"', ":", "&", "|", "!", "(", ")", "<->"]


def _text(rng: random.Random, k: int) -> str:
    return "".join(rng.choice(PIECES) + rng.choice(["", " "]) for _ in range(k))


def _older_article(rng: random.Random, n: int) -> Article:
    """An article as an older version stored it in SQLite: a NUL possible in any field (no cleaning)."""
    nul = rng.choice(["", "\x00"])
    return Article(
        url=f"https://x.example/{n}{nul}",
        headline=_text(rng, 4) + " harbour",
        body=_text(rng, 30),
        site=rng.choice(["x.example", "y.exa\x00mple"]),
        lang=rng.choice(["en", "es", "e\x00n", None]),
        byline=tuple(_text(rng, 2) for _ in range(rng.randint(0, 2))),
        tags=tuple(_text(rng, 2) for _ in range(rng.randint(0, 3))),
        section=rng.choice([None, "World", "Wor\x00ld"]),
        description=rng.choice([None, _text(rng, 5)]),
        published=rng.choice([None, datetime(2021, 3, 1, tzinfo=UTC) + timedelta(hours=rng.randrange(24 * 400))]),
        extra=rng.choice([{}, {"k\x00": ["v\x00", 1]}]),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=130)  # two tags of an article one key once NUL is U+FFFD: one article in the facet
def test_articles_with_nul_anywhere_are_stored_listed_and_counted_as_on_sqlite(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    """Before: psycopg refused the NUL of a column ("PostgreSQL text fields cannot contain NUL"), and the tag
    facet failed on the ``\\u0000`` escape of any article's JSON ("cannot be converted to text")."""
    rng = random.Random(seed)
    articles = [_older_article(rng, n) for n in range(8)]
    sqlite = ArticleStore(tmp_path_factory.mktemp("nul") / "store.sqlite")
    pg = PgArticleStore(pg_url)
    try:
        pg.conn.execute("TRUNCATE articles, index_queue, article_versions")
        for article in articles:
            assert pg.upsert(article) == sqlite.upsert(article)
        for article in articles:
            assert pg.get(article.id) == sqlite.get(article.id) == article
            assert pg.get(article.canonical_url) == article
        assert list(pg.iter_articles()) == list(sqlite.iter_articles())
        assert pg.list_by_date() == sqlite.list_by_date()
        expected = {name: sorted((pg_text(k), n) for k, n in pairs) for name, pairs in sqlite.facet_counts().items()}
        got = {name: sorted(pairs) for name, pairs in pg.facet_counts().items()}
        assert got == expected  # tags too: SQLite's json_each ended a tag at its first NUL ("ferry\x00" as "ferry")
        # Tags recounted: each NUL a U+FFFD as in every PostgreSQL column, each key once an article (a facet counts
        # articles: "a\x00b" and "a\ufffdb" are one key there).
        tags = Counter(k for a in articles for k in {pg_text(tag_key(t)) for t in a.tags if tag_key(t)})
        assert dict(got["tag"]) == dict(tags)
        assert pg.stats_by("site") == sorted((pg_text(k), n) for k, n in sqlite.stats_by("site"))
    finally:
        sqlite.close()
        pg.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_articles_with_nul_anywhere_are_indexed_and_found_as_whoosh_finds_them(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    """Before: PgSearch.add failed on a NUL in a headline, tag, author, site, language or section."""
    rng = random.Random(seed)
    articles = [_older_article(rng, n) for n in range(10)]
    root = tmp_path_factory.mktemp("nulsearch")
    rebuild(root / "index", articles)
    whoosh = WhooshBackend(root / "index")
    pg = PgSearch(connect(pg_url))
    try:
        pg.clear()
        assert pg.add(articles) == len(articles)
        for text in ["harbour", *WORDS, "quiet OR storm", '"quiet town"', "harbour NOT ferry", "", "a\x00b", "\x00"]:
            req = SearchRequest(text, limit=20)
            assert pg.search(req).total == whoosh.search(req).total, text
        facets, expected = (b.search(SearchRequest("", facets=True)).facets for b in (pg, whoosh))
        for name in ("lang", "tag", "site", "month"):  # Whoosh's keys hold the NUL, PostgreSQL's U+FFFD
            assert sorted(facets[name]) == sorted((pg_text(k), n) for k, n in expected[name]), name
    finally:
        pg.close()
        whoosh.close()


def test_a_store_of_an_older_version_with_nul_characters_migrates_and_is_searched(tmp_path: Path, pg_url: str) -> None:
    """``store migrate --to postgresql://`` copied row by row with COPY, which refused the NUL of a URL, site or
    language column: the migration failed (rolled back) on one article. Now each NUL of a column is U+FFFD and
    the JSON keeps its escape: the export is the same, the search tables are built and answer."""
    archive = tmp_path / "archive"
    archive.mkdir()
    store = ArticleStore(archive / "store.sqlite")
    rng = random.Random(7)
    for n in range(20):
        store.upsert(_older_article(rng, n))
    store.upsert(Article(url="https://x.example/nul\x00", headline="Storm\x00 harbour", body="quiet", site="s\x00",
                         lang="e\x00n", tags=("ga\x00za",), byline=("Ann\x00",)))  # fmt: skip
    store.close()
    code, _, err = run_cli(archive, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    on_sqlite = export_jsonl(archive)
    code, out, err = run_cli(archive, "--store", pg_url, "export", "--jsonl")
    assert code == 0, err
    import json

    assert [json.loads(line) for line in out.splitlines()] == on_sqlite
    code, _, err = run_cli(archive, "--store", pg_url, "reindex")
    assert code == 0, err
    for args in (["search", "storm"], ["search", "harbour", "--json"], ["search", "--tag", "ga\x00za"], ["stats"]):
        code, out, err = run_cli(archive, "--store", pg_url, *args)
        assert code == 0, (args, err)
    code, out, _ = run_cli(archive, "--store", pg_url, "search", "storm", "--json")
    assert any(h["headline"].startswith("Storm") for h in json.loads(out))


def test_a_json_ld_lone_surrogate_becomes_u_fffd_so_either_store_takes_the_article(pg_url: str, tmp_path: Path) -> None:
    """A page's JSON-LD ``"\\ud800"`` escape decodes to a lone surrogate, which no UTF-8 encodes: computing the
    article's digest failed (UnicodeEncodeError) on either store, stopping the run. clean_text makes it U+FFFD."""
    from newsarchive.parse import parse_html

    html = (
        '<html><head><title>T</title><script type="application/ld+json">{"@type": "NewsArticle",'
        ' "headline": "Head \\ud800 line", "keywords": "a\\u0000b, c\\udfff", "author": {"name": "J\\ud800"},'
        ' "datePublished": "2020-01-01T00:00:00Z"}</script></head><body><article><h1>Head line</h1><p>'
        + "Some text of the article that is long enough to be one. " * 20
        + "</p></article></body></html>"
    )
    article = parse_html(html, "https://x.example/a")
    assert "\ud800" not in article.to_json() and "\udfff" not in article.to_json()
    assert "\ufffd" in article.headline and article.byline == ("J\ufffd",)
    sqlite = ArticleStore(tmp_path / "store.sqlite")
    pg = PgArticleStore(pg_url)
    try:
        assert sqlite.upsert(article) == pg.upsert(article) == "new"
        assert pg.get(article.id) == sqlite.get(article.id) == article
    finally:
        sqlite.close()
        pg.close()


def test_clean_text_replaces_only_lone_surrogates() -> None:
    for text in ["\ud800", "a\udfffb", "\udc80\ud83d"]:
        cleaned = clean_text(text)
        assert cleaned.encode("utf-8") and "\ufffd" in cleaned
        assert clean_text(text, one_line=True) == cleaned
    assert clean_text("ok 😀 غَزة") == "ok 😀 غَزة"


def test_a_query_or_article_word_too_long_for_a_lexeme_matches_nothing_without_an_error(pg_url: str) -> None:
    """PostgreSQL refuses a tsquery word of 2 KB or more ("word is too long in tsquery", a traceback): such a
    word is in no document's vector (documents drop it), so the query word now matches nothing, as a word
    that no article holds; NOT it matches everything."""
    pg = PgSearch(connect(pg_url))
    try:
        a = Article(url="https://x.example/1", headline="Harbour", body="harbour " + "é" * 1100, site="x", lang="en")
        b = Article(url="https://x.example/2", headline="Ferry", body="x" * 2100, site="x", lang="es")
        pg.add([a, b])
        # A query has at most 2,000 characters (search.MAX_QUERY_CHARS): words of 2 KB are of 2-byte letters.
        for long in ["é" * 1001, "ж" * 1100, "ب" * (MAX_LEXEME_BYTES // 2), "é" * 1100 + "*", "ж" * 1050 + "~"]:
            assert pg.search(SearchRequest(long)).total == 0
            assert pg.search(SearchRequest(f"harbour OR {long}")).total == 1
            assert pg.search(SearchRequest(f"harbour {long}")).total == 0
            assert pg.search(SearchRequest(f"NOT {long}")).total == 2
            assert pg.search(SearchRequest(f'"harbour {long}"')).total == 0
            assert pg.search(SearchRequest(f"tags:{long} OR storm")).total == 0
        assert pg.search(SearchRequest("ж" * 1900)).total == 0
        with pytest.raises(QueryError, match="too long"):  # a 1,000-word query: refused, as on Whoosh
            pg.search(SearchRequest("harbour " * 1000))
    finally:
        pg.close()


def test_huge_articles_are_stored_indexed_and_found(pg_url: str, tmp_path: Path) -> None:
    """A 5 MB body, 10,000 tags and a tag of 10,000 characters: stored whole, searchable (a tag key too long
    for a lexeme is left out of the search terms, as a too long word is), counted in the facets."""
    body = "harbour " + "quiet words of a very long text " * 160_000
    many = tuple(f"tag{i}" for i in range(10_000))
    articles = [
        Article(url="https://x.example/big", headline="Big", body=body, site="x", lang="en"),
        Article(url="https://x.example/tags", headline="Tags", body="ferry", site="x", lang="en", tags=many),
        Article(url="https://x.example/long", headline="Long", body="storm", site="x", lang="en", tags=("t" * 10_000,)),
    ]
    store = PgArticleStore(pg_url)
    pg = PgSearch(connect(pg_url))
    try:
        for article in articles:
            store.upsert(article)
            assert store.get(article.id) == article
        assert dict(store.facet_counts()["tag"])["tag9999"] == 1
        pg.add(articles)
        assert pg.search(SearchRequest("harbour")).total == 1
        assert pg.search(SearchRequest("tags:tag9999")).total == 1
        assert pg.search(SearchRequest("storm")).total == 1
        facets = pg.search(SearchRequest("", facets=True)).facets
        assert dict(facets["tag"]).get("tag1") == 1
    finally:
        pg.close()
        store.close()


def test_odd_query_text_gives_whoosh_totals_or_a_clear_query_error(pg_url: str, tmp_path: Path) -> None:
    """Seeded random queries of tsquery metacharacters, quotes, backslashes, marks, emoji, NUL, lone surrogates
    and long words: PostgreSQL answers what Whoosh answers, or both refuse the query with a QueryError."""
    rng = random.Random(11)
    articles = [
        Article(url=f"https://x.example/{n}", headline=_text(rng, 4).replace("\x00", ""),
                body=_text(rng, 40).replace("\x00", ""), site="x", lang=rng.choice(["en", "es", "ar"]),
                tags=("gaza",) if n % 3 else ())
        for n in range(30)
    ]  # fmt: skip
    rebuild(tmp_path / "index", articles)
    whoosh = WhooshBackend(tmp_path / "index")
    pg = PgSearch(connect(pg_url))
    atoms = [*PIECES, "&&", "!!", ":*", "\\\\", "''", "AND", "OR", "NOT", "-", "+", "~", "^2", "[", "]", "{", "}",
             "tags:", "headline:", "\t", "%s", "%(x)s", "{}", "$1", "é" * 1100, "x" * 2100, "\udcff", "غَ",
             "\u064e"]  # fmt: skip
    try:
        pg.add(articles)
        for _ in range(400):
            text = "".join(rng.choice(atoms) + rng.choice(["", " "]) for _ in range(rng.choice([1, 2, 3, 5, 8])))
            req = SearchRequest(text, facets=True, limit=5)
            got: Any
            expected: Any
            try:
                expected = whoosh.search(req)
            except (QueryError, UnicodeEncodeError) as exc:  # Whoosh cannot encode a lone surrogate either
                expected = type(exc)
            try:
                got = pg.search(req)
            except QueryError:
                got = QueryError
            if expected is UnicodeEncodeError:
                continue
            if got is QueryError or expected is QueryError:
                assert got is expected, text
                continue
            assert (got.total, got.facets) == (expected.total, expected.facets), text
    finally:
        pg.close()
        whoosh.close()


def test_nul_and_surrogates_are_the_only_text_changed_for_postgresql() -> None:
    assert pg_text("plain") == "plain"
    text = "غَزة 😀 \u200f"
    assert pg_text(text) is text
    assert pg_text("a\x00b\ud800") == "a\ufffdb\ufffd"


def _surrogate_page(n: int) -> bytes:
    return (
        '<html><head><title>T</title><script type="application/ld+json">{"@type": "NewsArticle",'
        f' "headline": "Storm {n} \\ud800", "datePublished": "2021-01-0{n}T00:00:00Z"}}</script></head><body>'
        f"<article><h1>Storm {n}</h1><p>" + "A storm reached the harbour of the town today. " * 20 + "</p></article>"
        "</body></html>"
    ).encode()


@pytest.mark.parametrize("on", ["sqlite", "postgresql"])
def test_import_of_pages_with_json_ld_lone_surrogates_stores_each_article(
    tmp_path: Path, on: str, request: pytest.FixtureRequest
) -> None:
    """Before: the first such page stopped ``import-warc`` with a traceback on either store (the digest)."""
    from hostile_kit import run, warc

    path = warc(tmp_path / "s.warc.gz", [(f"https://news.example/a/{n}", _surrogate_page(n), None) for n in (1, 2)])
    store = ["--store", request.getfixturevalue("pg_url")] if on == "postgresql" else []
    result = run(tmp_path / "archive", *store, "import-warc", str(path))
    assert result.code == 0 and not result.crashed, result.err
    result = run(tmp_path / "archive", *store, "search", "storm", "--json")
    assert sorted(h["headline"] for h in result.json()) == ["Storm 1 \ufffd", "Storm 2 \ufffd"]  # type: ignore[union-attr]


def _edge_dates(rng: random.Random, n: int) -> list[datetime]:
    """Publication times within hours of a month's edge, in time zones from -12:00 to +14:00, years 1001 to 9999
    (the parsers take years from 1990 on; before 1000 Whoosh's month is "999-12", the stores' "0999-12")."""
    out = []
    for _ in range(n):
        year = rng.choice([1001, 1999, 2000, 2020, 2024, 2038, 9998])
        edge = datetime(year, rng.randint(1, 12), 1, tzinfo=UTC) + timedelta(minutes=rng.randint(-900, 900))
        zone = timezone(timedelta(minutes=rng.choice([-720, -330, 0, 60, 345, 840])))
        out.append(edge.astimezone(zone))
    out.append(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    return out


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_month_counts_and_date_range_totals_at_month_edges_equal_a_recount(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    """Checked, already right: months are UTC months on every backend, ranges are instants."""
    rng = random.Random(seed)
    dates = _edge_dates(rng, 40)
    articles = [
        Article(url=f"https://x.example/{i}", headline="harbour", body="town", site="x", lang="en", published=d)
        for i, d in enumerate(dates)
    ]
    root = tmp_path_factory.mktemp("dates")
    rebuild(root / "index", articles)
    whoosh = WhooshBackend(root / "index")
    sqlite = ArticleStore(root / "store.sqlite")
    pg, store = PgSearch(connect(pg_url)), PgArticleStore(pg_url)
    try:
        pg.clear()
        store.conn.execute("TRUNCATE articles, index_queue, article_versions")
        pg.add(articles)
        for article in articles:
            sqlite.upsert(article), store.upsert(article)
        months = Counter(d.astimezone(UTC).strftime("%Y-%m") for d in dates)
        assert dict(pg.search(SearchRequest("harbour", facets=True)).facets["month"]) == months
        assert dict(whoosh.search(SearchRequest("harbour", facets=True)).facets["month"]) == months
        assert dict(store.facet_counts()["month"]) == dict(sqlite.facet_counts()["month"]) == months
        for _ in range(6):
            lo, hi = sorted(rng.sample(dates, 2))
            lo = lo.astimezone(timezone(timedelta(hours=rng.choice([-5, 0, 9]))))
            expected = sum(1 for d in dates if lo <= d <= hi)
            req = SearchRequest("harbour", date_from=lo, date_to=hi, facets=True)
            if hi.year == 9999:  # the day after the last one is past datetime's range: refused by both
                with pytest.raises(QueryError):
                    whoosh.search(req)
                with pytest.raises(QueryError):
                    pg.search(req)
            else:
                assert pg.search(req).total == whoosh.search(req).total == expected
                assert pg.search(req).facets == whoosh.search(req).facets
            assert store.list_by_date(date_from=lo, date_to=hi)[0] == expected
    finally:
        pg.close()
        store.close()
        sqlite.close()
        whoosh.close()


def test_a_query_byte_that_is_not_utf8_is_searched_not_an_internal_error(tour: Path, pg_url: str) -> None:
    """``newsarchive search $'grain\\xff'``: Python reads the byte as a lone surrogate, which Whoosh could not
    encode (exit 70, "unexpected UnicodeEncodeError"); SearchRequest makes it U+FFFD: both backends answer alike."""
    code, out, err = run_cli(tour, "search", "grain\udcff", "--json")
    assert code == 0, err
    code, _, err = run_cli(tour, "search", "grain", "--tag", "x\udcff")
    assert code == 1 and "Traceback" not in err  # no match: exit 1
    assert SearchRequest("a\udcff", tags=("\ud800",)) == SearchRequest("a\ufffd", tags=("\ufffd",))
    pg, store = PgSearch(connect(pg_url)), ArticleStore(tour / "store.sqlite")
    try:
        pg.add(store.iter_articles())
        import json

        assert {h["id"] for h in json.loads(out)} == {h.id for h in pg.search(SearchRequest("grain\udcff")).hits}
    finally:
        pg.close()
        store.close()


def _long_url(n: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    return "https://news.example/a/long?q=" + "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n)
    )


def _page(n: int) -> bytes:
    text = "A storm reached the harbour of the town today. " * 20
    head = f"<html><head><title>Storm {n}</title></head>"
    return f"{head}<body><article><h1>Storm {n}</h1><p>{text}</p></article></body></html>".encode()


def test_import_of_a_page_with_a_url_too_long_for_a_btree_entry_goes_on(tmp_path: Path, pg_url: str) -> None:
    """A URL of more than 2,704 bytes (URLs are taken up to 8,192 characters) was refused by the B-tree indexes
    of captures and articles ("index row size exceeds btree version 4 maximum 2704"): import-warc stopped there,
    and again on every run. URLs are indexed by hash now; the article is stored and found as on SQLite."""
    from hostile_kit import run, warc

    records = [("https://news.example/a/1", _page(1), None), (_long_url(3500), _page(2), None),
               (_long_url(8000, seed=4), _page(3), None)]  # fmt: skip
    path = warc(tmp_path / "long.warc.gz", records)
    for store in ([], ["--store", pg_url]):
        result = run(tmp_path / "archive", *store, "import-warc", str(path))
        assert result.code == 0 and not result.crashed, result.err
        assert run(tmp_path / "archive", *store, "import-warc", str(path)).code == 0  # again: unchanged
        hits = run(tmp_path / "archive", *store, "search", "storm", "--json").json()
        assert sorted(h["url"] for h in hits) == sorted(url for url, _, _ in records)  # type: ignore[union-attr]
    pg = PgArticleStore(pg_url)
    try:
        assert pg.get(_long_url(3500)) is not None and pg.latest_capture(_long_url(8000, seed=4)) is not None
        with pytest.raises(psycopg.errors.ExclusionViolation):  # the canonical URL stays unique
            pg.conn.execute(
                "INSERT INTO articles SELECT 'x', canonical_url, url, site, lang, published_utc, content_digest,"
                " parser, NULL, first_seen, last_changed, json FROM articles LIMIT 1"
            )
    finally:
        pg.close()


def test_a_store_made_with_btree_url_indexes_gets_hash_indexes_when_opened(pg_url: str) -> None:
    PgArticleStore(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the indexes as a store made before had them
        conn.execute(
            "DROP INDEX captures_url_hash, captures_final_url_hash, articles_url_hash;"
            " ALTER TABLE articles DROP CONSTRAINT articles_canonical_url_once;"
            " ALTER TABLE articles ADD CONSTRAINT articles_canonical_url_key UNIQUE (canonical_url);"
            " CREATE INDEX captures_url ON captures (url); CREATE INDEX captures_final_url ON captures (final_url);"
            " CREATE INDEX articles_url ON articles (url)"
        )
    store = PgArticleStore(pg_url)
    try:
        indexes = {r[0] for r in store.conn.execute("SELECT indexname FROM pg_indexes WHERE tablename IN"
                                                     " ('articles', 'captures')").fetchall()}  # fmt: skip
        assert {"captures_url_hash", "captures_final_url_hash", "articles_url_hash"} <= indexes
        assert not indexes & {"captures_url", "captures_final_url", "articles_url", "articles_canonical_url_key"}
        article = Article(url=_long_url(4000), headline="Storm", body="harbour", site="news.example", lang="en")
        assert store.upsert(article) == "new" and store.upsert(article) == "unchanged"
        assert store.get(article.url) == article
    finally:
        store.close()


def test_the_postgres_frontier_leaves_out_a_url_too_long_for_its_key(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Inserted, a URL of more than 2,704 bytes failed the frontier's statement, and the discovery run with it."""
    from newsarchive.store.pg import connect as pg_connect
    from newsarchive.store.pg_frontier import PgFrontier

    now = datetime(2024, 5, 1, tzinfo=UTC)
    conn = pg_connect(pg_url)
    try:
        frontier = PgFrontier(conn)
        assert frontier.offer(_long_url(5000), source="s", via="sitemap", now=now) == "known"
        assert "not queued" in caplog.text
        assert frontier.offer("https://news.example/a/1", source="s", via="sitemap", now=now) == "new"
        frontier.save_doc_state(_long_url(3000), etag="x", last_modified=None, lastmod=None, now=now)
        frontier.save_feed_metadata(_long_url(3000), "{}")
        assert frontier.doc_state(_long_url(3000)) is None and frontier.feed_metadata(_long_url(3000)) is None
        assert conn.execute("SELECT count(*) FROM frontier").fetchone()[0] == 1
    finally:
        conn.close()


def test_migrating_crawl_state_with_a_url_too_long_for_the_frontiers_key_leaves_that_row_out(
    tmp_path: Path, pg_url: str
) -> None:
    """The SQLite frontier keeps URLs of 8,192 characters; COPY into the PostgreSQL frontier failed on one of more
    than 2,704 bytes, and with it the whole migration. The row is left out (a warning); its article is copied."""
    from newsarchive.store.frontier import Frontier

    archive = tmp_path / "archive"
    archive.mkdir()
    store = ArticleStore(archive / "store.sqlite")
    frontier, now, long = Frontier(store.db), datetime(2024, 1, 1, tzinfo=UTC), _long_url(8000)
    assert frontier.offer(long, source="s", via="sitemap", now=now) == "new"
    assert frontier.offer("https://news.example/ok", source="s", via="sitemap", now=now) == "new"
    frontier.save_doc_state(long, etag=None, last_modified=None, lastmod=None, now=now)
    store.upsert(Article(url=long, headline="Storm", body="harbour", site="news.example", lang="en"))
    store.close()
    code, out, err = run_cli(archive, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    assert "not copied" in err and "1 frontier URLs" in out + err
    code, out, err = run_cli(archive, "--store", pg_url, "export", "--jsonl")
    assert code == 0 and long in out


def test_the_tag_facet_tells_a_nul_from_the_six_characters_backslash_u0000(pg_url: str) -> None:
    """The facet reads each \\u0000 escape of the JSON as U+FFFD, not an escaped backslash followed by "u0000"."""
    store = PgArticleStore(pg_url)
    try:
        tags = ("a\x00b", "\\u0000", "\\\x00", "\\\\u0000x")
        store.upsert(Article(url="https://x.example/1", headline="h\x00", body="b", site="x", lang="en", tags=tags))
        assert sorted(dict(store.facet_counts()["tag"])) == sorted(pg_text(t) for t in tags)
    finally:
        store.close()
