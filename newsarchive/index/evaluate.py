"""A Whoosh query tree -> every matching document with its score, computed on whole posting arrays.

Whoosh's searcher steps matchers document by document in Python and prunes with block quality; at
100,000 articles a common word means tens of thousands of Python-level steps, and pruning under a
filter drops better hits and miscounts the total. ``Evaluator`` answers the same query from the
posting arrays the codec exposes (``codec.term_postings``) with numpy: a clause is a match mask and a
score vector over all documents; a term's BM25F scores are computed in one vector expression, OR
adds, AND multiplies masks, phrases are checked on the positions of their candidates only. The
scores are Whoosh's own (BM25F with its parameters, idf and average field lengths from the
top-level searcher, query boosts multiplied in, the same float64 operations); query types it does
not know are handed to Whoosh's matchers, so every query works and scores the same either way.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterable, Iterator
from math import log
from typing import Any

import numpy as np
from whoosh import query
from whoosh.columns import NumericColumn
from whoosh.scoring import BM25F, BM25FScorer, WeightScorer

from newsarchive.analysis import PAIRS_FIELD, LangPositions, PairsFormat, field_lang, pair_term, pair_words
from newsarchive.index.codec import TermPostings, field_lengths, term_postings
from newsarchive.index.filters import DocsFilter
from newsarchive.index.whoosh_internals import (
    bm25f_field_b,
    byte_to_length,
    deleted_docs,
    expanded_terms,
    numeric_column_values,
    numeric_range_terms,
    term_info,
    varbytes_column_arrays,
)

_BYTE_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_FALLBACK_SCORE = 1.0  # what Whoosh's ListMatcher reports for a constant score of 0.0
_INVERSE_SCORE = 1.0  # what Whoosh's InverseMatcher (a NOT) reports for each document it lets by

#: Posting lists of at least this many bytes are not read only to tell whether a hit holds a word (``doc_has``).
DOC_HAS_MAX = 64 << 10
#: A clause over all documents: which match, and their scores (0.0 where they do not match).
Match = tuple[Any, Any]
#: Keys of what an evaluator keeps per reader besides term masks (``kept``): a field's statistics, its lengths.
_STATS, _LENGTHS = object(), object()


class Evaluator:
    """Evaluates queries over one searcher (all its segments); caches posting blocks per term."""

    def __init__(self, searcher: Any, *, kept: dict[Any, Any] | None = None, kept_fields: Iterable[str] = ()) -> None:
        """``kept``: what an earlier evaluator of the same reader computed (this one adds what it computes):
        masks of terms of ``kept_fields``, e.g. the language filters of queries with a stop word, and each
        field's BM25 statistics and length bytes."""
        self.searcher = searcher
        self.kept = kept
        self.kept_fields = frozenset(kept_fields)
        self.segments: list[tuple[Any, int, frozenset[int]]] = []
        total = 0
        for sub, offset in searcher.subsearchers or [(searcher, 0)]:
            reader = sub.reader()
            deleted = deleted_docs(reader)
            self.segments.append((sub, offset, deleted))
            total = max(total, offset + reader.doc_count_all())
        self.size = total
        self.live = np.ones(total, dtype=bool)
        for _, offset, deleted in self.segments:
            if deleted:
                self.live[np.fromiter(deleted, dtype=np.int64) + offset] = False
        self._lists: dict[tuple[int, str, Any], Any] = {}
        self._lengths: dict[tuple[int, str], Any] = {}
        self._params: dict[tuple[str, Any], tuple[float, float, float, float]] = {}
        self._memo: dict[int, tuple[Any, Match]] = {}

    def open_column(self, column: str) -> None:
        """Open a column's file in every segment (Whoosh opens them lazily; an open file outlives a merge)."""
        for sub, _, _ in self.segments:
            reader = sub.reader()
            if reader.has_column(column):
                reader.column_reader(column, translate=False)

    # -- postings ------------------------------------------------------------------------------

    def postings(self, seg: int, fieldname: str, text: Any) -> TermPostings | None:
        """A term's posting list in one segment (``codec.term_postings``), read once per evaluator.

        A text field no document of the segment has (a language the archive lacks) has no terms:
        no lookup in its term table.
        """
        key = (seg, fieldname, text)
        if key not in self._lists:
            reader = self.segments[seg][0].reader()
            schema = reader.schema
            empty = fieldname in schema and schema[fieldname].scorable and not reader.field_length(fieldname)
            self._lists[key] = None if empty else term_postings(reader, fieldname, text)
        return self._lists[key]  # type: ignore[no-any-return]

    def has_term(self, seg: int, fieldname: str, text: Any) -> bool:
        """Whether segment ``seg`` holds the term in the field: from its list if read, else its term table."""
        if (seg, fieldname, text) in self._lists:
            return self._lists[(seg, fieldname, text)] is not None
        return term_info(self.segments[seg][0].reader(), fieldname, text) is not None

    def doc_has(self, docnum: int, fieldname: str, texts: Iterable[Any]) -> bool:
        """Whether document ``docnum`` may hold any of the terms in the field: False when their posting lists
        say it holds none (read once per evaluator: a query's own terms were read to score it). A list of
        ``DOC_HAS_MAX`` bytes or more that the search did not read (a phrase answered from its pair's list)
        is not read for this: True, as it may."""
        for seg, (sub, offset, _) in enumerate(self.segments):
            local = docnum - offset
            if 0 <= local < sub.reader().doc_count_all():
                for text in texts:
                    if (seg, fieldname, text) not in self._lists:
                        info = term_info(sub.reader(), fieldname, text)
                        if info is None:
                            continue
                        length = info.extent()[1]
                        if isinstance(length, tuple):  # W3TermInfo.from_bytes keeps struct.unpack's tuple
                            length = length[0]
                        if not info.is_inlined() and length >= DOC_HAS_MAX:
                            return True
                    found = self.postings(seg, fieldname, text)
                    if found is not None:
                        ids = found.ids
                        at = int(np.searchsorted(ids, local))
                        if at < len(ids) and ids[at] == local:
                            return True
                return False
        return False

    def _bm25(self, fieldname: str, text: Any, *, lists: bool = True) -> tuple[float, float, float, float] | None:
        """(idf, K1, B, average field length) of a term as Whoosh's BM25FScorer gets them, from the posting
        lists already read (its document frequency is theirs summed; Whoosh would look the term up
        again in every segment, twice), or with ``lists=False`` from the term tables (a list not read is
        not read for it); None: another weighting, or a field without lengths."""
        weighting = self.searcher.weighting
        if type(weighting) is not BM25F or not self.searcher.schema[fieldname].scorable:
            return None
        key = (fieldname, text)
        found = self._params.get(key)
        if found is None:
            n = 0
            for seg in range(len(self.segments)):
                if not lists and (seg, fieldname, text) not in self._lists:
                    info = term_info(self.segments[seg][0].reader(), fieldname, text)
                    n += info.doc_frequency() if info is not None else 0
                    continue
                plist = self.postings(seg, fieldname, text)
                if plist is not None:
                    n += len(plist.ids)
            count, avgfl = self._field_stats(fieldname)
            idf = log(count / (n + 1)) + 1  # WeightingModel.idf
            found = self._params[key] = (idf, weighting.K1, bm25f_field_b(weighting, fieldname), avgfl)
        return found

    def _field_stats(self, fieldname: str) -> tuple[int, float]:
        """(documents in the index, the field's average length) as the top-level searcher gives them: the
        same for every search of one reader, so kept with ``kept`` (Whoosh sums them over the segments)."""
        key = (_STATS, fieldname)
        found = self.kept.get(key) if self.kept is not None else None
        if found is None:
            parent = self.searcher
            found = (parent.doc_count_all(), parent.avg_field_length(fieldname) or 1)
            if self.kept is not None:
                self.kept[key] = found
        return found

    def _lengths_of(self, seg: int, fieldname: str) -> Any:
        """A field's length bytes in one segment as an array, read once per reader (kept with ``kept``)."""
        key = (seg, fieldname)
        if key not in self._lengths:
            kept_key = (_LENGTHS, seg, fieldname)
            if self.kept is not None and kept_key in self.kept:
                self._lengths[key] = self.kept[kept_key]
            else:
                raw = field_lengths(self.segments[seg][0].reader(), fieldname)
                self._lengths[key] = None if raw is None else np.frombuffer(raw, dtype=np.uint8)
                if self.kept is not None:
                    self.kept[kept_key] = self._lengths[key]
        return self._lengths[key]

    def field_length_bytes(self, seg: int, fieldname: str) -> Any:
        """A field's length byte of every document of one segment (uint8; 0: no term), None without lengths."""
        return self._lengths_of(seg, fieldname)

    def _postings(self, seg: int, fieldname: str, text: Any) -> tuple[Any, Any] | None:
        """A term's document numbers (global) and weights in one segment, as numpy arrays."""
        found = self.postings(seg, fieldname, text)
        if found is None:
            return None
        return found.ids, found.weights.astype(np.float64)

    def _empty(self) -> Match:
        return np.zeros(self.size, dtype=bool), np.zeros(self.size, dtype=np.float64)

    def _terms_mask(self, terms: list[Any]) -> Any:
        """The mask of documents holding any of the Terms (each in its own field), one mask for all of them."""
        mask = np.zeros(self.size, dtype=bool)
        for seg, (_, offset, _) in enumerate(self.segments):
            for term in terms:
                found = self.postings(seg, term.fieldname, term.text)
                if found is not None:
                    mask[found.ids.astype(np.int64) + offset] = True
        return mask & self.live

    def term_match(self, fieldname: str, texts: Iterable[Any]) -> Any:
        """The mask of documents holding any of the terms."""
        mask = np.zeros(self.size, dtype=bool)
        texts = list(texts)
        for seg, (_, offset, _) in enumerate(self.segments):
            for text in texts:
                found = self.postings(seg, fieldname, text)  # the ids only: no weights converted
                if found is not None:
                    mask[found.ids.astype(np.int64) + offset] = True
        return mask & self.live

    def _term_sparse(self, fieldname: str, text: Any, boost: float, within: Any = None) -> list[tuple[Any, Any]] | None:
        """Whoosh's score of one term (times the query boost) as (document numbers, scores) per segment;
        ``within``: only in these documents (a mask; the others are not scored).

        None: the weighting is not one this computes (Whoosh then scores the term itself).
        """
        out = []
        weighting = self.searcher.weighting
        for seg, (sub, offset, deleted) in enumerate(self.segments):
            plist = self.postings(seg, fieldname, text)
            if plist is None:
                continue
            local, w = plist.ids, plist.weights
            if within is not None:
                count = sub.reader().doc_count_all()
                rank_of = plist.rank_of(count)
                if rank_of is not None:  # a kept list of most documents: the few in ``within`` looked up
                    at = rank_of[np.flatnonzero(within[offset : offset + count])]
                    at = at[at >= 0]
                    local, w = local[at], w[at]
                else:
                    keep = within[local.astype(np.int64) + offset]
                    local, w = local[keep], w[keep]
            w = w.astype(np.float64)
            params = self._bm25(fieldname, text)
            lens = self._lengths_of(seg, fieldname) if params is not None else None
            if params is not None and lens is not None:
                score = _bm25_values(w, lens[local], params, boost)
            elif type(scorer := weighting.scorer(sub, fieldname, text)) is BM25FScorer and lens is not None:
                score = _bm25_values(w, lens[local], (scorer.idf, scorer.K1, scorer.B, scorer.avgfl), boost)
            elif type(scorer) is WeightScorer:
                score = w * boost
            else:
                return None
            where = local.astype(np.int64) + offset
            if deleted:
                keep = self.live[where]
                where, score = where[keep], score[keep]
            out.append((where, score))
        return out

    def _term(self, fieldname: str, text: Any, boost: float) -> Match:
        parts = self._term_sparse(fieldname, text, boost)
        if parts is None:
            return self._whoosh(query.Term(fieldname, text, boost=boost))
        mask, score = self._empty()
        for where, values in parts:
            mask[where] = True
            score[where] = values
        return mask, score

    # -- evaluation ----------------------------------------------------------------------------

    def match(self, q: Any) -> Match:
        """(mask, scores) of a query over all documents; remembered per query object."""
        key = id(q)
        found = self._memo.get(key)
        if found is None or found[0] is not q:
            found = self._memo[key] = (q, self._match(q))
        return found[1]

    def _match(self, q: Any) -> Match:
        if isinstance(q, query.Or) and not q.minmatch and q.scale is None:
            mask, score = self._empty()
            for sub in q.subqueries:
                if type(sub) is query.Term:
                    parts = self._term_sparse(sub.fieldname, sub.text, sub.boost)
                else:  # a phrase's documents are few: added where they are, not as two arrays of the archive's size
                    parts = self._phrase_parts(sub) if type(sub) is query.Phrase and self._phrase_ok(sub) else None
                if parts is None:
                    m, s = self.match(sub)
                    if not _is_nothing(m):  # most of a phrase's 14 fields hold none of its words
                        mask |= m
                        score += s
                    continue
                for where, values in parts:  # a term's (a phrase's) documents are distinct: add in place
                    mask[where] = True
                    score[where] += values
            return mask, _boost(score, q.boost)
        if isinstance(q, query.And) and q.subqueries:  # nots only: every live document but theirs (scores 1.0 each)
            positive = [sub for sub in q.subqueries if not isinstance(sub, query.Not)]
            negative = [sub.query for sub in q.subqueries if isinstance(sub, query.Not)]
            found = self._and_of_words(positive, negative) if len(positive) > 1 else None
            if found is not None:
                return found[0], _boost(found[1], q.boost)
            mask = self.live.copy()
            score = np.zeros(self.size, dtype=np.float64)
            for sub in positive:
                m, s = self.match(sub)
                mask &= m
                score += s
            for sub in negative:
                mask &= ~self.mask(sub)
            # Whoosh intersects a NOT clause as an inverse matcher, which scores 1.0 in every document it lets by.
            score += float(len(negative))
            score[~mask] = 0.0
            return mask, _boost(score, q.boost)
        if isinstance(q, query.AndNot):
            mask, score = self.match(q.a)
            mask = mask & ~self.mask(q.b)
            return mask, _boost(np.where(mask, score, 0.0), q.boost)
        if isinstance(q, query.Not):
            # Whoosh's InverseMatcher: every live document the query does not match, each scoring its weight (1.0).
            # Whoosh's matchers of a NOT over compound queries lost documents (and failed with an IndexError
            # under ANDMAYBE): the masks answer it as they answer a NOT inside an AND.
            mask = self.live & ~self.mask(q.query)
            return mask, mask * _INVERSE_SCORE
        if isinstance(q, query.AndMaybe):
            # Whoosh's AndMaybeMatcher: the first query's documents, the second's score added where it matches too.
            mask, score = self.match(q.a)
            maybe, extra = self.match(q.b)
            return mask, np.where(mask & maybe, score + extra, score)
        if isinstance(q, DocsFilter | query.ConstantScoreQuery):
            mask = self.mask(q.child)
            return mask, mask * float(q.score or _FALLBACK_SCORE)
        if isinstance(q, query.Every):
            return self.live.copy(), self.live * float(q.boost)
        if q is query.NullQuery or isinstance(q, type(query.NullQuery)):
            return self._empty()
        if type(q) is query.Term:
            return self._term(q.fieldname, q.text, q.boost)
        if type(q) is query.Phrase and self._phrase_ok(q):
            phrase_parts = self._phrase_parts(q)
            if phrase_parts is None:
                return self._whoosh(q)
            if not phrase_parts:
                return self._nothing()
            mask, score = self._empty()
            for where, values in phrase_parts:
                mask[where] = True
                score[where] = values
            return mask, score
        if isinstance(q, query.NumericRange):
            mask = self._column_range(q)
            if mask is not None:
                return mask, mask * float(q.boost)  # a constant-score range, as Whoosh's
        return self._whoosh(q)

    @staticmethod
    def _words_of(q: Any) -> list[Any] | None:
        """The terms of a word as a plain query has it (a Term, or an OR of Terms over the fields), else None."""
        if type(q) is query.Term:
            return [q]
        plain = isinstance(q, query.Or) and not q.minmatch and q.scale is None
        return list(q.subqueries) if plain and all(type(sub) is query.Term for sub in q.subqueries) else None

    def _and_of_words(self, positive: list[Any], negative: list[Any]) -> Match | None:
        """An AND of words (``_words_of``): the documents holding all of them first, from their lists' ids, then
        each word's score computed in those documents only (``_term_sparse(within=...)``) instead of in every
        document holding it: two frequent words are each in a third of the articles and together in a tenth.
        The scores are added in the order the general path adds them (the fields of a word, then the words),
        so they are the same floats. None: not such a query, or a weighting this does not compute."""
        groups = [self._words_of(sub) for sub in positive]
        if any(g is None for g in groups):
            return None
        mask = self.live.copy()
        for sub in positive:
            mask &= self.mask(sub)
        for sub in negative:
            mask &= ~self.mask(sub)
        score = np.zeros(self.size, dtype=np.float64)
        for sub, terms in zip(positive, groups, strict=True):
            word = np.zeros(self.size, dtype=np.float64)
            for term in terms:  # type: ignore[union-attr]
                parts = self._term_sparse(term.fieldname, term.text, term.boost, within=mask)
                if parts is None:
                    return None
                for where, values in parts:
                    word[where] += values
            score += _boost(word, sub.boost) if type(sub) is not query.Term else word
        # Whoosh intersects a NOT clause as an inverse matcher, which scores 1.0 in every document it lets by.
        score += float(len(negative))
        score[~mask] = 0.0
        return mask, score

    def _whoosh(self, q: Any) -> Match:
        mask, score = self._empty()
        searcher = self.searcher
        m = q.matcher(searcher, searcher.context())
        ids, scores = [], []
        while m.is_active():
            ids.append(m.id())
            scores.append(m.score())
            m.next()
        if ids:
            mask[ids] = True
            score[ids] = scores
        return mask, score

    def mask(self, q: Any) -> Any:
        """The documents a query matches, without scores (filters, totals, export)."""
        found = self._memo.get(id(q))
        if found is not None and found[0] is q:
            return found[1][0]
        if isinstance(q, query.Or | query.DisjunctionMax) and not getattr(q, "minmatch", 0):
            words = self._words_of(q) if isinstance(q, query.Or) else None
            if words is not None and not self.kept_fields.intersection(t.fieldname for t in words):
                return self._terms_mask(words)
            mask = np.zeros(self.size, dtype=bool)
            for sub in q.subqueries:
                mask |= self.mask(sub)
            return mask
        if isinstance(q, query.And) and q.subqueries:
            mask = self.live.copy()
            for sub in q.subqueries:
                if isinstance(sub, query.Not):
                    mask &= ~self.mask(sub.query)
                else:
                    mask &= self.mask(sub)
            return mask
        if isinstance(q, query.AndNot):
            return self.mask(q.a) & ~self.mask(q.b)
        if isinstance(q, query.Not):
            return self.live & ~self.mask(q.query)
        if isinstance(q, query.AndMaybe):
            return self.mask(q.a)
        if isinstance(q, query.ConstantScoreQuery):
            return self.mask(q.child)
        if q is query.NullQuery or isinstance(q, type(query.NullQuery)):
            return np.zeros(self.size, dtype=bool)
        if type(q) is query.Term:
            if self.kept is not None and q.fieldname in self.kept_fields:
                key = (q.fieldname, q.text)
                found = self.kept.get(key)
                if found is None or len(found) != self.size:
                    found = self.kept[key] = self.term_match(q.fieldname, [q.text])
                return found.copy()
            return self.term_match(q.fieldname, [q.text])
        if type(q) is query.Phrase and self._phrase_ok(q):
            docs = self._phrase(q)
            if docs is None:
                return self._nothing()[0]
            phrase_mask = np.zeros(self.size, dtype=bool)
            phrase_mask[docs] = True
            return phrase_mask
        if isinstance(q, query.NumericRange):
            found_mask = self._column_range(q)
            return found_mask if found_mask is not None else self.mask(numeric_range_terms(q, self.searcher.reader()))
        if isinstance(q, query.Prefix | query.Wildcard | query.FuzzyTerm | query.TermRange | query.Regex):
            return self.term_match(q.fieldname, expanded_terms(q, self.searcher.reader()))
        return self.match(q)[0]

    def docs(self, q: Any) -> set[int]:
        """Every matching document number (equal to ``set(searcher.docs_for_query(q))``)."""
        return set(np.flatnonzero(self.mask(q)).tolist())

    def scores(self, q: Any) -> dict[int, float]:
        """Every matching document number -> its score, as Whoosh's matchers compute it."""
        mask, score = self.match(q)
        docs = np.flatnonzero(mask)
        return dict(zip(docs.tolist(), score[docs].tolist(), strict=True))

    def _column_range(self, q: Any) -> Any:
        """A range on a sortable numeric field, compared on its column (a range query expands to many trie terms)."""
        schema = self.searcher.schema
        if q.fieldname not in schema or q.start is None or q.end is None:
            return None
        if not isinstance(schema[q.fieldname].column_type, NumericColumn):
            return None
        lo, hi = q.start + (1 if q.startexcl else 0), q.end - (1 if q.endexcl else 0)
        mask = np.zeros(self.size, dtype=bool)
        for sub, offset, _ in self.segments:
            reader = sub.reader()
            count = reader.doc_count_all()
            values = _numeric_column(reader, q.fieldname, count)
            if values is None:
                continue
            v = np.asarray(values)  # a document without a value holds 0, below any range
            mask[offset : offset + count] = (v >= lo) & (v <= hi)
        return mask & self.live

    # -- phrases -------------------------------------------------------------------------------

    def _phrase_ok(self, q: Any) -> bool:
        schema = self.searcher.schema
        return (
            q.slop == 1
            and q.fieldname in schema
            and isinstance(schema[q.fieldname].format, LangPositions)
            and len(q.words) > 1
            and all(isinstance(w, str) for w in q.words)
        )

    def _pairs(self, q: Any) -> list[str]:
        """The terms of ``PAIRS_FIELD`` a document holding phrase ``q`` holds: a pair word of the field's language
        and the next word of the phrase (none without the field: an index of an older version)."""
        common = pair_words(field_lang(q.fieldname))
        if not common or PAIRS_FIELD not in self.searcher.schema:
            return []
        return [pair_term(q.fieldname, a, b) for a, b in itertools.pairwise(q.words) if a in common]

    def _pair_phrase(self, q: Any) -> list[tuple[Any, Any]] | None:
        """A phrase of two words that is a pair (``_pairs``), matched and scored from the pair's list alone: its
        postings are the documents, their values the two words' frequencies, which give each word's BM25F score
        as ``_term_sparse`` computes it from the word's own list (the same float operations), added in the
        phrase matcher's order; as (document numbers, scores) per segment. None: not such a phrase, or a
        weighting this does not compute."""
        pairs = self._pairs(q)
        if len(q.words) != 2 or len(pairs) != 1:
            return None
        params = [self._bm25(q.fieldname, w, lists=False) for w in q.words]
        if None in params:
            return None
        boost = self.searcher.schema[q.fieldname].format.field_boost
        out = []
        for seg, (_, offset, deleted) in enumerate(self.segments):
            plist = self.postings(seg, PAIRS_FIELD, pairs[0])
            lens = self._lengths_of(seg, q.fieldname)
            if plist is None or lens is None:
                if plist is not None:
                    return None
                continue
            local = plist.ids
            freqs = plist.fixed_values(PairsFormat.posting_size)
            where = local.astype(np.int64) + offset
            words = []
            for word_params, column in zip(params, (0, 1), strict=True):
                w = (freqs[:, column] * boost).astype(np.float32).astype(np.float64)  # the word's posting weight
                words.append(_bm25_values(w, lens[local], word_params, 1.0))  # type: ignore[arg-type]
            values = _pairwise_sum(words) * q.boost
            if deleted:
                keep = self.live[where]
                where, values = where[keep], values[keep]
            if len(where):
                out.append((where, values))
        return out

    def _phrase_parts(self, q: Any) -> list[tuple[Any, Any]] | None:
        """Whoosh's scores of a phrase (``_phrase_ok``) as (document numbers, scores) parts, each document in
        one part (empty: no document): each word's score in the phrase's documents (``_term_sparse``), added in
        the phrase matcher's order. None: a weighting this does not compute."""
        found = self._pair_phrase(q)
        if found is not None:
            return found
        docs = self._phrase(q)
        if docs is None:
            return []
        within = np.zeros(self.size, dtype=bool)
        within[docs] = True
        words = []
        for word in q.words:  # each word's score, computed in the phrase's documents only
            parts = self._term_sparse(q.fieldname, word, 1.0, within=within)
            if parts is None:
                return None
            values = np.zeros(len(docs), dtype=np.float64)
            for where, scores in parts:
                values[np.searchsorted(docs, where)] = scores
            words.append(values)
        return [(docs, _pairwise_sum(words) * q.boost)]

    def _nothing(self) -> Match:
        """A clause matching no document: read-only zeros that take no memory (most of a phrase's 14
        fields hold none of its words: two arrays of the archive's size each cost more than the check)."""
        return np.broadcast_to(np.False_, (self.size,)), np.broadcast_to(np.float64(0.0), (self.size,))

    def _phrase(self, q: Any) -> Any | None:
        """The live documents where the words stand next to each other in order, ascending (None: none).

        The candidates are the documents holding every word; each word's postings of them are found
        once (the same documents in the same order in every list, so a candidate is one rank in all).
        The positions of the word with the fewest occurrences there are decoded (its weights: the
        occurrences times the field's boost), each one an occurrence (candidate, where the phrase
        would start); every other word, fewest first, then keeps the occurrences where it stands at
        its place, a binary search in its positions of that candidate only (``TermPostings.holds``):
        a frequent word's positions are not decoded, only probed. A value of uint32 positions (a
        text past 65,535 words) is decoded, and matched with a binary search in the sorted keys
        ``rank << 32 | position``.

        A phrase holding a pair word (``analysis.PAIR_WORDS``: في, من...) followed by another word is first
        narrowed to the documents of that pair's term (``PAIRS_FIELD``); a phrase of two words that is such a
        pair ("في غزة") is answered by that list alone, without the positions (kept or not, a pair word's
        positions are a big part of its field's).
        """
        found: list[Any] = []
        words = q.words
        pairs = self._pairs(q)
        for seg, (sub, offset, _) in enumerate(self.segments):
            paired = [self.postings(seg, PAIRS_FIELD, p) for p in pairs]
            if not all(paired):  # a pair no document of the segment holds
                continue
            if len(words) == 2 and paired:  # the pair's documents are the phrase's: no position read
                where = paired[0].ids.astype(np.int64) + offset  # type: ignore[union-attr]
                found.append(where[self.live[where]])
                continue
            lists = [self.postings(seg, q.fieldname, w) for w in words]
            if not all(lists):
                continue
            count = sub.reader().doc_count_all()
            keep = self.live[offset : offset + count].copy()
            for pair in paired:  # every pair of the phrase's pair words is there
                here = np.zeros(count, dtype=bool)
                here[pair.ids] = True  # type: ignore[union-attr]
                keep &= here
            by_doc = [plist.rank_of(count) for plist in lists]  # type: ignore[union-attr]
            for plist, rank_of in zip(lists, by_doc, strict=True):
                if rank_of is not None:  # a kept list of most documents: its postings by document, made once
                    keep &= rank_of >= 0
                    continue
                here = np.zeros(count, dtype=bool)
                here[plist.ids] = True  # type: ignore[union-attr]
                keep &= here
            candidates = np.flatnonzero(keep)
            if not len(candidates):
                continue
            chosen = [
                rank_of[candidates] if rank_of is not None else np.flatnonzero(keep[plist.ids])  # type: ignore[union-attr]
                for plist, rank_of in zip(lists, by_doc, strict=True)
            ]
            occurrences = [float(plist.weights[c].sum()) for plist, c in zip(lists, chosen, strict=True)]  # type: ignore[union-attr]
            order = sorted(range(len(words)), key=occurrences.__getitem__)
            first = order[0]
            counts, positions = lists[first].positions_of(chosen[first])  # type: ignore[union-attr]
            rank = np.repeat(np.arange(len(chosen[first]), dtype=np.int32), counts)
            start = positions.astype(np.int32) - first  # where the phrase would start
            if first and len(positions) and int(positions.min()) < first:  # a start before the field's first
                ok = start >= 0
                rank, start = rank[ok], start[ok]
            for k in order[1:]:
                if not len(rank):
                    break
                plist = lists[k]
                held = plist.holds(chosen[k][rank], start + k, chosen[k])  # type: ignore[union-attr]
                if held is None:  # uint32 positions: decode this word's, in the candidates still in the running
                    ranks = np.unique(rank).astype(np.int64)
                    counts, positions = plist.positions_of(chosen[k][ranks])  # type: ignore[union-attr]
                    keys = (np.repeat(ranks, counts) << 32) | positions.astype(np.int64)
                    want = (rank.astype(np.int64) << 32) | (start.astype(np.int64) + k)
                    held = keys[np.minimum(np.searchsorted(keys, want), len(keys) - 1)] == want
                rank, start = rank[held], start[held]
            if len(rank):  # ascending: by rank, a candidate's occurrences by position
                local = np.unique(lists[first].ids[chosen[first][rank]])  # type: ignore[union-attr]
                found.append(local.astype(np.int64) + offset)
        found = [f for f in found if len(f)]
        return np.concatenate(found) if found else None


def _bm25_values(w: Any, lengths: Any, params: tuple[float, float, float, float], boost: float) -> Any:
    """BM25F of postings as Whoosh's ``bm25()`` computes it, in its order of operations: ``idf * ((tf * (K1 + 1)) /
    (tf + K1 * ((1 - B) + B * fl / avgfl)))`` times the query boost; ``w``: the weights (float64), ``lengths``:
    each posting's document's length byte, ``params``: (idf, K1, B, average field length)."""
    idf, k1, b, avgfl = params
    norm = k1 * ((1 - b) + b * _BYTE_LENGTHS / avgfl)  # per length byte
    return idf * ((w * (k1 + 1)) / (w + norm[lengths])) * boost


def _is_nothing(mask: Any) -> bool:
    """Whether a clause's mask is ``Evaluator._nothing()``'s (read-only zeros, no memory behind them)."""
    return bool(mask.strides == (0,) and not mask[0]) if len(mask) else True


def _pairwise_sum(values: list[Any]) -> Any:
    """The sum of the arrays in the order Whoosh's phrase matcher adds its words' scores: a binary tree
    of IntersectionMatchers (``make_binary_tree``), ``w0 + (w1 + w2)`` for three words."""
    if len(values) == 1:
        return values[0]
    half = len(values) // 2
    return _pairwise_sum(values[:half]) + _pairwise_sum(values[half:])


def _boost(score: Any, boost: float) -> Any:
    return score * boost if boost != 1.0 else score


def ranked(evaluator: Evaluator, q: Any, count: int) -> tuple[Any, list[tuple[float, int]]]:
    """(match mask, the ``count`` best (score, docnum) best first, equal scores by docnum)."""
    mask, score = evaluator.match(q)
    docs = np.flatnonzero(mask)
    if count <= 0 or not len(docs):
        return mask, []
    values = score[docs]
    if len(docs) > count:
        pick = np.argpartition(-values, count - 1)[:count]
        threshold = values[pick].min()
        keep = values >= threshold  # every document tied at the threshold takes part in the tie-break
        docs, values = docs[keep], values[keep]
    order = np.lexsort((docs, -values))[:count]
    return mask, list(zip(values[order].tolist(), docs[order].tolist(), strict=True))


def sort_by_column(
    evaluator: Evaluator, docs: Iterable[int], column: str, *, reverse: bool, limit: int | None = None
) -> list[int]:
    """The first ``limit`` document numbers by a numeric column (ties by docnum), a segment's column at a time."""
    keys = np.zeros(evaluator.size, dtype=np.int64)  # microsecond dates need all 64 bits
    for sub, offset, _ in evaluator.segments:
        reader = sub.reader()
        count = reader.doc_count_all()
        values = _numeric_column(reader, column, count)
        if values is not None:
            keys[offset : offset + count] = np.asarray(values).astype(np.int64)
    wanted = np.fromiter(docs, dtype=np.int64)
    if not len(wanted):
        return []
    k = keys[wanted]
    order = np.lexsort((wanted, -k if reverse else k))
    if limit is not None:
        order = order[:limit]
    ranked: list[int] = wanted[order].tolist()
    return ranked


def _numeric_column(reader: Any, column: str, count: int) -> Any:
    if not reader.has_column(column):
        return None
    col = reader.column_reader(column, translate=False)
    values = numeric_column_values(col, count)
    return list(col) if values is None else values


def _column_segments(evaluator: Evaluator, column: str, docs: Iterable[int]) -> Iterator[tuple[Any, int, list[int]]]:
    """(segment reader, segment offset, segment-local numbers of ``docs``) of each segment that has some
    of ``docs`` and the column; the documents in ascending order."""
    wanted = sorted(docs)
    for sub, offset, _ in evaluator.segments:
        reader = sub.reader()
        lo = bisect.bisect_left(wanted, offset)
        hi = bisect.bisect_left(wanted, offset + reader.doc_count_all())
        if lo < hi and reader.has_column(column):
            yield reader, offset, [d - offset for d in wanted[lo:hi]]


def doc_ids(evaluator: Evaluator, docnums: Iterable[int]) -> dict[int, str]:
    """Article ids of some document numbers from the ``idcol`` column (missing: not in that column)."""
    out: dict[int, str] = {}
    for reader, offset, local in _column_segments(evaluator, "idcol", docnums):
        col = reader.column_reader("idcol", translate=False)
        for d in local:
            raw = bytes(col[d])
            if raw.strip(b"\0"):
                out[d + offset] = raw.decode("ascii")
    return out


def column_values(evaluator: Evaluator, column: str, docs: Iterable[int]) -> list[bytes]:
    """The raw values of a bytes column for some documents, read a segment's whole column at a time.

    Whoosh's column reader derives the offsets of a variable-width column in a Python loop over
    every document of the segment, then reads one document at a time; this reads the arrays once.
    """
    out: list[bytes] = []
    for reader, _, local in _column_segments(evaluator, column, docs):
        arrays = varbytes_column_arrays(reader, column)  # Whoosh's reader would loop over every offset
        if arrays is not None:
            data, offsets, lengths = arrays
            starts = list(map(offsets.__getitem__, local))  # C-level maps: no Python step per document
            ends = map(operator.add, starts, map(lengths.__getitem__, local))
            out.extend(map(data.__getitem__, map(slice, starts, ends)))
        else:
            col = reader.column_reader(column, translate=False)
            out.extend(bytes(col[d]) for d in local)
    return out
