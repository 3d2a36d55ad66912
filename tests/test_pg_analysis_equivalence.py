"""The bulk load's fast analysis (pg_search._doc_analysis, _chunk) against the straightforward one it replaced:
the lexeme-by-lexeme reference (tests/pg_reference.py: field_terms' lexemes, tsvector_text's vector text),
doc_impacts' factors and count_terms, composed as doc_row and _chunk did before.
The same rows, vector text, impacts, counts and months, byte for byte and float for float, over
generated articles: Arabic, Spanish, English and other-language text with quotes, backslashes, stop words, tokens
without a term, words too long for a lexeme, a word repeated past the 256 positions a lexeme keeps (in one field
and over several), empty fields, and tags and authors with quotes, backslashes, commas and braces."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_reference import field_terms, tsvector_text

from newsarchive.analysis import lang_key, lang_primary, tag_key
from newsarchive.article import Article
from newsarchive.index import pg_search
from newsarchive.index.pg_search import (
    COUNT_ONLY,
    MAX_POSITION,
    MAX_POSITIONS,
    _chunk,
    _copy_text,
    _copy_value,
    _doc_analysis,
    _impact_lines,
    _month_keys,
    _storable,
    _tf,
    _tf_of_counts,
    count_terms,
    doc_impacts,
    doc_row,
)
from newsarchive.index.schema import to_utc_naive


def _reference_doc_row(article: Article, avgdl: float) -> tuple[tuple[Any, ...], list[str], int, list[Any]]:
    """doc_row as it was: field_terms, then each of its consumers over the lexemes."""
    article = _storable(article)
    terms, length = field_terms(article)
    published = to_utc_naive(article.published) if article.published is not None else None
    row = (
        article.id,
        article.canonical_url,
        article.headline,
        article.site,
        lang_primary(article.lang),
        lang_key(article.lang),
        (article.section or "").lower(),
        f"{published.year:04}-{published.month:02}" if published is not None else None,
        published,
        list(dict.fromkeys(k for k in map(tag_key, article.tags) if k)),  # each key once
        list(dict.fromkeys(k for k in map(tag_key, article.byline) if k)),
        length,
        tsvector_text(terms),
    )
    keys = list(itertools.takewhile(lambda lex: lex.startswith(("tag:", "by:")), reversed(terms)))
    lexemes = list(terms) + count_terms(terms, row[5], row[4], keys)
    return row, lexemes, length, doc_impacts(terms, length, avgdl) if avgdl > 0 else []


def _reference_chunk(articles: list[Article], avgdl: float) -> tuple[Any, ...]:
    """_chunk as it was, on _reference_doc_row (the document frequencies of the count_terms only)."""
    docs, impacts = [], []
    df: Counter[str] = Counter()
    months: Counter[tuple[str, str]] = Counter()
    length = 0
    for article in articles:
        row, lexemes, dl, found = _reference_doc_row(article, avgdl)
        docs.append("\t".join(map(_copy_value, row)) + "\n")
        doc_id = _copy_text(row[0])
        impacts.extend(f"{_copy_text(lex)}\t{f!r}\t{doc_id}\n" for lex, f in found)
        df.update(lex for lex in lexemes if lex.startswith(COUNT_ONLY))  # the vectors' lexemes: in the server
        months.update(_month_keys((lex for lex in lexemes if lex.startswith(COUNT_ONLY)), row[7]))
        length += dl
    return "".join(docs), "".join(impacts), df, len(articles), length, months, None


_WORDS = [
    # English (stop words, apostrophes, abbreviations, stems)
    "the", "of", "plan", "plans", "planning", "don't", "O'Brien", "U.S.", "rock'n'roll", "Gaza", "israel",
    "covid-19", "2024", "İstanbul", "straße", "ＡＢＣ", "cafe\u0301",
    # Spanish
    "las", "elecciones", "política", "niños", "de", "el", "año", "años",
    # Arabic (harakat, tatweel, hamza forms, a token of tatweel alone: no term)
    "الحكومة", "غزة", "إسرائيل", "في", "من", "بَيْتٌ", "ـ", "ـــ", "مدرسة", "مدرستها", "أمريكا",
    # others
    "l'ami", "aujourd'hui", "Москва", "и", "東京",
]  # fmt: skip
_SEPS = [" ", "  ", "\n\n", ", ", ". ", " ' ", " \\ ", '"', "’", "\\", "'", "\t", "\x00"]

_word = st.one_of(
    st.sampled_from(_WORDS),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=6),
    # near the 2,000 bytes of a lexeme: ASCII (1 byte a character) and Arabic (2)
    st.integers(1990, 2010).map(lambda n: "x" * n),
    st.integers(990, 1002).map(lambda n: "ب" * n),
    st.integers(490, 510).map(lambda n: "ق" * n),
)


@st.composite
def _texts(draw: st.DrawFn, max_parts: int = 8) -> str:
    parts = draw(
        st.lists(
            st.tuples(_word, st.sampled_from([1, 1, 1, 2, 3, 5, 255, 256, 257, 300]), st.sampled_from(_SEPS)),
            max_size=max_parts,
        )
    )
    return "".join((word + sep) * k for word, k, sep in parts)


_keys = st.lists(
    st.one_of(
        st.sampled_from(
            ["Gaza", "gaza", "Gaza, Israel", "plan", "Jane  Doe", "a'b", "back\\slash", "{x}", '"q"', "", " "]
        ),
        st.text(max_size=8),
    ),
    max_size=4,
).map(tuple)


@st.composite
def _articles(draw: st.DrawFn) -> Article:
    body = draw(_texts())
    return Article(
        url=f"https://x.example/{draw(st.integers(0, 10**9))}",
        headline=draw(_texts(max_parts=3)),
        description=draw(st.none() | _texts(max_parts=3)),
        body=body,
        site="x.example",
        lang=draw(st.sampled_from(["en", "es", "ar", "fr", "en-GB", None, "AR_eg"])),
        tags=draw(_keys),
        byline=draw(_keys),
        section=draw(st.none() | st.sampled_from(["World", "Política"])),
        published=draw(
            st.none() | st.sampled_from([datetime(2024, 3, 1, tzinfo=UTC), datetime(999, 1, 1, tzinfo=UTC)])
        ),
    )


_AVGDL = st.sampled_from([0.0, 3.0, 50.0, 400.0, 1234.5])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(article=_articles(), avgdl=_AVGDL)
def test_the_fast_analysis_of_an_article_equals_the_lexeme_by_lexeme_one(article: Article, avgdl: float) -> None:
    row, lexemes, length, impacts, counted = _doc_analysis(article, avgdl)
    assert (row, lexemes, length, impacts) == _reference_doc_row(article, avgdl)
    assert doc_row(article, avgdl) == (row, lexemes, length, impacts)
    assert counted == [lex for lex in lexemes if lex.startswith(COUNT_ONLY)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(articles=st.lists(_articles(), max_size=4), avgdl=_AVGDL)
def test_a_chunk_is_what_the_lexeme_by_lexeme_analysis_copies(articles: list[Article], avgdl: float) -> None:
    assert _chunk(articles, avgdl) == _reference_chunk(articles, avgdl)


def test_an_article_past_the_last_position_a_vector_keeps_is_analysed_the_same() -> None:
    """Positions past MAX_POSITION (PostgreSQL clamps them; the factors count them clamped) and a word of several
    fields past the 256 positions of a lexeme."""
    rng = random.Random(3)
    words = ["plan", "gaza", "school", "north", "water", "river", "stone"]
    body = " ".join(rng.choice(words) + str(rng.randrange(3000)) for _ in range(MAX_POSITION + 500))
    body += " tail gaza tail"
    article = Article(
        url="https://x.example/long", headline="gaza " * 200 + "Plan", body=body, lang="en", tags=("Gaza",)
    )
    for avgdl in (0.0, 400.0, 20000.0, 90000.0):
        assert _doc_analysis(article, avgdl)[:4] == _reference_doc_row(article, avgdl)
    vector = _doc_analysis(article, 400.0)[0][-1]
    assert "'en:gaza':" in vector and vector.count("'en:gaza':") == 1


def test_a_lexeme_of_several_fields_keeps_its_first_256_positions_in_field_order() -> None:
    article = Article(
        url="https://x.example/many",
        headline="gaza " * 100,
        description="gaza " * 100,
        body="gaza " * 100 + "plan",
        lang="en",
    )
    row, *_ = _doc_analysis(article, 400.0)
    assert row == _reference_doc_row(article, 400.0)[0]
    positions = row[-1].split("'en:gaza':")[1].split()[0].split(",")
    assert len(positions) == MAX_POSITIONS and positions[0] == "1A" and positions[-1].endswith("D")


def test_a_shapes_term_frequency_is_the_positional_one_bit_for_bit() -> None:
    """_tf_of_counts (a lexeme's numbers of positions per field) is _tf of any positions of that shape."""
    rng = random.Random(11)
    for _ in range(2000):
        letters = sorted(rng.sample("ABD", rng.randint(1, 3)), key="ABD".index)  # fields in position order
        fields, start = [], rng.randint(1, 50)
        for letter in letters:
            k = rng.choice([1, 1, 2, 3, 7, 60, 255, 256, 257, 400])
            poses = sorted(rng.sample(range(start, start + 3 * k + 2), k))
            fields.append((poses, letter))
            start = poses[-1] + 1 + rng.randint(0, 200)
        if start > MAX_POSITION:
            continue
        shape = tuple((letter, min(len(poses), MAX_POSITIONS)) for poses, letter in fields)
        assert _tf_of_counts(shape) == _tf(fields)


def test_impact_rows_escape_what_copy_reads_as_an_escape() -> None:
    found = [("en:plan", 1.25), ("en:a\tb", 1.5), ("en:c\\d", 1.25), ("en:e\nf\rg", 2.0)]
    for doc_id in ("abc", "a\\b"):
        expected = "".join(f"{_copy_text(lex)}\t{f!r}\t{_copy_text(doc_id)}\n" for lex, f in found)
        assert _impact_lines(found, _copy_text(doc_id)) == expected
        assert _impact_lines(found[:1], _copy_text(doc_id)) == expected.splitlines(keepends=True)[0]


def test_the_shared_position_texts_stay_within_a_vectors_positions() -> None:
    article = Article(url="https://x.example/huge", headline="h", body="w " * (MAX_POSITION + 10), lang="en")
    _doc_analysis(article, 400.0)
    assert all(len(texts) <= MAX_POSITION + 1 for texts in pg_search._POSITION_TEXTS.values())
