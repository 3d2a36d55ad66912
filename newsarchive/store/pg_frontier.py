"""The crawl frontier on PostgreSQL, shared by every ``ingest`` worker of one archive (any machine).

Same public methods and types as :class:`~newsarchive.store.frontier.Frontier` (the SQLite one), so
pipeline and ingest code work unchanged, plus what several workers need to cooperate:

* **claims**: :meth:`PgFrontier.claim` takes a batch of due URLs of one host whose turn has come, with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease (``claimed_by``, ``lease_until``). ``done``,
  ``failed``, ``refused`` and ``unclaim`` release a claim; a killed worker's claims come back when
  their lease has passed. A worker renews the lease of what is left of its batch once a third of it has
  gone by, and skips a URL whose claim is no longer its own, so no URL is fetched twice in a run.
* **discovery**: :meth:`PgFrontier.discovery_lock` (``pg_try_advisory_lock`` keyed by source name):
  one worker at a time walks a source's feeds and sitemaps; the others skip it and fetch. A worker whose
  run started before another finished walking a source skips it too (``source_discoveries``).
* **politeness**: the ``hosts`` table keeps each host's robots.txt (text and when it was read), its
  delay, Crawl-delay and ``next_allowed``. A request to a host first *takes* it (an UPDATE that only
  succeeds once ``next_allowed`` has passed, which moves it a lease ahead); when the request ends the
  host is given back with ``next_allowed`` = end + delay (:class:`PgHostGate`). Two requests to one host
  are therefore at least its delay apart whatever the number of workers, and a host taken by a killed
  worker is free again when its lease has passed. Times are the database server's clock
  (``clock_timestamp()``), the one clock all machines share.

The claims and the host gate run on connections of their own (one per thread, autocommit), never on the
store's connection: the main thread may be inside a store transaction while fetch threads claim.
psycopg is imported here only; this module is loaded for PostgreSQL stores alone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from newsarchive.discover.robots import RobotsPolicy
from newsarchive.errors import FetchError
from newsarchive.fetch.polite import HostBusy, HostGate, hop_wait
from newsarchive.fetch.urls import host_of, origin_of
from newsarchive.store.frontier import MAX_ATTEMPTS, DocState, DueURL, Frontier, _dt, _text
from newsarchive.store.pg import text_safe

if TYPE_CHECKING:
    from newsarchive.archive.rawpage import RawPage
    from newsarchive.fetch.client import Fetcher
    from newsarchive.sources import Settings

LOGGER = logging.getLogger(__name__)

#: How long a claim (and a host taken for a request) lasts unless renewed: a killed worker's URLs
#: come back after it. $NEWSARCHIVE_LEASE (seconds) overrides it. It must exceed the longest fetch.
DEFAULT_LEASE = 300.0
LEASE_ENV = "NEWSARCHIVE_LEASE"
#: URLs of one host claimed at once. A batch holds its host for all its requests (PgHostGate.hold): small
#: batches share a run's last pages out among more threads (10 left 8 workers idle for a batch's length).
CLAIM_BATCH = 5
#: How often a redirect hop waiting for a host another worker holds asks for it again (seconds).
HOP_POLL = 0.2
#: A frontier row's origin in SQL, as ``fetch.urls.origin_of`` gives it for the URL fetched (``{}``: the
#: table's alias and a dot, or nothing): scheme and authority lower-cased, without user information.
_ORIGIN = (
    "regexp_replace(lower(substring(COALESCE({0}fetch_url, {0}url) from '^[^:/?#]+://[^/?#]*')),"
    " '^([^:/?#]+://)[^/?#]*@', '\\1')"
)

#: A robots.txt kept in the hosts table is read again after this long (RFC 9309 2.4: at most 24 hours).
ROBOTS_MAX_AGE = timedelta(hours=24)

#: The SQLite frontier's tables column for column (timestamps as the same UTC ISO text, compared as text in
#: byte order, as SQLite does: ``store migrate`` copies them both ways unchanged), plus what workers share.
SCHEMA = """
CREATE TABLE IF NOT EXISTS frontier (
    url TEXT COLLATE "C" PRIMARY KEY,
    source TEXT COLLATE "C" NOT NULL,
    via TEXT COLLATE "C" NOT NULL,
    lastmod TEXT COLLATE "C",
    published TEXT COLLATE "C",
    discovered_at TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,     -- pending | done | failed | refused
    attempts BIGINT NOT NULL DEFAULT 0,
    next_try TEXT COLLATE "C",
    fetched_at TEXT COLLATE "C",
    fetched_lastmod TEXT COLLATE "C",
    last_error TEXT COLLATE "C",
    fetch_url TEXT COLLATE "C"           -- the URL as discovered, fetched as is (url is its normalised key)
);
-- What workers share (not in the SQLite frontier): the URL's host, who holds it and until when.
ALTER TABLE frontier ADD COLUMN IF NOT EXISTS host TEXT COLLATE "C" NOT NULL DEFAULT '';  -- host_of(fetch_url or url)
ALTER TABLE frontier ADD COLUMN IF NOT EXISTS claimed_by TEXT;  -- worker machine/pid/thread
ALTER TABLE frontier ADD COLUMN IF NOT EXISTS lease_until TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS frontier_due ON frontier (state, next_try);
CREATE INDEX IF NOT EXISTS frontier_pending_host ON frontier (host) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS frontier_source ON frontier (source);
CREATE TABLE IF NOT EXISTS hosts (
    host TEXT COLLATE "C" PRIMARY KEY,
    next_allowed TIMESTAMPTZ NOT NULL DEFAULT 'epoch',  -- no request to the host before this
    held_by TEXT,                   -- the worker whose request to the host is under way
    delay DOUBLE PRECISION,         -- seconds between two requests, as last applied
    crawl_delay DOUBLE PRECISION,   -- robots.txt Crawl-delay
    robots_origin TEXT,             -- scheme://host[:port] the robots.txt below was read from
    robots_status INTEGER,          -- its HTTP status (4xx: none, everything allowed)
    robots_txt TEXT,
    robots_fetched_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS hosts_next_allowed ON hosts (next_allowed);
CREATE TABLE IF NOT EXISTS discovery_docs (
    url TEXT COLLATE "C" PRIMARY KEY,
    etag TEXT COLLATE "C",
    last_modified TEXT COLLATE "C",
    lastmod TEXT COLLATE "C",
    checked_at TEXT COLLATE "C"
);
CREATE TABLE IF NOT EXISTS feed_metadata (key TEXT COLLATE "C" PRIMARY KEY, json TEXT COLLATE "C" NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    started_at TEXT COLLATE "C" NOT NULL,
    finished_at TEXT COLLATE "C",
    counts TEXT COLLATE "C"
);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS worker TEXT;  -- machine/pid of the ingest run
-- Each source's last finished discovery, as the newest run started by then: a worker whose run started
-- before it does not walk that source's feeds and sitemaps again (runs started after it do).
CREATE TABLE IF NOT EXISTS source_discoveries (source TEXT COLLATE "C" PRIMARY KEY, after_run BIGINT NOT NULL);
"""

_OFFER_INSERT = (
    "INSERT INTO frontier (url, source, via, lastmod, published, discovered_at, state, fetch_url, host) "
    "VALUES (%s, %s, %s, %s, %s, %s, 'pending', %s, %s) ON CONFLICT (url) DO NOTHING RETURNING host"
)
_OFFER_KNOWN_HOST = _OFFER_INSERT
#: A URL and its host's row (a pending URL whose host has none is never claimed) in one statement.
_OFFER_NEW_HOST = (
    f"WITH added AS ({_OFFER_INSERT}), host_row AS (INSERT INTO hosts (host) SELECT host FROM added "
    "ON CONFLICT DO NOTHING) SELECT 1 FROM added"
)

#: The longest URL the frontier keeps, in UTF-8 bytes: its key is a B-tree entry (2,704 bytes at most). A longer
#: one (URLs run to 8,192 characters) is left out with a warning; inserted, it failed the whole run, every run.
MAX_URL_BYTES = 2600


def key_too_long(url: str) -> bool:
    """Whether a URL is longer than the frontier's B-tree keys take (MAX_URL_BYTES)."""
    return len(url) * 4 > MAX_URL_BYTES and len(url.encode("utf-8", "replace")) > MAX_URL_BYTES


def _too_long(url: str) -> bool:
    if not key_too_long(url):
        return False
    LOGGER.warning(
        "frontier: %s... not queued: %d bytes, longer than a PostgreSQL frontier keeps (%d)",
        url[:80], len(url.encode("utf-8", "replace")), MAX_URL_BYTES,
    )  # fmt: skip
    return True


_SCHEMA_LOCK_KEY = "newsarchive.frontier.schema"
_DISCOVERY_KEY = "newsarchive.discovery:"


def lease_seconds(default: float = DEFAULT_LEASE) -> float:
    """The claim lease: $NEWSARCHIVE_LEASE when set to a positive number of seconds, else ``default``."""
    value = os.environ.get(LEASE_ENV, "").strip()
    if value:
        try:
            seconds = float(value)
        except ValueError:
            seconds = 0.0
        if seconds > 0 and seconds < 7 * 86_400:
            return seconds
        LOGGER.warning("%s=%r is not a number of seconds; using %g", LEASE_ENV, value, default)
    return default


def _tx(conn: psycopg.Connection[Any], *, single: bool = False) -> AbstractContextManager[Any]:
    """A transaction block: joins the caller's when one is open (no savepoint: one round trip less each way);
    ``single``: a lone statement on an autocommit connection commits by itself, so no block at all."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        return nullcontext()
    if single and conn.autocommit:
        return nullcontext()
    return conn.transaction()


def worker_token() -> str:
    """This thread's name in claims and host holds: machine/pid/thread."""
    return f"{socket.gethostname()}/{os.getpid()}/{threading.get_ident()}"


def last_run(conn: psycopg.Connection[Any]) -> tuple[datetime | None, str | None]:
    """When the last complete ingest run finished and its counts (JSON); (None, None) if none."""
    try:
        with conn.transaction():  # a savepoint inside a caller's transaction
            row = conn.execute(
                "SELECT finished_at, counts FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return None, None
    return (_dt(row[0]), row[1]) if row else (None, None)


class PgFrontier(Frontier):
    """The crawl frontier on a PostgreSQL store's connection (``conn``), shared by all workers."""

    shared: ClassVar[bool] = True

    def __init__(self, conn: psycopg.Connection[Any], *, lease: float | None = None) -> None:
        self.conn = conn
        self.lease = lease if lease is not None else lease_seconds()
        self._local = threading.local()
        self._own: list[psycopg.Connection[Any]] = []
        self._own_lock = threading.Lock()
        self._known_hosts: set[str] = set()
        with conn.transaction():
            if not self._schema_ready():  # the ALTERs lock the tables: not run while other workers use them
                # Two workers starting at once must not both run CREATE TABLE IF NOT EXISTS (a race on pg_type).
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_SCHEMA_LOCK_KEY,))
                conn.execute(SCHEMA)
        self._fill_hosts()

    def _schema_ready(self) -> bool:
        row = self.conn.execute(
            "SELECT to_regclass('hosts') IS NOT NULL AND to_regclass('source_discoveries') IS NOT NULL"
            " AND (SELECT COUNT(*) FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND (table_name, column_name) IN "
            "(('frontier', 'lease_until'), ('runs', 'worker'))) = 2"
        ).fetchone()
        return bool(row and row[0])

    def _fill_hosts(self) -> None:
        """Rows written without a host (copied from a SQLite store) get theirs; every pending URL's host a hosts
        row (a URL whose host has none is never claimed)."""
        with _tx(self.conn):
            rows = self.conn.execute("SELECT url, fetch_url FROM frontier WHERE host = ''").fetchall()
            if rows:
                with self.conn.cursor() as cur:
                    cur.executemany(
                        "UPDATE frontier SET host = %s WHERE url = %s", [(host_of(f or u), u) for u, f in rows]
                    )
            self.conn.execute(
                "INSERT INTO hosts (host) SELECT DISTINCT f.host FROM frontier f WHERE f.state = 'pending' "
                "AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.host = f.host) ON CONFLICT DO NOTHING"
            )

    # --- connections of the fetch threads --------------------------------------------

    def _coord(self) -> psycopg.Connection[Any]:
        """This thread's own autocommit connection to the same database (claims, host gate)."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            info = self.conn.info
            conn = psycopg.connect(info.dsn, password=info.password or None, autocommit=True)
            text_safe(conn)  # as the store's connection: a NUL in a URL is no error
            self._local.conn = conn
            with self._own_lock:
                self._own.append(conn)
        return conn

    def close(self) -> None:
        """Close the threads' connections (not the store's)."""
        with self._own_lock:
            for conn in self._own:
                conn.close()
            self._own.clear()

    # --- the Frontier interface -----------------------------------------------------

    def offer(
        self,
        url: str,
        *,
        source: str,
        via: str,
        now: datetime,
        lastmod: datetime | None = None,
        published: datetime | None = None,
        fetch_url: str | None = None,
    ) -> str:
        """Record a discovered URL: 'new', 'changed' (re-queued: newer lastmod) or 'known'."""
        if _too_long(url):
            return "known"
        as_found = fetch_url if fetch_url != url else None
        host = host_of(fetch_url or url)
        values = (url, source, via, _text(lastmod), _text(published), _text(now), as_found, host)
        if self.conn.autocommit and self.conn.info.transaction_status == TransactionStatus.IDLE:
            # A URL new to the frontier (discovery's usual case): one statement, atomic alone (no BEGIN and
            # COMMIT of their own), with its host's row when this process has not made sure of it yet.
            known = host in self._known_hosts
            inserted = self.conn.execute(_OFFER_KNOWN_HOST if known else _OFFER_NEW_HOST, values).fetchone()
            if inserted:
                self._known_hosts.add(host)
                return "new"
        with _tx(self.conn):
            inserted = self.conn.execute(_OFFER_INSERT, values).fetchone()
            if inserted:
                self._add_host(host)
                return "new"
            row = self.conn.execute(
                "SELECT state, fetched_lastmod, lastmod, fetch_url FROM frontier WHERE url = %s FOR UPDATE", (url,)
            ).fetchone()
            if row is None:  # deleted meanwhile: nothing to compare with
                return "known"
            state, fetched_lastmod, row_lastmod, row_fetch_url = row
            if row_fetch_url is None and as_found is not None:
                self.conn.execute("UPDATE frontier SET fetch_url = %s, host = %s WHERE url = %s", (as_found, host, url))
                self._add_host(host)
            if state == "refused":
                return "known"
            seen = _dt(fetched_lastmod) or _dt(row_lastmod)
            if lastmod is not None and state in ("done", "failed") and (seen is None or lastmod > seen):
                self.conn.execute(
                    "UPDATE frontier SET state = 'pending', attempts = 0, next_try = NULL, lastmod = %s, "
                    "claimed_by = NULL, lease_until = NULL WHERE url = %s",
                    (_text(lastmod), url),
                )
                return "changed"
            return "known"

    def _add_host(self, host: str) -> None:
        """A hosts row for a host the frontier names (once per host and process: discovery offers many URLs)."""
        if host not in self._known_hosts:
            self.conn.execute("INSERT INTO hosts (host) VALUES (%s) ON CONFLICT DO NOTHING", (host,))
            self._known_hosts.add(host)

    def due(self, now: datetime, *, limit: int, sources: Iterable[str] | None = None) -> list[DueURL]:
        """Pending URLs whose retry time has come and that no live claim holds (read only: see claim)."""
        params: list[object] = [_text(now)]
        where = (
            "state = 'pending' AND (next_try IS NULL OR next_try <= %s) "
            "AND (lease_until IS NULL OR lease_until <= clock_timestamp())"
        )
        if sources is not None:
            where += " AND source = ANY(%s)"
            params.append(list(sources))
        with _tx(self.conn, single=True):
            rows = self.conn.execute(
                f"SELECT url, source, attempts, lastmod, fetch_url FROM frontier WHERE {where} "
                "ORDER BY COALESCE(published, lastmod, discovered_at) DESC LIMIT %s",
                [*params, limit],
            ).fetchall()
        return [DueURL(r[0], r[1], r[2], _dt(r[3]), r[4]) for r in rows]

    def knows_source(self, source: str) -> bool:
        with _tx(self.conn, single=True):
            return (
                self.conn.execute("SELECT 1 FROM frontier WHERE source = %s LIMIT 1", (source,)).fetchone() is not None
            )

    def done(self, url: str, *, now: datetime, lastmod: datetime | None) -> None:
        with _tx(self.conn, single=True):
            self.conn.execute(
                "UPDATE frontier SET state = 'done', fetched_at = %s, fetched_lastmod = COALESCE(%s, lastmod), "
                "last_error = NULL, claimed_by = NULL, lease_until = NULL WHERE url = %s",
                (_text(now), _text(lastmod), url),
            )

    def failed(self, url: str, *, now: datetime, error: str, retry: bool, backoff: timedelta) -> None:
        """A failed attempt: retried later with exponential backoff, given up after MAX_ATTEMPTS."""
        with _tx(self.conn):
            row = self.conn.execute("SELECT attempts FROM frontier WHERE url = %s FOR UPDATE", (url,)).fetchone()
            attempts = (row[0] if row else 0) + 1
            state = "pending" if retry and attempts < MAX_ATTEMPTS else "failed"
            next_try = now + backoff * (2 ** (attempts - 1))
            self.conn.execute(
                "UPDATE frontier SET state = %s, attempts = %s, next_try = %s, last_error = %s, "
                "claimed_by = NULL, lease_until = NULL WHERE url = %s",
                (state, attempts, _text(next_try), error[:500], url),
            )

    def refused(self, url: str, reason: str) -> None:
        with _tx(self.conn, single=True):
            self.conn.execute(
                "UPDATE frontier SET state = 'refused', last_error = %s, claimed_by = NULL, lease_until = NULL "
                "WHERE url = %s",
                (reason[:500], url),
            )

    def counts(self) -> dict[str, int]:
        with _tx(self.conn, single=True):
            return {r[0]: r[1] for r in self.conn.execute("SELECT state, COUNT(*) FROM frontier GROUP BY state")}

    # --- discovery documents --------------------------------------------------------

    def doc_state(self, url: str) -> DocState | None:
        with _tx(self.conn, single=True):
            row = self.conn.execute(
                "SELECT etag, last_modified, lastmod, checked_at FROM discovery_docs WHERE url = %s", (url,)
            ).fetchone()
        if row is None:
            return None
        return DocState(row[0], row[1], _dt(row[2]), _dt(row[3]))

    def save_doc_state(
        self, url: str, *, etag: str | None, last_modified: str | None, lastmod: datetime | None, now: datetime
    ) -> None:
        if _too_long(url):
            return  # its state is not kept: the document is read again next time
        with _tx(self.conn, single=True):
            self.conn.execute(
                "INSERT INTO discovery_docs (url, etag, last_modified, lastmod, checked_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
                "last_modified = excluded.last_modified, "
                "lastmod = COALESCE(excluded.lastmod, discovery_docs.lastmod), checked_at = excluded.checked_at",
                (url, etag, last_modified, _text(lastmod), _text(now)),
            )

    # --- feed metadata --------------------------------------------------------------

    def save_feed_metadata(self, key: str, data: str) -> None:
        if _too_long(key):
            return  # the page is parsed without what its feed said of it
        with _tx(self.conn, single=True):
            self.conn.execute(
                "INSERT INTO feed_metadata (key, json) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET json = excluded.json",
                (key, data),
            )

    def feed_metadata(self, key: str) -> str | None:
        with _tx(self.conn, single=True):
            row = self.conn.execute("SELECT json FROM feed_metadata WHERE key = %s", (key,)).fetchone()
        return str(row[0]) if row else None

    # --- runs -----------------------------------------------------------------------

    def start_run(self, now: datetime) -> int:
        with _tx(self.conn, single=True):
            row = self.conn.execute(
                "INSERT INTO runs (started_at, worker) VALUES (%s, %s) RETURNING id",
                (_text(now), f"{socket.gethostname()}/{os.getpid()}"),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def finish_run(self, run_id: int, now: datetime, counts_json: str) -> None:
        with _tx(self.conn, single=True):
            self.conn.execute(
                "UPDATE runs SET finished_at = %s, counts = %s WHERE id = %s", (_text(now), counts_json, run_id)
            )

    def last_run(self) -> tuple[datetime | None, str | None]:
        return last_run(self.conn)

    # --- what workers share: discovery lock, claims -----------------------------------

    @contextmanager
    def discovery_lock(self, source: str) -> Iterator[bool]:
        """True (and held until the block ends) when this worker may discover ``source``; False when another is."""
        key = _DISCOVERY_KEY + source
        with _tx(self.conn, single=True):
            row = self.conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()
        got = bool(row and row[0])
        try:
            yield got
        finally:
            if got:
                with _tx(self.conn, single=True):
                    self.conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    def discovered_during(self, source: str, run_id: int) -> bool:
        """Whether a worker finished discovering ``source`` after run ``run_id`` had started: that run has its URLs
        already (its sitemaps read again would cost the host's turns, one politeness delay each)."""
        with _tx(self.conn, single=True):
            row = self.conn.execute(
                "SELECT 1 FROM source_discoveries WHERE source = %s AND after_run >= %s", (source, run_id)
            ).fetchone()
        return row is not None

    def mark_discovered(self, source: str) -> None:
        """Record that ``source`` was discovered just now (after every run started so far)."""
        with _tx(self.conn, single=True):
            self.conn.execute(
                "INSERT INTO source_discoveries (source, after_run)"
                " VALUES (%s, (SELECT coalesce(max(id), 0) FROM runs))"
                " ON CONFLICT (source) DO UPDATE SET after_run = excluded.after_run",
                (source,),
            )

    def discovering(self, sources: Sequence[str]) -> bool:
        """Is another worker discovering one of these sources right now (its URLs still to come)?"""
        conn = self._coord()
        with _tx(conn, single=True):
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN (SELECT hashtextextended(%s || name, 0) AS k "
                "FROM unnest(%s::text[]) AS name) keys ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid::bigint = (keys.k >> 32) & 4294967295 AND l.objid::bigint = keys.k & 4294967295 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
                (_DISCOVERY_KEY, list(sources)),
            ).fetchone()
        return bool(row and row[0])

    def claim(
        self,
        *,
        now: datetime,
        limit: int = CLAIM_BATCH,
        sources: Sequence[str] | None = None,
        skip_hosts: Collection[str] = (),
        skip_origins: Collection[str] = (),
        token: str | None = None,
    ) -> list[DueURL]:
        """Claim up to ``limit`` due URLs of one host whose turn has come (none: nothing claimable now).

        ``skip_hosts`` and ``skip_origins`` (``scheme://host[:port]``, as ``origin_of`` gives) are left alone.

        The host is taken for this thread at the same time (its first request needs no other wait).
        """
        token = token or worker_token()
        conn = self._coord()
        skip = list(skip_hosts)
        origins = list(skip_origins)
        names = list(sources) if sources is not None else None
        for _ in range(8):  # another worker may have claimed the host's last URLs since it was chosen
            with conn.transaction():
                row = conn.execute(
                    "SELECT h.host FROM hosts h WHERE h.next_allowed <= clock_timestamp() "
                    "AND NOT (h.host = ANY(%(skip)s)) AND EXISTS (SELECT 1 FROM frontier f WHERE f.host = h.host "
                    " AND f.state = 'pending' AND (f.next_try IS NULL OR f.next_try <= %(now)s)"
                    " AND (f.lease_until IS NULL OR f.lease_until <= clock_timestamp())"
                    " AND (%(names)s::text[] IS NULL OR f.source = ANY(%(names)s))"
                    f" AND NOT ({_ORIGIN.format('f.')} = ANY(%(origins)s)))"
                    "ORDER BY h.next_allowed LIMIT 1 FOR UPDATE OF h SKIP LOCKED",
                    {"skip": skip, "now": _text(now), "names": names, "origins": origins},
                ).fetchone()
                if row is None:
                    return []
                host = row[0]
                rows = conn.execute(
                    "SELECT url, source, attempts, lastmod, fetch_url FROM frontier WHERE host = %(host)s "
                    "AND state = 'pending' AND (next_try IS NULL OR next_try <= %(now)s) "
                    "AND (lease_until IS NULL OR lease_until <= clock_timestamp()) "
                    "AND (%(names)s::text[] IS NULL OR source = ANY(%(names)s)) "
                    f"AND NOT ({_ORIGIN.format('')} = ANY(%(origins)s)) "
                    "ORDER BY COALESCE(published, lastmod, discovered_at) DESC LIMIT %(limit)s "
                    "FOR UPDATE SKIP LOCKED",
                    {"host": host, "now": _text(now), "names": names, "limit": limit, "origins": origins},
                ).fetchall()
                if not rows:
                    skip.append(host)
                    continue
                conn.execute(
                    "UPDATE frontier SET claimed_by = %s, lease_until = clock_timestamp() + make_interval(secs => %s) "
                    "WHERE url = ANY(%s)",
                    (token, self.lease, [r[0] for r in rows]),
                )
                conn.execute(
                    "UPDATE hosts SET held_by = %s, next_allowed = clock_timestamp() + make_interval(secs => %s) "
                    "WHERE host = %s",
                    (token, self.lease, host),
                )
            return [DueURL(r[0], r[1], r[2], _dt(r[3]), r[4]) for r in rows]
        return []

    def renew(self, urls: Sequence[str], *, token: str | None = None, host: str | None = None) -> set[str]:
        """Extend this thread's claims on ``urls`` by a lease; the URLs still claimed by it (fetch only those).

        ``host``: the host this thread holds for its batch (PgHostGate.hold) is held a lease longer too.
        """
        token = token or worker_token()
        conn = self._coord()
        sql = (
            "UPDATE frontier SET lease_until = clock_timestamp() + make_interval(secs => %(lease)s) "
            "WHERE url = ANY(%(urls)s) AND claimed_by = %(token)s AND state = 'pending' RETURNING url"
        )
        if host is not None:  # in the same statement
            sql = (
                "WITH held AS (UPDATE hosts SET next_allowed = clock_timestamp() + make_interval(secs => %(lease)s)"
                " WHERE host = %(host)s AND held_by = %(token)s) " + sql
            )
        with _tx(conn, single=True):
            rows = conn.execute(sql, {"lease": self.lease, "urls": list(urls), "token": token, "host": host}).fetchall()
        return {r[0] for r in rows}

    def unclaim(self, urls: Sequence[str], *, token: str | None = None, retry_at: datetime | None = None) -> None:
        """Give claims back untouched (the URLs stay due for another worker or the next run); ``retry_at``: not
        due before then (a deferral: no attempt counted, unlike ``failed``)."""
        if not urls:
            return
        token = token or worker_token()
        self._coord().execute(
            "UPDATE frontier SET claimed_by = NULL, lease_until = NULL, next_try = COALESCE(%s, next_try) "
            "WHERE url = ANY(%s) AND claimed_by = %s",
            (_text(retry_at), list(urls), token),
        )

    def waiting(
        self,
        *,
        now: datetime,
        sources: Sequence[str] | None = None,
        skip_hosts: Collection[str] = (),
        skip_origins: Collection[str] = (),
    ) -> float | None:
        """Seconds until some due URL may be claimable (a host's turn, a lease ending); None: nothing is due.

        URLs under a live claim count as waiting: the worker holding them may die, and then they come back.
        """
        conn = self._coord()
        with _tx(conn, single=True):
            row = conn.execute(
                "SELECT EXTRACT(EPOCH FROM MIN(GREATEST(h.next_allowed, f.lease_until, clock_timestamp()))"
                " - clock_timestamp()) FROM frontier f JOIN hosts h ON h.host = f.host "
                "WHERE f.state = 'pending' AND (f.next_try IS NULL OR f.next_try <= %(now)s) "
                "AND NOT (f.host = ANY(%(skip)s)) AND (%(names)s::text[] IS NULL OR f.source = ANY(%(names)s)) "
                f"AND NOT ({_ORIGIN.format('f.')} = ANY(%(origins)s))",
                {
                    "now": _text(now),
                    "skip": list(skip_hosts),
                    "names": list(sources) if sources is not None else None,
                    "origins": list(skip_origins),
                },
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return max(0.0, float(row[0]))

    def claims(self) -> list[tuple[str, str, datetime]]:
        """Live and expired claims: (url, claimed_by, lease_until) of pending URLs that a worker holds."""
        with _tx(self.conn, single=True):
            rows = self.conn.execute(
                "SELECT url, claimed_by, lease_until FROM frontier WHERE claimed_by IS NOT NULL ORDER BY url"
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def host_gate(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> PgHostGate:
        """The run's HostGate backed by the hosts table (politeness across all workers)."""
        return PgHostGate(settings, self, sleep=sleep)

    # --- the hosts table (used by PgHostGate) ---------------------------------------

    def take_host(self, host: str, *, token: str) -> float:
        """Take ``host`` for one request: 0.0 when taken, else the seconds until its turn may come."""
        conn = self._coord()
        row = conn.execute(
            "UPDATE hosts SET held_by = %(token)s, "
            "next_allowed = clock_timestamp() + make_interval(secs => %(lease)s) WHERE host = %(host)s "
            "AND (next_allowed <= clock_timestamp() OR held_by = %(token)s) RETURNING 1",
            {"token": token, "lease": self.lease, "host": host},
        ).fetchone()
        if row is not None:
            return 0.0
        row = conn.execute(
            "SELECT EXTRACT(EPOCH FROM GREATEST(next_allowed, clock_timestamp()) - clock_timestamp()) "
            "FROM hosts WHERE host = %s",
            (host,),
        ).fetchone()
        if row is None:  # a host no URL of the frontier named (a discovery document's): its row now
            conn.execute("INSERT INTO hosts (host) VALUES (%s) ON CONFLICT DO NOTHING", (host,))
            return 0.001
        return max(0.001, float(row[0]))

    def give_host(
        self, host: str, *, token: str, delay: float, crawl_delay: float | None = None, after: float | None = None
    ) -> None:
        """The request to ``host`` has ended: its next one comes ``delay`` seconds from now at the earliest
        (``after`` seconds, when given: what is left of the delay after a request that ended earlier)."""
        self._coord().execute(
            "UPDATE hosts SET held_by = NULL, next_allowed = clock_timestamp() + make_interval(secs => %s), "
            "delay = %s, crawl_delay = COALESCE(%s, crawl_delay) WHERE host = %s AND held_by = %s",
            (delay if after is None else after, delay, crawl_delay, host, token),
        )

    def stored_robots(self, origin: str) -> tuple[int, str | None] | None:
        """(status, text) of the robots.txt read for ``origin`` less than ROBOTS_MAX_AGE ago; None: read it."""
        conn = self._coord()
        with _tx(conn, single=True):
            row = conn.execute(
                "SELECT robots_status, robots_txt FROM hosts WHERE host = %s AND robots_origin = %s "
                "AND robots_fetched_at > clock_timestamp() - make_interval(secs => %s)",
                (host_of(origin), origin, ROBOTS_MAX_AGE.total_seconds()),
            ).fetchone()
        return (int(row[0]), row[1]) if row and row[0] is not None else None

    def save_robots(self, origin: str, status: int, text: str | None, crawl_delay: float | None) -> None:
        self._coord().execute(
            "INSERT INTO hosts (host, robots_origin, robots_status, robots_txt, robots_fetched_at, crawl_delay) "
            "VALUES (%s, %s, %s, %s, clock_timestamp(), %s) ON CONFLICT (host) DO UPDATE SET "
            "robots_origin = excluded.robots_origin, robots_status = excluded.robots_status, "
            "robots_txt = excluded.robots_txt, robots_fetched_at = excluded.robots_fetched_at, "
            "crawl_delay = excluded.crawl_delay",
            (host_of(origin), origin, status, text, crawl_delay),
        )

    def hosts(self) -> list[dict[str, Any]]:
        """The hosts table, for stats and tests."""
        with self.conn.cursor(row_factory=dict_row) as cur, _tx(self.conn, single=True):
            return list(cur.execute("SELECT * FROM hosts ORDER BY host").fetchall())


class PgHostGate(HostGate):
    """HostGate whose robots.txt and request spacing live in the shared hosts table (see the module doc)."""

    def __init__(
        self, settings: Settings, frontier: PgFrontier, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        super().__init__(settings, sleep=sleep)
        self.frontier = frontier
        #: The host this thread holds for a batch of its URLs (see hold), and when its next request may start;
        #: ``lent``: given back while a redirect hop waited (see _let_go), taken again by the next request.
        #: ``taken``: hosts this thread took for one request (host -> (url, source_delay)), until it ends.
        self._held = threading.local()

    # A fetch thread holds the host of the batch it claimed (the claim took it: held_by, next_allowed a lease
    # ahead, so no other worker takes it) from the claim to the end of the batch: between two of its requests
    # it keeps the delay itself (from the end of one to the start of the next, as the hosts table would) and
    # sends no statement; the host is given back once, with what is left of the delay, when the batch ends.
    #
    # A redirect hop to a host another worker holds waits a bounded time (``within``, PoliteFetcher) and, before
    # it waits, gives back every host this thread holds (_let_go): their requests have ended (the answer was the
    # redirect), and holding one host while waiting for another is what deadlocked two workers redirected into
    # each other's hosts (each waited for the other's until a lease ran out). The batch's host is taken again by
    # its next request, within the same bound; past it, HostBusy (the caller puts the rest of the batch back).

    def hold(self, host: str) -> None:
        """This thread took ``host`` with its claim: keep it for the batch's requests (release gives it back)."""
        self._held.host = host
        self._held.ready_at = 0.0
        self._held.delay = None
        self._held.crawl = None
        self._held.lent = False
        self._held.last = None  # (url, source_delay) of the batch's latest request

    def holding(self, host: str) -> bool:
        return bool(getattr(self._held, "host", None) == host and not self._held.lent)

    def _lent(self, host: str) -> bool:
        return bool(getattr(self._held, "host", None) == host and self._held.lent)

    def _taken(self) -> dict[str, tuple[str, float | None]]:
        taken: dict[str, tuple[str, float | None]] | None = getattr(self._held, "taken", None)
        if taken is None:
            taken = self._held.taken = {}
        return taken

    def has_turn(self, url: str) -> bool:
        host = host_of(url)
        return self.holding(host) or host in self._taken()

    def release(self) -> None:
        """Give back the host this thread holds: its next request comes its delay after this thread's last one."""
        host = getattr(self._held, "host", None)
        if host is None:
            return
        self._held.host = None
        if self._held.lent:  # given back already (_let_go), not taken again since
            return
        after = max(0.0, self._held.ready_at - time.monotonic())
        delay = self._held.delay if self._held.delay is not None else after
        self.frontier.give_host(host, token=worker_token(), delay=delay, crawl_delay=self._held.crawl, after=after)

    def _load_robots(self, url: str, fetcher: Fetcher, within: float | None = None) -> RobotsPolicy | FetchError | None:
        """The robots.txt another worker read (less than a day ago), else read here and kept for the others."""
        origin = origin_of(url)
        stored = self.frontier.stored_robots(origin)
        if stored is None:
            # Workers starting together all miss it: the one that takes the host first reads it, the
            # others find it in the table once their turn comes (and give the host back unused).
            self.wait_turn(url, None, check_cap=False, within=within)
            stored = self.frontier.stored_robots(origin)
            if stored is None:
                return super()._load_robots(url, fetcher, within)  # the host is held: its wait_turn passes at once
            if not self.holding(host_of(url)):  # held for a batch: kept for its requests
                self._taken().pop(host_of(url), None)
                self.frontier.give_host(host_of(url), token=worker_token(), delay=0.0)
        status, text = stored
        if status >= 400 or text is None:
            return None
        return RobotsPolicy.from_bytes(text.encode("utf-8"), self.settings.user_agent)

    def _robots_read(self, url: str, raw: RawPage) -> None:
        text = raw.body.decode("utf-8", "replace") if raw.status < 400 else None
        crawl_delay = None
        if text is not None:
            crawl_delay = RobotsPolicy.from_bytes(raw.body, self.settings.user_agent).crawl_delay
        self.frontier.save_robots(origin_of(url), raw.status, text, crawl_delay)

    def wait_turn(
        self, url: str, source_delay: float | None, *, check_cap: bool = True, within: float | None = None
    ) -> None:
        """Take the host in the hosts table, sleeping until its turn has come (across all workers).

        ``within`` (a redirect hop's): when the host is not free at once, every host this thread holds is given
        back first, then the host is waited for that many seconds at most: HostBusy past them. The batch's own
        host, given back so, is taken again by its next request within hop_wait of its delay.
        """
        delay = self.delay(url, source_delay, check_cap=check_cap)  # a Crawl-delay above the cap: HostSkipped now
        host, token = host_of(url), worker_token()
        if self.holding(host):  # this thread holds it for its batch: the delay since its last request
            self._held.last = (url, source_delay)
            remaining = self._held.ready_at - time.monotonic()
            if remaining > 0:
                self.sleep(remaining)
            return
        if self._lent(host):  # the batch's host, given back while a hop waited: its turn again, bounded too
            self._take(host, token, hop_wait(delay) if within is None else within)
            self._held.lent = False
            self._held.last = (url, source_delay)
            return
        if within is None:
            while (wait := self.frontier.take_host(host, token=token)) > 0:
                self.sleep(min(wait, 1.0))
        elif self.frontier.take_host(host, token=token) > 0:
            self._let_go(keep=host)
            self._take(host, token, within)
        self._taken()[host] = (url, source_delay)

    def _take(self, host: str, token: str, within: float) -> None:
        """Take ``host``, waiting ``within`` seconds at most (HostBusy past them)."""
        deadline = time.monotonic() + within
        while (wait := self.frontier.take_host(host, token=token)) > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HostBusy(
                    f"{host}: held by another worker for more than a redirect waits ({within:g} s)",
                    retry_after=within,
                )
            # A host in its delay is free at a known time (wait); one held shows a lease ahead: asked again soon.
            self.sleep(min(wait, left, HOP_POLL))

    def _let_go(self, *, keep: str) -> None:
        """Give back every host this thread holds but ``keep`` (their requests have ended), before a hop waits."""
        token = worker_token()
        for host, (url, source_delay) in list(self._taken().items()):
            if host != keep:
                self.fetch_ended(url, source_delay)
        held = getattr(self._held, "host", None)
        if held is not None and held != keep and not self._held.lent:
            delay, crawl = self._pace(*(self._held.last or (f"http://{held}/", None)))
            # The batch's last request (the redirect) has just ended: the host's next request, a delay from now.
            self.frontier.give_host(held, token=token, delay=delay, crawl_delay=crawl)
            self._held.lent = True
            self._held.ready_at = 0.0

    def _pace(self, url: str, source_delay: float | None) -> tuple[float, float | None]:
        """The delay after a request to ``url``'s host ended, and its Crawl-delay, as give_host takes them."""
        policy = self._robots.get(origin_of(url))
        crawl = policy.crawl_delay if isinstance(policy, RobotsPolicy) else None
        return self.delay(url, source_delay, check_cap=False), crawl

    def fetch_ended(self, url: str, source_delay: float | None) -> None:
        """Give the host back (if this thread holds it): its next request comes its delay from now."""
        host = host_of(url)
        delay, crawl = self._pace(url, source_delay)
        if self.holding(host):  # kept for the batch's next request: given back by release()
            self._held.ready_at = time.monotonic() + delay
            self._held.delay, self._held.crawl = delay, crawl
            return
        if self._lent(host):
            return  # given back when a hop waited (_let_go)
        self._taken().pop(host, None)
        self.frontier.give_host(host, token=worker_token(), delay=delay, crawl_delay=crawl)
