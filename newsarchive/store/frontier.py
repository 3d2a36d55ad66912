"""Crawl state kept in the store: which URLs are known, due, done or failing; discovery-document validators."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frontier (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    via TEXT NOT NULL,
    lastmod TEXT,
    published TEXT,
    discovered_at TEXT NOT NULL,
    state TEXT NOT NULL,            -- pending | done | failed | refused
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try TEXT,
    fetched_at TEXT,
    fetched_lastmod TEXT,
    last_error TEXT,
    fetch_url TEXT                  -- the URL as discovered, fetched as is (url is its normalised key)
);
CREATE INDEX IF NOT EXISTS frontier_due ON frontier (state, next_try);
CREATE TABLE IF NOT EXISTS discovery_docs (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    lastmod TEXT,
    checked_at TEXT
);
-- Metadata a feed gives about a post that its page may hide (Blogger), keyed "<kind>:<id>".
CREATE TABLE IF NOT EXISTS feed_metadata (key TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    counts TEXT
);
"""

#: After this many failed attempts a URL is given up (until it is discovered as changed again).
MAX_ATTEMPTS = 5


def _text(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class DueURL:
    url: str  # the de-duplication key
    source: str
    attempts: int
    lastmod: datetime | None
    fetch_url: str | None = None  # the URL to request, as discovered (None: the key)

    @property
    def request_url(self) -> str:
        return self.fetch_url or self.url


@dataclass(frozen=True)
class DocState:
    etag: str | None
    last_modified: str | None
    lastmod: datetime | None
    checked_at: datetime | None


def last_run(db: sqlite3.Connection) -> tuple[datetime | None, str | None]:
    """When the last complete ingest run finished and its counts (JSON); read-only, (None, None) if none."""
    try:
        row = db.execute("SELECT finished_at, counts FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC")
    except sqlite3.OperationalError:  # no runs table: never ingested
        return None, None
    first = row.fetchone()
    return (_dt(first[0]), first[1]) if first else (None, None)


class Frontier:
    """The crawl frontier on the store's SQLite connection (autocommit mode; each call is atomic)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.executescript(_SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(frontier)")}
        if "fetch_url" not in columns:  # a store from before fetch_url: its rows are fetched by key
            self.db.execute("ALTER TABLE frontier ADD COLUMN fetch_url TEXT")

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
        """Record a discovered URL: 'new', 'changed' (re-queued: newer lastmod) or 'known'.

        ``url`` is the de-duplication key; ``fetch_url`` the URL as discovered, which is what is fetched.
        """
        row = self.db.execute(
            "SELECT state, fetched_lastmod, lastmod, fetch_url FROM frontier WHERE url = ?", (url,)
        ).fetchone()
        if row is None:
            as_found = fetch_url if fetch_url != url else None
            self.db.execute(
                "INSERT INTO frontier (url, source, via, lastmod, published, discovered_at, state, fetch_url) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                (url, source, via, _text(lastmod), _text(published), _text(now), as_found),
            )
            return "new"
        if row["fetch_url"] is None and fetch_url is not None and fetch_url != url:
            # a row from before fetch_url was kept: from now on it is fetched as discovered
            self.db.execute("UPDATE frontier SET fetch_url = ? WHERE url = ?", (fetch_url, url))
        if row["state"] == "refused":
            return "known"
        seen = _dt(row["fetched_lastmod"]) or _dt(row["lastmod"])
        if lastmod is not None and row["state"] in ("done", "failed") and (seen is None or lastmod > seen):
            self.db.execute(
                "UPDATE frontier SET state = 'pending', attempts = 0, next_try = NULL, lastmod = ? WHERE url = ?",
                (_text(lastmod), url),
            )
            return "changed"
        return "known"

    def due(self, now: datetime, *, limit: int, sources: Iterable[str] | None = None) -> list[DueURL]:
        """Pending URLs whose retry time has come, newest discoveries of each source first."""
        params: list[object] = [_text(now)]
        where = "state = 'pending' AND (next_try IS NULL OR next_try <= ?)"
        if sources is not None:
            names = list(sources)
            where += f" AND source IN ({','.join('?' * len(names))})"
            params += names
        rows = self.db.execute(
            f"SELECT url, source, attempts, lastmod, fetch_url FROM frontier WHERE {where} "
            "ORDER BY COALESCE(published, lastmod, discovered_at) DESC LIMIT ?",
            [*params, limit],
        )
        return [DueURL(r["url"], r["source"], r["attempts"], _dt(r["lastmod"]), r["fetch_url"]) for r in rows]

    def knows_source(self, source: str) -> bool:
        """Has this source ever offered a URL?"""
        return self.db.execute("SELECT 1 FROM frontier WHERE source = ? LIMIT 1", (source,)).fetchone() is not None

    def done(self, url: str, *, now: datetime, lastmod: datetime | None) -> None:
        self.db.execute(
            "UPDATE frontier SET state = 'done', fetched_at = ?, fetched_lastmod = COALESCE(?, lastmod), "
            "last_error = NULL WHERE url = ?",
            (_text(now), _text(lastmod), url),
        )

    def failed(self, url: str, *, now: datetime, error: str, retry: bool, backoff: timedelta) -> None:
        """A failed attempt: retried later with exponential backoff, given up after MAX_ATTEMPTS."""
        row = self.db.execute("SELECT attempts FROM frontier WHERE url = ?", (url,)).fetchone()
        attempts = (row["attempts"] if row else 0) + 1
        state = "pending" if retry and attempts < MAX_ATTEMPTS else "failed"
        next_try = now + backoff * (2 ** (attempts - 1))
        self.db.execute(
            "UPDATE frontier SET state = ?, attempts = ?, next_try = ?, last_error = ? WHERE url = ?",
            (state, attempts, _text(next_try), error[:500], url),
        )

    def refused(self, url: str, reason: str) -> None:
        self.db.execute("UPDATE frontier SET state = 'refused', last_error = ? WHERE url = ?", (reason[:500], url))

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT state, COUNT(*) FROM frontier GROUP BY state")}

    # --- discovery documents (feeds, sitemaps): conditional GET validators -------------

    def doc_state(self, url: str) -> DocState | None:
        row = self.db.execute("SELECT * FROM discovery_docs WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        return DocState(row["etag"], row["last_modified"], _dt(row["lastmod"]), _dt(row["checked_at"]))

    def save_doc_state(
        self, url: str, *, etag: str | None, last_modified: str | None, lastmod: datetime | None, now: datetime
    ) -> None:
        self.db.execute(
            "INSERT INTO discovery_docs (url, etag, last_modified, lastmod, checked_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, "
            "lastmod = COALESCE(excluded.lastmod, lastmod), checked_at = excluded.checked_at",
            (url, etag, last_modified, _text(lastmod), _text(now)),
        )

    # --- feed metadata --------------------------------------------------------------------

    def save_feed_metadata(self, key: str, data: str) -> None:
        self.db.execute(
            "INSERT INTO feed_metadata (key, json) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET json = excluded.json",
            (key, data),
        )

    def feed_metadata(self, key: str) -> str | None:
        row = self.db.execute("SELECT json FROM feed_metadata WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    # --- runs ---------------------------------------------------------------------------

    def start_run(self, now: datetime) -> int:
        cur = self.db.execute("INSERT INTO runs (started_at) VALUES (?)", (_text(now),))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_run(self, run_id: int, now: datetime, counts_json: str) -> None:
        self.db.execute("UPDATE runs SET finished_at = ?, counts = ? WHERE id = ?", (_text(now), counts_json, run_id))

    def last_run(self) -> tuple[datetime | None, str | None]:
        return last_run(self.db)
