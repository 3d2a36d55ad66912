"""Captures imported out of date order: the newest capture stays the current article, older ones fill its
history in date order, first_seen and last_changed follow the captures' dates, on both stores."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_cli
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsarchive.article import Article
from newsarchive.store.backend import StoreSpec, open_store

URL = "https://news.example.com/2024/harbour-plan"
#: One word of each version's body that no other version says (what the search index must not hold of it).
WORDS = {0: "anchovy", 1: "barnacle", 2: "cormorant", 3: "dolphin"}
DATES = {0: "2023-12-01T00:00:00Z", 1: "2024-01-01T00:00:00Z", 2: "2024-02-01T00:00:00Z", 3: "2024-03-01T00:00:00Z"}


def page(version: int, *, padding: str = "") -> bytes:
    """The article as it read in ``version``; ``padding`` changes the bytes, not the article."""
    text = f"The harbour authority revised its plan, edition {WORDS[version]}, after the storm damaged the piers. " * 6
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Version {version} headline</title>"
        f"<link rel='canonical' href='{URL}'>"
        "<meta property='article:published_time' content='2023-11-20T08:00:00Z'></head><body><article>"
        f"<h1>Version {version} headline</h1><p>{text}</p></article>{padding}</body></html>"
    ).encode()


def write_warc(path: Path, captures: list[tuple[int, str, str]], *, url: str = URL) -> Path:
    """A WARC file of responses for ``url`` (pages whose canonical URL is URL), in the order given: (version,
    WARC-Date, padding)."""
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for version, date, padding in captures:
            body = page(version, padding=padding)
            http = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )  # fmt: skip
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict={"WARC-Date": date}
            )
            writer.write_record(record)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store_args(request: pytest.FixtureRequest) -> Iterator[tuple[str, ...]]:
    """The CLI's store option for the parametrized backend (none: the archive's store.sqlite)."""
    yield () if request.param == "sqlite" else ("--store", request.getfixturevalue("pg_url"))


def _import(archive: Path, store_args: tuple[str, ...], warc: Path) -> None:
    code, _, err = run_cli(archive, *store_args, "import-warc", str(warc))
    assert code == 0, err


def _show(archive: Path, store_args: tuple[str, ...]) -> dict[str, object]:
    code, out, err = run_cli(archive, *store_args, "show", "--json", "--history", URL)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def _dates(archive: Path, store_args: tuple[str, ...]) -> tuple[str, str]:
    """(first_seen, last_changed) of the article, read from the store."""
    sql = "SELECT first_seen, last_changed FROM articles"
    if not store_args:
        store = open_store(StoreSpec("sqlite", path=archive / "store.sqlite"), read_only=True)
        row = store.db.execute(sql).fetchone()
    else:
        store = open_store(StoreSpec("postgresql", url=store_args[1]), read_only=True)
        row = store.conn.execute(sql).fetchone()  # type: ignore[attr-defined]
    store.close()
    return row[0], row[1]


def _hits(archive: Path, store_args: tuple[str, ...], query: str) -> list[str]:
    code, out, err = run_cli(archive, *store_args, "search", "--json", query)
    if code == 1 and "No articles match" in err:
        return []
    assert code == 0, err
    return [h["headline"] for h in json.loads(out)]


def test_captures_imported_newest_first_leave_the_newest_current_and_the_history_oldest_first(
    tmp_path: Path, store_args: tuple[str, ...]
) -> None:
    archive = tmp_path / "archive"
    # As the review's repro: v2 and v1 in one file (cat of two files), then v0 alone.
    _import(archive, store_args, write_warc(tmp_path / "both.warc.gz", [(2, DATES[2], ""), (1, DATES[1], "")]))
    _import(archive, store_args, write_warc(tmp_path / "v0.warc.gz", [(0, DATES[0], "")]))

    shown = _show(archive, store_args)
    assert shown["headline"] == "Version 2 headline"
    assert shown["fetched_at"] == "2024-02-01T00:00:00+00:00"
    history = shown["history"]
    assert isinstance(history, list)
    assert [(h["headline"], h["fetched_at"]) for h in history] == [
        ("Version 0 headline", "2023-12-01T00:00:00+00:00"),
        ("Version 1 headline", "2024-01-01T00:00:00+00:00"),
    ]
    assert _dates(archive, store_args) == ("2023-12-01T00:00:00", "2024-02-01T00:00:00")
    code, out, _ = run_cli(archive, *store_args, "stats", "--json")
    assert code == 0 and json.loads(out)["last_change"] == "2024-02-01T00:00:00"
    # The index holds the current text only: the older versions' words find nothing.
    assert _hits(archive, store_args, WORDS[2]) == ["Version 2 headline"]
    assert _hits(archive, store_args, WORDS[1]) == [] and _hits(archive, store_args, WORDS[0]) == []


def test_a_capture_between_two_known_versions_goes_between_them_in_the_history(
    tmp_path: Path, store_args: tuple[str, ...]
) -> None:
    archive = tmp_path / "archive"
    _import(archive, store_args, write_warc(tmp_path / "a.warc.gz", [(0, DATES[0], ""), (3, DATES[3], "")]))
    _import(archive, store_args, write_warc(tmp_path / "b.warc.gz", [(2, DATES[2], ""), (1, DATES[1], "")]))

    shown = _show(archive, store_args)
    assert shown["headline"] == "Version 3 headline"
    assert [h["headline"] for h in shown["history"]] == [  # type: ignore[attr-defined]
        "Version 0 headline", "Version 1 headline", "Version 2 headline",
    ]  # fmt: skip
    assert _dates(archive, store_args) == ("2023-12-01T00:00:00", "2024-03-01T00:00:00")
    assert _hits(archive, store_args, WORDS[1]) == [] and _hits(archive, store_args, WORDS[3]) == ["Version 3 headline"]


def test_an_older_capture_saying_what_the_current_one_says_adds_no_version_and_moves_the_dates_back(
    tmp_path: Path, store_args: tuple[str, ...]
) -> None:
    archive = tmp_path / "archive"
    _import(archive, store_args, write_warc(tmp_path / "new.warc.gz", [(2, DATES[2], "")]))
    # Other bytes (so not skipped as the same capture), the same article, a month earlier.
    _import(archive, store_args, write_warc(tmp_path / "old.warc.gz", [(2, DATES[1], "<!-- older -->")]))

    shown = _show(archive, store_args)
    assert shown["fetched_at"] == "2024-02-01T00:00:00+00:00"
    assert shown["history"] == []
    assert _dates(archive, store_args) == ("2024-01-01T00:00:00", "2024-01-01T00:00:00")


def test_captures_of_the_same_second_let_the_last_written_be_current(
    tmp_path: Path, store_args: tuple[str, ...]
) -> None:
    archive = tmp_path / "archive"
    _import(archive, store_args, write_warc(tmp_path / "a.warc.gz", [(1, DATES[1], ""), (2, DATES[1], "")]))

    shown = _show(archive, store_args)
    assert shown["headline"] == "Version 2 headline"
    assert [h["headline"] for h in shown["history"]] == ["Version 1 headline"]  # type: ignore[attr-defined]
    assert _hits(archive, store_args, WORDS[2]) == ["Version 2 headline"] and _hits(archive, store_args, WORDS[1]) == []


def test_store_rebuild_of_files_out_of_date_order_gives_the_newest_as_current(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    _import(archive, (), write_warc(tmp_path / "both.warc.gz", [(2, DATES[2], ""), (1, DATES[1], "")]))
    _import(archive, (), write_warc(tmp_path / "v0.warc.gz", [(0, DATES[0], "")]))
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm"):
        (archive / name).unlink(missing_ok=True)
    code, _, err = run_cli(archive, "store", "rebuild")
    assert code == 0, err

    shown = _show(archive, ())
    assert shown["headline"] == "Version 2 headline"
    assert [h["headline"] for h in shown["history"]] == ["Version 0 headline", "Version 1 headline"]  # type: ignore[attr-defined]
    assert _dates(archive, ()) == ("2023-12-01T00:00:00", "2024-02-01T00:00:00")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_articles_without_a_capture_time_keep_last_write_wins(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    spec = (
        StoreSpec("sqlite", path=tmp_path / "s.sqlite")
        if backend == "sqlite"
        else StoreSpec("postgresql", url=request.getfixturevalue("pg_url"))
    )
    store = open_store(spec)
    try:
        first = Article(url=URL, canonical_url=URL, site="news.example.com", headline="First", body="One.")
        dated = first.replace(headline="Dated", body="Two.", fetched_at=datetime(2024, 2, 1, tzinfo=UTC))
        assert store.upsert(dated) == "new"
        # No capture time: written last, it is current (as before), whatever the stored one's date.
        assert store.upsert(first) == "updated"
        got = store.get(URL)
        assert got is not None and got.headline == "First"
        # A dated write after an undated current one wins too: there is no date to compare with.
        older = first.replace(headline="Older", body="Three.", fetched_at=datetime(2023, 1, 1, tzinfo=UTC))
        assert store.upsert(older) == "updated"
        got = store.get(URL)
        assert got is not None and got.headline == "Older"
        assert [a.headline for a in store.versions(got.id)] == ["Dated", "First"]
    finally:
        store.close()


def test_the_newest_capture_of_a_url_is_the_newest_by_date_not_the_last_imported(
    tmp_path: Path, store_args: tuple[str, ...]
) -> None:
    """``reparse`` re-reads each URL's newest capture (``iter_captures``) and a URL is looked up through its
    newest capture (``latest_capture``): the newest by capture time, where the last one recorded is older."""
    archive, fetched = tmp_path / "archive", URL + "?ref=home"
    both = write_warc(tmp_path / "both.warc.gz", [(2, DATES[2], ""), (1, DATES[1], "")], url=fetched)
    _import(archive, store_args, both)
    spec = (
        StoreSpec("postgresql", url=store_args[1]) if store_args else StoreSpec("sqlite", path=archive / "store.sqlite")
    )
    store = open_store(spec, read_only=True)
    try:
        newest = store.latest_capture(fetched)
        assert newest is not None and newest.fetched_at == datetime(2024, 2, 1, tzinfo=UTC)
        assert [c.id for c in store.iter_captures()] == [newest.id]
    finally:
        store.close()
    code, _, err = run_cli(archive, *store_args, "reparse")
    assert code == 0, err
    assert _show(archive, store_args)["headline"] == "Version 2 headline"
