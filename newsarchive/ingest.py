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
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from newsarchive.archive.rawpage import RawPage
from newsarchive.discover import discover, in_period
from newsarchive.discover.robots import RobotsPolicy
from newsarchive.errors import FetchError, NewsArchiveError, ParseError, RefusedURL
from newsarchive.faultpoint import faultpoint
from newsarchive.fetch.client import Fetcher, check_url
from newsarchive.fetch.urls import host_of, normalize_url
from newsarchive.parse.sites import blogger_feed
from newsarchive.pipeline import Archive, RunCounts
from newsarchive.sources import Settings, Source, SourceConfig
from newsarchive.store.frontier import DueURL

LOGGER = logging.getLogger(__name__)

#: Index the stored articles every this many pages, so a long run is searchable as it goes.
INDEX_EVERY = 100
#: A host that fails this many times in a row is left alone for the rest of the run.
HOST_FAILURE_LIMIT = 5
RETRY_BACKOFF = timedelta(minutes=30)
#: Without --since, dated children (monthly sitemaps) older than this are not re-read.
RECENT_WINDOW = timedelta(days=40)


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

    def as_dict(self) -> dict[str, int]:
        counts = super().as_dict()
        return {"discovered": counts.pop("discovered"), **counts}


@dataclass
class _Fetched:
    due: DueURL
    raw: RawPage | None = None
    error: NewsArchiveError | None = None


class _HostGate:
    """Per-host robots.txt and request spacing; shared by the discovery phase and the workers."""

    def __init__(self, settings: Settings, sleep: Callable[[float], None]) -> None:
        self.settings = settings
        self.sleep = sleep
        self._robots: dict[str, RobotsPolicy | FetchError | None] = {}
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def robots(self, url: str, fetcher: Fetcher) -> RobotsPolicy | None:
        """The host's robots.txt policy (None: there is none, all allowed), fetched once per run.

        RFC 9309: a robots.txt that cannot be read (network failure, 5xx) means "disallow
        everything for now". That is raised as a FetchError, every time the host is asked
        about in this run, so that it is reported as a failure rather than as a refusal.
        """
        host = host_of(url)
        with self._lock:
            if host in self._robots:
                cached = self._robots[host]
                if isinstance(cached, FetchError):
                    raise cached
                return cached
        base = url.split("/", 3)
        robots_url = "/".join(base[:3]) + "/robots.txt"
        result: RobotsPolicy | FetchError | None
        try:
            raw = fetcher.fetch(robots_url)
            if raw.status >= 500:
                result = FetchError(f"{host}: robots.txt answered HTTP {raw.status}; the host is skipped this run")
            elif raw.status >= 400:
                result = None  # no robots.txt: everything is allowed
            else:
                result = RobotsPolicy.from_bytes(raw.body, self.settings.user_agent)
        except RefusedURL:
            raise
        except FetchError as exc:
            result = FetchError(f"{host}: robots.txt unreadable ({exc.message}); the host is skipped this run")
        with self._lock:
            self._robots[host] = result
        if isinstance(result, FetchError):
            raise result
        return result

    def allowed(self, url: str, fetcher: Fetcher) -> bool:
        policy = self.robots(url, fetcher)
        return policy is None or policy.allowed(url)

    def delay(self, url: str, source_delay: float | None) -> float:
        with self._lock:
            policy = self._robots.get(host_of(url))
        if not isinstance(policy, RobotsPolicy):
            policy = None
        base = self.settings.delay if source_delay is None else source_delay
        crawl_delay = policy.crawl_delay if policy is not None and policy.crawl_delay else 0.0
        return max(base, float(crawl_delay))

    def wait_turn(self, url: str, source_delay: float | None) -> None:
        host = host_of(url)
        delay = self.delay(url, source_delay)
        with self._lock:
            last = self._last.get(host)
        if last is not None:
            remaining = last + delay - time.monotonic()
            if remaining > 0:
                self.sleep(remaining)
        with self._lock:
            self._last[host] = time.monotonic()


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
        self.gate = _HostGate(self.settings, sleep)
        self.report = IngestReport()
        self._reported_hosts: set[str] = set()

    def _fetcher(self) -> Fetcher:
        ua = self.settings.user_agent
        if self.settings.contact and self.settings.contact not in ua:
            ua = f"{ua} contact: {self.settings.contact}"
        return Fetcher(
            user_agent=ua,
            timeout=self.settings.timeout,
            retries=self.settings.retries,
            sleep=self.sleep,
            allow_private=self.settings.allow_private,
        )

    def _error(self, message: str) -> None:
        LOGGER.info("%s", message)  # the CLI prints the errors; the log file keeps them too
        self.report.errors.append(message)

    # --- the run ------------------------------------------------------------------------

    def run(self, options: IngestOptions) -> IngestReport:
        sources = self.config.named(options.sources)
        run_id = self.frontier.start_run(self.clock())
        self.archive.sync_index()  # finish what a killed run left queued
        fetcher = self._fetcher()
        try:
            for source in sources:
                self._discover(source, options, fetcher)
        finally:
            fetcher.close()
        faultpoint("after-discovery")
        by_name = {s.name: s for s in sources}
        self._fetch_articles(by_name, options)
        self.archive.sync_index()
        # Per-source parse quality against the source's history (pipeline.Archive.check_source_quality).
        for warning in self.archive.check_source_quality(self.report, self.clock()):
            self._error(warning)
        self.frontier.finish_run(run_id, self.clock(), json.dumps(self.report.as_dict()))
        return self.report

    # --- discovery ----------------------------------------------------------------------

    def _discover(self, source: Source, options: IngestOptions, fetcher: Fetcher) -> None:
        backfill = options.since is not None or options.until is not None
        now = self.clock()
        todo: deque[tuple[str, str | None, datetime | None]] = deque((u, None, None) for u in source.start)
        seen: set[str] = set()
        docs = 0
        errors_before = len(self.report.errors)
        # Validators (ETag, Last-Modified, lastmod) are saved only once the whole walk is done: a document
        # answered "304 Not Modified" next time is skipped with everything below it, so a walk killed or
        # failed half-way must not mark anything as read.
        validators: list[tuple[str, str | None, str | None, datetime | None]] = []
        while todo and docs < self.settings.max_discovery_docs:
            url, hint, lastmod = todo.popleft()
            if url in seen:
                continue
            seen.add(url)
            try:
                if not self.gate.allowed(url, fetcher):
                    LOGGER.info("%s: disallowed by robots.txt, not read", url)
                    self.report.refused += 1
                    continue
                self.gate.wait_turn(url, source.delay)
                state = self.frontier.doc_state(url)
                headers: dict[str, str] = {}
                if state is not None and not backfill:
                    if state.etag:
                        headers["If-None-Match"] = state.etag
                    if state.last_modified:
                        headers["If-Modified-Since"] = state.last_modified
                raw = fetcher.fetch(url, headers=headers)
            except FetchError as exc:
                self._error(f"{source.name}: {exc.message}")
                continue
            docs += 1
            if raw.status == 304:
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
            validators.append((url, raw.header("ETag"), raw.header("Last-Modified"), lastmod))
            if found.kind == "feed" and b"blogger.com" in raw.body[:4096]:
                self._keep_blogger_entries(raw.body)
            fresh = 0
            for cand in found.candidates:
                if backfill and not in_period(cand, options.since, options.until):
                    continue
                cand_url = normalize_url(cand.url)
                outcome = self.frontier.offer(
                    cand_url, source=source.name, via=cand.via or found.kind, now=now,
                    lastmod=cand.lastmod, published=cand.published,
                )  # fmt: skip
                if outcome == "new" and not self._may_fetch(cand_url, fetcher):
                    continue
                if outcome != "known":
                    fresh += 1
            self.report.discovered += fresh
            if fresh:
                self.on_progress(source.name, "discovered", fresh)
            for follow in found.followups:
                if follow.url in seen:
                    continue
                if backfill:
                    if not in_period(follow, options.since, options.until):
                        continue
                elif not self._worth_rereading(follow, now, fresh):
                    continue
                todo.append((follow.url, follow.kind, follow.lastmod))
        if len(self.report.errors) == errors_before and not todo:
            for url, etag, last_modified, lastmod in validators:
                self.frontier.save_doc_state(url, etag=etag, last_modified=last_modified, lastmod=lastmod, now=now)

    def _keep_blogger_entries(self, body: bytes) -> None:
        """Keep what a Blogger feed says of each post (themes hide dates and labels) for the parse."""
        try:
            page = blogger_feed.parse_feed(body)
        except (ParseError, ValueError) as exc:
            LOGGER.info("Blogger feed entries not kept: %s", exc)
            return
        for entry in page.entries:
            self.frontier.save_feed_metadata(f"blogger:{entry.post_id}", blogger_feed.entry_to_json(entry))

    def _may_fetch(self, url: str, fetcher: Fetcher) -> bool:
        """robots.txt and address checks at discovery time, so refused URLs never take a fetch slot."""
        try:
            check_url(url, allow_private=self.settings.allow_private)
            if self.gate.allowed(url, fetcher):
                return True
            reason = f"{url}: disallowed by robots.txt"
        except RefusedURL as exc:
            reason = exc.message
        except FetchError:
            return True  # robots.txt unreachable now: decided again when the page is due
        LOGGER.info("%s", reason)
        self.frontier.refused(url, reason)
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
        for item in due:
            by_host[host_of(item.url)].append(item)
        results: queue.Queue[_Fetched | None] = queue.Queue(maxsize=64)
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
                self._store(item, sources)
                processed += 1
                if processed % INDEX_EVERY == 0:
                    self.archive.sync_index()
        finally:
            stop.set()

    def _host_worker(
        self,
        items: list[DueURL],
        sources: dict[str, Source],
        results: queue.Queue[_Fetched | None],
        stop: threading.Event,
    ) -> None:
        fetcher = self._fetcher()
        failures = 0
        try:
            for item in items:
                if stop.is_set():
                    break
                source = sources[item.source]
                try:
                    if not self.gate.allowed(item.url, fetcher):
                        results.put(_Fetched(item, error=RefusedURL(f"{item.url}: disallowed by robots.txt")))
                        continue
                    self.gate.wait_turn(item.url, source.delay)
                    raw = fetcher.fetch(item.url)
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
        finally:
            fetcher.close()
            results.put(None)

    def _store(self, item: _Fetched, sources: dict[str, Source]) -> None:
        now = self.clock()
        url = item.due.url
        source_name = item.due.source
        if item.error is not None:
            if isinstance(item.error, RefusedURL):
                # robots.txt or address policy: the site's wish, not a failure to report.
                LOGGER.info("%s", item.error.message)
                self.frontier.refused(url, item.error.message)
                self.report.refused += 1
                self.on_page(url, "refused")
                self.on_progress(source_name, "refused", 1)
                return
            self.frontier.failed(url, now=now, error=item.error.message, retry=True, backoff=RETRY_BACKOFF)
            self.report.failed += 1
            self._error(item.error.message)
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
