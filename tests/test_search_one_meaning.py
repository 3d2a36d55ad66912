"""One meaning and one display of each field, whichever path answers: a text query (the index), a date
listing (SQLite), facets, --json and export. A tag with a comma ("Gaza, Israel") and a language with a
region (en-GB) used to read differently depending on the path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsarchive.archive_dir import ArchiveDir
from newsarchive.article import Article
from newsarchive.cli import cli
from newsarchive.index.writer import create_index, write_articles

ARTICLES = [
    Article(url="https://a.example/1", headline="Ceasefire talks", body="Talks on a ceasefire resumed.",
            site="a.example", lang="en-GB", tags=("Gaza, Israel", "Ceasefire"), byline=("Roe, Jane",),
            section="World News",
            published=datetime(2023, 10, 9, tzinfo=UTC)),
    Article(url="https://a.example/2", headline="Aid convoy", body="An aid convoy crossed with talks ongoing.",
            site="a.example", lang="en", tags=("GAZA,  Israel",), byline=("John Doe",),
            published=datetime(2023, 11, 2, tzinfo=UTC)),
    Article(url="https://b.example/3", headline="Conversaciones", body="Las conversaciones siguen, talks.",
            site="b.example", lang="es_ES", tags=("Gaza Israel",), published=datetime(2023, 11, 5, tzinfo=UTC)),
]  # fmt: skip


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("meaning")
    with ArchiveDir(root) as archive:
        for article in ARTICLES:
            archive.store.upsert(article)
        ix = create_index(archive.index_dir)
        write_articles(ix, ARTICLES)
        ix.close()
    yield root


def _json(root: Path, *args: str) -> object:
    result = CliRunner().invoke(cli, ["--archive", str(root), *args])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_facets_read_the_same_from_the_index_and_from_the_store(root: Path) -> None:
    by_text = _json(root, "search", "talks", "--json", "--facets")
    by_date = _json(root, "search", "--from", "2023", "--json", "--facets")
    assert by_text["total"] == by_date["total"] == 3  # type: ignore[index]
    assert by_text["facets"] == by_date["facets"]  # type: ignore[index]
    facets = by_text["facets"]  # type: ignore[index]
    assert facets["tag"] == {"gaza, israel": 2, "ceasefire": 1, "gaza israel": 1}
    assert facets["lang"] == {"en": 2, "es": 1}


def test_the_text_facets_show_the_tag_as_written_not_with_its_comma_turned_to_spaces(root: Path) -> None:
    for args in (("talks", "--facets"), ("--from", "2023", "--facets")):
        result = CliRunner().invoke(cli, ["--archive", str(root), "search", *args])
        tag_line = next(line for line in result.stdout.splitlines() if line.startswith("tag:"))
        assert "gaza, israel (2)" in tag_line and "gaza  israel" not in tag_line


@pytest.mark.parametrize("value", ["Gaza, Israel", "gaza, israel", "GAZA,   ISRAEL"])
def test_a_tag_facet_value_given_back_to_tag_finds_exactly_its_count(root: Path, value: str) -> None:
    hits = _json(root, "search", "--tag", value, "--json")
    assert {h["url"] for h in hits} == {"https://a.example/1", "https://a.example/2"}  # type: ignore[union-attr]
    query = _json(root, "search", f'tags:"{value}"', "--json")
    assert {h["url"] for h in query} == {"https://a.example/1", "https://a.example/2"}  # type: ignore[union-attr]
    exported = _json(root, "export", "--tag", value)
    assert {a["url"] for a in exported} == {"https://a.example/1", "https://a.example/2"}  # type: ignore[union-attr]


def test_an_author_with_a_comma_is_one_author(root: Path) -> None:
    assert [h["url"] for h in _json(root, "search", "--author", "roe, jane", "--json")] == ["https://a.example/1"]  # type: ignore[union-attr]
    result = CliRunner().invoke(cli, ["--archive", str(root), "search", "ceasefire", "--author", "roe jane"])
    assert result.exit_code == 1 and "No articles match" in result.stderr


@pytest.mark.parametrize("lang", ["en", "EN", "en-GB", "en_GB"])
def test_a_language_means_its_primary_subtag_in_both_paths(root: Path, lang: str) -> None:
    by_text = {h["url"] for h in _json(root, "search", "talks OR convoy", "--lang", lang, "--json")}  # type: ignore[union-attr]
    by_date = {h["url"] for h in _json(root, "search", "--lang", lang, "--json")}  # type: ignore[union-attr]
    assert by_text == by_date == {"https://a.example/1", "https://a.example/2"}
    es = {h["url"] for h in _json(root, "search", "--lang", "es", "--json")}  # type: ignore[union-attr]
    assert es == {"https://b.example/3"}


def test_json_and_export_carry_the_article_as_stored_whichever_path(root: Path) -> None:
    by_text = {h["url"]: h for h in _json(root, "search", "talks", "--json")}  # type: ignore[union-attr]
    by_date = {h["url"]: h for h in _json(root, "search", "--json")}  # type: ignore[union-attr]
    exported = {a["url"]: a for a in _json(root, "export")}  # type: ignore[union-attr]
    for url, hit in by_text.items():
        assert hit["tags"] == by_date[url]["tags"] == exported[url]["tags"]
        assert hit["lang"] == by_date[url]["lang"] == exported[url]["lang"]
    assert by_text["https://a.example/1"]["tags"] == ["Gaza, Israel", "Ceasefire"]


@pytest.mark.parametrize(
    ("query", "options"),
    [
        ('section:"World News"', ("--section", "world news")),
        ("section:world", None),
        ("site:A.Example", ("--site", "https://www.a.example/x")),
        ("lang:en-GB", ("--lang", "EN")),
    ],
)
def test_a_field_in_the_query_means_what_its_option_means(
    root: Path, query: str, options: tuple[str, str] | None
) -> None:
    result = CliRunner().invoke(cli, ["--archive", str(root), "search", query, "--json"])
    if options is None:  # a section is one value: a word of it is not the section
        assert result.exit_code == 1
        return
    assert result.exit_code == 0, result.stderr
    by_query = {h["url"] for h in json.loads(result.stdout)}
    by_option = {h["url"] for h in _json(root, "search", *options, "--json")}  # type: ignore[union-attr]
    assert by_query == by_option and by_query
