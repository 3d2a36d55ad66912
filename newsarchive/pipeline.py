"""The archive as a whole: raw page -> WARC -> parse -> store -> index, used by every writing command.

Order of durability, so that a kill at any point loses nothing and duplicates nothing:
1. the WARC records are appended and fsynced;
2. the capture row and the file's committed size are committed together;
3. the article is upserted and queued for indexing in one transaction;
4. the index is written from the queue, and the queue entries dropped after its commit.
A run that dies after step 1 leaves a tail past the committed size, cut on next open; one
that dies after step 3 leaves queued ids, indexed by the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.archive.rawpage import RawPage
from newsarchive.archive.warc import WarcWriterPool, read_capture
from newsarchive.archive_dir import ArchiveDir
from newsarchive.article import Article, clean_article
from newsarchive.config import WARC_MAX_BYTES
from newsarchive.errors import ArchiveError, NewsArchiveError, NotAnArticle, ParseError
from newsarchive.index.writer import index_state, open_index, rebuild, write_articles
from newsarchive.parse import parse_page
from newsarchive.parse.sites.blogger_feed import entry_from_json, merge_feed_entry
from newsarchive.runlock import RunLock
from newsarchive.store.articles import ArticleStore, CaptureRow, Outcome, capture_of
from newsarchive.store.frontier import Frontier

LOGGER = logging.getLogger(__name__)

INDEX_BATCH = 500


@dataclass
class PageResult:
    """What happened to one captured page."""

    url: str
    outcome: Outcome | str  # new / updated / unchanged / not-article / failed / skipped
    article: Article | None = None
    error: str | None = None


_COUNTED = frozenset({"new", "updated", "unchanged", "not_article", "failed"})


@dataclass
class RunCounts:
    """What a writing command did, for its summary line and --json."""

    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    not_article: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        key = outcome.replace("-", "_")
        if key in _COUNTED:
            setattr(self, key, getattr(self, key) + 1)

    def add(self, result: PageResult) -> None:
        self.count(result.outcome)
        if result.error:
            self.errors.append(result.error)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if k != "errors"}


class Archive(ArchiveDir):
    """The archive directory with its writing side: WARC appends, parsing, store and index updates."""

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(root)
        self._frontier: Frontier | None = None
        self._pool: WarcWriterPool | None = None

    # --- opening ----------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the archive on first use (no set-up step)."""
        try:
            self.warc_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArchiveError(f"cannot create the archive at {self.root}: {exc.strerror}") from exc

    @property
    def store(self) -> ArticleStore:
        if self._store is None and not self.exists():
            self.ensure()  # writing commands create the archive on first use
        return super().store

    @property
    def frontier(self) -> Frontier:
        """Crawl state, kept in the store's database (one transaction scope with the articles)."""
        if self._frontier is None:
            self._frontier = Frontier(self.store.db)
        return self._frontier

    def lock(self, *, wait: float = 0.0) -> RunLock:
        self.ensure()
        return RunLock(self.root / "lock", wait=wait)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._frontier = None
        super().close()

    # --- writing ----------------------------------------------------------------------

    def _warc_pool(self) -> WarcWriterPool:
        if self._pool is None:
            self._pool = WarcWriterPool(self.warc_dir, self.store.committed_warc_sizes(), max_bytes=WARC_MAX_BYTES)
        return self._pool

    def add_raw(self, raw: RawPage, *, parser: str | None = None) -> PageResult:
        """Archive a fetched page byte for byte, then parse and store it (index: see sync_index)."""
        loc = self._warc_pool().append(raw)
        row = self.store.record_capture(raw, loc)
        return self._parse_and_store(raw, row, parser=parser)

    def _parse_and_store(self, raw: RawPage, row: CaptureRow, *, parser: str | None = None) -> PageResult:
        url = raw.final_url
        if raw.truncated:
            return PageResult(url, "failed", error=f"{url}: download cut at the size limit; archived, not parsed")
        if not 200 <= raw.status < 300:
            return PageResult(url, "failed", error=f"{url}: HTTP {raw.status}")
        ctype = (raw.content_type or "text/html").lower()
        if "html" not in ctype and "xml" not in ctype:
            return PageResult(url, "skipped", error=None)
        try:
            article = parse_page(raw.body, url, content_type=raw.content_type, parser=parser)
        except NotAnArticle as exc:
            return PageResult(url, "not-article", error=f"{url}: not an article ({exc.message})")
        except ParseError as exc:
            return PageResult(url, "failed", error=exc.message)
        article = clean_article(self._merge_feed_metadata(article))  # the feed's fields are page text too
        article = article.replace(fetched_at=raw.fetched_at, capture=capture_of(row))
        outcome = self.store.upsert(article, capture_id=row.id)
        return PageResult(url, outcome, article=article)

    def _merge_feed_metadata(self, article: Article) -> Article:
        """Fill what the page hides from what its feed said (Blogger: dates, author, labels)."""
        post_id = article.extra.get("blogger_post_id")
        if not post_id:
            return article
        data = self.frontier.feed_metadata(f"blogger:{post_id}")
        return merge_feed_entry(article, entry_from_json(data)) if data else article

    def sync_index(self) -> int:
        """Write every queued article to the index (creating it when missing)."""
        state = index_state(self.index_dir)
        if state in ("outdated", "damaged"):
            LOGGER.warning("the search index is %s: rebuilding it from the store", state)
            return self.reindex()
        ix = open_index(self.index_dir, create=True)
        written = 0
        try:
            while True:
                ids = self.store.index_queue(INDEX_BATCH)
                if not ids:
                    break
                found = self.store.get_many(ids)
                missing = [i for i in ids if i not in found]
                write_articles(ix, found.values(), delete_ids=missing)
                self.store.index_done(ids)
                written += len(found)
        finally:
            ix.close()
        return written

    def reindex(self, *, on_article: Callable[[], None] | None = None) -> int:
        """Rebuild the whole index from the store (``on_article``: called once per article read, for progress)."""
        self.store.clear_index_queue()
        articles = self.store.iter_articles(order="id")
        if on_article is not None:
            articles = _tap(articles, on_article)
        return rebuild(self.index_dir, articles)

    # --- reading ----------------------------------------------------------------------

    def raw_for(self, row: CaptureRow) -> RawPage:
        """The archived page of a capture, checked against the digest recorded when it was written."""
        raw = read_capture(self.warc_dir / row.warc, row.offset)
        if raw.digest != row.digest:
            # Damage that still decompresses (zeroed or flipped bytes) must not pass for the page.
            raise ArchiveError(f"{row.warc} at offset {row.offset}: unreadable record (payload digest mismatch)")
        return raw

    def iter_captured_pages(self) -> Iterator[tuple[CaptureRow, RawPage | NewsArchiveError]]:
        for row in self.store.iter_captures():
            try:
                yield row, self.raw_for(row)
            except ArchiveError as exc:
                yield row, exc

    def reparse_capture(self, row: CaptureRow, raw: RawPage) -> PageResult:
        """Parse an archived capture again and store the result (no new WARC record)."""
        return self._parse_and_store(raw, row)


def _tap(items: Iterable[Article], call: Callable[[], None]) -> Iterator[Article]:
    for item in items:
        yield item
        call()
