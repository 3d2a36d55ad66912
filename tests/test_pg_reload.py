"""A reload of the PostgreSQL search tables (bulk_load: reindex, store migrate) builds new tables beside the live ones
and swaps them in: searches go on, on the old content, for the whole load; writers wait and lose nothing; a failed
load leaves the live tables as they were; the swapped tables keep the live ones' indexes, keys, storage and rights.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from newsarchive.article import Article
from newsarchive.errors import SearchIndexError
from newsarchive.index import pg_search
from newsarchive.index.pg_search import RELOADED, PgSearch, connect
from newsarchive.search import SearchRequest

psycopg = pytest.importorskip("psycopg")


def _article(i: int, word: str = "harbour") -> Article:
    return Article(
        url=f"https://r{i % 2}.example/{word}/{i}",
        headline=f"The {word} number {i}",
        body=f"A {word} town by the sea, article {i}.",
        site=f"r{i % 2}.example",
        lang="en",
        tags=("Ports",) if i % 2 else ("Towns",),
        published=datetime(2020 + i % 3, 1 + i % 12, 5, tzinfo=UTC),
    )


class _Gate:
    """Articles handed to a load one by one; the load stops after ``at`` of them until the gate opens (it is then in
    the middle of its COPY)."""

    def __init__(self, articles: list[Article], at: int, fail: bool = False) -> None:
        self.articles, self.at, self.fail = articles, at, fail
        self.reached, self.open = threading.Event(), threading.Event()

    def __iter__(self) -> Iterator[Article]:
        for i, article in enumerate(self.articles):
            if i == self.at:
                self.reached.set()
                assert self.open.wait(60)
                if self.fail:
                    raise RuntimeError("the store went away")
            yield article


def _started(work: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    """``work`` running in a thread, and the list its exception goes to."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _load_in_thread(pg: PgSearch, gate: _Gate) -> tuple[threading.Thread, list[BaseException]]:
    """A reload of ``gate``'s articles, stopped in the middle of its COPY until the gate opens."""
    started = _started(lambda: pg.bulk_load(gate, replace=True))
    assert gate.reached.wait(60)
    return started


def _total(pg: PgSearch, word: str) -> int:
    return pg.search(SearchRequest(word, limit=5)).total


def _searcher(url: str) -> PgSearch:
    """A search connection that gives up on any statement waiting more than 5 s (a lock held by a reload)."""
    conn = connect(url)
    conn.execute("SET statement_timeout = '5s'")
    conn.commit()
    return PgSearch(conn, create=False)


def test_searches_go_on_during_a_reload_on_the_old_content_and_see_the_new_after_it(pg_url: str) -> None:
    """Before, a reload locked every search table for its whole transaction: every search on the archive waited for
    it (half an hour at 1,000,000 articles)."""
    writer = PgSearch(connect(pg_url))
    writer.add(_article(i) for i in range(20))
    search = _searcher(pg_url)
    gate = _Gate([_article(i, "lighthouse") for i in range(12)], at=5)
    thread, errors = _load_in_thread(writer, gate)
    try:
        assert _total(search, "harbour") == 20  # the live tables, while the load copies rows
        assert _total(search, "lighthouse") == 0
        facets = search.search(SearchRequest("harbour", facets=True, limit=1)).facets
        assert dict(facets["tag"]) == {"ports": 10, "towns": 10}
    finally:
        gate.open.set()
        thread.join(60)
    assert not thread.is_alive() and not errors, errors
    assert _total(search, "lighthouse") == 12
    assert _total(search, "harbour") == 0
    assert search.doc_count() == 12
    search.close()
    writer.close()


def test_a_writer_waits_for_a_reload_and_its_article_is_in_the_new_tables(pg_url: str) -> None:
    writer = PgSearch(connect(pg_url))
    writer.add(_article(i) for i in range(10))
    loader = PgSearch(connect(pg_url))
    gate = _Gate([_article(i) for i in range(10)], at=3)
    thread, errors = _load_in_thread(loader, gate)
    adder, added = _started(lambda: writer.add([_article(99, "lighthouse")]))
    watch = psycopg.connect(pg_url, autocommit=True)
    pid = writer.conn.info.backend_pid
    waited = False
    for _ in range(500):
        row = watch.execute("SELECT wait_event FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        if row and row[0] == "advisory":
            waited = True
            break
        time.sleep(0.01)
    assert waited, "the writer did not wait for the reload"
    gate.open.set()
    thread.join(60)
    adder.join(60)
    watch.close()
    assert not errors and not added, (errors, added)
    assert writer.doc_count() == 11
    assert _total(writer, "lighthouse") == 1
    writer.close()
    loader.close()


def test_a_failed_reload_leaves_the_live_tables_and_lets_go_of_the_writers_lock(pg_url: str) -> None:
    writer = PgSearch(connect(pg_url))
    writer.add(_article(i) for i in range(8))
    loader = PgSearch(connect(pg_url))
    gate = _Gate([_article(i, "lighthouse") for i in range(8)], at=4, fail=True)
    thread, errors = _load_in_thread(loader, gate)
    gate.open.set()
    thread.join(60)
    assert len(errors) == 1 and "the store went away" in str(errors[0])
    assert _total(writer, "harbour") == 8 and _total(writer, "lighthouse") == 0
    writer.add([_article(50)])  # the lock was let go
    assert writer.doc_count() == 9
    assert loader.bulk_load(iter([_article(i, "lighthouse") for i in range(3)]), replace=True) == 3
    assert _total(writer, "lighthouse") == 3
    writer.close()
    loader.close()


def test_tables_left_by_a_killed_reload_are_dropped_by_the_next(pg_url: str) -> None:
    """A reload killed after its rows were committed (while its indexes were built) leaves its new tables behind:
    the live ones are untouched, and the next reload starts from scratch."""
    pg = PgSearch(connect(pg_url))
    pg.add(_article(i) for i in range(6))
    for table in RELOADED:
        pg.conn.execute(f"CREATE TABLE {table}_next (junk INTEGER)")
        pg.conn.execute(f"INSERT INTO {table}_next VALUES (1)")
    pg.conn.commit()
    assert _total(pg, "harbour") == 6
    assert pg.bulk_load(iter([_article(i, "lighthouse") for i in range(4)]), replace=True) == 4
    assert _total(pg, "lighthouse") == 4 and _total(pg, "harbour") == 0
    left = pg.conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'search%%\\_next%%'").fetchone()[0]
    pg.conn.commit()
    assert left == 0
    pg.close()


def _layout(conn: Any) -> dict[str, Any]:
    """Each reloaded table's indexes and keys (definitions by name), storage options, columns' storage and
    compression, and the rights of other roles."""
    out: dict[str, Any] = {}
    for table in RELOADED:
        out[table] = (
            sorted(
                conn.execute(
                    "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c"
                    " ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
                    (table,),
                ).fetchall()
            ),
            sorted(
                conn.execute(
                    "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = %s::regclass",
                    (table,),
                ).fetchall()
            ),
            conn.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone(),
            conn.execute(
                "SELECT array_agg((attname, attstorage, attcompression, attnotnull, atttypid)::text ORDER BY attnum)"
                " FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table,),
            ).fetchone(),
            sorted(
                conn.execute(
                    "SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type FROM pg_class c"
                    " CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee"
                    " WHERE c.oid = %s::regclass AND a.grantee <> c.relowner",
                    (table,),
                ).fetchall()
            ),
        )
    conn.commit()
    return out


def test_a_reload_keeps_the_tables_indexes_keys_storage_and_rights(pg_url: str) -> None:
    """A reader granted SELECT on the tables goes on searching after a reload (its new tables get the live ones'
    rights); each table's indexes, keys, storage options and columns are the live ones'."""
    pg = PgSearch(connect(pg_url))
    pg.add(_article(i) for i in range(10))
    reader = f"reader_{os.getpid()}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{reader}" LOGIN')
        admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{reader}"')
        admin.execute(f'GRANT INSERT, UPDATE ON search_terms TO "{reader}"')
    before = _layout(pg.conn)
    assert before["search_docs"][4] and before["search_terms"][4]
    pg.bulk_load(iter([_article(i, "lighthouse") for i in range(7)]), replace=True)
    assert _layout(pg.conn) == before
    search = PgSearch(connect(pg_url.replace("postgres@", f"{reader}@", 1)), create=False)
    assert _total(search, "lighthouse") == 7
    assert search.search(SearchRequest("lighthouse", sort="newest", limit=3)).total == 7
    search.close()
    pg.close()


def test_a_reload_without_a_second_connection_builds_the_text_index_itself(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server at its connection limit: the text index is built on the load's own connection, after the rest."""
    pg = PgSearch(connect(pg_url))
    real = psycopg.connect

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise psycopg.OperationalError("sorry, too many clients already")

    monkeypatch.setattr(psycopg, "connect", refuse)
    try:
        assert pg.bulk_load(iter([_article(i) for i in range(5)])) == 5
    finally:
        monkeypatch.setattr(psycopg, "connect", real)
    assert _total(pg, "harbour") == 5
    names = {r[0] for r in pg.conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'search_docs'")}
    pg.conn.commit()
    assert "search_docs_tv" in names
    pg.close()


def test_a_failed_text_index_build_is_raised_and_leaves_the_live_tables(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(pg_search.INDEX_ENV, "gin")
    pg = PgSearch(connect(pg_url))
    pg.add(_article(i) for i in range(4))
    monkeypatch.setitem(pg_search._INDEX_USING, "gin", "gin (no_such_column)")
    with pytest.raises(psycopg.errors.UndefinedColumn):
        pg.bulk_load(iter([_article(i, "lighthouse") for i in range(3)]), replace=True)
    monkeypatch.undo()
    assert _total(pg, "harbour") == 4
    pg.add([_article(40)])  # the writers' lock was let go
    assert pg.doc_count() == 5
    pg.close()


def test_a_load_into_tables_that_are_not_empty_is_refused_without_replace(pg_url: str) -> None:
    pg = PgSearch(connect(pg_url))
    pg.add([_article(1)])
    with pytest.raises(SearchIndexError, match="not empty"):
        pg.bulk_load(iter([_article(2)]))
    pg.add([_article(3)])  # the writers' lock was let go
    assert pg.doc_count() == 2
    pg.close()


def test_a_reindex_that_fails_leaves_the_index_queue_for_the_next_run(
    pg_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's queue of articles to index was emptied before the load: a reload that failed (the live tables
    kept) left those articles out of the search tables until the next full reindex."""
    from conftest import FIXTURES, run_cli

    archive = tmp_path / "archive"
    assert run_cli(archive, "import-warc", str(FIXTURES / "tour" / "example-news.warc.gz"))[0] == 0
    assert run_cli(archive, "store", "migrate", "--to", pg_url)[0] == 0
    assert run_cli(archive, "--store", pg_url, "reindex")[0] == 0
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("INSERT INTO index_queue (id) SELECT id FROM articles ON CONFLICT DO NOTHING")
        queued = db.execute("SELECT count(*) FROM index_queue").fetchone()[0]
    assert queued == 4

    def fail(*args: Any, **kwargs: Any) -> None:
        raise SearchIndexError("the server's disk is full")

    monkeypatch.setattr(PgSearch, "_index_next", fail)
    code, _, err = run_cli(archive, "--store", pg_url, "reindex")
    assert code != 0 and "the server's disk is full" in err
    monkeypatch.undo()
    with psycopg.connect(pg_url, autocommit=True) as db:
        assert db.execute("SELECT count(*) FROM index_queue").fetchone()[0] == queued
        assert db.execute("SELECT count(*) FROM search_docs").fetchone()[0] == 4  # the live tables kept
    assert run_cli(archive, "--store", pg_url, "reindex")[0] == 0
    with psycopg.connect(pg_url, autocommit=True) as db:
        assert db.execute("SELECT count(*) FROM index_queue").fetchone()[0] == 0


def test_a_reload_keeps_the_tables_in_their_schema_when_search_path_names_another_first(pg_url: str) -> None:
    """The default search_path is "$user", public: a schema named after the user, created after the tables, came
    first, and the new tables were made there (the reloaded ones moved out of public, away from search_meta and
    search_changes, and out of sight of another role's search_path)."""
    pg = PgSearch(connect(pg_url))
    pg.add(_article(i) for i in range(6))
    user = pg.conn.execute("SELECT current_user").fetchone()[0]
    pg.conn.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(user)))
    pg.conn.commit()
    assert pg.bulk_load(iter([_article(i, "lighthouse") for i in range(4)]), replace=True) == 4
    where = pg.conn.execute(
        "SELECT relname, relnamespace::regnamespace::text FROM pg_class WHERE relkind = 'r' AND relname LIKE 'search%%'"
    ).fetchall()
    pg.conn.commit()
    assert {schema for _, schema in where} == {"public"}, where
    assert _total(pg, "lighthouse") == 4
    pg.close()


def test_a_reload_run_by_another_role_leaves_the_tables_to_their_owner(pg_url: str) -> None:
    """A reload run by a superuser (or a member of the owning role) made the new tables its own: the role that owned
    the search tables (the workers') was then refused its next write. The old reload kept the tables and owner."""
    owner = f"owner_{os.getpid()}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{owner}" LOGIN')
        admin.execute(f'GRANT CREATE ON SCHEMA public TO "{owner}"')
    worker = PgSearch(connect(pg_url.replace("postgres@", f"{owner}@", 1)))
    worker.add(_article(i) for i in range(5))
    admin_search = PgSearch(connect(pg_url), create=False)
    assert admin_search.bulk_load(iter([_article(i, "lighthouse") for i in range(4)]), replace=True) == 4
    owners = admin_search.conn.execute(
        "SELECT DISTINCT relowner::regrole::text FROM pg_class WHERE relkind = 'r' AND relname LIKE 'search%%'"
    ).fetchall()
    admin_search.conn.commit()
    assert owners == [(owner,)]
    worker.add([_article(50, "lighthouse")])
    assert _total(worker, "lighthouse") == 5
    assert worker.bulk_load(iter([_article(i, "lighthouse") for i in range(3)]), replace=True) == 3
    admin_search.close()
    worker.close()


def test_an_index_not_named_after_its_table_keeps_its_name_through_a_reload(pg_url: str) -> None:
    """An index a DBA added (docs_by_url) came back from a reload as search_docs_docs_by_url."""
    pg = PgSearch(connect(pg_url))
    pg.add(_article(i) for i in range(5))
    pg.conn.execute("CREATE INDEX docs_by_url ON search_docs (url)")
    pg.conn.commit()
    before = _layout(pg.conn)
    assert pg.bulk_load(iter([_article(i, "lighthouse") for i in range(4)]), replace=True) == 4
    assert _layout(pg.conn) == before
    assert pg.bulk_load(iter([_article(i, "lighthouse") for i in range(3)]), replace=True) == 3
    assert _layout(pg.conn) == before
    pg.close()


def test_a_view_on_a_search_table_stops_a_reload_at_once_with_what_to_do(pg_url: str) -> None:
    """The swap drops the live tables: a view made on one made it fail after the whole load, with a server error."""
    pg = PgSearch(connect(pg_url))
    pg.add(_article(i) for i in range(5))
    pg.conn.execute("CREATE VIEW my_headlines AS SELECT id, title FROM search_docs")
    pg.conn.commit()
    read: list[int] = []

    def articles() -> Iterator[Article]:
        for i in range(5):
            read.append(i)
            yield _article(i, "lighthouse")

    with pytest.raises(SearchIndexError, match="my_headlines") as caught:
        pg.bulk_load(articles(), replace=True)
    assert "drop it before the reindex" in (caught.value.hint or "")
    assert read == []  # refused before reading the store
    assert _total(pg, "harbour") == 5
    pg.add([_article(60)])  # the writers' lock was let go
    pg.close()
