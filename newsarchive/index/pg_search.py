"""Search on PostgreSQL: full-text search over the shared store, with the project's own analysis.

Tables (all prefixed ``search_``, so they never clash with the store's):

* ``search_docs``: one row per article: the filter columns (site, language, section, month,
  publication time as naive UTC, tag and author keys) and one ``tsvector`` ``tv`` holding every
  searchable term. The terms are the ones the Whoosh index holds (``analysis.LangPositions``: the
  same tokenizer, normalisation, stop words and stemmers), each prefixed by its field family:
  ``en:plan`` (text of an English article), ``tag:gaza, israel``, ``by:jane doe``. The text field is
  the lexeme's weight: headline A, description B, body D (tags and authors C), and positions are the
  analysed positions (stop words take none, as in Whoosh) with a gap between fields, so a phrase
  never spans two of them. GIN-indexed, or RUM when the server has the extension (INDEX_ENV chooses
  when the tables are built; they keep their kind until rebuilt; results never depend on it); a B-tree on
  the publication time answers ranges and newest-first listings.
* ``search_terms``: each lexeme's document frequency (the idf of the ranking; wildcard, fuzzy and
  range expansion; did-you-mean), ``search_stats``: the number of documents and their total length.
  ``search_term_months``: the same per month of publication. Both also count terms that are never in a
  vector (count_terms): each language's documents (``lang:en``) and, for each one-word tag or author
  key, the documents holding it and its word in their text (``both:tag:gaza``), so that a bare word's
  exact total comes from counts alone (PgSearch._word_count).
* ``search_term_facets``: for the terms listed in ``search_facet_terms`` (the most frequent terms of a reload, counted
  as it analyses the articles: FACET_LOAD_SHARE; and frequent terms some facet search needed: FACET_MIN_DOCS), the
  documents per facet value (tag key, or site, language, month marked as in _facets), kept exact by every writer,
  so that a frequent bare word's facets need not read its matches (PgSearch._word_facets).
* ``search_changes``: each article's last change number (a sequence, taken under one advisory lock
  so that numbers commit in order): a local Whoosh index follows the shared store from it
  (``changes_since``; index/follow.py).
* ``search_meta``: the schema version and this database's identity.

Queries are parsed by search.py's parser into the Whoosh query tree the Whoosh backend runs; the
tree is translated here: its text part to one ``tsquery`` (AND ``&``, OR ``|``, NOT ``!``, phrases
``<->``, prefixes ``:*``, field restriction by weight), its filters (dates, site, language,
section, month) to SQL on the columns. The same boolean query selects the same articles as in
Whoosh (tests/test_search_postgres.py checks it on a corpus).

Ranking (relevance), BM25-like and not Whoosh's BM25F: for each query term,
``idf * s * (k1 + 1) / (s + k1 * (1 - b + b * dl / avgdl))`` summed over the terms found in the
document, where idf = ln(N / (df + 1)) + 1 from ``search_terms`` (Whoosh's idf), dl the document's
length in terms, and s the term's frequency as PostgreSQL's ``ts_rank`` weighs it (sum of w/i^2 over
its positions, a saturating count; headline positions weigh twice the others, as the headline's
boost in Whoosh). Phrases score as their words, patterns (``ukrain*``) as a constant 1. Limits of a
``tsvector``: positions stop at 16,383 and at 256 per term, so a phrase past the 16,383rd word of a
very long article, or past a term's 256th occurrence, is not found (Whoosh finds it).

Ranked top-k without ranking every match: ``search_impacts`` (term, factor, id), B-tree on (term, factor
DESC), holds each bare word's BM25 factor ``s (k1 + 1) / (s + k1 norm)`` in every document where it reaches
IMPACT_FLOOR (the length normalised against a fixed average, search_meta's ``avgdl``, so a factor never
changes once written). A relevance search reads each ranked word's list in factor order, scores the
documents read that match with the full expression, and keeps that top when its last score is above what
a document not read can reach (PgSearch._impact_top); otherwise every match is ranked as before. The hits
and their order are those of ranking every match; the total is counted on the GIN index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import operator
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from whoosh import query

from newsarchive.analysis import ALL_LANGS, LANGS, LangPositions, lang_key, lang_primary, tag_key
from newsarchive.article import Article
from newsarchive.errors import QueryError, SearchIndexError
from newsarchive.index.filters import DocsFilter
from newsarchive.index.schema import BOOSTS, make_schema, month_key, to_utc_naive
from newsarchive.store.pg import connection_error, pg_text, require_psycopg, text_safe
from newsarchive.wildcard import StemPattern

if TYPE_CHECKING:
    from newsarchive.search import SearchRequest, SearchResults
    from newsarchive.store.articles import ArticleStore

#: Bump when the tables (``_DDL``: tables of this version are opened without running it, PgSearch._ready) or the
#: analysis change: older tables are rebuilt by reindex.
PG_SEARCH_VERSION = 5  # 3: search_term_months; 4: count_terms; 5: search_term_facets
#: Versions brought to this one in place by their owner (_DDL adds their missing tables, empty): 4 lacks the
#: facet counts only (its readers go on without them).
UPGRADED_IN_PLACE = (4,)
#: The tables the in-place upgrade adds (granted as search_docs is: _grant_as_on).
_ADDED_IN_PLACE = ("search_facet_terms", "search_term_facets")
#: Positions skipped between two text fields (a phrase with a slop up to this never spans two).
FIELD_GAP = 100
MAX_SLOP = FIELD_GAP - 1
#: A phrase with a slop expands to every spacing of its words: at most this many.
MAX_SLOP_FORMS = 64
MAX_POSITION = 16383  # PostgreSQL's limit for a tsvector position
MAX_POSITIONS = 256  # ... and for the positions of one lexeme
MAX_LEXEME_BYTES = 2000  # PostgreSQL refuses a lexeme of 2 KB or more
#: A pattern (wildcard, regex, fuzzy, range) expands to at most this many terms.
MAX_EXPANSION = 5000
K1, B = 1.2, 0.75
#: ts_rank's weights by tsvector weight letter (D, C, B, A order in its array) before scaling.
_WEIGHT_OF = {"headline": "A", "description": "B", "body": "D"}
_LETTERS = "DCBA"
_ZETA2 = 1.64493406685  # ts_rank divides a term's sum of w/i^2 by this
#: A bare word's ts_rank weights (D, C, B, A order; scaled to at most 1) and their scale: headline x2.
_IMPACT_TOP = max(BOOSTS.values())
_IMPACT_WEIGHTS = tuple(BOOSTS[name] / _IMPACT_TOP if name else 0.0 for name in ("body", "", "description", "headline"))
#: search_impacts holds, for each text lexeme, every document where its BM25 factor reaches this (of at
#: most k1 + 1): the documents that can lead a ranking, read in factor order by a B-tree.
IMPACT_FLOOR = 1.2
#: Document lengths are normalised against this average (terms), fixed when the tables are made and kept in
#: search_meta: a document's factors never change after it is written, so search_impacts stays exact.
DEFAULT_AVGDL = 400.0
#: Ranked top-k from search_impacts: list entries read per term at first, at most (then every match is ranked).
IMPACT_DEPTH, IMPACT_MAX_DEPTH = 200, 6400
#: Which ranking stats reports.
RANKING = (
    "bm25-like (idf from search_terms, tf saturation from ts_rank positions, headline x2;"
    " top hits from the search_impacts lists when they settle them)"
)
#: With a RUM index, a relevance search counts its matches on the index first and ranks them all when they
#: are at most this many (the impact lists otherwise); the hits and their order are the same either way.
RUM_RANK_ALL = 500
#: A stop word's matches outside its languages (and those with its tag or author key) ranked at once up to this many.
STOP_WORD_RANK_ALL = 2000
#: What stats adds to RANKING with a RUM index.
RUM_RANKING = f"; RUM index: up to {RUM_RANK_ALL} matches, counted on the index, are ranked all"

#: Which text index new search tables get: "auto" (RUM when the server offers the ``rum`` extension and this
#: user may create it, else GIN), "gin" or "rum" (an error when the server cannot). Read when the tables are
#: made or rebuilt (reindex, store migrate): existing tables keep the kind they were built with.
INDEX_ENV = "NEWSARCHIVE_PG_INDEX"
INDEX_CHOICES = ("auto", "gin", "rum")

#: Facets of a bare word from counts kept per term (search_term_facets) once the word's terms match at least this
#: many documents: counting the values of each match costs ~2.3 us, 1.4 s for a word in 612,000 of 1,000,000
#: articles. A term's counts are made by the first facet search that needs them (one pass over its matches) and
#: kept exact by every writer from then on; at most FACET_TERMS terms are kept (each costs every article added
#: that holds it one count per value: its tags, site, language and month; a reload keeps up to FACET_LOAD_TERMS).
FACET_MIN_DOCS = 20000
FACET_TERMS = 1000
#: A reload (bulk_load) keeps from the start the counts of the terms in FACET_LOAD_SHARE of the articles or more (at
#: most FACET_LOAD_TERMS of them, the most frequent; of FACET_MIN_DOCS documents or more once loaded), counted by the
#: analysis processes as they read each article: their first facet search would read all their matches (0.6-1.8 s
#: for a word in 30-60% of 1,000,000 articles; its matches' bitmap alone is 0.4 s). Which terms, the first
#: FACET_LOAD_SAMPLE articles tell.
FACET_LOAD_SHARE = 0.1
FACET_LOAD_TERMS = 500
FACET_LOAD_SAMPLE = 1000
#: Articles analysed at once by a bulk load's worker process (_chunk).
LOAD_CHUNK = 500
#: A reload (bulk_load, clear) locks every search table at once: each try waits this long (s; under the server's
#: deadlock_timeout, 1 s by default, so that the reload gives way first), and tries again for up to RELOAD_LOCK_WAIT.
RELOAD_LOCK_TRY = 0.2
RELOAD_LOCK_WAIT = 600.0
#: Processes analysing articles for a bulk load (store migrate): one per CPU, the analysis is the bound.
LOAD_PROCS = os.cpu_count() or 1

#: Memory of a search's sorts and bitmaps (SET LOCAL): the bitmap of a frequent word's matches must stay exact
#: (one bit a row). With the default 4 MB it turns lossy past ~100,000 matches, and a lossy page's every row is
#: checked again on its vector, read from TOAST: counting 537,000 matches at 1,000,000 articles took 4.2 s,
#: 0.6 s with an exact bitmap.
SEARCH_WORK_MEM = "64MB"
#: A row longer than this (bytes) has its vector moved out of line (the smallest PostgreSQL allows).
TOAST_TARGET = 128
#: The variable-length columns kept in the row, however long the row.
_ROW_COLUMNS = ("id", "url", "title", "site", "lang", "lkey", "section", "month", "tags", "byline")

_LOCK_KEY = 0x6E657773  # pg_advisory_xact_lock key of every writer ("news")

_DDL = """
CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_docs (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    site TEXT NOT NULL,
    lang TEXT NOT NULL,
    lkey TEXT NOT NULL,
    section TEXT NOT NULL,
    month TEXT,
    published TIMESTAMP,
    tags TEXT[] NOT NULL,
    byline TEXT[] NOT NULL,
    dl INTEGER NOT NULL,
    tv TSVECTOR NOT NULL
);
CREATE INDEX IF NOT EXISTS search_docs_newest ON search_docs (published DESC NULLS LAST, id);
CREATE INDEX IF NOT EXISTS search_docs_oldest ON search_docs (published ASC NULLS FIRST, id);
CREATE INDEX IF NOT EXISTS search_docs_site ON search_docs (site);
CREATE INDEX IF NOT EXISTS search_docs_month ON search_docs (month);
CREATE INDEX IF NOT EXISTS search_docs_published ON search_docs (published);
CREATE INDEX IF NOT EXISTS search_docs_lang ON search_docs (lang, published);
CREATE TABLE IF NOT EXISTS search_terms (term TEXT COLLATE "C" PRIMARY KEY, df INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS search_term_months (
    term TEXT COLLATE "C" NOT NULL, month TEXT COLLATE "C" NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (term, month)
);
CREATE TABLE IF NOT EXISTS search_impacts (term TEXT COLLATE "C" NOT NULL, impact REAL NOT NULL, id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS search_impacts_top ON search_impacts (term, impact DESC, id);
CREATE INDEX IF NOT EXISTS search_impacts_id ON search_impacts (id);
CREATE TABLE IF NOT EXISTS search_stats (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), docs BIGINT NOT NULL, length BIGINT NOT NULL
);
INSERT INTO search_stats (one, docs, length) VALUES (TRUE, 0, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS search_facet_terms (term TEXT COLLATE "C" PRIMARY KEY);
CREATE TABLE IF NOT EXISTS search_term_facets (
    term TEXT COLLATE "C" NOT NULL, value TEXT COLLATE "C" NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (term, value)
);
CREATE SEQUENCE IF NOT EXISTS search_change_seq;
CREATE TABLE IF NOT EXISTS search_changes (article_id TEXT PRIMARY KEY, seq BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS search_changes_seq ON search_changes (seq);
"""


#: CREATE INDEX ... USING of each kind of text index.
_INDEX_USING = {"gin": "gin (tv)", "rum": "rum (tv rum_tsvector_ops)"}


def wanted_index_kind() -> str:
    """INDEX_ENV's value: "auto" (unset), "gin" or "rum"; another value is a usage error."""
    from newsarchive.errors import UsageError

    value = os.environ.get(INDEX_ENV, "").strip().lower() or "auto"
    if value not in INDEX_CHOICES:
        raise UsageError(f"{INDEX_ENV}={value!r} is not a kind of text index", hint="use auto, gin or rum")
    return value


class OutdatedSearchTables(SearchIndexError):
    """The search tables were made by another version of newsarchive (reindex replaces them)."""


def _refuse_newer(version: str) -> None:
    raise SearchIndexError(
        f"the PostgreSQL search tables were made by a newer version of newsarchive (tables version {version}, this"
        f" one knows up to {PG_SEARCH_VERSION})",
        hint="upgrade newsarchive on this machine (pip install -U newsarchive); the tables are left as they are",
    )


def connect(url: str) -> Any:
    """A psycopg connection to ``url`` (psycopg is imported only here: SQLite archives never load it). A server
    that cannot be reached or logged into, or psycopg not installed, is said as for the store: one line, a
    hint, exit 2."""
    psycopg = require_psycopg()
    try:
        conn = psycopg.connect(url)
    except psycopg.Error as exc:
        raise connection_error(url, exc) from None
    return conn  # PgSearch makes it NUL-safe (text_safe)


# --- documents ---------------------------------------------------------------------------------

_POSITIONS = {lang: {name: LangPositions(lang) for name in _WEIGHT_OF} for lang in ALL_LANGS}


#: What a query word too long for a lexeme becomes: a lexeme no document holds (no field family is "-"), so the
#: word matches nothing, as it is in no vector (the analysis drops such words); PostgreSQL would refuse it.
_NO_LEXEME = "'-:too-long'"


def _lexeme_literal(text: str) -> str:
    if len(text) * 4 >= MAX_LEXEME_BYTES and len(text.encode("utf-8")) >= MAX_LEXEME_BYTES:
        return _NO_LEXEME
    if "'" in text or "\\" in text:
        text = text.replace("\\", "\\\\").replace("'", "''")
    return "'" + text + "'"


#: A key that a bare word's query can hold: the word as search._plain_words accepts it, lowercased (tag_key).
_ONE_WORD_KEY = re.compile(r"[^\W_]+")
#: The prefixes of the terms that are counted (search_terms, search_term_months) but never in a vector.
BOTH, LANG = "both:", "lang:"
COUNT_ONLY = (BOTH, LANG)
#: The prefix of a facet count's term that is no term at all: ``only:tag:gaza``, the documents holding the key and
#: not its word (PgSearch._word_facets).
ONLY = "only:"


def count_terms(lexemes: Iterable[str], family: str, lang: str, keys: Iterable[str] | None = None) -> list[str]:
    """The terms counted for a document beside its vector's lexemes (search_terms, search_term_months), so that a
    bare word's exact total comes from counts (PgSearch._word_count): ``lang:`` + its language (``lang``, the
    documents of a language where the word is a stop word), and ``both:`` + each of its one-word tag or author
    keys whose word its text also holds, in its own language's analysis (``family``: its ``lkey``; the word's
    total is its text lexemes' documents plus its key's, less these). ``keys``: the tag and author lexemes among
    ``lexemes``, when the caller has them (else they are looked for)."""
    held = lexemes if isinstance(lexemes, set | frozenset | dict) else set(lexemes)
    prefix = family + ":"
    return _counted_terms(held if keys is None else keys, family, lang, lambda term: prefix + term in held)


def _counted_terms(keys: Iterable[str], family: str, lang: str, holds: Callable[[str], bool]) -> list[str]:
    """count_terms, with ``holds``: whether the text holds a term (of ``family``, without its prefix)."""
    out = [LANG + lang]  # 'lang:' for none: every document has one (a date listing's total sums them)
    for lex in keys:
        if lex.startswith(("tag:", "by:")) and any(map(holds, _key_word_terms(lex.partition(":")[2], family))):
            out.append(BOTH + lex)
    return sorted(out)


@functools.lru_cache(maxsize=1 << 16)
def _key_word_terms(key: str, family: str) -> tuple[str, ...]:
    """The terms of a one-word key's word in a family's analysis (none for a key of several words)."""
    from newsarchive.analysis import index_terms_of_word

    return index_terms_of_word(key, family) if _ONE_WORD_KEY.fullmatch(key) else ()


def _prefix_sums(w: float) -> list[float]:
    out, resj = [], 0.0
    for j in range(MAX_POSITIONS):
        resj += w / ((j + 1) * (j + 1))
        out.append(resj)
    return out


#: _tf's running sums for a lexeme of one field, by weight rank: the same additions in the same order.
_PREFIX = [_prefix_sums(w) for w in _IMPACT_WEIGHTS]


def _tf(fields: list[tuple[list[int], str]]) -> float:
    """A text lexeme's saturating frequency ``s`` as the ranking reads it from the vector (a bare word's
    weights: headline 2, description and body 1): ts_rank's sum over the positions PostgreSQL keeps
    (the vector's: its first MAX_POSITIONS, clamped to MAX_POSITION, one a position with the highest weight), times
    _ZETA2 * top."""
    if len(fields) == 1:  # the usual case: one field, distinct rising positions, none clamped
        poses, letter = fields[0]
        k = min(len(poses), MAX_POSITIONS)
        if poses[k - 1] <= MAX_POSITION:
            rank = _LETTERS.index(letter)
            w = _IMPACT_WEIGHTS[rank]
            return (w + _PREFIX[rank][k - 1] - w / 1) * _IMPACT_TOP  # _tf_positions' sum, bit for bit
    return _tf_positions(fields)


def _tf_positions(fields: list[tuple[list[int], str]]) -> float:
    """_tf, position by position."""
    best: dict[int, int] = {}
    room = MAX_POSITIONS
    for poses, letter in fields:
        if room <= 0:
            break
        kept = poses[:room] if len(poses) > room else poses
        room -= len(kept)
        rank = _LETTERS.index(letter)
        for p in kept:
            p = min(p, MAX_POSITION)
            if best.get(p, -1) < rank:
                best[p] = rank
    resj, wjm, jm = 0.0, -1.0, 0
    for j, p in enumerate(sorted(best)):
        w = _IMPACT_WEIGHTS[best[p]]
        resj += w / ((j + 1) * (j + 1))
        if w > wjm:
            wjm, jm = w, j
    return (wjm + resj - wjm / ((jm + 1) * (jm + 1))) * _IMPACT_TOP


def bm25_factor(s: float, dl: int, avgdl: float) -> float:
    """A term's BM25 factor from its frequency ``s`` and the document length: s (k1 + 1) / (s + k1 norm)."""
    return (K1 + 1) / (1 + K1 * ((1 - B) + B * dl / avgdl) / s) if s > 0 else 0.0


_RANK = {letter: rank for rank, letter in enumerate(_LETTERS)}


@functools.lru_cache(maxsize=4096)
def _fewest_positions(length: int, avgdl: float) -> tuple[int, ...]:
    """Per weight rank (D, C, B, A), the fewest positions a lexeme of one field needs for its BM25 factor to
    reach IMPACT_FLOOR in a document of this length (MAX_POSITIONS + 1: never). _tf's single-field sum and
    bm25_factor never decrease as positions are added (sums of positive floats), so fewer stay under it."""
    out = []
    for rank, w in enumerate(_IMPACT_WEIGHTS):
        k = 1
        while k <= MAX_POSITIONS:
            if bm25_factor((w + _PREFIX[rank][k - 1] - w / 1) * _IMPACT_TOP, length, avgdl) >= IMPACT_FLOOR:
                break
            k += 1
        out.append(k)
    return tuple(out)


def doc_impacts(terms: dict[str, list[tuple[list[int], str]]], length: int, avgdl: float) -> list[tuple[str, float]]:
    """(lexeme, BM25 factor) of a document's text lexemes whose factor reaches IMPACT_FLOOR (search_impacts)."""
    out = []
    fewest = _fewest_positions(length, avgdl)
    for lex, fields in terms.items():
        if len(fields) == 1:  # most lexemes: one field, too few positions to reach the floor (not computed)
            poses, letter = fields[0]
            if len(poses) < fewest[_RANK[letter]] and poses[-1] <= MAX_POSITION:
                continue
        if lex.startswith(("tag:", "by:")):
            continue
        f = bm25_factor(_tf(fields), length, avgdl)
        if f >= IMPACT_FLOOR:
            out.append((lex, f))
    return out


def doc_row(article: Article, avgdl: float = 0.0) -> tuple[tuple[Any, ...], list[str], int, list[tuple[str, float]]]:
    """(the search_docs row, its lexemes, its length, its impacts (none when ``avgdl`` is 0)) of an article."""
    row, lexemes, length, impacts, _ = _doc_analysis(article, avgdl)
    return row, lexemes, length, impacts


#: Per text field: its name and weight letter.
_TEXT_WEIGHTS = tuple(_WEIGHT_OF.items())
#: The length (in characters) from which a term may make a lexeme too long (the test of _analysis, its first half).
_LONG_CHARS = -(-MAX_LEXEME_BYTES // 4)
#: Per weight letter, the text of each position up to MAX_POSITION at most (``12D``), made as positions are met.
_POSITION_TEXTS: dict[str, list[str]] = {letter: [] for letter in _LETTERS}


def _position_texts(letter: str, top: int) -> list[str]:
    """The position texts of a field of this letter, up to position ``top`` at least."""
    if top > MAX_POSITION:  # a very long article: a list of its own (the shared one stays small)
        return [f"{p}{letter}" for p in range(top + 1)]
    texts = _POSITION_TEXTS[letter]
    if len(texts) <= top:  # a longer list replaces it (a list once shared is never changed: threads may read it)
        size = min(max(top + 1, 2 * len(texts), 1024), MAX_POSITION + 1)
        _POSITION_TEXTS[letter] = texts = [f"{p}{letter}" for p in range(size)]
    return texts


def _positions_text(parts: list[tuple[list[int], str]]) -> str:
    """The vector text's positions of one lexeme (its first MAX_POSITIONS): ``3A,120D,131D``."""
    room, texts = MAX_POSITIONS, []
    for poses, letter in parts:
        if room <= 0:
            break
        kept = poses[:room] if len(poses) > room else poses
        room -= len(kept)
        texts.append((letter + ",").join(map(str, kept)) + letter)
    return ",".join(texts)


Shape = tuple[tuple[str, int], ...]


@functools.lru_cache(maxsize=1 << 14)
def _tf_of_counts(shape: Shape) -> float:
    """_tf of a text lexeme with these numbers of positions in these fields ((weight letter, count), in position
    order, no position past MAX_POSITION): _tf of any such positions (_tf_positions keeps each position with its
    field's weight, in position order, the first MAX_POSITIONS), so of consecutive ones."""
    fields, start = [], 1
    for letter, k in shape:
        fields.append((list(range(start, start + k)), letter))
        start += k + 1
    return _tf(fields)


def _doc_analysis(
    article: Article, avgdl: float
) -> tuple[tuple[Any, ...], list[str], int, list[tuple[str, float]], list[str]]:
    """doc_row, and the count_terms among its lexemes."""
    row, terms, others, length, impacts, counted = _analysis(article, avgdl)
    return row, [*map(f"{row[5]}:".__add__, terms), *others], length, impacts, counted


def _analysis(
    article: Article, avgdl: float
) -> tuple[tuple[Any, ...], dict[str, str], list[str], int, list[tuple[str, float]], list[str]]:
    """(the search_docs row, its text's terms (of the family ``row[5]``: a lexeme is ``family:term``) -> their
    positions' text, its other lexemes (tag and author keys, then count_terms), its length, its impacts, its
    count_terms): what the lexeme-by-lexeme reference (tests/pg_reference.py), ``doc_impacts`` and ``count_terms``
    give (the same
    text, the lexemes in the same order, the same floats), with the work of each token and of most lexemes done
    by C-level passes (dict, zip, map, join) rather than Python steps.

    A field's tokens: ``dict(zip(terms, positions))`` holds each term once, in the order of its first token, with
    its last position; the terms of a token before their last one have several positions, gathered for them
    alone. The vector text is one join of the family's prefix, the terms and their positions' texts (cached per
    position). The impact factor of a lexeme depends only on its numbers of positions in the fields (its shape;
    one position in one field: the field's factor), so each shape's factor is computed once per document (an
    article with a position past MAX_POSITION takes doc_impacts' own path). The lexemes themselves (family +
    term) are made by the caller if it needs them: _chunk counts the terms per family and prefixes each term
    once per chunk."""
    article = _storable(article)
    lang = lang_key(article.lang)
    prefix = lang + ":"
    analysers = _POSITIONS[lang]
    fields: list[tuple[dict[str, int], dict[str, list[int]], str]] = []  # term -> last position, repeated, letter
    pieces: dict[str, str] = {}  # term -> its positions' text, in the order of the terms' first positions
    shapes: dict[str, Shape] = {}  # the terms of several fields: their shapes
    start, length, clamped = 1, 0, False
    for name, letter in _TEXT_WEIGHTS:
        terms = analysers[name].token_terms(getattr(article, name) or "")
        span = range(start, start + len(terms))
        last = dict(zip(terms, span, strict=True))
        kept = len(terms)
        if "" in last:  # tokens without a term: they take a position
            del last[""]
            kept -= terms.count("")
        if last and max(map(len, last)) + len(prefix) >= _LONG_CHARS:
            for term in [t for t in last if len(prefix + t) >= _LONG_CHARS]:
                if len((prefix + term).encode("utf-8")) >= MAX_LEXEME_BYTES:  # no lexeme (a lexeme of 2 KB or more)
                    del last[term]
                    kept -= terms.count(term)
        if not last:
            start += FIELD_GAP
            continue
        length += kept
        top = max(last.values())
        clamped = clamped or top > MAX_POSITION
        texts = _position_texts(letter, top)
        across = pieces.keys() & last.keys() if pieces else ()
        earlier = {term: pieces[term] for term in across}
        pieces.update(zip(last, map(texts.__getitem__, last.values()), strict=True))
        repeated: dict[str, list[int]] = {}
        if kept > len(last):  # terms with several positions: those of a token before their last position
            several = set(itertools.compress(terms, map(operator.ne, map(last.get, terms), span)))
            if kept < len(terms):  # not the tokens without a term or with a lexeme too long
                several.intersection_update(last)
            repeated = {term: [] for term in several}
            for term, pos in itertools.compress(zip(terms, span, strict=True), map(several.__contains__, terms)):
                repeated[term].append(pos)
            pieces.update(
                (term, ",".join(map(texts.__getitem__, poses[:MAX_POSITIONS]))) for term, poses in repeated.items()
            )
        for term in across:  # a term of an earlier field too: its shape, its positions' text
            shape = shapes.get(term)
            if shape is None:  # of one earlier field
                for held, rep, had in fields:
                    if term in held:
                        shape = ((had, min(len(rep[term]), MAX_POSITIONS) if term in rep else 1),)
                        break
            shapes[term] = shape = (
                *shape,  # type: ignore[misc]
                (letter, min(len(repeated[term]), MAX_POSITIONS) if term in repeated else 1),
            )
            if sum(map(operator.itemgetter(1), shape)) > MAX_POSITIONS:  # the vector's cut: MAX_POSITIONS
                pieces[term] = _positions_text(
                    [
                        (rep.get(term) or [held[term]], had)
                        for held, rep, had in (*fields, (last, repeated, letter))
                        if term in held
                    ]
                )
            else:
                pieces[term] = earlier[term] + "," + pieces[term]
        fields.append((last, repeated, letter))
        start = top + 1 + FIELD_GAP

    vector = "".join(
        itertools.chain.from_iterable(
            zip(itertools.repeat(f" '{prefix}"), pieces, itertools.repeat("':"), pieces.values(), strict=False)
        )
    )[1:]
    if "\\" in vector or vector.count("'") != 2 * len(pieces):  # a term with a quote or a backslash
        literals = map(_lexeme_literal, map(prefix.__add__, pieces))
        vector = " ".join(map(operator.add, literals, map(":".__add__, pieces.values())))
    impacts: list[tuple[str, float]] = []
    if avgdl > 0 and clamped:  # a position past MAX_POSITION: doc_impacts, on the positions
        impacts = doc_impacts(
            {
                lex: [(rep.get(term) or [held[term]], had) for held, rep, had in fields if term in held]
                for lex, term in zip(map(prefix.__add__, pieces), pieces, strict=True)
            },
            length,
            avgdl,
        )
    elif avgdl > 0:
        factors: dict[str, float] = {}
        of_shape: dict[Shape, float] = {}
        fewest = _fewest_positions(length, avgdl)
        for last, repeated, letter in fields:
            one = bm25_factor(_tf_of_counts(((letter, 1),)), length, avgdl)
            if one >= IMPACT_FLOOR:
                factors.update(dict.fromkeys(last.keys() - repeated.keys() - shapes.keys(), one))
            if repeated and (need := fewest[_RANK[letter]]) <= MAX_POSITIONS:  # doc_impacts' shortcut
                for term, poses in repeated.items():
                    if len(poses) >= need and term not in shapes:
                        shape = ((letter, min(len(poses), MAX_POSITIONS)),)
                        if (f := of_shape.get(shape)) is None:
                            f = of_shape[shape] = bm25_factor(_tf_of_counts(shape), length, avgdl)
                        if f >= IMPACT_FLOOR:
                            factors[term] = f
        for term, shape in shapes.items():
            if (f := of_shape.get(shape)) is None:
                f = of_shape[shape] = bm25_factor(_tf_of_counts(shape), length, avgdl)
            if f >= IMPACT_FLOOR:
                factors[term] = f
        hits = list(filter(factors.__contains__, pieces))  # in the lexemes' order
        impacts = list(zip(map(prefix.__add__, hits), map(factors.__getitem__, hits), strict=True))
    keys: list[str] = []
    key_texts = [vector] if vector else []
    tags, bylines = list(map(tag_key, article.tags)), list(map(tag_key, article.byline))
    for key_prefix, values in (("tag:", tags), ("by:", bylines)):
        for key in set(values):  # a set, as the reference: the same order
            lex = key_prefix + key
            if key and len(lex.encode("utf-8")) < MAX_LEXEME_BYTES:
                keys.append(lex)
                key_texts.append(_lexeme_literal(lex) + ":1C")
    published = to_utc_naive(article.published) if article.published is not None else None
    row = (
        article.id,
        article.canonical_url,
        article.headline,
        article.site,
        lang_primary(article.lang),
        lang,
        (article.section or "").lower(),
        month_key(published) if published is not None else None,
        published,
        list(dict.fromkeys(k for k in tags if k)),  # each key once: one facet count an article (schema.key_list)
        list(dict.fromkeys(k for k in bylines if k)),
        length,
        " ".join(key_texts) if keys else vector,
    )
    counted = _counted_terms(keys, lang, row[4], pieces.__contains__)
    return row, pieces, keys + counted, length, impacts, counted


def _storable(article: Article) -> Article:
    """The article with every text as PostgreSQL holds it (store.pg.pg_text: a NUL or a lone surrogate, which
    an article stored by an older version may hold, becomes U+FFFD); the article itself when none has one."""
    changes: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = getattr(article, name)
        if isinstance(value, str):
            safe: Any = pg_text(value)
            if safe is not value:
                changes[name] = safe
        elif isinstance(value, tuple) and value:
            safe = tuple(pg_text(v) if isinstance(v, str) else v for v in value)
            if any(a is not b for a, b in zip(safe, value, strict=True)):
                changes[name] = safe
    return dataclasses.replace(article, **changes) if changes else article


_TEXT_FIELDS = tuple(f.name for f in dataclasses.fields(Article) if f.name != "extra")

Analysed = tuple[tuple[Any, ...], list[str], int, list[tuple[str, float]]]


#: A chunk of articles as bulk_load copies it: search_docs rows and search_impacts rows in COPY's text
#: format, the document frequencies of its count_terms, its number of documents and their total length, the
#: months of its count_terms (the vectors' lexemes are counted from the vectors, in the server: _index_next), and
#: its facet counts for the reload's kept terms (_tally's; its documents' facts for the sample; else None).
Chunk = tuple[str, str, Counter[str], int, int, Counter[tuple[str, str]], Any]


class _Loaded(NamedTuple):
    """What a reload's rows gave (bulk_load): the kind of text index to build, the documents and their total length,
    the count_terms' documents and months, the months of any document, and the kept terms' facet counts."""

    kind: str
    docs: int
    length: int
    counted: Counter[str]
    counted_months: Counter[tuple[str, str]]
    months: set[str]
    facets: _LoadFacets | None
    #: The search_impacts rows in COPY's text format, waiting in a temporary file (copied by _index_next, while the
    #: text index is built).
    impacts: Any


def _copy_value(value: Any) -> str:
    """One search_docs value in COPY's text format (what ``copy.write_row`` sends for it)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return _copy_text(value)
    if isinstance(value, list):
        return _copy_text(_text_array(value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _chunk(articles: list[Article], avgdl: float, kept: _Kept | None = None, sample: bool = False) -> Chunk:
    """Analyse a chunk of articles into what bulk_load copies (run by the worker processes: the main process
    only writes the text to the server, so the analysis, the bound of a load, runs on every core). ``kept``: the
    facet counts of these terms too; ``sample``: each article's facts (_Facts), to choose them from."""
    docs: list[str] = []
    impacts: list[str] = []
    df: Counter[str] = Counter()  # of the count_terms only: the vectors' lexemes are counted in the server
    months: Counter[tuple[str, str]] = Counter()
    facts: list[_Facts] = []
    length = 0
    for article in articles:
        row, terms, others, dl, found, counted = _analysis(article, avgdl)
        docs.append("\t".join(map(_copy_value, row)) + "\n")
        if found:
            impacts.append(_impact_lines(found, _copy_text(row[0])))
        df.update(counted)
        months.update(_month_keys(counted, row[7]))
        length += dl
        if kept is not None or sample:
            facts.append((row[5], tuple(terms) if sample else terms, others, row[3], row[4], row[7], row[9]))
    facets = _tally(facts, kept) if kept is not None else facts if sample else None
    return "".join(docs), "".join(impacts), df, len(articles), length, months, facets


def _impact_lines(found: list[tuple[str, float]], doc_id: str) -> str:
    """A document's search_impacts rows in COPY's text format (``doc_id`` already in it); a factor's repr made once
    (the factors of a document are few distinct floats)."""
    tail = "\t" + doc_id + "\n"
    reprs: dict[float, str] = {}
    text = "".join([f"{lex}\t{reprs.get(f) or reprs.setdefault(f, repr(f))}{tail}" for lex, f in found])
    if "\\" in text or "\r" in text or text.count("\n") != len(found) or text.count("\t") != 2 * len(found):
        text = "".join(f"{_copy_text(lex)}\t{f!r}{tail}" for lex, f in found)  # a lexeme to escape
    return text


def _analysed(
    articles: Iterable[Article], procs: int, avgdl: float, facets: _LoadFacets | None = None, chunk: int = 0
) -> Iterator[Chunk]:
    """_chunk of each ``chunk`` articles (LOAD_CHUNK), in order; with ``procs`` > 1 computed by a pool of processes.
    ``facets``: the kept terms chosen from the first FACET_LOAD_SAMPLE articles, and every article's counts added."""
    it = iter(articles)  # read here, in this thread only (a SQLite cursor stays in its thread)
    chunk = chunk or LOAD_CHUNK
    batches = iter(lambda: list(itertools.islice(it, chunk)), [])
    first = list(itertools.islice(batches, -(-FACET_LOAD_SAMPLE // chunk))) if facets is not None else []
    if procs <= 1:
        done = [_chunk(batch, avgdl, sample=True) for batch in first]
        kept = facets.choose([f for c in done for f in c[6]]) if facets is not None else None
        yield from done
        for batch in batches:
            found = _chunk(batch, avgdl, kept)
            if facets is not None and kept is not None:
                facets.add(*found[6])
            yield found
        return
    import multiprocessing
    from collections import deque

    pending: deque[Any] = deque()
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        done = [r.get() for r in [pool.apply_async(_chunk, (batch, avgdl, None, True)) for batch in first]]
        kept = facets.choose([f for c in done for f in c[6]]) if facets is not None else None
        while True:
            while len(pending) < 2 * procs and (batch := next(batches, [])):
                pending.append(pool.apply_async(_chunk, (batch, avgdl, kept)))
            if done:
                yield done.pop(0)  # the sample's, once the next chunks are being analysed
                continue
            if not pending:
                break
            found = pending.popleft().get()
            if facets is not None and kept is not None:
                facets.add(*found[6])
            yield found


_COLUMNS = "id, url, title, site, lang, lkey, section, month, published, tags, byline, dl, tv"

#: The mark before a row's site, language and month among its tag keys in _facets' one pass (a unit separator:
#: whitespace to str.split, so tag_key never leaves one in a key), then the facet's letter.
_FACET_MARK = "\x1f"
_FACET_OF_MARK = {"s": "site", "l": "lang", "m": "month"}
_FACET_MARKED = ", ".join(f"chr(31) || '{letter}' || d.{name}" for letter, name in _FACET_OF_MARK.items())
#: The values _facets counts of each row matching ``{}`` (a WHERE condition over ``search_docs d``).
_FACET_VALUES = (
    f"SELECT s.v, count(*) FROM (SELECT unnest(d.tags || ARRAY[{_FACET_MARKED}]) AS v FROM search_docs d WHERE {{}}) s"
    " WHERE s.v IS NOT NULL GROUP BY s.v"
)
#: The tables of the indexed content (emptied by a reload).
_CONTENT_TABLES = (
    "search_docs, search_terms, search_term_months, search_impacts, search_term_facets, search_facet_terms"
)
#: The tables a reload (bulk_load) makes anew beside the live ones, under these names + _NEXT, and swaps in.
RELOADED = (
    "search_docs",
    "search_terms",
    "search_term_months",
    "search_impacts",
    "search_facet_terms",
    "search_term_facets",
)
#: The reloaded tables whose keys are built once their rows are in (written by statements in the server).
_KEYED_AFTER = ("search_terms", "search_term_months", "search_facet_terms", "search_term_facets")
_NEXT = "_next"
#: An index's definition as pg_get_indexdef gives it: (UNIQUE, name, USING ...).
_INDEXDEF = re.compile(r"CREATE (UNIQUE )?INDEX (\S+) ON \S+ (USING .+)\Z", re.S)
#: A key's definition as pg_get_constraintdef gives it: (PRIMARY KEY or UNIQUE, its columns).
_KEYDEF = re.compile(r"(PRIMARY KEY|UNIQUE) (\(.+\))\Z", re.S)


def _index_names(cur: Any, table: str) -> list[str]:
    """The names of ``table``'s indexes (its keys' included)."""
    return [
        r[0]
        for r in cur.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
            (table,),
        ).fetchall()
    ]


def _next_name(table: str, name: str) -> str:
    """The name of index or key ``name`` of ``table`` on the new table a reload makes (table + _NEXT)."""
    return table + _NEXT + name.removeprefix(table) if name.startswith(table) else f"{table}{_NEXT}_{name}"


def _facet_term_condition(term: str) -> tuple[str, str]:
    """The documents a kept term is counted for (count_terms; ``only:``: _kept_of), as a condition over
    ``search_docs d``."""
    from newsarchive.analysis import index_terms_of_word

    if term.startswith(LANG):
        return "d.lang = %s", term.removeprefix(LANG)
    if term.startswith(ONLY):  # its key and not its word (in the document's own language: count_terms's both:)
        key = term.removeprefix(ONLY)
        word = key.partition(":")[2]
        lexemes = sorted({f"{lang}:{t}" for lang in ALL_LANGS for t in index_terms_of_word(word, lang)})
        return "d.tv @@ %s::tsquery", f"{_lexeme_literal(key)} & !({' | '.join(map(_lexeme_literal, lexemes))})"
    return "d.tv @@ %s::tsquery", _lexeme_literal(term)


def _kept_of(kept: frozenset[str], terms: list[str]) -> list[str]:
    """The kept terms a document of these terms (its lexemes and count_terms) is counted for: the terms it holds,
    and ``only:`` + each kept key it holds without its word (count_terms gave it no ``both:`` for the key)."""
    if not kept:
        return []
    held = set(kept.intersection(terms))
    alone = [t for t in kept if t.startswith(ONLY)]
    if alone:
        have = set(terms)
        keys = (t.removeprefix(ONLY) for t in alone)
        held.update(ONLY + k for k in keys if k in have and BOTH + k not in have)
    return list(held)


def _facet_values(site: str, lang: str, month: str | None, tags: Iterable[str]) -> list[str]:
    """One row's facet values, as _FACET_VALUES reads them (a month of None is none)."""
    values = [*tags, _FACET_MARK + "s" + site, _FACET_MARK + "l" + lang]
    if month is not None:
        values.append(_FACET_MARK + "m" + month)
    return values


def _count_facets(
    out: Counter[tuple[str, str]], terms: Iterable[str], site: str, lang: str, month: str | None, tags: Iterable[str]
) -> None:
    """Count one row's facet values, as _FACET_VALUES reads them, for each of ``terms``."""
    out.update(itertools.product(terms, _facet_values(site, lang, month, tags)))


class _Kept:
    """Kept terms (a reload's: _LoadFacets) as a document's analysis finds them: what _kept_of gives, as columns
    (``terms[column - 1]``: 0 is no term, so that a lookup's miss is told from a hit by ``filter(None, ...)``),
    from a document's text terms without their family's prefix (_analysis's) and its other lexemes (its tag and
    author keys, its count_terms)."""

    def __init__(self, terms: Sequence[str]) -> None:
        self.terms = list(terms)
        self.text: dict[str, dict[str, int]] = {}  # per family, its kept terms without the family's prefix
        self.other: dict[str, int] = {}  # lang: (and any other term no text lexeme)
        self.only: dict[str, int] = {}  # per key, only: + the key
        for column, term in enumerate(self.terms, 1):
            family, _, rest = term.partition(":")
            if term.startswith(ONLY):
                self.only[term.removeprefix(ONLY)] = column
            elif family in ALL_LANGS:
                self.text.setdefault(family, {})[rest] = column
            else:
                self.other[term] = column

    def hits(self, family: str, terms: Iterable[str], others: Sequence[str]) -> list[int]:
        """The columns of the kept terms a document is counted for (``terms``: its text terms, of ``family``): one
        lookup a term, in C (a set intersection, then a lookup of each term found, took 25-30% longer)."""
        kept = self.text.get(family)
        found = list(filter(None, map(kept.get, terms))) if kept else []
        if self.other:
            found += [self.other[t] for t in others if t in self.other]
        if self.only:
            held = set(others)
            found += [i for key, i in self.only.items() if key in held and BOTH + key not in held]
        return found


#: What a document's facets are counted from (_tally): its family, text terms, other lexemes, site, language, month
#: and tag keys.
_Facts = tuple[str, Iterable[str], Sequence[str], str, str, "str | None", Sequence[str]]


def _tally(facts: Iterable[_Facts], kept: _Kept) -> tuple[list[str], Any]:
    """The documents' facet values counted for each kept term they are counted for (_Kept.hits), as _count_facets
    counts them one by one: (the values, an array of one row per value and one column per kept term).

    A document holds ~100 of 500 kept terms and ~13 values: counted pair by pair, 1,300 increments. Here each
    value's documents are gathered (their rows of a document-by-term matrix of 0 and 1) and summed by numpy."""
    import numpy as np

    values: dict[str, int] = {}
    hits: list[int] = []
    per_doc: list[int] = []
    columns: list[int] = []  # each document's values, as indexes of ``values``
    owners: list[int] = []  # ... and the document of each
    docs = 0
    for family, terms, others, site, lang, month, tags in facts:
        found = kept.hits(family, terms, others)
        if not found:
            continue
        hits += found
        per_doc.append(len(found))
        mine = _facet_values(site, lang, month, tags)
        for value in mine:
            j = values.get(value)
            if j is None:
                j = values[value] = len(values)
            columns.append(j)
        owners += [docs] * len(mine)
        docs += 1
    if not docs:
        return [], np.zeros((0, len(kept.terms)), np.int32)
    held = np.zeros((docs, len(kept.terms) + 1), np.uint8)  # column 0: no term (_Kept)
    held[np.repeat(np.arange(docs), per_doc), hits] = 1
    held = held[:, 1:]
    column = np.array(columns)
    order = np.argsort(column, kind="stable")
    gathered = held[np.array(owners)[order]]  # each value's documents' rows, value after value
    starts = np.flatnonzero(np.r_[True, np.diff(column[order]) != 0])
    return list(values), np.add.reduceat(gathered, starts, axis=0, dtype=np.int32)


class _LoadFacets:
    """A reload's kept terms and their counts: the terms chosen from the first articles (FACET_LOAD_SAMPLE), the counts
    of every article added up as the chunks come (_tally's, made where each chunk is analysed)."""

    def __init__(self) -> None:
        self.kept: _Kept | None = None
        self.columns: dict[str, int] = {}  # value -> its row of ``counts``
        self.counts: Any = None

    def choose(self, facts: list[_Facts]) -> _Kept | None:
        """The kept terms from the first articles' facts (their counts added): the text terms, ``lang:`` terms and
        ``only:`` + one-word keys (_word_facets' parts) in FACET_LOAD_SHARE of them or more, the most frequent."""
        found: Counter[str] = Counter()
        for family, terms, others, *_ in facts:
            found.update(map(f"{family}:".__add__, terms))
            held = set(others)
            found.update(t for t in others if t.startswith(LANG))
            found.update(
                ONLY + key
                for key in others
                if key.startswith(("tag:", "by:"))
                and BOTH + key not in held
                and _ONE_WORD_KEY.fullmatch(key.partition(":")[2])
            )
        least = max(1, FACET_LOAD_SHARE * len(facts))
        terms = sorted((t for t, n in found.most_common(FACET_LOAD_TERMS) if n >= least))
        if terms:
            self.kept = _Kept(terms)
            self.add(*_tally(facts, self.kept))
        return self.kept

    def add(self, values: list[str], counts: Any) -> None:
        """One chunk's counts (_tally's) added."""
        import numpy as np

        if self.counts is None:
            self.counts = np.zeros((max(64, len(values)), counts.shape[1]), np.int32)
        rows = [self.columns.setdefault(v, len(self.columns)) for v in values]
        if len(self.columns) > len(self.counts):
            grown = np.zeros((2 * len(self.columns), self.counts.shape[1]), np.int32)
            grown[: len(self.counts)] = self.counts
            self.counts = grown
        self.counts[rows] += counts

    def terms(self, least: int) -> list[str]:
        """The kept terms of ``least`` documents or more."""
        if self.kept is None or self.counts is None:
            return []
        langs = [i for i, v in enumerate(self.columns) if v.startswith(_FACET_MARK + "l")]  # one a document
        docs = self.counts[langs].sum(axis=0)
        return [t for i, t in enumerate(self.kept.terms) if docs[i] >= least]

    def rows(self, terms: list[str]) -> Iterator[tuple[str, str, int]]:
        """The (term, value, count) rows of these kept terms, term after term."""
        if self.kept is None or self.counts is None:
            return
        import numpy as np

        values = list(self.columns)
        counts = self.counts[: len(values)]
        index = {t: i for i, t in enumerate(self.kept.terms)}
        for term in terms:
            column = counts[:, index[term]]
            for j in np.flatnonzero(column):
                yield term, values[j], int(column[j])


# --- query translation -------------------------------------------------------------------------


class _SchemaOnly:
    """What search.build_query reads of an index: its schema (the analyzers of each field)."""

    schema = make_schema()


_SCHEMA_ONLY = _SchemaOnly()


def _field(fieldname: str) -> tuple[str, str] | None:
    """A text field -> (lexeme prefix, weight letters): ``body_en`` -> ('en:', 'D'), ``tags`` -> ('tag:', '')."""
    if fieldname == "tags":
        return "tag:", ""
    if fieldname == "byline":
        return "by:", ""
    name, _, lang = fieldname.rpartition("_")
    if name in _WEIGHT_OF and lang in ALL_LANGS:
        return f"{lang}:", _WEIGHT_OF[name]
    return None


class _Sql:
    """A SQL condition under construction: text with %s placeholders and its parameters (``conjuncts``: the
    conditions an AND of them was made of, for ``_join`` to merge into a larger AND)."""

    def __init__(self, text: str, params: Sequence[Any] = (), conjuncts: list[_Sql] | None = None) -> None:
        self.text = text
        self.params = list(params)
        self.conjuncts = conjuncts


#: The condition of one tsquery on the text vector.
_TEXT = "d.tv @@ %s::tsquery"


_TRUE, _FALSE = _Sql("TRUE"), _Sql("FALSE")


class Translation:
    """A Whoosh query tree (search.build_query + build_filter) -> a SQL condition and the ranking's terms."""

    def __init__(self, backend: PgSearch) -> None:
        self.backend = backend
        #: lexeme -> (weight letters it is searched in, query boost): the ranked terms
        self.ranked: dict[str, tuple[set[str], float]] = {}
        #: field name -> the terms the query looks for there (snippets)
        self.words: dict[str, set[str]] = {}
        #: a bare word's (text lexemes, tag and author lexemes) when the request is only that (word_lexemes)
        self.word: Word | None = None
        #: with ``word``, the date filter as whole months and edges (whole_months); None: no date filter
        self.months: Months | None = None
        #: no query text: every document the filters keep; ``filtered``: the request has filters
        self.listing = False
        self.filtered = False

    # tsquery leaves -----------------------------------------------------------------------

    def _note(self, fieldname: str, terms: Iterable[str], lex: list[str], letters: str, boost: float) -> None:
        self.words.setdefault(fieldname, set()).update(terms)
        for item in lex:
            have, b = self.ranked.get(item, (set(), 0.0))
            have.update(letters or "ABCD")
            self.ranked[item] = (have, max(b, boost))

    def _expand(self, q: query.Query, prefix: str) -> list[str]:
        """The indexed terms a pattern leaf (wildcard, regex, fuzzy, range) stands for, without the prefix."""
        from newsarchive.index.whoosh_internals import near_terms, pattern_parts

        text = str(getattr(q, "text", "") or "")
        n = len(prefix)
        out: list[str] = []
        if isinstance(q, StemPattern):
            # As Whoosh's StemPattern._btexts: the terms of the plan's starts and its exact terms, selected.
            p = q.plan()
            found = {t[n:] for start in p.starts for t in self.backend.terms_between(prefix + start, None)}
            found.update(t[n:] for t in self.backend.existing_terms([prefix + t for t in p.exact]))
            out = p.select(found)
        elif isinstance(q, query.FuzzyTerm):
            # The automaton Whoosh's side walks (fuzzy_terms), over the candidates in order: the edit distance is
            # measured for the terms it accepts only, not in Python for every term of the length (5.8 s of a
            # query with three fuzzy words on a 350-article corpus).
            size = (n + len(text) - q.maxdist, n + len(text) + q.maxdist)
            candidates = self.backend.terms_between(prefix + text[: q.prefixlength], None, lengths=size)
            out = near_terms([t[n:] for t in candidates], text, int(q.maxdist), int(q.prefixlength))
        elif isinstance(q, query.TermRange):
            lo = prefix + str(q.start) if q.start is not None else prefix
            hi = prefix + str(q.end) if q.end is not None else None
            for t in self.backend.terms_between(prefix, None) if hi is None else self.backend.terms_between(lo, hi):
                if t < lo or (q.startexcl and q.start is not None and t == lo):
                    continue
                if q.endexcl and t == hi:
                    continue
                out.append(t[n:])
        else:
            literal, regex = pattern_parts(q)
            pattern = re.compile(regex)
            out = [t[n:] for t in self.backend.terms_between(prefix + literal, None) if pattern.match(t[n:])]
        if len(out) > MAX_EXPANSION:
            raise QueryError(
                f"{q} matches more than {MAX_EXPANSION} words", hint="give more letters before the wildcard"
            )
        return out

    def _column_values(self, column: str, q: query.Query) -> list[str]:
        """The values of a filter column (site, lang, section, month) that a pattern leaf stands for."""
        from newsarchive.index.whoosh_internals import edit_distance as distance
        from newsarchive.index.whoosh_internals import pattern_parts

        rows = self.backend.conn.execute(
            f"SELECT DISTINCT {column} FROM search_docs WHERE {column} IS NOT NULL AND {column} <> ''"
        ).fetchall()
        values = [str(r[0]) for r in rows]
        text = str(getattr(q, "text", "") or "")
        if isinstance(q, query.FuzzyTerm):
            start = text[: q.prefixlength]
            return [v for v in values if v.startswith(start) and distance(v, text, limit=q.maxdist) <= q.maxdist]
        literal, regex = pattern_parts(q)
        pattern = re.compile(regex)
        return [v for v in values if v.startswith(literal) and pattern.match(v)]

    def tsquery(self, q: query.Query, *, negated: bool = False) -> str | None:
        """The tsquery of a subtree of text leaves only; None when some part is not text (a filter)."""
        if isinstance(q, query.And):
            parts = [self.tsquery(s, negated=negated) for s in q.subqueries]
            return None if any(p is None for p in parts) else "(" + " & ".join(parts) + ")"  # type: ignore[arg-type]
        if isinstance(q, query.Or) and not getattr(q, "minmatch", 0):
            # One word in several text fields (a bare word: headline, description, body) is one lexeme with
            # those weights; in all three, no weight at all: the GIN index then answers without a recheck.
            # A phrase likewise (a gap between fields keeps a phrase inside one).
            merged: dict[tuple[tuple[str, ...], int], set[str]] = {}
            parts = []
            for sub in q.subqueries:
                kind = type(sub)
                found = _field(sub.fieldname) if kind is query.Term or kind is query.Phrase else None
                if found is not None and found[1]:
                    self.tsquery(sub, negated=negated)  # noted for the ranking and the snippets
                    seq = (str(sub.text),) if kind is query.Term else tuple(str(w) for w in sub.words)
                    key = (tuple(found[0] + w for w in seq), sub.slop if kind is query.Phrase else 1)
                    merged.setdefault(key, set()).add(found[1])
                else:
                    parts.append(self.tsquery(sub, negated=negated))
            for (seq, slop), marks in merged.items():
                mark = "" if marks >= {"A", "B", "D"} else ":" + "".join(sorted(marks))
                literals = [_lexeme_literal(x) + mark for x in seq]
                parts.append(literals[0] if len(literals) == 1 else _phrase(literals, slop))
            return None if any(p is None for p in parts) else "(" + " | ".join(parts) + ")"  # type: ignore[arg-type]
        if isinstance(q, query.Not):
            inner = self.tsquery(q.query, negated=not negated)
            return None if inner is None else f"!{inner}"
        if isinstance(q, query.AndNot):
            a, b = self.tsquery(q.a, negated=negated), self.tsquery(q.b, negated=not negated)
            return None if a is None or b is None else f"({a} & !{b})"
        if isinstance(q, query.AndMaybe):  # ``a ANDMAYBE b``: a's matches; b's words only add to the score
            self.tsquery(q.b, negated=negated)  # noted for the ranking and the snippets
            return self.tsquery(q.a, negated=negated)
        if not q.is_leaf():
            return None
        fieldname = getattr(q, "fieldname", None)
        found = _field(fieldname) if isinstance(fieldname, str) else None
        if found is None:
            return None
        prefix, letters = found
        boost = 0.0 if negated else float(getattr(q, "boost", 1.0))
        weight = f":{letters}" if letters else ""
        if type(q) is query.Term:
            lex = prefix + str(q.text)
            self._note(fieldname, [str(q.text)], [lex], letters, boost)  # type: ignore[arg-type]
            return _lexeme_literal(lex) + weight
        if type(q) is query.Phrase:
            words = [str(w) for w in q.words]
            lexes = [prefix + w for w in words]
            self._note(fieldname, words, lexes, letters, boost)  # type: ignore[arg-type]
            return _phrase([_lexeme_literal(x) + weight for x in lexes], q.slop)
        if isinstance(q, StemPattern) and q.plan().forms is None:
            # ``P*`` on a stemmed field: a prefix query per start of the plan and its exact terms, nothing to expand
            # (as a Prefix: no MAX_EXPANSION); the terms a snippet marks as for a Prefix.
            p = q.plan()
            marked = self.words.setdefault(fieldname, set())  # type: ignore[arg-type]
            items = []
            for start in p.starts:
                marked.update(t[len(prefix) :] for t in self.backend.terms_with_prefix(prefix + start, limit=200))
                items.append(_lexeme_literal(prefix + start) + ":*" + letters)
            marked.update(p.exact)
            items += [_lexeme_literal(prefix + t) + weight for t in p.exact]
            return "(" + " | ".join(items) + ")"
        if type(q) is query.Prefix:
            if not q.text:
                return None  # every document with the field: a SQL condition
            self.words.setdefault(fieldname, set()).update(  # type: ignore[arg-type]
                t[len(prefix) :] for t in self.backend.terms_with_prefix(prefix + q.text, limit=200)
            )
            return _lexeme_literal(prefix + q.text) + ":*" + letters
        if type(q) is query.Wildcard and _any_term(str(q.text)):
            # ``?*``, ``*?``, ``*``: every term of the field, as a prefix on the field's own prefix (expanded, it
            # was more than MAX_EXPANSION terms in any real archive: a QueryError where Whoosh answers).
            return _lexeme_literal(prefix) + ":*" + letters
        if isinstance(q, query.Wildcard | query.Regex | query.FuzzyTerm | query.TermRange):
            terms = self._expand(q, prefix)
            if not terms:
                return None  # nothing: FALSE, as SQL
            self.words.setdefault(fieldname, set()).update(terms)  # type: ignore[arg-type]
            return "(" + " | ".join(_lexeme_literal(prefix + t) + weight for t in terms) + ")"
        return None

    # SQL ----------------------------------------------------------------------------------

    def sql(self, q: query.Query, *, negated: bool = False) -> _Sql:
        ts = self.tsquery(q, negated=negated)
        if ts is not None:
            return _Sql(_TEXT, [ts])
        if isinstance(q, query.And):
            parts = [self.sql(s, negated=negated) for s in q.subqueries]
            return _join(" AND ", parts) if parts else _TRUE
        if isinstance(q, query.Or | query.DisjunctionMax) and not getattr(q, "minmatch", 0):
            spans = [_published_span(sub) for sub in q.subqueries]
            if spans and all(span is not None for span in spans):
                return _spans_sql(spans)  # type: ignore[arg-type]  # one range: the date index's bounds
            parts = [self.sql(s, negated=negated) for s in q.subqueries]
            return _join(" OR ", parts) if parts else _FALSE
        # A negation is IS NOT TRUE, not NOT: a condition on a column an article may lack (published, month)
        # is NULL for it, and NOT NULL would leave it out, where Whoosh (and the query's meaning) keep it:
        # ``NOT published:2023`` finds the articles without a date too.
        if isinstance(q, query.Not):
            inner = self.sql(q.query, negated=not negated)
            return _Sql(f"({inner.text}) IS NOT TRUE", inner.params)
        if isinstance(q, query.AndNot):
            a, b = self.sql(q.a, negated=negated), self.sql(q.b, negated=not negated)
            return _Sql(f"({a.text}) AND ({b.text}) IS NOT TRUE", a.params + b.params)
        if isinstance(q, query.AndMaybe):  # its optional side's text words were noted by tsquery above
            return self.sql(q.a, negated=negated)
        if isinstance(q, DocsFilter | query.ConstantScoreQuery):
            return self.sql(q.child, negated=negated)
        if isinstance(q, query.Every):
            return self._every(q)
        if q is query.NullQuery or isinstance(q, type(query.NullQuery)):
            return _FALSE
        return self._leaf(q)

    def _every(self, q: query.Every) -> _Sql:
        fieldname = q.fieldname
        if not fieldname or fieldname == "*":
            return _TRUE
        found = _field(fieldname)
        if found is None:
            return _TRUE
        prefix, letters = found
        # The documents with a term in the field: a prefix query on the field's own prefix.
        return _Sql("d.tv @@ %s::tsquery", [_lexeme_literal(prefix) + ":*" + letters])

    def _leaf(self, q: query.Query) -> _Sql:
        fieldname = getattr(q, "fieldname", None)
        if isinstance(q, query.NumericRange) and fieldname == "published":
            start, end = getattr(q, "startdate", None), getattr(q, "enddate", None)
            parts, params = [], []
            if start is not None:
                parts.append("d.published >" + ("" if q.startexcl else "=") + " %s")
                params.append(_naive(start))
            if end is not None:
                parts.append("d.published <" + ("" if q.endexcl else "=") + " %s")
                params.append(_naive(end))
            return _Sql(" AND ".join(parts) or "d.published IS NOT NULL", params)
        column = {"site": "site", "lang": "lang", "section": "section", "month": "month"}.get(str(fieldname))
        if column is not None:
            if type(q) is query.Term:
                return _Sql(f"d.{column} = %s", [q.text]) if q.text else _FALSE
            if isinstance(q, query.TermRange) and column == "month":
                found = _month_range(q)
                if found is not None:
                    return found
            if isinstance(q, query.TermRange):
                parts, params = [f"d.{column} <> ''", f"d.{column} IS NOT NULL"], []
                if q.start is not None:
                    parts.append(f"d.{column} >" + ("" if q.startexcl else "=") + ' %s COLLATE "C"')
                    params.append(q.start)
                if q.end is not None:
                    parts.append(f"d.{column} <" + ("" if q.endexcl else "=") + ' %s COLLATE "C"')
                    params.append(q.end)
                return _Sql(" AND ".join(parts), params)
            if type(q) is query.Prefix:
                return _Sql(f"d.{column} <> '' AND starts_with(d.{column}, %s)", [q.text])
            if isinstance(q, query.Wildcard | query.Regex | query.FuzzyTerm):
                # As Whoosh expands it against the field's terms: here the column's values (a site, language,
                # section or month pattern was "cannot be searched on PostgreSQL").
                values = self._column_values(column, q)
                return _Sql(f"d.{column} = ANY(%s)", [values]) if values else _FALSE
        if isinstance(fieldname, str) and _field(fieldname) is not None:
            if type(q) is query.Prefix and not q.text:
                return self._every(query.Every(fieldname))
            return _FALSE  # a pattern that expands to no term
        raise QueryError(f"this query part cannot be searched on PostgreSQL: {q}")


def _any_term(pattern: str) -> bool:
    """Whether a wildcard matches every (non-empty) term: stars and at most one question mark, a star among them."""
    return "*" in pattern and not pattern.strip("*?") and pattern.count("?") <= 1


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
#: The start of a month range open at its start: every publication time (a month before 1000 too, as Whoosh's
#: month terms, ``0999-05``, sort before any month bound).
_OPEN_START = datetime(1, 1, 1)


def _month_range(q: query.TermRange) -> _Sql | None:
    """Whole months (the date filter's ``month`` range) as a range of publication times: the date index
    answers it, filter and order (a month is the publication time's, its year in four digits)."""
    bounds: list[tuple[int, int] | None] = []
    for value, excl in ((q.start, q.startexcl), (q.end, q.endexcl)):
        if value is None:
            bounds.append(None)
            continue
        m = _MONTH.match(str(value))
        if m is None or excl or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1000:
            return None
        bounds.append((int(m.group(1)), int(m.group(2))))
    start, end = bounds
    lo = datetime(*start, 1) if start is not None else _OPEN_START
    parts, params = ["d.published >= %s"], [lo]
    if end is not None:
        year, month = end
        if (year, month) >= (9999, 12):
            return None
        parts.append("d.published < %s")
        params.append(datetime(year + month // 12, month % 12 + 1, 1))
    return _Sql(" AND ".join(parts), params)


_US = timedelta(microseconds=1)
Span = tuple[datetime, datetime | None]  # inclusive publication times (None: no upper end)


def _published_span(q: query.Query) -> Span | None:
    """A date filter's part (a published range, or whole months) as inclusive publication times."""
    if isinstance(q, query.NumericRange) and getattr(q, "fieldname", None) == "published":
        start, end = getattr(q, "startdate", None), getattr(q, "enddate", None)
        if start is None or end is None:
            return None
        return _naive(start) + (_US if q.startexcl else timedelta(0)), _naive(end) - (
            _US if q.endexcl else timedelta(0)
        )
    if isinstance(q, query.TermRange) and getattr(q, "fieldname", None) == "month":
        found = _month_range(q)
        if found is None:
            return None
        lo, hi = found.params[0], found.params[1] if len(found.params) > 1 else None
        return lo, None if hi is None else hi - _US
    return None


def _spans_sql(spans: list[Span]) -> _Sql:
    """Publication-time spans, merged where they touch: one range per run (a date filter: one)."""
    merged: list[tuple[datetime, datetime | None]] = []
    for lo, hi in sorted(spans, key=lambda span: span[0]):
        if merged:
            first, last = merged[-1]
            if last is None or lo <= last + _US:
                merged[-1] = (first, None if last is None or hi is None else max(last, hi))
                continue
        merged.append((lo, hi))
    parts: list[str] = []
    params: list[Any] = []
    for lo, hi in merged:
        if hi is None:
            parts.append("d.published >= %s")
            params.append(lo)
        else:
            parts.append("(d.published >= %s AND d.published <= %s)")
            params += [lo, hi]
    return _Sql(" OR ".join(parts) if len(parts) == 1 else "(" + " OR ".join(parts) + ")", params)


def _disjuncts(q: query.Query) -> list[query.Query]:
    """The parts of a plain OR (no minimum to match); any other query is its only part."""
    return list(q.subqueries) if isinstance(q, query.Or) and not getattr(q, "minmatch", 0) else [q]


def _month_keys(lexemes: Iterable[str], month: str | None) -> list[tuple[str, str]]:
    """(lexeme, month) of a dated document's lexemes: what search_term_months counts."""
    if month is None:
        return []
    return [(lex, month) for lex in lexemes]


#: A date filter as (first whole month, last whole month (None: open), the days at the edges: inclusive spans).
Months = tuple[str | None, str | None, list[tuple[datetime, datetime]]]


def whole_months(flt: query.Query) -> Months | None:
    """A filter that is only a date range, as search.date_filter makes it (whole months as a ``month`` range,
    the days at either edge as publication-time ranges); None for any other filter."""
    parts = _disjuncts(flt)
    months = [p for p in parts if isinstance(p, query.TermRange) and p.fieldname == "month"]
    edges = [_published_span(p) for p in parts if isinstance(p, query.NumericRange)]
    spans = [(lo, hi) for lo, hi in (e for e in edges if e is not None) if hi is not None]
    if len(months) != 1 or len(months) + len(spans) != len(parts) or _month_range(months[0]) is None:
        return None
    return months[0].start, months[0].end, spans


class Word(NamedTuple):
    """A bare word's parts (word_lexemes): its text lexemes, its tag and author lexemes, and the languages
    whose every document it matches (those where it is a stop word: ``the`` lists every English article)."""

    lexemes: list[str]
    keys: list[str]
    whole: list[str]


def _months_span(months: Months) -> Span:
    """The publication times a date filter of whole_months covers (its whole months and edge days)."""
    from newsarchive.search import _next_month

    lo, hi, edges = months
    start = _OPEN_START  # an open start: every month, as _month_range
    if lo is not None:
        start = min([datetime.strptime(lo, "%Y-%m")] + [a for a, _ in edges])
    if hi is None:
        return start, None
    return start, max([_next_month(datetime.strptime(hi, "%Y-%m")) - _US] + [b for _, b in edges])


def word_lexemes(q: query.Query) -> Word | None:
    """A query of one word in every field it is searched in, as search.build_query makes of a bare word
    (``gaza``: the word in each language's headline, description and body, its tag and author keys; for a
    stop word of some languages, every document of those and the word in the others'); None otherwise.

    Each text lexeme is searched in all three text fields, so a document matches it when it holds it
    anywhere: its matches are its ``df`` documents. A document's text lexemes are of its own language
    only, so two text lexemes (of two languages) never share a document and their totals add up.
    """
    letters: dict[str, set[str]] = {}
    keys: list[str] = []
    whole: list[str] = []
    restricted: set[str] | None = None  # the languages the word's tree is restricted to (a stop word's)

    def terms(subs: Sequence[query.Query]) -> bool:
        for sub in subs:
            if type(sub) is not query.Term or not isinstance(sub.fieldname, str):
                return False
            found = _field(sub.fieldname)
            if found is None:
                return False
            prefix, letter = found
            if letter:
                letters.setdefault(prefix + str(sub.text), set()).add(letter)
            else:
                keys.append(prefix + str(sub.text))
        return True

    for part in _disjuncts(q):
        if isinstance(part, DocsFilter) and type(part.child) is query.Term and part.child.fieldname == "lang":
            whole.append(str(part.child.text))
        elif isinstance(part, query.And) and len(part.subqueries) == 2 and isinstance(part.subqueries[1], DocsFilter):
            tree, only = part.subqueries
            if restricted is not None:
                return None
            restricted = _lang_keys(only.child)
            if restricted is None or not terms(_disjuncts(tree)):
                return None
        elif not terms([part]):
            return None
    families = {lex.partition(":")[0] for lex in letters}
    if not letters or len(families) != len(letters) or any(not have >= {"A", "B", "D"} for have in letters.values()):
        return None
    # A stop word's tree is restricted to exactly its own languages, none of them a whole one.
    if (whole or restricted is not None) and (
        restricted != families or not set(whole) <= set(LANGS) or set(whole) & families
    ):
        return None
    return Word(sorted(letters), sorted(set(keys)), sorted(whole))


def _both_counted(word: Word, key: str) -> bool:
    """Whether count_terms counts the documents holding ``key`` and one of the word's text lexemes: the key is
    one word whose analysis in each language gives exactly the word's lexemes (else they are counted)."""
    from newsarchive.analysis import index_terms_of_word

    text = key.partition(":")[2]
    if not _ONE_WORD_KEY.fullmatch(text):
        return False
    return {f"{lang}:{t}" for lang in ALL_LANGS for t in index_terms_of_word(text, lang)} == set(word.lexemes)


def _lang_keys(q: query.Query) -> set[str] | None:
    """The language keys a filter of search._lang_is parts selects; None for any other filter."""
    from newsarchive.search import _lang_is

    out: set[str] = set()
    for sub in _disjuncts(q):
        found = [key for key in ALL_LANGS if sub == _lang_is(key)]
        if not found:
            return None
        out.update(found)
    return out


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _join(sep: str, parts: list[_Sql]) -> _Sql:
    """The parts joined by ``sep`` (" AND " or " OR "). An AND's conditions on the text vector become one
    tsquery: a RUM index scan given two ANDed ``@@`` conditions, one of them negated, returns wrong rows
    (``tv @@ 'a' AND tv @@ '!b'``; postgrespro/rum issue 123), where ``tv @@ '(a) & (!b)'`` is right, and it
    is one index condition on GIN too."""
    if sep == " AND ":
        parts = [c for p in parts for c in (p.conjuncts or [p])]
        texts = [p for p in parts if p.text == _TEXT]
        if len(texts) > 1:
            merged = _Sql(_TEXT, ["(" + ") & (".join(p.params[0] for p in texts) + ")"])
            parts = [merged, *(p for p in parts if p.text != _TEXT)]
    if len(parts) == 1:
        return parts[0]
    return _Sql(
        "(" + sep.join(f"({p.text})" for p in parts) + ")",
        [x for p in parts for x in p.params],
        parts if sep == " AND " else None,
    )


def _phrase(words: list[str], slop: int) -> str:
    """Words next to each other in order; with a slop, each gap from 1 to ``slop`` positions (Whoosh's
    SpanNear2 with mindist 1)."""
    if slop <= 1:
        return "(" + " <-> ".join(words) + ")"
    if slop > MAX_SLOP or slop ** (len(words) - 1) > MAX_SLOP_FORMS:
        raise QueryError(
            f"a phrase of {len(words)} words with slop {slop} is too loose for PostgreSQL search",
            hint=f"use a slop of at most {MAX_SLOP} and {MAX_SLOP_FORMS} spacings (slop ** (words - 1))",
        )
    forms = [words[0]]
    for word in words[1:]:
        forms = [f"({f} <{gap}> {word})" for f in forms for gap in range(1, slop + 1)]
    return "(" + " | ".join(forms) + ")"


# --- the backend -------------------------------------------------------------------------------


class PgSearch:
    """The PostgreSQL search backend over one psycopg connection (see the module docstring)."""

    name = "postgresql"

    def __init__(self, conn: Any, *, create: bool = True, replace_outdated: bool = False) -> None:
        text_safe(conn)  # whoever opened the connection: a NUL in a filter value is no error
        psycopg = require_psycopg()
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            # The writers' lock orders the writes only if each statement after it sees every write committed before:
            # READ COMMITTED, whatever the server's default_transaction_isolation. In REPEATABLE READ a writer's (or a
            # search's) snapshot is taken before the lock, and a term whose facet counts another session kept while it
            # waited was missed for good (search_term_facets).
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        self.conn = conn
        self.index_kind = "gin"
        self.avgdl = DEFAULT_AVGDL
        #: Rank from search_impacts when they settle the top (False: always rank every match).
        self.use_impacts = True
        #: How the last relevance search ranked: "impacts" or "all matches" (benchmarks and tests read it).
        self.last_ranking = ""
        #: Facets of frequent words from search_term_facets (False: tables of a version without it, read as they
        #: are); a word's terms are kept there from FACET_MIN_DOCS matches (None: never; tests lower it).
        self.facet_counts = True
        self.facet_min_docs: int | None = FACET_MIN_DOCS
        self._facets_writable = True
        #: How the last facets were counted: "kept counts" or "every match" (benchmarks and tests read it).
        self.last_facets = ""
        if create:
            self.ensure_schema(replace_outdated=replace_outdated)
            return
        found = conn.execute("SELECT to_regclass('search_meta') IS NOT NULL AND to_regclass('search_docs') IS NOT NULL")
        if not found.fetchone()[0]:
            conn.rollback()
            raise SearchIndexError(
                "the PostgreSQL store has no search tables yet", hint="build them with: newsarchive reindex"
            )
        version = self._meta("version")
        if version is not None and int(version) > PG_SEARCH_VERSION:
            conn.rollback()
            _refuse_newer(version)
        if version is not None and int(version) in UPGRADED_IN_PLACE:
            self.facet_counts = False  # searched as they are until their owner upgrades them
        elif version is None or int(version) != PG_SEARCH_VERSION:
            conn.rollback()
            raise OutdatedSearchTables(
                "the PostgreSQL search tables were made by another version of newsarchive",
                hint="rebuild them with: newsarchive reindex",
            )
        self.index_kind = self._meta("index") or "gin"
        self.avgdl = float(self._meta("avgdl") or DEFAULT_AVGDL)
        try:
            self._check_index_usable()
        except SearchIndexError:
            conn.rollback()
            raise
        conn.commit()

    # schema --------------------------------------------------------------------------------

    def ensure_schema(self, *, replace_outdated: bool = False) -> None:
        """Create the tables when missing; tables of another version are refused, or with
        ``replace_outdated`` (reindex) dropped and made anew (followers then rebuild: a new identity).

        Tables already made at this version are used without any DDL (as ``store.pg.create_schema``): a worker
        granted only the rights to read and write rows may not run ``CREATE ... IF NOT EXISTS`` on them."""
        if self._ready():
            return
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            if self._ready():
                return  # made (or replaced) by another process while this one waited for the lock
            version = self._meta("version") if self._has_tables() else None
            if version is not None and int(version) > PG_SEARCH_VERSION:
                _refuse_newer(version)  # never rebuilt by an older version (a fleet upgraded one machine at a time)
            self._run_ddl(version)
            if version is not None and int(version) in UPGRADED_IN_PLACE:
                self._grant_as_on("search_docs", _ADDED_IN_PLACE)
                self._set_meta("version", str(PG_SEARCH_VERSION))  # _DDL added what it lacked
                version = str(PG_SEARCH_VERSION)
            if version is not None and int(version) != PG_SEARCH_VERSION and replace_outdated:
                self.conn.execute(
                    "DROP TABLE IF EXISTS search_docs, search_terms, search_term_months, search_impacts, search_stats,"
                    " search_changes, search_meta, search_facet_terms, search_term_facets;"
                    " DROP SEQUENCE search_change_seq"
                )
                self.conn.execute(_DDL)
                version = None
            if version is not None and int(version) != PG_SEARCH_VERSION:
                raise OutdatedSearchTables(
                    f"the PostgreSQL search tables were made by another version ({version})",
                    hint="rebuild them with: newsarchive reindex",
                )
            if version is None:
                self._set_meta("version", str(PG_SEARCH_VERSION))
                self._set_meta("identity", uuid.uuid4().hex)
                self._set_meta("avgdl", repr(DEFAULT_AVGDL))
            kind = self._meta("index")
            if kind is None:
                kind = self._create_text_index()
                self._set_meta("index", kind)
            self.index_kind = kind
            self.avgdl = float(self._meta("avgdl") or DEFAULT_AVGDL)
            self._check_index_usable()

    def _has_tables(self) -> bool:
        return bool(self.conn.execute("SELECT to_regclass('search_meta') IS NOT NULL").fetchone()[0])

    def _run_ddl(self, version: str | None) -> None:
        """_DDL, in a savepoint: tables of an older version that only their owner may upgrade say so."""
        psycopg = require_psycopg()
        try:
            with self.conn.transaction():
                self.conn.execute(_DDL)
        except psycopg.errors.InsufficientPrivilege as exc:
            if version is None or int(version) not in UPGRADED_IN_PLACE:
                raise
            raise SearchIndexError(
                f"the PostgreSQL search tables (version {version}) need new tables that only their owner may add",
                hint="run one writing command (newsarchive import-warc, ingest or reindex) as the role that owns"
                " the search tables; until then searches work, and facets are counted on every match",
            ) from exc

    def _grant_as_on(self, source: str, tables: Sequence[str]) -> None:
        """Grant on ``tables`` the rights each other role has on ``source``: on tables an in-place upgrade adds (as on
        search_docs: a worker or a reader was granted rights on the tables that existed then, ``GRANT ... ON ALL
        TABLES``, and would be refused the new ones), and on those a reload swaps in for ``source``."""
        from psycopg import sql

        rows = self.conn.execute(
            "SELECT r.rolname, a.privilege_type FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a"
            " LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE c.oid = %s::regclass"
            " AND a.grantee <> (SELECT oid FROM pg_roles WHERE rolname = current_user)",
            (source,),
        ).fetchall()
        for role, privilege in rows:
            if privilege not in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"):
                continue
            grantee = sql.SQL("PUBLIC") if role is None else sql.Identifier(role)
            self.conn.execute(
                sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(privilege), sql.SQL(", ").join(map(sql.Identifier, tables)), grantee
                )
            )

    def _create_text_index(self) -> str:
        # The vectors go out of line (TOAST) whatever their size: a row is then ~300 bytes instead of one
        # to four per page, so counts, facets and date listings read a table that stays in memory (a
        # bitmap scan reads each matching row's page). Only the vectors move: the other columns are MAIN
        # (kept in the row). Ranking reads the vectors of the matches. lz4 (PostgreSQL 14+) decompresses
        # faster than pglz. These apply to rows written from now on: made with the (empty) tables.
        self.conn.execute(f"ALTER TABLE search_docs SET (toast_tuple_target = {TOAST_TARGET})")
        self.conn.execute(
            "ALTER TABLE search_docs " + ", ".join(f"ALTER COLUMN {c} SET STORAGE MAIN" for c in _ROW_COLUMNS)
        )
        try:
            with self.conn.transaction():
                self.conn.execute("ALTER TABLE search_docs ALTER COLUMN tv SET COMPRESSION lz4")
        except Exception:  # an older server, or one built without lz4: the default compression
            pass
        kind = self._choose_index_kind()
        self.conn.execute(f"CREATE INDEX IF NOT EXISTS search_docs_tv ON search_docs USING {_INDEX_USING[kind]}")
        return kind

    def _choose_index_kind(self) -> str:
        """The kind of text index to build now (INDEX_ENV): RUM needs the extension in this database."""
        wanted = wanted_index_kind()
        if wanted == "gin":
            return "gin"
        reason = "this server does not offer the rum extension"
        if self.conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'").fetchone():
            try:
                with self.conn.transaction():
                    self.conn.execute("CREATE EXTENSION IF NOT EXISTS rum")
                return "rum"
            except Exception as exc:  # no right to create the extension: GIN does the job
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                reason = f"the rum extension cannot be created here ({first})"  # not the server's HINT line
        if wanted == "rum":
            from newsarchive.errors import UsageError

            raise UsageError(
                f"{INDEX_ENV}=rum but {reason}",
                hint=f"install the server's rum package (Debian: postgresql-{self._server_major()}-rum) and create"
                f" the extension as a superuser (CREATE EXTENSION rum), or unset {INDEX_ENV} for GIN",
            )
        return "gin"

    def _server_major(self) -> str:
        return str(self.conn.info.server_version // 10000)

    def _ready(self) -> bool:
        """The tables are there at this version with their text index (one read, no lock, no DDL); then this
        object takes their index kind and average length."""
        with self.conn.transaction():
            if self.conn.execute("SELECT to_regclass('search_meta') IS NULL").fetchone()[0]:
                return False
            found = dict(
                self.conn.execute(
                    "SELECT key, value FROM search_meta WHERE key IN ('version', 'index', 'avgdl')"
                ).fetchall()
            )
            if found.get("version") != str(PG_SEARCH_VERSION) or "index" not in found:
                return False
            self.index_kind = found["index"]
            self.avgdl = float(found.get("avgdl") or DEFAULT_AVGDL)
            self._check_index_usable()
        return True

    def _check_index_usable(self) -> None:
        """A RUM index needs the rum extension's library on the server: when it is gone (a new server without
        the package) every query on the table fails, so say so, once, instead of a server error later."""
        if self.index_kind != "rum":
            return
        if not self.conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'").fetchone():
            raise SearchIndexError(
                "the PostgreSQL search tables have a RUM index but this server has no rum extension any more",
                hint=f"install it again (Debian: apt-get install postgresql-{self._server_major()}-rum); the index"
                " cannot be rebuilt or dropped without it",
            )

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM search_meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO search_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = %s",
            (key, value, value),
        )

    @property
    def identity(self) -> str:
        return self._meta("identity") or ""

    # writing -------------------------------------------------------------------------------

    def add(self, articles: Iterable[Article]) -> int:
        """Index (or re-index) articles, de-duplicated by id (last wins); one transaction."""
        batch: dict[str, Article] = {a.id: a for a in articles}
        if not batch:
            return 0
        rows, deltas, length = [], Counter[str](), 0
        months: Counter[tuple[str, str]] = Counter()
        impacts: list[tuple[str, float, str]] = []
        held: list[list[str]] = []
        for article in batch.values():
            row, lexemes, dl, found = doc_row(article, self.avgdl)
            rows.append(row)
            held.append(lexemes)
            deltas.update(lexemes)
            months.update(_month_keys(lexemes, row[7]))
            length += dl
            impacts += [(lex, f, article.id) for lex, f in found]
        with self._writing(), self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            kept = self._facet_terms(cur)
            old = self._remove(cur, list(batch), kept)
            deltas.subtract(old[0])
            months.subtract(old[3])
            facets = Counter[tuple[str, str]]()
            if kept:
                for row, lexemes in zip(rows, held, strict=True):
                    _count_facets(facets, _kept_of(kept, lexemes), row[3], row[4], row[7], row[9])
            facets.subtract(old[4])
            cur.executemany(
                f"INSERT INTO search_docs ({_COLUMNS}) VALUES ({', '.join(['%s'] * 12)}, %s::tsvector)", rows
            )
            if impacts:
                cur.execute(
                    "INSERT INTO search_impacts (term, impact, id)"
                    " SELECT * FROM unnest(%s::text[], %s::float8[]::real[], %s::text[])",
                    (_text_array(t for t, _, _ in impacts), _float_array(f for _, f, _ in impacts),
                     _text_array(i for _, _, i in impacts)),
                )  # fmt: skip
            self._apply(cur, deltas, len(rows) - old[1], length - old[2], months, facets)
            self._changed(cur, list(batch))
        return len(rows)

    def delete(self, ids: Iterable[str]) -> int:
        """Remove articles from the search tables; returns how many were there."""
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        with self._writing(), self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            lexemes, docs, length, old_months, old_facets = self._remove(cur, wanted, self._facet_terms(cur))
            deltas = Counter[str]()
            deltas.subtract(lexemes)
            months: Counter[tuple[str, str]] = Counter()
            months.subtract(old_months)
            facets = Counter[tuple[str, str]]()
            facets.subtract(old_facets)
            self._apply(cur, deltas, -docs, -length, months, facets)
            self._changed(cur, wanted)
        return docs

    def _remove(
        self, cur: Any, ids: list[str], kept: frozenset[str] = frozenset()
    ) -> tuple[Counter[str], int, int, Counter[tuple[str, str]], Counter[tuple[str, str]]]:
        """Delete the articles' rows: (their terms, number, length, (term, month) and (kept term, facet value)
        counts), to be taken off the counts."""
        listed = _text_array(ids)
        cur.execute("DELETE FROM search_impacts WHERE id = ANY(%s::text[])", (listed,))
        cur.execute(
            "DELETE FROM search_docs WHERE id = ANY(%s::text[])"
            " RETURNING tsvector_to_array(tv), dl, month, lkey, lang, site, tags",
            (listed,),
        )
        lexemes: Counter[str] = Counter()
        months: Counter[tuple[str, str]] = Counter()
        facets: Counter[tuple[str, str]] = Counter()
        docs = length = 0
        for held, dl, month, family, lang, site, tags in cur.fetchall():
            terms = held + count_terms(held, family, lang)
            lexemes.update(terms)
            months.update(_month_keys(terms, month))
            if kept:
                _count_facets(facets, _kept_of(kept, terms), site, lang, month, tags)
            docs += 1
            length += dl
        return lexemes, docs, length, months, facets

    def _apply(
        self,
        cur: Any,
        deltas: Counter[str],
        docs: int,
        length: int,
        months: Counter[tuple[str, str]] | None = None,
        facets: Counter[tuple[str, str]] | None = None,
    ) -> None:
        for table, column, counts in (("search_term_months", "month", months), ("search_term_facets", "value", facets)):
            moved = sorted((k, n) for k, n in (counts or {}).items() if n)
            if not moved:
                continue
            cur.execute(
                f"INSERT INTO {table} (term, {column}, n)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::int[])"
                f" ON CONFLICT (term, {column}) DO UPDATE SET n = {table}.n + EXCLUDED.n",
                (_text_array(t for (t, _), _ in moved), _text_array(m for (_, m), _ in moved),
                 "{" + ",".join(str(n) for _, n in moved) + "}"),
            )  # fmt: skip
            gone = [key for key, n in moved if n < 0]  # only a count gone down can reach 0
            if gone:
                cur.execute(
                    f"DELETE FROM {table} m USING unnest(%s::text[], %s::text[]) AS f(term, {column})"
                    f" WHERE m.term = f.term AND m.{column} = f.{column} AND m.n <= 0",
                    (_text_array(t for t, _ in gone), _text_array(m for _, m in gone)),
                )
        changed = sorted((t, n) for t, n in deltas.items() if n)
        if changed:
            cur.execute(
                "INSERT INTO search_terms (term, df) SELECT * FROM unnest(%s::text[], %s::int[])"
                " ON CONFLICT (term) DO UPDATE SET df = search_terms.df + EXCLUDED.df",
                (_text_array(t for t, _ in changed), "{" + ",".join(str(n) for _, n in changed) + "}"),
            )
            fallen = [t for t, n in changed if n < 0]  # only a term counted down can reach 0
            if fallen:
                cur.execute("DELETE FROM search_terms WHERE term = ANY(%s::text[]) AND df <= 0", (_text_array(fallen),))
        if docs or length:
            cur.execute("UPDATE search_stats SET docs = docs + %s, length = length + %s", (docs, length))

    def _changed(self, cur: Any, ids: list[str]) -> None:
        """Number the change of each article (under the writers' lock: numbers commit in order)."""
        cur.execute(
            "INSERT INTO search_changes (article_id, seq) SELECT i, nextval('search_change_seq')"
            " FROM unnest(%s::text[]) AS i ON CONFLICT (article_id) DO UPDATE SET seq = EXCLUDED.seq",
            (_text_array(sorted(ids)),),
        )

    def clear(self) -> None:
        """Empty every search table (reindex); the change numbers go on from where they were."""
        with self._writing(), self.conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            self._lock_for_reload(cur)
            cur.execute("SELECT article_id FROM search_changes")
            ids = [r[0] for r in cur.fetchall()]
            cur.execute(f"TRUNCATE {_CONTENT_TABLES}")
            cur.execute("UPDATE search_stats SET docs = 0, length = 0")
            self._changed(cur, ids)

    def bulk_load(
        self, articles: Iterable[Article], *, replace: bool = False, changed: Iterable[str] = (), procs: int = 1
    ) -> int:
        """Load many articles with COPY (text index and term counts built at the end) and put them in place at once.

        The rows go into new tables beside the live ones (RELOADED, named ``..._next``), committed there while
        searches go on reading the live tables; their indexes and counts are then built, the text index on a second
        connection meanwhile (it takes most of that time, on one core); last, one short transaction swaps the new
        tables in (searches wait for that one only, then see the new content). Writers wait for the whole load (it
        holds their lock). A load killed half-way leaves the live tables as they were (its tables are dropped by the
        next one).

        ``replace``: whatever the tables held is replaced (reindex). Change numbers go to the articles that are new
        to the tables or gone from them, and to ``changed`` (articles changed in the store but not yet indexed): a
        follower re-reads those only. ``procs`` > 1: the articles are analysed by that many processes while this one
        copies the rows.
        """
        import tempfile

        # The impacts wait in a temporary file (one COPY at a time on a connection), copied once the text index is
        # being built.
        with self._writers_lock(), tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
            loaded = self._load_next(articles, replace=replace, procs=procs, spool=spool)
            self._index_next(loaded, changed)
            # The planner's statistics, before the swap: the first searches on the new tables are planned with them
            # (ANALYZE waits for the text index build; a VACUUM took 1.6 s at 30,000 articles: COPY FREEZE made it
            # needless).
            self.conn.execute(f"ANALYZE search_docs{_NEXT}")
            self.conn.commit()
            self._swap_next(loaded.kind, loaded.docs, loaded.length)
        return loaded.docs

    @contextlib.contextmanager
    def _writers_lock(self) -> Iterator[None]:
        """The writers' lock (their _LOCK_KEY) held by this session across transactions, until the block ends."""
        if self.conn.info.transaction_status == require_psycopg().pq.TransactionStatus.INTRANS:
            self.conn.commit()
        self.conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        self.conn.commit()
        psycopg = require_psycopg()
        try:
            yield
        except BaseException:
            try:  # a broken connection let go of the lock with its session
                self.conn.rollback()
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
                self.conn.commit()
            except psycopg.Error:
                pass
            raise
        self.conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        self.conn.commit()

    def _load_next(self, articles: Iterable[Article], *, replace: bool, procs: int, spool: Any) -> _Loaded:
        """The new tables made (as the live ones, without their indexes) and search_docs' rows copied, committed;
        search_impacts' rows written to ``spool`` (copied by _index_next)."""
        df: Counter[str] = Counter()
        counted_months: Counter[tuple[str, str]] = Counter()
        months: set[str] = set()
        docs = length = 0
        facets = _LoadFacets() if self.facet_min_docs is not None else None
        with self._writing(), self.conn.cursor() as cur:
            if not replace and cur.execute("SELECT EXISTS (SELECT 1 FROM search_docs)").fetchone()[0]:
                raise SearchIndexError("the search tables are not empty", hint="rebuild them with: newsarchive reindex")
            # A rebuild: the kind of text index is chosen again (INDEX_ENV; RUM when the server offers it), before
            # the load (a kind the server cannot build is refused at once), the index built after it.
            kind = self._choose_index_kind()
            self._refuse_dependents(cur)
            # In the live tables' schema (the first of search_path may be another: "$user", created since).
            schema = cur.execute(
                "SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = 'search_docs'::regclass"
            ).fetchone()[0]
            cur.execute("DROP TABLE IF EXISTS " + ", ".join(f"{schema}.{t}{_NEXT}" for t in RELOADED))  # killed load's
            for table in RELOADED:
                # The live table's columns, defaults, storage and compression; its indexes come after the rows.
                cur.execute(f"CREATE TABLE {schema}.{table}{_NEXT} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES)")
                options = cur.execute(
                    "SELECT coalesce(array_to_string(reloptions, ', '), '') FROM pg_class WHERE oid = %s::regclass",
                    (table,),
                ).fetchone()[0]
                if options:
                    cur.execute(f"ALTER TABLE {table}{_NEXT} SET ({options})")
            # FREEZE (the tables were made in this transaction): the rows are written frozen and their pages marked
            # all-visible, so counts over dates are index-only scans with no VACUUM after the load.
            with cur.copy(f"COPY search_docs{_NEXT} ({_COLUMNS}) FROM STDIN (FREEZE)") as copy:
                for rows, impacts, chunk_df, chunk_docs, chunk_length, chunk_months, _ in _analysed(
                    articles, procs, self.avgdl, facets
                ):
                    copy.write(rows)
                    spool.write(impacts)
                    df.update(chunk_df)
                    counted_months.update(chunk_months)
                    months.update(month for _, month in chunk_months)
                    docs += chunk_docs
                    length += chunk_length
        return _Loaded(kind, docs, length, df, counted_months, months, facets, spool)

    def _refuse_dependents(self, cur: Any) -> None:
        """A view (or another object) made on a search table would stop the swap, which drops the live tables, after
        the whole load: said at once instead, with what to do."""
        found = cur.execute(
            "SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d"
            " JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid"
            " WHERE d.refobjid = ANY(%s::regclass[]) AND r.ev_class <> d.refobjid",
            ([f"{t}" for t in RELOADED],),
        ).fetchall()
        if found:
            raise SearchIndexError(
                f"{', '.join(r[0] for r in found)} depends on the search tables, which a reindex replaces",
                hint="drop it before the reindex and make it again after (or make it on your own tables)",
            )

    def _index_next(self, loaded: _Loaded, changed: Iterable[str]) -> None:
        """The new tables' keys, indexes, month counts and document frequencies, committed; the text index is built on
        a second connection meanwhile. The changes are numbered here (a follower reads the articles from the store,
        not these tables): those of the articles new to the tables or gone from them, and ``changed``."""
        text_index = f"CREATE INDEX search_docs{_NEXT}_tv ON search_docs{_NEXT} USING {_INDEX_USING[loaded.kind]}"
        with self._beside(text_index), self._writing(), self.conn.cursor() as cur:
            # The impact lists first, while the text index is built beside (it starts as soon as the documents are
            # committed: it is the longest step, on one core). Emptied in this transaction, so that they are written
            # frozen as search_docs is (COPY FREEZE); TRUNCATE waits for no one (the table is this load's own).
            cur.execute(f"TRUNCATE search_impacts{_NEXT}")
            loaded.impacts.seek(0)
            with cur.copy(f"COPY search_impacts{_NEXT} (term, impact, id) FROM STDIN (FREEZE)") as copy:
                while chunk := loaded.impacts.read(1 << 20):
                    copy.write(chunk)
            # The month index first: the month counts read each month's documents through it.
            for statement in sorted(self._next_indexes(cur), key=lambda s: "_month " not in s):
                cur.execute(statement)
            # Each text lexeme's documents per month, from the vectors (in the server: a table of counts per
            # chunk would be as large as the vectors' lexemes), one month at a time (the month's documents
            # through its index): one hash table of 7 million groups at 1,000,000 articles missed the caches at
            # every row (6.3 -> 3.8 s at 30,000 articles). The key is built after the rows (27 -> 12 s).
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute("SET LOCAL enable_seqscan = off")  # the tables were not analysed yet
            # ts_stat counts a query's vectors' lexemes in C (one tree, no array per vector, no hash aggregate): the
            # same rows as unnest(tsvector_to_array(tv)) grouped by lexeme, 9.7 s of the server against 11.7-14.4 at
            # 100,000 articles.
            cur.execute(
                f"INSERT INTO search_term_months{_NEXT} (term, month, n) SELECT s.word, m.month, s.ndoc"
                " FROM unnest(%s::text[]) AS m(month),"
                f" LATERAL ts_stat(format('SELECT tv FROM search_docs{_NEXT} WHERE month = %%L', m.month)) s",
                (sorted(loaded.months),),
            )
            # Each lexeme's documents: its months' counts summed, and the undated documents' (through the month
            # index: usually few). The analysis processes counted them before, a lookup of each lexeme of each
            # document (~5% of their CPU), and this process merged every chunk's counts: 2 s of the server at
            # 300,000 articles instead.
            cur.execute(
                f"INSERT INTO search_terms{_NEXT} (term, df) SELECT s.term, sum(s.n) FROM (SELECT term, n FROM"
                f" search_term_months{_NEXT} UNION ALL SELECT word, ndoc FROM"
                f" ts_stat('SELECT tv FROM search_docs{_NEXT} WHERE month IS NULL')) s GROUP BY s.term"
            )
            cur.execute("RESET enable_seqscan")
            with cur.copy(f"COPY search_terms{_NEXT} (term, df) FROM STDIN") as copy:
                for item in loaded.counted.items():  # the count_terms: in no vector
                    copy.write_row(item)
            with cur.copy(f"COPY search_term_months{_NEXT} (term, month, n) FROM STDIN") as copy:
                for (term, month), n in loaded.counted_months.items():
                    copy.write_row((term, month, n))
            if loaded.facets is not None and self.facet_min_docs is not None:
                terms = loaded.facets.terms(self.facet_min_docs)
                with cur.copy(f"COPY search_facet_terms{_NEXT} (term) FROM STDIN") as copy:
                    for term in terms:
                        copy.write_row((term,))
                with cur.copy(f"COPY search_term_facets{_NEXT} (term, value, n) FROM STDIN") as copy:
                    for row in loaded.facets.rows(terms):
                        copy.write_row(row)
            for table in _KEYED_AFTER:
                for _, _, statement in self._next_keys(cur, table):
                    cur.execute(statement)
            cur.execute(f"ANALYZE search_impacts{_NEXT}")  # while the text index is built
            cur.execute(
                f"SELECT id FROM search_docs{_NEXT} d"
                " WHERE NOT EXISTS (SELECT 1 FROM search_changes c WHERE c.article_id = d.id)"
                f" UNION SELECT id FROM search_docs o WHERE NOT EXISTS (SELECT 1 FROM search_docs{_NEXT} d"
                " WHERE d.id = o.id)"
            )
            self._changed(cur, sorted({r[0] for r in cur.fetchall()} | set(changed)))

    def _next_indexes(self, cur: Any) -> list[str]:
        """The statements that give the new tables the live ones' indexes, but the text index and the keys of
        _KEYED_AFTER (built once their rows are in). A key is first a unique index (made beside the text index: a
        constraint would wait for it), attached as the constraint by the swap (_swap_next)."""
        statements = []
        for table in RELOADED:
            if table not in _KEYED_AFTER:
                statements += [statement for _, _, statement in self._next_keys(cur, table)]
            for (definition,) in cur.execute(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = %s::regclass"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
                " AND i.indexrelid <> coalesce(to_regclass('search_docs_tv')::oid, 0)",
                (table,),
            ).fetchall():
                found = _INDEXDEF.match(definition)
                if found is None:
                    raise SearchIndexError(f"cannot rebuild the index {definition!r}", hint="report this")
                unique, name, using = found.groups()
                statements.append(f"CREATE {unique or ''}INDEX {_next_name(table, name)} ON {table}{_NEXT} {using}")
        return statements

    def _next_keys(self, cur: Any, table: str) -> list[tuple[str, str, str]]:
        """The live table's primary key and unique constraints: (name, ``PRIMARY KEY`` or ``UNIQUE``, the statement
        making the new table's unique index for it)."""
        keys = []
        for name, definition in cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
            " AND contype IN ('p', 'u')",
            (table,),
        ).fetchall():
            found = _KEYDEF.match(definition)
            if found is None:
                raise SearchIndexError(f"cannot rebuild the key {definition!r} of {table}", hint="report this")
            kind, columns = found.groups()
            keys.append((name, kind, f"CREATE UNIQUE INDEX {_next_name(table, name)} ON {table}{_NEXT} {columns}"))
        return keys

    @contextlib.contextmanager
    def _beside(self, statement: str) -> Iterator[None]:
        """Run ``statement`` (committed) on a second connection to the same database while the block runs; its error,
        if any, is raised at the end. Where no second connection can be opened, it runs here after the block."""
        import threading

        psycopg = require_psycopg()
        try:
            info = self.conn.info  # the server this connection reached (of a URL naming several hosts)
            where = {"host": info.host, "port": info.port, "hostaddr": getattr(info, "hostaddr", None) or None}
            other = psycopg.connect(info.dsn, **where, password=info.password or None, autocommit=True)
        except psycopg.Error:
            other = None
        failed: list[BaseException] = []

        def run() -> None:
            try:
                other.execute(statement)
            except BaseException as exc:  # raised in the caller's thread
                failed.append(exc)

        thread = threading.Thread(target=run, name="newsarchive-index-build") if other is not None else None
        if thread is not None:
            thread.start()
        try:
            yield
        except BaseException:
            if thread is not None and other is not None:
                getattr(other, "cancel_safe", other.cancel)()
            raise
        finally:
            if thread is not None and other is not None:
                thread.join()
                other.close()
        if thread is None:
            with self._writing():
                self.conn.execute(statement)
        elif failed:
            raise failed[0]

    def _swap_next(self, kind: str, docs: int, length: int) -> None:
        """One short transaction: the new tables take the live ones' names, rights and place (the facet counts kept
        are the reload's: those the live tables kept by searches go with them; the next facet searches count them
        again)."""
        with self._writing(), self.conn.cursor() as cur:
            self._lock_for_reload(cur)
            for table in RELOADED:
                # The live table's owner (a reload run by a superuser or a member of the owning role made the new
                # tables its own: the owner, a worker, was refused its next write).
                for (owner,) in cur.execute(
                    "SELECT relowner::regrole::text FROM pg_class WHERE oid = %s::regclass"
                    " AND relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)",
                    (table,),
                ).fetchall():
                    cur.execute(f"ALTER TABLE {table}{_NEXT} OWNER TO {owner}")
                self._grant_as_on(table, [table + _NEXT])
            keys = {table: self._next_keys(cur, table) for table in RELOADED}
            # The live indexes' names by their new ones' (an index not named after its table keeps its name).
            names = {table: {_next_name(table, name): name for name in _index_names(cur, table)} for table in RELOADED}
            cur.execute("DROP TABLE " + ", ".join(RELOADED))
            for table in RELOADED:
                cur.execute(f"ALTER TABLE {table}{_NEXT} RENAME TO {table}")
                for name, kind_of_key, _ in keys[table]:  # the unique index becomes the key (and takes its name)
                    cur.execute(
                        f"ALTER TABLE {table} ADD CONSTRAINT {name} {kind_of_key} USING INDEX {_next_name(table, name)}"
                    )
                for name in [n for n in _index_names(cur, table) if n.startswith(table + _NEXT)]:
                    cur.execute(
                        f"ALTER INDEX {name} RENAME TO {names[table].get(name, table + name[len(table + _NEXT) :])}"
                    )
            cur.execute("UPDATE search_stats SET docs = %s, length = %s", (docs, length))
            self._set_meta("index", kind)
            self.index_kind = kind

    # change feed ---------------------------------------------------------------------------

    def changes_since(self, counter: int, *, limit: int = 5000) -> tuple[list[str], int]:
        """(ids of the articles added, changed or deleted after change number ``counter``, the new counter).

        At most ``limit`` ids; call again with the new counter until no id comes back. The counter
        of a follower that saw every change so far is the largest number handed out.
        """
        rows = self.conn.execute(
            "SELECT article_id, seq FROM search_changes WHERE seq > %s ORDER BY seq LIMIT %s", (counter, limit)
        ).fetchall()
        self.conn.commit()
        if not rows:
            return [], counter
        return [r[0] for r in rows], int(rows[-1][1])

    def change_counter(self) -> int:
        row = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM search_changes").fetchone()
        self.conn.commit()
        return int(row[0])

    # reading -------------------------------------------------------------------------------

    def terms_between(self, lo: str, hi: str | None, *, lengths: tuple[int, int] | None = None) -> list[str]:
        """Indexed terms from ``lo`` to ``hi`` inclusive (byte order); ``hi`` None: every term starting with ``lo``."""
        sql = "SELECT term FROM search_terms WHERE term >= %s AND term <= %s AND df > 0"
        params: list[Any] = [lo, hi if hi is not None else lo + "\U0010ffff"]
        if lengths is not None:
            sql += " AND char_length(term) BETWEEN %s AND %s"
            params += list(lengths)
        return [r[0] for r in self.conn.execute(sql + " ORDER BY term", params).fetchall()]

    def existing_terms(self, terms: list[str]) -> list[str]:
        """Those of ``terms`` that are indexed."""
        if not terms:
            return []
        rows = self.conn.execute("SELECT term FROM search_terms WHERE term = ANY(%s) AND df > 0", (terms,))
        return sorted(r[0] for r in rows.fetchall())

    def terms_with_prefix(self, prefix: str, *, limit: int = MAX_EXPANSION + 1) -> list[str]:
        rows = self.conn.execute(
            "SELECT term FROM search_terms WHERE term >= %s AND term < %s AND df > 0 ORDER BY term LIMIT %s",
            (prefix, prefix + "\U0010ffff", limit),
        ).fetchall()
        return [r[0] for r in rows]

    def doc_count(self) -> int:
        row = self.conn.execute("SELECT docs FROM search_stats").fetchone()
        return int(row[0]) if row else 0

    def translate(self, req: SearchRequest) -> tuple[_Sql, Translation]:
        """The request's query and filters as one SQL condition over ``search_docs d``."""
        from newsarchive.search import build_filter, build_query

        q = build_query(_SCHEMA_ONLY, pg_text(req.text), tz=req.tz)  # a NUL: U+FFFD, as in the documents
        flt = build_filter(req)
        tr = Translation(self)
        cond = tr.sql(q)
        tr.word = word_lexemes(q)
        tr.listing = type(q) is query.Every
        tr.filtered = flt is not None
        if flt is not None:
            tr.months = whole_months(flt)
            if tr.months is None:
                tr.word = None
            cond = _join(" AND ", [cond, tr.sql(flt)])
        return cond, tr

    def _score(self, tr: Translation) -> tuple[_Sql, _Bound | None]:
        """The BM25-like score expression of the ranked terms (see the module docstring), and what bounds
        it from search_impacts (None: some ranked word is weighted otherwise than a bare word)."""
        if not tr.ranked:
            return _Sql("0.0"), None
        lexemes = sorted(tr.ranked)
        df = dict(self.conn.execute("SELECT term, df FROM search_terms WHERE term = ANY(%s)", (lexemes,)).fetchall())
        stats = self.conn.execute("SELECT docs FROM search_stats").fetchone()
        n = int(stats[0]) if stats else 0
        avgdl = self.avgdl
        bound: _Bound | None = _Bound()
        # A document holds the lexemes of its own language only: one CASE branch per language, so each
        # row computes ts_rank (which reads the whole vector) once per query word, not once per language.
        by_lang: dict[str, list[str]] = {}
        parts: list[str] = []
        params: list[Any] = []
        for lex in lexemes:
            letters, boost = tr.ranked[lex]
            if boost <= 0:
                continue
            idf = _idf(n, df.get(lex, 0))
            family, _, key = lex.partition(":")
            if family in ("tag", "by"):  # read from the small array columns, not the vector
                column = "tags" if family == "tag" else "byline"
                parts.append(f"(CASE WHEN d.{column} @> %s::text[] THEN %s ELSE 0.0 END)")
                params += [[key], idf * boost]
                if bound is not None and df.get(lex, 0):
                    bound.constant += idf * boost
                continue
            if bound is not None and not letters >= {"A", "B", "D"}:
                bound = None  # a field-restricted word: search_impacts holds a bare word's factors
            elif bound is not None and df.get(lex, 0):
                bound.terms.setdefault(family, []).append((lex, idf * boost))
            # ts_rank's weight of each letter: the field's boost, scaled to at most 1 (its limit).
            top = max(_letter_boost(x) for x in letters)
            weights = "{" + ",".join(str(_letter_boost(x) / top if x in letters else 0.0) for x in _LETTERS) + "}"
            s = f"(ts_rank('{weights}'::float4[], d.tv, {_quoted(_lexeme_literal(lex))}::tsquery, 0) * {_ZETA2 * top})"
            # idf * s * (k1 + 1) / (s + k1 * norm), written with s once: (k1 + 1) / (1 + k1 * norm / s)
            norm = f"{K1} * ({1 - B} + {B} * d.dl / {avgdl})"
            by_lang.setdefault(family, []).append(
                f"{idf * boost!r} * coalesce({K1 + 1} / (1 + {norm} / nullif({s}, 0)), 0.0)"
            )
        if by_lang:
            whens = " ".join(
                f"WHEN {_quoted(lang)} THEN {' + '.join(terms)}" for lang, terms in sorted(by_lang.items())
            )
            parts.append(f"(CASE d.lkey {whens} ELSE 0.0 END)")
        if bound is not None and not bound.terms:
            bound = None  # no text word to take candidates from
        return _Sql(" + ".join(parts) or "0.0", params), bound

    def search(self, req: SearchRequest, *, store: ArticleStore | None = None) -> SearchResults:
        """Run one search: hits (with snippets from ``store``'s articles), total, facets, did-you-mean."""
        try:
            return self._search(req, store)
        except BaseException:
            self.conn.rollback()  # a refused query leaves no transaction open on the connection
            raise

    def _search(self, req: SearchRequest, store: ArticleStore | None) -> SearchResults:
        from newsarchive.search import SearchResults, _Hit, _hit, _search_store

        if store is not None and not req.has_text and not (req.tags or req.authors or req.sections):
            return _search_store(store, req)  # a date listing: the store's own date index, as with Whoosh
        cond, tr = self.translate(req)
        sort = req.effective_sort
        start, limit = req.start, max(req.limit, 1)
        # The planner prices a match on a vector as cheap, but on a sequential scan each row's vector is
        # read and decompressed: the text index (or the date index) is always the better way. That makes a
        # table without an index (search_stats' one row) cost 10^10 to scan, far above jit_above_cost: the
        # server would compile each such statement (8-60 ms, on every search) to run it in microseconds.
        self.conn.execute("SET LOCAL enable_seqscan = off")
        self.conn.execute("SET LOCAL jit = off")
        self.conn.execute(f"SET LOCAL work_mem = '{SEARCH_WORK_MEM}'")
        if sort == "relevance":
            score, bound = self._score(tr)
            found = None
            counted: int | None = None
            ranking = "impacts"
            if tr.word is not None and tr.word.whole and self.use_impacts:
                found, ranking = self._stop_word_top(tr.word, tr.months, score, start + limit), "stop word"
            if found is None and bound is not None and self.use_impacts and self.index_kind == "rum":
                # A RUM index answers phrases and fields alone (positions and weights are in it), so the total
                # is cheap to know first; few matches are ranked all at once, reading only their own vectors
                # (a phrase's candidates from the impact lists mostly fail it, each read for nothing).
                counted = self._count(cond, req, tr)
                if counted <= RUM_RANK_ALL:
                    bound = None
            if found is None and bound is not None and self.use_impacts:
                found, ranking = self._impact_top(cond, score, bound, start + limit), "impacts"
            self.last_ranking = "all matches" if found is None else ranking
            if found is not None:  # the top from the impact lists; the total from the text index
                rows = [(*r, 0) for r in found[start:]]
                total = counted if counted is not None else self._count(cond, req, tr)
            else:
                # Scored in a subquery (OFFSET 0 keeps it one): the window counts narrow rows, not the vectors.
                sql = (
                    "SELECT s.*, count(*) OVER () FROM (SELECT d.id, d.url, d.title, d.site, d.lang, d.published,"
                    f" {score.text} AS score FROM search_docs d WHERE {cond.text} OFFSET 0) s"
                    " ORDER BY s.score DESC, s.id LIMIT %s OFFSET %s"
                )
                rows = self.conn.execute(sql, [*score.params, *cond.params, limit, start]).fetchall()
                total = int(rows[0][-1]) if rows else self._count(cond)  # every match is scored: counted on the way
        else:
            total = self._count(cond, req, tr)
            order = "DESC NULLS LAST" if sort == "newest" else "ASC NULLS FIRST"
            sql = (
                f"SELECT d.id, d.url, d.title, d.site, d.lang, d.published, NULL AS score, 0 FROM search_docs d"
                f" WHERE {cond.text} ORDER BY d.published {order}, d.id LIMIT %s OFFSET %s"
            )
            rows = self.conn.execute(sql, [*cond.params, limit, start]).fetchall() if total > start else []
        articles = store.hit_texts([r[0] for r in rows]) if store is not None and rows else {}
        words = _Words(tr)
        hits = []
        for i, (doc_id, url, title, site, lang, published, score_value, _) in enumerate(rows):
            fields = {"id": doc_id, "url": url, "title": title, "site": site, "lang": lang}
            if published is not None:
                fields["published"] = published
            hit = _Hit(fields, i, score_value)
            hits.append(_hit(hit, articles.get(doc_id), sort == "relevance", words))  # type: ignore[arg-type]
        out = SearchResults(total=total, hits=hits, offset=start)
        out.page = start // limit + 1
        out.pages = max(1, -(-total // limit))
        if req.facets:
            out.facets = self._facets(cond, tr)
        if total == 0 and req.has_text:
            out.suggestion = self.suggest(req.text)
        self.conn.commit()
        return out

    def _stop_word_top(self, word: Word, months: Months | None, score: _Sql, want: int) -> list[tuple[Any, ...]] | None:
        """The first ``want`` matches by score (ties by id) of a bare word that is a stop word in some languages
        (``the``, ``now``: every document of those matches); None when the others are too many to rank here.

        A document of those languages scores only for the word's tag or author key (the word is no term of
        its text), so those without the key score 0 and come last, by id: the first ``want`` of them by id are
        read, not all. The others match the word's text lexemes or keys and score above 0: they are ranked.
        """
        dates = _TRUE if months is None else _spans_sql([_months_span(months)])
        held = word.lexemes + word.keys
        df = dict(self.conn.execute("SELECT term, df FROM search_terms WHERE term = ANY(%s)", (held,)).fetchall())
        anywhere = " | ".join(_lexeme_literal(lex) for lex in held if df.get(lex))
        # The others ranked, and the first of the rest by id: their union ordered by the server (its collation).
        columns = "d.id, d.url, d.title, d.site, d.lang, d.published"
        keys = {f: [k.partition(":")[2] for k in word.keys if k.startswith(f + ":")] for f in ("tag", "by")}
        rest = (
            f"SELECT {columns}, 0.0::float8 AS score FROM search_docs d WHERE d.lang = ANY(%s) AND {dates.text}"
            " AND NOT (d.tags && %s::text[] OR d.byline && %s::text[]) ORDER BY d.id LIMIT %s"
        )
        params: list[Any] = [word.whole, *dates.params, keys["tag"], keys["by"], want]
        if anywhere:
            few = self.conn.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM search_docs d WHERE d.tv @@ %s::tsquery AND {dates.text}"
                " LIMIT %s) s",
                [anywhere, *dates.params, STOP_WORD_RANK_ALL + 1],
            ).fetchone()[0]
            if few > STOP_WORD_RANK_ALL:
                return None
            ranked = (
                f"SELECT {columns}, ({score.text})::float8 AS score FROM search_docs d"
                f" WHERE d.tv @@ %s::tsquery AND {dates.text} ORDER BY score DESC, d.id LIMIT %s"
            )
            rest = f"SELECT * FROM (({ranked}) UNION ALL ({rest})) s ORDER BY s.score DESC, s.id LIMIT %s"
            params = [*score.params, anywhere, *dates.params, want, *params, want]
        found: list[tuple[Any, ...]] = self.conn.execute(rest, params).fetchall()
        return found

    def _impact_top(self, cond: _Sql, score: _Sql, bound: _Bound, want: int) -> list[tuple[Any, ...]] | None:
        """The first ``want`` matches by score (ties by id), exactly, when the impact lists settle them; else None.

        Each ranked word's list is read in factor order to some depth; the matches among the documents read
        are scored exactly (the same expression as a full ranking). A document not read has, for each word,
        a factor at most the last one read (or under IMPACT_FLOOR when the list ended), so its score is at
        most the bound: when the ``want``-th score read is above it, no other match can come before.
        Otherwise the depth grows (x4), up to IMPACT_MAX_DEPTH, and then the caller ranks every match; it
        does so at once when too few of the documents read match for four times as many to give ``want``.
        """
        depth = max(IMPACT_DEPTH, 4 * want)
        lexemes = sorted({lex for terms in bound.terms.values() for lex, _ in terms})
        # Each round reads only the lists' next entries and scores only the documents not read before, with
        # the top so far (at most ``want`` rows, ordered again by the server: ids compare in its collation).
        read_to = 0
        seen: set[str] = set()
        count: Counter[str] = Counter()
        last: dict[str, float] = {}
        rows: list[tuple[Any, ...]] = []
        while depth <= IMPACT_MAX_DEPTH:
            read = self.conn.execute(
                "SELECT l.term, i.id, i.impact FROM unnest(%s::text[]) AS l(term) CROSS JOIN LATERAL"
                " (SELECT id, impact FROM search_impacts WHERE term = l.term ORDER BY impact DESC, id"
                " OFFSET %s LIMIT %s) i",
                (lexemes, read_to, depth - read_to),
            ).fetchall()
            read_to = depth
            ids: set[str] = set()
            for term, doc_id, impact in read:
                if doc_id not in seen:
                    ids.add(doc_id)
                count[term] += 1
                last[term] = min(last.get(term, impact), impact)
            seen |= ids
            ceiling = {lex: last[lex] if count[lex] >= depth else IMPACT_FLOOR for lex in lexemes}
            limit = bound.limit(ceiling)
            if ids:
                rows = self.conn.execute(
                    f"SELECT d.id, d.url, d.title, d.site, d.lang, d.published, {score.text} AS score"
                    f" FROM unnest(%s::text[]) AS c(id) JOIN search_docs d ON d.id = c.id WHERE {cond.text}"
                    " ORDER BY score DESC, d.id LIMIT %s",
                    [*score.params, sorted(ids | {r[0] for r in rows}), *cond.params, want],
                ).fetchall()
            if len(rows) >= want and rows[want - 1][-1] > limit:
                return rows
            if all(count[lex] < depth for lex in lexemes):
                return None  # every list read to its end: the matches left all score under the floor
            if len(rows) * 4 < want:
                return None  # few of the documents read match (a phrase, a narrow filter): rank every match
            depth *= 4
        return None

    def _count(self, cond: _Sql, req: SearchRequest | None = None, tr: Translation | None = None) -> int:
        if tr is not None and tr.word is not None:
            return self._word_count(tr.word, months=tr.months)
        if tr is not None and tr.listing and tr.months is not None:
            return self._listing_count(tr.months)
        if tr is not None and tr.listing and not tr.filtered:
            return self.doc_count()
        text = cond.text
        if "d.tv @@" in text and "d.published" in text and not _short_span(req):
            # Words within a long date span: the planner takes the date index and reads the vector of each
            # article in the span (20-40 us each); counting the words' matches on the GIN index and checking
            # their dates on the rows reads no vector (a year: 60 against 110-190 ms at 100,000 articles).
            # The dates, written as an expression, are not an index condition any more.
            text = text.replace("d.published", "(d.published + interval '0 s')")
        return int(self.conn.execute(f"SELECT count(*) FROM search_docs d WHERE {text}", cond.params).fetchone()[0])

    def _month_sum(self, terms: _Sql, lo: str | None, hi: str | None) -> int:
        """The documents of the terms ``terms`` selects, summed over the months lo..hi (None: open) of
        search_term_months."""
        sql, params = f"SELECT coalesce(sum(n), 0) FROM search_term_months WHERE {terms.text}", list(terms.params)
        for bound, op in ((lo, ">="), (hi, "<=")):
            if bound is not None:
                sql += f" AND month {op} %s"
                params.append(bound)
        return int(self.conn.execute(sql, params).fetchone()[0])

    def _listing_count(self, months: Months) -> int:
        """The exact total of a date listing (a date filter, no text): the whole months' documents from the counts
        (every document counts once for ``lang:`` + its language: count_terms), the days at the edges counted."""
        lo, hi, edges = months
        every_lang = _Sql("term >= %s AND term < %s", [LANG, LANG[:-1] + chr(ord(LANG[-1]) + 1)])  # 'lang:...'
        total = self._month_sum(every_lang, lo, hi)
        for span in edges:
            cond = _spans_sql([span])
            total += int(
                self.conn.execute(f"SELECT count(*) FROM search_docs d WHERE {cond.text}", cond.params).fetchone()[0]
            )
        return total

    def _word_count(self, word: Word, *, months: Months | None = None) -> int:
        """The exact total of a bare word (word_lexemes) from the term counts, without reading its matches.

        Its text lexemes' documents add up (each document holds the lexemes of its own language only); so
        do its tag or author key's, less the documents holding both (``both:`` counts, count_terms; two keys,
        a key beside whole languages, or a key whose analysis is not the word's are counted on the text
        index). Within a date filter (whole_months), the months' counts come from search_term_months, and the
        matches in the days at the edges are counted (or, when the edge is most of its month, that month's
        count less the matches in the rest of it). The languages where the word is a stop word add their
        documents (``lang:`` counts; within dates, counted on the (language, time) index).
        """
        from newsarchive.search import _month_start, _next_month

        lexemes, keys = word.lexemes, word.keys
        wanted = lexemes + keys + [BOTH + k for k in keys] + [LANG + w for w in word.whole]
        df = dict(self.conn.execute("SELECT term, df FROM search_terms WHERE term = ANY(%s)", (wanted,)).fetchall())
        text = [_lexeme_literal(lex) for lex in lexemes if df.get(lex)]
        held = [k for k in keys if df.get(k)]
        anywhere = " | ".join(text + [_lexeme_literal(k) for k in held])
        where, params = "", list[Any]()  # the months, on the row (the text index finds the documents)
        # The lexemes whose counts add up: the text ones, and a single key unless some languages are whole (the
        # key's count holds their documents, already counted).
        one_key = len(held) == 1 and not word.whole
        counted = lexemes + held if one_key else lexemes
        extra = 0  # edge days: counted matches (+) and matches in the rest of a month taken whole (-)
        whole = 0  # the documents of the languages where the word is a stop word (in the dates)
        if word.whole:
            if months is None:  # the languages' documents, counted at indexing (count_terms)
                whole = sum(int(df.get(LANG + w, 0)) for w in word.whole)
            else:
                dates = _spans_sql([_months_span(months)])
                row = self.conn.execute(
                    f"SELECT count(*) FROM search_docs d WHERE d.lang = ANY(%s) AND {dates.text}",
                    [word.whole, *dates.params],
                )
                whole = int(row.fetchone()[0])
            where, params = " AND d.lang <> ALL(%s)", [word.whole]  # their other matches are counted there
        if not anywhere:
            return whole  # neither the word nor its keys anywhere else
        if months is None:
            total = sum(int(df.get(lex, 0)) for lex in counted)
        else:
            lo, hi, edges = months
            for span in edges:
                first, after = _month_start(span[0]), _next_month(span[0])
                rest = [(a, b - _US) for a, b in ((first, span[0]), (span[1] + _US, after)) if a < b]
                if sum((b - a for a, b in rest), timedelta(0)) < (span[1] - span[0]) / 4:
                    key = month_key(first)  # most of its month: taken whole, the rest counted out
                    lo, hi = (key, hi) if lo is not None and key < lo else (lo, key)
                    spans, sign = rest, -1
                else:
                    spans, sign = [span], 1
                cond = _spans_sql(list[Span](spans))
                row = self.conn.execute(
                    f"SELECT count(*) FROM search_docs d WHERE d.tv @@ %s::tsquery AND {cond.text}{where}",
                    [anywhere, *cond.params, *params],
                )
                extra += sign * int(row.fetchone()[0])
            for bound, op in ((lo, ">="), (hi, "<=")):  # the same months, on the rows (counted below)
                if bound is not None:
                    where += f" AND (d.month || '') {op} %s"
                    params.append(bound)
            total = self._month_sum(_Sql("term = ANY(%s)", [counted]), lo, hi)
            where += " AND d.month IS NOT NULL"
        if one_key and (not text or _both_counted(word, held[0])):
            # The documents holding the key and the word: counted at indexing (count_terms), in the same months.
            term = BOTH + held[0]
            if not text:
                both_n = 0
            elif months is None:
                both_n = int(df.get(term, 0))
            else:
                both_n = self._month_sum(_Sql("term = %s", [term]), lo, hi)
            return total - both_n + extra + whole
        if held:
            either = "(" + " | ".join(_lexeme_literal(k) for k in held) + ")"
            both = f"{either} & ({' | '.join(text)})" if text else None
            for tsq, sign in ((None if one_key else either, 1), (both, -1)):
                if tsq is not None:
                    row = self.conn.execute(
                        f"SELECT count(*) FROM search_docs d WHERE d.tv @@ %s::tsquery{where}", [tsq, *params]
                    )
                    total += sign * int(row.fetchone()[0])
        return total + extra + whole

    def _facets(self, cond: _Sql, tr: Translation | None = None) -> dict[str, list[tuple[str, int]]]:
        from newsarchive.search import FACETS, _ordered

        found: Iterable[tuple[str, int]] | None = None
        if tr is not None and tr.word is not None and tr.months is None and self.facet_counts:
            found = self._word_facets(tr.word)
        self.last_facets = "every match" if found is None else "kept counts"
        if found is None:
            # One pass over the matches' rows, aggregating as it reads: each row's tag keys and its site, language
            # and month, marked (a key never holds the mark: tag_key splits on it), unnested in the select list
            # (a join with unnest() is planned as a nested loop with a memoized function scan) and counted in one
            # hash table (the server may split the scan between parallel workers). Two passes, the triples then
            # the tags, read the matches twice: 2.1 -> 1.4 s for 612,000 matches of 1,000,000 articles.
            found = self.conn.execute(_FACET_VALUES.format(cond.text), cond.params).fetchall()
        counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
        for value, n in found:
            name = "tag"
            if value.startswith(_FACET_MARK):
                name, value = _FACET_OF_MARK[value[1]], value[2:]
            if value:
                counts[name][value] += int(n)
        return {name: _ordered(name, counts[name]) for name in FACETS}

    def _word_facets(self, word: Word) -> list[tuple[str, int]] | None:
        """A bare word's facet values counted (word_lexemes, no filter): its terms' kept counts summed
        (search_term_facets), the others' matches read. None: counted on every match (_facets).

        The word's matches are the documents of its text lexemes (each of its own language: their sets are
        disjoint), of the languages where it is a stop word (``lang:`` terms; disjoint from those), and those
        matched by its tag or author keys alone. For a single one-word key counted with its word (``both:``, as
        in _word_count) those are ``only:`` + the key (a facet count only: the documents holding the key and
        not the word, kept like a term); else they are read. A term matching FACET_MIN_DOCS documents or more
        gets its counts kept here (_keep_facets).

        The counts and the rows are read in one statement, so in one state of the tables: a writer may commit
        between two statements of a search (an article moved from a kept term to a read one was counted twice
        or not at all), and every part of the word is counted or read whatever its ``df`` was a moment before.
        """
        if self.facet_min_docs is None or any(_lexeme_literal(t) == _NO_LEXEME for t in word.lexemes + word.keys):
            return None
        parts = word.lexemes + [LANG + w for w in word.whole]
        asked = parts + word.keys + [BOTH + k for k in word.keys]
        df = dict(self.conn.execute("SELECT term, df FROM search_terms WHERE term = ANY(%s)", (asked,)).fetchall())
        held = [k for k in word.keys if df.get(k)]
        key = None  # the key whose documents without the word are kept (only:)
        if len(held) == 1 and not word.whole and _both_counted(word, held[0]):
            alone = df[held[0]] - df.get(BOTH + held[0], 0)
            if alone >= self.facet_min_docs:
                key = held[0]
                parts.append(ONLY + key)
                df[ONLY + key] = alone
        listed = self.conn.execute("SELECT term FROM search_facet_terms WHERE term = ANY(%s)", (parts,))
        kept = {r[0] for r in listed}
        wanted = [t for t in parts if t not in kept and df.get(t, 0) >= self.facet_min_docs]
        if wanted:
            kept |= self._keep_facets(wanted)
        if key is not None and ONLY + key not in kept:
            parts.remove(ONLY + key)  # not kept (a writer at work, the most terms kept): read as below
            key = None
        counted = sorted(kept & set(parts))
        if not counted:
            return None  # nothing to gain over one pass
        sql = "SELECT value, sum(n) FROM search_term_facets WHERE term = ANY(%s) GROUP BY value"
        params: list[Any] = [counted]
        # The rest in the same statement (its parts are disjoint from each other and from the counted ones).
        rest = [t for t in parts if t not in kept]
        conds = []
        if text := [_lexeme_literal(t) for t in rest if not t.startswith(LANG)]:
            conds.append("d.tv @@ %s::tsquery")
            params.append(" | ".join(text))
        if langs := [t.removeprefix(LANG) for t in rest if t.startswith(LANG)]:
            conds.append("d.lang = ANY(%s)")
            params.append(langs)
        if others := [k for k in word.keys if k != key]:  # the documents of the other keys alone
            tsq = "(" + " | ".join(map(_lexeme_literal, others)) + ")"
            if excluded := word.lexemes + ([key] if key is not None else []):
                tsq += " & !(" + " | ".join(map(_lexeme_literal, excluded)) + ")"
            conds.append("(d.tv @@ %s::tsquery AND d.lang <> ALL(%s))")
            params += [tsq, word.whole]
        if conds:
            sql += " UNION ALL " + _FACET_VALUES.format(" OR ".join(conds))
        # Few matches to read (the parts not kept are those under FACET_MIN_DOCS, usually none): no parallel workers.
        # The planner guesses thousands of matches for a lexeme it has no statistics of, and with the kept counts of
        # a large table beside them it started two workers: 10-14 ms of a statement that reads 0.5 ms.
        reading = sum(df.get(t, 0) for t in rest) + sum(df.get(k, 0) for k in others)
        serial = reading < FACET_MIN_DOCS
        if serial:
            setting = "max_parallel_workers_per_gather"
            before = self.conn.execute(
                "SELECT current_setting(%s), set_config(%s, '0', true)", (setting, setting)
            ).fetchone()[0]
        found = Counter[str]()
        for value, n in self.conn.execute(sql, params):
            found[value] += int(n)
        if serial:
            self.conn.execute("SELECT set_config(%s, %s, true)", (setting, before))
        return [(value, n) for value, n in found.items() if n]

    def _keep_facets(self, terms: list[str]) -> set[str]:
        """Count the facet values of each term's documents into search_term_facets, from now on kept up to date by
        the writers (they read search_facet_terms under their lock, which this takes: no write is half done). A
        right missing, a read-only server, a writer at work or FACET_TERMS reached: none, and counted elsewhere."""
        if not self._facets_writable:
            return set()
        wanted = set(terms)
        psycopg = require_psycopg()
        try:
            with self.conn.transaction():  # a savepoint: a refusal leaves the search's transaction usable
                if not self.conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_LOCK_KEY,)).fetchone()[0]:
                    return set()
                have = {r[0] for r in self.conn.execute("SELECT term FROM search_facet_terms")}
                terms = [t for t in terms if t not in have]  # kept by another search meanwhile
                if len(have) + len(terms) > FACET_TERMS:
                    return set()
                for term in terms:
                    cond, param = _facet_term_condition(term)
                    # Counted by a SELECT, then inserted: PostgreSQL runs no INSERT ... SELECT in parallel, and
                    # the matches of a frequent term are most of the time (2.7 against 1.5 s at 1,000,000).
                    found = self.conn.execute(_FACET_VALUES.format(cond), (param,)).fetchall()
                    self.conn.execute(
                        "INSERT INTO search_term_facets (term, value, n)"
                        " SELECT %s, * FROM unnest(%s::text[], %s::int[])",
                        (term, _text_array(v for v, _ in found), "{" + ",".join(str(n) for _, n in found) + "}"),
                    )
                    self.conn.execute("INSERT INTO search_facet_terms (term) VALUES (%s)", (term,))
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
            self._facets_writable = False  # a reader's role: this connection counts every match
            return set()
        return wanted

    def _lock_for_reload(self, cur: Any) -> None:
        """Lock every content table at once for a reload (bulk_load, clear), each try waiting a moment only.

        A search reads the tables one after another (search_terms, then search_docs...): a reload that took
        search_docs, then waited for search_terms a search was reading, while the search waited for search_docs,
        was a deadlock, and the server killed one of them (often the reload). A try that cannot have them all
        within RELOAD_LOCK_TRY lets go of what it took (a savepoint), so the search ends, and tries again."""
        psycopg = require_psycopg()
        deadline = time.monotonic() + RELOAD_LOCK_WAIT
        pause = 0.01
        while True:
            try:
                with self.conn.transaction():
                    before = cur.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
                    cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(RELOAD_LOCK_TRY * 1000)}ms",))
                    cur.execute(f"LOCK TABLE {_CONTENT_TABLES} IN ACCESS EXCLUSIVE MODE")
                    cur.execute("SELECT set_config('lock_timeout', %s, true)", (before,))
                return
            except psycopg.errors.LockNotAvailable as exc:
                if time.monotonic() >= deadline:
                    raise SearchIndexError(
                        f"searches kept the search tables busy for {RELOAD_LOCK_WAIT:.0f} s: nothing was reloaded",
                        hint="run it again when fewer searches run",
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def _writing(self) -> Any:
        """A transaction of its own for a write. A read (doc_count, identity, changes_since...) may have left one
        open on the connection: the write would then be a savepoint in it, committed only with it, and lost when
        the connection closes first; and it would hold the writers' lock until then. That read ends here."""
        if self.conn.info.transaction_status == require_psycopg().pq.TransactionStatus.INTRANS:
            self.conn.commit()
        return self.conn.transaction()

    def _facet_terms(self, cur: Any) -> frozenset[str]:
        """The terms whose facet counts are kept (a writer, under the lock: it keeps them exact)."""
        return frozenset(r[0] for r in cur.execute("SELECT term FROM search_facet_terms").fetchall())

    def iter_ids(self, req: SearchRequest, *, batch: int = 1000) -> Iterator[list[str]]:
        """Every id matching the query and filters, in batches, in id order (for export)."""
        cond, _ = self.translate(req)
        with self.conn.transaction(), self.conn.cursor(name="search_ids") as cur:
            self.conn.execute("SET LOCAL enable_seqscan = off")
            self.conn.execute("SET LOCAL jit = off")  # as in _search
            self.conn.execute(f"SET LOCAL work_mem = '{SEARCH_WORK_MEM}'")
            cur.itersize = batch
            cur.execute(f"SELECT d.id FROM search_docs d WHERE {cond.text} ORDER BY d.id", cond.params)
            while True:
                rows = cur.fetchmany(batch)
                if not rows:
                    break
                yield [r[0] for r in rows]

    def suggest(self, text: str) -> str | None:
        """'Did you mean': search.suggestion's rule, the rule of the Whoosh index, on the search tables."""
        from newsarchive.search import suggestion

        try:
            return suggestion(text, _PgTerms(self))
        finally:
            self.conn.commit()

    def stats(self) -> dict[str, Any]:
        """What ``stats`` shows of the search backend."""
        docs = self.doc_count()
        kept = self.conn.execute("SELECT count(*) FROM search_facet_terms").fetchone()[0] if self.facet_counts else 0
        self.conn.commit()
        ranking = RANKING if self.index_kind != "rum" else RANKING[:-1] + RUM_RANKING + ")"
        out = {"backend": "postgresql", "index": self.index_kind, "ranking": ranking, "documents": docs}
        return out | {"facet_terms": int(kept)}

    def close(self) -> None:
        self.conn.close()


class _PgTerms:
    """search.SuggestTerms of the search tables: ``search_terms`` counts each lexeme's documents (a document's
    text lexemes are of its own language; ``tag:`` and ``by:`` lexemes are its keys)."""

    def __init__(self, backend: PgSearch) -> None:
        self.conn = backend.conn
        self.backend = backend
        self.df: dict[tuple[str, str], int] = {}

    def langs(self) -> list[str]:
        return [lang for lang in ALL_LANGS if self.backend.terms_with_prefix(f"{lang}:", limit=1)]

    def held(self, lexemes: list[tuple[str, str]]) -> set[tuple[str, str]]:
        family = {"tags": "tag", "byline": "by"}
        wanted = {f"{family.get(lang, lang)}:{term}": (lang, term) for lang, term in lexemes}
        return {wanted[t] for t in self.backend.existing_terms(list(wanted))}

    def near(self, lang: str, text: str) -> list[str]:
        from newsarchive.index.whoosh_internals import near_terms
        from newsarchive.search import MAX_SUGGEST_EDITS

        # The terms of the first letter (as long as the word, give or take the edits): one range of the key.
        start = f"{lang}:{text[:1]}"
        shortest = len(lang) + 1 + max(len(text) - MAX_SUGGEST_EDITS, 1)
        rows = self.conn.execute(
            "SELECT term, df FROM search_terms WHERE term >= %s AND term < %s AND df > 0"
            " AND char_length(term) BETWEEN %s AND %s",
            (start, start + "\U0010ffff", shortest, len(lang) + 1 + len(text) + MAX_SUGGEST_EDITS),
        ).fetchall()
        n = len(lang) + 1
        for term, df in rows:
            self.df[lang, term[n:]] = int(df)
        return near_terms(sorted(term[n:] for term, _ in rows), text, MAX_SUGGEST_EDITS, 1)

    def frequency_bound(self, lang: str, term: str) -> int:
        return self.df.get((lang, term), 0)

    def frequency(self, lang: str, term: str) -> int:
        return self.df.get((lang, term), 0)


def _text_array(values: Iterable[str]) -> str:
    """A text[] literal of ``values``: sent as one string, the server parses it (psycopg's list dumper is
    Python code, and the write path's arrays hold thousands of terms)."""
    listed = list(values)
    if not listed:
        return "{}"
    plain = "".join(listed)
    if "\\" in plain or '"' in plain:  # escaped one by one; the usual case is one join
        return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in listed) + "}"
    return '{"' + '","'.join(listed) + '"}'


def _float_array(values: Iterable[float]) -> str:
    """A float8[] literal (repr: the shortest text that reads back as the same double)."""
    return "{" + ",".join(map(repr, values)) + "}"


def _copy_text(text: str) -> str:
    """A value in COPY's text format (of a doc_row: its text is already as PostgreSQL holds it, _storable)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _short_span(req: SearchRequest | None) -> bool:
    """Whether the request's date filter spans less than a month (its articles are few: the date index counts)."""
    if req is None or req.date_from is None or req.date_to is None:
        return False
    return bool(req.date_to - req.date_from < timedelta(days=31))


def _quoted(text: str) -> str:
    """A SQL string literal (standard_conforming_strings: only ' is doubled); no %: psycopg reads placeholders."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _letter_boost(letter: str) -> float:
    return {"A": BOOSTS["headline"], "B": BOOSTS["description"], "C": 1.0, "D": BOOSTS["body"]}[letter]


def _idf(n: int, df: int) -> float:
    import math

    return math.log(n / (df + 1)) + 1 if n else 1.0


class _Bound:
    """What bounds a ranking's score from search_impacts: each language's ranked words with their weight
    (idf x boost), and the weight of the tag and author terms (a constant when present)."""

    def __init__(self) -> None:
        self.terms: dict[str, list[tuple[str, float]]] = {}
        self.constant = 0.0

    def limit(self, ceiling: dict[str, float]) -> float:
        """The highest score of a document whose factor for each word is at most ``ceiling``'s (with room
        for the rounding of the stored factors and of ts_rank's single precision)."""
        top = max(sum(w * ceiling[lex] for lex, w in terms) for terms in self.terms.values())
        return (top + self.constant) * (1 + 1e-5) + 1e-9


class _Words:
    """search._QueryWords for PostgreSQL: the query's terms in one field (patterns expanded)."""

    def __init__(self, tr: Translation) -> None:
        self.words = {name: frozenset(terms) for name, terms in tr.words.items()}
        self.verdicts: dict[str, dict[str, tuple[str, bool]]] = {}

    def __call__(self, fieldname: str) -> frozenset[str]:
        return self.words.get(fieldname, frozenset())


def load_search_tables(url: str, articles: Iterable[Article]) -> int:
    """(Re)build the search tables of the PostgreSQL database at ``url`` from ``articles`` (store migrate)."""
    pg = PgSearch(connect(url))
    try:
        return pg.bulk_load(articles, replace=True, procs=LOAD_PROCS)
    finally:
        pg.close()


__all__ = ["LANGS", "PgSearch", "Translation", "connect", "doc_row"]
