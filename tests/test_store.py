"""The article store: upsert by canonical URL, history of changed articles, the index queue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsarchive.article import Article
from newsarchive.errors import ArchiveError
from newsarchive.store.articles import ArticleStore


def _article(body: str = "Body text.", url: str = "https://example.com/a?utm=1") -> Article:
    return Article(
        url=url,
        canonical_url="https://example.com/a",
        headline="Headline",
        body=body,
        published=datetime(2023, 2, 16, 6, 35, tzinfo=UTC),
    )


def test_same_canonical_url_is_one_article(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "s.sqlite")
    assert store.upsert(_article()) == "new"
    assert store.upsert(_article(url="https://example.com/a?ref=home")) == "unchanged"
    assert store.count() == 1


def test_changed_article_keeps_its_previous_version(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "s.sqlite")
    store.upsert(_article("First version."))
    assert store.upsert(_article("Corrected version.")) == "updated"
    current = store.get("https://example.com/a")
    assert current is not None and current.body == "Corrected version."
    assert [v.body for v in store.versions(current.id)] == ["First version."]


def test_new_and_updated_articles_are_queued_for_indexing_once(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "s.sqlite")
    store.upsert(_article("One."))
    store.upsert(_article("Two."))
    ids = store.index_queue()
    assert ids == [_article().id]
    store.index_done(ids)
    assert store.index_queue() == []


def test_damaged_store_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArchiveError, match="damaged"):
        ArticleStore(path)


def test_a_full_disk_is_one_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    store = ArticleStore(tmp_path / "s.sqlite")
    store.upsert(_article("First version."))
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own way to run out of space
    with pytest.raises(ArchiveError, match="cannot write the article store: database or disk is full") as info:
        store.upsert(_article("A much longer corrected version. " * 2000))
    assert info.value.hint and "disk space" in info.value.hint
    current = store.get("https://example.com/a")
    assert current is not None and current.body == "First version."
    assert store.versions(current.id) == []
