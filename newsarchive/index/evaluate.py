"""A Whoosh query tree -> every matching document with its score, computed a posting block at a time.

Whoosh's searcher steps matchers document by document in Python and prunes with block quality; at
100,000 articles a common word means tens of thousands of Python-level steps, and pruning under a
filter drops better hits and miscounts the total. ``Evaluator`` answers the same query from the
posting arrays the codec exposes (``codec.term_blocks``): a term's BM25F scores in one loop per
block, unions and intersections on dicts and sets, phrases checked on the positions of the
candidate documents only. The scores are Whoosh's own (BM25F with its parameters, idf and average
field lengths from the top-level searcher, query boosts multiplied in); query types it does not
know are handed to Whoosh's matchers, so every query works and scores the same either way.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import operator
import struct
import sys
from array import array
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from whoosh import query
from whoosh.columns import NumericColumn, VarBytesColumn
from whoosh.scoring import BM25FScorer, WeightScorer
from whoosh.util.numeric import byte_to_length
from whoosh.util.times import long_to_datetime

from newsarchive.analysis import LangPositions, decode_positions
from newsarchive.index.codec import Block, field_lengths, term_blocks

_BYTE_LENGTHS = tuple(byte_to_length(b) for b in range(256))
_FALLBACK_SCORE = 1.0  # what Whoosh's ListMatcher reports for a constant score of 0.0


class DocsFilter(query.ConstantScoreQuery):  # type: ignore[misc]
    """A filter inside a query tree: its documents, each with one constant score (0.0 scores as 1.0)."""

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        from whoosh.matching import ListMatcher, NullMatcher

        docs = sorted(Evaluator(searcher).docs(self.child))
        if not docs:
            return NullMatcher()
        return ListMatcher(docs, all_weights=self.score)


class Evaluator:
    """Evaluates queries over one searcher (all its segments); caches posting blocks per term."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.segments: list[tuple[Any, int, frozenset[int]]] = []
        for sub, offset in searcher.subsearchers or [(searcher, 0)]:
            reader = sub.reader()
            deleted: frozenset[int] = frozenset()
            if reader.has_deletions():
                segment = getattr(reader, "_segment", None)
                if segment is not None and hasattr(segment, "deleted_docs"):
                    deleted = frozenset(segment.deleted_docs())
                else:
                    deleted = frozenset(d for d in range(reader.doc_count_all()) if reader.is_deleted(d))
            self.segments.append((sub, offset, deleted))
        self._blocks: dict[tuple[int, str, Any], list[Block] | None] = {}
        self._lengths: dict[tuple[int, str], bytes | None] = {}
        self._docs: dict[int, tuple[Any, set[int]]] = {}
        self._split: dict[int, tuple[set[int], list[set[int]]]] = {}

    def _local(self, docs: set[int]) -> list[set[int]]:
        """``docs`` split by segment, as segment-local document numbers (remembered per set object)."""
        found = self._split.get(id(docs))
        if found is None or found[0] is not docs:
            wanted = sorted(docs)
            parts = []
            for sub, offset, _ in self.segments:
                count = sub.reader().doc_count_all()
                lo, hi = bisect.bisect_left(wanted, offset), bisect.bisect_left(wanted, offset + count)
                parts.append({d - offset for d in wanted[lo:hi]} if offset else set(wanted[lo:hi]))
            found = self._split[id(docs)] = (docs, parts)
        return found[1]

    def open_column(self, column: str) -> None:
        """Open a column's file in every segment (Whoosh opens them lazily; an open file outlives a merge)."""
        for sub, _, _ in self.segments:
            reader = sub.reader()
            if reader.has_column(column):
                reader.column_reader(column, translate=False)

    # -- postings ------------------------------------------------------------------------------

    def blocks(self, seg: int, fieldname: str, text: Any) -> list[Block] | None:
        key = (seg, fieldname, text)
        if key not in self._blocks:
            self._blocks[key] = term_blocks(self.segments[seg][0].reader(), fieldname, text)
        return self._blocks[key]

    def _lengths_of(self, seg: int, fieldname: str) -> bytes | None:
        key = (seg, fieldname)
        if key not in self._lengths:
            self._lengths[key] = field_lengths(self.segments[seg][0].reader(), fieldname)
        return self._lengths[key]

    def term_docs(self, fieldname: str, texts: Iterable[Any]) -> set[int]:
        out: set[int] = set()
        texts = list(texts)
        for seg, (_, offset, deleted) in enumerate(self.segments):
            for text in texts:
                blocks = self.blocks(seg, fieldname, text)
                if blocks:
                    ids, _ = _joined(blocks)
                    out.update(map(offset.__add__, ids) if offset else ids)
            if deleted:
                out.difference_update(d + offset for d in deleted)
        return out

    def term_scores(
        self, fieldname: str, text: Any, boost: float = 1.0, within: set[int] | None = None
    ) -> dict[int, float]:
        """Whoosh's score of one term in every document holding it (times the query boost), or in ``within``."""
        out: dict[int, float] = {}
        weighting = self.searcher.weighting
        for seg, (sub, offset, deleted) in enumerate(self.segments):
            blocks = self.blocks(seg, fieldname, text)
            if not blocks:
                continue
            scorer = weighting.scorer(sub, fieldname, text)
            lens = self._lengths_of(seg, fieldname)
            ids, weights = _joined(blocks)
            pairs: Any = zip(ids, weights, strict=True)
            if within is not None:
                local = self._local(within)[seg]
                if not local:
                    continue
                pairs = [(d, w) for d, w in pairs if d in local]
            if type(scorer) is BM25FScorer and lens is not None:
                idf, k1, b, avgfl = scorer.idf, scorer.K1, scorer.B, scorer.avgfl
                k1p1 = k1 + 1
                # bm25(): idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl))), fl per length byte
                norm = [k1 * ((1 - b) + b * fl / avgfl) for fl in _BYTE_LENGTHS]
                part = {d: idf * ((w * k1p1) / (w + norm[lens[d]])) * boost for d, w in pairs}
            elif type(scorer) is WeightScorer:
                part = {d: w * boost for d, w in pairs}
            else:  # another weighting: Whoosh scores it
                return self._whoosh_scores(query.Term(fieldname, text, boost=boost))
            if deleted:
                for d in deleted.intersection(part):
                    del part[d]
            if offset:
                part = {d + offset: v for d, v in part.items()}
            if out:
                out.update(part)  # segments hold disjoint document numbers
            else:
                out = part
        return out

    # -- documents -----------------------------------------------------------------------------

    def docs(self, q: Any) -> set[int]:
        """Every matching document number (equal to ``set(searcher.docs_for_query(q))``).

        Remembered per query object for the evaluator's life: callers must not change the set.
        """
        key = id(q)
        found = self._docs.get(key)
        if found is None or found[0] is not q:
            found = self._docs[key] = (q, self._docs_of(q))
        return found[1]

    def _docs_of(self, q: Any) -> set[int]:
        if isinstance(q, query.Or | query.DisjunctionMax) and not getattr(q, "minmatch", 0):
            out: set[int] = set()
            for sub in q.subqueries:
                out |= self.docs(sub)
            return out
        if isinstance(q, query.And):
            positive = [sub for sub in q.subqueries if not isinstance(sub, query.Not)]
            negative = [sub.query for sub in q.subqueries if isinstance(sub, query.Not)]
            if not positive:
                return set(self.searcher.docs_for_query(q))
            sets = sorted((self.docs(sub) for sub in positive), key=len)
            found = sets[0].intersection(*sets[1:])
            for sub in negative:
                if not found:
                    break
                found -= self.docs(sub)
            return found
        if isinstance(q, query.AndNot):
            return self.docs(q.a) - self.docs(q.b)
        if isinstance(q, query.ConstantScoreQuery):
            return self.docs(q.child)
        if q is query.NullQuery or isinstance(q, type(query.NullQuery)):
            return set()
        if type(q) is query.Term:
            return self.term_docs(q.fieldname, [q.text])
        if type(q) is query.Phrase and self._phrase_ok(q):
            return set(self._phrase_docs(q))
        if isinstance(q, query.NumericRange):
            found = self._column_range(q)
            if found is not None:
                return found
            return self.docs(q._compile_query(self.searcher.reader()))
        if isinstance(q, query.Prefix | query.Wildcard | query.FuzzyTerm | query.TermRange | query.Regex):
            return self.term_docs(q.fieldname, q._btexts(self.searcher.reader()))
        return set(self.searcher.docs_for_query(q))

    def _column_range(self, q: Any) -> set[int] | None:
        """A range on a sortable numeric field, read from its column (a range query expands to many trie terms).

        For ``published`` the candidates are first narrowed to the range's ``month`` terms.
        """
        schema = self.searcher.schema
        if q.fieldname not in schema or q.start is None or q.end is None:
            return None
        if not isinstance(schema[q.fieldname].column_type, NumericColumn):
            return None
        lo, hi = q.start + (1 if q.startexcl else 0), q.end - (1 if q.endexcl else 0)
        candidates: set[int] | None = None
        if isinstance(q, query.DateRange) and "month" in schema:
            months = _months(long_to_datetime(lo), long_to_datetime(hi))
            if len(months) <= 3:
                candidates = self.term_docs("month", months)
        out: set[int] = set()
        for sub, offset, deleted in self.segments:
            reader = sub.reader()
            count = reader.doc_count_all()
            values = _numeric_column(reader, q.fieldname, count)
            if values is None:
                continue
            if candidates is None:
                local = (d for d, v in enumerate(values) if lo <= v <= hi)
            else:
                end = offset + count
                local = (d - offset for d in candidates if offset <= d < end and lo <= values[d - offset] <= hi)
            out.update(d + offset for d in local if d not in deleted)
        return out

    # -- scores --------------------------------------------------------------------------------

    def scores(self, q: Any, within: set[int] | None = None) -> dict[int, float]:
        """Every matching document number -> its score, as Whoosh's matchers compute it.

        ``within``: only these documents are wanted (an intersection scores its candidates only).
        """
        if isinstance(q, query.Or) and not q.minmatch and q.scale is None:
            parts = sorted((self.scores(sub, within) for sub in q.subqueries), key=len, reverse=True)
            if not parts:
                return {}
            out = parts[0]  # the largest (a fresh dict), added to in place
            get = out.get
            for part in parts[1:]:
                for d, v in part.items():
                    out[d] = get(d, 0.0) + v
            return _boosted(out, q.boost)
        if isinstance(q, query.And):
            positive = [sub for sub in q.subqueries if not isinstance(sub, query.Not)]
            negative = [sub.query for sub in q.subqueries if isinstance(sub, query.Not)]
            if not positive:
                return _within(self._whoosh_scores(q), within)
            # Filters narrow first; then the text clauses, rarest first, each scored only where all
            # the clauses before it matched.
            filters = [sub for sub in positive if isinstance(sub, DocsFilter)]
            common = within
            for flt in filters:
                found = self.docs(flt.child)
                common = set(found) if common is None else common & found
            parts = []
            for sub in sorted((sub for sub in positive if not isinstance(sub, DocsFilter)), key=self._estimate):
                if common is not None and not common:
                    return {}
                part = self.scores(sub, common)
                parts.append(part)
                common = set(part) if common is None else common.intersection(part)
            if common is None:
                return {}
            for sub in negative:
                if not common:
                    break
                common -= self.docs(sub)
            # Whoosh intersects a NOT clause as an inverse matcher, which scores 1.0 in every document it
            # lets by, and a filter with its constant score.
            extra = float(len(negative)) + sum(flt.score or _FALLBACK_SCORE for flt in filters)
            return _boosted(_sum_parts(parts, common, extra), q.boost)
        if isinstance(q, query.AndNot):
            found = self.scores(q.a, within)
            for d in self.docs(q.b):
                found.pop(d, None)
            return _boosted(found, q.boost)
        if isinstance(q, DocsFilter):
            docs = self.docs(q.child)
            return dict.fromkeys(docs if within is None else docs & within, q.score or _FALLBACK_SCORE)
        if q is query.NullQuery or isinstance(q, type(query.NullQuery)):
            return {}
        if type(q) is query.Term:
            return self.term_scores(q.fieldname, q.text, q.boost, within)
        if type(q) is query.Phrase and self._phrase_ok(q):
            docs = set(self._phrase_docs(q))
            if within is not None:
                docs &= within
            if not docs:
                return {}
            parts = [self.term_scores(q.fieldname, word, within=docs) for word in q.words]
            return {d: sum(part[d] for part in parts) * q.boost for d in docs}
        return _within(self._whoosh_scores(q), within)

    def _estimate(self, q: Any) -> float:
        """About how many documents a clause matches (postings counted), to order an intersection."""
        if type(q) is query.Term:
            segments = range(len(self.segments))
            return sum(len(b.ids) for seg in segments for b in self.blocks(seg, q.fieldname, q.text) or ())
        if isinstance(q, query.Or):
            return sum(self._estimate(sub) for sub in q.subqueries)
        if isinstance(q, query.And | query.Phrase):
            subs = q.subqueries if isinstance(q, query.And) else [query.Term(q.fieldname, w) for w in q.words]
            return min((self._estimate(sub) for sub in subs), default=0.0)
        return float("inf")

    def _whoosh_scores(self, q: Any) -> dict[int, float]:
        searcher = self.searcher
        m = q.matcher(searcher, searcher.context())
        out: dict[int, float] = {}
        while m.is_active():
            out[m.id()] = m.score()
            m.next()
        return out

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

    def _phrase_docs(self, q: Any) -> list[int]:
        """Documents where the words stand next to each other in order."""
        out: list[int] = []
        words = q.words
        for seg, (_, offset, deleted) in enumerate(self.segments):
            lists = [self.blocks(seg, q.fieldname, w) for w in words]
            if not all(lists):
                continue
            id_sets = sorted(({d for block in blocks for d in block.ids} for blocks in lists), key=len)
            candidates = id_sets[0].intersection(*id_sets[1:]) - deleted
            if not candidates:
                continue
            positions = [_positions(blocks, candidates) for blocks in lists]
            for d in sorted(candidates):
                starts = set(decode_positions(positions[0][d]))
                for k in range(1, len(words)):
                    starts.intersection_update(p - k for p in decode_positions(positions[k][d]))
                    if not starts:
                        break
                if starts:
                    out.append(d + offset)
        return out


def _months(start: datetime, end: datetime) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month) and len(months) < 4:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _joined(blocks: list[Block]) -> tuple[Any, Any]:
    if len(blocks) == 1:
        return blocks[0].ids, blocks[0].weights
    ids, weights = array("I"), array("f")
    for block in blocks:
        ids.extend(block.ids)
        weights.extend(block.weights)
    return ids, weights


def _positions(blocks: list[Block], candidates: set[int]) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for block in blocks:
        if candidates.isdisjoint(block.ids):
            continue
        values = block.values()
        for i, d in enumerate(block.ids):
            if d in candidates:
                found[d] = values[i]  # type: ignore[assignment]
    return found


def _sum_parts(parts: list[dict[int, float]], docs: set[int], extra: float) -> dict[int, float]:
    if len(parts) == 1:
        (a,) = parts
        return {d: a[d] + extra for d in docs}
    if len(parts) == 2:
        a, b = parts
        return {d: a[d] + b[d] + extra for d in docs}
    return {d: sum(part[d] for part in parts) + extra for d in docs}


def _within(scores: dict[int, float], within: set[int] | None) -> dict[int, float]:
    return scores if within is None else {d: v for d, v in scores.items() if d in within}


def _boosted(scores: dict[int, float], boost: float) -> dict[int, float]:
    if boost != 1.0:
        return {d: v * boost for d, v in scores.items()}
    return scores


def top(scores: dict[int, float], count: int) -> list[tuple[float, int]]:
    """The ``count`` best (score, docnum), best first; equal scores by docnum."""
    if count <= 0 or not scores:
        return []
    if len(scores) > count:
        threshold = heapq.nlargest(count, scores.values())[-1]
        pool = [(v, d) for d, v in scores.items() if v >= threshold]
    else:
        pool = [(v, d) for d, v in scores.items()]
    pool.sort(key=lambda vd: (-vd[0], vd[1]))
    return pool[:count]


def sort_by_column(
    evaluator: Evaluator, docs: Iterable[int], column: str, *, reverse: bool, limit: int | None = None
) -> list[int]:
    """The first ``limit`` document numbers by a numeric column (ties by docnum), a segment's column at a time."""
    keys: dict[int, int] = {}
    wanted = sorted(docs)
    for sub, offset, _ in evaluator.segments:
        reader = sub.reader()
        count = reader.doc_count_all()
        lo, hi = bisect.bisect_left(wanted, offset), bisect.bisect_left(wanted, offset + count)
        if lo == hi:
            continue
        values = _numeric_column(reader, column, count)
        for d in wanted[lo:hi]:
            keys[d] = values[d - offset] if values is not None else 0
    get = keys.get
    key = (lambda d: (-get(d, 0), d)) if reverse else (lambda d: (get(d, 0), d))
    if limit is not None and limit < len(wanted):
        return heapq.nsmallest(limit, wanted, key=key)
    return sorted(wanted, key=key)


def _numeric_column(reader: Any, column: str, count: int) -> Any:
    if not reader.has_column(column):
        return None
    col = reader.column_reader(column, translate=False)
    typecode = getattr(col, "_typecode", None)
    if typecode is None or not hasattr(col, "_dbfile"):
        return list(col)
    width = col._fixedlen
    stored = min(col._count, count)
    values = array(typecode)
    values.frombytes(bytes(col._dbfile.get(col._basepos, stored * width)))
    if sys.byteorder == "little":  # columns are big-endian on disk
        values.byteswap()
    if stored < count:
        values.extend([col._default] * (count - stored))
    return values


def doc_ids(evaluator: Evaluator, docnums: Iterable[int]) -> dict[int, str]:
    """Article ids of some document numbers from the ``idcol`` column (missing: not in that column)."""
    out: dict[int, str] = {}
    wanted = sorted(docnums)
    for sub, offset, _ in evaluator.segments:
        reader = sub.reader()
        count = reader.doc_count_all()
        lo, hi = bisect.bisect_left(wanted, offset), bisect.bisect_left(wanted, offset + count)
        if lo == hi or not reader.has_column("idcol"):
            continue
        col = reader.column_reader("idcol", translate=False)
        for d in wanted[lo:hi]:
            raw = bytes(col[d - offset])
            if raw.strip(b"\0"):
                out[d] = raw.decode("ascii")
    return out


def column_values(evaluator: Evaluator, column: str, docs: Iterable[int]) -> list[bytes]:
    """The raw values of a bytes column for some documents, read a segment's whole column at a time.

    Whoosh's column reader derives the offsets of a variable-width column in a Python loop over
    every document of the segment, then reads one document at a time; this reads the arrays once.
    """
    out: list[bytes] = []
    wanted = sorted(docs)
    for sub, offset, _ in evaluator.segments:
        reader = sub.reader()
        count = reader.doc_count_all()
        lo, hi = bisect.bisect_left(wanted, offset), bisect.bisect_left(wanted, offset + count)
        if lo == hi or not reader.has_column(column):
            continue
        local = [d - offset for d in wanted[lo:hi]]
        perdoc = getattr(reader, "_perdoc", None)
        if type(reader.schema[column].column_type) is VarBytesColumn and hasattr(perdoc, "_get_column_file"):
            # Whoosh's reader would derive every offset in a Python loop as soon as it is made.
            if column not in perdoc._colfiles:
                perdoc._colfiles[column] = perdoc._get_column_file(column)
            dbfile, basepos, length = perdoc._colfiles[column]
            data, offsets, lengths = _varbytes_arrays(dbfile, basepos, length, count)
            starts = list(map(offsets.__getitem__, local))  # C-level maps: no Python step per document
            ends = map(operator.add, starts, map(lengths.__getitem__, local))
            out.extend(map(data.__getitem__, map(slice, starts, ends)))
        else:
            col = reader.column_reader(column, translate=False)
            out.extend(bytes(col[d]) for d in local)
    return out


def _varbytes_arrays(dbfile: Any, basepos: int, length: int, doccount: int) -> tuple[bytes, Any, Any]:
    """(data, offsets, lengths) of a VarBytesColumn (the layout of Whoosh 2.7.4's writer)."""
    lastbyte = basepos + length - 1
    lens_code = chr(dbfile.get_byte(lastbyte))
    offsets = None
    if lens_code == "X":  # the writer stored the offsets too
        lens_code = chr(dbfile.get_byte(lastbyte - 2))
        offsets_code = chr(dbfile.get_byte(lastbyte - 1))
        offsetstart = (lastbyte - 2) - doccount * struct.calcsize(offsets_code)
        offsets = dbfile.get_array(offsetstart, offsets_code, doccount)
        lastbyte = offsetstart
    lenstart = lastbyte - struct.calcsize(lens_code) * doccount
    lengths = dbfile.get_array(lenstart, lens_code, doccount)
    if offsets is None:
        offsets = [0, *itertools.accumulate(lengths)]
    return bytes(dbfile.get(basepos, lenstart - basepos)), offsets, lengths
