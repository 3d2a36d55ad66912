"""search, export and stats on the command line: filters, facets, histogram, did-you-mean, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from newsarchive.cli import cli
from newsarchive.index.schema import INDEX_VERSION

TOUR = FIXTURES / "tour" / "example-news.warc.gz"


def _run(archive: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--archive", str(archive), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _import_tour(archive: Path) -> Path:
    code, _, err = _run(archive, "import-warc", str(TOUR))
    assert code == 0, err
    return archive


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tour archive, built once for the module: only for tests that leave it as it is."""
    return _import_tour(tmp_path_factory.mktemp("tour"))


@pytest.fixture
def own_tour(tmp_path: Path) -> Path:
    """The tour archive for a test that changes it."""
    return _import_tour(tmp_path)


def test_tag_filter_and_json_carry_the_full_record(tour: Path) -> None:
    code, out, _ = _run(tour, "search", "--tag", "grain", "--json")
    assert code == 0
    hits = json.loads(out)
    assert [h["headline"] for h in hits] == ["Black Sea grain corridor talks resume in Istanbul"]
    assert "body" in hits[0] and "capture" in hits[0]


def test_a_misspelt_word_gets_a_did_you_mean_and_exit_1(tour: Path) -> None:
    code, _, err = _run(tour, "search", "corrridor")
    assert code == 1
    assert "No articles match." in err
    assert "Did you mean: corridor" in err


def test_an_unknown_time_zone_is_a_usage_error(tour: Path) -> None:
    code, _, err = _run(tour, "search", "grain", "--from", "2023", "--tz", "Mars/Olympus")
    assert code == 2
    assert "unknown time zone" in err


def test_tz_moves_the_day_boundaries(tour: Path) -> None:
    # The Crimea article is 2023-02-16 06:35 UTC: on the 16th in UTC, and in Tokyo (15:35), not in Honolulu (the 15th).
    code, out, _ = _run(tour, "search", "crimea", "--from", "2023-02-16", "--to", "2023-02-16", "--jsonl")
    assert code == 0 and len(out.splitlines()) == 1
    code, out, _ = _run(tour, "search", "crimea", "--from", "2023-02-16", "--to", "2023-02-16", "--tz",
                        "Pacific/Honolulu", "--jsonl")  # fmt: skip
    assert code == 1 and out == ""


def test_facets_and_histogram_print_counts_by_month(tour: Path) -> None:
    code, out, _ = _run(tour, "search", "--facets", "--histogram", "-n", "1")
    assert code == 0
    assert "month: 2023-02 (1)" in out
    assert any(line.startswith("2023-03 ") and line.endswith(" 0") for line in out.splitlines())


def test_facets_with_json_give_an_object(tour: Path) -> None:
    code, out, _ = _run(tour, "search", "ukraine", "--facets", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["total"] == len(data["hits"])
    assert sum(data["facets"]["site"].values()) == data["total"]


def test_stats_counts_articles_by_site_language_and_month(tour: Path) -> None:
    code, out, _ = _run(tour, "stats", "--json")
    assert code == 0
    data = json.loads(out)
    assert sum(data["by_site"].values()) == data["articles"] == sum(data["by_month"].values())
    assert data["index"] == "ok"
    assert data["size_bytes"]["warc"] > 0
    assert data["last_ingest"] is None  # imported, never ingested
    assert "last ingest run finished: never" in _run(tour, "stats")[1]


def test_an_outdated_index_is_reported_with_the_fix(own_tour: Path) -> None:
    (own_tour / "index" / "newsarchive-index-version").write_text("1\n")
    code, _, err = _run(own_tour, "search", "grain")
    assert code != 0
    assert "another version" in err and "newsarchive reindex" in err
    assert _run(own_tour, "reindex")[0] == 0
    assert _run(own_tour, "search", "grain")[0] == 0


def test_an_index_whose_schema_names_a_class_this_version_lacks_is_outdated_or_damaged(own_tour: Path) -> None:
    """An index written by another version may pickle a field class this one does not have: its version file
    says it is outdated (rebuilt by the next write, refused by a search with the fix), never a traceback."""
    index = own_tour / "index"
    for toc in index.glob("_MAIN_*.toc"):  # every commit's: the class is gone in this version
        toc.write_bytes(toc.read_bytes().replace(b"KeyList", b"KeyLisX"))
    (index / "newsarchive-index-version").write_text("99\n")
    code, _, err = _run(own_tour, "search", "grain")
    assert code != 0 and "another version" in err and "newsarchive reindex" in err and "Traceback" not in err
    (index / "newsarchive-index-version").write_text(f"{INDEX_VERSION}\n")  # this version's number, foreign TOC
    code, _, err = _run(own_tour, "search", "grain")
    assert code != 0 and "damaged" in err and "newsarchive reindex" in err and "Traceback" not in err
    assert _run(own_tour, "reindex")[0] == 0
    assert _run(own_tour, "search", "grain")[0] == 0
