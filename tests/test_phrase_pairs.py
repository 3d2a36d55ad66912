"""Phrases answered from the pair fields (analysis.PairField, Lucene's CommonGrams): the documents and scores
of the position check and of stock Whoosh, with the pairs built by every writer path."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from whoosh.index import Index
from whoosh.writing import SegmentWriter

import newsarchive.index.bulk as bulk
import newsarchive.index.codec as codec
from newsarchive.analysis import (
    PAIR_LANGS,
    PAIR_SIDES,
    common_terms,
    index_terms_of_word,
    pair_field,
    pair_indexed,
    pair_term,
)
from newsarchive.article import Article
from newsarchive.errors import SearchIndexError
from newsarchive.index.bulk import BulkSegmentWriter, write_segments
from newsarchive.index.codec import NewsCodec, TermPostings
from newsarchive.index.evaluate import Evaluator
from newsarchive.index.schema import article_to_doc
from newsarchive.index.writer import VERSION_FILE, create_index, index_state, open_index, write_articles
from newsarchive.search import SearchRequest, build_query, search

# Function words of Lucene's list (في من على إلى أن التي) among content words; ـ (a tatweel alone) is a token
# without an index term: it keeps its position, so "في ـ غزة" holds no phrase "في غزة".
_FUNCTION = ["في", "من", "على", "إلى", "أن", "التي", "و"]
_CONTENT = ["غزة", "الحكومة", "قال", "الوزير", "الأمن", "مدينة", "ـ"]
_VOCAB = _FUNCTION + _CONTENT
_WEIGHTS = [30, 15, 10, 8, 8, 4, 6, 20, 8, 6, 5, 3, 2, 2]


def _text(rng: random.Random, k: int) -> str:
    return " ".join(rng.choices(_VOCAB, _WEIGHTS, k=k))


def _articles(seed: int, n: int = 60) -> list[Article]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        headline = _text(rng, rng.randint(1, 6))
        if i % 5 == 0:  # a headline ending on a function word, a body starting on a content word
            headline = headline + " في"
        body = ("غزة " if i % 5 == 0 else "") + _text(rng, rng.randint(1, 300))
        out.append(
            Article(url=f"https://q.example/{seed}/{i}", headline=headline, lang="ar",
                    description=_text(rng, rng.randint(0, 12)), body=body)
        )  # fmt: skip
    return out


def _index(tmp_path: Path, seed: int) -> Index:
    """Generated Arabic articles in three segments (one written by the rebuild's workers), one deleted."""
    articles = _articles(seed)
    index = create_index(tmp_path / f"ix{seed}")
    write_segments(index, (article_to_doc(a) for a in articles[:30]), procs=2, segment_docs=12)
    write_articles(index, articles[30:50])
    write_articles(index, articles[50:], delete_ids=[articles[7].id])
    return index


def _phrases(rng: random.Random) -> list[str]:
    terms = ["في", "من", "على", "غزة", "الحكومة", "قال"]
    out = [f'"{a} {b}"' for a, b in itertools.product(terms, terms)]  # every order, repeated words
    out += [f'"{" ".join(rng.choices(_VOCAB[:-1], k=3))}"' for _ in range(25)]
    out += [f'"{" ".join(rng.choices(_VOCAB[:-1], k=4))}"' for _ in range(10)]
    return [*out, '"في غزة" OR الوزير', '"في غزة" قال', '"من الحكومة" NOT الأمن']


def _whoosh(index: Index, text: str) -> dict[int, float]:
    with index.searcher() as searcher:
        return {h.docnum: h.score for h in searcher.search(build_query(index, text), limit=None, optimize=False)}


@pytest.mark.parametrize("seed", [11, 12])
def test_pair_phrases_give_the_documents_and_scores_of_the_position_check(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phrases of 2, 3 and 4 words with function words on either side, in headlines, descriptions and
    bodies (a headline ending on في before a body starting on غزة, a word without a term between two):
    the pair path's documents and scores are stock Whoosh's and the position check's, bit for bit."""
    index = _index(tmp_path, seed)
    phrases = _phrases(random.Random(seed))
    expected = {text: _whoosh(index, text) for text in phrases}
    assert sum(bool(v) for v in expected.values()) > len(phrases) // 2
    with index.searcher() as searcher:
        ours = {text: Evaluator(searcher).scores(build_query(index, text)) for text in phrases}
        with monkeypatch.context() as mp:  # the position check alone: no pair looked up
            mp.setattr(Evaluator, "_pairs", lambda self, q: ("", []))
            positions = {text: Evaluator(searcher).scores(build_query(index, text)) for text in phrases}
    for text in phrases:
        assert ours[text] == expected[text], text
        assert positions[text] == expected[text], text
    for text in phrases[:12]:
        found = search(index, SearchRequest(text, limit=10))
        assert found.total == len(expected[text]), text


def test_a_two_word_pair_phrase_reads_no_positions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ "في غزة" is answered from the pair fields' lists: no position of في or غزة is decoded or probed;
    "غزة في" and "غزة قال" (the first word not a common word) still take the position check."""
    index = _index(tmp_path, 13)
    expected = _whoosh(index, '"في غزة"')
    assert expected
    calls: list[str] = []
    for name in ("holds", "positions_of", "positions"):
        original = getattr(TermPostings, name)
        monkeypatch.setattr(TermPostings, name, lambda self, *a, _f=original, _n=name: calls.append(_n) or _f(self, *a))
    with index.searcher() as searcher:
        assert Evaluator(searcher).scores(build_query(index, '"في غزة"')) == expected
        assert calls == []
        for text in ('"غزة في"', '"غزة قال"'):
            calls.clear()
            assert Evaluator(searcher).scores(build_query(index, text)) == _whoosh(index, text)
            assert calls


def test_the_pair_field_holds_the_pairs_of_adjacent_terms_whose_first_is_a_common_word(tmp_path: Path) -> None:
    """Only Arabic has pair fields; a pair is two terms at adjacent positions, the first a common word
    (Lucene's Arabic stop list, normalised and stemmed as the text is): none across a word without a
    term, none across fields, none of two content words or with the common word second (PAIR_SIDES);
    headline and body pairs kept apart."""
    assert PAIR_LANGS == ("ar",) and PAIR_SIDES == "first"
    fi, gaza, gov = (index_terms_of_word(w, "ar")[0] for w in ("في", "غزة", "الحكومة"))
    assert fi in common_terms("ar") and gaza not in common_terms("ar")
    assert index_terms_of_word("إلى", "ar")[0] in common_terms("ar")  # the list's forms, normalised
    assert pair_indexed(fi, gaza, "ar") and not pair_indexed(gaza, fi, "ar") and not pair_indexed(gaza, gov, "ar")
    one = Article(url="https://q.example/one", headline="في الحكومة", body="في غزة الحكومة في ـ غزة", lang="ar")
    two = Article(url="https://q.example/two", headline="الحكومة في", body="غزة الحكومة", lang="ar")  # في | غزة
    index = create_index(tmp_path / "ix")
    write_articles(index, [one, two])
    with index.reader() as reader:
        assert set(reader.field_terms(pair_field("headline_ar"))) == {pair_term(fi, gov)}
        assert set(reader.field_terms(pair_field("body_ar"))) == {pair_term(fi, gaza)}
        assert sorted(n for n in reader.schema.names() if n.startswith("pairs_")) == [
            "pairs_body_ar", "pairs_description_ar", "pairs_headline_ar"
        ]  # fmt: skip
        # the real fields' lengths are their terms (ـ has none); the pair fields have none
        assert reader.doc_field_length(0, "body_ar") == 5 and reader.doc_field_length(0, "headline_ar") == 2
        assert reader.field_length(pair_field("body_ar")) == 0
    assert [h.url for h in search(index, SearchRequest('"في غزة"')).hits] == [one.url]
    assert search(index, SearchRequest('"غزة الحكومة"')).total == 2  # no pair: the position check
    assert search(index, SearchRequest('"الحكومة في"')).total == 2  # one's body, two's headline


@pytest.mark.parametrize(("merge_in_memory", "pair_values"), [(20_000, 1 << 11), (20, 4)])
def test_pairs_are_the_bytes_whoosh_pool_writer_writes(
    tmp_path: Path, merge_in_memory: int, pair_values: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pairs derived from the batch's tokens (bulk._Postings._add_pairs), those of merged segments (in
    memory or through the pool) and of a value past 65,535 positions are, byte for byte, the segment files
    Whoosh's own pool writer writes with PairField.index (batches of more values than one sort takes too)."""
    monkeypatch.setattr(BulkSegmentWriter, "MERGE_IN_MEMORY", merge_in_memory)
    monkeypatch.setattr(bulk, "_PAIR_VALUES", pair_values)
    articles = _articles(21, 80)
    long_body = "في غزة قال " * 22_000  # 66,000 positions: uint32 positions, the general path
    articles.insert(5, Article(url="https://q.example/long", headline="طويل", body=long_body, lang="ar"))
    batches = [articles[0:30], *(articles[30 + 6 * k : 36 + 6 * k] for k in range(8)), articles[2:9]]
    ours = create_index(tmp_path / "ours")
    theirs = create_index(tmp_path / "theirs")
    for batch in batches:
        write_articles(ours, batch)
        writer = SegmentWriter(theirs, codec=NewsCodec(), compound=False)
        for article in {a.id: a for a in batch}.values():
            writer.update_document(**article_to_doc(article))
        writer.commit()
    assert _files(ours, tmp_path / "ours") == _files(theirs, tmp_path / "theirs")
    with ours.searcher() as searcher:
        q = build_query(ours, '"في غزة"')
        assert Evaluator(searcher).scores(q) == _whoosh(ours, '"في غزة"')
    codec._KEPT.clear()


def _files(ix: Index, directory: Path) -> list[tuple[int, str, bytes]]:
    with ix.reader() as reader:
        segments = [r.segment().segment_id() for r, _ in reader.leaf_readers()]
    out = []
    for path in sorted(directory.iterdir()):
        sid = path.name.split(".")[0]
        if sid in segments:
            out.append((segments.index(sid), path.name[len(sid) :], path.read_bytes()))
    return sorted(out)


def test_an_index_of_the_version_before_pairs_is_reported_outdated(tmp_path: Path) -> None:
    """An index written before the pair fields (version 5) is outdated: search says to rebuild it."""
    directory = tmp_path / "ix"
    create_index(directory)
    assert index_state(directory) == "ok"
    (directory / VERSION_FILE).write_text("5\n")
    assert index_state(directory) == "outdated"
    with pytest.raises(SearchIndexError, match="another version") as info:
        open_index(directory)
    assert "reindex" in (info.value.hint or "")
