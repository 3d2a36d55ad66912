"""`store migrate`: SQLite -> PostgreSQL -> SQLite loses nothing (every table, row for row; same exports)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import export_jsonl, run_cli

from newsarchive.archive.rawpage import RawPage
from newsarchive.archive.warc import WarcLocation
from newsarchive.article import Article, ParserInfo
from newsarchive.store.articles import ArticleStore
from newsarchive.store.backend import StoreSpec, open_store
from newsarchive.store.frontier import Frontier
from newsarchive.store.migrate import TABLES


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in rowid order; the rowid itself where it is data (the order of versions)."""
    db = sqlite3.connect(path)
    try:
        out = {}
        for table in TABLES:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
                rowid = "rowid, " if table == "article_versions" else ""
                out[table] = db.execute(f"SELECT {rowid}* FROM {table} ORDER BY rowid").fetchall()
        return out
    finally:
        db.close()


def _round_trip(archive: Path, pg_url: str, back: Path) -> None:
    code, _, err = run_cli(archive, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    code, _, err = run_cli(archive, "--store", pg_url, "store", "migrate", "--to", f"sqlite:{back}")
    assert code == 0, err


def test_the_tour_archive_survives_a_round_trip(tour: Path, pg_url: str, tmp_path: Path) -> None:
    back = tmp_path / "back.sqlite"
    _round_trip(tour, pg_url, back)
    original = export_jsonl(tour)
    assert original
    assert export_jsonl_with(tour, pg_url) == original
    assert export_jsonl_with(tour, f"sqlite:{back}") == original
    assert _dump(back) == _dump(tour / "store.sqlite")


def export_jsonl_with(archive: Path, store: str) -> list[object]:
    code, out, err = run_cli(archive, "--store", store, "export", "--jsonl")
    assert code == 0, err
    import json

    return [json.loads(line) for line in out.splitlines()]


def _article(n: int, body: str, when: datetime) -> Article:
    url = f"https://news.example.org/{n}.html"
    return Article(url=url, canonical_url=url, headline=f"Story {n} ünïcode ✓", body=body, published=when,
                   tags=("Politics", "طقس"), lang="en", parser=ParserInfo("generic", "2"), fetched_at=when)  # fmt: skip


@pytest.fixture
def busy_archive(tmp_path: Path) -> Path:
    """An archive with earlier versions, verdicts, a run log, an index queue and crawl state."""
    root = tmp_path / "busy"
    root.mkdir()
    store = ArticleStore(root / "store.sqlite")
    frontier = Frontier(store.db)
    t0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    for n in range(6):
        raw = RawPage(url=f"https://news.example.org/{n}.html", final_url=f"https://news.example.org/{n}.html",
                      status=200, headers=(("Content-Type", "text/html"),), body=f"<p>{n}</p>".encode(),
                      fetched_at=t0)  # fmt: skip
        cap = store.record_capture(raw, WarcLocation("a.warc.gz", n * 1000, 900, n * 1000 + 950))
        if n == 5:
            store.record_verdict(cap.id, raw.url, "generic/2", "a listing page\nwith two lines")
            continue
        for version in range(n % 3 + 1):  # 1 to 3 versions: 0 to 2 earlier ones
            store.upsert(_article(n, f"Text {n} v{version}.", t0 + timedelta(hours=version)), capture_id=cap.id)
        frontier.offer(raw.url, source="news", via="sitemap", now=t0, lastmod=t0, published=t0)
        frontier.done(raw.url, now=t0, lastmod=t0)
    store.upsert(_article(9, "Undated.", t0).replace(published=None))
    frontier.offer("https://news.example.org/late.html", source="news", via="feed", now=t0,
                   fetch_url="https://news.example.org/late.html?utm=x")  # fmt: skip
    frontier.failed("https://news.example.org/late.html", now=t0, error="HTTP 503", retry=True,
                    backoff=timedelta(minutes=5))  # fmt: skip
    frontier.save_doc_state("https://news.example.org/sitemap.xml", etag='"x1"', last_modified=None, lastmod=t0, now=t0)
    frontier.save_feed_metadata("blogger:1", '{"labels": ["a"]}')
    run = frontier.start_run(t0)
    frontier.finish_run(run, t0 + timedelta(minutes=3), '{"new": 5}')
    frontier.start_run(t0 + timedelta(days=1))  # a run that never finished
    store.record_source_run("news", t0, 6, 1, 0)
    store.set_meta("index_version", "7")
    store.index_done(store.index_queue()[:2])
    store.close()
    return root


def test_versions_verdicts_runs_and_crawl_state_survive_a_round_trip(
    busy_archive: Path, pg_url: str, tmp_path: Path
) -> None:
    before = _dump(busy_archive / "store.sqlite")
    assert before["article_versions"] and before["verdicts"] and before["frontier"] and before["runs"]
    back = tmp_path / "back.sqlite"
    _round_trip(busy_archive, pg_url, back)
    assert _dump(back) == before
    assert export_jsonl_with(busy_archive, pg_url) == export_jsonl(busy_archive)
    pg = open_store(StoreSpec("postgresql", url=pg_url))
    sqlite = ArticleStore(busy_archive / "store.sqlite")
    for n in range(5):
        article = sqlite.get(f"https://news.example.org/{n}.html")
        assert article is not None
        assert pg.versions(article.id) == sqlite.versions(article.id)
    assert pg.last_run() == sqlite.last_run()
    assert sorted(pg.index_queue()) == sorted(sqlite.index_queue())
    sqlite.close()
    pg.close()


def test_new_rows_after_a_migration_get_new_ids(busy_archive: Path, pg_url: str) -> None:
    assert run_cli(busy_archive, "store", "migrate", "--to", pg_url)[0] == 0
    pg = open_store(StoreSpec("postgresql", url=pg_url))
    raw = RawPage(url="https://news.example.org/new.html", final_url="https://news.example.org/new.html", status=200,
                  headers=(), body=b"<p>new</p>", fetched_at=datetime(2024, 6, 1, tzinfo=UTC))  # fmt: skip
    row = pg.record_capture(raw, WarcLocation("b.warc.gz", 0, 10, 20))
    assert row.id == 7  # six captures were copied
    pg.record_source_run("news", datetime(2024, 6, 1, tzinfo=UTC), 1, 0, 0)
    assert pg.source_history("news", 5)[0] == (1, 0, 0)
    pg.close()


def test_a_target_holding_rows_is_refused_unless_forced(busy_archive: Path, tour: Path, pg_url: str) -> None:
    assert run_cli(tour, "store", "migrate", "--to", pg_url)[0] == 0
    code, _, err = run_cli(busy_archive, "store", "migrate", "--to", pg_url)
    assert code == 2 and "the target store is not empty" in err and "--force" in err
    assert export_jsonl_with(tour, pg_url) == export_jsonl(tour)  # untouched
    code, _, err = run_cli(busy_archive, "store", "migrate", "--to", pg_url, "--force")
    assert code == 0, err
    assert export_jsonl_with(busy_archive, pg_url) == export_jsonl(busy_archive)


def test_migrating_a_store_onto_itself_is_refused(tour: Path) -> None:
    code, _, err = run_cli(tour, "store", "migrate", "--to", f"sqlite:{tour / 'store.sqlite'}")
    assert code == 2 and "own store" in err


def test_a_target_file_that_is_not_a_sqlite_database_is_a_usage_error_and_kept(tour: Path, tmp_path: Path) -> None:
    """Not "the article store is damaged; restore it from a backup" (the archive's own store's message)."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for force in ((), ("--force",)):
        code, _, err = run_cli(tour, "store", "migrate", "--to", f"sqlite:{notes}", *force)
        assert code == 2 and "is not a SQLite database" in err and "backup" not in err
    assert notes.read_text() == "my notes\n"
    empty = tmp_path / "empty.sqlite"
    empty.touch()  # an empty file is a new database
    code, _, err = run_cli(tour, "store", "migrate", "--to", f"sqlite:{empty}")
    assert code == 0, err


def test_a_sqlite_copy_needs_no_server_and_refuses_a_second_time(tour: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    code, out, err = run_cli(tour, "store", "migrate", "--to", f"sqlite:{copy}", "--json")
    assert code == 0, err
    assert _dump(copy) == _dump(tour / "store.sqlite")
    import json

    # the rows inserted, not what the store's triggers wrote beside them (the per-day counts of each article)
    assert json.loads(out)["rows"]["articles"] == len(export_jsonl(tour))
    code, _, err = run_cli(tour, "store", "migrate", "--to", f"sqlite:{copy}")
    assert code == 2 and "not empty" in err


def test_migrate_to_an_unreachable_server_is_exit_2(tour: Path) -> None:
    code, _, err = run_cli(tour, "store", "migrate", "--to", "postgresql://u:hunter2@127.0.0.1:9/news")
    assert code == 2 and "cannot connect" in err and "hunter2" not in err
    assert "store migrate --to" in err and "NEWSARCHIVE_STORE" not in err  # the hint names where the URL came from


def test_migrate_is_refused_while_another_run_writes_the_archive(busy_archive: Path, tmp_path: Path) -> None:
    from newsarchive.runlock import RunLock

    with RunLock(busy_archive / "lock"):
        code, _, _ = run_cli(busy_archive, "store", "migrate", "--to", f"sqlite:{tmp_path / 'copy.sqlite'}")
    assert code == 75
    assert not (tmp_path / "copy.sqlite").exists()


def test_migrate_to_a_database_the_user_may_not_create_tables_in_is_exit_2(tour: Path, pg_url: str) -> None:
    import os

    import psycopg

    role = f"weak_{os.getpid()}_{pg_url.rsplit('/', 1)[1]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # as PostgreSQL 15 and later have it
    code, _, err = run_cli(tour, "store", "migrate", "--to", pg_url.replace("postgres@", f"{role}@", 1))
    assert code == 2, err
    assert "permission denied for schema public" in err and "GRANT CREATE ON SCHEMA" in err


def test_migrating_a_postgres_store_onto_itself_under_another_spelling_is_refused(tour: Path, pg_url: str) -> None:
    """localhost for 127.0.0.1: with --force the target's TRUNCATE waited forever for the source's reads
    of the same tables, every worker of the store held behind it."""
    assert run_cli(tour, "store", "migrate", "--to", pg_url)[0] == 0
    other_spelling = pg_url.replace("@127.0.0.1:", "@localhost:", 1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PGOPTIONS", "-c lock_timeout=5000")  # the old hang ends as an error instead
        code, _, err = run_cli(tour, "--store", pg_url, "store", "migrate", "--to", other_spelling, "--force")
    assert code == 2 and "own store" in err
    assert export_jsonl_with(tour, pg_url) == export_jsonl(tour)
