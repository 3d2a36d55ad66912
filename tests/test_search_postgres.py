"""PostgreSQL full-text search (index/pg_search.py) against the Whoosh index: same hits, totals and facets.

The corpus: the tour's articles, the golden fixture articles (Arabic and Spanish among them), a few
hundred generated articles of real English text (bench/make_corpus.py), and generated Spanish,
Arabic and other-language articles whose words carry optional accents and harakat, so stemming,
stop words and normalisation are exercised in every language. Both backends index the same
articles; each query of a list (terms, AND/OR/NOT, phrases, stop words, patterns, fields, tags,
dates, sites, languages) must select the same articles, count the same total and the same facets.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT, TOUR, pg_index_kind, require_shared, run_cli
from pg_reference import doc_terms

from newsarchive.article import Article
from newsarchive.errors import SearchIndexError
from newsarchive.index.backend import WhooshBackend, choose, describe_search
from newsarchive.index.follow import follow, follow_state
from newsarchive.index.pg_search import (
    _FACET_VALUES,
    INDEX_ENV,
    PgSearch,
    _both_counted,
    _facet_term_condition,
    connect,
    count_terms,
)
from newsarchive.index.writer import rebuild
from newsarchive.search import SearchRequest
from newsarchive.store.articles import ArticleStore

psycopg = pytest.importorskip("psycopg")

_ES_WORDS = [
    "política",
    "gobierno",
    "elecciones",
    "presidente",
    "guerra",
    "paz",
    "economía",
    "acuerdo",
    "Kremlin",
    "tropas",
    "envío",
    "ministro",
    "año",
    "niños",
    "educación",
    "sanidad",
    "jueves",
    "miércoles",
    "portavoz",
    "afirmó",
    "declaró",
    "según",
    "países",
    "frontera",
]
_ES_STOP = ["el", "la", "de", "que", "y", "en", "los", "las", "por", "un", "una", "con", "para"]
_AR_WORDS = [
    "غزة",
    "الأمم",
    "المتحدة",
    "أوكرانيا",
    "عسكريين",
    "غربيين",
    "مكشوف",
    "الرئيس",
    "الحكومة",
    "الحرب",
    "السلام",
    "المفاوضات",
    "القدس",
    "فلسطين",
    "الاحتلال",
    "المقاومة",
    "الشعب",
    "مدينة",
    "وزير",
    "الخارجية",
]
_AR_STOP = ["في", "من", "على", "إلى", "أن"]
_HARAKAT = "\u064e\u064f\u0650\u0651"
_TAGS = ["Gaza, Israel", "Economía", "política", "Ukraine", "الحرب"]
_XX_WORDS = ["gouvernement", "élection", "président", "guerre", "paix", "économie", "accord", "ministre"]


def _accentless(word: str) -> str:
    return word.translate(str.maketrans("áéíóú", "aeiou"))


def _spell(rng: random.Random, lang: str, word: str) -> str:
    if lang == "es" and rng.random() < 0.3:
        return _accentless(word)
    if lang == "ar" and rng.random() < 0.3:
        return word[0] + rng.choice(_HARAKAT) + word[1:]  # a diacritic: normalised away
    return word


def _synthetic(n: int, seed: int = 3) -> Iterator[Article]:
    """Spanish, Arabic and French articles with random words: each word in a varied share of them."""
    rng = random.Random(seed)
    start = datetime(2019, 1, 1, tzinfo=UTC)
    for i in range(n):
        lang = ("es", "es-ES", "ar", "fr")[i % 4]
        words, stop = {"e": (_ES_WORDS, _ES_STOP), "a": (_AR_WORDS, _AR_STOP), "f": (_XX_WORDS, [])}[lang[0]]
        key = lang[:2]

        def text(k: int, words: list[str] = words, stop: list[str] = stop, key: str = key) -> str:
            pool = rng.sample(words, min(len(words), rng.randint(3, 9)))
            return " ".join(_spell(rng, key, rng.choice(pool + stop)) for _ in range(k))

        yield Article(
            url=f"https://{key}.example.org/n/{i}",
            headline=text(6),
            body=text(rng.randint(20, 80)) + ". " + text(rng.randint(10, 40)),
            site=f"{key}.example.org" if i % 3 else f"www.other-{key}.example.org",
            lang=lang,
            byline=tuple(rng.sample(["Ana Pérez", "سامي علي", "Jean Dupont", "Marta Gil"], rng.randint(0, 2))),
            # The last three: tags that are also a language, a month and a site (each facet counts its own).
            tags=tuple(rng.sample([*_TAGS, "es", "2020-03", "ar.example.org"], rng.randint(0, 3))),
            section=rng.choice(("Politics", "world", "", "Culture")),
            description=text(12) if i % 5 else None,
            published=None if i % 11 == 0 else start + timedelta(hours=rng.randrange(5 * 365 * 24)),
        )


def _golden() -> list[Article]:
    return [
        Article.from_dict(json.loads(p.read_text("utf-8"))) for p in sorted(FIXTURES.glob("sites/*/*.article.json"))
    ]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Any) -> Iterator[dict[str, Any]]:
    """The corpus in a SQLite store, a Whoosh index of it and the PostgreSQL search tables of it (a GIN index,
    whatever the server offers: NEWSARCHIVE_PG_INDEX=gin)."""
    require_shared("realpages", "zyte-dev", "ground-truth.json")
    sys.path.insert(0, str(ROOT / "bench"))
    from make_corpus import make_articles

    root = tmp_path_factory.mktemp("pgsearch")
    code, _, err = run_cli(root / "archive", "import-warc", str(TOUR))
    assert code == 0, err
    store = ArticleStore(root / "archive" / "store.sqlite")
    for article in [*_golden(), *make_articles(220), *_synthetic(120)]:
        store.upsert(article)
    articles = list(store.iter_articles(order="id"))
    assert len(articles) > 300
    assert {a.lang[:2] for a in articles} >= {"en", "es", "ar", "fr"}
    rebuild(root / "index", articles)
    whoosh = WhooshBackend(root / "index")
    url = pg_cluster.new_database()
    with pg_index_kind("gin"):
        pg = PgSearch(connect(url))
    assert pg.index_kind == "gin"
    for i in range(0, len(articles), 100):
        pg.add(articles[i : i + 100])
    yield {"store": store, "whoosh": whoosh, "pg": pg, "url": url, "articles": articles, "root": root}
    pg.close()
    whoosh.close()
    store.close()


@pytest.fixture(scope="module")
def rum_pg(corpus: dict[str, Any], rum_cluster: Any) -> Iterator[PgSearch]:
    """The corpus's search tables with a RUM index (skipped where the server has no RUM extension)."""
    url = rum_cluster.new_database()
    with pg_index_kind("rum"):
        pg = PgSearch(connect(url))
    assert pg.index_kind == "rum"
    articles = corpus["articles"]
    for i in range(0, len(articles), 100):
        pg.add(articles[i : i + 100])
    yield pg
    pg.close()


def _ids(backend: Any, req: SearchRequest) -> set[str]:
    return {i for batch in backend.iter_ids(req) for i in batch}


Y2020 = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 12, 31, 23, 59, 59, tzinfo=UTC))
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("government", {}),
    ("Government said", {}),
    ("government AND said", {}),
    ("government OR minister", {}),
    ("government NOT said", {}),
    ("NOT government", {}),
    ("(war OR peace) AND NOT president", {}),
    ('"prime minister"', {}),
    ('"the prime minister"', {}),  # a stop word inside an English phrase
    ('"minister said"~3', {}),
    ("the", {}),  # an English stop word: every English article drops it
    ("the of", {}),
    ("our plan", {}),
    ("headline:said", {}),
    ("headline:kremlin OR headline:guerra", {}),
    ("body:government description:said", {}),
    ("gov*", {}),
    ("minist?r", {}),
    ("government*", {}),  # wildcards on stems: the words starting with the letters (newsarchive.wildcard)
    ("governments*", {}),
    ("ministe*", {}),
    ("said*", {}),
    ("gov?rnment", {}),
    ("minis*er", {}),
    ("politic*", {}),
    ("eleccion*", {}),
    ("الحكو*", {}),
    ("المتح*", {}),
    ("وزي*", {}),
    ("الم?حدة", {}),
    ("*ment", {}),
    ("warr~", {}),
    ("goverment~2", {}),
    ("politica", {}),  # no accent: finds política (Spanish folding)
    ("política gobierno", {}),
    ("elecciones OR guerra", {}),
    ('"el presidente"', {}),
    ("el", {}),  # a Spanish stop word (not one in Arabic or French)
    ("غزة", {}),
    ("غَزة", {}),  # with a haraka
    ("الأمم المتحدة", {}),
    ('"الأمم المتحدة"', {}),
    ("في", {}),
    ("في OR غزة", {}),
    ("guerre", {}),
    ("élection", {}),
    ('tags:"gaza, israel"', {}),
    ("tags:ukraine OR tags:economía", {}),
    ("tags:econom*", {}),
    ('byline:"ana pérez"', {}),
    ("site:es.example.org", {}),
    ("lang:ar", {}),
    ("section:politics", {}),
    ("government published:2020", {}),
    ("published:[2020-03 TO 2021-06]", {}),
    ("published:[TO 2019-06-15]", {}),
    ("president published:{2020 TO 2022}", {}),
    ("minister", {"date_from": Y2020[0], "date_to": Y2020[1]}),
    ("said", {"date_from": datetime(2020, 2, 10, 12, tzinfo=UTC), "date_to": datetime(2020, 6, 20, tzinfo=UTC)}),
    ("government", {"sites": ("almayadeen-en",)}),
    ("", {"sites": ("www.other-es.example.org", "ar.example.org")}),
    ("", {"langs": ("es",)}),
    ("", {"tags": ("Gaza, Israel",)}),
    ("", {"authors": ("Marta Gil",)}),
    ("", {"sections": ("Culture",)}),
    ("", {"date_from": Y2020[0], "date_to": Y2020[1]}),
    ("", {}),
    ("president", {"tags": ("política", "Ukraine"), "langs": ("es", "fr")}),
    ("crimea", {}),  # the tour's and the fixtures' article
    ("blinken", {}),
    ("government ANDMAYBE said", {}),  # PostgreSQL: "this query part cannot be searched on PostgreSQL"
    ("NOT (published:2022 ANDNOT (NOT احلرب~1))", {}),  # Whoosh's own matchers lost an article of 2022
    # Whoosh's own matchers failed (IndexError: list index out of range)
    (
        "(NOT published:2024-07 OR président OR published:2021 ANDMAYBE (tags:Ukraine ANDNOT Jueves) ANDMAYBE"
        ' (NOT الاحتل* byline:"سامي علي")) ANDMAYBE Byline:"Jean Dupont"',
        {},
    ),
]
#: Hostile text: every term of a field (was "matches more than 5000 words"), patterns on the filter columns
#: (were "cannot be searched on PostgreSQL"), blanks, marks, emoji, diacritics alone, tsquery syntax, NUL.
HOSTILE_QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("?*", {}),
    ("NOT *?", {}),
    ("tags:?*", {}),
    ("site:?*.example.org", {}),
    ("site:es.exampl~", {}),
    ("lang:a?", {}),
    ("section:?olitics OR section:cult*", {}),
    ("  \t ", {}),
    ("\u200f\u200e", {}),
    ("😀 غزة", {}),
    ("\u064e\u064f", {}),
    ("غَ", {}),
    ("'&|!():* <-> \\ \"", {}),
    ("government\x00said", {}),
]


@pytest.mark.parametrize("kind", ["gin", "rum"])
@pytest.mark.parametrize(
    ("text", "options"),
    QUERIES + HOSTILE_QUERIES,
    ids=[f"{i}:{q}" for i, (q, _) in enumerate(QUERIES + HOSTILE_QUERIES)],
)
def test_same_hits_totals_and_facets_as_whoosh(
    request: pytest.FixtureRequest, corpus: dict[str, Any], kind: str, text: str, options: dict[str, Any]
) -> None:
    """Each query selects the same articles with the same total and facets as Whoosh, with a GIN index and with
    a RUM index; and the RUM index gives exactly what the GIN index gives: the same hits, order and scores."""
    req = SearchRequest(text, facets=True, limit=10, **options)
    if kind == "rum":  # results never depend on the index kind: what GIN gives (so what Whoosh gives)
        rum, gin = request.getfixturevalue("rum_pg"), corpus["pg"]
        got, expected = rum.search(req), gin.search(req)
        assert [(h.id, h.score) for h in got.hits] == [(h.id, h.score) for h in expected.hits]
        assert (got.total, got.facets) == (expected.total, expected.facets)
        assert _ids(rum, req) == _ids(gin, req)
        return
    whoosh, pg = corpus["whoosh"], corpus["pg"]
    expected, got = whoosh.search(req), pg.search(req)  # no store: listings too from the search tables
    assert got.total == expected.total
    assert got.facets == expected.facets
    assert _ids(pg, req) == _ids(whoosh, req)
    assert len(got.hits) == len(expected.hits)
    if req.effective_sort != "relevance":  # date order: the same dates (ties may differ in order)
        assert [h.published for h in got.hits] == [h.published for h in expected.hits]


def test_a_tag_named_like_a_language_a_month_or_a_site_is_counted_in_each_facet_apart(corpus: dict[str, Any]) -> None:
    """The facets are counted in one pass over the matches' tags, sites, languages and months: a tag that is also
    a language, a month or a site counts as a tag, and the language, month and site keep their own counts."""
    articles = corpus["articles"]
    facets = corpus["pg"].search(SearchRequest("", facets=True)).facets
    tagged = {value: sum(1 for a in articles if value in a.tags) for value in ("es", "2020-03", "ar.example.org")}
    assert all(tagged.values()), tagged
    assert {v: n for v, n in facets["tag"] if v in tagged} == tagged
    langs, months, sites = dict(facets["lang"]), dict(facets["month"]), dict(facets["site"])
    assert langs["es"] == sum(1 for a in articles if a.lang.lower().startswith("es"))
    march = [
        a for a in articles if a.published is not None and a.published.astimezone(UTC).strftime("%Y-%m") == "2020-03"
    ]
    assert months["2020-03"] == len(march)
    assert sites["ar.example.org"] == sum(1 for a in articles if a.site == "ar.example.org")


def test_the_corpus_exercises_every_language_and_kind_of_query(corpus: dict[str, Any]) -> None:
    """The differential test means something: most queries find articles, in each language."""
    pg = corpus["pg"]
    totals = [pg.search(SearchRequest(text, **options)).total for text, options in QUERIES]
    empty = [QUERIES[i][0] for i, n in enumerate(totals) if not n]
    assert not empty, empty
    assert len(set(totals)) > len(QUERIES) // 2  # queries that select different articles


def test_newest_first_listing_is_in_date_order(corpus: dict[str, Any]) -> None:
    hits = corpus["pg"].search(SearchRequest(sort="newest", limit=50)).hits
    dates = [h.published for h in hits]
    assert dates == sorted(dates, key=lambda d: d.timestamp(), reverse=True)  # type: ignore[union-attr]
    oldest = corpus["pg"].search(SearchRequest(sort="oldest", limit=5)).hits
    assert oldest[0].published is None  # undated articles first from the oldest end, as Whoosh


def test_relevance_puts_headline_matches_first_and_snippets_mark_words(corpus: dict[str, Any]) -> None:
    results = corpus["pg"].search(SearchRequest("crimea", limit=5), store=corpus["store"])
    assert results.hits and all(h.score is not None for h in results.hits)
    assert results.hits[0].score >= results.hits[-1].score  # type: ignore[operator]
    assert "crimea" in results.hits[0].headline.lower()
    assert "\x02" in results.hits[0].snippet  # the matched word is marked, as Whoosh's snippets


def test_pagination_and_did_you_mean(corpus: dict[str, Any]) -> None:
    pg = corpus["pg"]
    first = pg.search(SearchRequest("government", limit=5))
    second = pg.search(SearchRequest("government", limit=5, page=2))
    assert first.total == second.total and second.page == 2
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}
    suggestion = pg.search(SearchRequest("goverment")).suggestion
    assert suggestion == corpus["whoosh"].search(SearchRequest("goverment")).suggestion
    assert suggestion and suggestion.startswith("government")


def test_stats_names_backend_index_and_ranking(corpus: dict[str, Any]) -> None:
    stats = corpus["pg"].stats()
    assert stats["backend"] == "postgresql"
    assert stats["index"] in ("gin", "rum")
    assert "bm25-like" in stats["ranking"]
    assert stats["documents"] == len(corpus["articles"])
    assert corpus["whoosh"].stats()["backend"] == "whoosh"


def test_a_query_error_is_a_clear_error(corpus: dict[str, Any]) -> None:
    from newsarchive.errors import QueryError

    with pytest.raises(QueryError):
        corpus["pg"].search(SearchRequest("crimea published:2023-13"))


def test_terms_are_the_whoosh_fields_terms() -> None:
    """Lexemes are the analysed terms of the Whoosh fields: stemmed, folded, stop words dropped, per field."""
    article = Article(
        url="https://x.example/a",
        headline="Las elecciones",
        body="La política de los niños",
        site="x.example",
        lang="es",
        tags=("Gaza, Israel",),
    )
    terms, length = doc_terms(article)
    assert set(terms) == {"es:eleccion", "es:polit", "es:nin", "tag:gaza, israel"}
    assert terms["es:eleccion"] == [(1, "A")]  # headline: weight A, the stop word took no position
    assert [w for _, w in terms["es:polit"]] == ["D"] and terms["es:polit"][0][0] > 100  # body, after the gap
    assert length == 3


def test_update_and_delete_keep_counts_and_results_exact(pg_url: str) -> None:
    pg = PgSearch(connect(pg_url))
    a = Article(
        url="https://x.example/1", headline="Blue harbour", body="A quiet harbour town.", site="x.example", lang="en"
    )
    b = Article(
        url="https://x.example/2", headline="Red mountain", body="A harbour far away.", site="x.example", lang="en"
    )
    pg.add([a, b])
    assert pg.search(SearchRequest("harbour")).total == 2
    pg.add([replace(a, body="Nothing left of it.", headline="Blue town")])  # re-indexed: old terms gone
    assert pg.search(SearchRequest("harbour")).total == 1
    assert pg.search(SearchRequest("quiet")).total == 0
    df = dict(pg.conn.execute("SELECT term, df FROM search_terms").fetchall())
    assert df["en:harbour"] == 1 and "en:quiet" not in df and df["en:blue"] == 1
    listed = {r[0] for r in pg.conn.execute("SELECT term FROM search_impacts WHERE id = %s", (a.id,)).fetchall()}
    assert "en:quiet" not in listed and "en:town" in listed  # the impact lists follow the update
    assert pg.delete([b.id, "no-such-id"]) == 1
    assert pg.search(SearchRequest("harbour")).total == 0
    assert pg.doc_count() == 1
    assert not pg.conn.execute("SELECT 1 FROM search_impacts WHERE id = %s", (b.id,)).fetchall()
    pg.conn.commit()
    pg.close()


def test_a_bare_words_total_from_term_counts_equals_its_matches_counted(pg_url: str, tmp_path: Path) -> None:
    """A bare word's total comes from search_terms, and within a date range from search_term_months (no match
    read): the same as counting its matches, and as Whoosh's total, whether the word is in the text of one or
    several languages, is a tag or an author as well (in the same articles or others), for whole months, days
    at the edges and open ranges, after updates and deletes; the month counts equal a recount of the vectors."""
    rng = random.Random(7)
    # stop words: en, en, es; "Harbours" is a tag too, and stems to the text's "harbour" in English only
    words = ["harbour", "gaza", "ukraine", "ana", "plain", "غزة", "now", "its", "con", "Harbours", "GAZA"]
    tag_pool = ["Gaza", "Ukraine", "harbour", "غزة", "Now", "other", "Harbours"]
    start = datetime(2022, 11, 20, tzinfo=UTC)
    arts = []
    for i in range(80):
        lang = ("en", "es", "ar", "fr")[i % 4]
        text = " ".join(rng.choice(words + [f"filler{k}" for k in range(30)]) for _ in range(rng.randint(2, 6)))
        arts.append(
            Article(
                url=f"https://x.example/w/{i}", headline=text[:30], body=text, site="x.example", lang=lang,
                tags=tuple(rng.sample(tag_pool, rng.randint(0, 2))),
                byline=tuple(rng.sample(["Ana", "Plain", "Someone"], rng.randint(0, 1))),
                published=None if i % 9 == 0 else start + timedelta(hours=rng.randrange(500 * 24)),
            )
        )  # fmt: skip
    for i, when in enumerate((datetime(2023, 3, 1, 12), datetime(2023, 12, 31, 23, 59, 59, 500000))):
        for lang in ("en", "ar"):  # at the edge of a range, in the part of its month outside it
            arts.append(
                Article(
                    url=f"https://x.example/edge/{lang}{i}", headline="gaza harbour غزة", body="now",
                    site="x.example", lang=lang, tags=("Gaza",), published=when.replace(tzinfo=UTC),
                )
            )  # fmt: skip
    pg = PgSearch(connect(pg_url))
    whoosh = WhooshBackend(tmp_path / "index", create=True)
    day = timedelta(days=1)
    spans = [
        (None, None),
        (datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),  # whole months
        (datetime(2023, 3, 15, 6, tzinfo=UTC), datetime(2024, 2, 10, tzinfo=UTC)),  # and days at both edges
        (datetime(2023, 6, 1, tzinfo=UTC) - 3 * day / 24, None),  # a few hours before a month, open after
        (datetime(2023, 3, 1, 13, tzinfo=UTC), datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)),  # edges: most of
        (datetime(2023, 3, 1, 11, tzinfo=UTC), datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)),  # a month
        (None, datetime(2023, 4, 30, 23, 59, 59, 999999, tzinfo=UTC)),
        (datetime(2023, 5, 2, tzinfo=UTC), datetime(2023, 5, 20, tzinfo=UTC)),  # inside one month: counted
    ]

    def check() -> None:
        for word in words:
            for lo, hi in spans:
                req = SearchRequest(word, date_from=lo, date_to=hi)
                cond, tr = pg.translate(req)
                assert (tr.word is not None) == ((lo, hi) != spans[-1]), (word, lo, hi)  # answered from the counts
                from_counts, counted = pg._count(cond, None, tr), pg._count(cond)  # without tr: matches counted
                listed = pg.search(replace(req, sort="newest")).total
                assert from_counts == counted == listed == whoosh.search(req).total, (word, lo, hi)
                if tr.word is not None and word.lower() in ("gaza", "harbours", "غزة"):  # a key with its word:
                    assert _both_counted(tr.word, f"tag:{word.lower()}")  # both from counts, none read
        for lo, hi in spans:  # date listings: their totals from the counts too (every article has a lang: term)
            req = SearchRequest("", date_from=lo, date_to=hi)
            cond, tr = pg.translate(req)
            assert tr.listing and (tr.months is not None) == ((lo, hi) not in (spans[0], spans[-1])), (lo, hi)
            assert pg._count(cond, None, tr) == pg._count(cond) == whoosh.search(req).total, (lo, hi)
        # The month counts and document frequencies, recounted from the vectors (count_terms from their lexemes).
        months: Counter[tuple[str, str]] = Counter()
        df: Counter[str] = Counter()
        rows = pg.conn.execute("SELECT tsvector_to_array(tv), lkey, lang, month FROM search_docs").fetchall()
        for lexemes, family, lang, month in rows:
            held = lexemes + count_terms(lexemes, family, lang)
            df.update(held)
            months.update((t, month) for t in held if month is not None)
        kept = pg.conn.execute("SELECT term, month, n FROM search_term_months WHERE n <> 0 ORDER BY 1, 2").fetchall()
        kept_df = pg.conn.execute("SELECT term, df FROM search_terms WHERE df <> 0").fetchall()
        pg.conn.commit()
        assert kept == sorted((t, m, n) for (t, m), n in months.items()) and kept
        assert dict(kept_df) == df
        assert any(t.startswith("both:tag:") for t in df) and any(t.startswith("both:by:") for t in df)
        assert {t for t in df if t.startswith("lang:")} == {"lang:en", "lang:es", "lang:ar", "lang:fr"}

    pg.add(arts)
    whoosh.add(arts)
    check()
    changed = [replace(a, tags=("Gaza",), body="plain words only", published=start) for a in arts[:15]]
    pg.add(changed)
    whoosh.add(changed)
    pg.delete([a.id for a in arts[40:50]])
    whoosh.delete([a.id for a in arts[40:50]])
    check()
    pg.bulk_load([*changed, *arts[15:40], *arts[50:]], replace=True)  # the server's count of the same articles
    check()
    later = [replace(a, body="written after the load", published=start) for a in arts[15:20]]
    pg.add(later)  # the counts' key, built again at the end of the load, takes the updates
    whoosh.add(later)
    check()
    assert pg.translate(SearchRequest("headline:gaza"))[1].word is None  # a field: its matches are counted
    assert pg.translate(SearchRequest("gaza", tags=("Ukraine",)))[1].word is None  # so with another filter
    pg.close()


def test_terms_with_quotes_backslashes_commas_and_braces_are_counted_and_removed_exactly(
    pg_url: str, pg_cluster: Any
) -> None:
    """The write path sends its term lists as array literals: every character a tag or an author may hold
    reaches search_terms as it is, and goes when its last article does."""
    pg = PgSearch(connect(pg_url))
    odd = ['say "hi"', "back\\slash", "{braces}, comma", "NULL", 'a\\"b', "ünïcode ك"]
    a = Article(
        url="https://x.example/odd", headline="Odd tags", body="Plain words.", site="x.example", lang="en",
        tags=odd, byline=["O'Brien \\ Co"],
    )  # fmt: skip
    pg.add([a])
    df = dict(pg.conn.execute("SELECT term, df FROM search_terms").fetchall())
    wanted = {"tag:" + t.lower() for t in odd} | {"by:o'brien \\ co"}
    assert {t: df.get(t) for t in wanted} == dict.fromkeys(wanted, 1)
    assert pg.search(SearchRequest("plain", tags=("{braces}, comma",))).total == 1
    b = Article(
        url="https://x.example/odd2", headline="Odd\ttab", body="Back\\slash and\nnewline.", site="x.example",
        lang="en", tags=odd, byline=["O'Brien \\ Co"], section="a\tb\\c",
        published=datetime(2024, 3, 5, 7, 15, 30, 123456, tzinfo=UTC),
    )  # fmt: skip
    bulk = PgSearch(connect(pg_cluster.new_database()))  # and the same rows through a bulk load's COPY text
    assert bulk.bulk_load([a, b], procs=1) == 2
    pg.add([b])
    docs = f"SELECT {_DOC_COLUMNS}, tv::text FROM search_docs ORDER BY id"
    assert bulk.conn.execute(docs).fetchall() == pg.conn.execute(docs).fetchall()
    terms = "SELECT term, df FROM search_terms ORDER BY term"
    assert bulk.conn.execute(terms).fetchall() == pg.conn.execute(terms).fetchall()
    bulk.conn.commit()
    bulk.close()
    assert pg.delete([a.id, b.id]) == 2
    assert pg.conn.execute("SELECT term FROM search_terms").fetchall() == []
    pg.conn.commit()
    pg.close()


def test_a_one_field_terms_frequency_from_running_sums_is_the_positional_sum_bit_for_bit() -> None:
    """_tf's shortcut (one field: a precomputed running sum) gives the very float of the sum over positions,
    clamped positions and more than 256 of them included, so the impact lists do not change."""
    from newsarchive.index.pg_search import _tf, _tf_positions

    rng = random.Random(5)
    for _ in range(3000):
        k = rng.choice([1, 2, 3, 7, 50, 255, 256, 257, 400])
        start = rng.choice([0, 1, 100, 16_000, 16_380])
        fields = [(sorted(rng.sample(range(start, start + 3 * k + 5), k)), rng.choice("ABD"))]
        assert _tf(fields) == _tf_positions(fields)
    assert _tf([([1, 5], "A"), ([120], "D")]) == _tf_positions([([1, 5], "A"), ([120], "D")])


def test_impacts_skipping_lexemes_with_too_few_positions_equal_computing_every_factor() -> None:
    """doc_impacts skips a one-field lexeme with fewer positions than its weight needs at this document length
    (_fewest_positions): the same lexemes and factors as computing each one, over generated documents."""
    from newsarchive.index.pg_search import IMPACT_FLOOR, MAX_POSITION, _tf, bm25_factor, doc_impacts

    rng = random.Random(9)
    for _ in range(400):
        length, avgdl = rng.choice([1, 5, 40, 400, 3000, 20000]), rng.choice([50.0, 400.0, 1234.5])
        terms: dict[str, list[tuple[list[int], str]]] = {}
        for n in range(rng.randint(1, 60)):
            fields = []
            for letter in rng.sample("ABD", rng.choice([1, 1, 1, 2, 3])):
                k = rng.choice([1, 1, 2, 3, 5, 9, 40, 300])
                base = rng.choice([1, 500, MAX_POSITION - 3])
                fields.append((sorted(rng.sample(range(base, base + 3 * k), k)), letter))
            terms[f"en:w{n}"] = fields
        terms["tag:w1"] = [([1], "C")]
        expected = []
        for lex, fields in terms.items():
            if not lex.startswith("tag:") and (f := bm25_factor(_tf(fields), length, avgdl)) >= IMPACT_FLOOR:
                expected.append((lex, f))
        assert doc_impacts(terms, length, avgdl) == expected


@pytest.mark.slow
def test_ranked_top_from_the_impact_lists_equals_ranking_every_match(corpus: dict[str, Any]) -> None:
    """The impact lists only shortcut the ranking: the same hits in the same order with the same scores."""
    pg = corpus["pg"]
    full = PgSearch(connect(corpus["url"]), create=False)
    full.use_impacts = False
    used = 0
    try:
        for text, options in [*QUERIES, ("government minister", {}), ("said", {"limit": 3, "page": 4})]:
            req = SearchRequest(text, **{"limit": 10, **options})
            if req.effective_sort != "relevance":
                continue
            got, expected = pg.search(req), full.search(req)
            used += pg.last_ranking == "impacts"
            assert got.total == expected.total, text
            assert [h.id for h in got.hits] == [h.id for h in expected.hits], text
            assert [h.score for h in got.hits] == pytest.approx([h.score for h in expected.hits]), text
    finally:
        full.close()
    assert used >= 10  # the word queries with enough matches took the shortcut


def test_a_stop_words_ranked_top_equals_ranking_every_match(pg_url: str) -> None:
    """A stop word of some languages matches every document of those (score 0 unless it holds the word's tag or
    author key): its top is read from the few others and the first of those languages by id, and is the top
    of ranking every match: the same hits, order and scores, on every page, with and without dates."""
    rng = random.Random(11)
    start = datetime(2022, 12, 25, tzinfo=UTC)
    texts = {
        "en": ["now the harbour", "its plan", "plain words", "the town"],
        "es": ["con la gente", "the now es", "ahora mismo"],
        "ar": ["في غزة الآن", "now في", "قال"],
        "fr": ["maintenant now", "its avec", "le port"],
    }
    arts = []
    for i in range(160):
        lang = ("en", "en", "es", "ar", "fr")[i % 5]
        body = " ".join(rng.choice(texts[lang]) for _ in range(rng.randint(1, 4)))
        arts.append(
            Article(
                url=f"https://x.example/s/{i}", headline=body[:20], body=body, site="x.example", lang=lang,
                tags=tuple(rng.sample(["Now", "Its", "Con", "other"], rng.randint(0, 1))),
                byline=("Now",) if i % 37 == 0 else (),
                published=None if i % 11 == 0 else start + timedelta(hours=rng.randrange(60 * 24)),
            )
        )  # fmt: skip
    pg = PgSearch(connect(pg_url))
    pg.add(arts)
    full = PgSearch(connect(pg_url), create=False)
    full.use_impacts = False
    used = 0
    spans = [(None, None), (datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 1, 31, 23, 59, 59, tzinfo=UTC))]
    spans.append((datetime(2023, 1, 3, 5, tzinfo=UTC), None))
    try:
        for word in ("now", "its", "con", "the", "في", "Now"):
            for lo, hi in spans:
                for page in (1, 2, 5):
                    req = SearchRequest(word, date_from=lo, date_to=hi, limit=4, page=page)
                    got, expected = pg.search(req), full.search(req)
                    used += pg.last_ranking == "stop word"
                    assert got.total == expected.total, (word, lo, page)
                    assert [h.id for h in got.hits] == [h.id for h in expected.hits], (word, lo, page)
                    assert [h.score for h in got.hits] == pytest.approx([h.score for h in expected.hits])
    finally:
        full.close()
        pg.close()
    assert used >= 30


def test_impact_factors_are_the_rankings_factors(corpus: dict[str, Any]) -> None:
    """search_impacts holds, for each document and bare word, the BM25 factor the SQL ranking computes
    (from ts_rank on the stored vector), for every factor reaching the floor and no other."""
    from newsarchive.index.pg_search import IMPACT_FLOOR

    pg = corpus["pg"]
    rows = pg.conn.execute(
        "SELECT i.term, i.id, i.impact, (2.2 / (1 + 1.2 * (0.25 + 0.75 * d.dl / %s)"
        " / (ts_rank('{0.5,0,0.5,1}', d.tv, quote_literal(i.term)::tsquery, 0) * 1.64493406685 * 2)))::float8"
        " FROM search_impacts i JOIN search_docs d ON d.id = i.id",
        (pg.avgdl,),
    ).fetchall()
    pg.conn.commit()
    assert len(rows) > 1000
    for term, doc_id, stored, computed in rows:
        assert stored == pytest.approx(computed, rel=1e-5), (term, doc_id)
        assert computed >= IMPACT_FLOOR * (1 - 1e-5)
    listed = pg.conn.execute("SELECT count(*) FROM search_impacts").fetchone()[0]
    reaching = pg.conn.execute(
        "SELECT count(*) FROM search_docs d, unnest(tsvector_to_array(d.tv)) AS t(term)"
        " WHERE t.term NOT LIKE 'tag:%%' AND t.term NOT LIKE 'by:%%' AND 2.2 / (1 + 1.2 * (0.25 + 0.75 * d.dl / %s)"
        " / nullif(ts_rank('{0.5,0,0.5,1}', d.tv, quote_literal(t.term)::tsquery, 0) * 1.64493406685 * 2, 0))"
        " >= %s",
        (pg.avgdl, IMPACT_FLOOR * (1 + 1e-5)),
    ).fetchone()[0]
    pg.conn.commit()
    assert reaching <= listed and listed - reaching < listed // 100  # only rounding at the floor differs


_DOC_COLUMNS = "id, url, title, site, lang, lkey, section, month, published, tags, byline, dl"


@pytest.mark.parametrize("procs", [1, 2])
def test_bulk_load_equals_adding(pg_cluster: Any, corpus: dict[str, Any], procs: int) -> None:
    """The rows a bulk load copies (analysed in worker processes, sent as COPY text) are the rows add inserts, and the
    counts it makes in the server (each lexeme's documents: its months' and the undated documents') are add's."""
    assert any(a.published is None for a in corpus["articles"])  # the undated ones' lexemes are counted apart
    pg = PgSearch(connect(pg_cluster.new_database()))
    assert pg.bulk_load(iter(corpus["articles"]), procs=procs) == len(corpus["articles"])
    for text in ("government", '"prime minister"', "في", "politica", "tags:ukraine"):
        req = SearchRequest(text, facets=True)
        assert pg.search(req).facets == corpus["pg"].search(req).facets
        assert _ids(pg, req) == _ids(corpus["pg"], req)
    terms = pg.conn.execute("SELECT term, df FROM search_terms ORDER BY term").fetchall()
    assert terms == corpus["pg"].conn.execute("SELECT term, df FROM search_terms ORDER BY term").fetchall()
    months = "SELECT term, month, n FROM search_term_months WHERE n <> 0 ORDER BY term, month"
    assert pg.conn.execute(months).fetchall() == corpus["pg"].conn.execute(months).fetchall()
    impacts = "SELECT term, id, impact FROM search_impacts ORDER BY term, id"
    assert pg.conn.execute(impacts).fetchall() == corpus["pg"].conn.execute(impacts).fetchall()
    docs = f"SELECT {_DOC_COLUMNS}, tv::text FROM search_docs ORDER BY id"  # the rows as COPY text, as inserted
    assert pg.conn.execute(docs).fetchall() == corpus["pg"].conn.execute(docs).fetchall()
    assert pg.conn.execute("SELECT docs, length FROM search_stats").fetchall() == (
        corpus["pg"].conn.execute("SELECT docs, length FROM search_stats").fetchall()
    )
    pg.conn.commit()
    corpus["pg"].conn.commit()
    pg.close()


def test_a_local_whoosh_index_follows_the_shared_changes(pg_cluster: Any, tmp_path: Path) -> None:
    """reindex from the store, then incremental sync from the change counter: adds, updates, deletes."""
    store = ArticleStore(tmp_path / "store.sqlite")
    pg = PgSearch(connect(pg_cluster.new_database()))
    first = [
        Article(url=f"https://x.example/{i}", headline=f"Story {i}", body=f"harbour {i}", site="x.example", lang="en")
        for i in range(5)
    ]
    for a in first:
        store.upsert(a)
    pg.add(first)
    local = tmp_path / "index"
    result = follow(local, pg, store)
    assert result.rebuilt and WhooshBackend(local).search(SearchRequest("harbour")).total == 5
    counter = follow_state(local)
    assert counter is not None and counter[1] == pg.change_counter()

    changed = replace(first[0], body="lighthouse")
    store.upsert(changed)
    new = Article(url="https://x.example/new", headline="New", body="harbour lighthouse", site="x.example", lang="en")
    store.upsert(new)
    pg.add([changed, new])
    store.db.execute("DELETE FROM articles WHERE id = ?", (first[1].id,))  # gone from the shared store
    pg.delete([first[1].id])
    result = follow(local, pg, store)
    assert not result.rebuilt and (result.written, result.deleted) == (2, 1)
    backend = WhooshBackend(local)
    assert backend.search(SearchRequest("harbour")).total == 4  # 5 - changed - deleted + new
    assert backend.search(SearchRequest("lighthouse")).total == 2
    assert follow(local, pg, store).written == 0  # nothing new: nothing done
    backend.close()

    other = PgSearch(connect(pg_cluster.new_database()))  # another database: another identity, rebuilt
    assert follow(local, other, store).rebuilt
    other.close()
    pg.close()
    store.close()


def test_choose_backend_from_store_and_setting() -> None:
    from newsarchive.errors import UsageError

    assert choose(None, None) == "whoosh"
    assert choose("postgresql://h/db", None) == "postgresql"
    assert choose("postgresql://h/db", "whoosh") == "whoosh"
    assert choose("postgres://h/db", "pg") == "postgresql"
    with pytest.raises(UsageError):
        choose(None, "postgresql")
    with pytest.raises(UsageError):
        choose(None, "elastic")


def test_reloading_the_tables_numbers_only_what_changed(pg_url: str) -> None:
    """reindex on PostgreSQL reloads the tables in one transaction; a follower re-reads only the articles
    that came, went or were waiting in the index queue, not the whole archive."""
    pg = PgSearch(connect(pg_url))
    a, b, c = (
        Article(url=f"https://x.example/{k}", headline=k, body=f"{k} harbour", site="x.example", lang="en")
        for k in ("a", "b", "c")
    )
    pg.add([a, b])
    before = pg.change_counter()
    assert pg.bulk_load([a, c], replace=True, changed=["queued-id"]) == 2
    ids, after = pg.changes_since(before)
    assert set(ids) == {b.id, c.id, "queued-id"} and after == pg.change_counter()
    assert pg.search(SearchRequest("harbour")).total == 2 and pg.doc_count() == 2
    with pytest.raises(SearchIndexError):
        pg.bulk_load([b])  # not empty, not replace: refused
    pg.close()


# --- the CLI on a PostgreSQL store ------------------------------------------------------------------


@pytest.fixture
def tour_on_pg(tour: Path, pg_url: str) -> str:
    """The tour archive copied to a PostgreSQL store (store migrate), its search tables built (reindex)."""
    code, _, err = run_cli(tour, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    code, _, err = run_cli(tour, "--store", pg_url, "reindex")
    assert code == 0, err
    return pg_url


def _hit_ids(archive: Path, *args: str) -> tuple[int, set[str]]:
    code, out, _ = run_cli(archive, *args, "--json")
    return code, {h["id"] for h in json.loads(out)} if code == 0 else set()


@pytest.mark.parametrize("query", ["grain", "crimea OR russia", '"black sea"', "ukrain*", "blinkin~", "NOT grain"])
def test_search_and_export_on_a_postgres_store_find_what_sqlite_finds(tour: Path, tour_on_pg: str, query: str) -> None:
    on_sqlite = _hit_ids(tour, "search", query, "-n", "50")
    on_pg = _hit_ids(tour, "--store", tour_on_pg, "search", query, "-n", "50")
    assert on_pg == on_sqlite
    exported = run_cli(tour, "--store", tour_on_pg, "export", query, "--jsonl")[1]
    assert {json.loads(line)["id"] for line in exported.splitlines()} == on_sqlite[1]


def _stats(archive: Path, *args: str) -> tuple[dict[str, Any], str]:
    code, out, err = run_cli(archive, *args, "stats", "--json")
    assert code == 0, err
    code, text, err = run_cli(archive, *args, "stats")
    assert code == 0, err
    return json.loads(out)["search"], next(line for line in text.splitlines() if "search:" in line)


@pytest.mark.slow
def test_an_index_kind_stays_until_a_rebuild_chooses_again(
    tour: Path, rum_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables made with GIN (as on a server without RUM) keep their GIN index when RUM appears, through reads
    and writes; reindex then builds RUM; NEWSARCHIVE_PG_INDEX=gin (or a server losing RUM's favour) changes
    nothing until the next reindex. stats, text and --json, names the index and the ranking each time."""
    monkeypatch.setenv(INDEX_ENV, "gin")
    code, _, err = run_cli(tour, "store", "migrate", "--to", rum_url)
    assert code == 0, err
    expected = _hit_ids(tour, "search", "grain")
    monkeypatch.delenv(INDEX_ENV)  # auto: this server offers RUM
    data, line = _stats(tour, "--store", rum_url)
    assert data["index"] == "gin" and "GIN index" in line and "bm25-like" in data["ranking"]
    assert data["ranking"] in line
    assert _hit_ids(tour, "--store", rum_url, "search", "grain") == expected
    code, _, err = run_cli(tour, "--store", rum_url, "import-warc", str(TOUR))  # a write: add() on GIN tables
    assert code == 0, err
    assert _stats(tour, "--store", rum_url)[0]["index"] == "gin"
    assert run_cli(tour, "--store", rum_url, "reindex")[0] == 0  # a rebuild chooses again: RUM
    data, line = _stats(tour, "--store", rum_url)
    assert data["index"] == "rum" and "RUM index" in line and data["ranking"] in line
    assert _hit_ids(tour, "--store", rum_url, "search", "grain") == expected
    monkeypatch.setenv(INDEX_ENV, "gin")
    assert run_cli(tour, "--store", rum_url, "import-warc", str(TOUR))[0] == 0
    assert _stats(tour, "--store", rum_url)[0]["index"] == "rum"
    assert _hit_ids(tour, "--store", rum_url, "search", "grain") == expected
    assert run_cli(tour, "--store", rum_url, "reindex")[0] == 0
    assert _stats(tour, "--store", rum_url)[0]["index"] == "gin"
    assert _hit_ids(tour, "--store", rum_url, "search", "grain") == expected
    with psycopg.connect(rum_url) as conn:  # one text index, of the kind the tables say
        kinds = conn.execute(
            "SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am"
            " ON am.oid = c.relam WHERE i.indrelid = 'search_docs'::regclass AND am.amname IN ('gin', 'rum')"
        ).fetchall()
    assert kinds == [("gin",)]
    monkeypatch.setenv(INDEX_ENV, "brin")
    code, _, err = run_cli(tour, "--store", rum_url, "reindex")
    assert code == 2 and "NEWSARCHIVE_PG_INDEX='brin'" in err and "auto, gin or rum" in err


def test_stats_says_which_search_answers_and_how_it_ranks(tour: Path, tour_on_pg: str) -> None:
    data = json.loads(run_cli(tour, "--store", tour_on_pg, "stats", "--json")[1])
    assert data["search"]["backend"] == "postgresql" and "bm25-like" in data["search"]["ranking"]
    assert "search: postgresql" in run_cli(tour, "--store", tour_on_pg, "stats")[1]
    assert json.loads(run_cli(tour, "stats", "--json")[1])["search"]["backend"] == "whoosh"


def test_a_postgres_store_without_search_tables_says_how_to_build_them(tour: Path, pg_url: str) -> None:
    """store migrate builds the search tables; a store without them (made before) gets a hint, reindex builds them."""
    code, _, err = run_cli(tour, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    assert _hit_ids(tour, "--store", pg_url, "search", "grain") == _hit_ids(tour, "search", "grain")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE search_docs, search_meta, search_terms, search_stats, search_changes")
    code, _, err = run_cli(tour, "--store", pg_url, "search", "grain")
    assert code != 0 and "newsarchive reindex" in err and "Traceback" not in err
    assert run_cli(tour, "--store", pg_url, "reindex")[0] == 0
    assert _hit_ids(tour, "--store", pg_url, "search", "grain") == _hit_ids(tour, "search", "grain")


def test_a_local_whoosh_index_follows_a_postgres_store_from_the_cli(
    tour: Path, tour_on_pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    laptop = tmp_path / "laptop"
    monkeypatch.setenv("NEWSARCHIVE_SEARCH", "whoosh")
    code, _, err = run_cli(laptop, "--store", tour_on_pg, "reindex")
    assert code == 0, err
    assert follow_state(laptop / "index") is not None
    assert _hit_ids(laptop, "--store", tour_on_pg, "search", "grain") == _hit_ids(tour, "search", "grain")
    data = json.loads(run_cli(laptop, "--store", tour_on_pg, "stats", "--json")[1])
    assert data["search"]["backend"] == "whoosh"


def test_the_search_setting_in_sources_toml_and_its_errors(tour: Path, tour_on_pg: str, tmp_path: Path) -> None:
    import shutil

    archive = tmp_path / "a"
    shutil.copytree(tour, archive)
    (archive / "sources.toml").write_text('[settings]\nsearch = "whoosh"\n', "utf-8")
    data = json.loads(run_cli(archive, "--store", tour_on_pg, "stats", "--json")[1])
    assert data["search"]["backend"] == "whoosh"
    (archive / "sources.toml").write_text('[settings]\nsearch = "elastic"\n', "utf-8")
    code, _, err = run_cli(archive, "--store", tour_on_pg, "search", "grain")
    assert code == 2 and "search = 'elastic'" in err and "auto, whoosh, postgresql" in err
    (archive / "sources.toml").write_text('[settings]\nsearch = "postgresql"\n', "utf-8")
    code, _, err = run_cli(archive, "search", "grain")  # a SQLite store has no shared tables to search
    assert code == 2 and "needs a PostgreSQL store" in err


def test_reindex_replaces_search_tables_of_another_version(tour: Path, tour_on_pg: str) -> None:
    with psycopg.connect(tour_on_pg, autocommit=True) as conn:
        conn.execute("UPDATE search_meta SET value = '0' WHERE key = 'version'")
        identity = conn.execute("SELECT value FROM search_meta WHERE key = 'identity'").fetchone()[0]
    code, _, err = run_cli(tour, "--store", tour_on_pg, "search", "grain")
    assert code != 0 and "another version" in err and "newsarchive reindex" in err
    assert run_cli(tour, "--store", tour_on_pg, "reindex")[0] == 0
    assert _hit_ids(tour, "--store", tour_on_pg, "search", "grain") == _hit_ids(tour, "search", "grain")
    with psycopg.connect(tour_on_pg) as conn:  # a new identity: a following index rebuilds
        assert conn.execute("SELECT value FROM search_meta WHERE key = 'identity'").fetchone()[0] != identity


def test_a_date_filter_is_one_range_of_publication_times() -> None:
    """--from/--to (whole months and partial edges) is one range the date index bounds, not an OR it scans."""
    from newsarchive.index.pg_search import Translation
    from newsarchive.search import build_filter

    req = SearchRequest(date_from=datetime(2019, 2, 10, 12, tzinfo=UTC), date_to=datetime(2020, 6, 20, tzinfo=UTC))
    sql = Translation(None).sql(build_filter(req))  # type: ignore[arg-type]
    assert sql.text == "(d.published >= %s AND d.published <= %s)"
    assert sql.params == [datetime(2019, 2, 10, 12), datetime(2020, 6, 20)]


def test_a_writing_command_rebuilds_outdated_search_tables(tour: Path, tour_on_pg: str) -> None:
    """As an outdated Whoosh index is rebuilt by the next write, so are outdated search tables."""
    with psycopg.connect(tour_on_pg, autocommit=True) as conn:
        conn.execute("UPDATE search_meta SET value = '0' WHERE key = 'version'")
    code, _, err = run_cli(tour, "--store", tour_on_pg, "import-warc", str(TOUR))
    assert code == 0, err
    assert _hit_ids(tour, "--store", tour_on_pg, "search", "grain") == _hit_ids(tour, "search", "grain")


def _facet_words(articles: list[Article]) -> list[str]:
    """Bare words of every kind for facets: frequent and rare words of each language, stop words (whole languages
    match), words that are also tags (a key beside the text), and a tag's word alone."""
    rng = random.Random(11)
    words = Counter(w.lower() for a in articles for w in a.headline.split() if w.isalpha())
    common = [w for w, _ in words.most_common(25)]
    return [
        *common,
        *rng.sample(sorted(words), 15),
        *_ES_STOP[:3],
        *_AR_STOP[:3],
        *_AR_WORDS[:4],
        "the",
        "and",
        "ukraine",
        "israel",
        "economía",
        "الحرب",
        "politica",
    ]


def _compare_facets(cached: PgSearch, counted: PgSearch, whoosh: Any, words: list[str]) -> int:
    """Each word's facets from kept counts equal those counted on every match (and Whoosh's): how many words
    were answered from kept counts."""
    from_counts = 0
    for word in words:
        req = SearchRequest(word, facets=True, limit=1)
        got = cached.search(req)
        assert got.facets == counted.search(req).facets, word
        if whoosh is not None:
            assert got.facets == whoosh.search(req).facets, word
        from_counts += cached.last_facets == "kept counts"
    return from_counts


@pytest.mark.parametrize("least", [1, 12])
def test_facets_from_kept_counts_equal_counting_every_match_through_adds_updates_and_deletes(
    pg_cluster: Any, corpus: dict[str, Any], least: int
) -> None:
    """A frequent word's facets come from counts kept per term (search_term_facets), made by the first facet
    search that needs them and kept exact by every write after it: through re-indexed articles whose tags, site,
    language and date changed, deletions and new articles, they equal the facets counted on every match (and
    Whoosh's, before the changes). ``least``: 1, every term's counts kept; 12, some terms kept and the others'
    matches read (the documents of a rarer key alone among them)."""
    url = pg_cluster.new_database()
    cached, counted = PgSearch(connect(url)), PgSearch(connect(url))
    cached.facet_min_docs, counted.facet_min_docs = least, None  # terms kept from `least` documents / none
    # Articles tagged with a word their text may not hold ("zebra": its English lexeme kept from 12 documents, the
    # tag's documents read), or with a stop word ("the": its English articles all match, its others by the tag).
    tagged = [
        Article(
            url=f"https://tagged.example/{i}",
            headline=("A zebra crossing" if i % 3 == 0 else "Crossing the road") + f" {i}",
            body="Traffic in the town centre." * (i + 1),
            site="tagged.example",
            lang=("en", "es", "ar", "fr")[i % 4],
            tags=(("Zebra", "The") if i % 2 else ("zebra",)),
            byline=("Zebra",) if i in (1, 2, 5) else (),  # an author key beside the tag, the word not in the text
            published=datetime(2021, 1 + i % 12, 3, tzinfo=UTC),
        )
        for i in range(9)
    ] + [
        Article(
            url=f"https://zebra.example/{i}", headline=f"Zebras {i}", body="A zebra.", site="zebra.example", lang="en"
        )
        for i in range(15)
    ]
    cached.add(corpus["articles"])
    words = [*_facet_words(corpus["articles"]), "zebra"]
    _compare_facets(cached, counted, corpus["whoosh"], words)  # the same articles as Whoosh's
    articles = corpus["articles"] + tagged
    cached.add(tagged)
    answered = _compare_facets(cached, counted, None, words)
    kept = {r[0] for r in cached.conn.execute("SELECT term FROM search_facet_terms")}
    cached.conn.commit()
    assert {"lang:en", "lang:es"} <= kept and {t[:3] for t in kept} >= {"ar:", "en:", "es:", "xx:"}
    if least == 1:
        assert answered == len(words)
        assert "only:tag:ukraine" in kept  # the documents of a key without its word: counted too
    else:
        assert len(words) // 3 < answered < len(words)
    rng = random.Random(5)
    for round_ in range(3):
        changed = [
            replace(
                a,
                tags=tuple(rng.sample([*_TAGS, "Ukraine", "ukraine ", "new tag"], rng.randint(0, 3))),
                site=rng.choice([a.site, "moved.example"]),
                lang=rng.choice([a.lang, "en", "ar"]),
                published=rng.choice([a.published, None, datetime(2030, 1, round_ + 1, tzinfo=UTC)]),
            )
            for a in rng.sample(articles, 40)
        ]
        gone = [a.id for a in rng.sample(articles, 15)]
        fresh = [replace(a, url=f"{a.url}?copy={round_}", id="", canonical_url="") for a in rng.sample(articles, 20)]
        cached.add(changed)
        counted.delete(gone)  # any writer keeps the counts, whichever connection made them
        cached.add(fresh)
        assert _compare_facets(cached, counted, None, words) >= answered  # more terms reach `least`
    counts = cached.conn.execute("SELECT count(*) FROM search_term_facets WHERE n < 0").fetchone()[0]
    assert counts == 0
    cached.conn.commit()
    cached.close()
    counted.close()


def test_facet_counts_are_replaced_by_a_reloads_own_and_kept_again_by_the_next_search(
    pg_cluster: Any, corpus: dict[str, Any]
) -> None:
    """A reload drops the counts searches kept: it keeps its own (the frequent terms of its first articles: none for
    a backend that keeps no counts), exact for its articles; the next facet searches keep theirs again."""
    url = pg_cluster.new_database()
    pg = PgSearch(connect(url))
    pg.facet_min_docs = 1
    pg.add(corpus["articles"])
    req = SearchRequest("government", facets=True)
    before = pg.search(req).facets
    assert pg.conn.execute("SELECT count(*) FROM search_facet_terms").fetchone()[0] > 0
    pg.conn.commit()
    assert "facet counts kept for 1 frequent term)" in describe_search(pg.stats())  # en:govern
    pg.facet_min_docs = None
    pg.bulk_load(iter(corpus["articles"][:200]), replace=True)
    assert pg.conn.execute("SELECT count(*) FROM search_facet_terms").fetchone()[0] == 0
    pg.conn.commit()
    expected = pg.search(req).facets
    assert expected != before  # fewer articles
    pg.facet_min_docs = 1
    assert pg.search(req).facets == expected
    assert pg.last_facets == "kept counts"
    pg.bulk_load(iter(corpus["articles"][:150]), replace=True)
    kept = [r[0] for r in pg.conn.execute("SELECT term FROM search_facet_terms")]
    assert kept
    for term in kept:
        cond, param = _facet_term_condition(term)
        recount = dict(pg.conn.execute(_FACET_VALUES.format(cond), (param,)).fetchall())
        assert dict(pg.conn.execute("SELECT value, n FROM search_term_facets WHERE term = %s", (term,))) == recount
    pg.conn.commit()
    pg.clear()
    assert pg.conn.execute("SELECT count(*) FROM search_term_facets").fetchone()[0] == 0
    pg.conn.commit()
    pg.close()


def test_a_search_role_without_write_rights_counts_facets_on_every_match(
    pg_cluster: Any, corpus: dict[str, Any]
) -> None:
    """Facet counts are kept by the searches that need them: a role that may only read (GRANT SELECT) counts on
    every match instead, with no error and the same facets."""
    url = pg_cluster.new_database()
    owner = PgSearch(connect(url))
    owner.add(corpus["articles"])
    owner.close()
    role = f"facet_reader_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    reader = PgSearch(connect(url.replace("postgres@", f"{role}@", 1)), create=False)
    reader.facet_min_docs = 1
    for word in ("government", "the", "الحرب"):
        req = SearchRequest(word, facets=True)
        assert reader.search(req).facets == corpus["pg"].search(req).facets
    assert reader.conn.execute("SELECT count(*) FROM search_facet_terms").fetchone()[0] == 0
    reader.close()


def test_search_tables_of_version_4_are_upgraded_in_place_by_their_owner(
    pg_cluster: Any, corpus: dict[str, Any]
) -> None:
    """Version 5 only adds the facet count tables: tables of version 4 are read as they are (facets counted on
    every match) and upgraded by the next writer that owns them, without a rebuild."""
    url = pg_cluster.new_database()
    pg = PgSearch(connect(url))
    pg.add(corpus["articles"][:50])
    pg.close()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP TABLE search_facet_terms, search_term_facets")
        admin.execute("UPDATE search_meta SET value = '4' WHERE key = 'version'")
    role = f"facet_worker_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
        admin.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    with pytest.raises(SearchIndexError, match="only their owner") as refused:  # a worker may not add tables
        PgSearch(connect(url.replace("postgres@", f"{role}@", 1)))
    assert "as the role that owns" in (refused.value.hint or "")
    reader = PgSearch(connect(url), create=False)
    assert not reader.facet_counts
    req = SearchRequest("government", facets=True)
    reader.facet_min_docs = 1
    old = reader.search(req)
    reader.close()
    writer = PgSearch(connect(url))
    assert writer.facet_counts and writer.doc_count() == 50
    assert writer.conn.execute("SELECT value FROM search_meta WHERE key = 'version'").fetchone()[0] == "5"
    writer.facet_min_docs = 1
    assert writer.search(req).facets == old.facets
    assert writer.conn.execute("SELECT count(*) FROM search_facet_terms").fetchone()[0] > 0
    writer.conn.commit()
    writer.close()


def test_a_write_after_a_read_commits_on_its_own(pg_url: str, corpus: dict[str, Any]) -> None:
    """A read (doc_count, identity) leaves its transaction open: a write after it was a savepoint inside it,
    holding the writers' lock, seen by no one, and lost when the connection closed. It commits on its own now."""
    pg = PgSearch(connect(pg_url))
    assert pg.doc_count() == 0 and pg.identity
    pg.add(corpus["articles"][:3])
    other = PgSearch(connect(pg_url), create=False)
    assert other.doc_count() == 3  # committed, seen by another connection
    other.conn.commit()
    assert pg.identity
    pg.delete([corpus["articles"][0].id])
    pg.close()  # closed before any further commit
    assert other.doc_count() == 2
    other.close()


def test_tables_of_a_newer_version_are_never_rebuilt_by_an_older_one(tour: Path, tour_on_pg: str) -> None:
    """A fleet is upgraded one machine at a time: a machine still on the older version is told to upgrade, and
    its writing command leaves the newer tables as they are (it used to rebuild them to its own version)."""
    with psycopg.connect(tour_on_pg, autocommit=True) as conn:
        conn.execute("UPDATE search_meta SET value = '99' WHERE key = 'version'")
        identity = conn.execute("SELECT value FROM search_meta WHERE key = 'identity'").fetchone()[0]
    for args in (("import-warc", str(TOUR)), ("search", "grain"), ("reindex",)):
        code, _, err = run_cli(tour, "--store", tour_on_pg, *args)
        assert code != 0 and "newer version" in err and "upgrade newsarchive" in err, (args, err)
    with psycopg.connect(tour_on_pg) as conn:
        assert conn.execute(
            "SELECT value FROM search_meta WHERE key IN ('version', 'identity') ORDER BY key"
        ).fetchall() == [
            (identity,),
            ("99",),
        ]


def test_a_bulk_load_leaves_every_page_all_visible_without_a_vacuum(pg_cluster: Any, corpus: dict[str, Any]) -> None:
    """The rows are copied frozen (COPY FREEZE into the tables emptied in the same transaction): counts over dates
    are index-only scans at once, without the VACUUM a load used to end with."""
    pg = PgSearch(connect(pg_cluster.new_database()))
    pg.bulk_load(iter(corpus["articles"]))
    for table in ("search_docs", "search_impacts"):
        pages, visible = pg.conn.execute(
            "SELECT relpages, relallvisible FROM pg_class WHERE relname = %s", (table,)
        ).fetchone()
        assert pages > 0 and visible == pages, table
    plan = pg.conn.execute(
        "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM search_docs WHERE published >= '2019-01-01'"
        " AND published < '2021-01-01'"
    ).fetchall()
    pg.conn.commit()
    text = "\n".join(r[0] for r in plan)
    assert "Index Only Scan" not in text or "Heap Fetches: 0" in text
    pg.close()


# --- random queries of the documented grammar: both backends give the same answers ---------------------------

#: Words of the corpus in each language (and the stop words of some), as the grammar's terms.
_EN_WORDS = ["government", "minister", "said", "president", "war", "peace", "crimea", "blinken", "ukraine", "talks"]
_GRAMMAR_WORDS = [*_EN_WORDS, *_ES_WORDS, *_AR_WORDS, *_XX_WORDS]
_GRAMMAR_STOP = ["the", "of", "its", "now", "el", "la", "في", "من"]
_GRAMMAR_TAGS = [*_TAGS, "es", "2020-03", "Crimea", "Antony Blinken"]
_GRAMMAR_AUTHORS = ["Ana Pérez", "سامي علي", "Jean Dupont", "Marta Gil", "ana"]
_GRAMMAR_SITES = ["es.example.org", "www.other-es.example.org", "ar.example.org", "english.almayadeen.net"]
_OPERATORS = [" ", " AND ", " OR ", " NOT ", " AND NOT ", " OR NOT ", " ANDNOT ", " ANDMAYBE "]


def _grammar() -> Any:
    """A strategy of query texts from docs/search.md's grammar (hypothesis is imported here: the module's other
    tests do not need it)."""
    from hypothesis import strategies as st

    def cased(text: str) -> Any:
        return st.sampled_from([text, text.lower(), text.upper(), text.title()])

    def harakat(word: str) -> Any:
        if not any("\u0600" <= c <= "\u06ff" for c in word):
            return st.just(word)
        return st.sampled_from(_HARAKAT).map(lambda mark: word[0] + mark + word[1:]) | st.just(word)

    word = st.sampled_from(_GRAMMAR_WORDS).flatmap(cased).flatmap(harakat) | st.sampled_from(_GRAMMAR_STOP)
    lower = st.sampled_from(_GRAMMAR_WORDS).map(str.lower)
    phrase = st.builds(
        lambda words, slop: '"' + " ".join(words) + '"' + slop,
        st.lists(word, min_size=1, max_size=3),
        st.sampled_from(["", "", "~2", "~4"]),
    )
    prefix = lower.flatmap(lambda w: st.integers(1, len(w)).map(lambda k: w[:k] + "*"))
    # Not at the first letter: a pattern starting with a wildcard reads every term (seconds each; HOSTILE_QUERIES).
    inner = lower.flatmap(lambda w: st.integers(1, len(w) - 1).map(lambda i: w[:i] + "?" + w[i + 1 :]))
    swapped = lower.flatmap(
        lambda w: st.integers(0, max(len(w) - 2, 0)).map(lambda i: w[:i] + w[i + 1 : i + 2] + w[i : i + 1] + w[i + 2 :])
    )
    fuzzy = st.builds(lambda w, d: w + d, swapped, st.sampled_from(["~", "~1", "~2"]))
    text_field = st.sampled_from(["headline", "description", "body"]).flatmap(cased)
    fielded = st.builds(lambda f, v: f"{f}:{v}", text_field, word | phrase | prefix | fuzzy)
    tag = st.sampled_from(_GRAMMAR_TAGS).flatmap(cased).map(lambda v: f'"{v}"' if " " in v or "," in v else v)
    author = st.sampled_from(_GRAMMAR_AUTHORS).flatmap(cased).map(lambda v: f'"{v}"' if " " in v else v)
    keys = (
        st.builds(lambda f, v: f"{f}:{v}", st.sampled_from(["tags", "Tags"]), tag | prefix | fuzzy)
        | st.builds(lambda f, v: f"{f}:{v}", st.sampled_from(["byline", "BYLINE"]), author)
        | st.builds(lambda v: f"site:{v}", st.sampled_from(_GRAMMAR_SITES) | st.just("es.exampl*"))
        | st.builds(lambda v: f"Lang:{v}", st.sampled_from(["en", "es", "AR", "fr", "en-GB", "e?"]))
        | st.builds(lambda v: f"section:{v}", st.sampled_from(["politics", "World", "cult*", "Culture"]))
    )
    day = st.builds(
        lambda y, m, d, k: [f"{y}", f"{y}-{m:02d}", f"{y}-{m:02d}-{d:02d}"][k],
        st.integers(2018, 2024),
        st.integers(1, 12),
        st.integers(1, 28),
        st.integers(0, 2),
    )
    dates = st.builds(lambda d: f"published:{d}", day) | st.builds(
        lambda a, b, lo, hi: f"published:{lo}{min(a, b) if a else ''} TO {max(a, b) if b else ''}{hi}".replace(
            f"{lo} TO", f"{lo}TO"
        ).replace(f" TO {hi}", f" TO{hi}"),
        day | st.just(""),
        day,
        st.sampled_from("[{"),
        st.sampled_from("]}"),
    )
    odd = st.sampled_from(["()", '""', "-", "NOT ()", "*", "headline:[a TO f]", "tags:[e TO h}"]) | st.builds(
        lambda w, b: f"{w}^{b}", word, st.sampled_from(["2", "0.5"])
    )
    leaf = word | word | phrase | prefix | inner | fuzzy | fielded | keys | dates | odd

    def combine(parts: Any) -> Any:
        return st.builds(
            lambda items, op, negated, grouped: (
                ("(" if grouped else "") + ("NOT " if negated else "") + op.join(items) + (")" if grouped else "")
            ),
            st.lists(parts, min_size=2, max_size=3),
            st.sampled_from(_OPERATORS),
            st.booleans(),
            st.booleans(),
        )

    return st.recursive(leaf, combine, max_leaves=6)


def _request_options() -> Any:
    from zoneinfo import ZoneInfo

    from hypothesis import strategies as st

    from newsarchive.search import parse_date_bound

    day = st.builds(lambda y, m: f"{y}-{m:02d}", st.integers(2018, 2024), st.integers(1, 12))
    return st.fixed_dictionaries(
        {},
        optional={
            "date_from": day.map(lambda d: parse_date_bound(d, end=False)),
            "date_to": day.map(lambda d: parse_date_bound(d, end=True)),
            "sites": st.sampled_from(_GRAMMAR_SITES).map(lambda s: (s,)),
            "langs": st.sampled_from(["en", "es", "ar", "fr"]).map(lambda s: (s,)),
            "tags": st.sampled_from(_GRAMMAR_TAGS).map(lambda s: (s,)),
            "authors": st.sampled_from(_GRAMMAR_AUTHORS).map(lambda s: (s,)),
            "sections": st.sampled_from(["Politics", "culture"]).map(lambda s: (s,)),
            "sort": st.sampled_from(["newest", "oldest", "relevance"]),
            "tz": st.sampled_from(["Asia/Beirut", "America/Santiago", "Pacific/Kiritimati"]).map(ZoneInfo),
            "page": st.integers(2, 4),
        },
    )


def _answer(backend: Any, req: SearchRequest) -> tuple[Any, ...]:
    """What a search answers that both backends must agree on: the total, the facets, every matching id (export),
    the hits' dates in date order (ties may come in another order), the page's size and the suggestion; or the
    usage error. Relevance orders differ by design (BM25F against PostgreSQL's BM25-like ranking)."""
    from newsarchive.errors import QueryError

    try:
        results = backend.search(req)
        ids = frozenset(_ids(backend, req))
    except QueryError as exc:
        return ("error", exc.message)
    dates = [h.published for h in results.hits] if req.effective_sort != "relevance" else None
    return (results.total, results.facets, ids, dates, len(results.hits), results.suggestion)


@pytest.mark.slow
def test_random_queries_of_the_grammar_give_the_same_answers_on_both_backends(corpus: dict[str, Any]) -> None:
    """Terms in every language and case, phrases (with slop), field:value with fields in any case, NOT/AND/OR/
    ANDNOT/ANDMAYBE and groups, wildcards, fuzzy terms, published: dates and ranges, empty parts, boosts, with
    --from/--to, --tz and the other filters: the same total, facets, matches, date order, page and suggestion,
    or the same usage error, on the Whoosh index and on PostgreSQL (ANDMAYBE was "cannot be searched on
    PostgreSQL")."""
    from hypothesis import HealthCheck, given, settings

    whoosh, pg = corpus["whoosh"], corpus["pg"]
    answered = {"hits": 0, "none": 0, "error": 0}

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=_grammar(), options=_request_options())
    def check(text: str, options: dict[str, Any]) -> None:
        if options.get("sort") == "relevance" and not text.strip():
            options = {**options, "sort": None}  # refused on the command line: no query to rank by
        req = SearchRequest(text, facets=True, limit=10, **options)
        if options.get("sort") == "relevance" and not req.has_text:
            req = replace(req, sort=None)
        expected, got = _answer(whoosh, req), _answer(pg, req)
        assert got == expected, (text, options)
        answered["error" if expected[0] == "error" else "hits" if expected[0] else "none"] += 1

    check()
    # The queries mean something: many find articles, some find none, a few are refused (on both backends alike).
    assert answered["hits"] >= sum(answered.values()) // 4 and answered["none"] and answered["error"], answered
