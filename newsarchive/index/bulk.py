"""Building a whole index fast: worker processes analyse documents and write segments of their own.

Whoosh's writer puts every posting through a pool (a tuple per posting, sorted, spilled to disk in
runs and merged again). For a rebuild from the store this module keeps each term's postings in
memory as arrays, in document order, so a segment is written term by term with no sort of the
postings, no runs on disk and no merge: ``BulkSegmentWriter``. ``write_segments`` runs one such
writer per worker process and commits their segments in one TOC, as Whoosh's MpWriter does with
``multisegment=True``. A worker starts a new segment every ``SEGMENT_DOCS`` documents, which bounds
its memory.

Uses Whoosh 2.7.4's segment-writer internals (``_finalize_segment``, ``_commit_toc``), listed with
every other private Whoosh name in ``whoosh_internals``: Whoosh is pinned at 2.7.4, the last release.
"""

from __future__ import annotations

import functools
import gc
import itertools
import os
import queue
import re
import threading
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from newsarchive.analysis import (
    PAIRS_FIELD,
    STOP_LANGS,
    WORD_CHARS,
    WORD_JOINERS,
    WORD_RE,
    LangPositions,
    LangText,
    pair_words,
    terms_of_words,
    text_pairs,
)
from newsarchive.errors import SearchIndexError
from newsarchive.index.codec import NewsCodec, NewsPerDocReader, merge_lists
from newsarchive.index.whoosh_internals import commit_segments, index_items, lenfield

#: Documents per segment a worker writes. A worker holds ~8.5 KB of postings per 4 KB article and peaks
#: at ~170 MB + 14.3 KB per document while it writes the segment (docs/search.md, fourth round): ~1.6 GB
#: for 100,000. Workers' first segments are staggered (``write_segments``), so two workers do not peak at
#: once; 1,000,000 articles leave 11 segments (60,000 left 18).
SEGMENT_DOCS = 100_000
#: Documents per message to a worker.
BATCH = 250
_POLL = 1.0  # seconds between checks that the workers are alive while waiting on them


class _Postings:
    """One field's postings in the order they were added, as flat arrays: ~20 bytes a posting.

    ``keys``: term (str for a language text field, bytes for the others) -> its number; per posting
    the term number, document number, weight, value size, and the values end to end.
    """

    __slots__ = ("docs", "keys", "names", "pair_of", "pair_to", "sizes", "terms", "values", "weights", "words")

    def __init__(self) -> None:
        self.keys: dict[Any, int] = {}
        self.names: list[Any] = []  # the keys by number (``_names``)
        self.pair_of: dict[int, int] = {}  # a pair of this field's term numbers -> its term's number in pair_to
        self.pair_to: _Postings | None = None
        self.words: dict[str, int] = {}  # a text field's words -> term number (or _NO_TERM, _DROPPED)
        self.terms: array[int] = array("I")
        self.docs: array[int] = array("I")
        self.weights: array[float] = array("f")
        self.sizes: array[int] = array("I")
        self.values = bytearray()

    def add(self, term: Any, docnum: int, weight: float, vbytes: bytes) -> None:
        keys = self.keys
        number = keys.get(term)
        if number is None:
            number = keys[term] = len(keys)
        self.terms.append(number)
        self.docs.append(docnum)
        self.weights.append(weight)
        self.sizes.append(len(vbytes))
        self.values += vbytes

    def add_lists(
        self,
        terms: list[Any],
        counts: Any,
        ids: Any,
        weights: Any,
        sizes: Any,
        values: bytes,
        startdoc: int,
        renumber: Any | None,
    ) -> None:
        """A merged segment's lists of this field (``codec.merge_lists``): ``counts`` postings of each term in
        turn, numbered from ``startdoc``, or by ``renumber`` (old number -> new, -1: a deleted document)."""
        owner = np.repeat(np.arange(len(terms), dtype=np.int64), counts)
        if renumber is None:
            docs = ids.astype(np.int64) + startdoc
        else:
            docs = renumber[ids]
            live = docs >= 0
            if not live.all():
                if values:
                    values = np.frombuffer(values, dtype=np.uint8)[np.repeat(live, sizes.astype(np.int64))].tobytes()
                owner, docs, weights, sizes = owner[live], docs[live], weights[live], sizes[live]
        keys = self.keys
        numbers = np.empty(len(terms), dtype=np.uint32)
        for i, term in enumerate(terms):
            number = keys.get(term)
            if number is None:
                number = keys[term] = len(keys)
            numbers[i] = number
        self.terms.frombytes(numbers[owner].tobytes())
        self.docs.frombytes(docs.astype(np.uint32).tobytes())
        self.weights.frombytes(weights.astype(np.float32).tobytes())
        self.sizes.frombytes(sizes.astype(np.uint32).tobytes())
        self.values += values

    def add_text(self, fmt: LangPositions, value: str, docnum: int) -> int:
        """The postings of one language text field value (positions as uint16 arrays); returns its length."""
        return self.add_texts(fmt, [value], [docnum])[0]

    def add_texts(
        self, fmt: LangPositions, values: list[str], docnums: list[int], pairs: Pairs | None = None
    ) -> list[int]:
        """The postings of one language text field's values in documents ``docnums`` (ascending); their lengths.
        ``pairs``: where the pair terms of (some of) the values go (``analysis.PAIRS_FIELD``).

        Each token's term number comes from a dict of the words this field has met (one C-level
        ``map`` over the tokens of every value; words met for the first time get their terms from
        ``analysis.terms_of_words``), and the postings from one stable sort of all the tokens by
        (document, term) with numpy: no Python step per token or per posting, and a fixed number of
        numpy calls per batch of values instead of per value.
        """
        found = _tokens(values) if len(values) >= _FEW else None  # a few values: the regex costs less
        if found is None:
            lists = [WORD_RE.findall(v) for v in values]
            words: list[str] = list(itertools.chain.from_iterable(lists))
            doc = np.repeat(np.arange(len(values), dtype=np.int64), [len(w) for w in lists])
            which = None
        else:
            words, which, doc = found
        if not words:
            return [0] * len(values)
        known = self.words
        numbers = list(map(known.get, words))
        if None in numbers:
            lang = fmt.lang
            fresh = list(dict.fromkeys(w for w, n in zip(words, numbers, strict=True) if n is None))
            none = _DROPPED if lang in STOP_LANGS else _NO_TERM
            keys = self.keys
            for word, term in zip(fresh, terms_of_words(fresh, lang), strict=True):
                known[word] = keys.setdefault(term, len(keys)) if term else none
            numbers = list(map(known.__getitem__, words))
        tokens = np.array(numbers, dtype=np.int64)
        if which is not None:
            tokens = tokens[which]
        low = min(numbers)  # type: ignore[type-var]  # every None was filled
        if low == _DROPPED:  # a StopFilter: dropped words take no position
            kept = tokens != _DROPPED
            tokens, doc = tokens[kept], doc[kept]
        per_doc = np.bincount(doc, minlength=len(values))
        if len(per_doc) and per_doc.max() > 0xFFFF:  # positions past 65535 are stored as uint32: value by value
            return [
                self._add_long(fmt, v, d, None if pairs is None else pairs.one(i))
                for i, (v, d) in enumerate(zip(values, docnums, strict=True))
            ]
        sites = None if pairs is None else self._pair_sites(pairs, fmt.lang, tokens, doc)
        position = np.arange(len(tokens), dtype=np.int64) - np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
        if low == _NO_TERM:  # tokens without a term keep their position, and make no posting
            has = tokens >= 0
            tokens, doc, position = tokens[has], doc[has], position[has]
        if not len(tokens):
            return [0] * len(values)
        width = len(self.keys) + 1
        order = _stable_order(doc * width + tokens)  # positions stay ascending
        ordered, ordered_doc = tokens[order], doc[order]
        new = np.empty(len(order), dtype=bool)
        new[0] = True
        np.logical_or(ordered[1:] != ordered[:-1], ordered_doc[1:] != ordered_doc[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        freqs = np.diff(np.append(starts, len(ordered)))
        if sites is not None:  # each pair's words' frequencies: their postings', found by (document, term)
            assert pairs is not None
            keys = ordered_doc[starts] * width + ordered[starts]  # ascending
            value, first, second, numbers = sites
            both = freqs[np.searchsorted(keys, np.concatenate((value * width + first, value * width + second)))]
            self._add_pairs(pairs, value, numbers, both.astype("<u4").reshape(2, -1).T, docnums)
        self.terms.frombytes(ordered[starts].astype(np.uint32).tobytes())
        self.docs.frombytes(np.asarray(docnums, dtype=np.uint32)[ordered_doc[starts]].tobytes())
        self.weights.frombytes((freqs * fmt.field_boost).astype(np.float32).tobytes())
        self.sizes.frombytes((1 + 2 * freqs).astype(np.uint32).tobytes())
        positions = position[order].astype("<u2").view(np.uint8)
        self.values += np.insert(positions, 2 * starts, _H).tobytes()  # b"H" + uint16s, as encode_positions
        return np.bincount(doc, minlength=len(values)).tolist()  # type: ignore[no-any-return]

    def _add_long(self, fmt: LangPositions, value: str, docnum: int, pairs: Pairs | None) -> int:
        """One value, through the general path if it has more than 65535 positions (uint32 positions)."""
        if len(WORD_RE.findall(value)) <= 0xFFFF:
            return self.add_texts(fmt, [value], [docnum], pairs)[0]
        length = 0
        for tbytes, freq, weight, vbytes in fmt.index_items(value):
            self.add(tbytes.decode("utf-8"), docnum, weight, vbytes)
            length += freq
        if pairs is not None and pairs.wanted[0]:
            found = text_pairs(pairs.fieldname, fmt.token_terms(value))
            for term in sorted(found):
                pairs.postings.add(term.encode("utf-8"), docnum, 1.0, found[term])
        return length

    def _names(self) -> list[Any]:
        """The keys by number (a key's number is the count of keys before it)."""
        names = self.names
        if len(names) < len(self.keys):
            names.extend(itertools.islice(self.keys, len(names), None))
        return names

    def _pair_sites(self, pairs: Pairs, lang: str, tokens: Any, doc: Any) -> tuple[Any, Any, Any, Any] | None:
        """The pairs of the values (``analysis.text_pairs``: a pair word's term and the term at the next position,
        in one value): (value index, first term, second term, the pair's term number in ``pairs.postings``), each
        (value, pair) once, by value then pair (None: none). ``tokens``: each token's term number (or _NO_TERM)
        in order; ``doc``: its value's index."""
        keys = self.keys
        common = np.array([keys[w] for w in pair_words(lang) if w in keys], dtype=np.int64)
        if not len(common) or len(tokens) < 2:
            return None
        first, second = tokens[:-1], tokens[1:]
        at = np.flatnonzero(np.isin(first, common) & (second >= 0) & (doc[:-1] == doc[1:]) & pairs.wanted[doc[:-1]])
        if not len(at):
            return None
        distinct, which = np.unique((first[at] << 32) | second[at], return_inverse=True)
        both = np.unique(doc[at] * len(distinct) + which.reshape(-1))  # each (value, pair) once, by value
        value, pair = np.divmod(both, len(distinct))
        target = pairs.postings
        if self.pair_to is not target:
            self.pair_of, self.pair_to = {}, target
        pair_of = self.pair_of
        numbers = list(map(pair_of.get, distinct.tolist()))
        if None in numbers:
            names, tkeys, prefix = self._names(), target.keys, pairs.fieldname
            for i, key in enumerate(distinct.tolist()):
                if numbers[i] is None:
                    term = f"{prefix} {names[key >> 32]} {names[key & 0xFFFFFFFF]}".encode()
                    numbers[i] = pair_of[key] = tkeys.setdefault(term, len(tkeys))
        pairkeys = distinct[pair]
        return value, pairkeys >> 32, pairkeys & 0xFFFFFFFF, np.array(numbers, dtype=np.uint32)[pair]

    @staticmethod
    def _add_pairs(pairs: Pairs, value: Any, numbers: Any, freqs: Any, docnums: list[int]) -> None:
        """Postings of ``pairs.postings``: term ``numbers[i]`` in document ``docnums[value[i]]``, its value the
        two words' frequencies ``freqs[i]`` (``analysis.PairsFormat``)."""
        target = pairs.postings
        target.terms.frombytes(numbers.tobytes())
        target.docs.frombytes(np.asarray(docnums, dtype=np.uint32)[value].tobytes())
        target.weights.frombytes(np.ones(len(value), dtype=np.float32).tobytes())
        target.sizes.frombytes(np.full(len(value), 8, dtype=np.uint32).tobytes())
        target.values += np.ascontiguousarray(freqs, dtype="<u4").tobytes()


class Pairs:
    """Where ``_Postings.add_texts`` puts the pair terms of a text field's values: the pairs field's postings,
    the text field's name, and which of the values have theirs indexed (a bool array, one per value)."""

    __slots__ = ("fieldname", "postings", "wanted")

    def __init__(self, postings: _Postings, fieldname: str, wanted: Any) -> None:
        self.postings, self.fieldname, self.wanted = postings, fieldname, wanted

    def one(self, i: int) -> Pairs:
        """The same for value ``i`` alone."""
        return Pairs(self.postings, self.fieldname, self.wanted[i : i + 1])


_FEW = 8  # values of a field tokenized with WORD_RE rather than numpy (fixed costs per call)
_OTHER, _JOINER, _MARK, _WORDCHAR = 0, 1, 2, 3  # classes of characters for WORD_RE (_char_classes)


@functools.cache
def _char_classes() -> Any:
    """The class of every code point of the BMP for ``WORD_RE``: a \\w character (_WORDCHAR), another
    character of WORD_CHARS (_MARK: combining marks, tatweel), a WORD_JOINERS character, or none."""
    chars = "".join(map(chr, range(0x10000)))
    table = np.zeros(0x10000, dtype=np.uint8)
    for pattern, cls in ((WORD_CHARS + "+", _MARK), (r"\w+", _WORDCHAR), ("[" + WORD_JOINERS + "]", _JOINER)):
        for m in re.finditer(pattern, chars):
            table[m.start() : m.end()] = cls
    return table


_BASE = 0x9E3779B97F4A7C15  # odd: invertible modulo 2**64
_POWERS: list[Any] = []  # [B**i, B**-i] modulo 2**64 for i < their length (uint64)


def _powers(n: int) -> tuple[Any, Any]:
    if not _POWERS or len(_POWERS[0]) < n:
        size = max(n, 2 * len(_POWERS[0]) if _POWERS else 1 << 16)
        pos = np.empty(size, dtype=np.uint64)
        neg = np.empty(size, dtype=np.uint64)
        pos[0] = neg[0] = 1
        pos[1:] = _BASE
        neg[1:] = pow(_BASE, -1, 1 << 64)
        np.multiply.accumulate(pos, out=pos)  # wraps modulo 2**64, as intended
        np.multiply.accumulate(neg, out=neg)
        _POWERS[:] = [pos, neg]
    return _POWERS[0], _POWERS[1]


def _tokens(values: list[str]) -> tuple[list[str], Any, Any] | None:
    """``WORD_RE.findall`` of every value at once, with numpy: (the distinct words, each token's index
    in them, each token's value index), tokens in order. None when numpy cannot tell (a character past
    the BMP, a lone surrogate, a combining mark after a joiner: WORD_RE ends the word there): the caller
    then uses the regular expression.

    Characters are classed by a table (``_char_classes``); a word is a run of WORD_CHARS characters and
    joiners that sit between a word character and a \\w character. Words are told apart by a polynomial
    hash of their code points (prefix sums modulo 2**64), grouped by one ``np.unique``, and every token is
    checked character by character against its group's first token, so a hash collision cannot merge
    two words (it falls back instead). A Python step per distinct word per batch, none per token.
    """
    text = "\n".join(values)
    try:
        cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:
        return None
    n = len(cp)
    if not n or int(cp.max()) > 0xFFFF:
        return None
    cls = _char_classes()[cp]
    inword = cls >= _MARK
    joins = np.zeros(n, dtype=bool)
    if n > 2:
        joins[1:-1] = (cls[1:-1] == _JOINER) & inword[:-2] & (cls[2:] == _WORDCHAR)
        inword |= joins
    edges = np.diff(inword.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    if not len(starts):
        return [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if joins.any():  # WORD_RE ends a word at a mark after a joiner: leave such text to it
        marks = np.flatnonzero(cls == _MARK)
        if len(marks):
            seen = np.cumsum(joins)
            token_start = starts[np.searchsorted(starts, marks, side="right") - 1]
            if (seen[marks] > seen[token_start]).any():
                return None
    pos, neg = _powers(n + 1)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(cp.astype(np.uint64) * pos[:n], out=prefix[1:])
    lengths = ends - starts
    hashes = (prefix[ends] - prefix[starts]) * neg[starts] + lengths.astype(np.uint64)
    first, inverse = _groups(hashes)
    rep = first[inverse]
    if (lengths[rep] != lengths).any():
        return None
    other = np.flatnonzero(rep != np.arange(len(rep)))
    if len(other):  # every token holds its group's characters
        olen = lengths[other]
        step = np.arange(int(olen.sum())) - np.repeat(np.cumsum(olen) - olen, olen)
        if (cp[np.repeat(starts[other], olen) + step] != cp[np.repeat(starts[rep[other]], olen) + step]).any():
            return None
    words = [text[a:b] for a, b in zip(starts[first].tolist(), ends[first].tolist(), strict=True)]
    offsets = np.cumsum([len(v) + 1 for v in values]) - np.array([len(v) + 1 for v in values])
    doc = np.searchsorted(offsets, starts, side="right") - 1
    return words, inverse.reshape(-1), doc


def _groups(hashes: Any) -> tuple[Any, Any]:
    """Equal hashes grouped, groups in ascending order of hash: (a token of each group, each token's group).
    ``np.unique(return_index=True, return_inverse=True)`` sorts stably (its first token is the earliest);
    any token of a group serves here, and the default (SIMD) sort takes a third of the time."""
    perm = np.argsort(hashes)
    ordered = hashes[perm]
    new = np.empty(len(ordered), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(len(perm), dtype=np.int64)
    inverse[perm] = np.cumsum(new) - 1
    return perm[new], inverse


def _stable_order(keys: Any) -> Any:
    """``np.argsort(keys, kind="stable")`` of non-negative int64 keys: one sort of the keys with each one's
    index in its low bits (all distinct: an unstable sort gives the stable order) when they fit in 63 bits."""
    n = len(keys)
    if not n:
        return np.zeros(0, dtype=np.int64)
    shift = max(1, (n - 1).bit_length())
    if int(keys.max()) >= 1 << (63 - shift):
        return np.argsort(keys, kind="stable")
    packed = np.sort((keys << shift) | np.arange(n, dtype=np.int64))
    return packed & ((1 << shift) - 1)


_NO_TERM, _DROPPED = -1, -2  # a word without a term: keeps its position; a stop word: takes none
_H = ord("H")


class BulkSegmentWriter(SegmentWriter):  # type: ignore[misc]
    """A SegmentWriter that keeps postings in memory as flat arrays per field instead of pooling them.

    At the end each field's postings are ordered by term with one stable numpy sort (documents stay
    ascending within a term) and written a whole field at a time (``ArrayFieldWriter.write_field``).
    No write lock by default (a rebuild's workers: ``write_segments``' own writer holds it); the
    incremental writer (``writer.IndexWriter``) takes it with ``lock=True``.
    """

    #: Documents of merged segments (Whoosh's merge policy, at commit) kept in memory like added ones;
    #: a bigger merge (``commit(optimize=True)``) goes through Whoosh's pool, which spills to disk.
    MERGE_IN_MEMORY = 20_000
    #: Values of a plain field whose index terms are remembered (``_items_of``).
    ITEMS_KEPT = 4096

    def __init__(self, ix: Any, *, lock: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("codec", NewsCodec())
        kwargs.setdefault("compound", False)
        kwargs.setdefault("limitmb", 1)
        super().__init__(ix, _lk=lock, **kwargs)
        self.postings: dict[str, _Postings] = {}
        schema = self.schema
        self._simple = all(not f.vector and not f.separate_spelling() for f in (schema[n] for n in schema.names()))
        self._text = {n for n in schema.names() if isinstance(schema[n], LangText)}
        self._items: dict[str, dict[Any, list[tuple[bytes, int, float, bytes]]]] = {}
        self._merged_docs = 0
        self._pooled = False  # a merge went through the pool: so does the whole segment

    def _items_of(self, fieldname: str, field: Any, value: Any) -> list[tuple[bytes, int, float, bytes]]:
        """``field.index(value)``, remembered for the first ITEMS_KEPT values of each field (sites,
        languages, months, tags and sections repeat from document to document)."""
        kept = self._items.setdefault(fieldname, {})
        try:
            found = kept.get(value)
        except TypeError:  # an unhashable value
            return index_items(field, value)
        if found is None:
            found = index_items(field, value)
            if len(kept) < self.ITEMS_KEPT:
                kept[value] = found
        return found

    def _field_postings(self, fieldname: str) -> _Postings:
        found = self.postings.get(fieldname)
        if found is None:
            found = self.postings[fieldname] = _Postings()
        return found

    def add_document(self, **fields: Any) -> None:
        self.add_documents([fields])

    def add_documents(self, docs: list[dict[str, Any]]) -> None:
        """Add documents (``add_document``'s keywords as dicts): each language text field of the batch is
        analysed in one pass (``_Postings.add_texts``), then each document's stored fields, lengths,
        columns and plain fields are written as ``add_document`` writes them."""
        if not self._simple or any(name.startswith("_") for fields in docs for name in fields):
            raise ValueError("BulkSegmentWriter handles plain fields only (no vectors, spelling or _boost fields)")
        schema, text = self.schema, self._text
        for fields in docs:
            self._check_fields(schema, fields)
        first = self.docnum
        texts: dict[str, tuple[list[str], list[int]]] = {}
        for i, fields in enumerate(docs):
            for fieldname in text.intersection(fields):
                value = fields[fieldname]
                if isinstance(value, str):
                    values, which = texts.setdefault(fieldname, ([], []))
                    values.append(value)
                    which.append(i)
        # The pair terms (PAIRS_FIELD) are found as the texts are analysed when every document's value names
        # texts indexed in its text fields (article_to_doc's); else Whoosh's way, field.index, for the batch.
        paired = PAIRS_FIELD in schema and all(
            all(name in text and fields.get(name) is value for name, value in fields[PAIRS_FIELD].items())
            for fields in docs
            if fields.get(PAIRS_FIELD) is not None
        )
        lengths: dict[tuple[int, str], int] = {}
        for fieldname, (values, which) in texts.items():
            fmt = schema[fieldname].format
            pairs = None
            if paired and pair_words(fmt.lang):
                wanted = np.array([fieldname in (docs[i].get(PAIRS_FIELD) or ()) for i in which], dtype=bool)
                pairs = Pairs(self._field_postings(PAIRS_FIELD), fieldname, wanted) if wanted.any() else None
            found = self._field_postings(fieldname).add_texts(fmt, values, [first + i for i in which], pairs)
            lengths.update(((i, fieldname), n) for i, n in zip(which, found, strict=True))
        perdocwriter = self.perdocwriter
        for i, fields in enumerate(docs):
            docnum = first + i
            perdocwriter.start_doc(docnum)
            for fieldname in sorted(fields):
                value = fields[fieldname]
                if value is None:
                    continue
                field = schema[fieldname]
                length = lengths.get((i, fieldname), 0)
                if field.indexed and (i, fieldname) not in lengths and not (paired and fieldname == PAIRS_FIELD):
                    postings = self._field_postings(fieldname)
                    items = self._items_of(fieldname, field, value)
                    add = postings.add
                    for tbytes, freq, weight, vbytes in items:
                        if field.scorable:
                            length += freq
                        add(tbytes, docnum, weight, vbytes)
                perdocwriter.add_field(fieldname, field, value if field.stored else None, length)
                column = field.column_type
                if column:
                    perdocwriter.add_column_value(fieldname, column, field.to_column_value(value))
            perdocwriter.finish_doc()
            self._added = True
            self.docnum += 1

    def add_postings_to_pool(self, reader: Any, startdoc: int, docmap: Any) -> None:
        """A merged segment's postings (Whoosh's merge policy, at commit): in memory unless the merge is big."""
        self._merged_docs += reader.doc_count_all()
        if self._pooled or self._merged_docs > self.MERGE_IN_MEMORY:
            self._pooled = True
            super().add_postings_to_pool(reader, startdoc, docmap)
            return
        text = self._text
        # Merged documents are numbered after every added one, and merged segment after segment: each
        # term's document numbers stay ascending.
        lists = merge_lists(reader)
        if lists is None:  # another codec's segment, or inlined lists: term by term through Whoosh
            for fieldname, tbytes, docnum, weight, vbytes in self._process_posts(
                reader.iter_postings(), startdoc, docmap
            ):
                term = tbytes.decode("utf-8") if fieldname in text else tbytes
                self._field_postings(fieldname).add(term, docnum, weight, vbytes or b"")
            return
        renumber = None
        if docmap is not None:  # deleted documents are not in it
            renumber = np.full(reader.doc_count_all(), -1, dtype=np.int64)
            renumber[np.fromiter(docmap.keys(), dtype=np.int64)] = np.fromiter(docmap.values(), dtype=np.int64)
        for fieldname, (keys, counts, ids, weights, sizes, values) in lists.items():
            terms = [k.decode("utf-8") for k in keys] if fieldname in text else keys
            self._field_postings(fieldname).add_lists(terms, counts, ids, weights, sizes, values, startdoc, renumber)

    def _flush_segment(self) -> None:
        if self._pooled:  # a big merge: every posting through Whoosh's pool (sorted, spilled to disk)
            add = self.pool.add
            for fieldname, postings in self.postings.items():
                keys = [k.encode("utf-8") if isinstance(k, str) else k for k in postings.keys]
                blob, start = bytes(postings.values), 0
                for number, docnum, weight, size in zip(
                    postings.terms, postings.docs, postings.weights, postings.sizes, strict=True
                ):
                    add((fieldname, keys[number], docnum, weight, blob[start : start + size]))
                    start += size
            self.postings = {}
            super()._flush_segment()
            return
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        assert isinstance(lengths, NewsPerDocReader)
        try:
            for fieldname in sorted(self.postings):  # each field's postings freed once written
                self._write_field(fieldname, self.postings.pop(fieldname), lengths)
        finally:
            lengths.close()
        self.postings = {}

    def _write_field(self, fieldname: str, postings: _Postings, lengths: NewsPerDocReader) -> None:
        if not len(postings.terms):
            return
        keys = [k.encode("utf-8") if isinstance(k, str) else k for k in postings.keys]
        numbers = np.frombuffer(postings.terms, dtype=np.uint32)
        counts = np.bincount(numbers, minlength=len(keys))
        by_key = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
        by_key = by_key[counts[by_key] > 0]
        rank = np.zeros(len(keys), dtype=np.int32)  # 4 bytes a posting below, not 8
        rank[by_key] = np.arange(len(by_key))
        order = _stable_order(rank[numbers].astype(np.int64))  # by term; documents stay ascending within a term
        sizes = np.frombuffer(postings.sizes, dtype=np.uint32)
        self.fieldwriter.write_field(
            fieldname,
            self.schema[fieldname],
            [keys[i] for i in by_key.tolist()],
            counts[by_key],
            np.frombuffer(postings.docs, dtype=np.uint32),
            np.frombuffer(postings.weights, dtype=np.float32),
            sizes,
            np.frombuffer(postings.values, dtype=np.uint8),
            lengths.length_bytes(fieldname) if lengths.has_column(lenfield(fieldname)) else None,
            order=order,
        )

    def finish(self) -> Any:
        """Write the segment and return it (for a TOC the caller commits)."""
        return self._finalize_segment()  # the temp directory is shared: the TOC's committer removes it


def _segments(
    ix: Any, batches: Iterable[list[dict[str, Any]]], segment_docs: int, first_docs: int | None = None
) -> list[Any]:
    """Write the documents of ``batches`` as segments of about ``segment_docs`` documents each (the first
    of ``first_docs``, when given)."""
    segments: list[Any] = []
    writer: BulkSegmentWriter | None = None
    size = first_docs or segment_docs
    for batch in batches:
        if writer is None:
            writer = BulkSegmentWriter(ix)
        writer.add_documents(batch)
        if writer.doc_count() >= size:
            segments.append(writer.finish())
            writer = None
            size = segment_docs
    if writer is not None:
        segments.append(writer.finish())
    return segments


def _batches(docs: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _worker(path: str, jobs: Any, results: Any, segment_docs: int, first_docs: int) -> None:
    # Millions of long-lived postings make every full garbage collection walk them all; this short-lived
    # process makes no reference cycles worth collecting.
    gc.disable()
    try:
        segments = _segments(whoosh_index.open_dir(path), iter(jobs.get, None), segment_docs, first_docs)
        results.put(("ok", segments))
    except BaseException as exc:  # reported to the parent, which fails the rebuild
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def write_segments(ix: Any, docs: Iterable[dict[str, Any]], *, procs: int, segment_docs: int = SEGMENT_DOCS) -> int:
    """Add ``docs`` to the (new, empty) index ``ix`` with ``procs`` worker processes; returns the count."""
    lock_holder = ix.writer(codec=NewsCodec(), compound=False)  # holds the write lock, commits the TOC
    count = 0

    def counted() -> Iterator[list[dict[str, Any]]]:
        nonlocal count
        for batch in _batches(docs):
            count += len(batch)
            yield batch

    workers: list[Any] = []
    try:
        if procs <= 1:
            segments = _segments(ix, counted(), segment_docs)
        else:
            # Fork is fast and needs no importable __main__, but must not copy a process whose other
            # threads may hold locks (an ingest run): then spawn.
            fork = threading.active_count() == 1 and os.name == "posix"
            import multiprocessing  # here: a search process (which imports this module) never needs it

            ctx = multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
            jobs, results = ctx.Queue(procs * 2), ctx.Queue()
            # A worker's memory peaks while it writes a segment. Workers take batches in turn, so with equal
            # segments they would all write (and peak) at once: worker i's first segment holds (i + 1) / procs
            # of a segment instead, which spreads their writes evenly (2 workers: one writes while the other
            # is half full; one more, smaller segment).
            workers = [
                ctx.Process(
                    target=_worker,
                    args=(ix.storage.folder, jobs, results, segment_docs, max(1, segment_docs * (i + 1) // procs)),
                    daemon=True,
                )
                for i in range(procs)
            ]
            for w in workers:
                w.start()
            for batch in counted():
                _put(jobs, batch, workers)
            for _ in workers:
                _put(jobs, None, workers)
            segments = []
            for _ in workers:
                status, payload = _get(results, workers)
                if status != "ok":
                    raise SearchIndexError(f"an index worker failed: {payload}")
                segments.extend(payload)
            for w in workers:
                w.join()
    except BaseException:
        for w in workers:
            if w.pid is not None:  # a worker that never started (spawn refused, say) has nothing to kill
                w.kill()
        lock_holder.cancel()
        raise
    commit_segments(lock_holder, segments)
    return count


def _alive(workers: list[Any]) -> None:
    dead = [w for w in workers if not w.is_alive() and w.exitcode not in (0, None)]
    if dead:
        raise SearchIndexError(f"an index worker died (exit status {dead[0].exitcode})")


def _put(jobs: Any, item: Any, workers: list[Any]) -> None:
    while True:
        try:
            jobs.put(item, timeout=_POLL)
            return
        except queue.Full:
            _alive(workers)


def _get(results: Any, workers: list[Any]) -> tuple[str, Any]:
    while True:
        try:
            return results.get(timeout=_POLL)  # type: ignore[no-any-return]
        except queue.Empty:
            _alive(workers)
            if all(not w.is_alive() for w in workers) and results.empty():
                raise SearchIndexError("the index workers stopped without reporting") from None
