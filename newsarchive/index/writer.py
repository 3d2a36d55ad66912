"""Open or create the index, write batches idempotently, rebuild from the store."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import struct
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.index import TOC, EmptyIndexError, LockError
from whoosh.index import IndexError as WhooshIndexError

from newsarchive.article import Article
from newsarchive.errors import LockedError, SearchIndexError
from newsarchive.faultpoint import faultpoint
from newsarchive.index.bulk import BulkSegmentWriter, write_segments
from newsarchive.index.schema import INDEX_VERSION, article_to_doc, make_schema
from newsarchive.index.whoosh_internals import toc_patterns

LOGGER = logging.getLogger(__name__)

VERSION_FILE = "newsarchive-index-version"
WRITER_TIMEOUT = 10.0
#: Processes that analyse documents during a rebuild (Whoosh's MpWriter; 1 = a plain writer).
REBUILD_PROCS = min(2, os.cpu_count() or 1)


#: What a damaged TOC or segment raises in Whoosh, depending on where the bytes went bad.
_DAMAGE = (
    EmptyIndexError,
    WhooshIndexError,
    OSError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
)


def index_state(directory: Path) -> str:
    """'ok', 'missing', 'outdated' (schema version differs) or 'damaged' (unreadable).

    An index read while a writer commits can look damaged for a moment (the TOC it listed is
    removed before it is read): 'damaged' only when it stays so for a few tries.
    """
    for attempt in range(_TRIES):
        state = _index_state(directory)
        if state != "damaged" or attempt == _TRIES - 1:
            return state
        time.sleep(_PAUSE * (attempt + 1))
    return "damaged"


_TRIES, _PAUSE = 4, 0.05


def _index_state(directory: Path) -> str:
    # The version file is read before the index's TOC: the TOC holds the schema pickled, and an index of another
    # version may name a field class this one does not have (unpickling it raises AttributeError).
    version: int | None = None
    with contextlib.suppress(OSError, ValueError):
        version = int((directory / VERSION_FILE).read_text().strip())
    if version is not None and version != INDEX_VERSION:
        return "outdated"
    try:
        if not directory.exists() or not whoosh_index.exists_in(str(directory)):
            return "missing"
    except (*_DAMAGE, AttributeError, ImportError):  # a schema naming classes no version of ours has
        return "damaged"
    return "ok" if version == INDEX_VERSION else "outdated"


def open_index(directory: Path, *, create: bool = False) -> whoosh_index.Index:
    """Open the index; with ``create``, make it when missing (never clears an existing one)."""
    state = index_state(directory)
    if state == "missing" and create:
        return create_index(directory)
    if state == "missing":
        raise SearchIndexError(f"no search index in {directory}", hint="build it with: newsarchive reindex")
    if state == "outdated":
        raise SearchIndexError(
            f"the search index in {directory} was built by another version of newsarchive",
            hint="rebuild it with: newsarchive reindex",
        )
    if state == "damaged":
        raise SearchIndexError(
            f"the search index in {directory} is damaged", hint="rebuild it with: newsarchive reindex"
        )
    for attempt in range(_TRIES):
        try:
            return whoosh_index.open_dir(str(directory))
        except _DAMAGE as exc:
            if attempt < _TRIES - 1:
                time.sleep(_PAUSE * (attempt + 1))
                continue
            raise SearchIndexError(
                f"the search index in {directory} is damaged ({exc})", hint="rebuild it with: newsarchive reindex"
            ) from exc
    raise AssertionError("unreachable")


def create_index(directory: Path) -> whoosh_index.Index:
    """A new, empty index (clears any existing one: only reindex calls this on purpose)."""
    directory.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(directory), make_schema())
    (directory / VERSION_FILE).write_text(f"{INDEX_VERSION}\n")
    return ix


#: Files of a commit stay this long after a newer commit replaced them: a search that opened the
#: older commit (Whoosh opens some files lazily) still finds every file it needs.
RETIRE_GRACE = 600.0
RETIRED_FILE = "newsarchive-retired.json"


class IndexWriter(BulkSegmentWriter):
    """Whoosh's SegmentWriter with this index's codec, whose commits retire old files instead of deleting them.

    Postings are grouped per term in memory (``bulk.BulkSegmentWriter``), not put through Whoosh's
    pool: a batch of 100 articles is written without sorting a tuple per posting.
    """

    def __init__(self, ix: whoosh_index.Index, **kwargs: Any) -> None:
        super().__init__(ix, lock=True, **kwargs)

    def _commit_toc(self, segments: list[Any]) -> None:
        TOC(self.schema, segments, self.generation).write(self.storage, self.indexname)
        retire_files(Path(self.storage.folder), self.indexname, self.generation, segments)


def retire_files(
    directory: Path, indexname: str, generation: int, segments: list[Any], *, now: float | None = None
) -> None:
    """whoosh.index.clean_files with a grace period: a file no commit uses is deleted RETIRE_GRACE after it left."""
    now = time.time() if now is None else now
    current = {s.segment_id() for s in segments}
    toc_pattern, seg_pattern = toc_patterns(indexname)
    unused = set()
    for path in directory.iterdir():
        name = path.name
        if name.startswith("."):
            continue
        toc, seg = toc_pattern.match(name), seg_pattern.match(name)
        if (toc and int(toc.group(1)) != generation) or (seg and seg.group(1) not in current):
            unused.add(name)
    ledger = directory / RETIRED_FILE
    try:
        retired = {k: float(v) for k, v in json.loads(ledger.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        retired = {}
    kept = {}
    for name in unused:
        since = retired.get(name, now)
        if now - since >= RETIRE_GRACE:
            with contextlib.suppress(OSError):
                (directory / name).unlink()
                continue
        kept[name] = since
    tmp = ledger.with_name(ledger.name + ".tmp")
    tmp.write_text(json.dumps(kept, sort_keys=True))
    tmp.replace(ledger)


def write_articles(ix: whoosh_index.Index, articles: Iterable[Article], *, delete_ids: Iterable[str] = ()) -> int:
    """update_document for a batch, de-duplicated by id (last wins); one commit."""
    batch: dict[str, Article] = {}
    for article in articles:
        batch[article.id] = article
    deletes = [i for i in delete_ids if i not in batch]
    if not batch and not deletes:
        return 0
    try:
        writer = IndexWriter(ix, timeout=WRITER_TIMEOUT, limitmb=64)
    except LockError as exc:
        raise LockedError(
            "another newsarchive process is writing the search index", hint="wait for it to finish, then retry"
        ) from exc
    try:
        # update_document for each article, with one searcher for all the deletions (update_document
        # opens every segment again for each document): delete the ids, then add the documents.
        with writer.searcher() as searcher:
            for doc_id in [*deletes, *batch]:
                writer.delete_by_term("id", doc_id, searcher=searcher)
        writer.add_documents([article_to_doc(article) for article in batch.values()])  # text analysed per field
    except BaseException:
        writer.cancel()
        raise
    faultpoint("before-index-commit")
    writer.commit()
    return len(batch)


def rebuild(directory: Path, articles: Iterable[Article]) -> int:
    """Build a fresh index beside the old one, then swap it in (searches never see half an index)."""
    tmp = directory.with_name(directory.name + ".new")
    if tmp.exists():
        _rmtree(tmp)
    ix = create_index(tmp)
    count = write_segments(ix, (article_to_doc(a) for a in articles), procs=REBUILD_PROCS)
    with ix.reader() as reader:
        written = reader.doc_count()
    ix.close()
    if written != count:  # a sub-process that died loses its documents silently: never swap such an index in
        _rmtree(tmp)
        raise SearchIndexError(f"the rebuilt index holds {written} of {count} articles; the old index is kept")
    old = directory.with_name(directory.name + ".old")
    if old.exists():
        _rmtree(old)
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    if old.exists():
        _rmtree(old)
    return count


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
