"""The fast paths of search give the same answers as Whoosh's plain ones."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from whoosh import query
from whoosh.formats import Positions
from whoosh.index import Index

from newsarchive.analysis import LangPositions, analyzer_for
from newsarchive.index.writer import create_index, write_articles
from newsarchive.search import SearchRequest, build_filter, build_query, date_filter, matching_docs, snippet
from tests.test_search_query import ARTICLES


@pytest.fixture
def ix(tmp_path: Path) -> Index:
    index = create_index(tmp_path / "ix")
    write_articles(index, ARTICLES)
    return index


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "The government's policies: running, ran, the runs. The government!"),
        ("es", "El gobierno anunció las políticas del gobierno; Politica y políticas."),
        ("ar", "الحُكُومَة تعلن ـ أعلنت الحكومة اليوم عن خطة الحكومه بالحكومة."),
        ("xx", "Ünïcode Straße straße 東京 東京"),
    ],
)
def test_fast_index_terms_equal_the_analyzer_chain(lang: str, text: str) -> None:
    analyzer = analyzer_for(lang)

    def postings(fmt: Positions) -> dict[str, tuple[int, float, list[int]]]:
        found = {w: (f, wt, fmt.decode_positions(v)) for w, f, wt, v in fmt.word_values(text, analyzer, mode="index")}
        first = min(p for _, _, poses in found.values() for p in poses)  # StopFilter keeps a leading gap
        return {w: (f, wt, [p - first for p in poses]) for w, (f, wt, poses) in found.items()}

    assert postings(LangPositions(lang)) == postings(Positions())


@pytest.mark.parametrize(
    "text",
    ["crimea OR grain", "talks NOT grain", '"black sea"', "gobierno", "crim*", "kiev~", "grain deal", "NOT grain", ""],
)
def test_matching_docs_equal_docs_for_query(ix: Index, text: str) -> None:
    q = build_query(ix, text)
    flt = build_filter(SearchRequest(text, date_from=datetime(2023, 1, 1).astimezone(), sites=("alpha", "beta")))
    with ix.searcher() as searcher:
        for candidate in (q, query.And([q, query.ConstantScoreQuery(flt, 0.0)])):  # type: ignore[list-item]
            assert matching_docs(searcher, candidate) == set(searcher.docs_for_query(candidate))


def test_date_filter_selects_what_a_date_range_does(tmp_path: Path) -> None:
    start = datetime(2023, 1, 1)
    articles = [a.replace(url=f"{a.url}/{i}", canonical_url=f"{a.canonical_url}/{i}",
                          published=(start + timedelta(hours=37 * i)).astimezone())
                for i, a in enumerate(ARTICLES * 150)]  # fmt: skip
    index = create_index(tmp_path / "ix")
    write_articles(index, articles)
    rng = random.Random(5)
    with index.searcher() as searcher:
        for _ in range(60):
            lo = start + timedelta(seconds=rng.randrange(700 * 86400))
            hi = lo + timedelta(seconds=rng.randrange(200 * 86400))
            if rng.random() < 0.4:
                lo = lo.replace(day=1, hour=0, minute=0, second=0)
            if rng.random() < 0.4:
                hi = (hi.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(day=1)
                hi -= timedelta(microseconds=1)
            for a, b in ((lo, hi), (None, hi), (lo, None)):
                expected = set(searcher.docs_for_query(query.DateRange("published", a, b)))
                assert set(searcher.docs_for_query(date_filter(a, b))) == expected


def test_snippet_marks_stemmed_and_folded_matches() -> None:
    assert snippet("They were running the talks.", "en", frozenset({"run"})) == "They were \x02running\x03 the talks"
    assert "\x02الحكومة\x03" in snippet("أعلنت الحكومة اليوم", "ar", frozenset({"حكوم"}))
    assert snippet("nothing here", "en", frozenset({"run"})) == ""


def test_intersections_rank_like_whoosh_scores(ix: Index) -> None:
    from newsarchive.search import _rank_by_postings, _restrict, _scored_terms

    for text, flt in (("grain deal", None), ("talks", build_filter(SearchRequest(sites=("alpha",))))):
        q = build_query(ix, text)
        q = _restrict(q, flt) if flt is not None else q
        terms: list[tuple[str, object, float]] = []
        assert _scored_terms(q, terms)
        with ix.searcher() as searcher:
            ranked = _rank_by_postings(searcher, terms, matching_docs(searcher, q), 10)  # type: ignore[arg-type]
            exhaustive = {h.docnum: h.score for h in searcher.search(q, limit=None, optimize=False)}
        assert ranked is not None and {d for _, d in ranked} == set(exhaustive)
        for score, docnum in ranked:
            assert score == pytest.approx(exhaustive[docnum])
