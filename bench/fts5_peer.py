"""SQLite FTS5 as the peer of the newsarchive search benchmark: the same corpus, the same queries.

The FTS5 side: one ``fts5(headline, body, tags, tokenize='unicode61 remove_diacritics 2')`` table whose
rowids are the store's article rowids, a ``meta(rowid, published)`` table (indexed on ``published``)
and a ``tag(tag, doc)`` table for exact tag filters. A text query returns the 10 best by
``bm25(fts, 2, 1, 1)`` (headline counts double, as in newsarchive) with the headline and a snippet,
as newsarchive returns hits with snippets (FTS5 does not count the total; newsarchive does).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from newsarchive.analysis import tag_key

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(headline, body, tags, tokenize='unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS meta (rowid INTEGER PRIMARY KEY, published INTEGER);
CREATE TABLE IF NOT EXISTS tag (tag TEXT, doc INTEGER);
"""
INDEXES = """
CREATE INDEX IF NOT EXISTS meta_published ON meta(published);
CREATE INDEX IF NOT EXISTS tag_tag ON tag(tag, doc);
"""
TEXT_SQL = (
    "SELECT fts.rowid, fts.headline, snippet(fts, 1, '[', ']', '...', 24) FROM fts WHERE fts MATCH ?{extra}"
    " ORDER BY bm25(fts, 2.0, 1.0, 1.0) LIMIT 10"
)
# The unary + keeps SQLite from handing the rowid list to FTS5 as a constraint (one full-text lookup per
# listed row: 8 s for a one-year range, 70 s for a common tag at 100k); the filter then applies to the
# matches, as a filter should.
RANGE_SQL = " AND +fts.rowid IN (SELECT rowid FROM meta WHERE published BETWEEN ? AND ?)"
TAG_SQL = " AND +fts.rowid IN (SELECT doc FROM tag WHERE tag = ?)"
LIST_SQL = (
    "SELECT meta.rowid, fts.headline FROM meta JOIN fts ON fts.rowid = meta.rowid"
    " WHERE published BETWEEN ? AND ? ORDER BY published DESC LIMIT 10"
)


def _rows(store_path: Path) -> Any:
    db = sqlite3.connect(store_path)
    for rowid, text in db.execute("SELECT rowid, json FROM articles ORDER BY rowid"):
        yield rowid, json.loads(text)
    db.close()


def _insert(db: sqlite3.Connection, rowid: int, a: dict[str, Any]) -> None:
    tags = a.get("tags") or []
    db.execute(
        "INSERT INTO fts(rowid, headline, body, tags) VALUES (?, ?, ?, ?)",
        (rowid, a.get("headline") or "", a.get("body") or "", " ; ".join(tags)),
    )
    published = a.get("published")
    stamp = int(datetime.fromisoformat(published).timestamp()) if published else None
    db.execute("INSERT INTO meta(rowid, published) VALUES (?, ?)", (rowid, stamp))
    db.executemany("INSERT INTO tag(tag, doc) VALUES (?, ?)", [(tag_key(t), rowid) for t in tags])


def build(store_path: Path, fts_path: Path) -> int:
    """Index every article of the store into a new FTS5 database (read from the store as reindex does)."""
    fts_path.unlink(missing_ok=True)
    db = sqlite3.connect(fts_path)
    db.executescript(SCHEMA)
    n = 0
    with db:
        for rowid, a in _rows(store_path):
            _insert(db, rowid, a)
            n += 1
    db.executescript(INDEXES)
    db.close()
    return n


def add(fts_path: Path, articles: list[tuple[int, dict[str, Any]]]) -> None:
    db = sqlite3.connect(fts_path)
    with db:
        for rowid, a in articles:
            _insert(db, rowid, a)
    db.close()


def fts_query(words: list[str], *, phrase: bool = False) -> str:
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"' if phrase else " AND ".join(quoted)


class Peer:
    def __init__(self, fts_path: Path) -> None:
        self.db = sqlite3.connect(fts_path)

    def query(self, words: list[str], *, phrase: bool = False) -> str:
        return fts_query(words, phrase=phrase)

    def text(self, match: str, *, span: tuple[int, int] | None = None, tag: str | None = None) -> list[Any]:
        if span is not None:
            return self.db.execute(TEXT_SQL.format(extra=RANGE_SQL), (match, *span)).fetchall()
        if tag is not None:
            return self.db.execute(TEXT_SQL.format(extra=TAG_SQL), (match, tag_key(tag))).fetchall()
        return self.db.execute(TEXT_SQL.format(extra=""), (match,)).fetchall()

    def listing(self, span: tuple[int, int]) -> list[Any]:
        return self.db.execute(LIST_SQL, span).fetchall()

    def close(self) -> None:
        self.db.close()


def process_code(fts_path: Path, match: str) -> str:
    """Python code for a fresh process that runs one FTS5 search and prints the hits (the CLI's peer)."""
    return (
        "import sqlite3, sys\n"
        f"db = sqlite3.connect({str(fts_path)!r})\n"
        f"for row in db.execute({TEXT_SQL.format(extra='')!r}, ({match!r},)):\n"
        "    print(row[0], row[1], row[2])\n"
    )
