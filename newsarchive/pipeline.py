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

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from newsarchive.archive.domains import same_site
from newsarchive.archive.rawpage import RawPage
from newsarchive.archive.warc import (
    MAX_RECORD_BYTES,
    WARC_NAME,
    WarcEntry,
    WarcLocation,
    WarcWriterPool,
    complete_size,
    iter_records,
)
from newsarchive.archive_dir import ArchiveDir
from newsarchive.article import Article, clean_article
from newsarchive.config import WARC_MAX_BYTES
from newsarchive.errors import ArchiveError, NewsArchiveError, NotAnArticle, ParseError
from newsarchive.faultpoint import faultpoint
from newsarchive.parse import parse_page, registry, site_of
from newsarchive.parse.decode import decode_html, drop_control_refs
from newsarchive.runlock import RunLock
from newsarchive.store.articles import ArticleStore, CaptureRow, Outcome, capture_of
from newsarchive.store.frontier import Frontier

LOGGER = logging.getLogger(__name__)

INDEX_BATCH = 500

#: Parse-quality alarm (see check_source_quality): a run's share of pages that were no article or lacked
#: a headline, date or body above QUALITY_ALARM, where the source's last QUALITY_HISTORY_RUNS runs were
#: under QUALITY_NORMAL, with at least QUALITY_MIN_PAGES pages on both sides.
QUALITY_ALARM = 0.20
QUALITY_NORMAL = 0.05
QUALITY_HISTORY_RUNS = 5
QUALITY_MIN_PAGES = 3

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def looks_like_html(body: bytes) -> bool:
    """Sniff a body that came without a Content-Type: an HTML document starts like one."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<body" in head


def page_skip_reason(raw: RawPage) -> str | None:
    """Why a response is no candidate article page; None when it is one.

    Candidates are 2xx responses typed text/html or application/xhtml+xml, or untyped
    ones whose body looks like HTML. Everything else in a WARC file (images, CSS, feeds,
    redirects, errors) is skipped, not failed.
    """
    if not 200 <= raw.status < 300:
        return f"HTTP {raw.status}"
    mime = (raw.content_type or "").split(";", 1)[0].strip().lower()
    if mime in _HTML_TYPES:
        return None
    if mime:
        return f"not an HTML page ({mime})"
    return None if looks_like_html(raw.body) else "no Content-Type and the body does not look like HTML"


def _is_document(raw: RawPage) -> bool:
    """A 2xx response that is no HTML page: a feed or sitemap archived at discovery (see add_document)."""
    return 200 <= raw.status < 300 and page_skip_reason(raw) is not None


def keep_feed_entries(frontier: Frontier, body: bytes, url: str) -> int:
    """Keep what a site's feed says of each post (registry.feed_entries) for the parse of its pages; how many."""
    try:
        entries = registry.feed_entries(body)
    except (ParseError, ValueError) as exc:
        LOGGER.info("%s: feed entries not kept: %s", url, exc)
        return 0
    for key, data in entries:
        frontier.save_feed_metadata(key, data)
    return len(entries)


@dataclass
class PageResult:
    """What happened to one captured page."""

    url: str
    outcome: Outcome | str  # new / updated / unchanged / not-article / failed / skipped
    article: Article | None = None
    error: str | None = None
    #: What an HTML page lacked: "headline", "date", "body" (a page with no headline or body is failed).
    missing: tuple[str, ...] = ()


@dataclass
class ParsedCapture:
    """A captured page parsed as it would be stored (Archive.parse_capture), before anything is written."""

    #: The outcome for anything but an article to store: failed, skipped, not-article, unchanged (an agreeing
    #: copy on another site); for an article to store, "parsed" (the store's upsert gives the real outcome).
    result: PageResult
    #: The article to upsert (fetched_at and capture set); None: nothing is stored.
    to_store: Article | None = None
    #: Not an article, or the parser failed on the page: its reason, recorded as the capture's verdict (with the
    #: parser's name/version, for reparse --changed).
    verdict: str | None = None
    #: The page parsed as an article (stored or not): any earlier not-article verdict on it is cleared.
    is_article: bool = False


_COUNTED = frozenset({"new", "updated", "unchanged", "not_article", "failed", "skipped"})


@dataclass
class SourceTally:
    """One source's HTML pages in one run, and how many were no article or lacked a field."""

    pages: int = 0
    not_article: int = 0
    incomplete: int = 0
    missing: dict[str, int] = field(default_factory=dict)

    def add(self, result: PageResult) -> None:
        if result.outcome not in ("new", "updated", "unchanged", "not-article") and not result.missing:
            return  # HTTP errors, non-HTML, truncated: not a verdict on the site's markup
        self.pages += 1
        if result.outcome == "not-article":
            self.not_article += 1
        if result.missing:
            self.incomplete += 1
            for name in result.missing:
                self.missing[name] = self.missing.get(name, 0) + 1

    @property
    def bad(self) -> int:
        return self.not_article + self.incomplete

    def as_dict(self) -> dict[str, object]:
        return {"pages": self.pages, "not_article": self.not_article, "incomplete": self.incomplete,
                "missing": dict(sorted(self.missing.items()))}  # fmt: skip


@dataclass
class RunCounts:
    """What a writing command did, for its summary line and --json."""

    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    not_article: int = 0
    incomplete: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    #: Per source (ingest): HTML pages, not-articles, articles missing a field.
    sources: dict[str, SourceTally] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        key = outcome.replace("-", "_")
        if key in _COUNTED:
            setattr(self, key, getattr(self, key) + 1)

    def add(self, result: PageResult) -> None:
        self.count(result.outcome)
        if result.missing:
            self.incomplete += 1
        if result.error:
            self.errors.append(result.error)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if k not in ("errors", "sources")}

    def sources_dict(self) -> dict[str, dict[str, object]]:
        return {name: tally.as_dict() for name, tally in sorted(self.sources.items())}

    def source_lines(self) -> list[str]:
        """One summary line per source that had pages no article or lacking a field."""
        lines = []
        for name, t in sorted(self.sources.items()):
            if t.bad:
                lacks = ", ".join(f"{n} without {k}" for k, n in sorted(t.missing.items()))
                lines.append(f"{name}: {t.pages} pages, {t.not_article} not recognised as articles"
                             + (f", {lacks}" if lacks else ""))  # fmt: skip
        return lines


@dataclass
class ReparseCounts(RunCounts):
    """RunCounts plus the articles reparse took away: their page gives another key now (see settle_stale)."""

    removed: int = 0


@dataclass
class ReparseRun:
    """What a reparse run (or ``reparse --diff``) learns page by page, to find the articles it leaves stale."""

    #: Every newest capture is parsed (no --changed).
    every_page: bool = True
    #: By the id of an article whose current page now gives another key: (that capture's id, the key, its URL).
    moved: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    #: By key: the pages that gave it but went into its history, being older than its current page (time, id).
    givers: dict[str, list[tuple[datetime, int]]] = field(default_factory=dict)
    #: The captures that could not be read.
    unread: set[int] = field(default_factory=set)
    #: With --changed: the captures parsed.
    seen: set[int] = field(default_factory=set)

    def parsed(self, capture_id: int) -> None:
        if not self.every_page:
            self.seen.add(capture_id)

    def gives(self, row: CaptureRow, article: Article, holders: list[str]) -> None:
        """Capture ``row`` gives ``article``; ``holders``: the ids of the articles it is the current page of, once
        its article is stored (without it among them: it went into the key's history, being older)."""
        if article.id not in holders:
            self.givers.setdefault(article.id, []).append((row.fetched_at, row.id))
        for old in holders:
            if old != article.id:
                self.moved[old] = (row.id, article.id, article.canonical_url)


@dataclass
class Stale:
    """An article a reparse run left stale (Archive.stale_articles): ``old``, as stored, whose current page,
    capture ``capture_id``, now gives the article ``new_id`` (``new_url``)."""

    old: Article
    capture_id: int
    new_id: str
    new_url: str
    #: (capture id, article) of another page that gives ``old``'s key: it takes ``old``'s place. None: ``old`` goes.
    successor: tuple[int, Article] | None = None
    #: Why ``old`` stays as it is (a page that could not be read may give it); None: it goes or is replaced.
    kept: str | None = None

    @property
    def removed(self) -> bool:
        return self.kept is None and self.successor is None


def _current_parser_versions() -> dict[str, str]:
    return {cls.name: cls.version for cls in registry.parsers()}


def _parser_changed(parsed_by: str | None, current: dict[str, str]) -> bool:
    """True when a stored ``name/version`` is no longer the registered version of that parser."""
    if not parsed_by:
        return False  # never parsed as a page (error pages, feeds): nothing a parser upgrade changes
    name, _, version = parsed_by.partition("/")
    return current.get(name) != version


class Archive(ArchiveDir):
    """The archive directory with its writing side: WARC appends, parsing, store and index updates."""

    def __init__(self, root: Path | None = None, *, store: str | None = None, warc: str | None = None) -> None:
        super().__init__(root, store=store, warc=warc)
        self._frontier: Frontier | None = None
        self._pool: WarcWriterPool | None = None

    # --- opening ----------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the archive on first use (no set-up step)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.warcs.prepare()  # warc/ made; another directory or a bucket checked (exit 2 with a hint)
        except OSError as exc:
            raise ArchiveError(f"cannot create the archive at {self.root}: {exc.strerror}") from exc

    @property
    def store(self) -> ArticleStore:
        if self._store is None and not self.read_only and not self.exists():
            self.ensure()  # writing commands create the archive on first use; a read-only one is never created
        return super().store

    @property
    def frontier(self) -> Frontier:
        """Crawl state, kept in the store's database (one transaction scope with the articles)."""
        if self._frontier is None:
            self._frontier = pg_frontier(self.store) if self.store_spec.is_postgres else Frontier(self.store.db)
        return self._frontier

    def lock(self, *, wait: float = 0.0) -> RunLock:
        self.ensure()
        return RunLock(self.root / "lock", wait=wait)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()  # object storage: the file is uploaded
            if not self.warcs.remote:
                try:
                    self._pool.settle()  # a worker killed meanwhile on this machine: its torn tail is cut now
                except OSError as exc:
                    LOGGER.warning("WARC files of ended workers not settled: %s", exc.strerror or exc)
            self._pool = None
        if not self.read_only and self._warcs is not None and self._warcs.remote and self._store is not None:
            # Files a killed run left in the spool (torn tails cut to the committed size first).
            self._warcs.flush(self.store.committed_warc_sizes)
        self._frontier = None
        super().close()

    # --- writing ----------------------------------------------------------------------

    def _warc_pool(self) -> WarcWriterPool:
        if self._pool is None:
            warcs = self.warcs
            warcs.prepare()
            self._pool = WarcWriterPool(
                warcs.write_dir,
                self.store.committed_warc_sizes,
                max_bytes=WARC_MAX_BYTES,
                adopt=not warcs.remote,  # a closed file goes up to object storage: never appended to again
                on_close=warcs.finish,
            )
        return self._pool

    def add_raw(
        self, raw: RawPage, *, parser: str | None = None, source: str | None = None, counts: RunCounts | None = None
    ) -> PageResult:
        """Archive a fetched page byte for byte, then parse and store it (index: see sync_index).

        With ``source`` and ``counts``, the page is tallied for that source's parse-quality check.
        """
        # WARC-Date holds whole seconds: the stored fetched_at is the same, so a store rebuilt from
        # the WARC files alone gives the very same articles.
        raw = dataclasses.replace(raw, fetched_at=raw.fetched_at.replace(microsecond=0))
        loc = self._warc_pool().append(raw)
        row = self.store.record_capture(raw, loc)
        faultpoint("after-capture-commit")
        result = self._parse_and_store(raw, row, parser=parser)
        if source is not None and counts is not None:
            counts.sources.setdefault(source, SourceTally()).add(result)
        return result

    def add_document(self, raw: RawPage) -> None:
        """Archive a discovery document (feed, sitemap) as response + request records; nothing is parsed.

        A site's feeds may carry what its pages hide (dates, labels, author a theme leaves out): with them in the WARC
        files, ``store rebuild`` restores those fields from the WARC files alone. A document
        archived before byte for byte is not written again.
        """
        if not 200 <= raw.status < 300 or self.store.has_digest(raw.digest, raw.final_url):
            return
        raw = dataclasses.replace(raw, fetched_at=raw.fetched_at.replace(microsecond=0))
        self.store.record_capture(raw, self._warc_pool().append(raw))

    def parse_capture(self, raw: RawPage, row: CaptureRow, *, parser: str | None = None) -> ParsedCapture:
        """Parse a captured page as it would be stored, and write nothing: the page's verdict and the article.

        Every step between the parser and the store is here (the feed's fields merged, the article
        cleaned, an untrusted canonical URL dropped, an agreeing copy on another site left out), so
        that ``reparse --diff`` shows exactly what ``_parse_and_store`` writes.
        """
        url = raw.final_url
        if raw.truncated:
            error = f"{url}: download cut at the size limit; archived, not parsed"
            return ParsedCapture(PageResult(url, "failed", error=error))
        if not 200 <= raw.status < 300:
            return ParsedCapture(PageResult(url, "failed", error=f"{url}: HTTP {raw.status}"))
        if page_skip_reason(raw) is not None:
            return ParsedCapture(PageResult(url, "skipped", error=None))
        try:
            article = parse_page(raw.body, url, content_type=raw.content_type, parser=parser)
        except NotAnArticle as exc:
            result = PageResult(url, "not-article", error=f"{url}: not an article ({exc.message})")
            return ParsedCapture(result, verdict=exc.message)
        except ParseError as exc:
            # parse_html's two "nothing there" verdicts: counted for the source's parse-quality check.
            missing: tuple[str, ...] = ("headline",) if "no headline found" in exc.message else ()
            missing += ("body",) if "no article text found" in exc.message else ()
            # Recorded as the parser's verdict on the page, with its version: reparse --changed tries the page
            # again once that parser has a new version (it may read the page now).
            failed = PageResult(url, "failed", error=exc.message, missing=missing)
            return ParsedCapture(failed, verdict=f"failed: {exc.message}")
        article = clean_article(self._merge_feed_metadata(article))  # the feed's fields are page text too
        article, copy = self._trusted_canonical(article)
        if copy:
            # Another site's copy of an archived article, saying the same: the original keeps its record.
            return ParsedCapture(PageResult(url, "unchanged", article=article), is_article=True)
        article = article.replace(fetched_at=raw.fetched_at, capture=capture_of(row))
        result = PageResult(url, "parsed", article=article, missing=() if article.published else ("date",))
        return ParsedCapture(result, to_store=article, is_article=True)

    def _parse_and_store(self, raw: RawPage, row: CaptureRow, *, parser: str | None = None) -> PageResult:
        return self._store_parsed(raw, row, self.parse_capture(raw, row, parser=parser), parser=parser)

    def _store_parsed(
        self, raw: RawPage, row: CaptureRow, parsed: ParsedCapture, *, parser: str | None = None
    ) -> PageResult:
        if parsed.verdict is not None:
            self.store.record_verdict(row.id, raw.final_url, self._judging_parser(raw, parser), parsed.verdict)
        elif parsed.is_article:
            self.store.clear_verdict(row.id)
        if parsed.to_store is None:
            return parsed.result
        outcome = self.store.upsert(parsed.to_store, capture_id=row.id)
        faultpoint("after-article-commit")
        return dataclasses.replace(parsed.result, outcome=outcome)

    @staticmethod
    def _judging_parser(raw: RawPage, forced: str | None) -> str:
        """``name/version`` of the parser that judged a page not an article (the one parse_page chose)."""
        if forced:
            cls = registry.parser_by_name(forced)
        else:
            cls = registry.parser_for(raw.final_url, drop_control_refs(decode_html(raw.body, raw.content_type)))
        return f"{cls.name}/{cls.version}"

    def _trusted_canonical(self, article: Article) -> tuple[Article, bool]:
        """Keep a page's canonical URL only when it can be trusted; else the page stands under its own URL.

        A canonical URL on the page's own site (registrable domain) is trusted. One on another
        site is trusted only when that URL was itself archived and says the same (same content
        digest): otherwise any site could replace another's article by naming it as canonical.
        The flag is True for such an agreeing copy on another site (nothing to store).
        """
        canonical, url = article.canonical_url, article.url
        if not canonical or canonical == url or same_site(canonical, url):
            return article, False
        if self.store.canonical_agrees(canonical, article.content_digest()):
            return article, True
        LOGGER.info("%s: canonical URL %s is on another site and not confirmed by it; ignored", url, canonical)
        own_site = site_of(url)
        site = own_site if article.site == site_of(canonical) else article.site
        return article.replace(canonical_url=url, site=site), False

    # --- importing WARC files -----------------------------------------------------------

    def is_own_warc(self, path: Path) -> bool:
        """True for one of this archive's own WARC files (indexed in place, never copied).

        Those are the files of a WARC directory, and of the archive's warc/ (files written before the
        location changed). A file in the spool of object storage is not: it is uploaded, then gone.
        """
        try:
            parent = path.resolve().parent
            return bool(WARC_NAME.match(path.name)) and any(parent == d.resolve() for d in self.warcs.local_dirs())
        except OSError:
            return False

    def own_warc_files(self) -> list[Path]:
        """The archive's local WARC files, oldest first (their names sort by time and sequence).

        A WARC directory's files and those left in the archive's warc/; object storage's: see remote_warc_names.
        """
        found: dict[str, Path] = {}
        for directory in reversed(self.warcs.local_dirs()):  # the location wins over warc/ for a name in both
            if directory.is_dir():
                found |= {p.name: p for p in directory.iterdir() if WARC_NAME.match(p.name)}
        return [found[name] for name in sorted(found)]

    def remote_warc_names(self) -> list[str]:
        """The files in object storage, after this machine's spool is uploaded (none for a directory)."""
        if not self.warcs.remote:
            return []
        self.warcs.flush(self.store.committed_warc_sizes)
        local = {p.name for p in self.own_warc_files()}
        return [n for n in self.warcs.names() if n not in local]

    def keep_feed_metadata(self, paths: list[Path], *, max_record_bytes: int = MAX_RECORD_BYTES) -> int:
        """First pass of an import: what archived feeds say of each post (sites with a feed merge), for the parse."""
        kept = 0
        for path in paths:
            try:
                for entry in iter_records(path, max_record_bytes=max_record_bytes):
                    if entry.raw is not None and _is_document(entry.raw):
                        kept += self._keep_feed(entry.raw)
            except ArchiveError:
                continue  # reported by the second pass
        return kept

    def _keep_feed(self, raw: RawPage) -> int:
        return keep_feed_entries(self.frontier, raw.body, raw.final_url)

    def import_warc(
        self,
        path: Path,
        counts: RunCounts,
        *,
        max_record_bytes: int = MAX_RECORD_BYTES,
        own_name: str | None = None,
        on_position: Callable[[int], None] | None = None,
    ) -> Iterator[PageResult | None]:
        """Ingest the candidate pages of one WARC file; yields per record (None: not a page).

        An outside file's pages are copied into the archive's own WARC files (pages
        captured before, byte for byte, are left out). The archive's own files are indexed
        in place: captures point at the records where they are, and the files are never
        written. Non-candidate records (see page_skip_reason) are counted as skipped. ``own_name``: ``path``
        is a downloaded copy of that file of the archive's object storage (indexed as that file).
        ``on_position``: called with the bytes of the file read so far, once per record (for progress).
        """
        own = own_name is not None or self.is_own_warc(path)
        name = own_name or path.name
        end = complete_size(path) if own else 0
        for entry in iter_records(path, max_record_bytes=max_record_bytes):
            if on_position is not None:
                on_position(entry.offset + entry.length)
            if entry.note:
                counts.errors.append(entry.note)
            if entry.error:
                counts.failed += 1
                counts.errors.append(entry.error)
                yield None
                continue
            raw = entry.raw
            if raw is None or page_skip_reason(raw) is not None:
                counts.skipped += 1
                yield None
                continue
            result = self._import_entry(name, entry, raw, counts, own=own, end=end)
            if result is not None:
                counts.add(result)
            yield result

    def _import_entry(
        self, name: str, entry: WarcEntry, raw: RawPage, counts: RunCounts, *, own: bool, end: int
    ) -> PageResult | None:
        if own:
            if self.store.capture_at(name, entry.offset) is not None:
                counts.unchanged += 1
                return None
            counts.fetched += 1
            # A record past the size read when the import began (the file grew meanwhile) is committed too.
            committed = max(end, entry.offset + entry.length)
            row = self.store.record_capture(raw, WarcLocation(name, entry.offset, entry.length, committed))
            return self._parse_and_store(raw, row)
        if self.store.has_digest(raw.digest, raw.final_url):
            counts.unchanged += 1
            return None
        counts.fetched += 1
        return self.add_raw(raw)

    # --- parse quality ------------------------------------------------------------------

    def check_source_quality(self, counts: RunCounts, now: datetime) -> list[str]:
        """Record this run's per-source tallies in the store's run log; warn on a jump against history.

        One warning per source whose share of pages that were no article or lacked a headline,
        date or body went above QUALITY_ALARM where its last runs were under QUALITY_NORMAL.
        """
        warnings: list[str] = []
        counts.incomplete = sum(t.incomplete for t in counts.sources.values())
        for name, tally in sorted(counts.sources.items()):
            history = self.store.source_history(name, QUALITY_HISTORY_RUNS)
            self.store.record_source_run(name, now, tally.pages, tally.not_article, tally.incomplete)
            past_pages = sum(h[0] for h in history)
            past_bad = sum(h[1] + h[2] for h in history)
            if tally.pages < QUALITY_MIN_PAGES or past_pages < QUALITY_MIN_PAGES:
                continue
            share, past_share = tally.bad / tally.pages, past_bad / past_pages
            if share > QUALITY_ALARM and past_share < QUALITY_NORMAL:
                lacks = "".join(f", {n} without {k}" for k, n in sorted(tally.missing.items()))
                warnings.append(
                    f"{name}: {tally.bad} of {tally.pages} pages ({share:.0%}) were not recognised as articles or"
                    f" lacked a headline, date or body ({tally.not_article} not articles{lacks}), against"
                    f" {past_share:.0%} over its last {len(history)} runs: has the site changed its markup?"
                    " Check a page with: newsarchive parse FILE --url URL"
                )
        return warnings

    def _merge_feed_metadata(self, article: Article) -> Article:
        """Fill what the page hides from what its site's feed said (the site's declared feed merge)."""
        return registry.merge_feed_metadata(article, self._feed_metadata)

    def _feed_metadata(self, key: str) -> str | None:
        """What a feed said of a post, kept by keep_feed_entries; the frontier is opened only when a site asks.

        On a read-only archive (reparse --diff), a store whose crawl-state tables were never made (opening them
        would create them) has kept nothing.
        """
        if self.read_only and self._frontier is None:
            try:
                return self.frontier.feed_metadata(key)
            except self._store_errors():
                return None
        return self.frontier.feed_metadata(key)

    def _store_errors(self) -> tuple[type[Exception], ...]:
        """The database errors of the store's driver (sqlite3, or psycopg for a PostgreSQL store)."""
        import sqlite3

        if self.store_spec.is_postgres:
            import psycopg

            return (sqlite3.Error, psycopg.Error)
        return (sqlite3.Error,)

    def sync_index(self) -> int:
        """Write every queued article to the index (creating it when missing), or to the shared search tables.

        Several processes of one archive directory can get here at once (ingest workers on a PostgreSQL
        store take no run lock): an ``flock`` on ``index.lock`` lets one drain the queue at a time, so two
        never create the index together (Whoosh failed with ``File '_MAIN_0.toc' exists``, exit 70).
        """
        import fcntl

        from newsarchive.index.backend import store_url

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "index.lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # the kernel drops it when the process ends
            if store_url(self) is not None:
                return self._sync_shared_search()
            return self._sync_index()

    def _sync_index(self) -> int:
        # The Whoosh index's code (and numpy) is imported when a local index is written: an ingest worker of a
        # PostgreSQL store never loads it (0.15 s of CPU per process, paid by every worker as it starts).
        from newsarchive.index.writer import index_state, open_index, write_articles

        state = index_state(self.index_dir)
        if state in ("outdated", "damaged"):
            LOGGER.warning("the search index is %s: rebuilding it from the store", state)
            return self.reindex()
        ix = open_index(self.index_dir, create=True)

        def write(found: list[Article], missing: list[str]) -> None:
            write_articles(ix, found, delete_ids=missing)
            faultpoint("after-index-commit")

        try:
            return self._drain_index_queue(write)
        finally:
            ix.close()

    def _drain_index_queue(self, write: Callable[[list[Article], list[str]], None]) -> int:
        """Hand the store's index queue to ``write`` batch by batch (the queued articles still stored, and
        the ids of those gone); each batch leaves the queue only after ``write`` has committed it, so a kill
        re-indexes and never loses. The number of articles written."""
        written = 0
        while True:
            ids = self.store.index_queue(INDEX_BATCH)
            if not ids:
                return written
            found = self.store.get_many(ids)
            write(list(found.values()), [i for i in ids if i not in found])
            self.store.index_done(ids)
            written += len(found)

    def reindex(self, *, on_article: Callable[[], None] | None = None) -> int:
        """Rebuild the whole index from the store (``on_article``: called once per article read, for progress)."""
        from newsarchive.index.backend import store_url

        if store_url(self) is not None:
            return self._reindex_shared_search(on_article)
        from newsarchive.index.writer import rebuild

        pending = self.store.index_queue(2**31 - 1)
        articles = self.store.iter_articles(order="id")
        if on_article is not None:
            articles = _tap(articles, on_article)
        written = rebuild(self.index_dir, articles)
        self.store.index_done(pending)  # once rebuilt: a rebuild killed half-way leaves the queue to the next run
        return written

    # --- search on a PostgreSQL store (docs/scale-out.md, search) ----------------------

    def _sync_shared_search(self) -> int:
        """A PostgreSQL store's index queue goes to the shared search tables (whatever this machine
        searches with); a local Whoosh index, when the ``search`` setting asks for one, then follows
        their change numbers. A local index never drains the shared queue."""
        from newsarchive.index.backend import store_url, which_backend
        from newsarchive.index.follow import follow
        from newsarchive.index.pg_search import OutdatedSearchTables, PgSearch, connect

        url = store_url(self)
        assert url is not None
        try:
            pg = PgSearch(connect(url), create=True)
        except OutdatedSearchTables:
            LOGGER.warning("the PostgreSQL search tables are outdated: rebuilding them from the store")
            return self.reindex()

        def write(found: list[Article], missing: list[str]) -> None:
            pg.add(found)
            pg.delete(missing)

        try:
            written = self._drain_index_queue(write)
            if which_backend(self) == "whoosh":
                follow(self.index_dir, pg, self.store)
        finally:
            pg.close()
        return written

    def _reindex_shared_search(self, on_article: Callable[[], None] | None) -> int:
        """reindex on a PostgreSQL store: the index this machine searches with. The shared search tables
        are reloaded from the store (the queue with them); a local Whoosh index is rebuilt and follows them."""
        from newsarchive.index.backend import store_url, which_backend
        from newsarchive.index.follow import follow
        from newsarchive.index.pg_search import PgSearch, connect

        url = store_url(self)
        assert url is not None
        pg = PgSearch(connect(url), create=True, replace_outdated=True)
        try:
            if which_backend(self) == "whoosh":
                return follow(self.index_dir, pg, self.store, rebuild=True, on_article=on_article).written
            pending = self.store.index_queue(2**31 - 1)
            articles = self.store.iter_articles(order="id")
            if on_article is not None:
                articles = _tap(articles, on_article)
            from newsarchive.index.pg_search import LOAD_PROCS

            loaded = pg.bulk_load(articles, replace=True, changed=pending, procs=LOAD_PROCS)
            # Off the queue once loaded (a load that fails leaves it: the next ingest or reindex takes it up), but
            # for an article queued again meanwhile (index_done keeps those: the load may have read it before).
            self.store.index_done(pending)
            return loaded
        finally:
            pg.close()

    # --- reading ----------------------------------------------------------------------

    def raw_for(self, row: CaptureRow) -> RawPage:
        """The archived page of a capture, checked against the digest recorded when it was written."""
        raw = self.warcs.read(row.warc, row.offset, row.length)
        if raw.digest != row.digest:
            # Damage that still decompresses (zeroed or flipped bytes) must not pass for the page.
            raise ArchiveError(f"{row.warc} at offset {row.offset}: unreadable record (payload digest mismatch)")
        return raw

    def iter_captured_pages(
        self, *, only_changed: bool = False
    ) -> Iterator[tuple[CaptureRow, RawPage | NewsArchiveError]]:
        """The newest capture of every URL with its page; ``only_changed``: those whose parser has a new version
        (of any article the page is the current capture of, else of its not-article verdict)."""
        current = _current_parser_versions() if only_changed else {}
        for row in self.store.iter_captures():
            if only_changed and not any(_parser_changed(p, current) for p in self.store.parsed_by(row.id)):
                continue
            try:
                yield row, self.raw_for(row)
            except ArchiveError as exc:
                yield row, exc

    def reparse_capture(self, row: CaptureRow, raw: RawPage, run: ReparseRun | None = None) -> PageResult:
        """Parse an archived capture again and store the result (no new WARC record); ``run``: what the page
        gives is noted there, for ``settle_stale``."""
        parsed = self.parse_capture(raw, row)
        result = self._store_parsed(raw, row, parsed)
        if run is not None and parsed.to_store is not None:
            # After the write: the articles this capture is now the current page of.
            run.gives(row, parsed.to_store, [i for i, _ in self.store.articles_of_capture(row.id)])
        return result

    # --- what reparse leaves stale -------------------------------------------------------

    def stale_articles(self, run: ReparseRun, current_capture: Callable[[str], int | None]) -> list[Stale]:
        """The stored articles a reparse run left stale, and what becomes of each (``settle_stale``; ``reparse
        --diff`` reports the same): an article is stale when its current page (capture) was parsed in the run,
        now gives another key, and is still its current page at the end (``current_capture``: the capture id of
        an article's current page after the run; no page that was parsed gave its key anew).

        A stale article goes, unless another page still gives its key: the newest such page (one parsed in the run
        whose article went into the key's history, being older; or one the run did not parse and whose result is
        on record nowhere, parsed now: ``--changed``) takes its place. Where such a page could not be read, the
        article is kept as it is (``Stale.kept``): it might still be given by it.
        """
        found = [(old, *moved) for old, moved in sorted(run.moved.items()) if current_capture(old) == moved[0]]
        if not found:
            return []
        stored = self.store.get_many([old for old, *_ in found])
        others, unreadable = self._other_givers(run)
        stale: list[Stale] = []
        for old_id, capture_id, new_id, new_url in found:
            article = stored.get(old_id)
            if article is None:
                continue
            if unreadable:
                kept = (
                    f"{article.canonical_url}: kept, though its page now gives {new_url}: pages that could not be read"
                    f" may still give it ({unreadable[0]}{' and others' if len(unreadable) > 1 else ''})"
                )
                stale.append(Stale(article, capture_id, new_id, new_url, kept=kept))
                continue
            givers = sorted({*run.givers.get(old_id, ()), *others.get(old_id, ())}, reverse=True)
            stale.append(Stale(article, capture_id, new_id, new_url, successor=self._newest_giver(old_id, givers)))
        return stale

    def _other_givers(self, run: ReparseRun) -> tuple[dict[str, list[tuple[datetime, int]]], list[str]]:
        """Pages the run did not parse that may give a key (their result is on record nowhere): by the key each
        gives now, (capture time, capture id); and the URLs of those that cannot be read."""
        givers: dict[str, list[tuple[datetime, int]]] = {}
        unreadable: list[str] = []
        for row in self.store.pages_without_result():
            parsed_in_run = row.id not in run.unread if run.every_page else row.id in run.seen
            if parsed_in_run:
                continue  # what it gives is noted
            mime = (row.content_type or "").split(";", 1)[0].strip().lower()
            if mime and mime not in _HTML_TYPES:
                continue  # a feed or sitemap: no article
            if row.id in run.unread:
                unreadable.append(row.final_url)
                continue
            try:
                raw = self.raw_for(row)
            except ArchiveError:
                unreadable.append(row.final_url)
                continue
            article = self.parse_capture(raw, row).to_store
            if article is not None:
                givers.setdefault(article.id, []).append((row.fetched_at, row.id))
        return givers, unreadable

    def _newest_giver(self, key: str, givers: list[tuple[datetime, int]]) -> tuple[int, Article] | None:
        """(capture id, article) of the newest of ``givers`` (newest first) that gives ``key`` when parsed now."""
        for _, capture_id in givers:
            row = self.store.capture(capture_id)
            try:
                raw = self.raw_for(row)
            except ArchiveError:
                continue
            article = self.parse_capture(raw, row).to_store
            if article is not None and article.id == key:
                return capture_id, article
        return None

    def settle_stale(self, run: ReparseRun) -> tuple[int, list[str]]:
        """The end of a reparse: take away the articles it left stale (``stale_articles``), each in one
        transaction with its history moved (``ArticleStore.retire``) and its id queued for the index; the
        number taken away (not those another page's article replaced) and the warnings for those kept."""

        def current_capture(article_id: str) -> int | None:
            row = self.store.capture_for_article(article_id)
            return row.id if row is not None else None

        removed, warnings = 0, []
        gone: dict[str, str] = {}  # an article taken away: the one its history went to
        for item in self.stale_articles(run, current_capture):
            if item.kept is not None:
                warnings.append(item.kept)
                continue
            history_to, seen = item.new_id, {item.old.id}
            while history_to in gone and history_to not in seen:  # that one was taken away too: its history moved on
                seen.add(history_to)
                history_to = gone[history_to]
            retired = self.store.retire(
                item.old.id, capture_id=item.capture_id, history_to=history_to, successor=item.successor
            )
            if retired and item.removed:
                removed += 1
                gone[item.old.id] = history_to
        return removed, warnings


def pg_frontier(store: ArticleStore) -> Frontier:
    """The crawl frontier on a PostgreSQL store's connection (store/pg_frontier.py), or a clear error."""
    try:
        from newsarchive.store.pg_frontier import PgFrontier  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ArchiveError(
            "this newsarchive has no crawl frontier for a PostgreSQL store yet (newsarchive.store.pg_frontier)",
            hint="upgrade newsarchive; meanwhile ingest into SQLite and copy it over: newsarchive store migrate",
        ) from None
    return PgFrontier(store.conn)  # type: ignore[attr-defined,no-any-return,unused-ignore]


def _tap(items: Iterable[Article], call: Callable[[], None]) -> Iterator[Article]:
    for item in items:
        yield item
        call()
