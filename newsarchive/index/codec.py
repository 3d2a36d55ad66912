"""The index's on-disk codec: Whoosh 3's files, with posting blocks stored as flat arrays.

Whoosh's own codec (W3) pickles each block of 128 postings (ids delta-coded, weights, positions) and
compresses it; every block read unpickles all of it, positions included, and every posting written
goes through per-item checks. This codec keeps W3's term index, columns, stored fields and segment
handling, and changes only the posting blocks:

    int32   block length in bytes after this field (negative: the last block of the term)
    struct  count, last id, max weight, min length byte, max length byte, flags
    bytes   ids as uint32, weights as float32 (absent when all 1.0), then the values:
            nothing (formats without values), count fixed-size values, or count uint32 sizes and the
            concatenated values

so that reading a block's ids and weights is two ``array.frombytes`` calls and positions are only
touched by phrase queries. ``term_postings`` (numpy arrays of a whole list), ``term_blocks`` and
``field_lengths`` give search the raw arrays; ``field_posting_bytes`` writes a whole field's lists.

A segment records the codec that wrote it (Whoosh pickles it into the index's TOC), so an index is
read with the codec it was written with; ``schema.INDEX_VERSION`` changes with this format.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
import weakref
from array import array
from collections import OrderedDict
from typing import Any, Literal, overload

import numpy as np
from whoosh.matching import ListMatcher
from whoosh.reading import TermNotFound

from newsarchive.analysis import decode_positions
from newsarchive.index.whoosh_internals import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3LeafMatcher,
    W3PerDocReader,
    W3PostingsWriter,
    add_terms,
    byte_column,
    byte_to_length,
    close_term_table,
    lenfield,
    length_to_byte,
    posting_bytes,
    segment_perdoc,
    segment_terms,
    term_info,
    term_records,
    terms_postfile,
    text_to_bytes,
)

_INT = struct.Struct("!i")  # the block length, as W3's StructFile.write_int writes it
_INFO = struct.Struct("<IIfBBB")  # count, last id, max weight, min length byte, max length byte, flags
_TERMINFO = struct.Struct("!BfIBBfII")  # W3TermInfo: inlined, weight, df, min/max length byte, max weight, ids
_EXTENT = struct.Struct("!qi")  # W3TermInfo.to_bytes after it: the list's offset and length in the posting file
_USHORT = struct.Struct("!H")  # W3FieldWriter's term key: field number, then the term bytes
_ALL_ONES = 1  # flag: every weight in the block is 1.0 (not stored)
_BYTE_LENGTHS = tuple(byte_to_length(b) for b in range(256))
_REBYTE = tuple(length_to_byte(n) for n in _BYTE_LENGTHS)  # a length byte as W3 writes it back (decode, encode)
_ZERO_BYTE = length_to_byte(None)

if array("I").itemsize != 4 or array("f").itemsize != 4:  # pragma: no cover - every platform CPython runs on
    raise ImportError("newsarchive's index codec needs 4-byte array('I') and array('f')")
_SWAP = sys.byteorder != "little"  # blocks are little-endian on disk


def _to_bytes(values: array[Any]) -> bytes:
    if _SWAP:  # pragma: no cover
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


@overload
def _from_bytes(typecode: Literal["I"], data: bytes) -> array[int]: ...
@overload
def _from_bytes(typecode: Literal["f"], data: bytes) -> array[float]: ...
def _from_bytes(typecode: Literal["I", "f"], data: bytes) -> array[Any]:
    out: array[Any] = array(typecode)
    out.frombytes(data)
    if _SWAP:  # pragma: no cover
        out.byteswap()
    return out


#: Postings per block of the lists a writer writes (a segment records its codec, so an index written with another
#: block size is read as written). Whoosh's W3 writes blocks of 128, for its matchers, which skip block by block;
#: search here reads a list's blocks whole (``TermPostings``: a walk of the block heads, then a view of each
#: block's ids, weights and value sizes), and with 128 a frequent word's lists at 1,000,000 articles are ~6,000
#: blocks a phrase of two such words walks in Python: 1024 took a phrase of two frequent Arabic words at 100,000
#: articles from 12-15 to 10-11 ms of CPU at p50 (docs/search.md, "Tenth round").
BLOCK_LIMIT = 1024


class NewsCodec(W3Codec):  # type: ignore[misc]
    """W3 with array posting blocks (see the module docstring), of ``blocklimit`` postings (default ``BLOCK_LIMIT``)."""

    def __init__(self, blocklimit: int | None = None) -> None:
        super().__init__(blocklimit=BLOCK_LIMIT if blocklimit is None else blocklimit, compression=0, inlinelimit=1)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> Any:
        if byteids:  # term vectors (unused by the schema): W3's own blocks
            return super().postings_writer(dbfile, byteids=True)
        return ArrayPostingsWriter(dbfile, blocklimit=self._blocklimit)

    def postings_reader(self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None) -> Any:
        if terminfo.is_inlined():
            ids, weights, values = terminfo.inlined_postings()
            return ListMatcher(ids, weights, values, format_, scorer=scorer, term=term, terminfo=terminfo)
        offset, length = terminfo.extent()
        return ArrayLeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)

    def field_writer(self, storage: Any, segment: Any) -> Any:
        return ArrayFieldWriter(self, storage, segment)

    def per_document_reader(self, storage: Any, segment: Any) -> Any:
        return NewsPerDocReader(storage, segment)


class NewsPerDocReader(W3PerDocReader):  # type: ignore[misc]
    def length_bytes(self, fieldname: str) -> bytes | None:
        """The field-length byte of every document of the segment (None: the field has no lengths)."""
        reader = self._cached_reader(lenfield(fieldname), LENGTHS_COLUMN)
        if reader is None:
            return None
        return byte_column(reader)


def field_lengths(segment_reader: Any, fieldname: str) -> bytes | None:
    """Per-document length bytes of one field of one segment (decode with ``byte_to_length``), or None."""
    perdoc = segment_perdoc(segment_reader)
    if not isinstance(perdoc, NewsPerDocReader):
        return None
    return perdoc.length_bytes(fieldname)


class ArrayFieldWriter(W3FieldWriter):  # type: ignore[misc]
    def close(self) -> None:
        """W3FieldWriter.close, with the term table's hash tables written a table at a time."""
        close_term_table(self._tindex)
        self._postfile.close()
        self.is_closed = True

    def add_postings(self, schema: Any, lengths: Any, items: Any) -> None:
        """base.FieldWriter.add_postings for sorted postings, with field lengths read a column at a time."""
        if not isinstance(lengths, NewsPerDocReader):
            super().add_postings(schema, lengths, items)
            return
        finish_term, start_term = self.finish_term, self.start_term
        lastfn: str | None = None
        lasttext: bytes | None = None
        add: Any = None
        lens: bytes | None = None
        table = _BYTE_LENGTHS
        for fieldname, btext, docnum, weight, value in items:
            if fieldname != lastfn:
                if lasttext is not None:
                    finish_term()
                if lastfn is not None:
                    self.finish_field()
                self.start_field(fieldname, schema[fieldname])
                lastfn, lasttext = fieldname, None
                lens = lengths.length_bytes(fieldname) if lengths.has_column(lenfield(fieldname)) else None
                add = None
            if docnum == -1:  # spelling words (unused by the schema)
                continue
            if btext != lasttext:
                if lasttext is not None:
                    finish_term()
                start_term(btext)
                lasttext = btext
                add = self._postwriter.add_posting
            lbyte = lens[docnum] if lens is not None else 0
            add(docnum, weight, value if value is not None else b"", table[lbyte] if lbyte else 0)
        if lasttext is not None:
            finish_term()
        if lastfn is not None:
            self.finish_field()

    def write_field(
        self,
        fieldname: str,
        fieldobj: Any,
        keys: list[bytes],
        counts: Any,
        ids: Any,
        weights: Any,
        sizes: Any,
        values: Any,
        lens: bytes | None,
        *,
        order: Any,
    ) -> None:
        """Every posting list of one field, built with numpy (``field_posting_bytes``).

        ``keys``: the terms (bytes, ascending) and ``counts`` their postings; ``ids``, ``weights``,
        ``sizes`` (value sizes) and ``values`` (end to end): every posting in the order it was added;
        ``order``: the postings ordered by term, ids ascending within a term. Written in chunks of
        about CHUNK_BYTES, which bounds the memory of the index arrays.
        """
        self.start_field(fieldname, fieldobj)
        fixed = self._format.fixed_value_size()
        prefix = _USHORT.pack(self._fieldid)
        postfile = self._postfile
        pos = postfile.tell()
        lensarr = None if lens is None else np.frombuffer(lens, dtype=np.uint8)
        voff = np.cumsum(sizes, dtype=np.int64) - sizes  # where each posting's value starts in ``values``
        tend = np.cumsum(counts, dtype=np.int64)
        per_term = 12 * counts + np.add.reduceat(sizes[order], tend - counts, dtype=np.int64)  # every count > 0
        weight_of = np.cumsum(per_term)  # bytes up to each term's end, roughly
        size = _TERMINFO.size + _EXTENT.size
        blocklimit = self._postwriter.blocklimit()
        t0 = 0
        while t0 < len(keys):
            before = int(weight_of[t0 - 1]) if t0 else 0
            t1 = max(t0 + 1, int(np.searchsorted(weight_of, before + CHUNK_BYTES, side="right")))
            which = order[(int(tend[t0 - 1]) if t0 else 0) : int(tend[t1 - 1])]
            data, info = field_posting_bytes(
                counts[t0:t1], ids[which], weights[which], sizes[which], values, voff[which], lensarr, fixed, pos,
                blocklimit,
            )  # fmt: skip
            postfile.write(data)
            pos += len(data)
            raw = info.tobytes()
            add_terms(
                self._tindex,
                [(prefix + key, raw[i * size : (i + 1) * size]) for i, key in enumerate(keys[t0:t1])],
            )
            t0 = t1
        self.finish_field()


class ArrayPostingsWriter(W3PostingsWriter):  # type: ignore[misc]
    # W3PostingsWriter's block buffer (reset by its _new_block), typed here.
    _ids: array[int]
    _weights: array[float]
    _values: list[bytes]
    _maxweight: float
    _minlength: int | None
    _maxlength: int

    def __init__(self, postfile: Any, blocklimit: int) -> None:
        super().__init__(postfile, blocklimit=blocklimit, byteids=False, compression=0, inlinelimit=1)

    def blocklimit(self) -> int:
        """Postings per block."""
        return int(self._blocklimit)

    def add_posting(self, id_: int, weight: float, vbytes: bytes, length: int | None = None) -> None:
        if len(self._ids) >= self._blocklimit:
            self._write_block()
        self._ids.append(id_)
        self._weights.append(weight)
        if weight > self._maxweight:
            self._maxweight = weight
        self._values.append(vbytes)
        if length:
            if self._minlength is None or length < self._minlength:
                self._minlength = length
            if length > self._maxlength:
                self._maxlength = length

    def _write_block(self, last: bool = False) -> None:
        postfile = self._postfile
        if not self._blockcount:
            postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids, weights, values = self._ids, self._weights, self._values
        count = len(ids)
        flags = 0
        parts = [_to_bytes(ids)]
        if weights.count(1.0) == count:
            flags |= _ALL_ONES
        else:
            parts.append(_to_bytes(weights))
        fixed = self._format.fixed_value_size()
        if fixed is None or fixed < 0:
            parts.append(_to_bytes(array("I", map(len, values))))
            parts.extend(values)
        elif fixed > 0:
            parts.extend(values)
        info = _INFO.pack(
            count, ids[-1], self._maxweight, length_to_byte(self._minlength), length_to_byte(self._maxlength), flags
        )
        data = b"".join(parts)
        size = len(info) + len(data)
        postfile.write(_INT.pack(-size if last else size))
        postfile.write(info)
        postfile.write(data)
        self._blockcount += 1
        self._new_block()


class ArrayLeafMatcher(W3LeafMatcher):  # type: ignore[misc]
    """W3LeafMatcher over array blocks: ids and weights decoded in C, values only when asked for."""

    # W3LeafMatcher's current block, typed here (None: not read yet).
    _data: bool | None
    _ids: array[int] | None
    _weights: array[float] | None
    _values: tuple[bytes | None, ...] | None

    def _goto(self, position: int) -> None:
        postfile = self._postfile
        self._data = None
        self._ids = None
        self._weights = None
        self._values = None
        self._i = 0
        size, count, maxid, maxweight, mnlen, mxlen, flags = _header(postfile.get(position, _HEADER), 0)
        if size < 0:
            self._lastblock = True
        self._nextoffset = position + 4 + abs(size)
        self._blocklength, self._maxid, self._maxweight, self._flags = count, maxid, maxweight, flags
        self._compression = 0
        self._minlength = byte_to_length(mnlen)
        self._maxlength = byte_to_length(mxlen)
        self._dataoffset = position + _HEADER

    def _read_data(self) -> None:
        self._data = True

    def _read_ids(self) -> None:
        self._ids = _from_bytes("I", self._postfile.get(self._dataoffset, 4 * self._blocklength))

    def _read_weights(self) -> None:
        count = self._blocklength
        if self._flags & _ALL_ONES:
            self._weights = array("f", [1.0]) * count
        else:
            self._weights = _from_bytes("f", self._postfile.get(self._dataoffset + 4 * count, 4 * count))

    def _read_values(self) -> None:
        count = self._blocklength
        start = self._dataoffset + _values_at(count, self._flags)
        self._values = _decode_values(self._postfile, start, self._nextoffset, count, self._fixedsize)


_HEADER = 4 + _INFO.size  # the block length, then the block info


def _header(buf: Any, position: int) -> tuple[int, int, int, float, int, int, int]:
    """(signed block length, count, last id, max weight, min length byte, max length byte, flags)."""
    return (_INT.unpack_from(buf, position)[0], *_INFO.unpack_from(buf, position + 4))


def _values_at(count: int, flags: int) -> int:
    """Where a block's values start, from the end of its header: after the ids and the weights (if kept)."""
    return 4 * count if flags & _ALL_ONES else 8 * count


class Block:
    """One posting block: ``ids`` and ``weights`` arrays; ``values()`` decodes the encoded values on demand."""

    __slots__ = ("_where", "ids", "weights")

    def __init__(self, ids: Any, weights: Any, where: tuple[Any, int, int, int, Any] | None = None) -> None:
        self.ids = ids
        self.weights = weights
        self._where = where  # (postfile, values offset, end offset, count, fixed value size)

    def values(self) -> tuple[bytes | None, ...]:
        if self._where is None:
            raise LookupError("this block's values are not kept")
        postfile, start, end, count, fixed = self._where
        return _decode_values(postfile, start, end, count, fixed)

    def packed_values(self) -> tuple[array[int], bytes]:
        """(sizes, blob): the values' sizes and the values end to end (variable-size values only)."""
        if self._where is None or (self._where[4] is not None and self._where[4] >= 0):
            raise LookupError("this block has no variable-size values")
        postfile, start, end, count, _ = self._where
        sizes = _from_bytes("I", postfile.get(start, 4 * count))
        return sizes, bytes(postfile.get(start + 4 * count, end - start - 4 * count))


def _decode_values(postfile: Any, start: int, end: int, count: int, fixed: int | None) -> tuple[bytes | None, ...]:
    if fixed == 0:
        return (None,) * count
    if fixed is not None and fixed > 0:
        blob = postfile.get(start, fixed * count)
        return tuple(bytes(blob[i : i + fixed]) for i in range(0, fixed * count, fixed))
    sizes = _from_bytes("I", postfile.get(start, 4 * count))
    blob = postfile.get(start + 4 * count, end - start - 4 * count)
    out, pos = [], 0
    for size in sizes:
        out.append(bytes(blob[pos : pos + size]))
        pos += size
    return tuple(out)


def term_blocks(segment_reader: Any, fieldname: str, text: Any) -> list[Block] | None:
    """The posting blocks of one term in one segment (deleted documents included), or None if absent.

    Works for any codec: postings of other codecs (and inlined ones) come through the matcher interface.
    """
    terms = segment_terms(segment_reader)  # None: an empty index's reader
    if terms is None or fieldname not in segment_reader.schema:
        return None
    try:
        terminfo = segment_reader.term_info(fieldname, text)
    except TermNotFound:
        return None
    btext = text_to_bytes(segment_reader, fieldname, text)
    fmt = segment_reader.schema[fieldname].format
    if not isinstance(segment_reader.codec(), NewsCodec) or terminfo.is_inlined():
        m = terms.matcher(fieldname, btext, fmt)
        ids, weights = array("I"), array("f")
        while m.is_active():
            ids.append(m.id())
            weights.append(m.weight())
            m.next()
        return [Block(ids, weights)]
    postfile = terms_postfile(terms)
    fixed = fmt.fixed_value_size()
    offset, length = terminfo.extent()
    if isinstance(length, tuple):  # W3TermInfo.from_bytes keeps struct.unpack's tuple
        length = length[0]
    raw = bytes(postfile.get(offset, length))  # the whole posting list in one read
    position = len(WHOOSH3_HEADER_MAGIC)
    blocks: list[Block] = []
    while True:
        size, count, _, _, _, _, flags = _header(raw, position)
        end = position + 4 + abs(size)
        data = position + _HEADER
        ids = _from_bytes("I", raw[data : data + 4 * count])
        if flags & _ALL_ONES:
            weights = array("f", [1.0]) * count
        else:
            weights = _from_bytes("f", raw[data + 4 * count : data + 8 * count])
        values = data + _values_at(count, flags)
        blocks.append(Block(ids, weights, (postfile, offset + values, offset + end, count, fixed)))
        if size < 0:
            return blocks
        position = end


#: A field's posting lists, as merge_lists gives them: (terms' bytes, each term's number of postings, and
#: every posting's document number, weight and value size, then the values end to end).
FieldLists = tuple[list[bytes], Any, Any, Any, Any, bytes]


def merge_lists(segment_reader: Any) -> dict[str, FieldLists] | None:
    """Every posting list of a segment this codec wrote, a field at a time, deleted documents included: what a
    merge reads (``bulk.BulkSegmentWriter.add_postings_to_pool``).

    Whoosh's ``iter_postings`` looks each term up in the hash table and opens a matcher for it (most of the
    2.7 s of merging seven 100-article segments: 90,000 terms). Here the term table is read in file order,
    each field's lists in one read, and the blocks walked once (``_field_lists``). None where the segment is
    not read so (another codec, an inlined list, a term table that is not memory-mapped): the caller goes
    through Whoosh.
    """
    if not isinstance(segment_reader.codec(), NewsCodec):
        return None
    terms = segment_terms(segment_reader)
    records = None if terms is None else term_records(terms)
    if records is None:
        return None
    size = _TERMINFO.size + _EXTENT.size
    grouped: dict[str, tuple[list[bytes], list[bytes]]] = {}
    for fieldname, tbytes, info in records:
        if len(info) != size or info[0]:  # an inlined list (Whoosh's own writer, one posting)
            return None
        keys, infos = grouped.setdefault(fieldname, ([], []))
        keys.append(tbytes)
        infos.append(info)
    postfile = terms_postfile(terms)
    schema = segment_reader.schema
    out: dict[str, FieldLists] = {}
    for fieldname, (keys, infos) in grouped.items():
        if fieldname not in schema:
            continue
        table = np.frombuffer(b"".join(infos), dtype=_TERM_INFO)
        offsets = table["offset"].astype(np.int64)
        low = int(offsets.min())
        raw = bytes(postfile.get(low, int((offsets + table["length"]).max()) - low))
        out[fieldname] = (keys, *_field_lists(raw, (offsets - low).tolist(), schema[fieldname].format))
    return out


def _field_lists(raw: bytes, starts: list[int], fmt: Any) -> tuple[Any, ...]:
    """merge_lists' arrays of one field from its lists' bytes (``starts``: where each term's list begins): each
    block's ids, weights, value sizes and values sliced and joined (a Python step per block, none per posting;
    no index array per posting either: a merge of 20,000 articles reads millions of postings)."""
    ones = _ONES.tobytes()
    fixed = fmt.fixed_value_size()
    sized = fixed is None or fixed < 0  # values of their own sizes (positions)
    ids: list[bytes] = []
    weights: list[bytes] = []
    sizes: list[bytes] = []
    values: list[bytes] = []
    per_term = []
    magic = len(WHOOSH3_HEADER_MAGIC)
    for start in starts:
        at, total = start + magic, 0
        while True:
            block, count, _, _, _, _, flags = _header(raw, at)
            total += count
            data = at + _HEADER
            ids.append(raw[data : data + 4 * count])
            if flags & _ALL_ONES:
                weights.append(ones[: 4 * count] if count <= len(_ONES) else np.ones(count, np.float32).tobytes())
                where = data + 4 * count
            else:
                weights.append(raw[data + 4 * count : data + 8 * count])
                where = data + 8 * count
            if sized:
                sizes.append(raw[where : where + 4 * count])
                values.append(raw[where + 4 * count : at + 4 + abs(block)])
            elif fixed:
                values.append(raw[where : where + fixed * count])
            if block < 0:
                break
            at += 4 + block
        per_term.append(total)
    counts = np.array(per_term, dtype=np.int64)
    found = np.frombuffer(b"".join(ids), dtype="<u4").astype(np.uint32)
    if sized:
        value_sizes = np.frombuffer(b"".join(sizes), dtype="<u4").astype(np.uint32)
    else:
        value_sizes = np.full(len(found), fixed or 0, dtype=np.uint32)
    return (
        counts,
        found,
        np.frombuffer(b"".join(weights), dtype="<f4").astype(np.float32),
        value_sizes,
        b"".join(values),
    )


# -- whole fields at once: every block of every term built with numpy --------------------------------

_BLOCK_HEAD = np.dtype(
    [
        ("size", ">i4"),
        ("count", "<u4"),
        ("last", "<u4"),
        ("maxw", "<f4"),
        ("minb", "u1"),
        ("maxb", "u1"),
        ("flags", "u1"),
    ]
)
_TERM_INFO = np.dtype(
    [
        ("inlined", "u1"),
        ("weight", ">f4"),
        ("df", ">u4"),
        ("minl", "u1"),
        ("maxl", "u1"),
        ("maxw", ">f4"),
        ("minid", ">u4"),
        ("maxid", ">u4"),
        ("offset", ">i8"),
        ("length", ">i4"),
    ]
)
assert _BLOCK_HEAD.itemsize == 4 + _INFO.size and _TERM_INFO.itemsize == _TERMINFO.size + _EXTENT.size
_REBYTE_NP = np.array(_REBYTE, dtype=np.uint8)
_MAGIC_NP = np.frombuffer(WHOOSH3_HEADER_MAGIC, dtype=np.uint8)
#: Bytes of posting lists built in memory at once (the index arrays of a chunk take ~16x that).
CHUNK_BYTES = 4 << 20


def _copy(out: Any, src: Any, src_starts: Any, lengths: Any, dst_starts: Any) -> None:
    """out[dst_starts[i] : +lengths[i]] = src[src_starts[i] : +lengths[i]] for every i, in one numpy step."""
    total = int(lengths.sum())
    if not total:
        return
    first = np.cumsum(lengths) - lengths
    step = np.arange(total, dtype=np.int64)
    out[step + np.repeat(dst_starts - first, lengths)] = src[step + np.repeat(src_starts - first, lengths)]


def field_posting_bytes(
    counts: Any,
    ids: Any,
    weights: Any,
    sizes: Any,
    values: Any,
    voff: Any,
    lens: Any | None,
    fixed: int | None,
    start: int,
    blocklimit: int = 128,
) -> tuple[bytes, Any]:
    """The posting lists of a field's terms as the posting file holds them, and each term's info bytes.

    ``counts``: postings per term (terms in key order); ``ids``, ``weights``: every posting, a term's
    postings together and ids ascending; ``sizes``, ``voff``: each posting's value size and where it
    starts in ``values`` (uint8); ``lens``: the field's length byte per
    document (None: no lengths); ``fixed``: the format's fixed value size; ``start``: where the lists
    start in the posting file. The bytes are those ``ArrayPostingsWriter`` writes term by term (magic,
    then blocks of ``blocklimit`` postings, the last with a negative length) and the infos those of
    ``W3TermInfo.to_bytes``.
    """
    counts = counts.astype(np.int64)
    nterms = len(counts)
    tstart = np.cumsum(counts) - counts
    nblocks = (counts + blocklimit - 1) // blocklimit
    bterm = np.repeat(np.arange(nterms), nblocks)
    bfirst_of_term = np.cumsum(nblocks) - nblocks
    k = np.arange(len(bterm)) - np.repeat(bfirst_of_term, nblocks)
    bstart = tstart[bterm] + blocklimit * k
    bcount = np.minimum(blocklimit, counts[bterm] - blocklimit * k)
    blast = k == nblocks[bterm] - 1
    w32 = weights.astype(np.float32, copy=False)
    maxw = np.maximum.reduceat(w32, bstart)
    allones = np.minimum.reduceat((w32 == 1.0).view(np.uint8), bstart).astype(bool)
    if lens is not None:
        lb = lens[ids]
        minraw, maxraw = np.minimum.reduceat(lb, bstart), np.maximum.reduceat(lb, bstart)
        minb, maxb = _REBYTE_NP[minraw], _REBYTE_NP[maxraw]
    else:
        minb = maxb = np.zeros(len(bstart), dtype=np.uint8)
    variable = fixed is None or fixed < 0
    sizes = sizes.astype(np.int64)
    vcum = np.cumsum(sizes) - sizes  # a posting's value offset among the values of these postings
    bvlen = np.add.reduceat(sizes, bstart) if len(bstart) else bstart
    body = _INFO.size + 4 * bcount + np.where(allones, 0, 4 * bcount) + (4 * bcount if variable else 0) + bvlen
    blen = 4 + body + np.where(k == 0, len(WHOOSH3_HEADER_MAGIC), 0)  # bytes of the block, magic included
    bend = np.cumsum(blen)
    boff = bend - blen  # where each block (its magic for a first block) starts in the output
    total = int(bend[-1]) if len(bend) else 0
    out = np.empty(total, dtype=np.uint8)
    first = k == 0
    m = len(WHOOSH3_HEADER_MAGIC)
    if first.any():
        out[(boff[first][:, None] + np.arange(m)).ravel()] = np.tile(_MAGIC_NP, int(first.sum()))
    head_at = boff + np.where(first, m, 0)
    head = np.empty(len(bstart), dtype=_BLOCK_HEAD)
    head["size"] = np.where(blast, -body, body)
    head["count"] = bcount
    head["last"] = ids[bstart + bcount - 1]
    head["maxw"] = maxw
    head["minb"], head["maxb"] = minb, maxb
    head["flags"] = allones.astype(np.uint8) * _ALL_ONES
    hsize = _BLOCK_HEAD.itemsize
    out[(head_at[:, None] + np.arange(hsize)).ravel()] = head.view(np.uint8)
    at = head_at + hsize
    idbytes = ids.astype("<u4", copy=False).view(np.uint8)
    _copy(out, idbytes, 4 * bstart, 4 * bcount, at)
    at = at + 4 * bcount
    some = ~allones
    if some.any():
        wbytes = w32.astype("<f4", copy=False).view(np.uint8)
        _copy(out, wbytes, 4 * bstart[some], 4 * bcount[some], at[some])
    at = at + np.where(allones, 0, 4 * bcount)
    if variable:
        _copy(out, sizes.astype("<u4", copy=False).view(np.uint8), 4 * bstart, 4 * bcount, at)
        at = at + 4 * bcount
    if fixed != 0:
        pblock = np.repeat(np.arange(len(bstart)), bcount)
        _copy(out, values, voff, sizes, at[pblock] + vcum - vcum[bstart][pblock])
    # Term infos (W3TermInfo after its blocks): weight sum, df, min/max length byte, max weight, first/last id
    info = np.zeros(nterms, dtype=_TERM_INFO)
    info["weight"] = np.add.reduceat(w32.astype(np.float64), tstart) if nterms else 0
    info["df"] = counts
    if lens is not None:
        info["minl"] = np.minimum.reduceat(minb, bfirst_of_term)
        info["maxl"] = np.maximum.reduceat(maxb, bfirst_of_term)
    info["maxw"] = np.maximum(np.maximum.reduceat(maxw, bfirst_of_term), 0) if nterms else 0
    info["minid"] = ids[tstart]
    info["maxid"] = ids[tstart + counts - 1]
    term_off = boff[bfirst_of_term]
    term_end = np.append(term_off[1:], total)
    info["offset"] = term_off + start
    info["length"] = term_end - term_off
    return out.tobytes(), info


#: The weights of a block whose weights are all 1.0 (read-only, as the arrays read from a list's bytes).
_ONES = np.ones(1024, dtype=np.float32)
_ONES.flags.writeable = False


class TermPostings:
    """One term's posting list in one segment as numpy arrays, parsed from its bytes in one read.

    ``ids`` (uint32, ascending) and ``weights`` (float32) of every posting (read-only arrays: a list
    may be shared between searches, ``term_postings``); ``positions(chosen)`` the positions of some
    postings and ``holds(chosen, targets)`` whether some positions are there, found from the raw
    bytes with index arithmetic: a Python step per block header only, none per posting or position.

    Positions (``analysis.encode_positions``: b'H' then uint16s, b'I' then uint32s for long texts)
    are read in place from the list's bytes (``_u16_at``): the i-th position of a b'H' value starting at
    byte ``s`` is the little-endian uint16 at byte ``s + 1 + 2 * i``. (A copy of the list as uint16s from
    an even and from an odd offset, read with one gather, was a fresh array as big as the list: its page
    faults cost more than the second gather.)
    """

    __slots__ = (
        "_blocks",
        "_buf",
        "_kept",
        "_key",
        "_probed",
        "_rank",
        "_raw",
        "_sig",
        "_signed",
        "_where",
        "ids",
        "weights",
    )

    def __init__(self, raw: bytes | memoryview) -> None:
        self._raw = raw
        buf = self._buf = np.frombuffer(raw, dtype=np.uint8)
        heads = []  # where each block starts: its length field
        position = len(WHOOSH3_HEADER_MAGIC)
        unpack_int = _INT.unpack_from
        while True:
            size = unpack_int(raw, position)[0]
            heads.append(position)
            if size < 0:
                break
            position += 4 + size
        at = np.array(heads, dtype=np.int64)
        head = buf[(at[:, None] + _HEAD_BYTES).ravel()].view(_BLOCK_HEAD)
        counts = head["count"].astype(np.int64)
        ones = (head["flags"] & _ALL_ONES).astype(bool)
        data = at + _HEADER
        count_l, data_l = counts.tolist(), data.tolist()
        if len(count_l) == 1:
            ids = np.frombuffer(raw, "<u4", count_l[0], data_l[0])
        else:
            ids = np.concatenate([np.frombuffer(raw, "<u4", c, d) for c, d in zip(count_l, data_l, strict=True)])
        total = len(ids)
        if ones.all():
            weights = _ONES[:total] if total <= len(_ONES) else np.ones(total, dtype=np.float32)
        else:
            weights = np.concatenate(
                [
                    _ONES[:c] if o and c <= len(_ONES) else np.frombuffer(raw, "<f4", c, d + 4 * c)
                    for c, d, o in zip(count_l, data_l, ones.tolist(), strict=True)
                ]
            )
        ids.flags.writeable = False
        weights.flags.writeable = False
        self.ids, self.weights = ids, weights
        self._blocks = (counts, data + np.where(ones, 4, 8) * counts)  # postings, where their values start
        self._where: tuple[Any, Any, Any] | None = None
        self._sig: Any = None
        self._signed: Any = None  # per posting: its signatures are made
        self._kept = False  # kept between searches (``_Kept``): worth the signatures
        self._key: Any = None  # its key among the kept lists
        self._probed = False  # probed by a phrase while kept (the next one makes signatures)
        self._rank: Any = None

    def nbytes(self) -> int:
        """The memory it holds: its bytes, the arrays joined from its blocks, and those built since (positions'
        layout, signatures, rank_of)."""
        held = [self.ids, self.weights, self._sig, self._signed, self._rank, *(self._where or ())]
        return len(self._raw) + int(sum(a.nbytes for a in held if a is not None and a.base is None))

    def _built(self, array: Any) -> Any:
        """``array``, just built for this list: charged to the kept lists' budget if this one is kept."""
        if self._kept:
            _KEPT.grow(self, array.nbytes)
        return array

    def rank_of(self, count: int) -> Any | None:
        """For a kept list holding at least half of its segment's ``count`` documents: per document, the index of
        its posting in ``ids``, -1 for none (int32, made once): a phrase finds its candidates and their postings
        with it, instead of a mask scattered from ``ids`` and gathered back each time. None for another list."""
        if self._rank is None:
            if not self._kept or 2 * len(self.ids) < count:
                return None
            rank = np.full(count, -1, dtype=np.int32)
            rank[self.ids] = np.arange(len(self.ids), dtype=np.int32)
            rank.flags.writeable = False
            self._rank = self._built(rank)
        return self._rank

    def fixed_values(self, size: int) -> Any:
        """Every posting's value of a format of values of ``size`` bytes (``fixed_value_size``), as uint32 rows
        (``analysis.PairsFormat``: the two words' frequencies), from the list's bytes (no sizes stored)."""
        words = size // 4
        return self._block_u4s(words).reshape(-1, words)

    def _block_u4s(self, per_posting: int) -> Any:
        """The uint32s where each block's values start, ``per_posting`` of them a posting, joined over the blocks
        (a view of the list's bytes when it is one block)."""
        raw = self._raw
        counts, values_at = self._blocks
        parts = [
            np.frombuffer(raw, "<u4", c * per_posting, v)
            for c, v in zip(counts.tolist(), values_at.tolist(), strict=True)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _spans(self) -> tuple[Any, Any]:
        """Where each posting's value starts in the list's bytes, and its size (int32: a list's bytes are
        far below 2 GB; half the memory of int64 to fill and to read)."""
        counts, values_at = self._blocks
        sizes = self._block_u4s(1).view(np.int32)
        # Each value starts where the one before it ends; a block's first value where its block's values
        # start: one cumulative sum of the sizes, with a jump at each block's first posting.
        step = np.empty(len(sizes), dtype=np.int32)
        step[0] = 0
        step[1:] = sizes[:-1]
        heads = np.cumsum(counts) - counts  # index of each block's first posting
        block_sums = np.add.reduceat(sizes, heads) if len(sizes) else sizes
        blob_at = values_at + 4 * counts  # where each block's values start
        # At a block's first posting, from the last start of the block before: to that block's end, then
        # on to this block's values.
        jump = blob_at[1:] - (blob_at[:-1] + block_sums[:-1]) + sizes[heads[1:] - 1]
        step[heads[1:]] = jump
        starts = np.cumsum(step, dtype=np.int32)
        starts += np.int32(blob_at[0])
        return starts, sizes

    def _positions_at(self) -> tuple[Any, Any, Any]:
        """Per posting: the byte of its first position, its number of positions, and whether its value holds
        uint16 positions (b'H'), or None when every value does (texts under 65,536 words: nothing to look
        up per posting); computed once per list."""
        if self._where is None:
            starts, sizes = self._spans()
            short = self._buf[starts] == _H
            starts += 1
            self._where = (
                self._built(starts),
                self._built((sizes - 1) >> 1),  # a view of the list's bytes when it is one block: not in place
                None if short.all() else self._built(short),
            )
        return self._where

    def _short(self, chosen: Any) -> bool:
        """Whether the values of the postings ``chosen`` all hold uint16 positions."""
        short = self._positions_at()[2]
        return short is None or bool(short[chosen].all())

    def positions(self, chosen: Any) -> tuple[Any, Any]:
        """(document numbers, positions) of every occurrence in the postings ``chosen`` (ascending indexes
        into ``ids``; the format's values must be ``analysis.encode_positions`` arrays), in document
        then position order."""
        counts, found = self.positions_of(chosen)
        return np.repeat(self.ids[chosen], counts), found

    def positions_of(self, chosen: Any) -> tuple[Any, Any]:
        """(number of positions of each posting ``chosen``, all their positions end to end, uint16 or
        uint32, in the order of ``chosen``)."""
        chosen = np.asarray(chosen, dtype=np.int64)
        if not len(chosen):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint32)
        first, n, _ = self._positions_at()
        if self._short(chosen):  # uint16 positions: one gather
            base, cnt = first[chosen].astype(np.int64), n[chosen].astype(np.int64)
            # The byte of each position: 2 from one position to the next in a value, a jump to the next
            # value's first; summed in place (one array: large fresh arrays cost page faults).
            at = np.full(int(cnt.sum()), 2, dtype=np.int64)
            jump = base.copy()
            jump[1:] -= base[:-1] + 2 * (cnt[:-1] - 1)
            at[np.cumsum(cnt) - cnt] = jump  # every value holds a position: the heads are distinct
            np.cumsum(at, out=at)
            return cnt, _u16_at(self._buf, at)
        starts, sizes = self._spans()  # some text long enough for uint32 positions: value by value
        starts, sizes = starts.astype(np.int64), sizes.astype(np.int64)
        raw = self._raw
        found = [
            np.asarray(decode_positions(bytes(raw[s : s + z])), dtype=np.uint32)
            for s, z in zip(starts[chosen].tolist(), sizes[chosen].tolist(), strict=True)
        ]
        return np.array([len(f) for f in found], dtype=np.int64), np.concatenate(found)

    def holds(self, chosen: Any, targets: Any, postings: Any = None) -> Any:
        """Whether the value of posting ``chosen[i]`` holds position ``targets[i]``, for every i: a binary
        search in each value's uint16 positions, all at once (ceil(log2(most positions)) numpy steps; no
        position decoded but the ones probed). None when one of these values holds uint32 positions.

        A list kept between searches gets two signatures per posting (_signatures: 256 bits each, one set
        for each of its positions by each of two hashes): a target whose bit is clear in either is not
        there, and is not searched. ``postings``: the postings ``chosen`` is drawn from, ascending, when
        the caller has them (a phrase's candidates: a tenth as many as its probes), whose signatures are
        then made if missing. int32 indexes and targets stay int32 (half the bytes to go through)."""
        if not self._short(chosen):
            return None
        targets = np.asarray(targets)
        if targets.dtype != np.int32:
            targets = targets.astype(np.int64)
        sig = None
        if self._kept and len(chosen) >= SIGNATURE_MIN:
            # From the second phrase that probes this list on: a list probed once (most pairs of frequent
            # words are asked for once) would pay for signatures (more than its binary search) and not use them.
            if self._probed:
                with _SIGNING:  # rows made and marked made by one thread at a time (others read made rows only)
                    sig = self._signatures(chosen if postings is None else postings)
            self._probed = True
        if sig is None:
            return self._search(chosen, targets)
        wide = chosen.dtype != np.int32 or len(self.ids) * 2 * SIGNATURE_WORDS >= 2**31
        row = (chosen.astype(np.int64) if wide else chosen) * (2 * SIGNATURE_WORDS)
        maybe = np.flatnonzero(_bit(sig, row, targets))
        if len(maybe):
            row, probe = row[maybe], targets[maybe]
            maybe = maybe[_bit(sig, row + SIGNATURE_WORDS, _second_hash(probe))]
        held = np.zeros(len(chosen), dtype=bool)
        if len(maybe):
            held[maybe] = self._search(chosen[maybe], targets[maybe])
        return held

    def _signatures(self, chosen: Any) -> Any:
        """Per posting, 2 x SIGNATURE_WORDS uint64s end to end: bit ``p % 64`` of word ``p // 64 % SIGNATURE_WORDS``
        set for each of its positions ``p``, then the same for ``_second_hash(p)``. The second catches most of
        what the first lets through in a text past 256 words, where positions share bits: in a body, في
        holds ~19 positions, and a probe not there passes the first 7% of the time, both 0.5%.

        Made for the postings ``chosen`` that have none yet (``holds`` asks from a kept list's second phrase
        on): "في غزة" probes a third of في's postings, and making them for the whole list took longer than
        four searches of the phrase."""
        count = len(self.ids)
        width = 2 * SIGNATURE_WORDS
        if self._sig is None:
            self._sig = self._built(np.zeros(count * width, dtype=np.uint64))  # untouched pages cost no memory
            self._signed = self._built(np.zeros(count, dtype=bool))
        need = chosen[~self._signed[chosen]]
        if len(need):
            if len(need) > 1 and not (need[1:] >= need[:-1]).all():
                need = np.sort(need)
            need = need[np.concatenate(([True], need[1:] != need[:-1]))]  # distinct (a hash set is slower)
            # One byte per bit, set where a position is (no ufunc.at: 1.5x faster), then packed into bits:
            # byte ``i`` of a posting's row is bit ``i % 64`` of its word ``i // 64`` (little-endian words).
            # A few thousand postings at a time in one buffer: a new buffer's first writes are page faults
            # (two thirds of the time, made at once for 100,000 postings).
            bits = 64 * SIGNATURE_WORDS
            present = np.empty(_SIGNATURE_CHUNK * 2 * bits, dtype=bool)
            rows = self._sig.reshape(count, width)
            for at in range(0, len(need), _SIGNATURE_CHUNK):
                some = need[at : at + _SIGNATURE_CHUNK]
                counts, positions = self.positions_of(some)
                positions = positions.astype(np.int32)  # uint16 (holds checked): room for _second_hash
                row = np.repeat(np.arange(len(some), dtype=np.int32) * (2 * bits), counts)
                here = present[: len(some) * 2 * bits]
                here.fill(False)
                here[row + (positions & (bits - 1))] = True
                here[row + bits + (_second_hash(positions) & (bits - 1))] = True
                rows[some] = np.packbits(here, bitorder="little").view("<u8").reshape(len(some), width)
            self._signed[need] = True
        return self._sig

    def _search(self, chosen: Any, targets: Any) -> Any:
        """``holds`` by binary search, every value's positions being uint16."""
        first, n, _ = self._positions_at()
        buf = self._buf
        base, cnt = first[chosen].astype(np.int64), n[chosen]
        last = base + 2 * (cnt - 1)  # the byte of each value's last position
        inside = targets <= 0xFFFF  # a uint16 value holds no position past 65,535
        wanted = np.where(inside, targets, 0).astype(np.uint16)
        # Binary lifting over bytes (a position is 2): ``pos`` ends at the last position below the target. A
        # probe past a value's last position reads that last one: below the target, it pushes ``pos`` past the
        # value (not found, rightly: every position is below); else it stops there, as a probe in range would.
        pos = base - 2
        top = int(cnt.max()) if len(cnt) else 0
        step = 2 << (top.bit_length() - 1) if top else 0
        probe = np.empty_like(pos)
        scratch = (np.empty(len(pos), dtype=np.uint8), np.empty(len(pos), dtype=np.uint8), np.empty_like(pos))
        below = np.empty(len(pos), dtype=bool)
        while step > 1:
            np.add(pos, step, out=probe)
            np.minimum(probe, last, out=probe)
            np.less(_u16_at(buf, probe, scratch), wanted, out=below)
            # ``pos += step`` where below, as a product: a ufunc's ``where=`` took ten times as long.
            np.multiply(below, step, out=probe)
            pos += probe
            step >>= 1
        pos += 2
        found = inside & (pos <= last)
        np.minimum(pos, last, out=pos)
        return found & (_u16_at(buf, pos, scratch) == wanted)


def _u16_at(buf: Any, at: Any, scratch: tuple[Any, Any, Any] | None = None) -> Any:
    """The little-endian uint16s at the byte offsets ``at`` (int64) of ``buf`` (uint8): two gathers of bytes,
    no copy of ``buf``. ``scratch``: two uint8 arrays and one int64 array of ``len(at)`` to gather into."""
    if scratch is None:
        lo, hi, after = np.empty(len(at), dtype=np.uint8), np.empty(len(at), dtype=np.uint8), np.empty_like(at)
    else:
        lo, hi, after = scratch
    np.take(buf, at, out=lo)
    np.add(at, 1, out=after)
    np.take(buf, after, out=hi)
    value = hi.astype(np.uint16)
    value <<= 8
    value |= lo
    return value


def _second_hash(positions: Any) -> Any:
    """A position's bit in the second signature: ``p`` and ``p + 256 * k`` (which share the first's bit) get
    different bits for every 0 < k < 256 (97 is odd)."""
    return positions + (positions >> 8) * 97


def _bit(sig: Any, row: Any, value: Any) -> Any:
    """Per probe, whether bit ``value % 256`` of the signature starting at word ``row`` is set."""
    words = sig[row + ((value >> 6) & (SIGNATURE_WORDS - 1))]
    return ((words >> (value & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)


_HEAD_BYTES = np.arange(_HEADER, dtype=np.int64)
_H = ord("H")


class _BlockPostings:
    """TermPostings over ``Block`` objects (a list another codec wrote, read through the matcher)."""

    def __init__(self, blocks: list[Block], fmt: Any) -> None:
        self.ids = np.concatenate([np.asarray(b.ids, dtype=np.uint32) for b in blocks])
        self.weights = np.concatenate([np.asarray(b.weights, dtype=np.float32) for b in blocks])
        self._blocks, self._fmt = blocks, fmt

    def holds(self, chosen: Any, targets: Any, postings: Any = None) -> Any:
        return None  # positions are decoded (positions())

    def fixed_values(self, size: int) -> Any:
        return np.frombuffer(b"".join(v or b"" for b in self._blocks for v in b.values()), "<u4").reshape(-1, size // 4)

    def rank_of(self, count: int) -> None:
        return None  # not kept: a phrase scatters a mask from ``ids``

    def positions(self, chosen: Any) -> tuple[Any, Any]:
        counts, found = self.positions_of(chosen)
        return np.repeat(self.ids[np.asarray(chosen, dtype=np.int64)], counts), found

    def positions_of(self, chosen: Any) -> tuple[Any, Any]:
        values = [v for b in self._blocks for v in b.values()]
        found = [np.zeros(0, dtype=np.uint32)]
        counts = []
        for i in np.asarray(chosen).tolist():
            decoded = np.asarray(self._fmt.decode_positions(values[i]), dtype=np.uint32)
            found.append(decoded)
            counts.append(len(decoded))
        return np.array(counts, dtype=np.int64), np.concatenate(found)


def term_postings(segment_reader: Any, fieldname: str, text: Any) -> TermPostings | _BlockPostings | None:
    """A term's posting list in one segment as arrays (deleted documents included), or None if absent.

    A list of at least ``KEEP_MIN_BYTES`` is kept parsed between searches (``_Kept``): a segment's
    files never change, and a frequent word's list (في: 1.8 MB in a 50,000-article segment) costs
    a read, a parse and, for phrases, its positions' layout each time it is asked for.
    """
    terms = segment_terms(segment_reader)
    if terms is None:
        return None
    key = _KEPT.key(terms, fieldname, text)
    if key is not None:
        found = _KEPT.get(key)
        if found is not None:
            return found
    terminfo = term_info(segment_reader, fieldname, text)  # from a memory map of the term table
    if terminfo is None:
        return None
    if not isinstance(segment_reader.codec(), NewsCodec) or terminfo.is_inlined():
        blocks = term_blocks(segment_reader, fieldname, text)
        return None if not blocks else _BlockPostings(blocks, segment_reader.schema[fieldname].format)
    offset, length = terminfo.extent()
    if isinstance(length, tuple):  # W3TermInfo.from_bytes keeps struct.unpack's tuple
        length = length[0]
    plist = TermPostings(posting_bytes(terms, offset, length))
    if key is not None and length >= KEEP_MIN_BYTES:
        _KEPT.put(key, plist, plist.nbytes())  # what it holds now; what it builds later is added (_Kept.grow)
    return plist


#: Posting lists of at least this many bytes are kept parsed between searches, up to KEEP_BUDGET bytes.
#: A kept list's position signatures (``TermPostings.holds``) are built for probes of this many postings.
SIGNATURE_MIN = 2048
#: uint64 words of each of a posting's two signatures: a position's bit is one of 64 * this (a power of 2). في holds
#: ~19 positions in a body: a probe not there passes one word (64 bits) 26% of the time, four 7%, two signatures 0.5%.
SIGNATURE_WORDS = 4
_SIGNATURE_CHUNK = 4096  # postings whose signatures are made at a time (a 4 MB buffer)
_SIGNING = threading.Lock()  # held while a kept list's signatures are made (searches in threads share kept lists)
KEEP_MIN_BYTES = 64 << 10


def _keep_budget() -> int:
    """A sixteenth of the machine's memory, between 256 MB and 1 GB (384 MB where the system does not say).

    At 1,000,000 articles the lists of "في غزة" take ~280 MB parsed, and the lists the benchmark's mix of
    queries asks for again ~1 GB: with 384 MB, 2 GB of lists were pushed out and read again in 40 rounds
    of it (a frequent Arabic word's lists a third of the time), with 1 GB 0.4 GB (docs/search.md).
    """
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return 384 << 20
    return max(256 << 20, min(1 << 30, memory // 16))


#: The bytes of parsed lists kept between searches (the least recently used go first).
KEEP_BUDGET = _keep_budget()
#: Lists asked for once remembered (to be kept the second time).
SEEN_MAX = 4096


class _Kept:
    """Parsed posting lists of the terms readers still open, least recently used dropped first.

    Keyed by (a weak reference to the segment's terms reader, field, term): a list goes when its
    reader does (a merged-away segment), or when the lists kept pass the budget.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lists: OrderedDict[tuple[Any, str, Any], tuple[TermPostings, int]] = OrderedDict()
        self._bytes = 0
        self._dead: list[Any] = []  # references whose reader went (dropped at the next put)
        #: The lists asked for once (not kept yet), most recent last: a list is kept when asked for again, so the
        #: lists of words searched once do not push out those of words searched again and again.
        self._seen: OrderedDict[tuple[int, str, Any], None] = OrderedDict()

    def key(self, terms: Any, fieldname: str, text: Any) -> tuple[Any, str, Any] | None:
        try:
            return (weakref.ref(terms), fieldname, text)
        except TypeError:  # not weak-referenceable: not kept
            return None

    def get(self, key: tuple[Any, str, Any]) -> TermPostings | None:
        with self._lock:
            found = self._lists.get(key)
            if found is None:
                return None
            self._lists.move_to_end(key)
            return found[0]

    def put(self, key: tuple[Any, str, Any], plist: TermPostings, size: int) -> None:
        if size > KEEP_BUDGET:
            return
        seen = (id(key[0]()), key[1], key[2])  # by its reader (alive here), field and term
        with self._lock:
            if seen not in self._seen:
                self._seen[seen] = None
                if len(self._seen) > SEEN_MAX:
                    self._seen.popitem(last=False)
                return
            del self._seen[seen]
        ref = weakref.ref(key[0](), self._dead.append)  # the callback only queues (it may run inside a put)
        with self._lock:
            if self._dead:
                dead, self._dead[:] = set(map(id, self._dead)), []
                for old in [k for k in self._lists if id(k[0]) in dead]:
                    self._bytes -= self._lists.pop(old)[1]
            if key in self._lists:
                return
            plist._kept, plist._key = True, (ref, key[1], key[2])
            self._lists[plist._key] = (plist, size)
            self._bytes += size
            self._within_budget()

    def grow(self, plist: TermPostings, size: int) -> None:
        """A kept list built arrays of ``size`` bytes more (its positions' layout, signatures...): charged to it."""
        with self._lock:
            found = self._lists.get(plist._key)
            if found is None or found[0] is not plist:  # dropped meanwhile: no more signatures for it
                plist._kept = False
                return
            self._lists[plist._key] = (plist, found[1] + size)
            self._bytes += size
            self._within_budget()

    def _within_budget(self) -> None:
        while self._bytes > KEEP_BUDGET and self._lists:  # the least recently used first
            self._bytes -= self._lists.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()
            self._seen.clear()
            self._bytes = 0


_KEPT = _Kept()
