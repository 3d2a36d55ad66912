"""The fast paths of search give the same answers as Whoosh's plain ones."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from whoosh import highlight, query
from whoosh.analysis.acore import Token
from whoosh.formats import Positions
from whoosh.index import Index

from newsarchive.analysis import (
    WORD_RE,
    LangPositions,
    analyzer_for,
    index_terms_of_word,
    index_terms_of_words,
    lang_key,
    terms_of_words,
)
from newsarchive.archive_dir import MARK_END, MARK_START
from newsarchive.article import Article
from newsarchive.index.evaluate import Evaluator, ranked
from newsarchive.index.writer import create_index, rebuild, write_articles
from newsarchive.search import (
    _READERS,
    SearchRequest,
    _restrict,
    build_filter,
    build_query,
    date_filter,
    search,
    snippet,
)
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
def test_evaluator_docs_equal_docs_for_query(ix: Index, text: str) -> None:
    q = build_query(ix, text)
    flt = build_filter(SearchRequest(text, date_from=datetime(2023, 1, 1).astimezone(), sites=("alpha", "beta")))
    with ix.searcher() as searcher:
        for candidate in (q, query.And([q, query.ConstantScoreQuery(flt, 0.0)])):  # type: ignore[list-item]
            assert Evaluator(searcher).docs(candidate) == set(searcher.docs_for_query(candidate))


@pytest.mark.slow
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
                assert Evaluator(searcher).docs(date_filter(a, b)) == expected  # columns and month terms
                assert Evaluator(searcher).docs(query.DateRange("published", a, b)) == expected


def test_snippet_marks_stemmed_and_folded_matches() -> None:
    assert snippet("They were running the talks.", "en", frozenset({"run"})) == "They were \x02running\x03 the talks"
    assert "\x02الحكومة\x03" in snippet("أعلنت الحكومة اليوم", "ar", frozenset({"حكوم"}))
    assert snippet("nothing here", "en", frozenset({"run"})) == ""


@pytest.mark.parametrize(
    "text",
    [
        "grain deal",
        "talks",
        "crimea OR grain",
        "talks NOT grain",
        '"black sea"',
        '"grain deal" talks',
        "headline:talks^3 OR body:grain",
        "tags:ukraine",
        "crim*",
        "kiev~",
        "talks published:[2023 to 2023-06]",
        "gobierno OR published:2024",
    ],
)
@pytest.mark.parametrize("with_filter", [False, True])
def test_evaluator_scores_equal_whoosh_scores(ix: Index, text: str, with_filter: bool) -> None:
    q = build_query(ix, text)
    if with_filter:
        q = _restrict(q, build_filter(SearchRequest(sites=("alpha",))))  # type: ignore[arg-type]
    with ix.searcher() as searcher:
        scores = Evaluator(searcher).scores(q)
        exhaustive = {h.docnum: h.score for h in searcher.search(q, limit=None, optimize=False)}
    assert set(scores) == set(exhaustive)
    for docnum, score in scores.items():
        assert score == pytest.approx(exhaustive[docnum])


def test_evaluator_skips_deleted_documents_and_reads_every_segment(tmp_path: Path) -> None:
    index = create_index(tmp_path / "ix")
    for article in ARTICLES:  # one segment per write
        write_articles(index, [article])
    write_articles(index, [], delete_ids=[ARTICLES[0].id])
    q = build_query(index, "talks OR grain OR crimea")
    with index.searcher() as searcher:
        assert len(searcher.subsearchers or [searcher]) > 1 or searcher.reader().has_deletions()
        scores = Evaluator(searcher).scores(q)
        exhaustive = {h.docnum: h.score for h in searcher.search(q, limit=None, optimize=False)}
        stored = {searcher.stored_fields(d)["id"] for d in scores}
    assert set(scores) == set(exhaustive) and ARTICLES[0].id not in stored
    for docnum, score in scores.items():
        assert score == pytest.approx(exhaustive[docnum])


def test_ranking_breaks_equal_scores_by_document_number(tmp_path: Path) -> None:
    urls = [f"https://t.example/{i}" for i in range(6)]
    twins = [ARTICLES[1].replace(url=url, canonical_url=url) for url in urls]
    index = create_index(tmp_path / "ix")
    write_articles(index, [ARTICLES[0], *twins])
    with index.searcher() as searcher:
        evaluator = Evaluator(searcher)
        mask, best = ranked(evaluator, build_query(index, "grain"), 3)
        assert int(mask.sum()) == 6
        assert len({score for score, _ in best}) == 1  # six equal scores
        assert [d for _, d in best] == sorted(d for d in range(7) if mask[d])[:3]
        assert ranked(evaluator, build_query(index, "grain"), 0)[1] == []
        assert ranked(evaluator, build_query(index, "nothingatall"), 3)[1] == []


class _MarkFormatter(highlight.Formatter):  # type: ignore[misc]
    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"{MARK_START}{highlight.get_text(text, token, replace)}{MARK_END}"


def _whoosh_snippet(text: str, lang: str, words: frozenset[str], top: int) -> str:
    """The reference: Whoosh's own highlighter over every word of the text."""

    def tokens() -> Any:
        for m in WORD_RE.finditer(text):
            terms = index_terms_of_word(m.group(), lang)
            t = Token(positions=True, chars=True, removestops=False, mode="index")
            t.text = terms[0] if len(terms) == 1 else m.group()
            t.matched = any(term in words for term in terms)
            t.boost, t.pos, t.startchar, t.endchar = 1.0, 0, m.start(), m.end()
            yield t

    fragmenter = highlight.ContextFragmenter(maxchars=200, surround=60)
    scorer = highlight.BasicFragmentScorer()
    merged = highlight.Highlighter._merge_matched_tokens(tokens())
    scored = [(-scorer(f), f.startchar, f) for f in fragmenter.fragment_tokens(text, merged)]
    scored.sort(key=lambda item: item[:2])
    best = sorted((f for score, _, f in scored[:top] if -score >= 1), key=highlight.FIRST)
    return str(_MarkFormatter().format(best))


def _fixture_bodies() -> list[tuple[str, str]]:
    out = []
    for path in sorted(Path(__file__).resolve().parent.parent.glob("fixtures/sites/*/*.article.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append((data["body"], lang_key(data.get("lang"))))
    return out


def test_snippets_pick_the_passages_whoosh_highlighter_picks() -> None:
    rng = random.Random(7)
    cases = 0
    shared: dict[str, dict[str, tuple[str, bool]]] = {}
    for body, lang in _fixture_bodies():
        vocabulary = sorted({t for w in WORD_RE.findall(body) for t in index_terms_of_word(w, lang)})
        for _ in range(12):
            words = frozenset(rng.sample(vocabulary, min(len(vocabulary), rng.choice((1, 1, 2, 3)))))
            for best in (1, 2, 3):
                cache = shared.setdefault(f"{lang}{sorted(words)}", {})
                assert snippet(body, lang, words, top=best, cache=cache) == _whoosh_snippet(body, lang, words, best)
                cases += 1
    assert cases > 300


def test_snippets_of_generated_texts_pick_the_passages_whoosh_highlighter_picks() -> None:
    """The fragmenter steps from match to match (running sums of word lengths, binary searches): on texts
    built to hit its edges (words of 1 to 250 letters, runs of punctuation, matches side by side and far
    apart, countdowns that end at exactly 0, texts past the 32 KiB highlight limit with a word across it)
    it picks Whoosh's passages."""
    rng = random.Random(11)
    vocabulary = ["crimea", "talks", "grain", "sea", "a", "it's", "U.S", "الحكومة", "وزير", "x" * 59, "y" * 61]
    seps = [" ", " ", " ", ", ", ". ", "\n", " - ", " ... ", " " + "-" * 70 + " "]
    cases = shown = 0
    for i in range(400):
        size = rng.choice((5, 40, 200, 800))
        words = [rng.choice(vocabulary) if rng.random() < 0.9 else "z" * rng.randint(1, 250) for _ in range(size)]
        text = "".join(w + rng.choice(seps) for w in words)
        if i % 40 == 0:  # past the highlight limit, with a match cut by it
            pad = "w " * (2**14)
            text = pad[: 2**15 - 41] + " crimea talks grain sea الحكومة crimeas talks " + text
        for lang in ("en", "ar"):
            vocabulary_terms = sorted({t for w in set(words) for t in index_terms_of_word(w, lang)})
            query_words = frozenset(rng.sample(vocabulary_terms, min(len(vocabulary_terms), rng.choice((1, 2)))))
            for top in (1, 2, 3):
                expected = _whoosh_snippet(text, lang, query_words, top)
                assert snippet(text, lang, query_words, top=top) == expected, (i, lang, top)
                cases += 1
                shown += bool(expected)
    assert cases == 2400 and shown > 1000


def test_the_one_word_analysis_equals_the_analyzer_chain() -> None:
    texts = [body for body, _ in _fixture_bodies()]
    texts.append("THE The Ünïcode Straße 東京 أعلنت الحكومه الحُكُومَة بالحكومة ـ políticas Politica")
    texts.append("it's U.S. don’t a y el")
    words = {w for text in texts for w in WORD_RE.findall(text)}
    assert len(words) > 500
    for lang in ("en", "es", "ar", "xx"):
        analyzer = analyzer_for(lang)
        for word in words:
            assert index_terms_of_word(word, lang) == tuple(t.text for t in analyzer(word)), (word, lang)


def test_many_words_analysed_at_once_equal_one_word_at_a_time() -> None:
    """index_terms_of_words (new words while indexing: normalised joined, stemmed in one call) gives each
    word's index_terms_of_word term, in every language, for words of every script and case."""
    texts = [body for body, _ in _fixture_bodies()]
    texts.append("THE The Ünïcode Straße 東京 أعلنت الحكومه الحُكُومَة بالحكومة ـ políticas Politica ΟΔΟΣ İstanbul")
    words = sorted({w for text in texts for w in WORD_RE.findall(text)})
    assert len(words) > 500
    for lang in ("en", "es", "ar", "xx"):
        expected = [next(iter(index_terms_of_word(w, lang)), "") for w in words]
        assert index_terms_of_words(words, lang) == expected, lang
        assert index_terms_of_words(words[::-1], lang) == expected[::-1], lang


def test_searches_reuse_the_reader_until_a_commit_or_a_rebuild(tmp_path: Path) -> None:
    """A process that searches an index many times keeps its reader between searches (search._READERS),
    and opens the new commit's after a write, or the new index's after a rebuild swapped the directory."""
    directory = tmp_path / "ix"
    index = create_index(directory)
    write_articles(index, ARTICLES)
    first = search(index, SearchRequest("crimea")).total
    kept = _READERS[index][1]
    assert search(index, SearchRequest("crimea")).total == first
    assert _READERS[index][1] is kept  # nothing committed: the same reader
    more = [Article(url=f"https://z.example/{i}", headline="Crimea bridge", body="crimea", lang="en") for i in range(3)]
    write_articles(index, more)
    assert search(index, SearchRequest("crimea")).total == first + 3
    assert _READERS[index][1] is not kept
    other = create_index(tmp_path / "other")
    write_articles(other, ARTICLES)
    assert search(other, SearchRequest("blinken")).total > 0
    generation = other.latest_generation()
    rebuild(tmp_path / "other", more)  # a new directory swapped in, its TOC of the same generation
    assert other.latest_generation() == generation
    assert search(other, SearchRequest("crimea")).total == 3
    assert search(other, SearchRequest("blinken")).total == 0


def test_the_word_cache_refills_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """terms_of_words clears its dict past _TERMS_MAX words and analyses all of a text's words again."""
    import newsarchive.analysis as analysis

    text = "Crimea talks stall; Blinken met officials running the talks in Crimea again and again."
    expected = LangPositions("en").term_positions(text)
    monkeypatch.setattr(analysis, "_TERMS_MAX", 5)
    monkeypatch.setitem(analysis._TERMS, "en", {})
    assert LangPositions("en").term_positions("Crimea talks") == {"crimea": [0], "talk": [1]}
    assert LangPositions("en").term_positions(text) == expected
    assert terms_of_words(["officials", "Crimea"], "en") == ["offici", "crimea"]


@pytest.mark.parametrize("text", ["grain", "grain deal", "gobierno", '"black sea"', "الحكومة OR grain"])
def test_bm25_parameters_from_the_lists_read_equal_whoosh_scorers_over_several_segments(
    tmp_path: Path, text: str
) -> None:
    """The evaluator takes BM25F's idf from the document frequencies of the posting lists it read and
    skips language fields a segment has no text in: over several segments (one without a language,
    one with a deleted article), every score equals Whoosh's own scorer's, bit for bit."""
    index = create_index(tmp_path / "ix")
    for start in range(0, len(ARTICLES), 2):
        write_articles(index, ARTICLES[start : start + 2])
    write_articles(index, [], delete_ids=[ARTICLES[0].id])
    q = build_query(index, text)
    with index.searcher() as searcher:
        assert len(searcher.subsearchers) > 1
        scores = Evaluator(searcher).scores(q)
        exhaustive = {h.docnum: h.score for h in searcher.search(q, limit=None, optimize=False)}
    assert scores
    assert scores == exhaustive


def test_phrases_of_two_and_three_words_find_what_whoosh_finds(tmp_path: Path) -> None:
    """Phrases checked by binary search in the later words' positions (evaluate._phrase, codec
    TermPostings.holds): the documents Whoosh's own phrase matcher finds, over two segments, for
    phrases of frequent and rare words, repeated words and words in reverse order."""
    rng = random.Random(5)
    vocab = ["grain", "deal", "sea", "port", "ship", "talks", "crimea", "minister"]
    weights = [40, 20, 10, 8, 5, 3, 2, 1]
    articles = [
        Article(url=f"https://p.example/{i}", headline="h", lang="en",
                body=" ".join(rng.choices(vocab, weights, k=rng.randint(3, 400))))
        for i in range(240)
    ]  # fmt: skip
    index = create_index(tmp_path / "ix")
    write_articles(index, articles[:150])
    write_articles(index, articles[150:])
    phrases = [f'"{a} {b}"' for a in vocab for b in vocab] + [
        '"grain grain grain"',
        '"deal sea port"',
        '"ship grain deal"',
    ]
    with index.searcher() as searcher:
        found = 0
        for text in phrases:
            q = build_query(index, text)
            expected = set(searcher.docs_for_query(q))
            assert Evaluator(searcher).docs(q) == expected, text
            found += bool(expected)
    assert found > 40


def test_a_query_word_is_analysed_as_the_field_analyzer_does() -> None:
    """search._analyzed takes a one-word leaf's term from analysis.terms_of_words: the same terms as the
    field's analyzer in query mode, for words of every script, stop words and multi-word texts."""
    from newsarchive.index.schema import make_schema
    from newsarchive.search import _analyzed

    schema = make_schema()
    texts = [body for body, _ in _fixture_bodies()][:20]
    words = sorted({w for text in texts for w in WORD_RE.findall(text)})[:3000]
    words += ["the", "Ünïcode", "الحُكُومَة", "u.s.", "grain-deal", "it's", "ـ", "políticas del"]
    for field in ("body_en", "headline_es", "description_ar", "body_xx"):
        for word in words:
            expected = [t.text for t in schema[field].analyzer(word, mode="query")]
            assert _analyzed(schema, field, word) == expected, (field, word)


def test_hits_whose_text_holds_no_query_word_skip_the_snippet_with_the_same_result(tmp_path: Path) -> None:
    """A hit's body (or description) is highlighted only when its postings hold a query term there; found
    by the headline, tags or byline alone, it shows what highlighting would have shown: the description,
    else the start of the body. Each hit's snippet equals the one built without asking the postings."""
    from newsarchive.search import _QueryWords, _searcher
    from newsarchive.store.articles import ArticleStore

    rng = random.Random(9)
    vocabulary = ["crimea", "grain", "talks", "corridor", "gobierno", "الحكومة", "plan", "sea", "deal", "minister"]
    articles = []
    for i in range(60):
        base = ARTICLES[i % len(ARTICLES)]
        body = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 30))) or "."
        description = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 4)))
        headline = " ".join(rng.choice(vocabulary) for _ in range(3))
        url = f"https://x.example/{i}"
        articles.append(
            base.replace(url=url, canonical_url=url, headline=headline, body=body, description=description or None)
        )
    index = create_index(tmp_path / "ix")
    write_articles(index, articles)
    store = ArticleStore(tmp_path / "store.sqlite")
    for a in articles:
        store.upsert(a)
    by_url = {a.canonical_url: a for a in articles}
    checked = skipped = 0
    for text in [*vocabulary, "crimea grain", '"grain deal"', "crim*", "plan OR sea"]:
        q = build_query(index, text)
        results = search(index, SearchRequest(text, limit=100), store=store)
        with _searcher(index) as searcher:
            words = _QueryWords(q, searcher)
            for hit in results.hits:
                a = by_url[hit.url]
                lang = lang_key(a.lang)
                expected = snippet(a.body, lang, words(f"body_{lang}"), top=2)
                if not expected and a.description:
                    expected = snippet(a.description, lang, words(f"description_{lang}")) or a.description
                expected = " ".join((expected or a.body[:200]).split())
                assert hit.snippet == expected, (text, hit.url)
                checked += 1
                skipped += not any(t in a.body.lower() for t in text.replace('"', "").split())
    store.close()
    assert checked > 200 and skipped > 10


def test_evaluators_sharing_a_reader_s_kept_statistics_score_as_a_fresh_evaluator(tmp_path: Path) -> None:
    """A search keeps each field's BM25 statistics and length bytes per reader (``kept``): the next
    searches of that reader, on other words and fields, score exactly as an evaluator computing them."""
    index = create_index(tmp_path / "ix")
    for article in ARTICLES:  # several segments
        write_articles(index, [article])
    kept: dict[Any, Any] = {}
    with index.searcher() as searcher:
        for text in ("talks", "grain crimea", "talks OR kiev", "gobierno", "talks"):
            q = build_query(index, text)
            assert Evaluator(searcher, kept=kept).scores(q) == Evaluator(searcher).scores(q)
    assert kept


def test_query_words_from_the_evaluation_s_posting_lists_equal_whoosh_s_existing_terms(tmp_path: Path) -> None:
    """The terms a snippet marks (``_QueryWords``): looked up in the lists the evaluation read, the same
    as Whoosh's ``existing_terms`` over every field, for words, phrases, patterns and stop words."""
    from newsarchive.search import _QueryWords

    index = create_index(tmp_path / "ix")
    for article in ARTICLES:  # one segment per write
        write_articles(index, [article])
    write_articles(index, [], delete_ids=[ARTICLES[0].id])
    texts = ["talks", "crimea grain", '"grain corridor"', "crim*", "kiev~", "the talks", "gobierno", "الحكومة"]
    texts += ["nothingatall", '"black sea" OR talks', "headline:talks"]
    with index.searcher() as searcher:
        fields = [name for name in searcher.schema.names() if name.startswith(("body_", "description_", "headline_"))]
        for text in texts:
            q = build_query(index, text)
            evaluator = Evaluator(searcher)
            evaluator.match(q)
            fast, reference = _QueryWords(q, searcher, evaluator), _QueryWords(q, searcher)
            assert [fast(f) for f in fields] == [reference(f) for f in fields], text
        assert any(_QueryWords(build_query(index, t), searcher)(f) for t in texts for f in fields)


def test_a_date_listing_s_hits_show_what_the_whole_article_gives(tmp_path: Path) -> None:
    """A listing reads its hits' fields with SQLite's JSON reader and only the start of the body: each hit
    shows what the whole decoded article gives (its description, else its body's first 200 characters,
    white space collapsed), for empty and missing descriptions, Arabic text, escapes and long bodies."""
    from newsarchive.store.articles import ArticleStore, HitText

    rng = random.Random(5)
    pieces = ["crimea", "الحكومة", "ñandú", "line\nbreak", "tab\there", '"quoted"', "back\\slash", "\u2028", "😀", "é"]
    articles = []
    for i in range(80):
        body = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))
        description = rng.choice([None, "", "  ", " ".join(rng.choices(pieces, k=5))])
        url = f"https://x.example/{i}"
        published = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i)
        base = ARTICLES[i % len(ARTICLES)]
        articles.append(
            base.replace(url=url, canonical_url=url, body=body, description=description, published=published)
        )
    store = ArticleStore(tmp_path / "store.sqlite")
    for a in articles:
        store.upsert(a)
    index = create_index(tmp_path / "ix")
    by_url = {a.canonical_url: a for a in articles}
    for newest in (True, False):
        sort = "newest" if newest else "oldest"
        results = search(
            index, SearchRequest(sort=sort, limit=100, date_from=datetime(2019, 1, 1, tzinfo=UTC)), store=store
        )
        assert results.total == len(articles) == len(results.hits)
        for hit in results.hits:
            whole = HitText.of(by_url[hit.url])
            assert hit.headline == whole.headline and hit.published == whole.published
            assert hit.snippet == " ".join((whole.description or whole.body[:200]).split()), hit.url
    store.close()
