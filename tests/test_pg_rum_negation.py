"""A negated word beside a tag or author filter gives the same articles with a RUM index as with GIN and as a
brute-force reading of the articles: RUM answers two ANDed ``@@`` conditions on one index scan, one of them
negated, wrongly (``tv @@ 'a' AND tv @@ '!b'``: rows missed and rows that do not match), so the search's AND
of text conditions is sent as one tsquery (pg_search._join). Generated corpora, several seeds."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import pg_index_kind

from newsarchive.article import Article
from newsarchive.index.pg_search import PgSearch, connect
from newsarchive.search import SearchRequest

_WORDS = ("alpha", "beta", "gamma", "delta")


def _corpus(seed: int, n: int = 300) -> list[Article]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = [w for w in _WORDS if rng.random() < 0.45] or ["epsilon"]
        out.append(
            Article(
                url=f"https://x.example/{seed}/{i}",
                headline=f"Item {i}",
                body=" ".join(rng.sample(words, len(words))),
                site="x.example",
                lang="en",
                tags=("Gaza",) if rng.random() < 0.5 else ("Lebanon",),
                byline=("Ann Lee",) if rng.random() < 0.3 else (),
                published=datetime(2023 + i % 2, 1 + i % 12, 1 + i % 28, tzinfo=UTC),
            )
        )
    return out


def _has(a: Article, word: str) -> bool:
    return word in a.body.split()


#: (request, the articles it must find)
_CASES: list[tuple[SearchRequest, Callable[[Article], bool]]] = [
    (
        SearchRequest("alpha NOT beta", tags=("gaza",)),
        lambda a: _has(a, "alpha") and not _has(a, "beta") and "Gaza" in a.tags,
    ),
    (
        SearchRequest("NOT beta alpha", tags=("lebanon",), sort="newest"),
        lambda a: _has(a, "alpha") and not _has(a, "beta") and "Lebanon" in a.tags,
    ),
    (
        SearchRequest("alpha NOT beta NOT gamma", authors=("Ann Lee",)),
        lambda a: _has(a, "alpha") and not (_has(a, "beta") or _has(a, "gamma")) and bool(a.byline),
    ),
    (
        SearchRequest(
            "(alpha OR delta) NOT beta",
            tags=("gaza",),
            date_from=datetime(2023, 3, 1, tzinfo=UTC),
            date_to=datetime(2023, 10, 31, tzinfo=UTC),
        ),
        lambda a: (
            (_has(a, "alpha") or _has(a, "delta"))
            and not _has(a, "beta")
            and "Gaza" in a.tags
            and a.published is not None
            and datetime(2023, 3, 1, tzinfo=UTC) <= a.published <= datetime(2023, 10, 31, tzinfo=UTC)
        ),
    ),
    (
        SearchRequest("alpha gamma NOT delta", tags=("gaza",)),
        lambda a: _has(a, "alpha") and _has(a, "gamma") and not _has(a, "delta") and "Gaza" in a.tags,
    ),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_negated_word_with_a_tag_or_author_filter_finds_the_same_articles_on_rum_gin_and_by_brute_force(
    seed: int, rum_cluster: Any
) -> None:
    articles = _corpus(seed)
    backends = {}
    for kind in ("rum", "gin"):
        with pg_index_kind(kind):
            backends[kind] = PgSearch(connect(rum_cluster.new_database()))
        assert backends[kind].index_kind == kind
        backends[kind].add(articles)
    try:
        for req, matches in _CASES:
            expected = {a.id for a in articles if matches(a)}
            assert expected, req
            req = replace(req, limit=len(articles))
            for kind, pg in backends.items():
                got = pg.search(req)
                assert (got.total, {h.id for h in got.hits}) == (len(expected), expected), (kind, req.text)
    finally:
        for pg in backends.values():
            pg.close()
