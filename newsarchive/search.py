"""STAGE 7a: a search request -> ranked hits with snippets (Whoosh for text, the store for date listings)."""

from __future__ import annotations

import calendar
import heapq
import re
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Literal

from whoosh import highlight, query
from whoosh.analysis.acore import Token
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.index import Index
from whoosh.matching import ListMatcher, NullMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.qparser import FuzzyTermPlugin, MultifieldParser
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher

from newsarchive.analysis import ALL_LANGS, WORD_RE, index_terms_of_word, lang_key, normalize_word, plain_analyzer
from newsarchive.archive_dir import MARK_END, MARK_START
from newsarchive.article import Article
from newsarchive.errors import QueryError
from newsarchive.index.schema import BOOSTS, TEXT_FIELDS, lang_field

if TYPE_CHECKING:
    from newsarchive.store.articles import ArticleStore

SEARCH_FIELDS = ("headline", "description", "body", "byline", "tags")
Sort = Literal["relevance", "newest", "oldest"]
FACETS = ("site", "tag", "lang", "month")

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def parse_date_bound(text: str, *, end: bool, tz: tzinfo = UTC) -> datetime:
    """'2023', '2023-02' or '2023-02-16' -> the first (or, with ``end``, last) instant in ``tz``, as UTC.

    Raises QueryError for anything else, so a typo never widens a search silently.
    """
    m = _DATE.match(text.strip())
    if not m:
        raise QueryError(f"invalid date {text!r}", hint="use YYYY, YYYY-MM or YYYY-MM-DD, e.g. 2023-02")
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
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
    value = (stop - timedelta(microseconds=1)) if end else start
    return value.replace(tzinfo=tz).astimezone(UTC)


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


class _MarkFormatter(highlight.Formatter):  # type: ignore[misc]
    """Wrap matched terms in private marker characters (colour or plain is the CLI's choice)."""

    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"{MARK_START}{highlight.get_text(text, token, replace)}{MARK_END}"


_FRAGMENTER = highlight.ContextFragmenter(maxchars=200, surround=60)
_SCORER = highlight.BasicFragmentScorer()
_FORMATTER = _MarkFormatter()


#: Tokens this far before and after a matched word are enough for the context fragmenter (60 chars of
#: context, 200 at most per fragment); the rest of a long article is never walked token by token.
_BEFORE, _AFTER = 240, 480


def _tokens(text: str, lang: str, words: frozenset[str], charlimit: int) -> Iterator[Any]:
    """Whoosh highlighting tokens of ``text`` near its matched words (one reused Token)."""
    verdicts: dict[str, tuple[str, bool]] = {}

    def judge(word: str) -> tuple[str, bool]:
        found = verdicts.get(word)
        if found is None:
            terms = index_terms_of_word(word, lang)
            found = verdicts[word] = (terms[0] if len(terms) == 1 else word, any(t in words for t in terms))
        return found

    windows: list[list[int]] = []
    for m in WORD_RE.finditer(text):
        if charlimit and m.end() > charlimit:
            break
        if judge(m.group())[1]:
            lo, hi = max(0, m.start() - _BEFORE), m.end() + _AFTER
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = hi
            else:
                windows.append([lo, hi])
    t = Token(positions=True, chars=True, removestops=False, mode="index")
    t.boost = 1.0
    for lo, hi in windows:
        if lo:
            lo = max(text.rfind(" ", 0, lo) + 1, 0)  # never start inside a word
        hi = text.find(" ", hi)  # nor end inside one
        for m in WORD_RE.finditer(text, lo, hi if hi >= 0 else len(text)):
            end = m.end()
            if charlimit and end > charlimit:
                return
            t.text, t.matched = judge(m.group())
            t.pos, t.startchar, t.endchar = 0, m.start(), end
            yield t


def snippet(text: str, lang: str, words: frozenset[str], *, top: int = 3) -> str:
    """The best passages of ``text`` (Whoosh's context fragmenter and scorer) with ``words`` marked."""
    if not words or not text:
        return ""
    tokens = highlight.Highlighter._merge_matched_tokens(_tokens(text, lang, words, _FRAGMENTER.charlimit))
    # Whoosh's top_fragments breaks ties by object id (a different snippet on each run): earliest wins here.
    scored = [(-_SCORER(f), f.startchar, f) for f in _FRAGMENTER.fragment_tokens(text, tokens)]
    scored.sort(key=lambda item: item[:2])
    best = sorted((f for score, _, f in scored[:top] if -score >= 1), key=highlight.FIRST)
    return str(_FORMATTER.format(best))


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
        byline=KEYWORD(commas=True, lowercase=True),
        tags=KEYWORD(commas=True, lowercase=True),
        site=ID(),
        lang=ID(),
        section=ID(),
        month=ID(),
        published=DATETIME(),
    )


_PARSE_SCHEMA = _parse_schema()


def _analyzed(ix_schema: Schema, fieldname: str, text: str) -> list[str]:
    return [t.text for t in ix_schema[fieldname].analyzer(text, mode="query")]


def _leaf_for(q: query.Query, real: str, schema: Schema) -> query.Query | None:
    """One user-level leaf query on one language field, with that language's analysis."""
    lang = real.rsplit("_", 1)[1]
    boost = getattr(q, "boost", 1.0)
    if isinstance(q, query.FuzzyTerm):
        words = _analyzed(schema, real, q.text)
        if len(words) != 1:
            return None
        return query.FuzzyTerm(real, words[0], boost=boost, maxdist=q.maxdist, prefixlength=q.prefixlength)
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
    if isinstance(q, query.Prefix | query.Wildcard | query.Regex):
        # Patterns are matched against index terms without stemming: normalise the characters only.
        return type(q)(real, normalize_word(q.text, lang), boost=boost)
    if isinstance(q, query.TermRange):
        return query.TermRange(real, q.start, q.end, q.startexcl, q.endexcl, boost=boost)
    return None


def _to_languages(q: query.Query, schema: Schema) -> query.Query:
    if not q.is_leaf():
        return q.apply(lambda sub: _to_languages(sub, schema))
    name = getattr(q, "fieldname", None)
    if name not in TEXT_FIELDS:
        return q
    parts = [p for lang in ALL_LANGS if (p := _leaf_for(q, lang_field(name, lang), schema)) is not None]
    return query.Or(parts) if parts else query.NullQuery


def build_query(ix: Index, text: str) -> query.Query:
    """Parse the user's query text; date errors in ``published:`` terms fail loudly."""
    if not text.strip():
        return query.Every()
    errors: list[Any] = []
    parser = MultifieldParser(list(SEARCH_FIELDS), _PARSE_SCHEMA, fieldboosts=dict(BOOSTS))  # every word must match
    parser.add_plugin(DateParserPlugin(callback=errors.append, free=False))
    parser.add_plugin(FuzzyTermPlugin())
    try:
        q = parser.parse(text)
    except Exception as exc:  # whoosh raises assorted errors on odd syntax
        raise QueryError(f"cannot understand the query {text!r}: {exc}") from exc
    if errors:
        raise QueryError(
            f"cannot understand the date {errors[0]!r} in the query",
            hint="use --from/--to with YYYY, YYYY-MM or YYYY-MM-DD",
        )
    return _to_languages(q, ix.schema).normalize()


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
    """
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
            None if full_from is None else full_from.strftime("%Y-%m"),
            None if full_to is None else full_to.strftime("%Y-%m"),
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
        parts.append(_any_of("site", req.sites, lower=False))
    if req.langs:
        parts.append(_any_of("lang", tuple(v.split("-")[0] for v in req.langs), lower=True))
    if req.sections:
        parts.append(_any_of("section", req.sections, lower=True))
    if req.tags:
        parts.append(_any_of("tags", tuple(v.replace(",", " ") for v in req.tags), lower=True))
    if req.authors:
        parts.append(_any_of("byline", tuple(v.replace(",", " ") for v in req.authors), lower=True))
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


_Blocks = tuple[list[tuple[Any, Any]], frozenset[int]]
#: Posting blocks read by open segment readers: reader -> {(field, text): ([(ids, weights)], deleted)}.
#: The total and the ranking of one search read the same postings; entries go with their reader.
_BLOCKS: weakref.WeakKeyDictionary[Any, dict[tuple[str, Any], _Blocks | None]] = weakref.WeakKeyDictionary()


def _posting_blocks(reader: Any, fieldname: str, text: Any) -> _Blocks | None:
    """A term's postings in one segment as (ids, weights) blocks, and the segment's deleted documents.

    None when the term is absent. Weights are None when the codec does not expose its blocks.
    """
    cache = _BLOCKS.get(reader)
    if cache is None:
        cache = _BLOCKS[reader] = {}
    key = (fieldname, text)
    if key in cache:
        return cache[key]
    try:
        matcher = reader.postings(fieldname, text)
    except TermNotFound:
        cache[key] = None
        return None
    deleted: frozenset[int] = frozenset()
    if isinstance(matcher, FilterMatcher) and matcher._exclude:
        deleted, matcher = frozenset(matcher._ids), matcher.child
    blocks: list[tuple[Any, Any]] = []
    if all(hasattr(matcher, a) for a in ("_atend", "_ids", "_read_ids", "_read_weights", "_next_block")):
        while not matcher._atend:
            if matcher._ids is None:
                matcher._read_ids()
            if matcher._weights is None:
                matcher._read_weights()
            blocks.append((matcher._ids, matcher._weights))
            matcher._next_block()
    else:
        blocks.append((list(matcher.all_ids()), None))
    cache[key] = found = (blocks, deleted)
    return found


def _term_docs(searcher: Searcher, terms: Iterable[tuple[str, Any]]) -> set[int]:
    """Documents holding any of the (field, text) terms, read from the posting lists of each segment."""
    out: set[int] = set()
    terms = list(terms)
    for sub, offset in searcher.subsearchers or [(searcher, 0)]:
        reader = sub.reader()
        for fieldname, text in terms:
            found = _posting_blocks(reader, fieldname, text)
            if found is None:
                continue
            blocks, deleted = found
            for ids, _ in blocks:
                if offset or deleted:
                    out.update(i + offset for i in ids if i not in deleted)
                else:
                    out.update(ids)
    return out


class DocsFilter(query.ConstantScoreQuery):  # type: ignore[misc]
    """ConstantScoreQuery whose matcher lists the child's documents from sets, not Whoosh's per-document loop."""

    def matcher(self, searcher: Searcher, context: Any = None) -> Any:
        docs = sorted(matching_docs(searcher, self.child))
        if not docs:
            return NullMatcher()
        return ListMatcher(docs, all_weights=self.score)


def _scored_terms(q: query.Query, out: list[tuple[str, Any, float]]) -> bool:
    """Collect the scored Term leaves of an And/Or tree (filters score 0); False if the tree has anything else."""
    if isinstance(q, DocsFilter):
        out.append(("", None, q.score or 1.0))  # Whoosh's ListMatcher scores a weight of 0.0 as 1.0
        return True
    if getattr(q, "boost", 1.0) != 1.0 and type(q) is not query.Term:
        return False
    if isinstance(q, query.And) or (isinstance(q, query.Or) and not q.minmatch and q.scale is None):
        return all(_scored_terms(sub, out) for sub in q.subqueries)
    if type(q) is query.Term:
        out.append((q.fieldname, q.text, q.boost))
        return True
    return False


def _rank_by_postings(
    searcher: Searcher, terms: list[tuple[str, Any, float]], docs: set[int], count: int
) -> list[tuple[float, int]] | None:
    """The ``count`` best (score, docnum) of ``docs``: Whoosh's BM25F summed over the terms, read a block at a time.

    Equal to what Whoosh's matchers compute, without stepping an intersection document by document.
    None: the weighting is not BM25F-like.
    """
    from whoosh.scoring import WeightLengthScorer

    scores = dict.fromkeys(docs, sum(boost for fieldname, _, boost in terms if not fieldname))
    terms = [t for t in terms if t[0]]
    weighting = searcher.weighting
    for sub, offset in searcher.subsearchers or [(searcher, 0)]:
        reader = sub.reader()
        for fieldname, text, boost in terms:
            found = _posting_blocks(reader, fieldname, text)
            if found is None:
                continue
            scorer = weighting.scorer(sub, fieldname, text)
            if not isinstance(scorer, WeightLengthScorer) or any(w is None for _, w in found[0]):
                return None
            score, length = scorer._score, sub.doc_field_length
            get = scores.get
            for ids, weights in found[0]:
                for d, w in zip(ids, weights, strict=True):
                    total = get(d + offset)
                    if total is not None:
                        scores[d + offset] = total + boost * score(w, length(d, fieldname, 1))
    return heapq.nsmallest(count, ((v, d) for d, v in scores.items()), key=lambda sd: (-sd[0], sd[1]))


def matching_docs(searcher: Searcher, q: query.Query) -> set[int]:
    """Every matching document number, with the query tree's unions and intersections done on sets.

    Equal to ``set(searcher.docs_for_query(q))``; much faster for OR-ed fields and AND-ed words,
    whose matchers otherwise step through every candidate in Python.
    """
    if isinstance(q, query.Or | query.DisjunctionMax) and not getattr(q, "minmatch", 0):
        out: set[int] = set()
        for sub in q.subqueries:
            out |= matching_docs(searcher, sub)
        return out
    if isinstance(q, query.And):
        positive = [sub for sub in q.subqueries if not isinstance(sub, query.Not)]
        negative = [sub.query for sub in q.subqueries if isinstance(sub, query.Not)]
        if not positive:
            return set(searcher.docs_for_query(q))
        sets = sorted((matching_docs(searcher, sub) for sub in positive), key=len)
        found = sets[0].intersection(*sets[1:])
        for sub in negative:
            if not found:
                break
            found -= matching_docs(searcher, sub)
        return found
    if isinstance(q, query.AndNot):
        return matching_docs(searcher, q.a) - matching_docs(searcher, q.b)
    if isinstance(q, query.ConstantScoreQuery):
        return matching_docs(searcher, q.child)
    if isinstance(q, query.NullQuery.__class__):
        return set()
    if type(q) is query.Term:
        return _term_docs(searcher, [(q.fieldname, q.text)])
    if isinstance(q, query.Prefix | query.Wildcard | query.FuzzyTerm | query.TermRange | query.Regex):
        reader = searcher.reader()
        return _term_docs(searcher, [(q.fieldname, t) for t in q._btexts(reader)])
    return set(searcher.docs_for_query(q))


Fetch = Callable[[list[str]], dict[str, Article]]


def search(ix: Index, req: SearchRequest, *, store: ArticleStore | None = None) -> SearchResults:
    """Run one search. With ``store``, date listings and their facets come from SQLite and snippets from the text."""
    if store is not None and not req.has_text and not (req.tags or req.authors or req.sections):
        return _search_store(store, req)
    q = build_query(ix, req.text)
    flt = build_filter(req)
    if flt is not None:
        q = _restrict(q, flt)
    sort = req.effective_sort
    start, limit = req.start, max(req.limit, 1)
    kwargs: dict[str, Any] = {}
    if sort != "relevance":
        kwargs["sortedby"] = "published"
        kwargs["reverse"] = sort == "newest"
    with ix.searcher() as searcher:
        ranked = None
        terms: list[tuple[str, Any, float]] = []
        if sort == "relevance" and isinstance(q, query.And) and _scored_terms(q, terms):
            # An intersection: Whoosh's collector would step through it document by document.
            docs = matching_docs(searcher, q)
            ranked = _rank_by_postings(searcher, terms, docs, start + limit)
        if ranked is not None:
            stored = searcher.stored_fields
            window = [_Hit(stored(d), d, v) for v, d in ranked[start : start + limit]]
            return _results(req, searcher, q, window, store, docs, start, limit)
        results = searcher.search(q, limit=start + limit, **kwargs)
        window = results[start : start + limit]
        # The total from sets, always: Whoosh's count is skipped or wrong once block-quality pruning kicks in.
        return _results(req, searcher, q, window, store, matching_docs(searcher, q), start, limit)


class _Hit(dict):  # type: ignore[type-arg]
    """Stored fields with a score, as Whoosh's Hit offers them to _hit."""

    def __init__(self, fields: dict[str, Any], docnum: int, score: float) -> None:
        super().__init__(fields)
        self.docnum = docnum
        self.score = score


def _results(
    req: SearchRequest,
    searcher: Searcher,
    q: query.Query,
    window: Any,
    store: ArticleStore | None,
    docs: set[int] | None,
    start: int,
    limit: int,
    *,
    total: int = 0,
) -> SearchResults:
    articles = store.get_many([h["id"] for h in window]) if store is not None and len(window) else {}
    words = _QueryWords(q, searcher)
    hits = [_hit(h, articles.get(h["id"]), req.effective_sort == "relevance", words) for h in window]
    total = total if docs is None else len(docs)
    out = SearchResults(total=total, hits=hits, offset=start)
    out.page = start // limit + 1
    out.pages = max(1, -(-total // limit))
    if docs is not None and req.facets:
        out.facets = _facets(searcher, docs)
    if total == 0 and req.has_text:
        out.suggestion = suggest(searcher, req.text)
    return out


class _QueryWords:
    """The query's terms in one field (wildcards and fuzzy terms expanded), computed once per search."""

    def __init__(self, q: query.Query, searcher: Searcher) -> None:
        self.q = q
        self.reader = searcher.reader()
        self.cache: dict[str, frozenset[str]] = {}

    def __call__(self, fieldname: str) -> frozenset[str]:
        found = self.cache.get(fieldname)
        if found is None:
            terms = self.q.existing_terms(self.reader, fieldname=fieldname, expand=True)
            found = self.cache[fieldname] = frozenset(_text(t) for _, t in terms)
        return found


def _hit(h: Any, article: Article | None, with_score: bool, words: Callable[[str], frozenset[str]]) -> SearchHit:
    lang = lang_key(h.get("lang"))
    text = ""
    if article is not None:
        text = snippet(article.body, lang, words(lang_field("body", lang)), top=2)
        if not text and article.description:
            text = snippet(article.description, lang, words(lang_field("description", lang))) or article.description
        text = text or article.body[:200]
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


def _facets(searcher: Searcher, docs: set[int]) -> dict[str, list[tuple[str, int]]]:
    """Counts by site, tag, language and month over every matching document, read from columns."""
    reader = searcher.reader()
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    for name, column in (("site", "site"), ("lang", "lang"), ("month", "month")):
        if not reader.has_column(column):
            continue
        col = reader.column_reader(column)
        counts[name].update(v for d in docs if (v := _text(col[d])))
    if reader.has_column("tagcol"):
        col = reader.column_reader("tagcol")
        for d in docs:
            value = _text(col[d])
            if value:
                counts["tag"].update(t for t in value.split(",") if t)
    return {name: _ordered(name, c) for name, c in counts.items()}


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value or "")


def _ordered(name: str, counter: Counter[str]) -> list[tuple[str, int]]:
    if name == "month":
        return sorted(counter.items())
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}


def suggest(searcher: Searcher, text: str) -> str | None:
    """'Did you mean': each plain word not in the index replaced by its closest indexed word, if any."""
    if any(ch in text for ch in ':*?~"'):
        return None
    fields = [lang_field(name, lang) for name in ("headline", "body") for lang in ALL_LANGS]
    reader = searcher.reader()
    changed = False
    out: list[str] = []
    for word in text.split():
        if word in _OPERATORS or not _WORDS.fullmatch(word):
            out.append(word)
            continue
        present = any(
            (words := _analyzed(searcher.schema, f, word)) and reader.doc_frequency(f, words[0]) for f in fields
        )
        if present:
            out.append(word)
            continue
        best: tuple[int, str] | None = None
        for f in fields:
            for cand in searcher.suggest(f, normalize_word(word, f.rsplit("_", 1)[1]), limit=1, maxdist=2):
                freq = reader.doc_frequency(f, cand)
                if best is None or freq > best[0]:
                    best = (freq, cand)
        if best is None:
            out.append(word)
        else:
            out.append(best[1])
            changed = True
    return " ".join(out) if changed else None


def _search_store(store: ArticleStore, req: SearchRequest) -> SearchResults:
    """No query text: a date listing, answered by SQLite's index on the publication date."""
    limit = max(req.limit, 1)
    total, ids = store.list_by_date(
        date_from=req.date_from,
        date_to=req.date_to,
        sites=req.sites,
        langs=req.langs,
        newest=req.effective_sort != "oldest",
        limit=limit,
        offset=req.start,
    )
    articles = store.get_many(ids)
    hits = [_hit_from_article(articles[i]) for i in ids if i in articles]
    out = SearchResults(total=total, hits=hits, offset=req.start, page=req.start // limit + 1)
    out.pages = max(1, -(-total // limit))
    if req.facets:
        out.facets = store.facet_counts(date_from=req.date_from, date_to=req.date_to, sites=req.sites, langs=req.langs)
    return out


def _hit_from_article(a: Article) -> SearchHit:
    return SearchHit(
        id=a.id,
        headline=a.headline,
        url=a.canonical_url,
        site=a.site,
        published=a.published.astimezone(UTC) if a.published else None,
        score=None,
        snippet=" ".join((a.description or a.body[:200]).split()),
        lang=a.lang or "",
    )


def iter_matching_ids(ix: Index, req: SearchRequest, *, batch: int = 1000) -> Iterator[list[str]]:
    """Every id matching the query and filters, in batches, in index order (for export)."""
    q = build_query(ix, req.text)
    flt = build_filter(req)
    if flt is not None:
        q = _restrict(q, flt)
    with ix.searcher() as searcher:
        ids: list[str] = []
        stored = searcher.reader().stored_fields
        for docnum in searcher.docs_for_query(q):
            ids.append(stored(docnum)["id"])
            if len(ids) >= batch:
                yield ids
                ids = []
        if ids:
            yield ids
