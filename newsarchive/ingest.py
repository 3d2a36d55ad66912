"""The cron run: discover -> fetch (politely) -> archive -> parse -> store -> index; incremental and resumable.

Discovery documents (feeds, sitemaps, listings) are fetched in the main thread with
conditional GETs; article pages are fetched by one worker per host (one request at a
time per host, hosts in parallel) and written by the main thread alone, so the
archive has exactly one writer. Every step is recorded in the store before the next
begins: a run killed anywhere is resumed by the next one (see pipeline.py).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urldefrag

from newsarchive.archive.rawpage import RawPage
from newsarchive.discover import discover, in_period
from newsarchive.errors import FetchError, NewsArchiveError, ParseError, RefusedURL, UsageError
from newsarchive.faultpoint import faultpoint
from newsarchive.fetch.client import check_url
from newsarchive.fetch.polite import HostBusy, HostGate, HostSkipped, PoliteFetcher, RobotsRefused
from newsarchive.fetch.urls import (
    InvalidURL,
    fetch_form,
    host_of,
    normalize_url,
    origin_of,
    to_uri,
    without_userinfo,
)
from newsarchive.pipeline import Archive, RunCounts, keep_feed_entries
from newsarchive.sources import Source, SourceConfig, check_parsers
from newsarchive.store.frontier import DueURL

LOGGER = logging.getLogger(__name__)

#: Index the stored articles every this many pages, so a long run is searchable as it goes.
INDEX_EVERY = 100
#: Fetched pages waiting for the main thread (to store them) before a fetch thread claims no new batch.
QUEUED = 64
#: A host that fails this many times in a row is left alone for the rest of the run.
HOST_FAILURE_LIMIT = 5
RETRY_BACKOFF = timedelta(minutes=30)
#: A page whose redirect's host was busy (HostBusy) is put back in the frontier, due again after the host's
#: bounded wait, doubled each time; this run waits for it and tries again up to DEFER_LIMIT times, then leaves it
#: for the next run (due again after RETRY_BACKOFF). Never an attempt counted, never an error reported.
DEFER_LIMIT = 3
#: The longest discovery (the main thread, holding no batch's host) waits for a redirect's host, in seconds: it
#: may be another worker's for a whole batch (CLAIM_BATCH requests), which a fetch thread's hop does not wait for.
DISCOVERY_HOP_WAIT = 120.0
#: Without --since, dated children (monthly sitemaps) older than this are not re-read.
RECENT_WINDOW = timedelta(days=40)


def _doc_key(url: str) -> str:
    """What makes two discovery documents one in a run: the frontier's key (case of scheme and host, default
    port, fragment, dot segments, tracking parameters); a URL it cannot read is its own key."""
    try:
        return normalize_url(url)
    except (InvalidURL, ValueError):
        return url


@dataclass
class IngestOptions:
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    max_pages: int | None = None


@dataclass
class IngestReport(RunCounts):
    """RunCounts plus what only ingest does: discovering URLs and refusing some (robots.txt, address policy)."""

    discovered: int = 0
    refused: int = 0
    #: Discovered URLs that are not well-formed (``http://[::1/x``): skipped, counted here.
    bad_urls: int = 0
    #: Advice printed after the errors, once each (how to allow a local mirror, how to backfill).
    hints: list[str] = field(default_factory=list)
    #: What the user should know though nothing failed (printed as "note:", exit 0).
    notes: list[str] = field(default_factory=list)

    def hint(self, text: str | None) -> None:
        if text and text not in self.hints:
            self.hints.append(text)

    def as_dict(self) -> dict[str, int]:
        counts = {k: v for k, v in super().as_dict().items() if k not in ("hints", "notes")}
        return {"discovered": counts.pop("discovered"), **counts}


@dataclass
class _Fetched:
    due: DueURL
    raw: RawPage | None = None
    error: NewsArchiveError | None = None


@dataclass
class _ClaimState:
    """What the fetch threads of one worker share: per-source page budgets, hosts and origins left alone."""

    budget: dict[str, int]
    skipped: set[str] = field(default_factory=set)
    #: ``scheme://host[:port]`` whose robots.txt could not be read or asks too long a delay (RFC 9309: per origin).
    skipped_origins: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Set once this worker's own discovery has ended (until then its URLs may still come).
    discovered: threading.Event = field(default_factory=threading.Event)
    #: Pages put back because a redirect's host was busy: how many times, and until when (time.monotonic())
    #: this run waits for the last one to come due again before it ends.
    deferred: dict[str, int] = field(default_factory=dict)
    retry_until: float = 0.0

    def defer(self, url: str, retry_after: float) -> timedelta | None:
        """How long ``url`` waits before it is due again (this run waits for it); None: left for the next run."""
        with self.lock:
            times = self.deferred[url] = self.deferred.get(url, 0) + 1
            if times > DEFER_LIMIT:
                return None
            seconds = max(retry_after, 0.5) * 2 ** (times - 1)
            self.retry_until = max(self.retry_until, time.monotonic() + seconds + 1.0)
            return timedelta(seconds=seconds)

    def retry_wait(self) -> float:
        """Seconds until the pages this run put back (HostBusy) are due again and fetched (0: none waited for)."""
        with self.lock:
            return max(0.0, self.retry_until - time.monotonic())

    def open_sources(self) -> list[str]:
        with self.lock:
            return [name for name, left in self.budget.items() if left > 0]

    def take(self, source: str) -> bool:
        with self.lock:
            if self.budget.get(source, 0) <= 0:
                return False
            self.budget[source] -= 1
            return True

    def give(self, source: str) -> None:
        with self.lock:
            self.budget[source] = self.budget.get(source, 0) + 1

    def skipped_hosts(self) -> list[str]:
        with self.lock:
            return sorted(self.skipped)

    def skip_host(self, host: str) -> None:
        with self.lock:
            self.skipped.add(host)

    def left_alone(self) -> dict[str, list[str]]:
        """The claim's and waiting's ``skip_hosts`` and ``skip_origins``."""
        with self.lock:
            return {"skip_hosts": sorted(self.skipped), "skip_origins": sorted(self.skipped_origins)}

    def skip_origin(self, origin: str) -> None:
        with self.lock:
            self.skipped_origins.add(origin)

    def origin_skipped(self, origin: str) -> bool:
        with self.lock:
            return origin in self.skipped_origins


@dataclass
class _WorkerCrash:
    """A host worker died of an unexpected exception: the main thread re-raises it (the run fails visibly)."""

    exc: BaseException


class Ingest:
    """One ingest run over the configured sources."""

    def __init__(
        self,
        archive: Archive,
        config: SourceConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        on_page: Callable[[str, str], None] | None = None,
        on_progress: Callable[[str, str, int], None] | None = None,
        max_workers: int = 4,
        on_discovery_doc: Callable[[RawPage], None] | None = None,
    ) -> None:
        self.archive = archive
        self.config = config
        self.settings = config.settings
        self.clock = clock
        self.sleep = sleep
        self.on_page = on_page or (lambda url, outcome: None)
        #: (source name, event, count): discovered, fetched, then the page's outcome (the CLI's progress line).
        self.on_progress = on_progress or (lambda source, event, n: None)
        # Every feed/sitemap/listing read (2xx) is handed here; by default archived as WARC records (pipeline.py).
        self.on_discovery_doc = on_discovery_doc or archive.add_document
        self.max_workers = max_workers
        self.frontier = archive.frontier
        #: A frontier shared by several workers (PostgreSQL, pg_frontier.py): URLs are claimed, hosts taken in
        #: the shared hosts table, and a source is discovered by one worker at a time.
        self.shared = bool(getattr(self.frontier, "shared", False))
        shared_frontier: Any = self.frontier
        self.gate: HostGate = (
            shared_frontier.host_gate(self.settings, sleep=sleep)
            if self.shared
            else HostGate(self.settings, sleep=sleep)
        )
        self.report = IngestReport()
        self._reported_hosts: set[str] = set()
        self._run_id = 0  # this run's number in the frontier's run log (set when it starts)

    def _fetcher(self, *, hop_wait: float | None = None) -> PoliteFetcher:
        """One polite fetcher (one HTTP session) per thread; all share the run's HostGate."""
        return PoliteFetcher(self.settings, gate=self.gate, sleep=self.sleep, hop_wait=hop_wait)

    def _error(self, message: str, hint: str | None = None) -> None:
        LOGGER.info("%s", message)  # the CLI prints the errors; the log file keeps them too
        if message not in self.report.errors:  # a host skipped is said once, not once per URL
            self.report.errors.append(message)
        self.report.hint(hint)

    # --- the run ------------------------------------------------------------------------

    def run(self, options: IngestOptions) -> IngestReport:
        if not self.config.sources:
            where = self.config.path or "the config"
            raise UsageError(f"{where} defines no sources: nothing to ingest",
                             hint="add one with `newsarchive sources add URL` (docs/sources.md)")  # fmt: skip
        sources = self.config.named(options.sources)
        check_parsers(sources)
        # A bad NEWSARCHIVE_ALLOW_PRIVATE is a UsageError before the run starts. Discovery's redirects wait longer
        # for their hosts than a fetch thread's: this thread holds no batch's host another one could wait for.
        fetcher = self._fetcher(hop_wait=DISCOVERY_HOP_WAIT if self.shared else None)
        run_id = self.frontier.start_run(self.clock())
        self._run_id = run_id
        self.archive.sync_index()  # finish what a killed run left queued
        by_name = {s.name: s for s in sources}

        def discover_all() -> None:
            try:
                for source in sources:
                    if self.shared:
                        self._discover_once(source, options, fetcher)
                    else:
                        self._discover(source, options, fetcher)
            finally:
                fetcher.close()
            faultpoint("after-discovery")

        if self.shared:
            # The fetch threads start at once: they claim what other workers (or earlier runs) discovered
            # while this worker discovers its share of the sources.
            self._fetch_claimed(by_name, options, discover_all)
        else:
            discover_all()
            self._fetch_articles(by_name, options)
        self.archive.sync_index()
        # Per-source parse quality against the source's history (pipeline.Archive.check_source_quality).
        for warning in self.archive.check_source_quality(self.report, self.clock()):
            self._error(warning)
        self.frontier.finish_run(run_id, self.clock(), json.dumps(self.report.as_dict()))
        return self.report

    # --- discovery ----------------------------------------------------------------------

    def _discover_once(self, source: Source, options: IngestOptions, fetcher: PoliteFetcher) -> None:
        """Shared frontier: discover ``source`` unless another worker is discovering it right now."""
        frontier: Any = self.frontier
        with frontier.discovery_lock(source.name) as mine:
            if not mine:
                LOGGER.info("%s: another worker is discovering it; this one only fetches", source.name)
            elif frontier.discovered_during(source.name, self._run_id):
                LOGGER.info("%s: another worker discovered it during this run; this one only fetches", source.name)
            else:
                self._discover(source, options, fetcher)
                frontier.mark_discovered(source.name)

    def _discover(self, source: Source, options: IngestOptions, fetcher: PoliteFetcher) -> None:
        backfill = options.since is not None or options.until is not None
        now = self.clock()
        todo: deque[tuple[str, str | None, datetime | None]] = deque((u, None, None) for u in source.start)
        seen: set[str] = set()
        docs = 0
        errors_before = len(self.report.errors)
        first_run = not self.frontier.knows_source(source.name)
        found_any = 0
        too_old = 0  # dated sitemaps left unread because they are older than RECENT_WINDOW
        # Validators (ETag, Last-Modified, lastmod) are saved only once the whole walk is done: a document
        # answered "304 Not Modified" next time is skipped with everything below it, so a walk killed or
        # failed half-way must not mark anything as read (nor a document cut at the size limit, ever).
        validators: list[tuple[str, str | None, str | None, datetime | None]] = []
        put_off = False  # a document not read this run (its redirect's host busy): no validators saved
        starts = len(todo)  # the first documents taken are the source's start URLs
        asked_starts = refused_starts = 0
        while todo and docs < self.settings.max_discovery_docs:
            url, hint, lastmod = todo.popleft()
            is_start, starts = starts > 0, starts - 1
            try:
                url = urldefrag(to_uri(url))[0]  # the fragment is never sent: a#x and a#y are one document
            except (InvalidURL, ValueError) as exc:
                self.report.bad_urls += 1
                self._error(f"{source.name}: skipped {exc}")
                continue
            key = _doc_key(url)
            if key in seen:
                continue  # one request per document and run, however the documents name each other
            seen.add(key)
            try:
                state = self.frontier.doc_state(url)
                headers: dict[str, str] = {}
                if state is not None and not backfill:
                    if state.etag:
                        headers["If-None-Match"] = state.etag
                    if state.last_modified:
                        headers["If-Modified-Since"] = state.last_modified
                asked_starts += is_start
                raw = fetcher.fetch(url, headers=headers, source_delay=source.delay)
            except RobotsRefused:
                LOGGER.info("%s: disallowed by robots.txt, not read", url)
                self.report.refused += 1
                refused_starts += is_start
                continue
            except HostBusy as exc:
                LOGGER.info("%s: %s (read next run)", source.name, exc.message)  # the log file; not an error
                put_off = True
                continue
            except FetchError as exc:
                prefix = "" if isinstance(exc, HostSkipped) else f"{source.name}: "
                self._error(f"{prefix}{exc.message}", exc.hint)
                continue
            docs += 1
            if raw.status == 304:
                seen.add(_doc_key(raw.final_url))
                continue
            if raw.status >= 400:
                self._error(f"{source.name}: {url}: HTTP {raw.status}")
                continue
            self.on_discovery_doc(raw)
            try:
                found = discover(
                    raw.body, raw.final_url, raw.content_type, hint=hint, link_patterns=source.link_patterns
                )
            except ParseError as exc:
                self._error(f"{source.name}: {url}: {exc.message}")
                continue
            seen.add(_doc_key(raw.final_url))  # read: not asked for again by the URL it was redirected to
            if raw.truncated:  # what lies past the cut is still unread: no 304 for it next run
                LOGGER.warning(
                    "%s: %s: cut at the size limit (%d bytes), read up to the cut; its ETag/Last-Modified not kept, "
                    "so the next run asks for all of it again", source.name, url, len(raw.body),
                )  # fmt: skip
            else:
                validators.append((url, raw.header("ETag"), raw.header("Last-Modified"), lastmod))
            if found.kind == "feed":
                keep_feed_entries(self.frontier, raw.body, raw.final_url)  # for sites declaring a feed merge
            fresh = 0
            for cand in found.candidates:
                if backfill and not in_period(cand, options.since, options.until):
                    continue
                try:
                    # fetched as discovered (IRI encoded, tracking cut, no user:password@; see urls.py)
                    as_found = without_userinfo(fetch_form(cand.url))
                    key = normalize_url(as_found)  # only the de-duplication key
                except InvalidURL as exc:
                    self.report.bad_urls += 1
                    LOGGER.info("%s: skipped %s", source.name, exc)
                    continue
                found_any += 1
                outcome = self.frontier.offer(
                    key, source=source.name, via=cand.via or found.kind, now=now,
                    lastmod=cand.lastmod, published=cand.published, fetch_url=as_found,
                )  # fmt: skip
                if outcome == "new" and not self._may_fetch(key, as_found, fetcher):
                    continue
                if outcome != "known":
                    fresh += 1
            self.report.discovered += fresh
            if fresh:
                self.on_progress(source.name, "discovered", fresh)
            for follow in found.followups:
                if _doc_key(follow.url) in seen:
                    continue
                if backfill:
                    if not in_period(follow, options.since, options.until):
                        continue
                elif not self._worth_rereading(follow, now, fresh):
                    if follow.period is not None and follow.period[1] < (now - RECENT_WINDOW).date():
                        too_old += 1
                    continue
                todo.append((follow.url, follow.kind, follow.lastmod))
        if asked_starts and refused_starts == asked_starts:
            # Every run would find nothing, in silence (cron prints nothing): a source set up wrong is said.
            self._error(
                f"{source.name}: robots.txt disallows every start URL of the source; it finds nothing",
                hint="start it at a feed or sitemap the site allows (newsarchive sources list shows the start URLs)",
            )
        if len(self.report.errors) == errors_before and not todo and not put_off:
            for url, etag, last_modified, lastmod in validators:
                self.frontier.save_doc_state(url, etag=etag, last_modified=last_modified, lastmod=lastmod, now=now)
        if first_run and not found_any and too_old and len(self.report.errors) == errors_before:
            days = RECENT_WINDOW.days
            self.report.notes.append(
                f"{source.name}: nothing found in the last {days} days ({too_old} older sitemaps not read); "
                f"to archive older articles, backfill: newsarchive ingest --source {source.name} --since YYYY-MM-DD"
            )

    def _may_fetch(self, key: str, url: str, fetcher: PoliteFetcher) -> bool:
        """robots.txt and address checks at discovery time, so refused URLs never take a fetch slot."""
        try:
            check_url(url, allow_private=fetcher.http.allow_private)
            if fetcher.allowed(url):
                return True
            reason = f"{url}: disallowed by robots.txt"
        except RefusedURL as exc:
            reason = exc.message
            self.report.hint(exc.hint)
        except FetchError:
            return True  # robots.txt unreachable now: decided again when the page is due
        LOGGER.info("%s", reason)
        self.frontier.refused(key, reason)
        self.report.refused += 1
        return False

    def _worth_rereading(self, follow: Any, now: datetime, fresh_on_parent: int) -> bool:
        """Incremental runs read only what may hold something new."""
        if follow.period is not None and follow.period[1] < (now - RECENT_WINDOW).date():
            return False
        state = self.frontier.doc_state(follow.url)
        if state is not None and follow.lastmod is not None and state.lastmod is not None:
            return bool(follow.lastmod > state.lastmod)
        if follow.kind == "feed" and state is not None:
            return fresh_on_parent > 0  # next feed page: only while the pages still bring news
        return True

    # --- article pages ------------------------------------------------------------------

    def _fetch_articles(self, sources: dict[str, Source], options: IngestOptions) -> None:
        backfill = options.since is not None or options.until is not None
        due: list[DueURL] = []
        for source in sources.values():
            limit = options.max_pages or source.max_pages or self.settings.max_pages
            if backfill and options.max_pages is None:
                limit = 1_000_000
            due += self.frontier.due(self.clock(), limit=limit, sources=[source.name])
        by_host: dict[str, list[DueURL]] = defaultdict(list)
        for due_url in due:
            by_host[host_of(due_url.request_url)].append(due_url)
        results: queue.Queue[_Fetched | _WorkerCrash | None] = queue.Queue(maxsize=64)
        stop = threading.Event()
        workers = [
            threading.Thread(target=self._host_worker, args=(items, sources, results, stop), daemon=True)
            for items in by_host.values()
        ]
        running = 0
        pending = deque(workers)
        processed = 0
        try:
            while pending or running:
                while pending and running < self.max_workers:
                    pending.popleft().start()
                    running += 1
                item = results.get()
                if item is None:
                    running -= 1
                    continue
                if isinstance(item, _WorkerCrash):
                    raise item.exc  # a bug in a worker fails the run: never a quiet exit 0
                self._store(item, sources)
                processed += 1
                if processed % INDEX_EVERY == 0:
                    self.archive.sync_index()
        finally:
            stop.set()

    # --- article pages on a shared frontier (several workers) ------------------------------

    def _fetch_claimed(
        self, sources: dict[str, Source], options: IngestOptions, discover: Callable[[], None] = lambda: None
    ) -> None:
        """Fetch threads claim batches of due URLs (one host each) until nothing is due; the main thread stores.

        Each worker, on whatever machine, runs this on the same frontier: a URL is claimed by one thread
        at a time (pg_frontier.py), and every request takes its host in the shared hosts table first.
        ``discover``: this worker's discovery, run by the main thread while the fetch threads already
        claim (their pages wait in the queue until it ends; they do not end while it runs).
        """
        backfill = options.since is not None or options.until is not None
        budget: dict[str, int] = {}
        for source in sources.values():
            limit = options.max_pages or source.max_pages or self.settings.max_pages
            budget[source.name] = 1_000_000 if backfill and options.max_pages is None else limit
        # Unbounded: a thread holds its batch's host until the batch ends, so it must never block on a full
        # queue (the main thread, discovering, may be waiting for that very host: a deadlock until the lease
        # ran out). A thread claims no new batch while QUEUED pages wait (at most QUEUED + threads x batch).
        results: queue.Queue[_Fetched | _WorkerCrash | None] = queue.Queue()
        stop = threading.Event()
        shared_state = _ClaimState(budget=budget)
        workers = [
            threading.Thread(target=self._claim_worker, args=(sources, shared_state, results, stop), daemon=True)
            for _ in range(max(1, self.max_workers))
        ]
        for worker in workers:
            worker.start()
        running = len(workers)
        processed = 0
        try:
            try:
                discover()
            finally:
                shared_state.discovered.set()
            while running:
                item = results.get()
                if item is None:
                    running -= 1
                    continue
                if isinstance(item, _WorkerCrash):
                    raise item.exc
                # The capture, its article and the URL's frontier state commit together (the WARC record is
                # synced before, inside add_raw): a worker killed in between leaves the URL claimed, and it
                # comes back to another worker when the claim's lease has passed. (Not in psycopg's pipeline
                # mode: 3 round trips a page instead of 5, but more client CPU a page, measured.)
                with self.archive.store.transaction():
                    self._store(item, sources)
                processed += 1
                if processed % INDEX_EVERY == 0:
                    self.archive.sync_index()
        finally:
            stop.set()
            deadline = time.monotonic() + 10
            while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
                try:  # a thread blocked on a full queue (the run failed) must see the stop
                    while True:
                        results.get_nowait()
                except queue.Empty:
                    time.sleep(0.05)
            close = getattr(self.frontier, "close", None)
            if close is not None:
                close()

    def _claim_worker(
        self,
        sources: dict[str, Source],
        state: _ClaimState,
        results: queue.Queue[_Fetched | _WorkerCrash | None],
        stop: threading.Event,
    ) -> None:
        frontier: Any = self.frontier
        fetcher: PoliteFetcher | None = None
        try:
            fetcher = self._fetcher()
            while not stop.is_set():
                names = state.open_sources()
                if not names:
                    break
                if results.qsize() >= QUEUED:  # the main thread is behind (or still discovering): wait for it
                    time.sleep(0.05)
                    continue
                batch = frontier.claim(now=self.clock(), sources=names, **state.left_alone())
                if not batch:
                    wait = frontier.waiting(now=self.clock(), sources=names, **state.left_alone())
                    if wait is None:
                        if not state.discovered.is_set() or frontier.discovering(names):
                            wait = 0.5  # this worker or another is discovering a source: its URLs are coming
                        elif retry := state.retry_wait():
                            wait = retry  # pages put back when a redirect's host was busy: due again soon
                        else:
                            break  # nothing due anywhere, nothing coming: the run is over
                    time.sleep(min(max(wait, 0.05), 1.0))  # a host's turn, or another worker's claims
                    continue
                self._fetch_batch(batch, fetcher, sources, state, results, stop)
        except BaseException as exc:  # (handed to the main thread, which re-raises it)
            results.put(_WorkerCrash(exc))
        finally:
            if fetcher is not None:
                fetcher.close()
            results.put(None)

    def _fetch_batch(
        self,
        batch: list[DueURL],
        fetcher: PoliteFetcher,
        sources: dict[str, Source],
        state: _ClaimState,
        results: queue.Queue[_Fetched | _WorkerCrash | None],
        stop: threading.Event,
    ) -> None:
        gate: Any = self.gate
        host = host_of(batch[0].request_url)
        # The claim took the host for this thread: it keeps it for the batch's requests (keeping the delay
        # between them itself, no statement each) and gives it back once, when the batch ends.
        gate.hold(host)
        try:
            self._fetch_held_batch(batch, host, fetcher, sources, state, results, stop)
        finally:
            gate.release()

    def _fetch_held_batch(
        self,
        batch: list[DueURL],
        host: str,
        fetcher: PoliteFetcher,
        sources: dict[str, Source],
        state: _ClaimState,
        results: queue.Queue[_Fetched | _WorkerCrash | None],
        stop: threading.Event,
    ) -> None:
        frontier: Any = self.frontier
        failures = 0
        renewed = time.monotonic()  # the claim set the lease
        for n, item in enumerate(batch):
            rest = [d.url for d in batch[n:]]
            if state.origin_skipped(origin_of(item.request_url)):
                frontier.unclaim([item.url])  # stays due for the next run; claims of this run pass it by
                continue
            if stop.is_set() or host in state.skipped_hosts() or not state.take(item.source):
                frontier.unclaim(rest)
                return  # the host, taken by the claim, is given back by the caller
            # Renewed (and checked: still this thread's?) once a third of the lease has gone by; before that
            # the claim cannot have passed to another worker. The host held for the batch is renewed with it.
            if time.monotonic() - renewed > frontier.lease / 3:
                renewed = time.monotonic()
                if item.url not in frontier.renew(rest, host=host):
                    state.give(item.source)
                    continue  # the lease passed and another worker has it now
            source = sources[item.source]
            try:
                raw = fetcher.fetch(item.request_url, source_delay=source.delay)
            except HostBusy as exc:
                # Its redirect's host is another worker's (or waited for by this thread's batch) beyond the hop's
                # bounded wait: the page goes back to the frontier, due again a little later (no attempt counted),
                # and so does the rest of the batch (its pages are likely to redirect there too).
                state.give(item.source)
                backoff = state.defer(item.url, exc.retry_after)
                frontier.unclaim([d.url for d in batch[n + 1 :]])
                frontier.unclaim([item.url], retry_at=self.clock() + (backoff or RETRY_BACKOFF))
                results.put(_Fetched(item, error=exc))
                return  # the host is given back by the caller
            except HostSkipped as exc:
                # robots.txt is per origin (RFC 9309): that origin waits for the next run, and only that one
                # (a listed URL on a dead port of the host must not take the host's other pages with it).
                state.give(item.source)
                state.skip_origin(origin_of(item.request_url))
                frontier.unclaim([item.url])  # due again in the next run
                results.put(_Fetched(item, error=exc))
                continue
            except FetchError as exc:
                failures += 1
                results.put(_Fetched(item, error=exc))
            else:
                failures = 0 if raw.status < 500 else failures + 1
                results.put(_Fetched(item, raw=raw))
                if raw.status == 403:
                    state.skip_host(host)  # a bot wall: the rest of this host waits for the next run
            if failures >= HOST_FAILURE_LIMIT:
                LOGGER.warning("%s: %d failures in a row, left alone until the next run", host, failures)
                state.skip_host(host)

    def _host_worker(
        self,
        items: list[DueURL],
        sources: dict[str, Source],
        results: queue.Queue[_Fetched | _WorkerCrash | None],
        stop: threading.Event,
    ) -> None:
        failures = 0
        fetcher: PoliteFetcher | None = None
        skipped: set[str] = set()  # origins whose robots.txt could not be read or asks too long a delay
        try:
            fetcher = self._fetcher()
            for item in items:
                if stop.is_set():
                    break
                if origin_of(item.request_url) in skipped:
                    continue  # stays due for the next run; reported once
                source = sources[item.source]
                try:
                    raw = fetcher.fetch(item.request_url, source_delay=source.delay)
                except HostBusy as exc:
                    results.put(_Fetched(item, error=exc))  # stays due (pending, untouched) for the next run
                    continue
                except HostSkipped as exc:
                    results.put(_Fetched(item, error=exc))
                    # robots.txt is per origin (RFC 9309): that origin waits for the next run, and only that
                    # one. A listed URL on a dead port of the host (http://host:9/x) took every page of the
                    # host out of every run.
                    skipped.add(origin_of(item.request_url))
                    continue
                except FetchError as exc:
                    failures += 1
                    results.put(_Fetched(item, error=exc))
                else:
                    failures = 0 if raw.status < 500 else failures + 1
                    results.put(_Fetched(item, raw=raw))
                    if raw.status == 403:
                        break  # a bot wall: reported once by _store, the rest of this host waits for the next run
                if failures >= HOST_FAILURE_LIMIT:
                    LOGGER.warning(
                        "%s: %d failures in a row, left alone until the next run", host_of(item.url), failures
                    )
                    break
        except BaseException as exc:  # (handed to the main thread, which re-raises it)
            results.put(_WorkerCrash(exc))
        finally:
            if fetcher is not None:
                fetcher.close()
            results.put(None)

    def _store(self, item: _Fetched, sources: dict[str, Source]) -> None:
        now = self.clock()
        url = item.due.url
        source_name = item.due.source
        if item.error is not None:
            if isinstance(item.error, HostBusy):
                # A redirect's host busy beyond the hop's wait: put back (fetch thread), not failed, no error.
                LOGGER.info("%s", item.error.message)
                self.on_page(url, "deferred")
                return
            if isinstance(item.error, HostSkipped):
                # robots.txt unreadable, Crawl-delay above the cap: the pages stay due for the next run.
                self._error(item.error.message, item.error.hint)
                self.on_page(url, "skipped")
                return
            if isinstance(item.error, RefusedURL):
                # robots.txt or address policy: the site's wish, not a failure to report.
                LOGGER.info("%s", item.error.message)
                self.report.hint(item.error.hint if not isinstance(item.error, RobotsRefused) else None)
                self.frontier.refused(url, item.error.message)
                self.report.refused += 1
                self.on_page(url, "refused")
                self.on_progress(source_name, "refused", 1)
                return
            self.frontier.failed(url, now=now, error=item.error.message, retry=True, backoff=RETRY_BACKOFF)
            self.report.failed += 1
            self._error(item.error.message, item.error.hint)
            self.on_page(url, "failed")
            self.on_progress(source_name, "failed", 1)
            return
        raw = item.raw
        assert raw is not None
        self.report.fetched += 1
        self.on_progress(source_name, "fetched", 1)
        if raw.status == 403:
            host = host_of(url)
            self.frontier.failed(url, now=now, error="HTTP 403", retry=True, backoff=RETRY_BACKOFF * 8)
            self.report.failed += 1
            self.on_progress(source_name, "failed", 1)
            if host not in self._reported_hosts:
                self._reported_hosts.add(host)
                self._error(f"{host} answered 403 Forbidden (a bot wall?): its pages are skipped until the next run")
            return
        result = self.archive.add_raw(
            raw, parser=sources[item.due.source].parser, source=item.due.source, counts=self.report
        )
        self.report.count(result.outcome)
        if result.outcome == "failed":
            retry = raw.status >= 500 or raw.status == 429 or raw.truncated
            self.frontier.failed(url, now=now, error=result.error or "failed", retry=retry, backoff=RETRY_BACKOFF)
            if result.error:
                self._error(result.error)
        else:
            self.frontier.done(url, now=now, lastmod=item.due.lastmod)
            faultpoint("after-frontier-done")
        self.on_page(url, result.outcome)
        self.on_progress(source_name, result.outcome, 1)
