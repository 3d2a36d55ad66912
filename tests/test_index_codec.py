"""The index codec and the bulk rebuild: the same postings and answers as Whoosh's own writer."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from whoosh.codec.whoosh3 import W3Codec
from whoosh.index import Index
from whoosh.writing import SegmentWriter

from newsarchive.analysis import WORD_RE
from newsarchive.article import Article
from newsarchive.errors import SearchIndexError
from newsarchive.index import codec
from newsarchive.index.bulk import (
    BulkSegmentWriter,
    _groups,
    _segments,
    _stable_order,
    _tokens,
    write_segments,
)
from newsarchive.index.codec import NewsCodec, merge_lists, term_blocks
from newsarchive.index.evaluate import Evaluator
from newsarchive.index.schema import article_to_doc, make_schema
from newsarchive.index.whoosh_internals import index_items
from newsarchive.index.writer import IndexWriter, create_index, open_index, rebuild, write_articles
from newsarchive.search import SearchRequest, _restrict, build_filter, build_query, search

_EN = "grain deal talks crimea sea port ship minister said would government market police water"
_ES = "gobierno política mercado acuerdo puerto ministro dijo agua policía"
_AR = "الحكومة السياسة السوق الاتفاق الميناء الوزير قال الماء الشرطة في من على ـ"  # pair words; ـ has no term
WORDS = {"en": _EN.split(" "), "es": _ES.split(" "), "ar": _AR.split(" ")}
QUERIES = ["grain", "grain deal", '"grain deal"', "gobierno", "الحكومة", "talks OR port", "sea NOT ship", "crim*"]


def _articles(n: int, seed: int = 3) -> list[Article]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lang = rng.choice(("en", "en", "en", "es", "ar"))
        words = WORDS[lang]
        body = " ".join(rng.choice(words) for _ in range(rng.randint(20, 300)))
        out.append(
            Article(url=f"https://x.example/{i}", headline=" ".join(rng.sample(words, 4)), body=body, lang=lang,
                    site=rng.choice(("alpha", "beta")), tags=tuple(rng.sample(("Grain", "Sea", "Port"), 2)),
                    published=datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=97 * i))
        )  # fmt: skip
    return out


def _answers(ix: Index) -> dict[str, dict[str, float]]:
    """Query -> {article id: score}, with and without a filter."""
    out = {}
    with ix.searcher() as searcher:
        evaluator = Evaluator(searcher)
        for text in QUERIES:
            since = datetime(2021, 3, 5, tzinfo=UTC)
            for flt in (None, build_filter(SearchRequest(sites=("alpha",), date_from=since))):
                q = build_query(ix, text)
                if flt is not None:
                    q = _restrict(q, flt)
                scores = evaluator.scores(q)
                out[f"{text} {flt is not None}"] = {searcher.stored_fields(d)["id"]: v for d, v in scores.items()}
    return out


def _postings(ix: Index, field: str, text: str) -> dict[str, tuple[float, object]]:
    """Article id -> (weight, positions or raw value) of one term, over every segment."""
    out = {}
    with ix.searcher() as searcher:
        for sub, _ in searcher.subsearchers or [(searcher, 0)]:
            reader = sub.reader()
            fmt = reader.schema[field].format
            for block in term_blocks(reader, field, text) or ():
                values = block.values()
                for d, w, v in zip(block.ids, block.weights, values, strict=True):
                    positions = fmt.decode_positions(v) if hasattr(fmt, "decode_positions") else v
                    out[reader.stored_fields(d)["id"]] = (w, positions)
    return out


@pytest.fixture(scope="module")
def corpus() -> list[Article]:
    return _articles(700)


@pytest.fixture(autouse=True, params=[16, codec.BLOCK_LIMIT], ids=lambda n: f"blocks of {n}")
def block_limit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Every test here runs with lists of many blocks (16 postings each: this corpus's frequent words fill dozens)
    and with the block size the writers write (``codec.BLOCK_LIMIT``); set before any writer (or the rebuild's
    forked workers) is made."""
    monkeypatch.setattr(codec, "BLOCK_LIMIT", request.param)
    return int(request.param)


def _blocks(ix: Index, field: str, text: str) -> int:
    """The blocks of one term's lists, over every segment."""
    with ix.searcher() as searcher:
        subs = [sub for sub, _ in searcher.subsearchers or [(searcher, 0)]]
        return sum(len(term_blocks(sub.reader(), field, text) or ()) for sub in subs)


@pytest.mark.slow
def test_bulk_written_segments_answer_like_one_incremental_write(
    tmp_path: Path, corpus: list[Article], block_limit: int
) -> None:
    incremental = create_index(tmp_path / "a")
    write_articles(incremental, corpus)
    bulk = create_index(tmp_path / "b")
    assert write_segments(bulk, (article_to_doc(a) for a in corpus), procs=2, segment_docs=150) == len(corpus)
    with bulk.searcher() as searcher:
        assert len(searcher.subsearchers or [searcher]) >= 3  # a segment per batch of 250 here
    here = create_index(tmp_path / "c")  # one process: the segments are written in this one
    assert write_segments(here, (article_to_doc(a) for a in corpus), procs=1, segment_docs=400) == len(corpus)
    expected = _answers(incremental)
    for found in (_answers(bulk), _answers(here)):
        assert expected.keys() == found.keys()
        for key, scores in expected.items():
            assert found[key].keys() == scores.keys(), key
            for article_id, score in scores.items():
                assert found[key][article_id] == pytest.approx(score), key
    for field, text in (("body_en", "grain"), ("headline_es", "gobiern"), ("tags", "grain"), ("site", "alpha")):
        assert _postings(bulk, field, text) == _postings(incremental, field, text)
    assert block_limit > 16 or _blocks(bulk, "body_en", "grain") > 3  # lists of several blocks


def test_a_workers_first_segment_may_be_smaller_so_that_workers_do_not_all_write_at_once(
    tmp_path: Path, corpus: list[Article]
) -> None:
    ix = create_index(tmp_path / "ix")
    docs = [article_to_doc(a) for a in corpus[:100]]
    batches = [docs[i : i + 10] for i in range(0, 100, 10)]
    segments = _segments(ix, iter(batches), 30, 10)
    assert [s.doc_count() for s in segments] == [10, 30, 30, 30]
    assert [s.doc_count() for s in _segments(ix, iter(batches), 30)] == [30, 30, 30, 10]


def test_array_blocks_hold_what_whoosh_own_codec_holds(tmp_path: Path, corpus: list[Article]) -> None:
    ours = create_index(tmp_path / "ours")
    write_articles(ours, corpus)
    theirs = create_index(tmp_path / "w3")
    writer = SegmentWriter(theirs, codec=W3Codec(), compound=False)
    for article in corpus:
        writer.add_document(**article_to_doc(article))
    writer.commit()
    with ours.searcher() as a, theirs.searcher() as b:
        assert isinstance(a.reader().codec(), NewsCodec) and not isinstance(b.reader().codec(), NewsCodec)
        for field, text in (("body_en", "grain"), ("body_ar", "حكوم"), ("byline", "x"), ("month", "2020-03")):
            matcher_a = a.postings(field, text) if (field, text) in a.reader() else None
            matcher_b = b.postings(field, text) if (field, text) in b.reader() else None
            assert (matcher_a is None) == (matcher_b is None)
            if matcher_a is None:
                continue
            assert list(matcher_a.items_as("weight")) == list(matcher_b.items_as("weight"))
        phrase = build_query(ours, '"grain deal"')
        assert set(a.docs_for_query(phrase)) == set(b.docs_for_query(phrase))
        assert set(a.docs_for_query(phrase)) == Evaluator(a).docs(phrase)


def test_a_failing_index_worker_fails_the_rebuild_and_keeps_the_old_index(tmp_path: Path) -> None:
    directory = tmp_path / "ix"
    rebuild(directory, _articles(30))
    index = create_index(tmp_path / "new")
    with pytest.raises(SearchIndexError, match="worker failed"):
        write_segments(index, [{"id": "x", "no_such_field": "y"}], procs=2)
    assert search(open_index(directory), SearchRequest("grain")).total > 0


def test_phrases_are_found_past_position_65535(tmp_path: Path) -> None:
    long_body = "filler " * 70_000 + "grain deal reached"  # positions stored as uint32 in this posting
    articles = [*_articles(40), Article(url="https://x.example/long", headline="Long", body=long_body, lang="en")]
    index = create_index(tmp_path / "ix")
    write_articles(index, articles)
    q = build_query(index, '"grain deal reached"')
    with index.searcher() as searcher:
        expected = set(searcher.docs_for_query(q))
        assert Evaluator(searcher).docs(q) == expected
        assert any(searcher.stored_fields(d)["url"].endswith("/long") for d in expected)


def _segment_files(ix: Index, directory: Path) -> list[tuple[int, str, bytes]]:
    """(segment number in the TOC, file name without the segment id, content) of every segment file."""
    with ix.reader() as reader:
        segments = [r.segment().segment_id() for r, _ in reader.leaf_readers()]
    out = []
    for path in sorted(directory.iterdir()):
        sid = path.name.split(".")[0]
        if sid in segments:
            out.append((segments.index(sid), path.name[len(sid) :], path.read_bytes()))
    return sorted(out)


@pytest.mark.parametrize("merge_in_memory", [20_000, 50])
def test_incremental_writes_and_merges_write_the_bytes_whoosh_pool_writer_writes(
    tmp_path: Path, corpus: list[Article], merge_in_memory: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_articles keeps postings per term in memory and writes one-block lists in one go: the
    segments (new, updated, merged by Whoosh's policy in memory or, for a big merge, through the
    pool, then optimized) are byte for byte those of Whoosh's own pool writer."""
    monkeypatch.setattr(BulkSegmentWriter, "MERGE_IN_MEMORY", merge_in_memory)
    batches = [corpus[0:40], corpus[30:60], *(corpus[60 + 8 * k : 70 + 8 * k] for k in range(8)), corpus[5:15]]
    ours = create_index(tmp_path / "ours")
    theirs = create_index(tmp_path / "theirs")
    for batch in batches:
        write_articles(ours, batch)
        writer = SegmentWriter(theirs, codec=NewsCodec(), compound=False)  # Whoosh's pool and update_document
        for article in {a.id: a for a in batch}.values():
            writer.update_document(**article_to_doc(article))
        writer.commit()
    assert len(_segment_files(ours, tmp_path / "ours")) > 20
    assert _segment_files(ours, tmp_path / "ours") == _segment_files(theirs, tmp_path / "theirs")
    assert _answers(ours) == _answers(theirs)
    IndexWriter(ours).commit(optimize=True)
    SegmentWriter(theirs, codec=NewsCodec(), compound=False).commit(optimize=True)
    assert _segment_files(ours, tmp_path / "ours") == _segment_files(theirs, tmp_path / "theirs")


def test_segments_of_another_block_size_are_read_and_merged_as_written(
    tmp_path: Path, corpus: list[Article], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index whose first articles were written with blocks of 128 postings (before codec.BLOCK_LIMIT) and the
    next with bigger ones answers as the same writes with one block size, score for score, before and after its
    segments of both sizes are merged into one. (A merge itself moves scores a little, for both: Whoosh sums the
    merged documents' field lengths from their one-byte encodings.)"""
    indexes = {}
    for name, first in (("mixed", 128), ("one size", 1024)):
        indexes[name] = create_index(tmp_path / name.replace(" ", "-"))
        monkeypatch.setattr(codec, "BLOCK_LIMIT", first)
        write_articles(indexes[name], corpus[:400])
        monkeypatch.setattr(codec, "BLOCK_LIMIT", 1024)
        write_articles(indexes[name], corpus[400:])
    mixed, same = indexes["mixed"], indexes["one size"]
    with mixed.reader() as reader:
        assert {sub.codec()._blocklimit for sub, _ in reader.leaf_readers()} == {128, 1024}
    for _ in ("segments of both sizes", "merged"):
        assert _answers(mixed) == _answers(same)
        for field, text in (("body_en", "grain"), ("body_ar", "الحكومة"), ("tags", "grain")):
            assert _postings(mixed, field, text) == _postings(same, field, text)
        for ix in (mixed, same):
            IndexWriter(ix).commit(optimize=True)
    with mixed.reader() as reader:
        assert [sub.codec()._blocklimit for sub, _ in reader.leaf_readers()] == [1024]


def test_a_merge_reads_every_posting_whoosh_reads_from_a_segment_with_deleted_articles(
    tmp_path: Path, corpus: list[Article], block_limit: int
) -> None:
    """A merge reads a segment's lists whole (codec.merge_lists: the term table in file order, a field's lists
    in one read) instead of term by term through Whoosh: the same terms, documents, weights and values as
    Whoosh's iter_postings, deleted articles aside, in every field (positions, tag and author frequencies,
    plain keys), lists of one block and of several. (The segments a merge writes from them are checked byte
    for byte against Whoosh's pool writer above.)"""
    index = create_index(tmp_path / "ix")
    write_articles(index, corpus[:500])
    write_articles(index, corpus[450:520])  # updates: the first segment keeps 50 deleted articles
    with index.reader() as reader:
        leaves = [sub for sub, _ in reader.leaf_readers()]
        assert any(sub.has_deletions() for sub in leaves)
        longest = 0
        for sub in leaves:
            lists = merge_lists(sub)
            assert lists is not None
            got = []
            for fieldname, (keys, counts, ids, weights, sizes, values) in lists.items():
                owner = [k for k, n in zip(keys, counts.tolist(), strict=True) for _ in range(n)]
                ends = [int(e) for e in sizes.astype("int64").cumsum()]
                starts = [e - int(z) for e, z in zip(ends, sizes.tolist(), strict=True)]
                for term, doc, weight, a, b in zip(owner, ids.tolist(), weights.tolist(), starts, ends, strict=True):
                    if not sub.is_deleted(doc):
                        got.append((fieldname, term, doc, weight, values[a:b]))
            expected = [(f, t, d, w, v or b"") for f, t, d, w, v in sub.iter_postings()]
            assert sorted(got) == sorted(expected)
            assert {f for f, *_ in got} >= {"body_en", "tags", "site", "id"}
            longest = max(longest, *(int(counts.max()) for _, counts, *_ in lists.values()))
    assert block_limit > 16 or longest > 3 * block_limit  # lists of several blocks


def test_posting_lists_of_many_blocks_are_the_bytes_whoosh_pool_writer_writes(
    tmp_path: Path, corpus: list[Article], block_limit: int
) -> None:
    """One write of 700 articles: lists of several blocks (a term in most English documents) are built
    a whole field at a time by codec.field_posting_bytes; the segment is Whoosh's, byte for byte."""
    ours = create_index(tmp_path / "ours")
    theirs = create_index(tmp_path / "theirs")
    write_articles(ours, corpus)
    writer = SegmentWriter(theirs, codec=NewsCodec(), compound=False)
    for article in corpus:
        writer.add_document(**article_to_doc(article))
    writer.commit()
    assert block_limit > 16 or _blocks(ours, "body_en", "grain") > 3  # lists of several blocks
    assert _segment_files(ours, tmp_path / "ours") == _segment_files(theirs, tmp_path / "theirs")


def test_a_rebuild_writes_the_bytes_whoosh_pool_writer_writes(tmp_path: Path, corpus: list[Article]) -> None:
    """The rebuild analyses each batch's text fields in one pass (_Postings.add_texts: stop words dropped,
    positions counted per document, Arabic and Spanish beside English): its segment is Whoosh's, byte for
    byte (the phrase pairs of the Arabic texts among them), and a value past 65535 positions still goes through
    the general path, an Arabic one with its pairs."""
    long_body = "filler grain the " * 33_000  # 66,000 positions (stop words take none): uint32 positions
    extra = [
        Article(url="https://x.example/long", headline="The long one", body=long_body, lang="en"),
        Article(url="https://x.example/long-ar", headline="في غزة", body="في غزة ـ من " * 17_000, lang="ar"),
    ]
    articles = [*corpus[:300], *extra, *corpus[300:400]]
    ours = create_index(tmp_path / "ours")
    theirs = create_index(tmp_path / "theirs")
    assert write_segments(ours, (article_to_doc(a) for a in articles), procs=1) == len(articles)
    writer = SegmentWriter(theirs, codec=NewsCodec(), compound=False)
    for article in articles:
        writer.add_document(**article_to_doc(article))
    writer.commit()
    assert _segment_files(ours, tmp_path / "ours") == _segment_files(theirs, tmp_path / "theirs")


def test_the_rebuild_tokenizer_finds_the_words_word_re_finds() -> None:
    """bulk._tokens (numpy: character classes, hashed and checked words) gives WORD_RE.findall's tokens, in
    order and per value, on text mixing joiners, combining marks, tatweel, digits and underscores; it
    declines (None: the regular expression is used) only where it cannot tell."""
    alphabet = [*"ab_1 .'’\n-", "\u064b", "\u0640", "\u0301", "ا", "ل", "é", "²", "٠", "Ab"]
    rng = random.Random(5)
    declined = 0
    for _ in range(2000):
        values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(rng.randint(1, 4))]
        found = _tokens(values)
        if found is None:
            declined += 1
            continue
        words, which, doc = found
        assert [words[i] for i in which.tolist()] == [w for v in values for w in WORD_RE.findall(v)]
        assert doc.tolist() == [k for k, v in enumerate(values) for _ in WORD_RE.findall(v)]
        assert len(set(words)) == len(words)
    assert declined < 1000  # this alphabet puts marks after joiners often; real text rarely
    assert _tokens(["a.b\u064bc"]) is None  # WORD_RE ends "a.b" at the mark: left to it
    assert _tokens(["emoji 😀 word"]) is None  # past the BMP
    assert _tokens(["lone \ud800 surrogate"]) is None
    empty = _tokens(["", "\n"])
    assert empty is not None and empty[0] == [] and len(empty[1]) == len(empty[2]) == 0


def test_the_rebuild_sorts_give_numpy_stable_argsort_and_unique() -> None:
    """bulk._stable_order is np.argsort(kind="stable") (keys packed with their index, or the stable sort
    itself when they do not fit); bulk._groups groups as np.unique, with any token of a group as its own."""
    rng = np.random.default_rng(3)
    for n, top in ((0, 1), (1, 1), (2, 1), (1000, 5), (5000, 1 << 20), (3000, (1 << 62) - 1)):
        keys = rng.integers(0, top, size=n, dtype=np.int64)
        assert _stable_order(keys).tolist() == np.argsort(keys, kind="stable").tolist()
    for n in (1, 2, 1000):
        hashes = rng.integers(0, 50, size=n, dtype=np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        first, inverse = _groups(hashes)
        _, ufirst, uinverse = np.unique(hashes, return_index=True, return_inverse=True)
        assert inverse.tolist() == uinverse.reshape(-1).tolist()
        assert (hashes[first] == hashes[ufirst]).all()


def test_the_rebuild_indexes_plain_fields_as_whoosh_does() -> None:
    """whoosh_internals.index_items (its own path for ids, dates and tag lists) gives field.index's items, any order."""
    schema = make_schema()
    rng = random.Random(8)
    alphabet = [*"ab,A \n\n", "é", "ا", "\u0301"]
    texts = [
        "",
        "\n",
        "a\na\nb",
        *("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(300)),
    ]
    base = datetime(2001, 2, 3, 4, 5, 6, 789)
    dates = [
        datetime.min,
        datetime.max,
        base,
        *(base + timedelta(seconds=rng.uniform(-1e10, 1e10)) for _ in range(300)),
    ]
    dates.append(datetime(2020, 1, 1, tzinfo=UTC))
    cases = [(name, v) for name in ("id", "url", "site", "tags", "byline") for v in texts]
    cases += [("published", d) for d in dates] + [("site", ["x", "y"]), ("published", [base, datetime.min])]
    for name, value in cases:
        field = schema[name]
        assert sorted(index_items(field, value)) == sorted(field.index(value)), (name, value)
