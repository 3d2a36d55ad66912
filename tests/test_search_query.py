"""Search: query language, filters, sorting, paging, facets, did-you-mean and language-aware matching."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from whoosh import query
from whoosh.index import Index

from newsarchive.article import Article
from newsarchive.errors import QueryError
from newsarchive.index.filters import DocsFilter
from newsarchive.index.writer import create_index, write_articles
from newsarchive.search import SearchRequest, search
from newsarchive.store.articles import ArticleStore

ARTICLES = [
    Article(url="https://a.example/1", headline="Crimea talks stall", body="Blinken met officials running the talks.",
            site="alpha", lang="en", tags=("Antony Blinken", "Crimea"), byline=("Jane Roe",), section="Politics",
            published=datetime(2023, 2, 16, 8, tzinfo=UTC)),
    Article(url="https://a.example/2", headline="Grain corridor reopens", body="The Black Sea grain deal resumed.",
            site="alpha", lang="en", tags=("Grain",), byline=("John Doe",), section="Economy",
            published=datetime(2023, 7, 2, tzinfo=UTC)),
    Article(url="https://b.example/3", headline="Las políticas del gobierno", body="El gobierno anunció políticas.",
            site="beta", lang="es", tags=("Gobierno",), published=datetime(2024, 3, 16, tzinfo=UTC)),
    Article(url="https://c.example/4", headline="الحُكُومَة تعلن", body="أعلنت الحكومة اليوم عن خطة جديدة للمدرسة.",
            site="gamma", lang="ar", published=datetime(2024, 5, 1, tzinfo=UTC)),
]  # fmt: skip


# Built once for the module: every test here only reads them.
@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory) -> Index:
    index = create_index(tmp_path_factory.mktemp("search-query") / "ix")
    write_articles(index, ARTICLES)
    return index


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArticleStore]:
    s = ArticleStore(tmp_path_factory.mktemp("search-query") / "store.sqlite")
    for a in ARTICLES:
        s.upsert(a)
    yield s
    s.close()


def _urls(ix: Index, req: SearchRequest, store: ArticleStore | None = None) -> list[str]:
    return [h.url for h in search(ix, req, store=store).hits]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("crimea OR grain", {"https://a.example/1", "https://a.example/2"}),
        ("talks NOT grain", {"https://a.example/1"}),
        ('"black sea"', {"https://a.example/2"}),
        ('"sea black"', set()),
        ("headline:corridor", {"https://a.example/2"}),
        ("body:corridor", set()),
        ('tags:"antony blinken"', {"https://a.example/1"}),
        ("byline:jane roe", set()),
        ("corr*", {"https://a.example/2"}),
        ("blinkin~", {"https://a.example/1"}),
        ("tags:rgain~", {"https://a.example/2"}),  # a tag's fuzzy term keeps its edits and its (empty) prefix
        ("tags:grian~2", {"https://a.example/2"}),
        ("tags:goberino~2", {"https://b.example/3"}),
        ("tags:gobern~1", set()),  # two letters missing
        ("run", {"https://a.example/1"}),  # English stemming: running -> run
        ("politica", {"https://b.example/3"}),  # Spanish stemming, accent optional
    ],
)
def test_query_language(ix: Index, text: str, expected: set[str]) -> None:
    assert set(_urls(ix, SearchRequest(text))) == expected


@pytest.mark.parametrize("query", ["الحكومه", "الحكومة", "حكومة", "أعلنت", "اعلنت", "الحــكومة"])
def test_an_arabic_query_finds_arabic_articles_whatever_the_spelling_variant(ix: Index, query: str) -> None:
    assert _urls(ix, SearchRequest(query)) == ["https://c.example/4"]


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        (SearchRequest(sites=("alpha",), sort="oldest"), ["https://a.example/1", "https://a.example/2"]),
        (SearchRequest(tags=("grain",)), ["https://a.example/2"]),
        (SearchRequest(authors=("JANE ROE",)), ["https://a.example/1"]),
        (SearchRequest(langs=("es",)), ["https://b.example/3"]),
        (SearchRequest(sections=("economy",)), ["https://a.example/2"]),
        (SearchRequest(sites=("beta", "gamma")), ["https://c.example/4", "https://b.example/3"]),
        (SearchRequest("grain OR crimea", sites=("alpha",), date_from=datetime(2023, 6, 1, tzinfo=UTC)),
         ["https://a.example/2"]),
    ],
)  # fmt: skip
def test_filters_restrict_with_or_without_the_store(
    ix: Index, store: ArticleStore, req: SearchRequest, expected: list[str]
) -> None:
    assert _urls(ix, req) == expected
    assert _urls(ix, req, store) == expected


def test_offset_and_page_select_the_same_window(ix: Index, store: ArticleStore) -> None:
    by_page = search(ix, SearchRequest(limit=1, page=3), store=store)
    by_offset = search(ix, SearchRequest(limit=1, offset=2), store=store)
    assert [h.url for h in by_page.hits] == [h.url for h in by_offset.hits] == ["https://a.example/2"]
    assert by_page.total == 4 and by_page.pages == 4


def test_snippets_mark_the_matched_words_from_the_stored_text(ix: Index, store: ArticleStore) -> None:
    hit = search(ix, SearchRequest("grain deal"), store=store).hits[0]
    assert "\x02grain\x03" in hit.snippet and "\x02deal\x03" in hit.snippet


def test_facets_count_site_tag_language_and_month(ix: Index, store: ArticleStore) -> None:
    from_index = search(ix, SearchRequest("crimea OR grain OR gobierno", facets=True)).facets
    from_store = search(ix, SearchRequest(facets=True, date_to=datetime(2024, 3, 31, tzinfo=UTC)), store=store).facets
    for facets in (from_index, from_store):
        assert facets["site"] == [("alpha", 2), ("beta", 1)]
        assert facets["month"] == [("2023-02", 1), ("2023-07", 1), ("2024-03", 1)]
        assert ("antony blinken", 1) in facets["tag"]
        assert dict(facets["lang"]) == {"en": 2, "es": 1}


def test_zero_hits_suggest_a_close_indexed_word(ix: Index) -> None:
    results = search(ix, SearchRequest("corrridor"))
    assert results.total == 0
    assert results.suggestion == "corridor"


def test_a_query_with_unbalanced_syntax_is_an_error_or_a_search_never_a_crash(ix: Index) -> None:
    try:
        results = search(ix, SearchRequest('"crimea AND (grain'))
    except QueryError as exc:
        assert "query" in exc.message
    else:
        assert results.total >= 0


def _parsed(ix: Index, text: str) -> object:
    """The tree the query parser builds (``build_query`` without its plain-words shortcut)."""
    from newsarchive.search import _parser, _schema_of, _to_languages

    return _to_languages(_parser().parse(text, normalize=False), _schema_of(ix)).normalize()


def test_plain_words_build_the_tree_the_parser_builds(ix: Index) -> None:
    """build_query builds a query of plain words itself (no parser): the same tree, leaf for leaf and
    boost for boost, in the same order (scores add in that order), repeated words dropped as normalize()
    drops them, stop words dropped per language as _to_languages drops them; anything else (operators,
    punctuation, fields, phrases) still goes to the parser."""
    import random

    from newsarchive.search import _parser, _plain_parse, _plain_query, _plain_words, _schema_of, build_query

    vocabulary = [
        *("crimea", "Crimea", "talks", "running", "ran", "2023", "Ünïcode", "straße", "ΣΟΦΟΣ", "İstanbul", "東京"),
        *("الحكومة", "والحكومة", "وزير", "gobierno", "políticas", "niño", "año", "and", "or", "to", "not"),
        *(
            "AND",
            "OR",
            "NOT",
            "TO",
            "ANDNOT",
            "the",
            "The",
            "than",
            "في",
            "من",
            "el",
            "la",
            "a",
            "y",
            "x",
            "oil",
            "gas",
            "our",
            "very",
            "de",
            "que",
            "Los",
        ),
    ]
    rng = random.Random(5)
    plain = direct = dropped = 0
    for _ in range(600):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.choice((1, 1, 2, 2, 3, 4))))
        words = _plain_words(text)
        try:
            expected = _parsed(ix, text)
        except Exception:  # operators in odd places: the parser fails, and so does build_query
            assert words is None
            with pytest.raises(QueryError):
                build_query(ix, text)
            continue
        assert build_query(ix, text) == expected, text
        if words is not None:
            assert _plain_parse(words) == _parser().parse(text, normalize=False), text
            plain += 1
            fast = _plain_query(words, _schema_of(ix))
            if fast is not None:
                assert fast == expected, text
                direct += 1
                dropped += isinstance(fast, query.Or) and any(isinstance(p, query.And | DocsFilter) for p in fast)
    assert plain > 250 and direct > 200 and dropped > 100
    for text in ("crimea AND talks", "tags:crimea", '"black sea"', "talk*", "U.S", "a_b", "crimea -talks"):
        assert _plain_words(text) is None, text


@pytest.mark.parametrize("segments", [1, len(ARTICLES)])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("blinekn~", {"https://a.example/1"}),  # two swapped letters: one edit
        ("crmiea~", {"https://a.example/1"}),
        ("tags:crmiea~", {"https://a.example/1"}),
        ("corirdor~", {"https://a.example/2"}),
        ("talsk~", {"https://a.example/1"}),  # the stem 'talk' is one edit from 'tals', 'talsk' two
        ("goberino~2", {"https://b.example/3"}),  # a swap and a changed letter
        ("blinkne~", {"https://a.example/1"}),
        ("lbinken~", {"https://a.example/1"}),
        ("nilbken~", set()),  # not a swap of neighbours: two edits
    ],
)
def test_a_fuzzy_term_counts_two_swapped_letters_as_one_edit_however_many_segments_the_index_has(
    tmp_path_factory: pytest.TempPathFactory, segments: int, text: str, expected: set[str]
) -> None:
    """``word~`` is within one Damerau-Levenshtein edit, as Whoosh's ``terms_within`` documents and as PostgreSQL
    search expands it: an index of several segments answered so, one of a single segment (Whoosh's automaton, no
    transpositions) did not: ``blinekn~`` found Blinken or not depending on how the index was written."""
    index = create_index(tmp_path_factory.mktemp("fuzzy") / "ix")
    if segments == 1:
        write_articles(index, ARTICLES)
    else:
        for article in ARTICLES:
            write_articles(index, [article])
    with index.searcher() as searcher:
        assert len(searcher.subsearchers or [searcher]) == segments
    assert set(_urls(index, SearchRequest(text))) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HEADLINE:corridor", {"https://a.example/2"}),
        ("Headline:corridor", {"https://a.example/2"}),
        ("BODY:corridor", set()),
        ("Tags:grain", {"https://a.example/2"}),
        ('TAGS:"Antony Blinken"', {"https://a.example/1"}),
        ("Byline:john*", {"https://a.example/2"}),
        ("grain OR Published:2023-02", {"https://a.example/1", "https://a.example/2"}),
        ("SITE:beta", {"https://b.example/3"}),
    ],
)
def test_a_field_name_is_read_in_any_case(ix: Index, text: str, expected: set[str]) -> None:
    """``Headline:corridor`` is ``headline:corridor``: it was the phrase "headline corridor" in every field (no
    hit, no error), and ``TAGS:grain`` the phrase "tags grain"."""
    assert set(_urls(ix, SearchRequest(text))) == expected


@pytest.mark.parametrize(
    ("text", "field"),
    [("tag:grain", "tag"), ('author:"jane roe"', "author"), ("crimea AND (title:talks OR grain)", "title")],
)
def test_an_unknown_field_name_is_a_query_error_that_names_the_fields(ix: Index, text: str, field: str) -> None:
    """``tag:grain`` (the option is --tag, the field tags:) was the phrase "tag grain" searched everywhere: an
    answer to another question. It is an error naming the fields there are."""
    with pytest.raises(QueryError) as info:
        search(ix, SearchRequest(text))
    assert f"{field}:" in info.value.message
    assert "tags:" in (info.value.hint or "") and "byline:" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("talks at 10:30", set()),  # digits before a colon: no field name
        ("Crimea: talks", {"https://a.example/1"}),  # a colon and a space: a word, as typed
        ("https://a.example/1", set()),  # a pasted URL is text, not a field
    ],
)
def test_a_colon_that_names_no_field_stays_text(ix: Index, text: str, expected: set[str]) -> None:
    assert set(_urls(ix, SearchRequest(text))) == expected


@pytest.mark.parametrize("given", ["www.delta.example", "WWW.Delta.Example", " delta.example "])
def test_an_article_given_its_site_with_www_or_capitals_is_found_by_that_site_and_by_its_host(
    tmp_path_factory: pytest.TempPathFactory, given: str
) -> None:
    """An Article built by the API with ``www.`` or capitals in its site holds the contract's form (the host without
    ``www.``, lower case): --site with either spelling finds it, in a text search and in a date listing (before,
    neither did: the stored ``www.delta.example`` was compared with ``delta.example``)."""
    article = ARTICLES[0].replace(url="https://www.delta.example/1", canonical_url="", site=given)
    assert article.site == "delta.example"
    where = tmp_path_factory.mktemp("site-form")
    index = create_index(where / "ix")
    write_articles(index, [article])
    st = ArticleStore(where / "store.sqlite")
    st.upsert(article)
    for site in ("www.delta.example", "delta.example", "https://www.delta.example/x"):
        assert _urls(index, SearchRequest("crimea", sites=(site,)), st) == [article.url]
        assert _urls(index, SearchRequest(sites=(site,)), st) == [article.url]
    st.close()
