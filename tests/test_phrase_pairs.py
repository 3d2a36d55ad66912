"""Phrase pairs (analysis.PAIRS_FIELD): a pair word and the next word indexed as one term, so that a phrase
holding one ("في غزة") is answered without reading positions, with Whoosh's own answers."""

from __future__ import annotations

import itertools
import random
import struct
from pathlib import Path

import pytest
from whoosh.index import Index

import newsarchive.index.codec as codec
import newsarchive.index.evaluate as evaluate
from newsarchive.analysis import PAIRS_FIELD, WORD_RE, analyze, pair_term, pair_words
from newsarchive.article import Article
from newsarchive.index.bulk import write_segments
from newsarchive.index.evaluate import Evaluator
from newsarchive.index.schema import article_to_doc
from newsarchive.index.writer import create_index, write_articles
from newsarchive.search import SearchRequest, build_query, search

# في, من, على are pair words; ـ (a tatweel alone) is a token without a term, which holds its position.
_AR = ["في", "غزة", "من", "الحكومة", "على", "قال", "ـ", "الأمن", "فى"]
_WEIGHTS = [30, 20, 12, 8, 6, 4, 3, 2, 2]


def _articles(seed: int, n: int = 80) -> list[Article]:
    rng = random.Random(seed)

    def text(k: int) -> str:
        return " ".join(rng.choices(_AR, _WEIGHTS, k=k))

    return [
        Article(url=f"https://p.example/{seed}/{i}", headline=text(rng.randint(1, 6)), lang="ar",
                description=text(rng.randint(0, 12)), body=text(rng.randint(1, 300)))
        for i in range(n)
    ]  # fmt: skip


def _naive_pairs(fieldname: str, text: str) -> dict[str, tuple[int, int]]:
    """The pairs of one text and their words' frequencies in it, token by token through Whoosh's analyzer chain
    (no shortcut of the index's)."""
    common = pair_words("ar")
    terms = [next(iter(analyze(word, "ar")), "") for word in WORD_RE.findall(text)]
    return {
        pair_term(fieldname, a, b): (terms.count(a), terms.count(b))
        for a, b in itertools.pairwise(terms)
        if a in common and b
    }


def _index_pairs(ix: Index) -> dict[str, dict[str, tuple[int, int]]]:
    """Pair term -> {id of an article holding it: the value, its words' frequencies}, over every segment
    (deleted articles left out)."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    with ix.searcher() as searcher:
        for term in searcher.lexicon(PAIRS_FIELD):
            matcher = searcher.postings(PAIRS_FIELD, term)
            while matcher.is_active():
                docnum = matcher.id()
                if not searcher.reader().is_deleted(docnum):
                    value = struct.unpack("<II", matcher.value())
                    out.setdefault(term.decode("utf-8"), {})[searcher.stored_fields(docnum)["id"]] = value
                matcher.next()
    return out


def test_every_writer_indexes_the_pairs_the_analyzer_gives(tmp_path: Path) -> None:
    """The incremental writer (batches, an update), the rebuild's workers and Whoosh's own writer (the field's
    index()) hold the same pairs, and they are the pairs of the texts token by token: a pair word then the next
    word's term, never across a token without a term nor from one field into the next, each with its two
    words' frequencies in the field."""
    articles = _articles(1)
    expected: dict[str, dict[str, tuple[int, int]]] = {}
    for a in articles[:70]:
        doc = article_to_doc(a)
        for fieldname in ("headline_ar", "description_ar", "body_ar"):
            for term, value in _naive_pairs(fieldname, doc[fieldname]).items():
                expected.setdefault(term, {})[a.id] = value
    assert len(expected) > 20 and any(t.startswith("headline_ar ") for t in expected)
    assert any(value[0] > 1 and value[1] > 1 for found in expected.values() for value in found.values())

    incremental = create_index(tmp_path / "a")
    write_articles(incremental, articles[:30])
    write_articles(incremental, articles[30:80])
    write_articles(incremental, [], delete_ids=[a.id for a in articles[70:]])
    bulk = create_index(tmp_path / "b")
    write_segments(bulk, (article_to_doc(a) for a in articles[:70]), procs=2, segment_docs=25)
    whoosh = create_index(tmp_path / "c")
    with whoosh.writer() as w:
        for a in articles[:70]:
            w.add_document(**article_to_doc(a))
    for ix in (incremental, bulk, whoosh):
        assert _index_pairs(ix) == expected


def _stock(index: Index, text: str) -> dict[int, float]:
    with index.searcher() as searcher:
        return {h.docnum: h.score for h in searcher.search(build_query(index, text), limit=None, optimize=False)}


@pytest.mark.parametrize("seed", [2, 3])
def test_phrases_with_pair_words_find_and_score_what_whoosh_does(tmp_path: Path, seed: int) -> None:
    """Phrases of two to four words with pair words first, last, twice and next to a word without a term, over
    three segments with a deleted and an updated article: Whoosh's documents and scores."""
    rng = random.Random(seed)
    articles = _articles(seed)
    index = create_index(tmp_path / "ix")
    write_articles(index, articles[:30])
    write_articles(index, articles[30:60])
    changed = Article(url=articles[5].url, headline="في غزة", body="قال في غزة من الأمن", lang="ar")
    write_articles(index, [*articles[60:], changed], delete_ids=[articles[7].id])
    phrases = [f'"{a} {b}"' for a in _AR[:5] for b in _AR]
    phrases += [f'"{" ".join(rng.choices(_AR, _WEIGHTS, k=rng.randint(3, 4)))}"' for _ in range(25)]
    phrases += ['"في غزة" OR الأمن', 'headline:"في غزة"', '"في غزة" NOT "من الحكومة"']
    found = 0
    with index.searcher() as searcher:
        for text in phrases:
            expected = _stock(index, text)
            assert Evaluator(searcher).scores(build_query(index, text)) == expected, text
            found += bool(expected)
    assert found > len(phrases) // 2


def test_a_two_word_phrase_of_a_pair_word_is_answered_without_positions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "في غزة" is one list of documents: no position of any word is read, and the hits, total and order are the
    ones Whoosh gives."""
    index = create_index(tmp_path / "ix")
    articles = _articles(4)
    write_articles(index, articles[:40])
    write_articles(index, articles[40:])
    expected = _stock(index, '"في غزة"')
    assert len(expected) > 10

    def no_positions(*args: object, **kwargs: object) -> None:
        raise AssertionError("positions read")

    for cls in (codec.TermPostings, codec._BlockPostings):
        monkeypatch.setattr(cls, "positions_of", no_positions)
        monkeypatch.setattr(cls, "holds", no_positions)
    read: list[str] = []

    def recorded(reader: object, fieldname: str, text: object) -> object:
        read.append(fieldname)
        return codec.term_postings(reader, fieldname, text)

    monkeypatch.setattr(evaluate, "term_postings", recorded)
    monkeypatch.setattr(evaluate, "DOC_HAS_MAX", 0)  # lists of any size: not read to tell whether a hit holds a word
    with index.searcher() as searcher:
        assert Evaluator(searcher).scores(build_query(index, '"في غزة"')) == expected
    assert set(read) == {PAIRS_FIELD}  # the pair's list: no word's list either
    results = search(index, SearchRequest('"في غزة"', limit=5))
    assert set(read) == {PAIRS_FIELD}
    assert results.total == len(expected)
    best = sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [round(h.score or 0, 6) for h in results.hits] == [round(s, 6) for _, s in best]
