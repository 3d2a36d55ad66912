"""ArticleStore: SQLite (WAL), the system of record for captures, articles and their history.

The Whoosh index is derived from this store and can always be rebuilt from it.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from newsarchive.article import Article, Capture, parse_iso
from newsarchive.errors import ArchiveError, LockedError, NewsArchiveError

if TYPE_CHECKING:  # annotations only: reading commands never load warcio
    from newsarchive.archive.rawpage import RawPage
    from newsarchive.archive.warc import WarcLocation

LOGGER = logging.getLogger(__name__)

STORE_SCHEMA_VERSION = 1

Outcome = Literal["new", "updated", "unchanged"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS warc_files (name TEXT PRIMARY KEY, committed_size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    warc TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    status INTEGER NOT NULL,
    fetched_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    content_type TEXT
);
CREATE INDEX IF NOT EXISTS captures_url ON captures (url);
CREATE INDEX IF NOT EXISTS captures_final_url ON captures (final_url);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    canonical_url TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    site TEXT NOT NULL,
    lang TEXT,
    published_utc TEXT,
    content_digest TEXT NOT NULL,
    parser TEXT,
    capture_id INTEGER REFERENCES captures (id),
    first_seen TEXT NOT NULL,
    last_changed TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published_utc);
CREATE INDEX IF NOT EXISTS articles_site ON articles (site, published_utc);
CREATE INDEX IF NOT EXISTS articles_url ON articles (url);
-- The articles a capture is the current page of (reparse, and its --changed choice, ask it of every page).
CREATE INDEX IF NOT EXISTS articles_capture ON articles (capture_id);
CREATE TABLE IF NOT EXISTS article_versions (
    article_id TEXT NOT NULL,
    content_digest TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS article_versions_id ON article_versions (article_id);
-- Articles written to the store but not yet to the search index (survives a kill).
CREATE TABLE IF NOT EXISTS index_queue (id TEXT PRIMARY KEY);
CREATE INDEX IF NOT EXISTS captures_at ON captures (warc, offset);
-- Captures a parser judged not to be articles, with that parser's name/version (reparse --changed).
CREATE TABLE IF NOT EXISTS verdicts (
    capture_id INTEGER PRIMARY KEY REFERENCES captures (id),
    url TEXT NOT NULL,
    parser TEXT NOT NULL,
    reason TEXT
);
-- The run log's per-source parse quality: HTML pages, not-articles, articles lacking a field.
CREATE TABLE IF NOT EXISTS source_runs (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    pages INTEGER NOT NULL,
    not_article INTEGER NOT NULL,
    incomplete INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS source_runs_source ON source_runs (source, id);
"""

#: Articles per UTC day of publication ('' for none), kept by triggers on every write of ``articles``: the
#: exact total of a date listing sums the whole days and counts only its two edge days in ``articles``
#: (a year of a 1,000,000-article archive: 0.1 ms instead of 6 ms counting the index range). Created and
#: filled from ``articles`` in one transaction the first time a writer opens a store made before it.
_DAY_COUNTS = (
    "CREATE TABLE article_days (day TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TRIGGER article_days_insert AFTER INSERT ON articles BEGIN
    INSERT INTO article_days (day, n) VALUES (COALESCE(substr(NEW.published_utc, 1, 10), ''), 1)
    ON CONFLICT (day) DO UPDATE SET n = n + 1;
END""",
    """CREATE TRIGGER article_days_delete AFTER DELETE ON articles BEGIN
    UPDATE article_days SET n = n - 1 WHERE day = COALESCE(substr(OLD.published_utc, 1, 10), '');
END""",
    """CREATE TRIGGER article_days_update AFTER UPDATE OF published_utc ON articles
WHEN COALESCE(substr(OLD.published_utc, 1, 10), '') IS NOT COALESCE(substr(NEW.published_utc, 1, 10), '') BEGIN
    UPDATE article_days SET n = n - 1 WHERE day = COALESCE(substr(OLD.published_utc, 1, 10), '');
    INSERT INTO article_days (day, n) VALUES (COALESCE(substr(NEW.published_utc, 1, 10), ''), 1)
    ON CONFLICT (day) DO UPDATE SET n = n + 1;
END""",
    "INSERT INTO article_days (day, n)"
    " SELECT COALESCE(substr(published_utc, 1, 10), ''), COUNT(*) FROM articles GROUP BY 1",
)


#: A hit with no passage to show shows its description, else its body's first this many characters.
PLAIN_SNIPPET_CHARS = 200


class HitText(NamedTuple):
    """What a search hit shows of an article (its snippet's texts included), named as on ``Article``:
    read without building the whole article (one search reads 10-20 of them)."""

    id: str
    canonical_url: str
    site: str
    lang: str | None
    headline: str
    published: datetime | None
    description: str | None
    body: str

    @classmethod
    def of(cls, a: Article) -> HitText:
        return cls(a.id, a.canonical_url, a.site, a.lang, a.headline, a.published, a.description, a.body)


@dataclass(frozen=True)
class CaptureRow:
    """One archived HTTP response: where its bytes are in which WARC file."""

    id: int
    url: str
    final_url: str
    warc: str
    offset: int
    length: int
    status: int
    fetched_at: datetime
    digest: str
    content_type: str | None


def _utc_text(value: datetime | None) -> str | None:
    """UTC as ``YYYY-MM-DDTHH:MM:SS`` text, which compares as dates (isoformat pads the year to four
    digits; strftime does not before 1000: a --from bound in year 1000 east of UTC falls in 999)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") if value else None


#: The columns ``_hit_text`` reads.
_HIT_COLUMNS = "id, canonical_url, site, lang, json"
#: The columns ``_listing_hit`` reads: a date listing's hit shows its description or the start of its body,
#: so SQLite's JSON reader takes out those fields and the body's first characters (half the time of
#: handing Python each article's whole JSON to decode).
_LISTING_COLUMNS = (
    "id, canonical_url, site, lang, json_extract(json, '$.headline'), json_extract(json, '$.published'),"
    f" json_extract(json, '$.description'), substr(json_extract(json, '$.body'), 1, {PLAIN_SNIPPET_CHARS})"
)


def _hit_text(row: Sequence[Any]) -> HitText:
    """A hit's text from a row of ``_HIT_COLUMNS``."""
    a = json.loads(row[4])
    return HitText(
        row[0],
        row[1],
        row[2],
        row[3],
        a.get("headline") or "",
        parse_iso(a.get("published")),
        a.get("description"),
        a.get("body") or "",
    )


def _listing_hit(row: Sequence[Any]) -> HitText:
    """A date listing's hit from a row of ``_LISTING_COLUMNS`` (its body cut to PLAIN_SNIPPET_CHARS characters)."""
    return HitText(row[0], row[1], row[2], row[3], row[4] or "", parse_iso(row[5]), row[6], row[7] or "")


#: The id of the newest capture of each final URL, by capture time then as recorded (both stores).
NEWEST_CAPTURES = (
    "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY final_url ORDER BY fetched_at DESC, id DESC) AS n"
    " FROM captures) newest WHERE n = 1"
)
#: The captures that are the current page of more than one article (both stores: ``shared_captures``).
SHARED_CAPTURES = "SELECT capture_id FROM articles WHERE capture_id IS NOT NULL GROUP BY capture_id HAVING COUNT(*) > 1"
#: Of captures ``c``: the newest of its URL, a 2xx response, the current page of no article, with no not-article
#: verdict, in the order recorded (both stores: ``pages_without_result``, after ``SELECT ... FROM captures c``).
WITHOUT_RESULT = (
    f" WHERE c.id IN ({NEWEST_CAPTURES}) AND c.status BETWEEN 200 AND 299"
    " AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.capture_id = c.id)"
    " AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.capture_id = c.id) ORDER BY c.id"
)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Open for reading only: no schema, no WAL switch, no checkpoint, nothing written.

    A WAL database is read through its -wal and -shm files; where SQLite cannot use them (a
    read-only copy without a -shm file), the file is read as immutable: as it is, without locks.
    """
    from urllib.parse import quote

    if not path.exists():
        raise sqlite3.OperationalError(f"no such file: {path}")
    uri = f"file:{quote(str(path.absolute()))}?mode=ro"
    try:
        return _probe(sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None))
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK):
            raise
    LOGGER.debug("%s: read-only place without a usable -shm file: reading it as immutable", path)
    return _probe(sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30.0, isolation_level=None))


def _probe(db: sqlite3.Connection) -> sqlite3.Connection:
    db.row_factory = sqlite3.Row
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fail here, not at the first query
    except sqlite3.Error:
        db.close()
        raise
    return db


class ArticleStore:
    """Upserts articles by canonical URL, keeps their history, records captures."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self._day_counts: bool | None = None
        try:
            if read_only:
                self.db = _connect_read_only(path)
                return
            self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(_SCHEMA)
            self.db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(STORE_SCHEMA_VERSION),)
            )
            self._add_day_counts()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise LockedError(f"the article store {path} is locked by another process") from exc
            raise ArchiveError(f"cannot open the article store {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(
                f"the article store {path} is damaged: {exc}",
                hint="restore it from a backup; the raw pages are safe in the WARC files (newsarchive import-warc)",
            ) from exc

    kind = "sqlite"

    @property
    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        self.db.close()

    # --- WARC bookkeeping -------------------------------------------------------------

    def committed_warc_sizes(self) -> dict[str, int]:
        return {r["name"]: r["committed_size"] for r in self.db.execute("SELECT name, committed_size FROM warc_files")}

    def record_capture(self, raw: RawPage, loc: WarcLocation) -> CaptureRow:
        """Record a capture written to a WARC file and move that file's committed size."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO warc_files (name, committed_size) VALUES (?, ?) "
                # Never lowered: a size read earlier (an import of a file another worker still appends to)
                # would let the next settle cut records the store points at.
                "ON CONFLICT (name) DO UPDATE SET committed_size = MAX(committed_size, excluded.committed_size)",
                (loc.warc, loc.end),
            )
            cur = self.db.execute(
                "INSERT INTO captures (url, final_url, warc, offset, length, status, fetched_at, digest, content_type)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (raw.url, raw.final_url, loc.warc, loc.offset, loc.length, raw.status,
                 raw.fetched_at.astimezone(UTC).isoformat(), raw.digest, raw.content_type),
            )  # fmt: skip
        assert cur.lastrowid is not None
        return self.capture(cur.lastrowid)

    def capture(self, capture_id: int) -> CaptureRow:
        row = self.db.execute("SELECT * FROM captures WHERE id = ?", (capture_id,)).fetchone()
        if row is None:
            raise ArchiveError(f"no capture {capture_id}")
        return _capture_row(row)

    def latest_capture(self, url: str) -> CaptureRow | None:
        row = self.db.execute(
            "SELECT * FROM captures WHERE url = ? OR final_url = ? ORDER BY fetched_at DESC, id DESC LIMIT 1",
            (url, url),
        ).fetchone()
        return _capture_row(row) if row else None

    def iter_captures(self) -> Iterator[CaptureRow]:
        """The newest capture of every URL (by capture time: WARC files may be imported in any order), in the
        order recorded."""
        rows = self.db.execute(f"SELECT * FROM captures WHERE id IN ({NEWEST_CAPTURES}) ORDER BY id")
        for row in rows:
            yield _capture_row(row)

    def capture_at(self, warc: str, offset: int) -> CaptureRow | None:
        """The capture recorded for the record at ``offset`` of a WARC file, if any."""
        row = self.db.execute("SELECT * FROM captures WHERE warc = ? AND offset = ?", (warc, offset)).fetchone()
        return _capture_row(row) if row else None

    # --- not-article verdicts -------------------------------------------------------------

    def record_verdict(self, capture_id: int, url: str, parser: str, reason: str) -> None:
        """Remember that ``parser`` (name/version) judged a capture not an article."""
        self.db.execute(
            "INSERT INTO verdicts (capture_id, url, parser, reason) VALUES (?, ?, ?, ?) ON CONFLICT (capture_id)"
            " DO UPDATE SET parser = excluded.parser, reason = excluded.reason",
            (capture_id, url, parser, reason[:500]),
        )

    def clear_verdict(self, capture_id: int) -> None:
        self.db.execute("DELETE FROM verdicts WHERE capture_id = ?", (capture_id,))

    def verdict(self, capture_id: int) -> tuple[str, str] | None:
        """(parser name/version, reason) of a not-article verdict on a capture."""
        row = self.db.execute("SELECT parser, reason FROM verdicts WHERE capture_id = ?", (capture_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def parsed_by(self, capture_id: int) -> list[str]:
        """``name/version`` of the parsers whose results a capture holds: its articles' (two where a reparse was
        killed before it took the old key's article away: the old one's parser says it is to be parsed again),
        else its verdict's."""
        parsers = [p for _, p in self.articles_of_capture(capture_id) if p]
        if parsers:
            return parsers
        found = self.verdict(capture_id)
        return [found[0]] if found else []

    def canonical_agrees(self, canonical_url: str, content_digest: str) -> bool:
        """True when ``canonical_url`` was itself archived and its article has this content digest."""
        row = self.db.execute(
            "SELECT a.content_digest FROM articles a JOIN captures c ON a.capture_id = c.id"
            " WHERE a.canonical_url = ? AND (c.final_url = ? OR c.url = ?)",
            (canonical_url, canonical_url, canonical_url),
        ).fetchone()
        return bool(row) and row[0] == content_digest

    # --- per-source parse quality (the run log) --------------------------------------------

    def record_source_run(self, source: str, now: datetime, pages: int, not_article: int, incomplete: int) -> None:
        self.db.execute(
            "INSERT INTO source_runs (source, finished_at, pages, not_article, incomplete) VALUES (?, ?, ?, ?, ?)",
            (source, now.astimezone(UTC).isoformat(), pages, not_article, incomplete),
        )

    def source_history(self, source: str, runs: int) -> list[tuple[int, int, int]]:
        """(pages, not_article, incomplete) of a source's last ``runs`` runs that had pages, newest first."""
        rows = self.db.execute(
            "SELECT pages, not_article, incomplete FROM source_runs WHERE source = ? AND pages > 0"
            " ORDER BY id DESC LIMIT ?",
            (source, runs),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def has_digest(self, digest: str, url: str) -> bool:
        row = self.db.execute("SELECT 1 FROM captures WHERE digest = ? AND final_url = ? LIMIT 1", (digest, url))
        return row.fetchone() is not None

    # --- articles ---------------------------------------------------------------------

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def upsert(self, article: Article, *, capture_id: int | None = None) -> Outcome:
        """Insert or update by canonical URL; a changed article keeps its previous versions.

        The newest capture is the current article: one older than it (WARC files imported out of date order)
        goes into the history at its time (see ``plan_older_capture``) and is neither current nor indexed.
        Without a capture time on either side, the last write wins.
        """
        digest = article.content_digest()
        now = _utc_text(article.fetched_at) or _utc_text(datetime.now(UTC))
        blob = article.to_json()
        with self.transaction():
            row = self.db.execute(
                "SELECT id, content_digest, json, first_seen, last_changed,"
                " json_extract(json, '$.fetched_at') AS fetched FROM articles WHERE canonical_url = ?",
                (article.canonical_url,),
            ).fetchone()
            if row is not None and (older := self._older_capture(row, article, digest, blob)) is not None:
                return older
            if row is None:
                self.db.execute(
                    "INSERT INTO articles (id, canonical_url, url, site, lang, published_utc, content_digest, parser,"
                    " capture_id, first_seen, last_changed, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (article.id, article.canonical_url, article.url, article.site, article.lang,
                     _utc_text(article.published), digest, _parser_text(article), capture_id, now, now, blob),
                )  # fmt: skip
                self._queue_index(article.id)
                return "new"
            if row["content_digest"] == digest:
                # Same content: point at the newest capture, keep everything else.
                self.db.execute(
                    "UPDATE articles SET capture_id = COALESCE(?, capture_id), json = ?, parser = ? WHERE id = ?",
                    (capture_id, blob, _parser_text(article), row["id"]),
                )
                return "unchanged"
            # The replaced text is the newest earlier version: never dated before one kept (an undated write
            # is dated now, a dated one after it may be older), as the history is read in captured_at order.
            self.db.execute(
                "INSERT INTO article_versions (article_id, content_digest, captured_at, json) SELECT ?, ?,"
                " MAX(?, COALESCE(MAX(captured_at), '')), ? FROM article_versions WHERE article_id = ?",
                (row["id"], row["content_digest"], now, row["json"], row["id"]),
            )
            self.db.execute(
                "UPDATE articles SET url = ?, site = ?, lang = ?, published_utc = ?, content_digest = ?, parser = ?,"
                " capture_id = COALESCE(?, capture_id), last_changed = ?, json = ? WHERE id = ?",
                (article.url, article.site, article.lang, _utc_text(article.published), digest,
                 _parser_text(article), capture_id, now, blob, row["id"]),
            )  # fmt: skip
            self._queue_index(row["id"])
            return "updated"

    def _older_capture(self, row: sqlite3.Row, article: Article, digest: str, blob: str) -> Outcome | None:
        """Store a capture older than the article's current one in its history; None when it is not older."""
        # The stored capture time comes from SQLite's JSON reader: no Python decoding of the article on every upsert.
        at, current_fetched = _utc_text(article.fetched_at), _utc_text(parse_iso(row["fetched"]))
        if at is None or current_fetched is None or at >= current_fetched:
            return None
        versions = [
            StoredVersion(r[0], r[1], r[2], fetched_text(r[3]))
            for r in self.db.execute(
                "SELECT rowid, content_digest, captured_at, json FROM article_versions WHERE article_id = ?"
                " ORDER BY captured_at, rowid",
                (row["id"],),
            )
        ]
        plan = plan_older_capture(
            at, digest, first_seen=row["first_seen"], last_changed=row["last_changed"],
            current_digest=row["content_digest"], current_fetched=current_fetched, versions=versions,
        )  # fmt: skip
        if plan.add is not None:
            self.db.execute(
                "INSERT INTO article_versions (article_id, content_digest, captured_at, json) VALUES (?, ?, ?, ?)",
                (row["id"], digest, plan.add, blob),
            )
        self.db.executemany(
            "UPDATE article_versions SET captured_at = ? WHERE rowid = ?", [(at, k) for k in plan.ends or ()]
        )
        if plan.first_seen or plan.last_changed:
            self.db.execute(
                "UPDATE articles SET first_seen = COALESCE(?, first_seen), last_changed = COALESCE(?, last_changed)"
                " WHERE id = ?",
                (plan.first_seen, plan.last_changed, row["id"]),
            )
        return "updated" if plan.add is not None else "unchanged"

    def _queue_index(self, article_id: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO index_queue (id) VALUES (?)", (article_id,))

    def index_queue(self, limit: int = 5000) -> list[str]:
        """Ids of articles the search index has not caught up with yet."""
        return [r[0] for r in self.db.execute("SELECT id FROM index_queue LIMIT ?", (limit,))]

    def index_done(self, ids: list[str]) -> None:
        with self.transaction():
            self.db.executemany("DELETE FROM index_queue WHERE id = ?", [(i,) for i in ids])

    def clear_index_queue(self) -> None:
        self.db.execute("DELETE FROM index_queue")

    def get(self, key: str) -> Article | None:
        """An article by id, canonical URL or any captured URL."""
        row = self.db.execute(
            "SELECT json FROM articles WHERE id = ? OR canonical_url = ? OR url = ? LIMIT 1", (key, key, key)
        ).fetchone()
        if row is None and "://" in key:
            cap = self.latest_capture(key)
            if cap is not None:
                row = self.db.execute("SELECT json FROM articles WHERE capture_id = ?", (cap.id,)).fetchone()
        return Article.from_json(row["json"]) if row else None

    def get_many(self, ids: list[str]) -> dict[str, Article]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"SELECT id, json FROM articles WHERE id IN ({marks})", ids)
        return {r["id"]: Article.from_json(r["json"]) for r in rows}

    def hit_texts(self, ids: list[str]) -> dict[str, HitText]:
        """What search hits show of these articles, by id, without building each ``Article``: the JSON
        decoded by Python's C decoder (10 hits: 0.11 ms, against 0.23 for SQLite's ``json_extract`` of the
        four fields, which parses the text once per field, a third of a date listing's time)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"SELECT {_HIT_COLUMNS} FROM articles WHERE id IN ({marks})", ids)
        return {r[0]: _hit_text(r) for r in rows}

    def versions(self, article_id: str) -> list[Article]:
        """Earlier versions of an article, oldest first: by when each stopped being current (a capture imported
        out of date order is written after versions it came before), then in the order written."""
        rows = self.db.execute(
            "SELECT json FROM article_versions WHERE article_id = ? ORDER BY captured_at, rowid", (article_id,)
        ).fetchall()
        return [Article.from_json(r["json"]) for r in rows]

    def iter_articles(self, *, order: str = "published") -> Iterator[Article]:
        """Every article, streamed (constant memory), newest published first by default."""
        sql = {
            "published": "SELECT json FROM articles ORDER BY published_utc DESC, id",
            "id": "SELECT json FROM articles ORDER BY id",
        }[order]
        cur = self.db.cursor()
        cur.arraysize = 500
        for row in cur.execute(sql):
            yield Article.from_json(row["json"])

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def capture_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM captures").fetchone()[0])

    def capture_for_article(self, article_id: str) -> CaptureRow | None:
        row = self.db.execute(
            "SELECT c.* FROM captures c JOIN articles a ON a.capture_id = c.id WHERE a.id = ?", (article_id,)
        ).fetchone()
        return _capture_row(row) if row else None

    def articles_of_capture(self, capture_id: int) -> list[tuple[str, str | None]]:
        """(id, parser) of the articles whose current page is this capture, by id: one, or more where reparse
        gave the page another key and has not yet taken the old key's article away (see ``retire``)."""
        rows = self.db.execute("SELECT id, parser FROM articles WHERE capture_id = ? ORDER BY id", (capture_id,))
        return [(r[0], r[1]) for r in rows]

    def shared_captures(self) -> set[int]:
        """The captures that are the current page of more than one article (see ``articles_of_capture``)."""
        return {r[0] for r in self.db.execute(SHARED_CAPTURES)}

    def pages_without_result(self) -> Iterator[CaptureRow]:
        """The newest capture of each URL that is a 2xx response and the current page of no article, with no
        verdict, in the order recorded: pages whose parse is on record nowhere (it failed before failures were
        recorded as verdicts, or its article went into another capture's article's history), feeds and sitemaps
        among them."""
        for row in self.db.execute(f"SELECT c.* FROM captures c{WITHOUT_RESULT}").fetchall():
            yield _capture_row(row)

    def retire(
        self,
        article_id: str,
        *,
        capture_id: int,
        history_to: str | None = None,
        successor: tuple[int, Article] | None = None,
    ) -> bool:
        """Take away an article its page no longer gives (reparse: the page's canonical URL moved), in one
        transaction, and queue its id so that the index drops it; False, changing nothing, when the article is
        gone or its current page is no longer capture ``capture_id`` (another page replaced it meanwhile).

        Its history is kept (``plan_retire``): its text, and those of its earlier versions that came from the same
        page (all of them, without a ``successor``), become earlier versions of ``history_to``, the article the
        page gives now; without one (or where it is gone), they stay under their own id. ``successor``: (capture
        id, article) of another page that gives the same key: stored in its place, as if captured anew.
        """
        with self.transaction():
            row = self.db.execute(
                "SELECT content_digest, json, first_seen, last_changed, capture_id FROM articles WHERE id = ?",
                (article_id,),
            ).fetchone()
            if row is None or row["capture_id"] != capture_id:
                return False
            versions = [
                (r[0], r[1], r[2])
                for r in self.db.execute(
                    "SELECT rowid, captured_at, json FROM article_versions WHERE article_id = ?", (article_id,)
                )
            ]
            target = None
            if history_to is not None:
                target = self.db.execute("SELECT id FROM articles WHERE id = ?", (history_to,)).fetchone()
            plan = plan_retire(row["json"], row["last_changed"], versions, whole=successor is None)
            owner = history_to if target is not None else article_id
            self.db.execute(
                "INSERT INTO article_versions (article_id, content_digest, captured_at, json) VALUES (?, ?, ?, ?)",
                (owner, row["content_digest"], plan.ended, row["json"]),
            )
            if target is not None:
                self.db.executemany(
                    "UPDATE article_versions SET article_id = ? WHERE rowid = ?", [(owner, k) for k in plan.moves]
                )
                self.db.execute(
                    "UPDATE articles SET first_seen = MIN(first_seen, ?) WHERE id = ?", (row["first_seen"], owner)
                )
            self.db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
            self._queue_index(article_id)
            if successor is not None:
                self.upsert(successor[1], capture_id=successor[0])
                # Its own text, filed in the history when reparse met its page, is the current one now.
                self.db.execute(
                    "DELETE FROM article_versions WHERE article_id = ? AND json = ?",
                    (article_id, successor[1].to_json()),
                )
                self.db.execute(
                    "UPDATE articles SET first_seen = MIN(first_seen, ?) WHERE id = ?"
                    " AND EXISTS (SELECT 1 FROM article_versions WHERE article_id = ?)",
                    (row["first_seen"], article_id, article_id),
                )
        return True

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def stats_by(self, column: str) -> list[tuple[str, int]]:
        expr = {"site": "site", "lang": "COALESCE(lang, '')", "month": "COALESCE(substr(published_utc, 1, 7), '')"}[
            column
        ]
        rows = self.db.execute(f"SELECT {expr} AS k, COUNT(*) FROM articles GROUP BY k ORDER BY k")
        return [(r[0], r[1]) for r in rows]

    # --- read-only queries for search, facets and stats (owned by search; see docs/search.md) -------

    @staticmethod
    def _listing_where(
        date_from: datetime | None, date_to: datetime | None, sites: tuple[str, ...], langs: tuple[str, ...]
    ) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if date_from is not None:
            clauses.append("published_utc >= ?")
            params.append(_utc_text(date_from))
        if date_to is not None:
            clauses.append("published_utc <= ?")
            params.append(_utc_text(date_to))
        if sites:
            clauses.append(f"site IN ({','.join('?' * len(sites))})")
            params.extend(sites)
        if langs:
            patterns = lang_patterns(langs)
            one = "(lower(lang) = ? OR lower(lang) LIKE ? ESCAPE '!' OR lower(lang) LIKE ? ESCAPE '!')"
            clauses.append("(" + (" OR ".join(one for _ in patterns) or "0 = 1") + ")")
            for exact, dash, underscore in patterns:
                params.extend([exact, dash, underscore])
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _has_day_counts(self) -> bool:
        """Whether this store keeps ``article_days`` (a store made before it, opened read-only, does not)."""
        if self._day_counts is None:
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'article_days_update'"
            self._day_counts = self.db.execute(sql).fetchone() is not None
        return self._day_counts

    def _add_day_counts(self) -> None:
        """Create and fill ``article_days`` in a store made before it (once; another writer may race us)."""
        if self._has_day_counts():
            return
        with self.transaction():
            self._day_counts = None
            if not self._has_day_counts():
                for statement in _DAY_COUNTS:
                    self.db.execute(statement)
        self._day_counts = True

    def _listing_total(self, date_from: datetime | None, date_to: datetime | None) -> int | None:
        """The exact number of articles published in [date_from, date_to] from the day counts: whole days
        summed, the two edge days counted in ``articles`` (None: no day counts in this store)."""
        if not self._has_day_counts():
            return None
        lo, hi = _utc_text(date_from), _utc_text(date_to)
        if lo is not None and hi is not None and lo > hi:
            return 0
        if lo is not None and hi is not None and lo[:10] == hi[:10]:
            sql = "SELECT COUNT(*) FROM articles WHERE published_utc >= ? AND published_utc <= ?"
            return int(self.db.execute(sql, (lo, hi)).fetchone()[0])
        # Days are 'YYYY-MM-DD' ('' for none); a day's published_utc values sort between its 'YYYY-MM-DD'
        # and 'YYYY-MM-DDU' ('U' follows the 'T' of every time of that day). One statement sums the parts.
        edge = "(SELECT COUNT(*) FROM articles WHERE published_utc >= ? AND published_utc {} ?)"
        parts: list[str] = []
        params: list[object] = []
        clauses = ["day <> ''"] if lo is not None or hi is not None else []
        days: list[object] = []
        if lo is not None:
            parts.append(edge.format("<"))
            params += [lo, lo[:10] + "U"]
            clauses.append("day > ?")
            days.append(lo[:10])
        if hi is not None:
            parts.append(edge.format("<="))
            params += [hi[:10], hi]
            clauses.append("day < ?")
            days.append(hi[:10])
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        parts.append(f"(SELECT COALESCE(SUM(n), 0) FROM article_days{where})")
        return int(self.db.execute("SELECT " + " + ".join(parts), [*params, *days]).fetchone()[0])

    def list_by_date(self, **listing: Any) -> tuple[int, list[str]]:
        """(total, one page of ids) by publication date, from the index on published_utc (the keywords of
        ``_date_page``: date_from, date_to, sites, langs, newest, limit, offset)."""
        total, rows = self._date_page("id", **listing)
        return total, [r[0] for r in rows]

    def list_hits_by_date(self, **listing: Any) -> tuple[int, list[HitText]]:
        """``list_by_date`` with what the hits show, read in the page's own statement: ``hit_texts``'
        fields, the body cut to its first PLAIN_SNIPPET_CHARS characters (all a listing's hit shows of it)."""
        total, rows = self._date_page(_LISTING_COLUMNS, **listing)
        return total, [_listing_hit(r) for r in rows]

    def _date_page(
        self,
        columns: str,
        *,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        sites: tuple[str, ...] = (),
        langs: tuple[str, ...] = (),
        newest: bool = True,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[int, list[sqlite3.Row]]:
        """A page of a date listing (these columns of each row) and the listing's total."""
        where, params = self._listing_where(date_from, date_to, sites, langs)
        total = None if sites or langs else self._listing_total(date_from, date_to)
        if total is None:
            total = int(self.db.execute(f"SELECT COUNT(*) FROM articles{where}", params).fetchone()[0])
        order = "DESC" if newest else "ASC"
        rows = self.db.execute(
            f"SELECT {columns} FROM articles{where} ORDER BY published_utc {order}, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return total, rows

    def facet_counts(
        self,
        *,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        sites: tuple[str, ...] = (),
        langs: tuple[str, ...] = (),
    ) -> dict[str, list[tuple[str, int]]]:
        """Counts by site, language, month and tag of the articles in a date listing."""
        where, params = self._listing_where(date_from, date_to, sites, langs)
        out: dict[str, list[tuple[str, int]]] = {}
        exprs = {"site": "site", "lang": "COALESCE(lang, '')", "month": "COALESCE(substr(published_utc, 1, 7), '')"}
        for name, expr in exprs.items():
            rows = self.db.execute(f"SELECT {expr} AS k, COUNT(*) AS n FROM articles{where} GROUP BY k", params)
            out[name] = [(r[0], r[1]) for r in rows if r[0]]
        # Articles, not values: a tag given twice counts once (DISTINCT), and one spelled two ways ("Gaza", "GAZA":
        # one key) is counted again over its spellings together (recount).
        # A \u0000 escape (an article stored by an older version) is read as U+FFFD, as on PostgreSQL (_TAGS_JSON).
        rows = self.db.execute(
            f"SELECT t.value AS k, COUNT(DISTINCT articles.rowid) FROM articles, json_each({_TAGS_JSON}, '$.tags')"
            f" AS t{where} GROUP BY k",
            params,
        )
        out["tag"] = [(r[0], r[1]) for r in rows if isinstance(r[0], str)]

        def recount(spellings: list[str]) -> int:
            marks = ",".join("?" * len(spellings))
            sql = (
                f"SELECT COUNT(DISTINCT articles.rowid) FROM articles, json_each({_TAGS_JSON}, '$.tags') AS t"
                f"{where or ' WHERE 1'} AND t.value IN ({marks})"
            )
            return int(self.db.execute(sql, [*params, *spellings]).fetchone()[0])

        return facets_by_index_keys(out, recount)

    def iter_articles_where(
        self,
        *,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        sites: tuple[str, ...] = (),
        langs: tuple[str, ...] = (),
        newest: bool = True,
    ) -> Iterator[Article]:
        """Articles of a date listing, streamed (constant memory)."""
        where, params = self._listing_where(date_from, date_to, sites, langs)
        cur = self.db.cursor()
        cur.arraysize = 500
        order = "DESC" if newest else "ASC"
        for row in cur.execute(f"SELECT json FROM articles{where} ORDER BY published_utc {order}, id", params):
            yield Article.from_json(row["json"])

    def sites(self) -> list[str]:
        """Every site (host) the archive has articles from."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT site FROM articles ORDER BY site")]

    def sites_fetched_for(self, source: str) -> set[str]:
        """The sites of the articles ingest fetched for a source (its frontier rows name the source)."""
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'frontier'").fetchone():
            return set()
        rows = self.db.execute(
            "SELECT DISTINCT a.site FROM frontier f JOIN articles a ON a.url = f.url OR a.canonical_url = f.url"
            " WHERE f.source = ?",
            (source,),
        )
        return {r[0] for r in rows}

    def last_run(self) -> tuple[datetime | None, str | None]:
        """When the last complete ingest run finished and its counts (JSON); (None, None) if none."""
        from newsarchive.store.frontier import last_run

        return last_run(self.db)

    def last_changed(self) -> str | None:
        """When an article was last added or changed (UTC text), for stats."""
        row = self.db.execute("SELECT MAX(last_changed) FROM articles").fetchone()
        return str(row[0]) if row and row[0] else None


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.depth_owner = False

    def __enter__(self) -> None:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.depth_owner = True

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self.depth_owner:
            return
        try:
            if exc_type is None:
                self.db.execute("COMMIT")
                return
            self.db.execute("ROLLBACK")
        except sqlite3.OperationalError as failure:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise _store_error(failure) from failure
        if isinstance(exc, sqlite3.OperationalError):
            raise _store_error(exc) from exc


#: An article's JSON as the tag facet reads it: each \u0000 escape (not an escaped backslash followed by "u0000") as
#: \ufffd, as the PostgreSQL store reads it (pg._JSON_TEXT), where json_each would end the tag at the NUL (an article
#: stored by a version before the parsers removed NULs). Escaped backslashes are set aside first as char(1), which no
#: JSON text holds unescaped; instr first: the replacing runs on those articles only.
_TAGS_JSON = (
    r"(CASE WHEN instr(articles.json, '\u0000') = 0 THEN articles.json"
    r" ELSE replace(replace(replace(articles.json, '\\', char(1)), '\u0000', '\ufffd'), char(1), '\\') END)"
)


def facets_by_index_keys(
    out: dict[str, list[tuple[str, int]]], recount: Callable[[list[str]], int] | None = None
) -> dict[str, list[tuple[str, int]]]:
    """Raw counts by site, language, month and tag, merged by the keys the index counts by (search.py: a tag's
    key, a language's primary subtag) and sorted as search's facets are; shared by both stores.

    A row has one language, so its counts add up; a tag key spelled several ways may be spelled so in one article
    ("Gaza" and "GAZA"): ``recount(spellings)`` gives the articles holding any of them (without it, summed).
    """
    from newsarchive.analysis import lang_primary, tag_key

    for name, key in (("tag", tag_key), ("lang", lang_primary)):
        merged: Counter[str] = Counter()
        spellings: dict[str, list[str]] = {}
        for value, n in out[name]:
            if k := key(value):
                merged[k] += n
                spellings.setdefault(k, []).append(value)
        if name == "tag" and recount is not None:
            for k, values in spellings.items():
                if len(values) > 1:
                    merged[k] = recount(values)
        out[name] = list(merged.items())
    for name, counts in out.items():
        counts.sort(key=(lambda kv: kv[0]) if name == "month" else (lambda kv: (-kv[1], kv[0])))
    return out


def _store_error(exc: sqlite3.OperationalError) -> NewsArchiveError:
    """Disk full, read-only or locked database -> one clear line; the transaction was rolled back."""
    text = str(exc)
    if "locked" in text:
        return LockedError(f"the article store is locked by another process ({text})")
    hint = "free some disk space, then run the command again" if "full" in text else None
    if "readonly" in text or "read-only" in text:
        hint = "make the archive directory writable, or pass --archive DIR"
    return ArchiveError(f"cannot write the article store: {text}; nothing was changed", hint=hint)


def lang_patterns(langs: Sequence[str]) -> list[tuple[str, str, str]]:
    """For each --lang value, what a listing compares ``lower(lang)`` with (``ESCAPE '!'``): its primary subtag
    alone, followed by ``-`` (en-GB), followed by ``_`` (en_GB). Shared by both stores.

    The subtag is escaped for LIKE: a value holding ``%`` or ``_`` must match those characters, as the index
    path's exact term on ``lang_primary`` does, not every language (``--lang %`` listed every article, and
    PostgreSQL's LIKE read a backslash as its own escape). An empty subtag (``--lang _``) names no language and
    matches nothing, as in the PostgreSQL search tables (``_FALSE``): none is given for it.
    """
    from newsarchive.analysis import lang_primary

    out = []
    for value in langs:
        if not (primary := lang_primary(value)):
            continue
        like = primary.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        out.append((primary, like + "-%", like + "!_%"))
    return out


def _parser_text(article: Article) -> str | None:
    return f"{article.parser.name}/{article.parser.version}" if article.parser else None


def _capture_row(row: sqlite3.Row) -> CaptureRow:
    return CaptureRow(
        id=row["id"],
        url=row["url"],
        final_url=row["final_url"],
        warc=row["warc"],
        offset=row["offset"],
        length=row["length"],
        status=row["status"],
        fetched_at=datetime.fromisoformat(row["fetched_at"]),
        digest=row["digest"],
        content_type=row["content_type"],
    )


def capture_of(row: CaptureRow) -> Capture:
    """The Article.capture value for a capture row."""
    return Capture(warc=row.warc, offset=row.offset, length=row.length, status=row.status, digest=row.digest)


def fetched_text(article_json: str) -> str | None:
    """When a stored article's page was captured (``_utc_text`` form), from its JSON; None when unknown."""
    return _utc_text(parse_iso(json.loads(article_json).get("fetched_at")))


class StoredVersion(NamedTuple):
    """An earlier version as ``plan_older_capture`` reads it: ``key`` is its row (rowid, seq), ``ended``
    its ``captured_at`` (when it stopped being current: the capture that replaced it), ``fetched`` when
    its own JSON's page was captured."""

    key: int
    digest: str
    ended: str
    fetched: str | None


@dataclass
class RetirePlan:
    """Where a retired article's history goes (``ArticleStore.retire``): ``moves``, the keys (rowid, seq) of the
    earlier versions that go with its text; ``ended``, the ``captured_at`` of that text as an earlier version."""

    moves: list[int]
    ended: str


def plan_retire(
    current_json: str, last_changed: str, versions: Sequence[tuple[int, str, str]], *, whole: bool
) -> RetirePlan:
    """A retired article's history: its text ends when its page's capture was parsed anew (the JSON's
    ``fetched_at``), after any version that goes with it; ``versions`` are (key, captured_at, JSON). The versions
    of the same page (``url``) go with it, or all of them (``whole``: no other page gives the article's key)."""
    page = json.loads(current_json).get("url")
    moves = [key for key, _, blob in versions if whole or json.loads(blob).get("url") == page]
    moving = set(moves)
    ends = [at for key, at, _ in versions if key in moving]
    return RetirePlan(moves, max([fetched_text(current_json) or last_changed, *ends]))


@dataclass
class OlderCapturePlan:
    """What an article's rows need for a capture older than its current one (the current text stays).

    ``add``: the capture's content is a version not known at its time: one ``article_versions`` row with
    this ``captured_at``. ``ends``: versions whose ``captured_at`` moves to the older capture's time (they
    were replaced earlier than known). ``first_seen``, ``last_changed``: new values, or None to keep.
    """

    add: str | None = None
    ends: list[int] | None = None
    first_seen: str | None = None
    last_changed: str | None = None


def plan_older_capture(
    at: str,
    digest: str,
    *,
    first_seen: str,
    last_changed: str,
    current_digest: str,
    current_fetched: str,
    versions: Sequence[StoredVersion],
) -> OlderCapturePlan:
    """Place a capture taken at ``at``, before the current one (``current_fetched``), in an article's history.

    Captures may be imported in any order (WARC files of other crawlers, ``cat`` of files, ``store rebuild``),
    and the newest capture must stay the current article, so an older one only fills in the past. The history
    is a sequence of runs, each one content from its start to its last capture: the first starts at
    ``first_seen``, each next one where the one before ended (its ``captured_at``), the current one at
    ``last_changed``; a run's last capture is its JSON's ``fetched_at``. An older capture with a run's content,
    at a time that run covers or just after it, adds nothing; one just before a run with the same content makes
    that run start earlier; a content seen between two runs is a version of its own between them; and one
    taken inside a run of another content (the page went back and forth) is a version ending at that run's
    last known capture, which the run then starts from. Shared by both stores, which only read and write rows.
    """
    runs = [*versions, StoredVersion(-1, current_digest, "", current_fetched)]  # key -1: the current article
    starts = [first_seen, *(v.ended for v in versions[:-1]), last_changed] if versions else [first_seen]
    before = -1  # the last run that started at or before ``at`` (-1: none, the capture is before first_seen)
    for i, start in enumerate(starts):
        if start <= at:
            before = i
    plan = OlderCapturePlan()
    if before >= 0:
        run = runs[before]
        last = max(run.fetched or starts[before], starts[before])
        if at <= last or before == len(runs) - 1:
            if digest != run.digest:  # inside a run of another content: the page went back and forth
                plan.add = last
                if run.key == -1:
                    plan.last_changed = last
            return plan
        if digest == run.digest:  # just after a run of the same content: it lasted longer, as far as known
            return plan
    after = runs[before + 1]
    if before >= 0:
        plan.ends = [runs[before].key]  # the run before was replaced at ``at``, not later
    else:
        plan.first_seen = at
    if digest == after.digest:  # the next run's content, seen earlier: that run starts at ``at``
        if after.key == -1:
            plan.last_changed = at
    else:
        plan.add = starts[before + 1]
    return plan
