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

import gc
import os
import queue
import threading
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from newsarchive.errors import SearchIndexError
from newsarchive.index.codec import NewsCodec, NewsPerDocReader
from newsarchive.index.whoosh_internals import commit_segments

#: Documents per segment a worker writes (about 300 MB of postings in memory for 4 KB articles).
SEGMENT_DOCS = 60_000
#: Documents per message to a worker.
BATCH = 250
_POLL = 1.0  # seconds between checks that the workers are alive while waiting on them


class BulkSegmentWriter(SegmentWriter):  # type: ignore[misc]
    """A SegmentWriter that groups postings per term in memory instead of pooling them.

    No write lock by default (a rebuild's workers: ``write_segments``' own writer holds it); the
    incremental writer (``writer.IndexWriter``) takes it with ``lock=True``.
    """

    #: Documents of merged segments (Whoosh's merge policy, at commit) kept in memory like added ones;
    #: a bigger merge (``commit(optimize=True)``) goes through Whoosh's pool, which spills to disk.
    MERGE_IN_MEMORY = 20_000

    def __init__(self, ix: Any, *, lock: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("codec", NewsCodec())
        kwargs.setdefault("compound", False)
        kwargs.setdefault("limitmb", 1)
        super().__init__(ix, _lk=lock, **kwargs)
        # (field, term) -> document numbers, weights, value sizes, values end to end: ~17 bytes a posting
        self.terms: dict[tuple[str, bytes], tuple[array[int], array[float], array[int], bytearray]] = {}
        schema = self.schema
        self._simple = all(not f.vector and not f.separate_spelling() for f in (schema[n] for n in schema.names()))
        self._merged_docs = 0
        self._pooled = False  # a merge went through the pool: so does the whole segment

    def add_document(self, **fields: Any) -> None:
        if not self._simple or any(name.startswith("_") for name in fields):
            raise ValueError("BulkSegmentWriter handles plain fields only (no vectors, spelling or _boost fields)")
        self._check_fields(self.schema, fields)
        perdocwriter, schema, docnum, terms = self.perdocwriter, self.schema, self.docnum, self.terms
        perdocwriter.start_doc(docnum)
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
                scorable = field.scorable
                for tbytes, freq, weight, vbytes in field.index(value):
                    if scorable:
                        length += freq
                    found = terms.get((fieldname, tbytes))
                    if found is None:
                        found = terms[(fieldname, tbytes)] = (array("I"), array("f"), array("I"), bytearray())
                    found[0].append(docnum)
                    found[1].append(weight)
                    found[2].append(len(vbytes))
                    found[3].extend(vbytes)
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
        terms = self.terms
        # Merged documents are numbered after every added one, and merged segment after segment: each
        # term's document numbers stay ascending when appended.
        for fieldname, tbytes, docnum, weight, vbytes in self._process_posts(reader.iter_postings(), startdoc, docmap):
            found = terms.get((fieldname, tbytes))
            if found is None:
                found = terms[(fieldname, tbytes)] = (array("I"), array("f"), array("I"), bytearray())
            vbytes = vbytes or b""
            found[0].append(docnum)
            found[1].append(weight)
            found[2].append(len(vbytes))
            found[3].extend(vbytes)

    def _flush_segment(self) -> None:
        if self._pooled:  # a big merge: every posting through Whoosh's pool (sorted, spilled to disk)
            add = self.pool.add
            for (fieldname, tbytes), (ids, weights, sizes, blob) in self.terms.items():
                start = 0
                for docnum, weight, size in zip(ids, weights, sizes, strict=True):
                    add((fieldname, tbytes, docnum, weight, bytes(blob[start : start + size])))
                    start += size
            self.terms = {}
            super()._flush_segment()
            return
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        assert isinstance(lengths, NewsPerDocReader)
        try:
            self.fieldwriter.add_term_postings(self.schema, lengths, self.terms)
        finally:
            lengths.close()
        self.terms = {}

    def finish(self) -> Any:
        """Write the segment and return it (for a TOC the caller commits)."""
        return self._finalize_segment()  # the temp directory is shared: the TOC's committer removes it


def _segments(ix: Any, batches: Iterable[list[dict[str, Any]]], segment_docs: int) -> list[Any]:
    """Write the documents of ``batches`` as segments of about ``segment_docs`` documents each."""
    segments: list[Any] = []
    writer: BulkSegmentWriter | None = None
    for batch in batches:
        if writer is None:
            writer = BulkSegmentWriter(ix)
        for doc in batch:
            writer.add_document(**doc)
        if writer.doc_count() >= segment_docs:
            segments.append(writer.finish())
            writer = None
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


def _worker(path: str, jobs: Any, results: Any, segment_docs: int) -> None:
    # Millions of long-lived postings make every full garbage collection walk them all; this short-lived
    # process makes no reference cycles worth collecting.
    gc.disable()
    try:
        segments = _segments(whoosh_index.open_dir(path), iter(jobs.get, None), segment_docs)
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
            workers = [
                ctx.Process(target=_worker, args=(ix.storage.folder, jobs, results, segment_docs), daemon=True)
                for _ in range(procs)
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
