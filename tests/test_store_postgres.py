"""The PostgreSQL article store holds to the SQLite store's behaviour; --store chooses it; errors are one line.

Tests that need a server use the ``pg_url`` fixture (a fresh database on the session's throwaway cluster)
and are skipped, with a message saying how to run them, on a machine without PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, TOUR, export_jsonl, run_cli

from newsarchive.archive.rawpage import RawPage
from newsarchive.archive.warc import WarcLocation
from newsarchive.article import Article, ParserInfo
from newsarchive.errors import ArchiveError, UsageError
from newsarchive.store.articles import ArticleStore
from newsarchive.store.backend import StoreSpec, mask_url, open_store, parse_store_spec

# --- one store, either backend -------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], ArticleStore]]:
    """Opens the parametrized backend's store (a new one per test); closes what it opened."""
    opened: list[ArticleStore] = []
    if request.param == "sqlite":
        spec = StoreSpec("sqlite", path=tmp_path / "s.sqlite")
    else:
        spec = StoreSpec("postgresql", url=request.getfixturevalue("pg_url"))

    def make() -> ArticleStore:
        store = open_store(spec)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _article(body: str = "Body text.", url: str = "https://example.com/a?utm=1", **fields: Any) -> Article:
    values: dict[str, Any] = {
        "canonical_url": "https://example.com/a",
        "headline": "Headline",
        "published": datetime(2023, 2, 16, 6, 35, tzinfo=UTC),
        **fields,
    }
    return Article(url=url, body=body, **values)


def _raw(url: str, when: datetime, body: bytes = b"<html>page</html>") -> RawPage:
    return RawPage(url=url, final_url=url, status=200, headers=(("Content-Type", "text/html"),), body=body,
                   fetched_at=when)  # fmt: skip


def test_same_canonical_url_is_one_article(make_store: Callable[[], ArticleStore]) -> None:
    store = make_store()
    assert store.upsert(_article()) == "new"
    assert store.upsert(_article(url="https://example.com/a?ref=home")) == "unchanged"
    assert store.count() == 1


def test_changed_article_keeps_its_previous_versions_in_order(make_store: Callable[[], ArticleStore]) -> None:
    store = make_store()
    for body in ("First version.", "Second version.", "Third version."):
        store.upsert(_article(body))
    current = store.get("https://example.com/a")
    assert current is not None and current.body == "Third version."
    assert [v.body for v in store.versions(current.id)] == ["First version.", "Second version."]


def test_new_and_updated_articles_are_queued_for_indexing_once(make_store: Callable[[], ArticleStore]) -> None:
    store = make_store()
    store.upsert(_article("One."))
    store.upsert(_article("Two."))
    ids = store.index_queue()
    assert ids == [_article().id]
    store.index_done(ids)
    assert store.index_queue() == []


def test_a_files_committed_size_never_goes_back(make_store: Callable[[], ArticleStore]) -> None:
    """A capture recorded with a size read earlier (store rebuild importing a file a worker still appends
    to) must not lower the file's committed size: the next settle cuts the file back to it, and the
    records the store points at past it would be gone."""
    store = make_store()
    when = datetime(2024, 1, 1, tzinfo=UTC)
    store.record_capture(_raw("https://example.com/2", when), WarcLocation("w.warc.gz", 1000, 1000, 2000))
    store.record_capture(_raw("https://example.com/1", when), WarcLocation("w.warc.gz", 0, 1000, 1000))
    assert store.committed_warc_sizes() == {"w.warc.gz": 2000}


def test_a_failed_transaction_changes_nothing(make_store: Callable[[], ArticleStore]) -> None:
    store = make_store()
    store.upsert(_article("First version."))
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert(_article("Second version."))
        store.set_meta("k", "v")
        raise RuntimeError("killed halfway")
    current = store.get("https://example.com/a")
    assert current is not None and current.body == "First version."
    assert store.versions(current.id) == [] and store.get_meta("k") is None


def test_the_store_reopens_with_its_rows_and_its_schema_version(make_store: Callable[[], ArticleStore]) -> None:
    store = make_store()
    store.upsert(_article())
    store.close()
    again = make_store()
    assert again.count() == 1
    assert again.get_meta("schema_version") == "1"


def _fill(store: ArticleStore) -> dict[str, Any]:
    """Write one of everything; return what each read method gives (the store's observable behaviour)."""
    t0 = datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)
    caps = []
    for i, url in enumerate(
        ["https://a.example/1", "https://a.example/2", "https://b.example/x", "https://a.example/1"]
    ):
        caps.append(
            store.record_capture(
                _raw(url, t0.replace(minute=i)), WarcLocation("w-0.warc.gz", 100 * i, 90, 100 * i + 95)
            )
        )
    parser = ParserInfo(name="generic", version="3")
    arts = [
        _article("Alpha body.", url="https://a.example/1", canonical_url="https://a.example/1", site="a.example",
                 lang="en-GB", tags=("Grain", "grain ", "Ports"), parser=parser, fetched_at=t0),
        _article("Beta body.", url="https://a.example/2", canonical_url="https://a.example/2", site="a.example",
                 lang="es", published=None, tags=("Ports",), fetched_at=t0),
        _article("Gamma body.", url="https://b.example/x", canonical_url="https://b.example/x", site="b.example",
                 lang=None, published=datetime(2022, 12, 31, 23, 0, tzinfo=UTC), fetched_at=t0),
        _article("Alpha corrected.", url="https://a.example/1", canonical_url="https://a.example/1", site="a.example",
                 lang="en-GB", tags=("Grain",), parser=parser, fetched_at=t0.replace(hour=13)),
    ]  # fmt: skip
    outcomes = [store.upsert(a, capture_id=c.id) for a, c in zip(arts, caps, strict=True)]
    store.record_verdict(caps[1].id, caps[1].url, "generic/3", "a listing page")
    store.record_verdict(caps[1].id, caps[1].url, "generic/4", "still a listing page")
    store.record_source_run("src", t0, 10, 1, 2)
    store.record_source_run("src", t0.replace(hour=14), 0, 0, 0)
    store.record_source_run("src", t0.replace(hour=15), 7, 0, 1)
    store.set_meta("k", "v1")
    store.set_meta("k", "v2")
    a_id = arts[0].id
    by = {"date_from": datetime(2023, 1, 1, tzinfo=UTC), "date_to": datetime(2025, 1, 1, tzinfo=UTC)}
    return {
        "outcomes": outcomes,
        "capture_ids": [c.id for c in caps],
        "captures": [store.capture(c.id) for c in caps],
        "latest": store.latest_capture("https://a.example/1"),
        "iter_captures": list(store.iter_captures()),
        "capture_at": store.capture_at("w-0.warc.gz", 100),
        "capture_at_none": store.capture_at("w-0.warc.gz", 1),
        "warc_sizes": store.committed_warc_sizes(),
        "verdict": store.verdict(caps[1].id),
        "parsed_by": [store.parsed_by(c.id) for c in caps],
        "agrees": store.canonical_agrees("https://a.example/1", arts[3].content_digest()),
        "disagrees": store.canonical_agrees("https://a.example/1", arts[0].content_digest()),
        "history": store.source_history("src", 5),
        "has_digest": store.has_digest(caps[0].digest, "https://a.example/1"),
        "get": [store.get(k) for k in (a_id, "https://a.example/1", "https://b.example/x", "nope")],
        "get_many": store.get_many([a_id, "missing"]),
        "versions": store.versions(a_id),
        "iter_published": list(store.iter_articles()),
        "iter_id": list(store.iter_articles(order="id")),
        "count": (store.count(), store.capture_count()),
        "capture_for": store.capture_for_article(a_id),
        "meta": store.get_meta("k"),
        "stats": [store.stats_by(c) for c in ("site", "lang", "month")],
        "list_newest": store.list_by_date(),
        "list_oldest": store.list_by_date(newest=False, limit=2, offset=1),
        "list_range": store.list_by_date(**by, sites=("a.example",), langs=("en",)),
        "list_hits": [
            store.list_hits_by_date(),
            store.list_hits_by_date(newest=False, limit=2, offset=1),
            store.list_hits_by_date(**by, sites=("a.example",), langs=("en",)),
        ],
        "facets": store.facet_counts(),
        "facets_range": store.facet_counts(**by),
        "where": [a.id for a in store.iter_articles_where(langs=("es", "en"), newest=False)],
        "sites": store.sites(),
        "fetched_for": store.sites_fetched_for("src"),
        "last_changed": store.last_changed(),
        "last_run": store.last_run(),
        "queue": sorted(store.index_queue()),
    }


def test_both_stores_give_the_same_results_for_the_same_writes(tmp_path: Path, pg_url: str) -> None:
    sqlite = open_store(StoreSpec("sqlite", path=tmp_path / "s.sqlite"))
    pg = open_store(StoreSpec("postgresql", url=pg_url))
    try:
        expected, got = _fill(sqlite), _fill(pg)
    finally:
        sqlite.close()
        pg.close()
    assert expected["outcomes"] == ["new", "new", "new", "updated"]
    assert expected["list_newest"][0] == 3 and expected["versions"]  # the scenario covers what it should
    for key, value in expected.items():
        assert got[key] == value, key


def _retire(store: ArticleStore, *, successor: bool) -> dict[str, Any]:
    """A page P whose old article OLD (with an earlier parse of P, and an older page Q's text, in its history) now
    gives NEW as well (a reparse that stored NEW); then OLD retired, into NEW's history, or replaced by Q's article."""
    t0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    page, other, old, new = (
        "https://a.example/p",
        "https://a.example/q",
        "https://a.example/old",
        "https://a.example/new",
    )
    p1, q, p2, doc = (
        store.record_capture(_raw(url, t0.replace(hour=h)), WarcLocation("w.warc.gz", 100 * i, 90, 100 * i + 95))
        for i, (url, h) in enumerate([(page, 10), (other, 11), (page, 12), ("https://a.example/feed", 13)])
    )
    store.upsert(_article("P, first parse.", url=page, canonical_url=old, fetched_at=p1.fetched_at), capture_id=p1.id)
    store.upsert(_article("P, second parse.", url=page, canonical_url=old, fetched_at=p2.fetched_at), capture_id=p2.id)
    q_article = _article("Q's text.", url=other, canonical_url=old, fetched_at=q.fetched_at)
    assert store.upsert(q_article, capture_id=q.id) == "updated"  # older than P's: in the history
    store.upsert(_article("P, new parse.", url=page, canonical_url=new, fetched_at=p2.fetched_at), capture_id=p2.id)
    old_id, new_id = _article(canonical_url=old).id, _article(canonical_url=new).id
    store.clear_index_queue()
    before = (store.articles_of_capture(p2.id), store.shared_captures(), list(store.pages_without_result()))
    refused = store.retire(old_id, capture_id=p1.id, history_to=new_id)
    done = store.retire(old_id, capture_id=p2.id, history_to=new_id, successor=(q.id, q_article) if successor else None)
    return {
        "before": before,
        "refused": refused,
        "done": done,
        "again": store.retire(old_id, capture_id=p2.id, history_to=new_id),
        "after": (store.articles_of_capture(p2.id), store.shared_captures(), list(store.pages_without_result())),
        "articles": sorted((a.canonical_url, a.body) for a in store.iter_articles()),
        "new_history": [(v.canonical_url, v.body) for v in store.versions(new_id)],
        "old_history": [(v.canonical_url, v.body) for v in store.versions(old_id)],
        "queue": sorted(store.index_queue()),
        "doc": doc.id,
    }


@pytest.mark.parametrize("successor", [False, True])
def test_retire_takes_an_article_away_with_its_history_the_same_on_both_stores(
    tmp_path: Path, pg_url: str, successor: bool
) -> None:
    sqlite = open_store(StoreSpec("sqlite", path=tmp_path / "s.sqlite"))
    pg = open_store(StoreSpec("postgresql", url=pg_url))
    try:
        expected, got = _retire(sqlite, successor=successor), _retire(pg, successor=successor)
    finally:
        sqlite.close()
        pg.close()
    assert got == expected
    old, new = "https://a.example/old", "https://a.example/new"
    (holders, shared, without) = expected["before"]
    assert [i for i, _ in holders] == sorted([_article(canonical_url=old).id, _article(canonical_url=new).id])
    assert len(shared) == 1 and [r.final_url for r in without] == ["https://a.example/q", "https://a.example/feed"]
    assert (expected["refused"], expected["done"], expected["again"]) == (False, True, False)
    assert expected["queue"] == [_article(canonical_url=old).id]  # the index drops it (or takes Q's article)
    if successor:  # Q's article in OLD's place; P's parses go with P to NEW
        assert expected["articles"] == [(new, "P, new parse."), (old, "Q's text.")]
        assert expected["new_history"] == [(old, "P, first parse."), (old, "P, second parse.")]
        assert expected["old_history"] == []
    else:  # OLD's text and all its history go to NEW's history, in order
        assert expected["articles"] == [(new, "P, new parse.")]
        assert expected["new_history"] == [(old, "P, first parse."), (old, "Q's text."), (old, "P, second parse.")]
        assert expected["old_history"] == []


def test_listing_order_puts_undated_articles_last_newest_first_and_first_oldest_first(pg_url: str) -> None:
    store = open_store(StoreSpec("postgresql", url=pg_url))
    dated = _article("Dated.", url="https://x.example/d", canonical_url="https://x.example/d")
    undated = _article("Undated.", url="https://x.example/u", canonical_url="https://x.example/u", published=None)
    store.upsert(dated)
    store.upsert(undated)
    assert store.list_by_date()[1] == [dated.id, undated.id]
    assert store.list_by_date(newest=False)[1] == [undated.id, dated.id]
    store.close()


def test_streamed_articles_leave_the_connection_free_for_writes(pg_url: str) -> None:
    store = open_store(StoreSpec("postgresql", url=pg_url))
    for i in range(700):  # more than one batch (500) of the server-side cursor
        store.upsert(_article(f"Body {i}.", url=f"https://x.example/{i}", canonical_url=f"https://x.example/{i}"))
    seen = 0
    for article in store.iter_articles(order="id"):
        seen += 1
        store.set_meta("last", article.id)  # a write between two batches, as reparse does
        if seen == 1:  # no held cursor: the server did not copy every article before sending the first
            assert store.conn.execute("SELECT count(*) FROM pg_cursors WHERE is_holdable").fetchone()[0] == 0  # type: ignore[attr-defined]
    assert seen == 700 and store.count() == 700
    store.close()


def test_the_connection_and_transaction_are_shared_with_other_tables(pg_url: str) -> None:
    """The PostgreSQL frontier builds on store.conn: its rows commit or roll back with the article."""
    store = open_store(StoreSpec("postgresql", url=pg_url))
    conn = store.conn  # type: ignore[attr-defined]
    conn.execute("CREATE TABLE crawl_state (url TEXT PRIMARY KEY)")
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert(_article())
        conn.execute("INSERT INTO crawl_state VALUES ('https://example.com/a')")
        raise RuntimeError("killed")
    assert store.count() == 0
    assert conn.execute("SELECT COUNT(*) FROM crawl_state").fetchone()[0] == 0
    store.close()


def test_a_read_only_store_writes_nothing_and_says_so(pg_url: str) -> None:
    open_store(StoreSpec("postgresql", url=pg_url)).close()
    reader = open_store(StoreSpec("postgresql", url=pg_url), read_only=True)
    with pytest.raises(ArchiveError, match="read-only"):
        reader.set_meta("k", "v")
    reader.close()


def test_an_empty_database_is_no_archive_for_reading_commands(pg_url: str, tmp_path: Path) -> None:
    code, _, err = run_cli(tmp_path / "a", "--store", pg_url, "export", "--jsonl")
    assert code == 2
    assert "no archive in the store" in err and "store migrate" in err


# --- choosing the store ---------------------------------------------------------------------


def test_store_settings_are_checked_and_their_password_never_shown() -> None:
    assert parse_store_spec("sqlite:/srv/s.sqlite") == StoreSpec("sqlite", path=Path("/srv/s.sqlite"))
    assert parse_store_spec("sqlite:///srv/s.sqlite").path == Path("/srv/s.sqlite")
    assert parse_store_spec("postgres://u@h/db").is_postgres
    for bad in ("mysql://u:hunter2@h/db", "postgresql://u:hunter2@h:port/db", "postgresql://u:hunter2@h/", "sqlite:"):
        with pytest.raises(UsageError) as info:
            parse_store_spec(bad)
        assert "hunter2" not in info.value.message
    assert mask_url("postgresql://u:hunter2@h:5/db?sslmode=require&password=x2") == (
        "postgresql://u:***@h:5/db?sslmode=require&password=***"
    )


def test_an_unreachable_server_is_one_line_exit_2_with_the_password_masked(tmp_path: Path) -> None:
    url = "postgresql://news:hunter2@127.0.0.1:9/news"
    for args in (("--store", url, "stats"), ("stats", "--store", url), ("export", "--jsonl", "--store", url)):
        code, out, err = run_cli(tmp_path / "a", *args)
        assert code == 2, err
        assert "cannot connect to the store postgresql://news:***@127.0.0.1:9/news" in err
        assert "hunter2" not in err + out
        assert "Hint:" in err and len(err.strip().splitlines()) == 2


def test_the_environment_variable_chooses_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSARCHIVE_STORE", "postgresql://u:hunter2@127.0.0.1:9/x")
    code, _, err = run_cli(tmp_path / "a", "stats")
    assert code == 2 and "cannot connect to the store postgresql://u:***@127.0.0.1:9/x" in err


def test_a_bad_store_in_sources_toml_names_its_line(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_text('[settings]\ndelay = 1.0\nstore = "mysql://u:hunter2@h/db"\n')
    code, _, err = run_cli(archive, "stats")
    assert code == 2
    assert "sources.toml: line 3: [settings] store" in err and "not a store URL" in err
    assert "hunter2" not in err


def test_sqlite_path_setting_in_sources_toml_is_used(tmp_path: Path, tour: Path) -> None:
    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_text(f'[settings]\nstore = "sqlite:{tour / "store.sqlite"}"\n')
    assert export_jsonl(archive) == export_jsonl(tour)
    code, out, _ = run_cli(archive, "stats")
    assert code == 0 and f"store: {tour / 'store.sqlite'} (sqlite)" in out


def test_missing_psycopg_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    code, _, err = run_cli(tmp_path / "a", "--store", "postgresql://u@127.0.0.1/x", "stats")
    assert code == 2
    assert "needs psycopg" in err and "newsarchive[postgres]" in err


def test_reading_commands_on_sqlite_never_load_psycopg(tour: Path) -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom newsarchive.cli import cli\n"
        f"r = CliRunner().invoke(cli, ['--archive', {str(tour)!r}, 'stats'])\n"
        "assert r.exit_code == 0, r.output\nprint('psycopg' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "False"


# --- the commands on a PostgreSQL store -------------------------------------------------------


@pytest.fixture
def tour_on_pg(tour: Path, pg_url: str) -> str:
    code, _, err = run_cli(tour, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    return pg_url


def test_reading_commands_answer_the_same_on_either_store(tour: Path, tour_on_pg: str) -> None:
    first = export_jsonl(tour)
    for args in (
        ("search", "grain"),
        ("search", "--from", "2023", "--sort", "oldest", "--json"),
        ("search", "--site", "news.example.com", "--json"),
        ("search", "--lang", "en", "--facets", "--json"),
        ("export", "--jsonl"),
        ("export", "--jsonl", "--to", "2023-12"),
        ("show", str(first[0]["id"]), "--json"),
        ("show", str(first[0]["url"])),
    ):
        on_sqlite = run_cli(tour, *args)
        on_pg = run_cli(tour, "--store", tour_on_pg, *args)
        assert on_sqlite[0] == 0, (args, on_sqlite[2])
        assert on_pg[:2] == on_sqlite[:2], args


def test_stats_names_the_store_in_use(tour: Path, tour_on_pg: str) -> None:
    code, out, _ = run_cli(tour, "--store", tour_on_pg, "stats", "--json")
    data = json.loads(out)
    assert code == 0 and data["store"] == {"kind": "postgresql", "location": tour_on_pg}
    on_sqlite = json.loads(run_cli(tour, "stats", "--json")[1])
    assert on_sqlite["store"] == {"kind": "sqlite", "location": str(tour / "store.sqlite")}
    for key in ("articles", "captures", "by_site", "by_lang", "by_month", "last_change", "last_ingest"):
        assert data[key] == on_sqlite[key], key


def test_ingest_on_postgres_without_its_frontier_is_a_clear_error(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "newsarchive.store.pg_frontier", None)  # as on a newsarchive without it
    code, _, err = run_cli(tmp_path / "a", "--store", pg_url, "import-warc", str(TOUR))
    assert code == 1 and "no crawl frontier for a PostgreSQL store" in err


class _FeedMetadataOnly:
    """Stands in for store/pg_frontier.PgFrontier where this tree lacks it: import-warc and reparse ask the
    frontier for feed metadata only (a dict here; the store under test is the real PostgreSQL one)."""

    def __init__(self, conn: object) -> None:
        self.kept: dict[str, str] = {}

    def save_feed_metadata(self, key: str, data: str) -> None:
        self.kept[key] = data

    def feed_metadata(self, key: str) -> str | None:
        return self.kept.get(key)


@pytest.fixture
def pg_frontier(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        import newsarchive.store.pg_frontier  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        import types

        module = types.ModuleType("newsarchive.store.pg_frontier")
        module.PgFrontier = _FeedMetadataOnly  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "newsarchive.store.pg_frontier", module)


@pytest.mark.usefixtures("pg_frontier")
def test_writing_commands_on_a_postgres_store_store_the_same(tmp_path: Path, pg_url: str) -> None:
    """import-warc, reparse (--changed, --diff), show --raw and store rebuild give what they give on SQLite."""
    on_sqlite, on_pg = tmp_path / "s", tmp_path / "p"
    for archive, store in ((on_sqlite, ()), (on_pg, ("--store", pg_url))):
        code, _, err = run_cli(archive, *store, "import-warc", str(TOUR), "--json")
        assert code == 0, err
    assert json.loads(run_cli(on_pg, "--store", pg_url, "import-warc", str(TOUR), "--json")[1])["unchanged"] == 4
    assert _placeless(export_jsonl_with(on_pg, pg_url)) == _placeless(export_jsonl(on_sqlite))
    for args in (("reparse", "--json"), ("reparse", "--changed", "--json"), ("reparse", "--diff", "--json")):
        expected = run_cli(on_sqlite, *args)
        assert expected[0] == 0, expected[2]
        assert run_cli(on_pg, "--store", pg_url, *args)[:2] == expected[:2], args
    first = export_jsonl(on_sqlite)[0]["id"]
    raw = run_cli(on_pg, "--store", pg_url, "show", str(first), "--raw")
    assert raw[0] == 0 and raw[1] == run_cli(on_sqlite, "show", str(first), "--raw")[1] and "<html" in raw[1].lower()
    assert run_cli(on_pg, "--store", pg_url, "store", "rebuild", "--json")[0] == 0
    assert _placeless(export_jsonl_with(on_pg, pg_url)) == _placeless(export_jsonl(on_sqlite))
    assert run_cli(on_pg, "--store", pg_url, "search", "grain")[1] == run_cli(on_sqlite, "search", "grain")[1]


def _placeless(articles: list[Any]) -> list[Any]:
    """Articles without their record's offset and length: two archives' WARC records of one page differ in
    compressed size (each has its own WARC-Record-ID), whatever the store; nor their file's writer token
    (each writer draws its own: archive/warc.py)."""
    import re

    for article in articles:
        article["capture"] = {k: v for k, v in article["capture"].items() if k not in ("offset", "length")}
        article["capture"]["warc"] = re.sub(r"-[a-z][a-z0-9]{5}(\.warc\.gz)$", r"\1", article["capture"]["warc"])
    return articles


def export_jsonl_with(archive: Path, store: str) -> list[Any]:
    code, out, err = run_cli(archive, "--store", store, "export", "--jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_reindex_from_a_postgres_store_gives_the_same_hits(
    tour: Path, tour_on_pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.setenv("NEWSARCHIVE_SEARCH", "whoosh")  # a local Whoosh index (PostgreSQL search: test_search_postgres)

    archive = tmp_path / "copy"
    shutil.copytree(tour, archive)
    shutil.rmtree(archive / "index")
    code, _, err = run_cli(archive, "--store", tour_on_pg, "reindex")
    assert code == 0, err
    for query in ("grain", "crimea OR russia", "--sort newest"):
        args = ("search", *query.split(), "--json") if query.startswith("-") else ("search", query, "--json")
        assert run_cli(archive, "--store", tour_on_pg, *args)[:2] == run_cli(tour, *args)[:2], query


def test_workers_storing_one_article_at_once_make_one_article_with_its_versions(pg_url: str) -> None:
    """Two machines parse the same story at once: no unique-key failure, one article, no version lost."""
    import threading

    open_store(StoreSpec("postgresql", url=pg_url)).close()
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        store = open_store(StoreSpec("postgresql", url=pg_url))
        try:
            for i in range(20):
                store.upsert(_article(f"Worker {worker} edit {i}."))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    store = open_store(StoreSpec("postgresql", url=pg_url))
    current = store.get("https://example.com/a")
    assert store.count() == 1 and current is not None
    assert len(store.versions(current.id)) == 59  # 60 different texts: every one but the last is a version
    store.close()


def test_sources_add_and_remove_keep_the_store_setting(tmp_path: Path) -> None:
    from newsarchive.sources import load_config, save_sources

    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_text('[settings]\nstore = "postgresql://news@db.example.org/news"\n')
    config = load_config(archive)
    save_sources(archive / "sources.toml", config.settings, config.sources)  # what sources add/remove do
    assert load_config(archive).settings.store == "postgresql://news@db.example.org/news"


def test_opening_the_store_does_not_wait_for_a_worker_writing_articles(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker starting while another is mid-transaction: no DDL lock taken (it deadlocked the two before)."""
    writer = open_store(StoreSpec("postgresql", url=pg_url))
    writer.upsert(_article("First."))
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=3000")  # a lock wait fails instead of hanging the test
    with writer.transaction():
        writer.upsert(_article("Second."))  # holds its row locks on articles and article_versions
        other = open_store(StoreSpec("postgresql", url=pg_url))
        assert other.count() == 1
        other.close()
    writer.close()


def test_a_server_lost_mid_command_is_one_clear_error(pg_url: str) -> None:
    import psycopg

    store = open_store(StoreSpec("postgresql", url=pg_url))
    store.upsert(_article())
    pid = store.conn.info.backend_pid  # type: ignore[attr-defined]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(ArchiveError, match="the last change was not saved") as info:
        store.upsert(_article("Changed."))
    assert info.value.hint and "PostgreSQL server" in info.value.hint
    with pytest.raises(ArchiveError):
        store.count()
    store.close()


def _role(pg_url: str, name: str) -> str:
    """A login role without rights on the database's tables (roles are per cluster: the name is unique)."""
    import os

    import psycopg

    role = f"{name}_{os.getpid()}_{pg_url.rsplit('/', 1)[1]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    return pg_url.replace("postgres@", f"{role}@", 1)


def test_a_user_without_rights_on_the_tables_is_told_what_to_grant(tour: Path, tour_on_pg: str) -> None:
    weak = _role(tour_on_pg, "reader")
    for args in (("stats",), ("export", "--jsonl")):
        code, _, err = run_cli(tour, "--store", weak, *args)
        assert code == 2, (args, err)
        assert "permission denied" in err and "GRANT" in err, args


def test_a_worker_without_the_right_to_add_an_index_still_opens_a_store_made_before_it(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import psycopg

    open_store(StoreSpec("postgresql", url=pg_url)).close()
    worker = _role(pg_url, "worker")
    role = worker.split("//", 1)[1].split("@", 1)[0]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("DROP INDEX articles_newest")  # a store made before the index
        admin.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
    store = open_store(StoreSpec("postgresql", url=worker))
    row = store.record_capture(_raw("https://example.com/a", datetime(2024, 1, 1, tzinfo=UTC)),
                               WarcLocation("w.warc.gz", 0, 10, 10))  # fmt: skip
    assert store.upsert(_article(), capture_id=row.id) == "new"
    store.close()
    assert "index not added" in caplog.text


def test_listings_newest_first_read_the_date_index_instead_of_sorting_every_article(pg_url: str) -> None:
    """search without terms (newest first, 20 a page) and export read articles in _by_date's order: at a million
    articles the plan was a sort of the whole table for each page; the index gives the order."""
    from newsarchive.store.pg import _by_date

    store = open_store(StoreSpec("postgresql", url=pg_url))
    conn = store.conn  # type: ignore[attr-defined]
    conn.execute("DROP INDEX IF EXISTS articles_newest")  # a store made before the index: opening adds it
    store.close()
    store = open_store(StoreSpec("postgresql", url=pg_url))
    conn = store.conn  # type: ignore[attr-defined]
    conn.execute("SET enable_sort = off")  # a tiny table: make the planner say whether it could do without
    newest = conn.execute(f"EXPLAIN SELECT id FROM articles ORDER BY {_by_date(True)}, id LIMIT 20").fetchall()
    plan = "\n".join(r[0] for r in newest)
    assert "articles_newest" in plan and "Sort" not in plan, plan
    year = conn.execute(
        f"EXPLAIN SELECT id FROM articles WHERE published_utc >= '2024' AND published_utc <= '2025'"
        f" ORDER BY {_by_date(True)}, id LIMIT 20"
    ).fetchall()
    assert "Sort" not in "\n".join(r[0] for r in year)
    store.close()


def test_an_article_changed_by_another_worker_while_it_was_indexed_stays_queued(pg_url: str) -> None:
    """The indexer reads the queue and the articles, another worker changes one of them (queuing it again),
    then the indexer takes what it read off the queue: the change was taken off with it, and the search
    index kept the version before for good."""
    indexer = open_store(StoreSpec("postgresql", url=pg_url))
    worker = open_store(StoreSpec("postgresql", url=pg_url))
    indexer.upsert(_article("First version."))
    other = _article("Another.", url="https://example.com/b", canonical_url="https://example.com/b")
    indexer.upsert(other)
    ids = indexer.index_queue()
    indexed = indexer.get_many(ids)
    assert worker.upsert(_article("Second version.")) == "updated"
    indexer.index_done(ids)
    changed = next(i for i, a in indexed.items() if a.body == "First version.")
    assert indexer.index_queue() == [changed]  # indexed again by the next sync
    indexer.index_done([changed])
    assert indexer.index_queue() == []
    indexer.close()
    worker.close()


def test_a_new_article_inserted_by_another_worker_not_yet_committed_is_then_found_unchanged(pg_url: str) -> None:
    """A new article takes one statement (no lock, no look-up): a second worker storing the same story before
    the first commits waits for it, then finds the article there, the same, instead of failing or adding one."""
    import threading

    first = open_store(StoreSpec("postgresql", url=pg_url))
    second = open_store(StoreSpec("postgresql", url=pg_url))
    outcomes: list[str] = []
    with first.transaction():
        assert first.upsert(_article()) == "new"
        waiting = threading.Thread(target=lambda: outcomes.append(second.upsert(_article())))
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # held by the first worker's uncommitted row
    waiting.join()
    assert outcomes == ["unchanged"]
    assert first.count() == 1 and len(first.index_queue()) == 1
    first.close()
    second.close()


def test_a_new_page_in_one_transaction_takes_two_statements_and_keeps_its_verdict_rules(pg_url: str) -> None:
    """The capture and its new article: one statement each (the capture, new in this transaction, has no
    verdict to delete); a verdict given in the same transaction, or to an older capture, is still cleared."""
    from newsarchive.store import pg

    store = open_store(StoreSpec("postgresql", url=pg_url))
    assert isinstance(store, pg.PgArticleStore)
    loc = WarcLocation("a.warc.gz", 0, 100, 100)
    older = store.record_capture(_raw("https://example.com/old", datetime(2024, 1, 1, tzinfo=UTC)), loc)
    store.record_verdict(older.id, "https://example.com/old", "generic/1", "a list page")
    sent: list[str] = []
    real = store._q

    def counting(sql: str, params: Any = None) -> Any:
        sent.append(sql)
        return real(sql, params)

    store._q = counting  # type: ignore[method-assign]
    with store.transaction():
        row = store.record_capture(_raw("https://example.com/a", datetime(2024, 1, 2, tzinfo=UTC)), loc)
        store.clear_verdict(row.id)
        assert store.upsert(_article(), capture_id=row.id) == "new"
    assert len(sent) == 2
    with store.transaction():
        row = store.record_capture(_raw("https://example.com/b", datetime(2024, 1, 3, tzinfo=UTC)), loc)
        store.record_verdict(row.id, "https://example.com/b", "generic/1", "no text")
        store.clear_verdict(row.id)
        store.clear_verdict(older.id)
    assert store.verdict(row.id) is None and store.verdict(older.id) is None
    store.close()
