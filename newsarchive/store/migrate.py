"""``store migrate``: copy a whole store, SQLite <-> PostgreSQL, table by table and row for row.

Every table of the article store (store/articles.py) and of the crawl state (store/frontier.py) is
copied: ids, timestamps and the article JSON as they are, the order of article versions kept (SQLite's
rowid is PostgreSQL's ``seq``). Rows go to PostgreSQL with COPY. The target is written in one
transaction: a failure leaves it as it was. The source is read in one snapshot.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from newsarchive.errors import ArchiveError, UsageError
from newsarchive.store.backend import StoreSpec, mask_url

LOGGER = logging.getLogger(__name__)

#: Every table, parents before children (captures before the articles and verdicts that point at them).
STORE_TABLES = (
    "meta", "warc_files", "captures", "articles", "article_versions", "index_queue", "verdicts", "source_runs",
)  # fmt: skip
CRAWL_TABLES = ("frontier", "discovery_docs", "feed_metadata", "runs")
TABLES = STORE_TABLES + CRAWL_TABLES

#: The column PostgreSQL keeps SQLite's rowid in (the order of an article's versions).
_ROWID = {"article_versions": "seq"}


@dataclass
class MigrateResult:
    """Rows copied per table, and source columns the target has no place for (dropped)."""

    rows: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, list[str]] = field(default_factory=dict)


class _Side:
    """One end of a migration: its tables' columns, a row reader and a row writer."""

    def tables(self) -> dict[str, list[str]]:
        raise NotImplementedError

    def count(self, table: str) -> int:
        raise NotImplementedError

    def rows(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
        raise NotImplementedError

    def clear(self, tables: list[str]) -> None:
        raise NotImplementedError

    def write(self, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
        raise NotImplementedError


class _SqliteSide(_Side):
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def tables(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for table in TABLES:
            columns = [r[1] for r in self.db.execute(f"PRAGMA table_info({table})")]
            if columns:
                out[table] = [*columns, _ROWID[table]] if table in _ROWID else columns
        return out

    def count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def _column(self, table: str, name: str) -> str:
        return "rowid" if _ROWID.get(table) == name else _quote(name)

    def rows(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
        names = ", ".join(self._column(table, c) for c in columns)
        cur = self.db.execute(f"SELECT {names} FROM {table} ORDER BY rowid")
        while batch := cur.fetchmany(1000):
            yield from (tuple(r) for r in batch)

    def clear(self, tables: list[str]) -> None:
        for table in reversed(tables):
            self.db.execute(f"DELETE FROM {table}")

    def write(self, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
        names = ", ".join(self._column(table, c) for c in columns)
        marks = ", ".join("?" * len(columns))
        # rowcount: the rows inserted (total_changes also counts what triggers write: article_days per article)
        return int(self.db.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows).rowcount)


class _PgSide(_Side):
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def tables(self) -> dict[str, list[str]]:
        rows = self.conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ANY(%s) ORDER BY table_name, ordinal_position",
            (list(TABLES),),
        ).fetchall()
        out: dict[str, list[str]] = {}
        for table, column in rows:
            out.setdefault(table, []).append(column)
        return {t: out[t] for t in TABLES if t in out}

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def rows(self, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
        names = ", ".join(_quote(c) for c in columns)
        order = _ROWID.get(table) or ("id" if "id" in columns and table in ("captures", "source_runs", "runs") else "")
        with self.conn.cursor(name=f"migrate_{table}") as cur:
            cur.itersize = 2000
            cur.execute(f"SELECT {names} FROM {table}" + (f" ORDER BY {order}" if order else ""))
            for row in cur:
                yield tuple(_as_sqlite(v) for v in row)

    def clear(self, tables: list[str]) -> None:
        self.conn.execute("TRUNCATE " + ", ".join(tables))

    def write(self, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
        names = ", ".join(_quote(c) for c in columns)
        if _BTREE_KEYS.get(table) in columns:
            rows = _keys_that_fit(table, columns.index(_BTREE_KEYS[table]), rows)
        n = 0
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        # Identity columns go on after the highest id copied (captures, source_runs, runs, versions).
        for column in columns:
            seq = self.conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (table, column)).fetchone()[0]
            if seq:
                self.conn.execute(
                    f"SELECT setval(%s, COALESCE((SELECT MAX({_quote(column)}) FROM {table}), 0) + 1, false)", (seq,)
                )
        return n


#: Crawl-state tables keyed by a URL in a B-tree on PostgreSQL (at most 2,704 bytes an entry; SQLite keeps URLs of
#: 8,192 characters): a row whose key is longer is left out, as the PostgreSQL frontier leaves it out when offered.
_BTREE_KEYS = {"frontier": "url", "discovery_docs": "url", "feed_metadata": "key"}


def _keys_that_fit(table: str, at: int, rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    from newsarchive.store.pg_frontier import MAX_URL_BYTES, key_too_long

    for row in rows:
        key = row[at]
        if isinstance(key, str) and key_too_long(key):
            LOGGER.warning("store migrate: %s: %s... not copied: longer than %d bytes", table, key[:80], MAX_URL_BYTES)
            continue
        yield row


def _as_sqlite(value: Any) -> Any:
    """A PostgreSQL value as the SQLite store keeps it: a timestamp (a crawl table may type its times) as
    the ISO text store/frontier.py writes, anything else as it is."""
    from datetime import UTC, datetime

    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    return value


def _quote(name: str) -> str:
    return '"offset"' if name == "offset" else name


@contextmanager
def store_errors(*specs: StoreSpec) -> Iterator[None]:
    """A PostgreSQL failure during a migration (a missing right, a lost server, a refused row) as one clear
    error naming the store, its password scrubbed: a right the user lacks is exit 2, anything else
    exit 1 (the target's one transaction was rolled back)."""
    try:
        yield
    except Exception as exc:
        psycopg = sys.modules.get("psycopg")
        if psycopg is None or not isinstance(exc, psycopg.Error):
            raise
        from newsarchive.store.pg import _scrub, refused_error

        urls = [s.url for s in specs if s.url is not None]
        text = str(exc)
        for url in urls:
            text = _scrub(text, url)
        where = ", ".join(mask_url(u) for u in urls)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            denied = refused_error(urls[0], exc)
            raise UsageError(f"store migrate was refused access ({where}): {text}", hint=denied.hint) from None
        raise ArchiveError(f"store migrate failed on {where}: {text}; the target was left as it was") from None


#: Columns of the PostgreSQL frontier that only its running workers use (a URL's host, read from the URL;
#: a claim and its lease): a store without them loses nothing, so leaving them out is not reported.
WORKING_COLUMNS = frozenset({("frontier", "host"), ("frontier", "claimed_by"), ("frontier", "lease_until")})


def open_target(spec: StoreSpec) -> tuple[_Side, Callable[[], None]]:
    """The target store with every table created; and how to close it."""
    if spec.is_postgres:
        from newsarchive.store.pg import connect, create_schema

        assert spec.url is not None
        conn = connect(spec.url, setting="the URL given to store migrate --to")
        create_schema(conn)
        from newsarchive.store.pg_frontier import PgFrontier

        PgFrontier(conn)  # the crawl tables, as the workers' frontier has them
        return _PgSide(conn), conn.close
    from newsarchive.store.articles import ArticleStore
    from newsarchive.store.frontier import Frontier

    assert spec.path is not None
    store = ArticleStore(spec.path)
    Frontier(store.db)
    return _SqliteSide(store.db), store.close


def same_database(source: _Side, target: _Side) -> bool:
    """True when two PostgreSQL ends are one database under two spellings of its URL (localhost and
    127.0.0.1, a port left out): the target's TRUNCATE would wait forever for the source's reads, and hold
    every worker of the store meanwhile. Told by the source's session being seen from the target's."""
    if not (isinstance(source, _PgSide) and isinstance(target, _PgSide)):
        return False
    pid, started = source.conn.execute(
        "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
    ).fetchone()
    row = target.conn.execute(
        # backend_start is hidden (null) from a session of another user: the pid and the database then tell.
        "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND datname = current_database()"
        " AND (backend_start = %s OR backend_start IS NULL)",
        (pid, started),
    ).fetchone()
    return row is not None


def source_side(store: Any) -> _Side:
    """The reading end for an open store (SQLite ``ArticleStore`` or ``PgArticleStore``)."""
    return _PgSide(store.conn) if getattr(store, "kind", "sqlite") == "postgresql" else _SqliteSide(store.db)


def target_rows(target: _Side) -> dict[str, int]:
    """Rows per table of the target (a new store holds only its schema_version in meta)."""
    counts = {t: target.count(t) for t in target.tables()}
    if counts.get("meta") == 1:
        counts["meta"] = 0
    return {t: n for t, n in counts.items() if n}


def migrate(
    source: _Side, target: _Side, *, force: bool, on_table: Callable[[str, int], None] | None = None
) -> MigrateResult:
    """Copy every table of ``source`` into ``target`` (emptied first; refused when it holds rows, unless ``force``)."""
    held = target_rows(target)
    if held and not force:
        listed = ", ".join(f"{n} {t}" for t, n in held.items())
        raise UsageError(
            f"the target store is not empty ({listed})",
            hint="pass --force to replace what it holds, or choose an empty database or a new file",
        )
    source_tables = source.tables()
    target_tables = target.tables()
    missing = [t for t in source_tables if t not in target_tables]
    if missing:
        raise ArchiveError(f"the target store has no table {missing[0]!r}; nothing was copied")
    result = MigrateResult()
    with _Transaction(target):
        target.clear([t for t in TABLES if t in target_tables])
        for table, columns in source_tables.items():
            shared = [c for c in columns if c in target_tables[table]]
            dropped = [c for c in columns if c not in target_tables[table] and (table, c) not in WORKING_COLUMNS]
            if dropped:
                result.dropped[table] = dropped
                LOGGER.info("store migrate: %s: the target has no column %s (not copied)", table, ", ".join(dropped))
            n = target.write(table, shared, source.rows(table, shared))
            result.rows[table] = n
            if on_table is not None:
                on_table(table, n)
    return result


class _Transaction:
    """One transaction on a side: the target's writes (all tables or nothing), or the source's reads."""

    #: PostgreSQL's first statement in the transaction, SQLite's BEGIN.
    kind: tuple[str | None, str] = (None, "BEGIN IMMEDIATE")

    def __init__(self, side: _Side) -> None:
        self.side = side
        self.block: Any = None

    def __enter__(self) -> None:
        first, begin = self.kind
        if isinstance(self.side, _PgSide):
            self.block = self.side.conn.transaction()
            self.block.__enter__()
            if first:
                self.side.conn.execute(first)
        else:
            assert isinstance(self.side, _SqliteSide)
            self.side.db.execute(begin)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.block is not None:
            self.block.__exit__(exc_type, exc, tb)
            return
        assert isinstance(self.side, _SqliteSide)
        self.side.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


class Snapshot(_Transaction):
    """Read the source in one consistent snapshot (a read transaction)."""

    kind = ("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "BEGIN")
