"""Phrases on positions (evaluate._phrase, codec.TermPostings): Whoosh's own answers, with many positions per
document, over several segments, with lists kept parsed between searches."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from whoosh.index import Index

import newsarchive.index.codec as codec
from newsarchive.article import Article
from newsarchive.index.codec import TermPostings, term_postings
from newsarchive.index.evaluate import Evaluator
from newsarchive.index.writer import create_index, write_articles
from newsarchive.search import SearchRequest, build_query, search

# Zipf-like weights: the first words come back tens of times in a text (في in 72% of real Arabic articles).
_AR = ["في", "غزة", "من", "الحكومة", "على", "قال", "الوزير", "الأمن"]
_EN = ["grain", "deal", "sea", "port", "ship", "talks", "crimea", "minister"]
_WEIGHTS = [40, 20, 10, 8, 5, 3, 2, 1]


def _text(rng: random.Random, vocab: list[str], k: int) -> str:
    return " ".join(rng.choices(vocab, _WEIGHTS, k=k))


def _index(tmp_path: Path, seed: int) -> Index:
    """Generated Arabic and English articles (3 to 400 words a body) in three segments, one article deleted."""
    rng = random.Random(seed)
    articles = []
    for i in range(60):
        lang, vocab = rng.choice((("ar", _AR), ("ar", _AR), ("en", _EN)))
        articles.append(
            Article(url=f"https://p.example/{seed}/{i}", headline=_text(rng, vocab, rng.randint(2, 8)), lang=lang,
                    description=_text(rng, vocab, rng.randint(5, 30)), body=_text(rng, vocab, rng.randint(3, 400)))
        )  # fmt: skip
    index = create_index(tmp_path / "ix")
    write_articles(index, articles[:25])
    write_articles(index, articles[25:50])
    write_articles(index, articles[50:], delete_ids=[articles[3].id])
    return index


def _phrases(rng: random.Random) -> list[str]:
    out = []
    for vocab in (_AR, _EN):
        out += [f'"{a} {b}"' for a in vocab[:4] for b in vocab[:4]]  # frequent pairs, repeated words
        out += [f'"{" ".join(rng.choices(vocab, k=rng.randint(2, 4)))}"' for _ in range(6)]
    return [*out, '"في غزة" OR grain', '"grain deal" talks', '"sea port" NOT ship']


def _whoosh(index: Index, text: str) -> tuple[dict[int, float], list[tuple[float, int]]]:
    """Stock Whoosh: every matching document's score (exhaustive, no pruning), and the ten best."""
    with index.searcher() as searcher:
        scores = {h.docnum: h.score for h in searcher.search(build_query(index, text), limit=None, optimize=False)}
    return scores, sorted(((-s, d) for d, s in scores.items()))[:10]


@pytest.mark.parametrize("seed", [1])
def test_phrases_of_repeated_frequent_words_score_as_whoosh_does(tmp_path: Path, seed: int) -> None:
    """Every phrase's documents and scores are Whoosh's, bit for bit (three words: summed in Whoosh's order),
    and search() returns its total and its ten best, with every list kept parsed between searches
    (KEEP_MIN_BYTES 0), then from the lists kept, with their signatures and their postings by document."""
    index = _index(tmp_path, seed)
    rng = random.Random(seed)
    phrases = _phrases(rng)
    expected = {text: _whoosh(index, text) for text in phrases}
    assert sum(bool(scores) for scores, _ in expected.values()) > len(phrases) // 2
    with index.searcher() as searcher:
        for text, (scores, _) in expected.items():
            assert Evaluator(searcher).scores(build_query(index, text)) == scores, text
    # Every list kept (from its second request), then the kept lists answer (the evaluator above kept none), then
    # with their signatures (made from their second phrase on) and rank_of.
    for keep in (0, 0, 0, 0, 0):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(codec, "KEEP_MIN_BYTES", keep)
            mp.setattr(codec, "SIGNATURE_MIN", 0)
            for text, (scores, best) in expected.items():
                found = search(index, SearchRequest(text, limit=10))
                assert found.total == len(scores), text
                assert [h.score for h in found.hits] == [-s for s, _ in best], text
    codec._KEPT.clear()


def test_holds_and_positions_equal_the_decoded_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TermPostings.holds answers, for any posting and target (before the first position, between, on,
    after the last, past 65,535), what the decoded positions say, by binary search alone and after the
    signatures of a list kept between searches; positions_of gives the positions in order."""
    index = _index(tmp_path, 3)
    rng = random.Random(3)
    with index.searcher() as searcher:
        reader = searcher.reader().leaf_readers()[0][0]
        plist = term_postings(reader, "body_ar", "في")
        assert isinstance(plist, TermPostings) and len(plist.ids) > 20
        chosen = np.arange(len(plist.ids))
        counts, positions = plist.positions_of(chosen)
        values = np.split(positions.astype(np.int64), np.cumsum(counts)[:-1])
        assert max(counts) > 50  # many positions in one value: several binary-search steps
        picks, targets, expected = [], [], []
        for i, value in enumerate(values):
            edges = [-1, 0, int(value[0]), int(value[-1]), int(value[-1]) + 1, 70_000]
            for target in edges + rng.sample(range(600), 8):
                picks.append(i)
                targets.append(target)
                expected.append(target in set(value.tolist()))
        assert plist.holds(np.array(picks), np.array(targets)).tolist() == expected
        monkeypatch.setattr(codec, "SIGNATURE_MIN", 0)
        monkeypatch.setattr(codec._KEPT, "grow", lambda plist, size: None)  # kept by hand: nothing to charge
        plist._kept = True
        assert plist.holds(np.array(picks), np.array(targets)).tolist() == expected
        assert plist._sig is None  # probed once while kept: no signatures (most pairs are asked for once)
        # Signatures made from the second use on, for the postings it probes (the first half of them here), then for
        # the others as they are probed, and used.
        half = picks.index(len(values) // 2)
        assert plist.holds(np.array(picks[:half]), np.array(targets[:half])).tolist() == expected[:half]
        assert plist._sig is not None and plist._signed.tolist() == [i < len(values) // 2 for i in range(len(values))]
        for _ in range(2):
            assert plist.holds(np.array(picks), np.array(targets)).tolist() == expected
        assert plist._signed.all()
        # The same with the postings named (a phrase's candidates), int32 as a phrase's are.
        picked, aimed = np.array(picks, dtype=np.int32), np.array(targets, dtype=np.int32)
        assert plist.holds(picked, aimed, np.unique(picked)).tolist() == expected
        docs, flat = plist.positions(chosen[::3])
        assert flat.tolist() == np.concatenate(values[::3]).tolist()
        assert docs.tolist() == np.repeat(plist.ids[::3], counts[::3]).tolist()


def test_kept_lists_go_with_their_reader_and_stay_within_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list is kept parsed from its second request on (the lists of words searched once push out none of those
    searched again and again) and handed out again to the same segment's reader only; what it builds later (its
    positions' layout and views, signatures) is charged to it; past the budget the least recently used go; when
    the reader goes, its lists go at the next one kept."""
    import gc

    monkeypatch.setattr(codec, "KEEP_MIN_BYTES", 0)
    codec._KEPT.clear()
    index = _index(tmp_path, 4)
    reader = index.reader()
    seg = reader.leaf_readers()[0][0]
    assert {"في", "غزة", "من", "قال"} <= set(seg.field_terms("body_ar"))
    once = term_postings(seg, "body_ar", "في")
    first = term_postings(seg, "body_ar", "في")
    assert once is not None and first is not None and first is not once  # kept from the second request
    assert term_postings(seg, "body_ar", "في") is first
    other = index.reader().leaf_readers()[0][0]  # another reader of the same segment: its own lists
    assert term_postings(other, "body_ar", "في") is not first
    assert term_postings(other, "body_ar", "في") is not first

    def charged() -> list[int]:
        return [size for _, size in codec._KEPT._lists.values()]

    assert isinstance(first, TermPostings) and first.nbytes() in charged()
    before = codec._KEPT._bytes
    first.positions_of(np.arange(len(first.ids)))  # its positions' layout and uint16 views, built now
    assert codec._KEPT._bytes > before and first.nbytes() in charged()
    assert codec._KEPT._bytes == sum(charged())
    size = codec._KEPT._bytes
    monkeypatch.setattr(codec, "KEEP_BUDGET", size + 1)  # room for these, not for one more
    for term in ("غزة", "غزة", "من", "من"):
        term_postings(seg, "body_ar", term)
    assert codec._KEPT._bytes <= size + 1
    assert term_postings(seg, "body_ar", "في") is not first  # dropped, read again
    assert any(key[0]() is seg._terms for key in codec._KEPT._lists)
    reader.close()
    del reader, seg, first, once
    gc.collect()
    term_postings(other, "body_ar", "قال")
    term_postings(other, "body_ar", "قال")
    assert codec._KEPT._lists and all(key[0]() is not None for key in codec._KEPT._lists)
    assert codec._KEPT._bytes == sum(charged())
    codec._KEPT.clear()


@pytest.mark.parametrize(
    ("memory", "budget"), [(2 << 30, 256 << 20), (8 << 30, 512 << 20), (24 << 30, 1 << 30), (None, 384 << 20)]
)
def test_the_kept_lists_budget_is_a_sixteenth_of_memory_between_256_mb_and_1_gb(
    monkeypatch: pytest.MonkeyPatch, memory: int | None, budget: int
) -> None:
    def sysconf(name: str) -> int:
        if memory is None:
            raise ValueError(name)  # a system that does not say
        return {"SC_PHYS_PAGES": memory // 4096, "SC_PAGE_SIZE": 4096}[name]

    monkeypatch.setattr(codec.os, "sysconf", sysconf)
    assert codec._keep_budget() == budget


def test_phrases_searched_from_four_threads_at_once_give_whoosh_s_answers(tmp_path: Path) -> None:
    """Searches in threads share the kept lists: their signatures are made for some postings by one thread while
    others probe them, and every answer is still Whoosh's (totals and the ten best)."""
    import threading

    index = _index(tmp_path, 2)
    phrases = _phrases(random.Random(2))
    expected = {text: _whoosh(index, text) for text in phrases}
    codec._KEPT.clear()
    failures: list[str] = []

    def run(seed: int) -> None:
        order = phrases[:]
        random.Random(seed).shuffle(order)
        for text in order * 3:
            scores, best = expected[text]
            found = search(index, SearchRequest(text, limit=10))
            if found.total != len(scores) or [h.score for h in found.hits] != [-s for s, _ in best]:
                failures.append(text)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codec, "KEEP_MIN_BYTES", 0)
        mp.setattr(codec, "SIGNATURE_MIN", 0)
        threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    codec._KEPT.clear()
    assert not failures
