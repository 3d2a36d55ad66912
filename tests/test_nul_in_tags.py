"""A NUL character in a tag (or author) gives the same facets and the same --tag/--author hits on both stores.

A page's NUL never reaches the store: ``clean_article`` removes it from every field at parse time, with the other
C0/C1 controls, so a page with NUL in its tags, headline, body and authors is stored, counted and found alike on
SQLite and PostgreSQL. An article stored by an older version may still hold one (its JSON keeps the escape
``\\u0000``): every reading of such a tag or author now gives U+FFFD in its place, as the PostgreSQL store does
in its columns and search tables (PostgreSQL text holds no NUL). Before, SQLite's ``json_each`` ended the tag at the
NUL (``Gaza\\x00Strip`` counted as ``gaza``, together with a real ``Gaza``), and the Whoosh index kept the NUL in
its tag and author keys, which no --tag or --author given on a command line can hold.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from hostile_kit import warc

from newsarchive.article import Article
from newsarchive.store.articles import ArticleStore

pytest.importorskip("psycopg")

URL = "https://news.example.com/nul"
_LD = json.dumps(
    {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Harbour\u0000 news",
        "keywords": ["Gaza\u0000Strip", "Ports"],
        "author": {"@type": "Person", "name": "Jane\u0000 Doe"},
        "datePublished": "2024-03-16T08:00:00+02:00",
    }
)
#: A page with NUL in its tags and author (JSON-LD escapes), and raw NUL bytes in its title and text.
NUL_PAGE = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Harbour\x00 news</title>"
    f"<script type='application/ld+json'>{_LD}</script></head><body><article><h1>Harbour\x00 news</h1><p>"
    + "The harbour\x00 authority said ships would wait. " * 8
    + "</p></article></body></html>"
).encode()


def _search(archive: Path, store: tuple[str, ...], *args: str) -> dict[str, Any]:
    code, out, err = run_cli(archive, *store, "search", *args, "--json", "--facets")
    assert code in (0, 1), err
    data: dict[str, Any] = json.loads(out)
    return data


def _answers(archive: Path, store: tuple[str, ...], tag: str, author: str) -> list[Any]:
    """Facets of a date listing (read from the store) and of a text search (from the index), and hits by tag and
    by author."""
    listing, found = _search(archive, store), _search(archive, store, "harbour")
    by_tag, by_author = _search(archive, store, "--tag", tag), _search(archive, store, "--author", author)
    return [
        listing["facets"],
        found["facets"],
        [h["url"] for h in by_tag["hits"]],
        [h["url"] for h in by_author["hits"]],
    ]


def test_a_page_with_nul_in_its_tags_is_stored_without_it_and_answers_alike_on_both_stores(
    tmp_path: Path, pg_url: str
) -> None:
    source = warc(tmp_path / "nul.warc.gz", [(URL, NUL_PAGE, "2024-03-17T09:00:00Z")])
    on_sqlite, on_pg, pg = tmp_path / "s", tmp_path / "p", ("--store", pg_url)
    for archive, store in ((on_sqlite, ()), (on_pg, pg)):
        code, _, err = run_cli(archive, *store, "import-warc", str(source))
        assert code == 0, err
        code, out, _ = run_cli(archive, *store, "export", "--jsonl")
        assert "\\u0000" not in out and "\x00" not in out
        (article,) = map(json.loads, out.splitlines())
        assert (article["headline"], article["tags"], article["byline"]) == (
            "Harbour news",
            ["GazaStrip", "Ports"],
            ["Jane Doe"],
        )
        assert article["body"].startswith("The harbour authority said")
    sqlite_answers = _answers(on_sqlite, (), "GazaStrip", "Jane Doe")
    assert sqlite_answers == _answers(on_pg, pg, "GazaStrip", "Jane Doe")
    assert sqlite_answers[0]["tag"] == {"gazastrip": 1, "ports": 1}
    assert sqlite_answers[2:] == [[URL], [URL]]


def test_an_older_versions_tag_with_nul_answers_alike_on_both_stores(tmp_path: Path, pg_url: str) -> None:
    """Before: SQLite's date-listing facets counted ``Gaza\\x00Strip`` as ``gaza`` (2 articles, where PostgreSQL
    counts 1 ``gaza\\ufffdstrip`` and 1 ``gaza``), and --tag/--author with U+FFFD found it on PostgreSQL only."""
    archive, pg = tmp_path / "archive", ("--store", pg_url)
    source = warc(tmp_path / "plain.warc.gz", [("https://news.example.com/gaza", _plain_page(), None)])
    assert run_cli(archive, "import-warc", str(source))[0] == 0
    older = Article(
        url="https://news.example.com/older",
        headline="Harbour news an older version stored",
        body="The harbour authority said ships would wait.",
        site="news.example.com",
        lang="en",
        tags=("Gaza\x00Strip", "Ports\x00"),
        byline=("Jane\x00Doe",),
        published=datetime(2024, 3, 16, tzinfo=UTC),
    )
    store = ArticleStore(archive / "store.sqlite")
    try:
        assert store.upsert(older) == "new"
    finally:
        store.close()
    assert run_cli(archive, "reindex")[0] == 0  # an index built from such a store
    code, _, err = run_cli(archive, "store", "migrate", "--to", pg_url)
    assert code == 0, err

    sqlite_answers = _answers(archive, (), "Gaza\ufffdStrip", "Jane\ufffdDoe")
    assert sqlite_answers == _answers(archive, pg, "Gaza\ufffdStrip", "Jane\ufffdDoe")
    assert sqlite_answers[0]["tag"] == {"gaza": 1, "gaza\ufffdstrip": 1, "ports": 1, "ports\ufffd": 1}
    assert sqlite_answers[1]["tag"] == sqlite_answers[0]["tag"]
    assert sqlite_answers[2:] == [[older.url], [older.url]]
    # The article itself reads back as it was stored, on both stores.
    for store_args in ((), pg):
        code, out, _ = run_cli(archive, *store_args, "show", older.url, "--json")
        assert code == 0 and json.loads(out)["tags"] == ["Gaza\x00Strip", "Ports\x00"]


def _plain_page() -> bytes:
    ld = json.dumps({"@type": "NewsArticle", "keywords": ["Gaza", "Ports"], "datePublished": "2024-03-15T08:00:00Z"})
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Harbour reopens</title>"
        f"<script type='application/ld+json'>{ld}</script></head><body><article><h1>Harbour reopens</h1><p>"
        + "The harbour reopened on Friday after the storm. " * 8
        + "</p></article></body></html>"
    ).encode()


def test_reparse_drops_the_nul_an_older_version_stored(tmp_path: Path) -> None:
    import sqlite3

    archive = tmp_path / "archive"
    source = warc(tmp_path / "plain.warc.gz", [("https://news.example.com/gaza", _plain_page(), None)])
    assert run_cli(archive, "import-warc", str(source))[0] == 0
    with sqlite3.connect(archive / "store.sqlite") as db:
        article_id, blob = db.execute("SELECT id, json FROM articles").fetchone()
        data = json.loads(blob)
        data["tags"] = ["Ga\x00za", "Ports"]
        db.execute(
            "UPDATE articles SET json = ?, content_digest = 'older' WHERE id = ?", (json.dumps(data), article_id)
        )
    db.close()
    assert _search(archive, ())["facets"]["tag"] == {"ga\ufffdza": 1, "ports": 1}
    code, out, err = run_cli(archive, "reparse", "--diff", "--json")
    assert code == 0, err
    (change,) = json.loads(out)
    assert change["changes"] == {"tags": {"old": ["Ga\x00za", "Ports"], "new": ["Gaza", "Ports"]}}
    code, out, err = run_cli(archive, "reparse", "--json")
    assert code == 0 and json.loads(out)["updated"] == 1, err
    assert _search(archive, ())["facets"]["tag"] == {"gaza": 1, "ports": 1}
