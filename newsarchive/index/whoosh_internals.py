"""Every use newsarchive makes of Whoosh's internals, in one place.

Whoosh 2.7.4 (2016) is the last release, and pyproject pins it (``whoosh==2.7.4``): the
differential tests (tests/test_index_codec.py, tests/test_search_speedups.py) compare our index
with stock Whoosh 2.7.4. The index codec (index/codec.py), the bulk rebuild (index/bulk.py), the
commit that retires old files after a grace period (index/writer.py) and the search evaluator
(index/evaluate.py) build on names Whoosh does not document. This module is the whole of that
surface; a maintainer moving to another Whoosh (or away from it) starts here.
``tests/test_whoosh_internals.py`` keeps it the whole of it, with no module exempt:

1. **Internal modules** (any module not in ``PUBLIC_MODULES``: ``whoosh.codec.whoosh3``,
   ``whoosh.util.*``, ``whoosh.filedb.*``, ``whoosh.analysis.acore``, ...) are imported here only.
   The names other modules need are re-exported below, each with why.
2. **Private attributes of Whoosh objects**, read or called from outside the object: through the
   functions below, never ``obj._name`` elsewhere.
3. **Private state our subclasses inherit**: the codec's writers and matchers replace Whoosh's
   block methods (that is what the codec is), so they read and set Whoosh's per-block fields on
   ``self``. ``INHERITED`` lists, for each Whoosh base class, every private name our subclasses use
   or override, and why; the test fails on a name missing from it.

Undocumented but without an underscore (so no test can tell them from API), used by our subclasses
and listed here for completeness: SegmentWriter's ``perdocwriter``, ``fieldwriter``, ``docnum``, ``pool`` and
``per_document_reader()`` (bulk.py writes documents and posting lists itself); W3TermInfo's
``add_block``, ``extent``, ``is_inlined`` and ``inlined_postings`` and the terms reader's
``matcher`` (codec.py). ``codec.term_blocks`` also copes with a quirk of 2.7.4: ``extent()`` of a
term read back from disk gives its length as a 1-tuple.

Monkeypatches: none. Nothing replaces a Whoosh function or attribute at run time; newsarchive
subclasses Whoosh's classes and hands its own in (``codec=NewsCodec()``, ``IndexWriter(ix)``).
One import-time measure sits outside this module because it must run before Whoosh is imported at
all: ``newsarchive/cli/_startup.py`` lets a reading command load ``whoosh.compat`` (internal) without
``urllib.request``, which Whoosh imports for a function it never calls; it changes no Whoosh object.

What uses what: the codec (index/codec.py) the W3 classes, ``lenfield``, ``segment_perdoc``,
``segment_terms``, ``terms_postfile``, ``posting_bytes`` (a memory map of the postings file), ``text_to_bytes``,
``byte_column``, ``add_terms`` and the
length byte encoding; the bulk rebuild (index/bulk.py) ``commit_segments``; the commit
(index/writer.py) ``toc_patterns``; term lookups (``codec.term_postings``) ``term_info``, which reads a
segment's term table (``_terms._tindex``: its hash directory, hash function and file; ``_fieldmap``)
through a memory map instead of Whoosh's seek-and-read per slot; the search evaluator
(index/evaluate.py) ``byte_to_length``,
``deleted_docs``, ``numeric_column_values``, ``varbytes_column_arrays``, ``numeric_range_terms``
and ``expanded_terms``; fuzzy terms (``index.filters.Fuzzy``) ``fuzzy_terms``; did-you-mean (search.py)
``prefix_terms`` (the term table's ordered index, through the same memory map), ``near_terms`` and
``edit_distance``; PostgreSQL search (index/pg_search.py) ``edit_distance``, ``near_terms`` and
``pattern_parts``, to expand fuzzy terms and patterns and to find did-you-mean's words as Whoosh does.
The evaluator's functions read a whole column or a segment's deletions once per segment and query, never
once per document or posting.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import mmap
import struct
import sys
import weakref
from array import array
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from hashlib import md5
from typing import Any

import whoosh

# whoosh.automata.lev, whoosh.automata.fsa and whoosh.codec.base (undocumented): the Levenshtein automaton and its
# walk over a field's terms, which SegmentReader.terms_within uses (or over a sorted list: find_all_matches);
# fuzzy_terms and near_terms add swaps to the automaton.
from whoosh.analysis import IDTokenizer, RegexTokenizer
from whoosh.automata.fsa import find_all_matches
from whoosh.automata.lev import levenshtein_automaton
from whoosh.codec.base import Automata

# whoosh.codec.whoosh3 (undocumented) is W3, the codec Whoosh 2.7 writes. NewsCodec keeps its term index,
# stored fields, columns and segments and replaces only the posting blocks, so it subclasses the codec,
# its field writer, postings writer, leaf matcher and per-document reader; W3TermInfo is the term info
# whose bytes codec.field_posting_bytes writes for every term of a field at once.
# LENGTHS_COLUMN is the column type W3 keeps field lengths in (a byte per document);
# WHOOSH3_HEADER_MAGIC the 4 bytes W3 writes before a term's first block, which NewsCodec writes too.
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3LeafMatcher,
    W3PerDocReader,
    W3PostingsWriter,
    W3TermInfo,
    _lenfield,
)
from whoosh.columns import VarBytesColumn
from whoosh.fields import DATETIME, ID, KEYWORD

# whoosh.filedb.filetables (undocumented): the term table's default hash function (MD5, hash type 0).
from whoosh.filedb.filetables import md5_hash
from whoosh.formats import Frequency
from whoosh.index import TOC
from whoosh.reading import TermNotFound

# whoosh.util.numeric (undocumented): the one-byte field-length encoding. Array blocks store each block's
# min and max length in Whoosh's byte form, so that W3's block-quality code reads them as it reads its own.
from whoosh.util.numeric import byte_to_length, length_to_byte

#: The Whoosh release this module was written and tested against (pyproject pins it).
WHOOSH_VERSION = (2, 7, 4)
#: The version installed.
INSTALLED_VERSION: tuple[int, ...] = tuple(whoosh.__version__)

#: Whoosh modules any module may import: the ones Whoosh 2.7.4 documents as its API (its "Whoosh
#: API" reference pages), plus ``whoosh.lang.stopwords``, the plain word lists behind
#: ``whoosh.lang.stopwords_for_language``.
PUBLIC_MODULES = frozenset(
    {
        "whoosh",
        "whoosh.analysis",
        "whoosh.collectors",
        "whoosh.columns",
        "whoosh.fields",
        "whoosh.formats",
        "whoosh.highlight",
        "whoosh.idsets",
        "whoosh.index",
        "whoosh.lang",
        "whoosh.lang.stopwords",
        "whoosh.matching",
        "whoosh.qparser",
        "whoosh.qparser.dateparse",
        "whoosh.query",
        "whoosh.reading",
        "whoosh.scoring",
        "whoosh.searching",
        "whoosh.sorting",
        "whoosh.spelling",
        "whoosh.writing",
    }
)

__all__ = [
    "LENGTHS_COLUMN",
    "WHOOSH3_HEADER_MAGIC",
    "W3Codec",
    "W3FieldWriter",
    "W3LeafMatcher",
    "W3PerDocReader",
    "W3PostingsWriter",
    "W3TermInfo",
    "add_terms",
    "bm25f_field_b",
    "byte_column",
    "byte_to_length",
    "close_term_table",
    "commit_segments",
    "deleted_docs",
    "expanded_terms",
    "fuzzy_terms",
    "index_items",
    "lenfield",
    "length_to_byte",
    "near_terms",
    "numeric_column_values",
    "numeric_range_terms",
    "posting_bytes",
    "prefix_terms",
    "segment_perdoc",
    "segment_terms",
    "term_info",
    "terms_postfile",
    "text_to_bytes",
    "toc_file_name",
    "toc_patterns",
    "varbytes_column_arrays",
]


def lenfield(fieldname: str) -> str:
    """The name of the column in which W3 keeps a field's lengths (``whoosh3._lenfield``)."""
    return str(_lenfield(fieldname))


def segment_perdoc(segment_reader: Any) -> Any | None:
    """A SegmentReader's per-document reader (``_perdoc``); None for readers without one (an empty index).

    The codec reads a segment's field lengths and the evaluator its columns as whole arrays from it.
    """
    return getattr(segment_reader, "_perdoc", None)


def segment_terms(segment_reader: Any) -> Any | None:
    """A SegmentReader's terms reader (``_terms``); None for readers without one (an empty index).

    ``codec.term_blocks`` reads a term's posting list in one read from the terms reader's posting file.
    """
    return getattr(segment_reader, "_terms", None)


def terms_postfile(terms_reader: Any) -> Any:
    """The posting file a W3TermsReader reads from (``_postfile``)."""
    return terms_reader._postfile


def text_to_bytes(segment_reader: Any, fieldname: str, text: Any) -> bytes:
    """A term as the index stores it (``IndexReader._text_to_bytes``: the field's own encoding of text)."""
    return bytes(segment_reader._text_to_bytes(fieldname, text))


def byte_column(column_reader: Any) -> bytes:
    """Every value of a one-byte-per-document column (the lengths column), in one read.

    Whoosh's column reader answers a document at a time; its file, base offset and document count
    (``_dbfile``, ``_basepos``, ``_doccount``) give the whole column.
    """
    return bytes(column_reader._dbfile.get(column_reader._basepos, column_reader._doccount))


def bm25f_field_b(weighting: Any, fieldname: str) -> float:
    """BM25F's B for one field (``_field_B``, from ``FIELD_B=`` keywords; else ``B``), as its scorer() picks it.

    The evaluator computes BM25F's parameters itself from the posting lists it read, instead of a
    scorer per segment (each looks the term up again in every segment).
    """
    return float(weighting._field_B.get(fieldname, weighting.B))


def toc_file_name(indexname: str, generation: int) -> str:
    """The TOC file of one commit (``TOC._filename``): a search keeps its reader while this file stays the same."""
    return str(TOC._filename(indexname, generation))


def toc_patterns(indexname: str) -> tuple[Any, Any]:
    """(TOC file name pattern, segment file name pattern) of an index (``TOC._pattern``, ``TOC._segment_pattern``).

    The commit that retires old files (writer.retire_files) tells the files of older commits apart
    with the same patterns Whoosh's ``clean_files`` uses.
    """
    return TOC._pattern(indexname), TOC._segment_pattern(indexname)


_KEY_VALUE_LENGTHS = struct.Struct("!ii")  # filetables._lengths: a record's key and value lengths


def add_terms(tindex: Any, items: list[tuple[bytes, bytes]]) -> None:
    """``OrderedHashWriter.add`` for many (key, value) records in increasing key order, in one write.

    What the term table's ``add`` does per term (a record of lengths, key and value at the end of the
    file; the record's position in ``index`` and, with the key's hash, in one of 256 ``buckets``;
    ``lastkey``), with the file position counted instead of asked for (``tell`` is a system call),
    the records joined into one write, the positions added to ``index`` at once and MD5's hash taken
    from the digest's bytes (``filetables.md5_hash`` goes through its hex string). The ordered
    writer's check that keys increase is kept.
    """
    if not items:
        return
    dbfile = tindex.dbfile
    pos = dbfile.tell()
    buckets = tindex.buckets
    hashfn = _md5_low32 if tindex.hashfn is md5_hash else tindex.hashfn
    pack = _KEY_VALUE_LENGTHS.pack
    head = _KEY_VALUE_LENGTHS.size
    last = tindex.lastkey
    parts: list[bytes] = []
    positions: list[int] = []
    for key, value in items:
        if key <= last:
            raise ValueError(f"Keys must increase: {last!r}..{key!r}")
        last = key
        positions.append(pos)
        h = hashfn(key)
        buckets[h & 255].append((h, pos))
        parts += (pack(len(key), len(value)), key, value)
        pos += head + len(key) + len(value)
    dbfile.write(b"".join(parts))
    index = tindex.index  # a GrowableArray: a wider type code when a position outgrows it
    values = index.array
    if isinstance(values, array) and positions[-1] < _ARRAY_LIMITS.get(values.typecode, 0):
        values.extend(positions)
    else:
        for p in positions:
            index.append(p)
    tindex.lastkey = last


_ARRAY_LIMITS = {"H": 1 << 16, "i": 1 << 31, "I": 1 << 32, "q": 1 << 63}
_DIR_ENTRY = struct.Struct("!qi")  # filetables._dir_entry: a hash table's position and slot count


def _md5_low32(key: bytes) -> int:
    """``filetables.md5_hash``: the low 32 bits of the key's MD5 (its last four bytes, big-endian)."""
    return int.from_bytes(md5(key).digest()[12:], "big")


def close_term_table(tindex: Any) -> None:
    """``HashWriter.close`` of a term table, with its 256 hash tables packed a table per write.

    Whoosh's ``_write_hashes`` writes every slot (two per term) with its own ``write`` call. The
    slots are placed as it places them (linear probing from ``(hash >> 8) % slots``, in the order
    the terms were added), so the file is the same byte for byte.
    """
    dbfile = tindex.dbfile
    directory = tindex.directory
    for entries in tindex.buckets:
        pos = dbfile.tell()
        numslots = 2 * len(entries)
        directory.append((pos, numslots))
        if not numslots:
            continue
        table: list[tuple[int, int] | None] = [None] * numslots
        for hashval, position in entries:
            slot = (hashval >> 8) % numslots
            while table[slot] is not None:
                slot = (slot + 1) % numslots
            table[slot] = (hashval, position)
        packed = struct.Struct("!" + "Iq" * numslots)
        dbfile.write(packed.pack(*itertools.chain.from_iterable(t or (0, 0) for t in table)))
    dbfile.write(b"".join(_DIR_ENTRY.pack(position, numslots) for position, numslots in directory))
    expos = dbfile.tell()
    tindex._write_extras()
    dbfile.write_int(dbfile.tell() - expos)
    dbfile.close()


def commit_segments(writer: Any, segments: list[Any]) -> None:
    """Commit ``segments`` (written by other writers) as the index's new TOC, through ``writer``.

    What ``SegmentWriter.commit`` does after writing its own segment, for segments the bulk
    rebuild's workers wrote: close the writer's (empty) segment, write the TOC, release the lock
    (``_close_segment``, ``_commit_toc``, ``_finish``; the MpWriter of Whoosh does the same).
    """
    writer._close_segment()
    writer._commit_toc(segments)
    writer._finish()


#: Whoosh base class -> the private names (fields and methods) our subclasses of it use or override.
INHERITED: dict[str, dict[str, str]] = {
    "whoosh.query.terms.FuzzyTerm": {
        "_btexts": "overridden by index.filters.Fuzzy: the terms within the edit distance, every segment alike",
    },
    "whoosh.query.terms.Wildcard": {
        "_btexts": "overridden by wildcard.StemPattern: the stems a pattern stands for (wildcard.plan), as "
        "MultiTerm's matcher, expanded_terms and existing_terms read them",
    },
    "whoosh.codec.whoosh3.W3Codec": {
        "_blocklimit": "NewsCodec passes W3's posting block size on to its own postings writer",
    },
    "whoosh.codec.whoosh3.W3PerDocReader": {
        "_cached_reader": "NewsPerDocReader.length_bytes opens the lengths column as W3 does (and shares its cache)",
    },
    "whoosh.codec.whoosh3.W3FieldWriter": {
        "_postwriter": "ArrayFieldWriter.write_field asks its postings writer for the block size",
        "_tindex": "the term table: ArrayFieldWriter adds a field's term infos itself (W3's finish_term does), "
        "and closes it (close_term_table)",
        "_fieldid": "the field's number, the first two bytes of a term's key in the term table",
        "_format": "the field's posting format (fixed or variable value size), read by write_field",
        "_postfile": "the posting file: where a field's lists start, and where write_field writes them",
    },
    "whoosh.codec.whoosh3.W3PostingsWriter": {
        "_blocklimit": "postings per block",
        "_ids": "the block being filled: document numbers (ArrayPostingsWriter fills it from arrays)",
        "_weights": "the block being filled: weights",
        "_values": "the block being filled: encoded values (positions)",
        "_maxweight": "block statistic W3's terminfo reads (add_block)",
        "_minlength": "block statistic W3's terminfo reads",
        "_maxlength": "block statistic W3's terminfo reads",
        "_write_block": "overridden: writes the array block format (codec.py's docstring)",
        "_postfile": "where _write_block writes",
        "_blockcount": "0 until the first block: the header magic goes first",
        "_terminfo": "the term's statistics, updated per block",
        "_format": "the field's posting format: fixed or variable value size",
        "_new_block": "resets the block buffers after a block is written",
    },
    "whoosh.codec.whoosh3.W3LeafMatcher": {
        "_goto": "overridden: reads an array block header",
        "_read_data": "overridden: nothing to read up front (ids, weights, values are read on demand)",
        "_read_ids": "overridden: ids as one array",
        "_read_weights": "overridden: weights as one array (or all 1.0)",
        "_read_values": "overridden: values decoded only when asked for (phrase queries)",
        "_postfile": "the posting file blocks are read from",
        "_data": "W3's per-block cache: reset on each block",
        "_ids": "the current block's ids, read by W3's id()/next()/skip_to()",
        "_weights": "the current block's weights, read by W3's weight()",
        "_values": "the current block's values, read by W3's value()",
        "_i": "the position in the current block",
        "_lastblock": "set on the term's last block: W3's next() stops there",
        "_nextoffset": "where the next block starts",
        "_blocklength": "postings in the current block",
        "_maxid": "block statistic for W3's skipping",
        "_maxweight": "block statistic for W3's block quality",
        "_minlength": "block statistic for W3's block quality",
        "_maxlength": "block statistic for W3's block quality",
        "_compression": "always 0: array blocks are not compressed",
        "_dataoffset": "where the block's data starts: W3's field name, set by our _goto, read by our _read_* methods",
        "_fixedsize": "the format's fixed value size (None: variable)",
    },
    "whoosh.writing.SegmentWriter": {
        "_lk": "constructor keyword, False for BulkSegmentWriter: no write lock (write_segments' own writer holds it)",
        "_check_fields": "BulkSegmentWriter checks field names as add_document does",
        "_added": "set when a document is added (Whoosh commits a segment only then)",
        "_flush_segment": "overridden: BulkSegmentWriter writes its in-memory posting lists instead of the pool",
        "_finalize_segment": "writes and closes a worker's segment without committing a TOC",
        "_commit_toc": "overridden by IndexWriter: the TOC, then retire_files instead of clean_files",
        "_process_posts": "BulkSegmentWriter.add_postings_to_pool renumbers a merged segment's postings as Whoosh does",
    },
}


# -- the search evaluator (index/evaluate.py): whole arrays per segment instead of a call per document --


class _MappedTable:
    """A segment's term table read through a memory map: what ``HashReader.ranges_for_key`` reads, sliced
    from memory instead of a ``seek`` and a ``read`` per slot, length and key (three to five system calls
    and a dozen Python calls per term, most of a missing term's lookup)."""

    __slots__ = ("__weakref__", "fieldmap", "map", "tables")

    def __init__(self, terms_reader: Any) -> None:
        tindex = terms_reader._tindex
        self.fieldmap: dict[str, int] = dict(terms_reader._fieldmap)
        self.tables: list[tuple[int, int]] = list(tindex.tables)
        self.map = mmap.mmap(tindex.dbfile.file.fileno(), 0, access=mmap.ACCESS_READ)

    def value(self, fieldname: str, tbytes: bytes) -> bytes | None:
        fnum = self.fieldmap.get(fieldname)
        if fnum is None:
            return None
        key = _USHORT.pack(fnum) + tbytes
        keyhash = _md5_low32(key)
        tablestart, numslots = self.tables[keyhash & 255]
        if not numslots:
            return None
        buf = self.map
        tableend = tablestart + numslots * _SLOT.size
        slotpos = tablestart + ((keyhash >> 8) % numslots) * _SLOT.size
        for _ in range(numslots):
            slothash, itempos = _SLOT.unpack_from(buf, slotpos)
            if not itempos:
                return None
            if slothash == keyhash:
                keylen, datalen = _KEY_VALUE_LENGTHS.unpack_from(buf, itempos)
                keystart = itempos + _KEY_VALUE_LENGTHS.size
                if keylen == len(key) and buf[keystart : keystart + keylen] == key:
                    return buf[keystart + keylen : keystart + keylen + datalen]
            slotpos += _SLOT.size
            if slotpos == tableend:
                slotpos = tablestart
        return None


_SLOT = struct.Struct("!Iq")  # filetables._pointer: a hash slot's (hash, record position)
_USHORT = struct.Struct("!H")  # whoosh3's pack_ushort: a field's number, the first two bytes of a term's key
_MAPPED: weakref.WeakKeyDictionary[Any, _MappedTable | None] = weakref.WeakKeyDictionary()


def term_info(segment_reader: Any, fieldname: str, text: Any) -> Any | None:
    """``SegmentReader.term_info`` (a W3TermInfo), or None for a term the segment lacks.

    The lookup is ``W3TermsReader.term_info``'s (key: the field's number, ``_fieldmap``, then the term's
    bytes; MD5 hash tables, ``_tindex``), read from a memory map of the term table's file kept per
    terms reader. Term tables of other files (not a real file, or a hash other than MD5) go through
    Whoosh's reader.
    """
    terms = getattr(segment_reader, "_terms", None)
    if terms is None or fieldname not in segment_reader.schema:
        return None
    table = _per_reader(_MAPPED, terms, _map_table)
    if table is None:
        try:
            return segment_reader.term_info(fieldname, text)
        except TermNotFound:
            return None
    value = table.value(fieldname, text_to_bytes(segment_reader, fieldname, text))
    return None if value is None else W3TermInfo.from_bytes(value)


_POSTFILES: weakref.WeakKeyDictionary[Any, mmap.mmap | None] = weakref.WeakKeyDictionary()


def _per_reader(kept: weakref.WeakKeyDictionary[Any, Any], reader: Any, make: Callable[[Any], Any]) -> Any:
    """``make(reader)`` (a memory map of one of a segment's files), made once per reader object and kept while
    the reader lives; None for a reader that cannot be weakly referenced (the caller then reads through Whoosh)."""
    try:
        return kept[reader]
    except KeyError:
        found = kept[reader] = make(reader)
        return found
    except TypeError:  # not weak-referenceable
        return None


def posting_bytes(terms_reader: Any, offset: int, length: int) -> bytes | memoryview:
    """The bytes of one posting list of a segment (``W3TermsReader._postfile``, ``offset`` and ``length`` from its
    term info): a slice of a memory map of the postings file, kept per terms reader, instead of a ``seek`` and
    a ``read`` that copies them (a frequent word's list is megabytes; a process that searches again reads the
    pages it mapped without copying or faulting them in again). A file that cannot be mapped is read."""
    mapped = _per_reader(_POSTFILES, terms_reader, _map_postings)
    if mapped is None or offset + length > len(mapped):
        return bytes(terms_reader._postfile.get(offset, length))
    return memoryview(mapped)[offset : offset + length]


def _map_postings(terms_reader: Any) -> mmap.mmap | None:
    fileobj: Any = getattr(getattr(terms_reader, "_postfile", None), "file", None)
    if fileobj is None or not hasattr(fileobj, "fileno"):
        return None
    try:
        return mmap.mmap(fileobj.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # an empty file, a file object without a real descriptor
        return None


def prefix_terms(segment_reader: Any, fieldname: str, prefix: str) -> list[str]:
    """The terms of a text field that start with ``prefix`` in one segment, in order (``expand_prefix``).

    The term table is ordered (``OrderedHashReader``): two binary searches of its index of record positions
    (``indexbase``, ``indexlen``, ``extras["indextype"]``; big-endian) find the records of the keys that start
    with the field's number and the prefix, and their key lengths are read at once with numpy; all from the
    memory map ``term_info`` reads (Whoosh's cursor seeks and reads for each probe of a search and each
    record: most of a did-you-mean's time).
    """
    terms = getattr(segment_reader, "_terms", None)
    if terms is None or fieldname not in segment_reader.schema:
        return []
    table = _per_reader(_MAPPED, terms, _map_table)
    tindex: Any = getattr(terms, "_tindex", None)
    indextype = getattr(tindex, "extras", {}).get("indextype")
    if table is None or indextype not in _NUMPY_INDEX or not hasattr(tindex, "indexbase"):
        found = segment_reader.expand_prefix(fieldname, prefix)
        return [t.decode("utf-8") if isinstance(t, bytes) else t for t in found]
    import numpy as np  # here: PostgreSQL search imports this module without the evaluator's numpy

    fnum = table.fieldmap.get(fieldname)
    if fnum is None:
        return []
    key = _USHORT.pack(fnum) + prefix.encode("utf-8")
    buf = table.map
    slot = struct.Struct("!" + indextype)
    base, count, head = tindex.indexbase, tindex.indexlen, _KEY_VALUE_LENGTHS.size

    def first_at_or_after(wanted: bytes) -> int:
        lo, hi = 0, count
        while lo < hi:
            mid = (lo + hi) // 2
            pos = slot.unpack_from(buf, base + mid * slot.size)[0]
            keylen = _KEY_VALUE_LENGTHS.unpack_from(buf, pos)[0]
            if buf[pos + head : pos + head + keylen] < wanted:
                lo = mid + 1
            else:
                hi = mid
        return lo

    # The prefix's records: from the first key at or after it to the first after every key it starts (no
    # UTF-8 byte is 0xff); their positions from the index, their key lengths read at once.
    lo, hi = first_at_or_after(key), first_at_or_after(key + b"\xff")
    if lo >= hi:
        return []
    positions = np.frombuffer(buf[base + lo * slot.size : base + hi * slot.size], dtype=">" + _NUMPY_INDEX[indextype])
    positions = positions.astype(np.int64)
    start = int(positions[0])
    last = int(positions[-1])
    end = last + head + _KEY_VALUE_LENGTHS.unpack_from(buf, last)[0]
    region = buf[start:end]
    at = positions - start
    raw = np.frombuffer(region, dtype=np.uint8).astype(np.int64)
    keylens = (raw[at] << 24) | (raw[at + 1] << 16) | (raw[at + 2] << 8) | raw[at + 3]  # _KEY_VALUE_LENGTHS' first
    spans = zip(at.tolist(), keylens.tolist(), strict=True)
    return [region[a + head + 2 : a + head + k].decode("utf-8") for a, k in spans]  # after the field's number


#: numpy's type of each type code of an ordered term table's index of record positions (big-endian).
_NUMPY_INDEX = {"B": "u1", "H": "u2", "i": "i4", "I": "u4", "q": "i8"}


def _map_table(terms_reader: Any) -> _MappedTable | None:
    tindex = getattr(terms_reader, "_tindex", None)
    dbfile = getattr(tindex, "dbfile", None)
    fileobj = getattr(dbfile, "file", None)
    if tindex is None or tindex.hashfn is not md5_hash or tindex.startoffset or not hasattr(fileobj, "fileno"):
        return None
    try:
        return _MappedTable(terms_reader)
    except (OSError, ValueError, AttributeError):
        return None


def term_records(terms_reader: Any) -> list[tuple[str, bytes, bytes]] | None:
    """Every term of a segment's term table in file order: (field name, term bytes, its W3TermInfo bytes).

    ``HashReader.items`` reads the records between ``startofdata`` and ``endofdata`` (key length, value
    length, key, value, one after the other) with two ``seek``+``read`` pairs each; here they are sliced
    from a memory map. A key is the field's number (``_fieldmap``) then the term. None: a table that is
    not memory-mapped (see ``term_info``), or a record of a field the segment does not name.
    """
    table = _map_table(terms_reader)
    if table is None:
        return None
    tindex = terms_reader._tindex
    names = {number: name for name, number in table.fieldmap.items()}
    buf, pos, end = table.map, tindex.startofdata, tindex.endofdata
    unpack = _KEY_VALUE_LENGTHS.unpack_from
    size = _KEY_VALUE_LENGTHS.size
    out = []
    try:
        while pos < end:
            keylen, datalen = unpack(buf, pos)
            key = buf[pos + size : pos + size + keylen]
            name = names.get((key[0] << 8) | key[1])
            if name is None:
                return None
            out.append((name, key[2:], buf[pos + size + keylen : pos + size + keylen + datalen]))
            pos += size + keylen + datalen
    finally:
        table.map.close()
    return out


def deleted_docs(segment_reader: Any) -> frozenset[int]:
    """The deleted document numbers of a segment, in one call (``SegmentReader._segment.deleted_docs()``).

    ``IndexReader.is_deleted`` answers a document at a time; the segment (``_segment``, undocumented)
    holds the whole set. Readers without one (an empty index) are asked document by document.
    """
    if not segment_reader.has_deletions():
        return frozenset()
    segment = getattr(segment_reader, "_segment", None)
    if segment is not None and hasattr(segment, "deleted_docs"):
        return frozenset(segment.deleted_docs())
    return frozenset(d for d in range(segment_reader.doc_count_all()) if segment_reader.is_deleted(d))


def numeric_column_values(column_reader: Any, count: int) -> array[Any] | None:
    """Every value of a numeric column for a segment's ``count`` documents, read as one array.

    None for a column reader that is not a ``NumericColumn.Reader`` (the caller reads it as Whoosh
    does). Whoosh's reader unpacks a document at a time; its type code, value width, stored value
    count, file, start and default (``_typecode``, ``_fixedlen``, ``_count``, ``_basepos``,
    ``_dbfile``, ``_default``) give the whole column: ``_count`` big-endian values of ``_fixedlen``
    bytes from ``_basepos``, then the default for the documents past them (2.7.4's writer stops at
    the last document with a value other than the default).
    """
    typecode = getattr(column_reader, "_typecode", None)
    if typecode is None or not hasattr(column_reader, "_dbfile"):
        return None
    stored = min(column_reader._count, count)
    values = array(typecode)
    values.frombytes(bytes(column_reader._dbfile.get(column_reader._basepos, stored * column_reader._fixedlen)))
    if sys.byteorder == "little":  # columns are big-endian on disk
        values.byteswap()
    if stored < count:
        values.extend([column_reader._default] * (count - stored))
    return values


def varbytes_column_arrays(segment_reader: Any, column: str) -> tuple[bytes, Any, Any] | None:
    """(data, offsets, lengths) of a ``VarBytesColumn`` in a segment: document d's value is
    ``data[offsets[d] : offsets[d] + lengths[d]]``. None for another column type or reader (the caller
    reads it as Whoosh does).

    Whoosh's column reader derives every offset in a Python loop over the segment's documents as soon
    as it is made, then reads a document at a time. This opens the column's file as the per-document
    reader does (``_perdoc``, its cache of open column files ``_colfiles`` and ``_get_column_file``,
    sharing that cache) and reads the arrays where 2.7.4's ``VarBytesColumn.Writer.finish`` lays them
    out: the values, then (above ``cutoff`` documents) the offsets, then the lengths, then the lengths'
    type code, or, after stored offsets, the lengths' and offsets' type codes and ``X``. That layout is
    not a name, so no test of names can see it; tests/test_whoosh_internals.py compares the arrays with
    Whoosh's reader, with and without stored offsets.
    """
    perdoc = getattr(segment_reader, "_perdoc", None)
    if (
        perdoc is None
        or type(segment_reader.schema[column].column_type) is not VarBytesColumn
        or not hasattr(perdoc, "_get_column_file")
    ):
        return None
    colfiles = perdoc._colfiles
    if column not in colfiles:
        colfiles[column] = perdoc._get_column_file(column)
    dbfile, basepos, length = colfiles[column]
    doccount = segment_reader.doc_count_all()
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


def numeric_range_terms(q: Any, reader: Any) -> Any:
    """The query a ``NumericRange`` stands for: an Or of the trie terms covering the range
    (``NumericRange._compile_query``), for when the field's column cannot answer the range."""
    return q._compile_query(reader)


def expanded_terms(q: Any, reader: Any) -> Any:
    """The terms (as the index stores them) a multi-term query expands to in ``reader``
    (``MultiTerm._btexts``: Prefix, Wildcard, FuzzyTerm, TermRange, Regex), without building its Or of Terms."""
    return q._btexts(reader)


@functools.lru_cache(maxsize=256)
def _damerau_dfa(text: str, maxdist: int, prefix: int) -> Any:
    """An automaton of the texts within ``maxdist`` edits of ``text`` that keep its first ``prefix`` letters, a
    swap of two neighbouring letters being one edit: Whoosh's Levenshtein automaton (whoosh.automata.lev,
    internal) with, for each pair of different neighbours after the prefix, a path reading them swapped for one
    edit (the swapped letters are not edited again: the optimal string alignment ``edit_distance`` measures).
    Made once per word, not once per field and segment as ``SegmentReader.terms_within`` makes its own."""
    nfa = levenshtein_automaton(text, maxdist, prefix)
    for i in range(prefix, len(text) - 1):
        first, second = text[i], text[i + 1]
        if first == second:
            continue
        for edits in range(maxdist):
            middle = ("swap", i, edits)
            nfa.add_transition((i, edits), second, middle)
            nfa.add_transition(middle, first, (i + 2, edits + 1))
    return nfa.to_dfa()


def fuzzy_terms(reader: Any, fieldname: str, text: str, maxdist: int, prefix: int) -> list[str]:
    """The terms of a field within ``maxdist`` Damerau-Levenshtein edits of ``text`` (two swapped neighbouring
    letters: one edit) sharing its first ``prefix`` letters, in every segment: what ``IndexReader.terms_within``
    documents and ``edit_distance`` measures. Whoosh's reader of one segment finds them with a Levenshtein
    automaton, which counts a swap as two edits, and its reader of several segments by measuring every term
    of the prefix in Python: ``word~`` depended on how many segments the index had (and was slow on several).
    Here one automaton that counts a swap as one edit walks each segment's terms (``Automata.find_matches``)."""
    maxdist = int(maxdist)
    dfa = _damerau_dfa(text, maxdist, min(prefix, len(text)))  # ``ab~1/3``: Whoosh's automaton failed (IndexError)
    found: set[str] = set()
    for segment, _ in reader.leaf_readers():
        schema = segment.schema
        if fieldname in schema and fieldname in segment.indexed_field_names():
            found.update(Automata.find_matches(dfa, segment.cursor(schema[fieldname].spelling_fieldname(fieldname))))
    return sorted(w for w in found if edit_distance(w, text, limit=maxdist) <= maxdist)


def near_terms(terms: list[str], text: str, maxdist: int, prefix: int) -> list[str]:
    """``fuzzy_terms`` over a sorted list of terms instead of a field's term table (did-you-mean's terms of one
    first letter, from the Whoosh index or PostgreSQL's search tables): the same automaton walks it
    (``find_all_matches``, each step a binary search for the next string it can accept), and the same
    ``edit_distance`` keeps what it finds."""
    dfa = _damerau_dfa(text, maxdist, min(prefix, len(text)))
    # Only terms of a length within reach are worth the walk: the fewer terms, the longer each jump.
    terms = [t for t in terms if abs(len(t) - len(text)) <= maxdist]

    def first_from(key: str) -> str | None:
        at = bisect.bisect_left(terms, key)
        return terms[at] if at < len(terms) else None

    found = find_all_matches(dfa, first_from)
    return sorted(w for w in found if edit_distance(w, text, limit=maxdist) <= maxdist)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Whoosh's edit distance (``whoosh.support.levenshtein.distance``, an internal module), as FuzzyTerm
    and the reader's ``terms_within`` measure it: PostgreSQL search (index/pg_search.py) expands ``word~``
    and suggests words with the distance the Whoosh index uses, so both find the same terms."""
    from whoosh.support.levenshtein import distance

    return int(distance(a, b, limit=limit))


def index_items(field: Any, value: Any) -> list[tuple[bytes, int, float, bytes]]:
    """``list(field.index(value))`` (Whoosh's terms, frequencies, weights and values of a plain field),
    without Whoosh's per-token layers for the fields whose values are unique to a document (a rebuild cannot
    remember them, bulk.py): an ID field's one term, a 64-bit DATETIME's eight trie terms (NUMERIC's tiered
    terms: the shift byte, then the sortable number shifted right, big-endian) from one ``to_bytes``, and a
    field tokenized by a bare RegexTokenizer into a Frequency format (the tags and byline key lists: each
    key's frequency, packed as ``Frequency`` packs it). The order of the items may differ from Whoosh's; a
    document's postings are ordered by term when written. tests/test_index_codec.py holds them to
    ``field.index``."""
    kind = type(field)
    analyzer: Any = getattr(field, "analyzer", None)
    if kind is ID and isinstance(value, str) and type(analyzer) is IDTokenizer:
        return [(value.encode("utf-8"), 1, field.format.field_boost, b"")]
    if kind is DATETIME and type(value) is datetime and field.shift_step == 8 and field.bits == 64:
        full = field.to_bytes(value)  # b"\0" + the sortable number, big-endian: shifted right for the others
        number = int.from_bytes(full[1:], "big")
        return [(full, 1, 1.0, b"")] + [
            (bytes((shift,)) + (number >> shift).to_bytes(8, "big"), 1, 1.0, b"") for shift in range(8, 64, 8)
        ]
    if (
        isinstance(field, KEYWORD)
        and isinstance(value, str)
        and type(analyzer) is RegexTokenizer
        and not analyzer.gaps
        and analyzer.expression.groups == 0
        and type(field.format) is Frequency
    ):
        boost = field.format.field_boost
        return [
            (key.encode("utf-8"), freq, float(freq) * boost, _FREQUENCY.pack(freq))
            for key, freq in Counter(analyzer.expression.findall(value)).items()
        ]
    return list(field.index(value))


_FREQUENCY = struct.Struct("!I")  # whoosh.formats.Frequency's value: the frequency


def pattern_parts(q: Any) -> tuple[str, str]:
    """(literal prefix, regular expression) of a Wildcard or Regex query: what ``PatternQuery._btexts``
    expands against a reader's terms (``_find_prefix`` and ``_get_pattern`` are private). PostgreSQL search
    expands the same pattern against its own table of terms."""
    return str(q._find_prefix(q.text)), str(q._get_pattern())
