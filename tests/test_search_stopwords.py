"""Stop words never make a query fail, in any language's fields; "did you mean" runs only where it helps.

A stop word of English or Spanish is dropped for the articles of that language (their text was indexed
without it) and stays a word to find everywhere else: "our plan" is "plan" in an English article and
"our plan" in an Arabic one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from whoosh.index import Index

from newsarchive.archive_dir import ArchiveDir
from newsarchive.article import Article
from newsarchive.cli import cli
from newsarchive.errors import QueryError
from newsarchive.index.writer import create_index, write_articles
from newsarchive.search import MAX_QUERY_WORDS, SearchRequest, search, suggest

EN = Article(
    url="https://en.example/1",
    headline="The grain corridor plan",
    lang="en",
    site="en.example",
    body="Above all, the plan hurt its rivals, said the United Nations. Any other route is closed.",
    published=datetime(2023, 2, 1, tzinfo=UTC),
)
EN2 = Article(
    url="https://en.example/2",
    headline="Talks on grain resume",
    lang="en-GB",
    site="en.example",
    body="Grain talks resumed in Istanbul on Monday.",
    published=datetime(2023, 3, 1, tzinfo=UTC),
)
ES = Article(
    url="https://es.example/1",
    headline="El plan del corredor",
    tags=("Ukraine",),
    lang="es",
    site="es.example",
    body="Los países anunciaron el plan para el corredor de grano.",
    published=datetime(2023, 4, 1, tzinfo=UTC),
)
AR = Article(
    url="https://ar.example/1",
    headline="خطة الممر",
    lang="ar",
    site="ar.example",
    body="قالت الحكومة إن الخطة، تحت شعار our plan، تفتح الممر. plan",
    published=datetime(2023, 5, 1, tzinfo=UTC),
)
FR = Article(
    url="https://fr.example/1",
    headline="Le plan du corridor",
    lang="fr",
    site="fr.example",
    body="Les nations ont présenté le plan de paix; its est un sigle.",
    published=datetime(2023, 6, 1, tzinfo=UTC),
)
ARTICLES = [EN, EN2, ES, AR, FR]  # fmt: skip


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Index, ArchiveDir]]:
    root = tmp_path_factory.mktemp("stop")
    archive = ArchiveDir(root)
    for article in ARTICLES:
        archive.store.upsert(article)
    ix = create_index(archive.index_dir)
    write_articles(ix, ARTICLES)
    yield root, ix, archive
    ix.close()
    archive.close()


def _urls(ix: Index, text: str) -> set[str]:
    return {h.url for h in search(ix, SearchRequest(text, limit=100)).hits}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the queries of the issue: an English stop word next to a word English articles hold
        ("our plan", {EN.url, AR.url}),  # the Arabic article holds "our plan" in Latin letters
        ("its hurt", {EN.url}),
        ("nations its", {EN.url, FR.url}),  # French is "other": "its" is a word there, and this article has it
        ('"any other"', {EN.url, EN2.url}),  # stop words only: English articles, as if the words were not there
        ("above", {EN.url, EN2.url}),
        ("the grain", {EN.url, EN2.url}),
        # Spanish stop words: dropped in Spanish articles, words to find in the others
        ("los plan", {ES.url}),
        ("el corredor", {ES.url}),
        ("del plan", {ES.url}),
        # Arabic and other languages have no stop list: a word is a word
        ("الخطة our", {AR.url}),
        ("le plan", {ES.url, FR.url}),  # "le" is a Spanish stop word, and a French word of this article
        ("nations", {EN.url, FR.url}),
        ("plan", {EN.url, ES.url, AR.url, FR.url}),
        # operators around a stop word
        ("the OR corredor", {ES.url}),  # in English articles: "corredor"; a dropped word leaves the OR
        ("the OR grain", {EN.url, EN2.url}),
        ("plan NOT its", {EN.url, ES.url, AR.url}),
        ('headline:"the grain corridor"', {EN.url}),
        # a stop word written in one field of an OR drops only that part
        ("body:its OR headline:conversaciones", {FR.url}),
        ("body:its OR tags:ukraine", {FR.url, ES.url}),
    ],
)
def test_a_stop_word_is_dropped_only_where_its_language_dropped_it(
    archive: tuple[Path, Index, ArchiveDir], text: str, expected: set[str]
) -> None:
    assert _urls(archive[1], text) == expected


def test_a_stop_word_does_not_change_the_ranking_of_the_articles_of_its_language(
    archive: tuple[Path, Index, ArchiveDir],
) -> None:
    ix = archive[1]
    plain = [h.url for h in search(ix, SearchRequest("grain talks")).hits]
    stopped = [h.url for h in search(ix, SearchRequest("the grain talks of its")).hits]
    assert plain == stopped == [EN2.url]
    assert [h.url for h in search(ix, SearchRequest("grain", sort="relevance")).hits] == [
        h.url for h in search(ix, SearchRequest("the grain", sort="relevance")).hits
    ]


def test_filters_still_apply_when_a_stop_word_splits_the_query_by_language(
    archive: tuple[Path, Index, ArchiveDir],
) -> None:
    ix = archive[1]
    assert {h.url for h in search(ix, SearchRequest("our plan", sites=("ar.example",))).hits} == {AR.url}
    assert {h.url for h in search(ix, SearchRequest("the plan", langs=("es",))).hits} == set()
    assert {h.url for h in search(ix, SearchRequest("el plan", langs=("es",))).hits} == {ES.url}
    feb = datetime(2023, 2, 1, tzinfo=UTC)
    assert {h.url for h in search(ix, SearchRequest("above", date_to=feb)).hits} == {EN.url}


def test_did_you_mean_corrects_an_unknown_word(archive: tuple[Path, Index, ArchiveDir]) -> None:
    results = search(archive[1], SearchRequest("corridorr"))
    assert results.total == 0 and results.suggestion == "corridor"


@pytest.mark.parametrize(
    "text",
    [
        "istanbul corredor",  # both words are indexed, they never meet: no spelling would help
        "our istanbul corredor",  # a stop word is no unknown word
        " ".join(f"qqzx{i}" for i in range(MAX_QUERY_WORDS)),  # a hundred unknown words: not a misspelling
    ],
)
def test_did_you_mean_stays_quiet_where_it_cannot_help(archive: tuple[Path, Index, ArchiveDir], text: str) -> None:
    results = search(archive[1], SearchRequest(text))
    assert results.total == 0 and results.suggestion is None
    with archive[1].searcher() as searcher:
        assert suggest(searcher, text) is None


def test_a_query_longer_than_the_limit_is_a_usage_error(archive: tuple[Path, Index, ArchiveDir]) -> None:
    long_query = " ".join(f"word{i}" for i in range(1000))
    with pytest.raises(QueryError, match="too long"):
        search(archive[1], SearchRequest(long_query))
    result = CliRunner().invoke(cli, ["--archive", str(archive[0]), "search", long_query])
    assert result.exit_code == 2
    assert "too long" in result.stderr and f"{MAX_QUERY_WORDS} words" in result.stderr
    result = CliRunner().invoke(cli, ["--archive", str(archive[0]), "export", long_query])
    assert result.exit_code == 2 and "too long" in result.stderr


def test_the_issue_queries_find_articles_on_the_command_line(archive: tuple[Path, Index, ArchiveDir]) -> None:
    for text in ("our plan", "its hurt", "above", '"any other"', "nations its"):
        result = CliRunner().invoke(cli, ["--archive", str(archive[0]), "search", text])
        assert result.exit_code == 0, (text, result.stderr)
        assert EN.headline in result.stdout


def test_language_filters_kept_between_searches_follow_a_new_commit(tmp_path: Path) -> None:
    """A process keeps the masks of the language filters a stop word brings with its reader; a commit
    (another reader) brings new ones, so a new article is found, and a deleted one is not."""
    from newsarchive.search import _KEPT, _READERS

    ix = create_index(tmp_path / "ix")
    write_articles(ix, [EN, EN2, AR])
    assert {h.url for h in search(ix, SearchRequest("our plan")).hits} == {EN.url, AR.url}
    reader = _READERS[ix][1]
    assert ("lang", "en") in _KEPT[reader]
    assert {h.url for h in search(ix, SearchRequest("our plan")).hits} == {EN.url, AR.url}  # the same reader
    url = "https://en.example/3"
    new = EN.replace(url=url, canonical_url=url, body="Our new plan for the corridor.")
    write_articles(ix, [new], delete_ids=[EN.id])
    assert {h.url for h in search(ix, SearchRequest("our plan")).hits} == {new.url, AR.url}
