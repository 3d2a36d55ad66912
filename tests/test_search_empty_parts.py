"""An empty part of a query means nothing was written there, on both backends; an operator without its operand is a
usage error (docs/search.md, "Empty parts and lone operators").

``()``, ``NOT ()``, ``headline:""`` and the like are the empty query (every article, newest first: the query ""
answered them "no articles"); ``gaza ()``, ``gaza NOT ()``, ``gaza OR ()`` are ``gaza``; a word of no letter or
digit (``-``, ``&``) is no word to find (it was required as a tag, and ``gaza - israel`` found nothing); ``NOT``,
``gaza AND``, ``NOT NOT gaza`` are errors saying what to fix (they were the words "not", "and", a traceback's
"list index out of range"). The parse is the same for PostgreSQL search, which translates the tree Whoosh's parser
builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from newsarchive.article import Article
from newsarchive.errors import QueryError
from newsarchive.index.backend import WhooshBackend
from newsarchive.search import SearchRequest, build_query, writes_nothing


def _article(i: int, lang: str, headline: str, body: str, tags: tuple[str, ...] = ()) -> Article:
    return Article(
        url=f"https://e.example/{lang}/{i}",
        headline=headline,
        body=body,
        site="e.example",
        lang=lang,
        tags=tags,
        published=None if i == 7 else datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=3 * i),
    )


ARTICLES = [
    _article(1, "en", "Gaza talks", "Talks on Gaza and Israel resumed, as the truce requires."),
    _article(2, "en", "Israel budget", "The budget of Israel was passed."),
    _article(3, "en", "Gaza crossing", "The crossing into Gaza opened."),
    _article(4, "en", "Weather", "Rain all week.", tags=("&",)),
    _article(5, "ar", "غزة", "محادثات حول غزة"),
    _article(6, "fr", "Gaza et Israël", "Les discussions sur Gaza et Israel ont repris."),
    _article(7, "es", "Gaza sin fecha", "Un artículo de Gaza sin fecha."),
]

#: Queries that write nothing: the empty query.
NOTHING = [
    "()",
    "( )",
    "(())",
    "()()",
    "NOT ()",
    "NOT (())",
    "AND ()",
    "() OR ()",
    "() AND NOT ()",
    "headline:()",
    'headline:""',
    "tags:()",
    'tags:""',
    "published:()",
    '""',
    "''",
    '" "',
    "-",
    "&",
    '"..."',
    "headline:&",
    "(",
    ")",
    '"',
    "~",
    "()^2",
]
#: (query, the query it means).
SAME = [
    ("gaza ()", "gaza"),
    ("() gaza", "gaza"),
    ("gaza NOT ()", "gaza"),
    ("gaza AND ()", "gaza"),
    ("gaza OR ()", "gaza"),
    ("() AND gaza", "gaza"),
    ("gaza AND NOT ()", "gaza"),
    ("gaza (())", "gaza"),
    ('"" gaza', "gaza"),
    ("gaza ''", "gaza"),
    ("gaza - israel", "gaza israel"),
    ("gaza & israel", "gaza israel"),
    ('gaza "..."', "gaza"),
    ("headline:(gaza ())", "headline:gaza"),
    ("gaza OR () AND israel", "gaza OR israel"),  # AND binds first: () AND israel is israel
    ("gaza ANDNOT ()", "gaza"),
    ("() ANDNOT gaza", "NOT gaza"),  # AND NOT gaza, its AND gone with the empty part
    ("gaza ANDMAYBE ()", "gaza"),
    ("NOT(gaza)", "NOT gaza"),  # operators in capitals wherever they stand
    ("gaza AND(israel)", "gaza AND israel"),
    ("(NOT israel) gaza", "gaza NOT israel"),
    ("gaza REQUIRE israel*", "gaza require israel*"),  # REQUIRE is a word, as in a query of plain words
    ("tags:&", "tags:&"),  # a tag's key is taken as written
]
#: Operators without an operand: usage errors, and what the message says.
ERRORS = [
    ("NOT", "NOT at the end"),
    ("AND", "AND at the start"),
    ("OR", "OR at the start"),
    ("ANDNOT", "ANDNOT at the start"),
    ("gaza AND", "AND at the end"),
    ("gaza OR", "OR at the end"),
    ("gaza NOT", "NOT at the end"),
    ("OR gaza", "OR at the start"),
    ("(gaza OR) israel", "OR at the end"),
    ("NOT NOT gaza", "NOT NOT: two operators"),
    ("gaza AND OR israel", "AND OR: two operators"),
    ("gaza NOT AND israel", "NOT AND: two operators"),
]


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Any) -> Iterator[dict[str, Any]]:
    from newsarchive.index.pg_search import PgSearch, connect

    whoosh = WhooshBackend(tmp_path_factory.mktemp("empty") / "index", create=True)
    whoosh.add(ARTICLES)
    pg = PgSearch(connect(pg_cluster.new_database()))
    pg.add(ARTICLES)
    yield {"whoosh": whoosh, "pg": pg}
    pg.close()
    whoosh.close()


def _answer(backend: Any, text: str, **options: Any) -> tuple[int, list[str], str]:
    req = SearchRequest(text, limit=50, **options)
    results = backend.search(req)
    return results.total, [h.id for h in results.hits], req.effective_sort


@pytest.mark.parametrize("text", NOTHING)
def test_a_query_that_writes_nothing_is_the_empty_query(backends: dict[str, Any], text: str) -> None:
    assert writes_nothing(text) and SearchRequest(text).text == "" and not SearchRequest(text).has_text
    for name, backend in backends.items():
        got, expected = _answer(backend, text), _answer(backend, "")
        assert got == expected, name
        assert got[0] == len(ARTICLES) and got[2] == "newest"
        assert _answer(backend, text, sort="oldest") == _answer(backend, "", sort="oldest"), name


@pytest.mark.parametrize(("text", "meaning"), SAME, ids=[text for text, _ in SAME])
def test_an_empty_part_goes_with_its_operator(backends: dict[str, Any], text: str, meaning: str) -> None:
    assert not writes_nothing(text)
    answers = {}
    for name, backend in backends.items():
        got = _answer(backend, text)
        assert got == _answer(backend, meaning), name
        assert _answer(backend, text, sort="newest") == _answer(backend, meaning, sort="newest"), name
        answers[name] = (got[0], set(got[1]))
    assert answers["whoosh"] == answers["pg"]
    assert answers["whoosh"][0] > 0 or text == "headline:(gaza ())"


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[text for text, _ in ERRORS])
def test_an_operator_without_its_operand_is_a_usage_error(
    backends: dict[str, Any], tour: Path, text: str, message: str
) -> None:
    assert not writes_nothing(text)  # the search says what is wrong with it
    for backend in backends.values():
        with pytest.raises(QueryError, match=message):
            backend.search(SearchRequest(text))
        with pytest.raises(QueryError, match=message):
            list(backend.iter_ids(SearchRequest(text)))
    code, out, err = run_cli(tour, "search", text)
    assert code == 2 and not out and message in err


def test_the_command_line_lists_every_article_for_an_empty_group(tour: Path) -> None:
    code, listed, _ = run_cli(tour, "search", "()")
    assert code == 0
    assert listed == run_cli(tour, "search", "")[1] == run_cli(tour, "search", "NOT ()")[1]
    assert run_cli(tour, "search", "crimea ()")[1] == run_cli(tour, "search", "crimea")[1]
    code, _, err = run_cli(tour, "search", "()", "--sort", "relevance")
    assert code == 2 and "--sort relevance needs a query" in err
    code, _, err = run_cli(tour, "export", "()", "--sort", "oldest")  # an export without a query may be sorted
    assert code == 0, err


def test_the_parse_trees_of_equivalent_queries_are_the_same(tour: Path) -> None:
    from newsarchive.index.backend import WhooshBackend as Backend

    ix = Backend(tour / "index").ix
    for text, meaning in SAME:
        if not text.startswith("(NOT"):  # the same parts in another order
            assert repr(build_query(ix, text)) == repr(build_query(ix, meaning)), text
