"""STAGE 7a: a search request -> ranked hits with snippets (Whoosh for text, the store for date listings)."""

from __future__ import annotations

import calendar
import contextlib
import functools
import os
import re
import weakref
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

import numpy as np
from whoosh import query
from whoosh.fields import ID, TEXT, Schema
from whoosh.index import Index
from whoosh.qparser import (
    FieldsPlugin,
    FuzzyTermPlugin,
    MultifieldParser,
    OperatorsPlugin,
    PhrasePlugin,
    Plugin,
    syntax,
)
from whoosh.searching import Searcher

from newsarchive.analysis import (
    ALL_LANGS,
    LANGS,
    WORD_RE,
    LangText,
    index_terms_of_word,
    lang_key,
    lang_primary,
    normalize_word,
    plain_analyzer,
    tag_key,
    terms_of_words,
)
from newsarchive.article import without_surrogates
from newsarchive.errors import QueryError
from newsarchive.index.evaluate import Evaluator, column_values, doc_ids, ranked, sort_by_column
from newsarchive.index.filters import DocsFilter, Fuzzy
from newsarchive.index.schema import BOOSTS, TEXT_FIELDS, lang_field, month_key, stored_fields
from newsarchive.index.whoosh_internals import edit_distance, near_terms, prefix_terms, term_info, toc_file_name
from newsarchive.snippet import snippet
from newsarchive.store.articles import PLAIN_SNIPPET_CHARS
from newsarchive.wildcard import STEMMED, StemPattern

if TYPE_CHECKING:
    from newsarchive.store.articles import ArticleStore, HitText

SEARCH_FIELDS = ("headline", "description", "body", "byline", "tags")
KEY_FIELDS = ("byline", "tags")
Sort = Literal["relevance", "newest", "oldest"]
FACETS = ("site", "tag", "lang", "month")

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")

#: Years a search date may name: every bound, once moved to UTC by any time zone (up to +-14 h) and
#: widened to whole months by the date filter, stays inside what ``datetime`` can hold.
MIN_YEAR = 1000
MAX_YEAR = 9998
DATE_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD"


def parse_date_bound(text: str, *, end: bool, tz: tzinfo = UTC) -> datetime:
    """'2023', '2023-02' or '2023-02-16' -> the first (or, with ``end``, last) instant in ``tz``, as UTC.

    Raises QueryError for anything else, so a typo never widens a search silently; so does a year
    outside MIN_YEAR..MAX_YEAR (checked before any arithmetic, which would overflow at the ends of
    the calendar).
    """
    m = _DATE.match(text.strip())
    if not m:
        raise QueryError(f"invalid date {text!r}", hint=f"use {DATE_FORMS}, e.g. 2023-02")
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise QueryError(
            f"date {text!r} is out of range", hint=f"search dates run from {MIN_YEAR}-01-01 to {MAX_YEAR}-12-31"
        )
    try:
        if month is None:
            start, stop = datetime(year, 1, 1), datetime(year + 1, 1, 1)
        elif day is None:
            mon = int(month)
            start = datetime(year, mon, 1)
            stop = start + timedelta(days=calendar.monthrange(year, mon)[1])
        else:
            start = datetime(year, int(month), int(day))
            stop = start + timedelta(days=1)
    except (ValueError, OverflowError) as exc:
        raise QueryError(f"invalid date {text!r}: {exc}", hint="use a real calendar date") from exc
    if not end:
        return start.replace(tzinfo=tz).astimezone(UTC)
    # The period ends where the next one starts, less a microsecond, counted in UTC: not at 23:59:59.999999
    # local time, which a zone turning its clocks back at midnight (Asia/Beirut) lives twice; its first pass
    # would leave the repeated hour in no day at all.
    return stop.replace(tzinfo=tz).astimezone(UTC) - timedelta(microseconds=1)


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None
    sort: Sort | None = None  # None: relevance with a query, newest without
    limit: int = 20
    page: int = 1
    offset: int | None = None  # overrides page
    sites: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    facets: bool = False
    tz: tzinfo = UTC  # the time zone of dates written in the query (published:2023-02), as --tz

    def __post_init__(self) -> None:
        # A lone surrogate (a command-line byte that is not UTF-8, read by Python as one) encodes in no index:
        # U+FFFD instead, as in stored articles (article.clean_text), so the search answers instead of failing.
        object.__setattr__(self, "text", without_surrogates(self.text))
        # ``()``, ``NOT ()``, ``headline:""``: nothing written, the empty query (a listing, newest first).
        if self.text and writes_nothing(self.text):
            object.__setattr__(self, "text", "")
        for name in ("sites", "tags", "authors", "langs", "sections"):
            values = getattr(self, name)
            if any(not v.isascii() for v in values):
                object.__setattr__(self, name, tuple(without_surrogates(v) for v in values))
        # A value with no language code in it ("_", "-", " ") would match nothing on one path and the articles
        # of no language on another: it is a mistake to say, as an unknown date is.
        for value in self.langs:
            if not lang_primary(value):
                raise QueryError(
                    f"--lang {value!r} names no language", hint="give a language code such as en, ar or es"
                )

    @property
    def start(self) -> int:
        return self.offset if self.offset is not None else (max(self.page, 1) - 1) * max(self.limit, 1)

    @property
    def has_text(self) -> bool:
        return bool(self.text.strip())

    @property
    def effective_sort(self) -> Sort:
        return self.sort or ("relevance" if self.has_text else "newest")


@dataclass(frozen=True)
class SearchHit:
    id: str
    headline: str
    url: str
    site: str
    published: datetime | None
    score: float | None
    snippet: str  # matched terms wrapped in MARK_START / MARK_END
    lang: str = ""


@dataclass
class SearchResults:
    total: int
    hits: list[SearchHit] = field(default_factory=list)
    page: int = 1
    pages: int = 1
    offset: int = 0
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    suggestion: str | None = None


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


# --- query parsing -------------------------------------------------------------------------


def _parse_schema() -> Schema:
    """What the user sees: one field per name; each word is then analysed once per language."""
    plain = plain_analyzer()
    return Schema(
        headline=TEXT(analyzer=plain),
        description=TEXT(analyzer=plain),
        body=TEXT(analyzer=plain),
        byline=ID(),  # one value, commas and all: _key_leaf makes it the index's key
        tags=ID(),
        site=ID(),
        lang=ID(),
        section=ID(),
        month=ID(),
        published=ID(),  # read by _published_filter with the dates of --from/--to, not Whoosh's date parser
    )


_PARSE_SCHEMA = _parse_schema()


def _analyzed(ix_schema: Schema, fieldname: str, text: str) -> list[str]:
    """The field's analysis of a query text; one word of a language field through the process's word
    -> term dict (``analysis.terms_of_words``: the analyzer's result, without its generator layers)."""
    field = ix_schema[fieldname]
    if isinstance(field, LangText) and WORD_RE.fullmatch(text):
        term = terms_of_words([text], field.format.lang)[0]
        return [term] if term else []
    return [t.text for t in field.analyzer(text, mode="query")]


def _leaf_for(q: query.Query, real: str, schema: Schema) -> query.Query | None:
    """One user-level leaf query on one language field, with that language's analysis."""
    lang = real.rsplit("_", 1)[1]
    boost = getattr(q, "boost", 1.0)
    if isinstance(q, query.FuzzyTerm):
        words = _analyzed(schema, real, q.text)
        if len(words) != 1:
            return None
        return Fuzzy(real, words[0], boost=boost, maxdist=q.maxdist, prefixlength=q.prefixlength)
    if isinstance(q, query.Phrase):
        words = _analyzed(schema, real, " ".join(q.words))
        if not words:
            return None
        if len(words) == 1:
            return query.Term(real, words[0], boost=boost)
        return query.Phrase(real, words, slop=q.slop, boost=boost)
    if isinstance(q, query.Term):
        words = _analyzed(schema, real, q.text)
        if not words:
            return None
        if len(words) == 1:
            return query.Term(real, words[0], boost=boost)
        return query.Phrase(real, words, boost=boost)
    if isinstance(q, query.Prefix | query.Wildcard) and lang in STEMMED:
        # The field holds stems: the pattern stands for the terms of the words it matches (wildcard.plan).
        pattern = normalize_word(q.text, lang) + ("*" if isinstance(q, query.Prefix) else "")
        if pattern.strip("*?") and "[" not in pattern:
            return StemPattern(real, pattern, boost=boost)
    if isinstance(q, query.Prefix | query.Wildcard | query.Regex):
        # Other languages' terms are lowercased words: normalise the characters only.
        return type(q)(real, normalize_word(q.text, lang), boost=boost)
    if isinstance(q, query.TermRange):
        return query.TermRange(real, q.start, q.end, q.startexcl, q.endexcl, boost=boost)
    return None


def _published_filter(q: query.Query, tz: tzinfo) -> query.Query:
    """``published:2023-02`` (that whole month) or ``published:[2023-02-01 TO 2023-03]`` (open ends allowed;
    ``{}`` excludes an end's whole period) -> the filter --from/--to would build, dates read as they read them."""
    start: datetime | None
    end: datetime | None
    if type(q) is query.Term:
        start, end = parse_date_bound(q.text, end=False, tz=tz), parse_date_bound(q.text, end=True, tz=tz)
    elif isinstance(q, query.TermRange):
        start = end = None
        if q.start:  # None or '' for an open end
            start = parse_date_bound(q.start, end=bool(q.startexcl), tz=tz)
            start += timedelta(microseconds=1) if q.startexcl else timedelta(0)
        if q.end:
            end = parse_date_bound(q.end, end=not q.endexcl, tz=tz)
            end -= timedelta(microseconds=1) if q.endexcl else timedelta(0)
        if start is None and end is None:
            raise QueryError(
                "published:[TO] names no date", hint="e.g. published:[2023-02 TO] or published:[TO 2023-02]"
            )
        if start is not None and end is not None and start > end:
            raise QueryError(
                f"the range published:[{q.start} TO {q.end}] ends before it starts", hint="swap the two dates"
            )
    else:
        raise QueryError(
            "published: takes a date or a range of dates",
            hint=f"e.g. published:2023-02 or published:[2023-02 TO 2023-04] ({DATE_FORMS}; open ends allowed)",
        )
    return DocsFilter(date_filter(start and _naive_utc(start), end and _naive_utc(end)), 0.0)


def _dates(q: query.Query, tz: tzinfo) -> query.Query:
    """Every ``published:`` leaf -> the date filter --from/--to would build."""
    if not q.is_leaf():
        return q.apply(lambda sub: _dates(sub, tz))
    name = getattr(q, "fieldname", None)
    if name in KEY_FIELDS:
        return _key_leaf(q)
    if name in _VALUE_KEYS and type(q) in (query.Term, query.Phrase):
        text = q.text if type(q) is query.Term else " ".join(q.words)
        return query.Term(name, _VALUE_KEYS[name](text), boost=q.boost)  # site:, lang:, section: as the filters
    return _published_filter(q, tz) if name == "published" else q


def site_key(value: str) -> str:
    """What --site and ``site:`` compare: a host as hits show it (lower case, no ``www.``); a URL gives its host."""
    text = value.strip().lower()
    if "://" in text:
        try:
            text = urlsplit(text).hostname or text
        except ValueError:  # 'http://[oops/' (--site, site:) has no host: compared as written, matches nothing
            text = text.split("://", 1)[1]
    text = text.split("/")[0]
    return text[4:] if text.startswith("www.") else text


_VALUE_KEYS = {"site": site_key, "lang": lang_primary, "section": str.lower}


def _key_leaf(q: query.Query) -> query.Query:
    """A tags: or byline: leaf -> the index's key of the value (``tags:"Gaza, Israel"`` is the tag "gaza, israel")."""
    boost = getattr(q, "boost", 1.0)
    if type(q) is query.Term:
        return query.Term(q.fieldname, tag_key(q.text), boost=boost)
    if type(q) is query.Phrase:
        return query.Term(q.fieldname, tag_key(" ".join(q.words)), boost=boost)
    if isinstance(q, query.FuzzyTerm):  # its edits and prefix kept (they were FuzzyTerm's defaults: 1 and 1)
        return Fuzzy(q.fieldname, q.text.lower(), boost=boost, maxdist=q.maxdist, prefixlength=q.prefixlength)
    if isinstance(q, query.Prefix | query.Wildcard | query.Regex):
        return q.__class__(q.fieldname, q.text.lower(), boost=boost)
    return q


def _is_text_leaf(q: query.Query) -> bool:
    return q.is_leaf() and getattr(q, "fieldname", None) in TEXT_FIELDS


def _in_fields(q: query.Query, schema: Schema, langs: tuple[str, ...]) -> query.Query:
    """The user's tree with each text leaf searched in the fields of ``langs``, each with its analysis.

    A word that one language drops (a stop word) is dropped there with every field it was searched in:
    the group a bare word expands to (headline, description, body, byline, tags) goes as a whole, so the
    word is not left required in byline and tags. NullQuery marks a dropped part; normalize() removes it.
    """
    if _is_text_leaf(q):
        parts = [p for lang in langs if (p := _leaf_for(q, lang_field(q.fieldname, lang), schema)) is not None]
        return query.Or(parts) if len(parts) > 1 else parts[0] if parts else query.NullQuery
    if q.is_leaf() or isinstance(q, DocsFilter):
        return q
    if isinstance(q, query.Or):
        mapped = [_in_fields(sub, schema, langs) for sub in q.subqueries]
        # The parser writes a bare word as an OR of its fields, sometimes merged into a neighbouring OR:
        # a word whose every text field dropped it goes from byline and tags too.
        dropped = {_surface(sub) for sub, m in zip(q.subqueries, mapped, strict=True) if _is_text_leaf(sub)}
        dropped -= {
            _surface(sub)
            for sub, m in zip(q.subqueries, mapped, strict=True)
            if _is_text_leaf(sub) and m is not query.NullQuery
        }
        kept = [
            m
            for sub, m in zip(q.subqueries, mapped, strict=True)
            if not (sub.is_leaf() and getattr(sub, "fieldname", None) in SEARCH_FIELDS and _surface(sub) in dropped)
        ]
        return q.__class__(kept, boost=q.boost) if kept else query.NullQuery
    return q.apply(lambda sub: _in_fields(sub, schema, langs))


def _surface(q: query.Query) -> str | None:
    """The word or phrase a leaf looks for, as typed (lower case): the same in each field of a bare word."""
    if type(q) is query.Term:
        return tag_key(str(q.text))
    if type(q) is query.Phrase:
        return tag_key(" ".join(map(str, q.words)))
    return None


def _drops_words(q: query.Query, schema: Schema, lang: str) -> bool:
    """Whether some text leaf of the tree has no term at all in ``lang`` (a stop word there)."""
    if _is_text_leaf(q):
        return _leaf_for(q, lang_field(q.fieldname, lang), schema) is None
    return (
        not q.is_leaf() and not isinstance(q, DocsFilter) and any(_drops_words(s, schema, lang) for s in q.children())
    )


def _lang_is(lang: str) -> query.Query:
    """The documents whose text is in the fields of one language key."""
    if lang in LANGS:
        return query.Term("lang", lang)
    return query.AndNot(query.Every(), query.Or([query.Term("lang", other) for other in LANGS]))


def _to_languages(q: query.Query, schema: Schema, tz: tzinfo = UTC) -> query.Query:
    """The parsed tree -> the index's per-language fields, ``published:`` leaves -> date filters.

    Usually each word becomes an OR over the languages' fields. When a language drops a word (a
    stop word of English or Spanish), that language gets its own tree, restricted to its documents
    (the other languages share one, restricted to theirs):
    in English "our plan" is "plan", in Arabic it is still "our plan"; a query of stop words only
    lists every document of that language (the words say nothing there).
    """
    q = _dates(q, tz)
    dropping = [lang for lang in ALL_LANGS if _drops_words(q, schema, lang)]
    if not dropping:
        return _in_fields(q, schema, ALL_LANGS)
    rest = tuple(lang for lang in ALL_LANGS if lang not in dropping)
    parts: list[query.Query] = []
    for langs in [(lang,) for lang in dropping] + ([rest] if rest else []):
        tree = _in_fields(q, schema, langs).normalize()
        only = DocsFilter(_lang_is(langs[0]) if len(langs) == 1 else query.Or([_lang_is(x) for x in langs]), 0.0)
        parts.append(only if tree is query.NullQuery else query.And([tree, only]))
    return query.Or(parts)


#: The longest query accepted (words, characters): a longer one is a usage error, not minutes of work.
MAX_QUERY_WORDS = 100
MAX_QUERY_CHARS = 2000


def check_query_length(text: str) -> None:
    words = len(text.split())
    if words > MAX_QUERY_WORDS or len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is too long ({words} words, {len(text)} characters)",
            hint=f"a query may have up to {MAX_QUERY_WORDS} words and {MAX_QUERY_CHARS} characters",
        )


def build_query(ix: Index, text: str, *, tz: tzinfo = UTC) -> query.Query:
    """Parse the user's query text; a ``published:`` date that --from/--to would refuse fails loudly."""
    if not text.strip():
        return query.Every()
    check_query_length(text)
    schema = _schema_of(ix)
    words = _plain_words(text)
    if words is not None:
        plain = _plain_query(words, schema)
        if plain is not None:
            return plain
        q = _plain_parse(words)
    else:
        group = _syntax(text)
        if not group:  # an empty group, an empty phrase...: nothing written (SearchRequest makes such a text "")
            return query.Every()
        try:
            q = group.query(_parser())  # not normalized: normalize() would turn published:[X TO X} into NullQuery
        except QueryError:
            raise
        except Exception as exc:  # whoosh raises assorted errors on odd syntax
            raise QueryError(f"cannot understand the query {text!r}: {exc}") from exc
    return _to_languages(q, schema, tz).normalize()


@functools.lru_cache(maxsize=256)
def _syntax(text: str) -> Any:
    """The parser's syntax tree of a query text (what ``group.query(parser)`` turns into a query), its empty
    parts and the operators joining them gone (``_NothingPlugin``): an empty group when nothing is written.

    Kept per text: ``SearchRequest`` asks whether a text writes anything, then the search parses it.
    """
    try:
        return _parser().process(text)
    except QueryError:
        raise
    except Exception as exc:  # whoosh raises assorted errors on odd syntax
        raise QueryError(f"cannot understand the query {text!r}: {exc}") from exc


def writes_nothing(text: str) -> bool:
    """Whether a query text writes nothing to search for: blank, or only empty groups and phrases (``()``,
    ``NOT ()``, ``headline:""``), words of no letter or digit and the operators joining them. Such a query
    is the empty one (every article, newest first). A text the parser refuses writes something (the search
    says what is wrong with it)."""
    if not text.strip():
        return True
    if _plain_words(text) is not None:
        return False
    if len(text) > MAX_QUERY_CHARS or len(text.split()) > MAX_QUERY_WORDS:
        return False
    try:
        return not _syntax(text)
    except QueryError:
        return False


_PLAIN_WORD = re.compile(r"[^\W_]+")


def _plain_words(text: str) -> list[str] | None:
    """The words of a query of plain words (letters and digits only, no operator), else None."""
    words = text.split()
    if not all(map(_PLAIN_WORD.fullmatch, words)) or not _OPERATORS.isdisjoint(words):
        return None
    return words


def _plain_parse(words: list[str]) -> query.Query:
    """What the query parser makes of plain words: an AND of one OR per word over SEARCH_FIELDS (the text
    fields lower-cased by the parse schema's analyzer, ID fields as typed), built without parsing."""
    groups = []
    for word in words:
        lower = word.lower()
        leaves = [query.Term(name, lower, boost=BOOSTS.get(name, 1.0)) for name in TEXT_FIELDS]
        groups.append(query.Or(leaves + [query.Term(name, word) for name in KEY_FIELDS]))
    return query.And(groups)


def _plain_query(words: list[str], schema: Schema) -> query.Query | None:
    """The tree ``build_query`` makes of plain words, built directly: each word an OR of its analysis in
    every language's fields, the words ANDed; where a language drops a word (a stop word), the tree
    ``_to_languages`` makes: that language's own tree without the word, restricted to its documents.

    The parser, ``_to_languages`` and ``normalize()`` take 0.2-0.6 ms for the same tree (the query
    objects are built, copied with boosts and flattened three times, each leaf analysed again per
    language). None for a word one field analyses into several terms (the parser makes a phrase of
    it). ``tests/test_search_query.py`` checks both against the parser's trees.
    """
    # Each distinct word's term per (field, language), None where that language drops it; a repeated word
    # once (normalize() drops it: its group would be the same), analysed once.
    analysed: dict[str, dict[tuple[str, str], str | None]] = {}
    for word in words:
        lower = word.lower()
        if lower in analysed:
            continue
        terms: dict[tuple[str, str], str | None] = {}
        for name in TEXT_FIELDS:
            for lang in ALL_LANGS:
                found = _analyzed(schema, lang_field(name, lang), lower)
                if len(found) > 1:
                    return None
                terms[name, lang] = found[0] if found else None
        analysed[lower] = terms
    dropping = tuple(
        lang for lang in ALL_LANGS if any(None in (t[n, lang] for n in TEXT_FIELDS) for t in analysed.values())
    )
    if not dropping:
        return _words_tree(analysed, ALL_LANGS)
    rest = tuple(lang for lang in ALL_LANGS if lang not in dropping)
    parts: list[query.Query] = []
    for langs in [(lang,) for lang in dropping] + ([rest] if rest else []):
        only = _only_langs(langs)
        tree = _words_tree(analysed, langs)
        if tree is None:
            parts.append(only)
        else:
            parts.append(query.And([*(tree.subqueries if type(tree) is query.And else [tree]), only]))
    return parts[0] if len(parts) == 1 else query.Or(parts)


def _words_tree(analysed: dict[str, dict[tuple[str, str], str | None]], langs: tuple[str, ...]) -> query.Query | None:
    """The AND of one OR per word over the fields of ``langs`` (None: every word dropped there): a word
    no field of these languages keeps goes with its byline and tags leaves, as ``_in_fields`` drops it."""
    groups: list[query.Query] = []
    for lower, terms in analysed.items():
        leaves: list[query.Query] = [
            query.Term(lang_field(name, lang), term, boost=BOOSTS[name])
            for name in TEXT_FIELDS
            for lang in langs
            if (term := terms[name, lang]) is not None
        ]
        if leaves:
            groups.append(query.Or(leaves + [query.Term(name, lower) for name in KEY_FIELDS]))
    if not groups:
        return None
    return groups[0] if len(groups) == 1 else query.And(groups)


@functools.cache
def _only_langs(langs: tuple[str, ...]) -> query.Query:
    """The filter ``_to_languages`` puts on the tree of ``langs`` (normalized, as build_query returns it)."""
    only = DocsFilter(_lang_is(langs[0]) if len(langs) == 1 else query.Or([_lang_is(x) for x in langs]), 0.0)
    return only.normalize()


@functools.cache
def _parser() -> MultifieldParser:
    """The query parser (made once: it keeps no state between parses)."""
    parser = MultifieldParser(list(SEARCH_FIELDS), _PARSE_SCHEMA, fieldboosts=dict(BOOSTS))  # every word must match
    parser.add_plugin(_FuzzyPlugin())
    parser.remove_plugin_class(FieldsPlugin)
    parser.add_plugin(_FieldsPlugin())
    # REQUIRE is no operator of the query language: a word, as in a query of plain words (_plain_words).
    parser.replace_plugin(OperatorsPlugin(Require=None))
    parser.add_plugin(_NothingPlugin())
    return parser


#: The fields a query may name, as the error for another name lists them.
QUERY_FIELDS = ("headline", "description", "body", "byline", "tags", "site", "lang", "section", "published")
_FIELD_NAME = re.compile(r"[A-Za-z]+")


class _FieldsPlugin(FieldsPlugin):  # type: ignore[misc]
    """``field:value``, the field's name in any case (``Headline:`` is ``headline:``); a name of letters that is
    no field, right before a value (``tag:grain``, ``author:"jane roe"``), is an error, not the phrase "tag
    grain" searched in every field. Digits (``10:30``), a space after the colon (``Note: ...``) and a URL's
    ``http://`` stay text, as Whoosh leaves them."""

    def do_fieldnames(self, parser: Any, group: Any) -> Any:
        self._check_names(parser.schema, group)
        return super().do_fieldnames(parser, group)

    def _check_names(self, schema: Schema, group: Any) -> None:
        nodes = list(group)
        for i, node in enumerate(nodes):
            if isinstance(node, syntax.GroupNode):
                self._check_names(schema, node)
            if not isinstance(node, syntax.FieldnameNode) or node.fieldname in schema:
                continue
            if node.fieldname.lower() in schema:
                node.fieldname = node.fieldname.lower()
                continue
            following = nodes[i + 1] if i + 1 < len(nodes) else None
            if following is None or following.is_ws() or not _FIELD_NAME.fullmatch(node.fieldname):
                continue
            if following.has_text and str(following.text).startswith("//"):
                continue
            raise QueryError(
                f"the query names no field {node.fieldname}:",
                hint="fields: " + " ".join(f"{name}:" for name in QUERY_FIELDS) + " (--tag is tags:, --author byline:)",
            )


class _FuzzyPlugin(FuzzyTermPlugin):  # type: ignore[misc]
    """``word~``, ``word~2``: a Fuzzy term (two swapped neighbouring letters are one edit, in any index)."""

    class FuzzyTermNode(FuzzyTermPlugin.FuzzyTermNode):  # type: ignore[misc]
        qclass = Fuzzy


#: The operators, written in capitals, and what each makes of its neighbours. Whoosh's parser reads AND, OR, ANDNOT
#: and ANDMAYBE as operators between spaces only and NOT before a space only: at either end of the query or of
#: a group (``AND gaza``, ``(gaza OR)``, ``NOT(gaza)``) it searched them as words ("and", a stop word).
_OPERATOR_NODES: dict[str, tuple[type[Any], type[Any]]] = {
    "AND": (syntax.InfixOperator, syntax.AndGroup),
    "OR": (syntax.InfixOperator, syntax.OrGroup),
    "ANDNOT": (syntax.InfixOperator, syntax.AndNotGroup),
    "ANDMAYBE": (syntax.InfixOperator, syntax.AndMaybeGroup),
    "NOT": (syntax.PrefixOperator, syntax.NotGroup),
}
#: Fields whose values are analysed as text: a value with no letter or digit has no word to search there.
_TEXT_VALUE_FIELDS = (None, *TEXT_FIELDS)


class _Nothing(syntax.SyntaxNode):  # type: ignore[misc]
    """A part of the query that writes nothing: an empty group or phrase, a word of no letter or digit."""

    has_boost = True  # ``()^2``: the boost goes with it

    def __init__(self, node: Any) -> None:
        self.boost = 1.0
        self.startchar, self.endchar = node.startchar, node.endchar

    def r(self) -> str:
        return "NOTHING"

    def query(self, parser: Any) -> Any:
        return query.NullQuery


class _NothingPlugin(Plugin):  # type: ignore[misc]
    """Empty parts mean nothing was written there, on both backends (the parse is PostgreSQL's too).

    Before the operators are applied: an empty group (``()``, ``( )``, ``headline:()``), an empty phrase or
    quoted word (``""``, ``headline:""``, ``''``) and, in the text fields, a word or phrase without a letter or
    digit (``-``, ``&``, ``"..."``; ``tags:&`` is the tag "&") are marked as nothing, and every operator
    written in capitals is an operator wherever it stands; an operator without its operand (``gaza AND``,
    ``NOT``, ``AND OR``, ``NOT NOT gaza``) is an error. After the operators: what marks nothing goes, and with
    it the operator that applies to it (``gaza AND ()`` is ``gaza``, ``NOT ()`` nothing; ``() ANDNOT gaza`` is
    ``NOT gaza``, the AND of AND NOT gone). A query left with nothing is the empty query.
    """

    def filters(self, parser: Any) -> Any:
        # After the fields' names are applied (100), before a bare word becomes its fields' OR (110); then after
        # the operators (600).
        return [(self.mark, 105), (self.drop, 650)]

    def mark(self, parser: Any, group: Any) -> Any:
        out = group.empty_copy()
        for node in group:
            if isinstance(node, syntax.GroupNode):
                node = self.mark(parser, node)
                if all(n.is_ws() for n in node):
                    node = _Nothing(node)
            elif _is_operator_word(node):
                kind, grouptype = _OPERATOR_NODES[node.text]
                op = kind(node.text, grouptype)
                op.startchar, op.endchar = node.startchar, node.endchar
                node = op
            elif _writes_no_word(node):
                node = _Nothing(node)
            out.append(node)
        _check_operators([n for n in out if not n.is_ws()])
        return out

    def drop(self, parser: Any, group: Any) -> Any:
        kept = _without_nothing(group)
        return group.empty_copy() if kept is None else kept


def _is_operator_word(node: Any) -> bool:
    """An operator the tagger left as a word: capitals, no field, not quoted (``'AND'`` is the word)."""
    return (
        type(node) is syntax.WordNode
        and node.text in _OPERATOR_NODES
        and node.fieldname is None
        and node.endchar - node.startchar == len(node.text)
    )


def _writes_no_word(node: Any) -> bool:
    if type(node) not in (syntax.WordNode, PhrasePlugin.PhraseNode):  # not a pattern, a range, a fuzzy term
        return False
    text = str(node.text)
    return not text.strip() or (node.fieldname in _TEXT_VALUE_FIELDS and WORD_RE.search(text) is None)


def _check_operators(items: list[Any]) -> None:
    """Every operator has its operand(s): a word, a phrase, a group, or a part that writes nothing (and goes)."""
    for i, node in enumerate(items):
        if not isinstance(node, syntax.Operator):
            continue
        op = node.text
        before = items[i - 1] if i > 0 else None
        after = items[i + 1] if i + 1 < len(items) else None
        lower = f"to search for the word {op.lower()}, write it in lower case"
        if isinstance(node, syntax.PrefixOperator):
            if after is None:
                raise QueryError(
                    f"{op} at the end of the query (or of a group) has nothing to leave out",
                    hint=f"write {op} before a word, a phrase or a group (gaza {op} israel); {lower}",
                )
            if isinstance(after, syntax.Operator):
                raise QueryError(
                    f"{op} {after.text}: two operators in a row",
                    hint=f"{op} applies to the word, phrase or group after it (gaza AND {op} israel)",
                )
            continue
        if isinstance(before, _Nothing) or isinstance(after, _Nothing):
            continue  # it goes with the empty part
        if before is None or after is None:
            where = "start" if before is None else "end"
            raise QueryError(
                f"{op} at the {where} of the query (or of a group) joins nothing",
                hint=f"write {op} between two words, phrases or groups (gaza {op} israel); {lower}",
            )
        if isinstance(before, syntax.Operator) or isinstance(after, syntax.InfixOperator):
            pair = f"{before.text} {op}" if isinstance(before, syntax.Operator) else f"{op} {after.text}"
            raise QueryError(f"{pair}: two operators in a row", hint="remove one of them")


def _without_nothing(node: Any) -> Any:
    """The syntax tree without what writes nothing, nor the operators applied to it (None: nothing left)."""
    if isinstance(node, _Nothing):
        return None
    if not isinstance(node, syntax.GroupNode):
        return node
    kids = [kept for kept in map(_without_nothing, node) if kept is not None]
    if not kids:
        return None
    if len(kids) < len(node) and isinstance(node, syntax.BinaryGroup):  # ANDNOT or ANDMAYBE with a side gone
        if isinstance(node, syntax.AndNotGroup) and _without_nothing(node[0]) is None:
            return syntax.NotGroup(kids)  # ``() ANDNOT gaza``: AND NOT gaza, the AND gone with its nothing
        return kids[0]
    out = node.empty_copy()
    out.extend(kids)
    return out


_SCHEMAS: weakref.WeakKeyDictionary[Index, Schema] = weakref.WeakKeyDictionary()


def _schema_of(ix: Index) -> Schema:
    """The index's schema, read once per index object (``ix.schema`` reads and unpickles the TOC each time).

    The schema of an index directory never changes: a version's schema is fixed (an index of another
    version is refused) and a rebuild makes the same one.
    """
    found = _SCHEMAS.get(ix)
    if found is None:
        found = _SCHEMAS[ix] = ix.schema
    return found


def _any_of(fieldname: str, values: tuple[str, ...], *, lower: bool) -> query.Query:
    terms = [query.Term(fieldname, v.lower() if lower else v) for v in values]
    return terms[0] if len(terms) == 1 else query.Or(terms)


def _month_start(value: datetime) -> datetime:
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(value: datetime) -> datetime:
    return (_month_start(value) + timedelta(days=32)).replace(day=1)


def date_filter(start: datetime | None, end: datetime | None) -> query.Query:
    """Published in [start, end] (naive UTC, inclusive): whole months as ``month`` terms, a range at the edges.

    A DATETIME range over a year expands to many numeric trie terms; twelve month terms are much cheaper.
    Bounds from outside the command line (a SearchRequest built in code) are range-checked here too.
    """
    for bound in (start, end):
        # Any valid date in any zone lands in this window, where the month arithmetic below cannot overflow.
        if bound is not None and not datetime(MIN_YEAR - 1, 12, 1) <= bound < datetime(MAX_YEAR + 1, 2, 1):
            raise QueryError(
                f"date {bound.date().isoformat()} is out of range",
                hint=f"search dates run from {MIN_YEAR}-01-01 to {MAX_YEAR}-12-31",
            )
    full_from = None if start is None else start if start == _month_start(start) else _next_month(start)
    full_to = None
    if end is not None:
        after = end + timedelta(microseconds=1)
        full_to = _month_start(end) if after == _month_start(after) else _month_start(end) - timedelta(days=1)
    if full_from is not None and full_to is not None and full_from > full_to:
        return query.DateRange("published", start, end)  # inside one month: no whole month in the range
    parts: list[query.Query] = [
        query.TermRange(
            "month",
            None if full_from is None else month_key(full_from),
            None if full_to is None else month_key(full_to),
        )
    ]
    if start is not None and full_from is not None and start < full_from:
        parts.append(query.DateRange("published", start, full_from - timedelta(microseconds=1)))
    if end is not None and full_to is not None and end >= _next_month(full_to):
        parts.append(query.DateRange("published", _next_month(full_to), end))
    return parts[0] if len(parts) == 1 else query.Or(parts)


def build_filter(req: SearchRequest) -> query.Query | None:
    """Date range and --site/--tag/--author/--lang/--section as one query (None: no filter)."""
    parts: list[query.Query] = []
    if req.date_from is not None or req.date_to is not None:
        parts.append(
            date_filter(
                _naive_utc(req.date_from) if req.date_from else None,
                _naive_utc(req.date_to) if req.date_to else None,
            )
        )
    if req.sites:
        parts.append(_any_of("site", tuple(map(site_key, req.sites)), lower=False))
    if req.langs:
        parts.append(_any_of("lang", tuple(map(lang_primary, req.langs)), lower=False))
    if req.sections:
        parts.append(_any_of("section", req.sections, lower=True))
    if req.tags:
        parts.append(_any_of("tags", tuple(map(tag_key, req.tags)), lower=False))
    if req.authors:
        parts.append(_any_of("byline", tuple(map(tag_key, req.authors)), lower=False))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else query.And(parts)


def _restrict(q: query.Query, flt: query.Query) -> query.Query:
    """The query, restricted to the filter inside the matcher tree (no filter docset), scored by the text only.

    Not query.Require: in Whoosh 2.7.4 it builds an AndNotMatcher and matches nothing.
    """
    if isinstance(q, query.Every):
        return flt
    return query.And([q, DocsFilter(flt, 0.0)])


# --- searching -------------------------------------------------------------------------------


def search(ix: Index, req: SearchRequest, *, store: ArticleStore | None = None) -> SearchResults:
    """Run one search. With ``store``, date listings and their facets come from SQLite and snippets from the text."""
    if store is not None and not req.has_text and not (req.tags or req.authors or req.sections):
        return _search_store(store, req)
    q = build_query(ix, req.text, tz=req.tz)
    flt = build_filter(req)
    if flt is not None:
        q = _restrict(q, flt)
    for attempt in range(_ATTEMPTS):
        try:
            return _search(ix, req, q, store)
        except FileNotFoundError:
            # A writer committed and merged away a segment this searcher had not opened every file of
            # yet (Whoosh opens some lazily): search the new commit instead.
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


_ATTEMPTS = 5


#: Per index, the reader of its latest commit and that commit's stamp, kept between the searches of one
#: process: opening a reader reads the TOC (the pickled schema) and every segment's term table
#: directory, ~40% of a rare word's search. A reader is taken out while a search uses it (a search in
#: another thread opens its own) and reused only while the TOC file is the same one.
_READERS: weakref.WeakKeyDictionary[Index, tuple[tuple[int, ...], Any]] = weakref.WeakKeyDictionary()
#: Per reader, the masks of the language filters a query with a stop word brings (``_lang_is``): the same
#: few for every such search, each a posting list of a third of the archive or more to read.
_KEPT: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _commit_stamp(ix: Index) -> tuple[int, ...] | None:
    """The latest commit's generation and its TOC file's inode, mtime and size (None: not a directory index)."""
    folder = getattr(ix.storage, "folder", None)
    indexname = getattr(ix, "indexname", None)
    if folder is None or indexname is None:
        return None
    generation = ix.latest_generation()
    try:
        st = os.stat(os.path.join(folder, toc_file_name(indexname, generation)))
    except OSError:
        return None
    return generation, st.st_ino, st.st_mtime_ns, st.st_size


@contextlib.contextmanager
def _searcher(ix: Index) -> Iterator[Searcher]:
    """``ix.searcher()``, on the reader the last search of this index in this process used when no commit
    came since (segments a new commit kept are reused too: ``reader(reuse=...)``)."""
    stamp = _commit_stamp(ix)
    kept = _READERS.pop(ix, None)
    reader = None
    if kept is not None and stamp is not None and kept[0] == stamp:
        reader = kept[1]
    elif kept is not None:
        reader = ix.reader(reuse=kept[1])  # closes what it does not reuse (the old reader was taken out: ours)
    if reader is None:
        reader = ix.reader()
    searcher = Searcher(reader, fromindex=ix, closereader=False)
    done = False
    try:
        yield searcher
        done = True
    finally:
        searcher.close()
        if done and stamp is not None and ix not in _READERS:
            _READERS[ix] = (stamp, reader)
        else:
            reader.close()


def _search(ix: Index, req: SearchRequest, q: query.Query, store: ArticleStore | None) -> SearchResults:
    sort = req.effective_sort
    start, limit = req.start, max(req.limit, 1)
    with _searcher(ix) as searcher:
        reader = searcher.reader()
        try:
            kept = _KEPT.setdefault(reader, {})
        except TypeError:  # a reader without weak references
            kept = None
        evaluator = Evaluator(searcher, kept=kept, kept_fields=("lang",))
        if sort == "relevance":
            mask, best = ranked(evaluator, q, start + limit)
            window: list[tuple[int, float | None]] = [(d, v) for v, d in best[start:]]
        else:
            mask = evaluator.mask(q)
            matched = np.flatnonzero(mask).tolist()
            ordered = sort_by_column(evaluator, matched, "published", reverse=sort == "newest", limit=start + limit)
            window = [(d, None) for d in ordered[start:]]
        return _results(req, evaluator, q, window, store, _Docs(mask), start, limit)


class _Docs(Collection[int]):
    """The matching documents of a search as a mask: counted in C, listed only when facets need them."""

    def __init__(self, mask: Any) -> None:
        self.mask = mask
        self._count = int(mask.sum())

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        return iter(np.flatnonzero(self.mask).tolist())

    def __contains__(self, docnum: object) -> bool:
        return isinstance(docnum, int) and 0 <= docnum < len(self.mask) and bool(self.mask[docnum])


class _Hit(dict):  # type: ignore[type-arg]
    """A hit's stored fields (from the store's article, or the index's stored fields) and its score."""

    def __init__(self, fields: dict[str, Any], docnum: int, score: float | None) -> None:
        super().__init__(fields)
        self.docnum = docnum
        self.score = score


def _window(
    evaluator: Evaluator, window: list[tuple[int, float | None]], store: ArticleStore | None
) -> list[tuple[_Hit, HitText | None]]:
    """The shown hits with their articles: ids from the index's id column, the rest from the store.

    The index's stored fields are read only for a hit the store does not have (their table costs
    tens of milliseconds to open on a large segment).
    """
    ids = doc_ids(evaluator, [d for d, _ in window]) if store is not None and window else {}
    articles = store.hit_texts(list(ids.values())) if store is not None and ids else {}
    out = []
    for d, score in window:
        article = articles.get(ids.get(d, ""))
        fields = stored_fields(article) if article is not None else evaluator.searcher.stored_fields(d)
        if article is None and store is not None:
            article = store.hit_texts([fields["id"]]).get(fields["id"])
        out.append((_Hit(fields, d, score), article))
    return out


def _results(
    req: SearchRequest,
    evaluator: Evaluator,
    q: query.Query,
    window: list[tuple[int, float | None]],
    store: ArticleStore | None,
    docs: Collection[int],
    start: int,
    limit: int,
) -> SearchResults:
    searcher = evaluator.searcher
    words = _QueryWords(q, searcher, evaluator)
    relevance = req.effective_sort == "relevance"
    hits = [_hit(h, article, relevance, words, evaluator) for h, article in _window(evaluator, window, store)]
    total = len(docs)
    out = SearchResults(total=total, hits=hits, offset=start)
    out.page = start // limit + 1
    out.pages = max(1, -(-total // limit))
    if req.facets:
        out.facets = _facets(evaluator, docs)
    if total == 0 and req.has_text:
        out.suggestion = suggest(searcher, req.text, evaluator)
    return out


class _QueryWords:
    """The query's terms in one field (wildcards and fuzzy terms expanded) that the index holds, computed
    once per search: ``q.existing_terms(reader, fieldname=..., expand=True)``. With ``evaluator``, a
    word or phrase leaf's terms are looked up in the posting lists the evaluation read (Whoosh would
    look each up again in every segment); patterns are expanded by Whoosh."""

    def __init__(self, q: query.Query, searcher: Searcher, evaluator: Evaluator | None = None) -> None:
        self.q = q
        self.reader = searcher.reader()
        self.evaluator = evaluator
        self.cache: dict[str, frozenset[str]] = {}

    def __call__(self, fieldname: str) -> frozenset[str]:
        found = self.cache.get(fieldname)
        if found is None:
            if self.evaluator is None:
                terms = self.q.existing_terms(self.reader, fieldname=fieldname, expand=True)
            else:
                terms = self._existing(fieldname, self.evaluator)
            found = self.cache[fieldname] = frozenset(_text(t) for _, t in terms)
        return found

    def _existing(self, fieldname: str, evaluator: Evaluator) -> set[tuple[str, Any]]:
        schema = self.reader.schema
        if fieldname not in schema:
            return set()
        field = schema[fieldname]
        out: set[tuple[str, Any]] = set()
        for leaf in self.q.leaves():
            if leaf.field() != fieldname:
                continue
            if type(leaf) not in (query.Term, query.Phrase):
                out |= leaf.existing_terms(self.reader, fieldname=fieldname, expand=True)
                continue
            for _, text in leaf.terms(phrases=True):
                try:
                    btext = field.to_bytes(text)
                except ValueError:
                    continue
                # The text as the evaluation looked it up: its posting lists are read already, or its pair's were.
                segments = range(len(evaluator.segments))
                if any(evaluator.has_term(seg, fieldname, text) for seg in segments):
                    out.add((fieldname, btext))
        return out


def _hit(
    h: Any, article: HitText | None, with_score: bool, words: _QueryWords, evaluator: Evaluator | None = None
) -> SearchHit:
    """A hit with its snippet; ``evaluator`` (Whoosh's side): skip the texts whose postings hold no query term."""
    lang = lang_key(h.get("lang"))
    text = ""
    if article is not None:
        # A text whose field holds none of the query's terms (the hit's postings say so) has no passage to
        # show: it is not tokenized, nor are its words analysed (a hit found by its headline or tags).
        body = lang_field("body", lang)
        found = words(body)
        if found and (evaluator is None or evaluator.doc_has(h.docnum, body, found)):
            text = snippet(article.body, lang, found, top=2)
        if not text and article.description:
            description = lang_field("description", lang)
            found = words(description)
            if found and (evaluator is None or evaluator.doc_has(h.docnum, description, found)):
                text = snippet(article.description, lang, found)
            text = text or article.description
        text = text or article.body[:PLAIN_SNIPPET_CHARS]
    else:
        text = snippet(h.get("title") or "", lang, words(lang_field("headline", lang)))
    published = h.get("published")
    return SearchHit(
        id=h["id"],
        headline=h.get("title") or "",
        url=h["url"],
        site=h.get("site") or "",
        published=published.replace(tzinfo=UTC) if published else None,
        score=float(h.score) if with_score and h.score is not None else None,
        snippet=" ".join(text.split()),
        lang=h.get("lang") or "",
    )


def _facets(evaluator: Evaluator, docs: Collection[int]) -> dict[str, list[tuple[str, int]]]:
    """Counts by site, tag, language and month over every matching document, read from columns."""
    counts: dict[str, Counter[str]] = {}
    for name, column in (("site", "site"), ("tag", "tagcol"), ("lang", "lang"), ("month", "month")):
        values = column_values(evaluator, column, docs)
        raw = Counter(b"\n".join(values).split(b"\n")) if name == "tag" else Counter(values)  # tags: KEY_SEPARATOR
        counts[name] = Counter({_text(value): n for value, n in raw.items() if value})
    return {name: _ordered(name, counts[name]) for name in FACETS}


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value or "")


def _ordered(name: str, counter: Counter[str]) -> list[tuple[str, int]]:
    if name == "month":
        return sorted(counter.items())
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}


#: "Did you mean" corrects at most this many unknown words (more: it would be guessing a sentence).
MAX_SUGGEST_WORDS = 4
#: ... each with an indexed word within this many edits (Damerau-Levenshtein: a swap of neighbours is one).
MAX_SUGGEST_EDITS = 2
#: A query holding any of these (fields, patterns, fuzzy terms, phrases, groups, ranges) gets no suggestion.
_NOT_PLAIN = ':*?~"()[]{}'


class SuggestTerms(Protocol):
    """What the did-you-mean rule (``suggestion``) asks of an index: the Whoosh index (``_IndexTerms``) and
    PostgreSQL's search tables (``pg_search._PgTerms``) answer alike, counting the documents that hold a term
    in their text (headline, description or body) in one language, as ``search_terms`` counts them."""

    def langs(self) -> list[str]:
        """The language keys some document holds text in (ALL_LANGS' order)."""
        ...

    def held(self, lexemes: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of (language key, term) some document's text holds; language key "tags" or "byline": a key."""
        ...

    def near(self, lang: str, text: str) -> list[str]:
        """The terms of the language's text within MAX_SUGGEST_EDITS of ``text`` that start with its first letter."""
        ...

    def frequency_bound(self, lang: str, term: str) -> int:
        """At least ``frequency`` (cheaper to know: candidates that cannot win are never counted)."""
        ...

    def frequency(self, lang: str, term: str) -> int:
        """The number of documents whose text in the language holds the term."""
        ...


def suggestion(text: str, terms: SuggestTerms) -> str | None:
    """'Did you mean', one rule on both backends: each unknown plain word replaced by its closest indexed word.

    Runs only where it can help: a plain query (no fields, phrases, patterns or brackets) with from one to
    MAX_SUGGEST_WORDS distinct words that the index does not know. A word is known when some language the
    index holds text in drops it (a stop word) or holds its term in its text, or when it is a tag or an
    author (a key the word finds); operators (AND, OR, NOT...) and words with other characters than letters
    and digits are left alone. When every word is known, they only never meet in one article: no spelling
    would change that. An unknown word's candidates are the indexed terms of each language's text within
    MAX_SUGGEST_EDITS Damerau-Levenshtein edits of the word as that language normalises it (a swap of two
    neighbouring letters is one edit) that start with its first letter (the lookup stays among one letter's
    terms); the best is the closest, then the one in the most documents (summed over the languages it is a
    candidate in), then the first in code point order. The work is bounded: at most MAX_SUGGEST_WORDS words,
    each looked up among the terms of its first letter, and only the candidates that can still win counted.
    """
    if any(ch in text for ch in _NOT_PLAIN):
        return None
    words = text.split()
    plain = [w for w in dict.fromkeys(words) if w not in _OPERATORS and _WORDS.fullmatch(w)]
    if not plain:
        return None
    langs = terms.langs()
    asked: dict[str, list[tuple[str, str]]] = {}
    for word in plain:
        lexemes = [("tags", tag_key(word)), ("byline", tag_key(word))]
        for lang in langs:
            found = index_terms_of_word(word, lang)
            if not found:  # a stop word there: no spelling of it is missing
                lexemes = []
                break
            lexemes.append((lang, found[0]))
        if lexemes:
            asked[word] = lexemes
    held = terms.held(sorted({lex for lexemes in asked.values() for lex in lexemes})) if asked else set()
    unknown = [w for w, lexemes in asked.items() if held.isdisjoint(lexemes)]
    if not unknown or len(unknown) > MAX_SUGGEST_WORDS:
        return None
    replaced: dict[str, str] = {}
    for word in unknown:
        best = _closest(word, langs, terms)
        if best is not None:
            replaced[word] = best
    if not replaced:
        return None
    return " ".join(replaced.get(w, w) for w in words)


def _closest(word: str, langs: list[str], terms: SuggestTerms) -> str | None:
    """The indexed term ``suggestion`` puts in place of an unknown word: least (edits, -documents, term)."""
    edits: dict[str, int] = {}
    where: dict[str, list[str]] = {}
    for lang in langs:
        norm = normalize_word(word, lang)
        for term in terms.near(lang, norm):
            k = edit_distance(term, norm, limit=MAX_SUGGEST_EDITS)
            edits[term] = min(k, edits.get(term, k))
            where.setdefault(term, []).append(lang)
    # In order of the best each could be (its bound on the documents): counted until none left can win.
    bounds = {t: sum(terms.frequency_bound(lang, t) for lang in where[t]) for t in where}
    best: tuple[int, int, str] | None = None
    for term in sorted(where, key=lambda t: (edits[t], -bounds[t], t)):
        if best is not None and (edits[term], -bounds[term], term) > best:
            break
        count = sum(terms.frequency(lang, term) for lang in where[term])
        if count and (best is None or (edits[term], -count, term) < best):
            best = (edits[term], -count, term)
    return None if best is None else best[2]


class _IndexTerms:
    """``SuggestTerms`` of a Whoosh index: its live documents only (a deleted one's terms stay in its segment
    until a merge), so the answers are PostgreSQL's for the same articles, however many segments hold them."""

    def __init__(self, searcher: Searcher, evaluator: Evaluator | None = None) -> None:
        self.reader = searcher.reader()
        self.evaluator = evaluator if evaluator is not None else Evaluator(searcher)

    @staticmethod
    def _fields(lang: str) -> list[str]:
        return [lang_field(name, lang) for name in TEXT_FIELDS]

    def _docs(self, fields: list[str], term: str, *, count: bool) -> int:
        """The live documents holding the term in any of the fields (with ``count`` False: 1 if any, else 0)."""
        ev = self.evaluator
        total = 0
        for seg, (sub, offset, deleted) in enumerate(ev.segments):
            lists = [found.ids for f in fields if (found := ev.postings(seg, f, term)) is not None]
            if not lists:
                continue
            if len(lists) == 1 and not deleted:
                total += len(lists[0])
            else:  # a document holding it in two fields counts once; a deleted one not at all
                holds = np.zeros(sub.reader().doc_count_all(), dtype=bool)
                for ids in lists:
                    holds[ids] = True
                if deleted:
                    holds &= ev.live[offset : offset + len(holds)]
                total += int(np.count_nonzero(holds))
            if total and not count:
                return 1
        return total

    def langs(self) -> list[str]:
        out = []
        for lang in ALL_LANGS:
            fields = self._fields(lang)
            if any(self.reader.field_length(f) for f in fields) and self._has_live_text(fields):
                out.append(lang)
        return out

    def _has_live_text(self, fields: list[str]) -> bool:
        """Whether a live document has a term in any of the fields (their lengths; a deleted one's still count)."""
        ev = self.evaluator
        for seg, (sub, offset, deleted) in enumerate(ev.segments):
            reader = sub.reader()
            for f in fields:
                if not reader.field_length(f):
                    continue
                if not deleted:
                    return True
                lengths = ev.field_length_bytes(seg, f)
                if lengths is not None and np.any(lengths[ev.live[offset : offset + len(lengths)]]):
                    return True
        return False

    def held(self, lexemes: list[tuple[str, str]]) -> set[tuple[str, str]]:
        out = set()
        for lang, term in lexemes:
            fields = [lang] if lang in KEY_FIELDS else self._fields(lang)
            if self._docs(fields, term, count=False):
                out.add((lang, term))
        return out

    def near(self, lang: str, text: str) -> list[str]:
        # The terms of the first letter in every field and segment, as one sorted list: one walk of the automaton.
        found: set[str] = set()
        for sub, _, _ in self.evaluator.segments:
            reader = sub.reader()
            for f in self._fields(lang):
                if reader.field_length(f):
                    found.update(prefix_terms(reader, f, text[:1]))
        return near_terms(sorted(found), text, MAX_SUGGEST_EDITS, 1)

    def frequency_bound(self, lang: str, term: str) -> int:
        # The term's document frequencies in the fields and segments, deleted documents and overlaps counted.
        total = 0
        for sub, _, _ in self.evaluator.segments:
            reader = sub.reader()
            for f in self._fields(lang):
                if reader.field_length(f) and (info := term_info(reader, f, term)) is not None:
                    total += info.doc_frequency()
        return total

    def frequency(self, lang: str, term: str) -> int:
        return self._docs(self._fields(lang), term, count=True)


def suggest(searcher: Searcher, text: str, evaluator: Evaluator | None = None) -> str | None:
    """'Did you mean' on the Whoosh index (``suggestion``: the rule PostgreSQL search follows too)."""
    return suggestion(text, _IndexTerms(searcher, evaluator))


def _search_store(store: ArticleStore, req: SearchRequest) -> SearchResults:
    """No query text: a date listing, answered by SQLite's index on the publication date."""
    limit = max(req.limit, 1)
    total, texts = store.list_hits_by_date(
        date_from=req.date_from,
        date_to=req.date_to,
        sites=tuple(map(site_key, req.sites)),
        langs=req.langs,
        newest=req.effective_sort != "oldest",
        limit=limit,
        offset=req.start,
    )
    hits = [_hit_from_article(a) for a in texts]
    out = SearchResults(total=total, hits=hits, offset=req.start, page=req.start // limit + 1)
    out.pages = max(1, -(-total // limit))
    if req.facets:
        out.facets = store.facet_counts(
            date_from=req.date_from, date_to=req.date_to, sites=tuple(map(site_key, req.sites)), langs=req.langs
        )
    return out


def _hit_from_article(a: HitText) -> SearchHit:
    return SearchHit(
        id=a.id,
        headline=a.headline,
        url=a.canonical_url,
        site=a.site,
        published=a.published.astimezone(UTC) if a.published else None,
        score=None,
        snippet=" ".join((a.description or a.body[:PLAIN_SNIPPET_CHARS]).split()),
        lang=lang_primary(a.lang),
    )


def iter_matching_ids(ix: Index, req: SearchRequest, *, batch: int = 1000) -> Iterator[list[str]]:
    """Every id matching the query and filters, in batches, in index order (for export)."""
    q = build_query(ix, req.text, tz=req.tz)
    flt = build_filter(req)
    if flt is not None:
        q = _restrict(q, flt)
    for attempt in range(_ATTEMPTS):
        searcher = ix.searcher()
        try:
            evaluator = Evaluator(searcher)
            docs = np.flatnonzero(evaluator.mask(q))  # 8 bytes a match: no set of millions of ints
            evaluator.open_column("idcol")  # now, before a concurrent commit can remove a segment's files
            break
        except FileNotFoundError:  # see search(): a segment merged away by a concurrent commit
            searcher.close()
            if attempt == _ATTEMPTS - 1:
                raise
    with searcher:
        stored = searcher.reader().stored_fields
        for i in range(0, len(docs), batch):
            chunk = docs[i : i + batch].tolist()
            found = doc_ids(evaluator, chunk)
            yield [found.get(d) or stored(d)["id"] for d in chunk]
