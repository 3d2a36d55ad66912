"""--site takes a host (what hits show), --source a source name; a value that matches nothing says so (exit 2)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_cli

from newsarchive.archive_dir import ArchiveDir
from newsarchive.store.frontier import Frontier

CRIMEA = "https://english.almayadeen.net/news/politics/us-not-actively-encouraging-ukraine-to-retake-crimea:-report"
GRAIN_SITE = "news.example.com"


def _sites(out: str) -> set[str]:
    return {line.rsplit("[", 1)[1].rstrip("]") for line in out.splitlines() if line[:2] == "20"}


@pytest.mark.parametrize(
    "value", ["english.almayadeen.net", "English.Almayadeen.NET", "www.english.almayadeen.net", CRIMEA]
)
def test_site_takes_the_host_that_hits_show(tour: Path, value: str) -> None:
    for query in ((), ("ukraine",)):  # the store's listing and the index's text search
        code, out, err = run_cli(tour, "search", *query, "--site", value)
        assert code == 0, err
        assert _sites(out) == {"english.almayadeen.net"}


def test_source_takes_a_source_name_and_means_its_sites(tour: Path) -> None:
    for query in ((), ("ukraine",)):
        code, out, err = run_cli(tour, "search", *query, "--source", "almayadeen-en")
        assert code == 0, err
        assert _sites(out) == {"english.almayadeen.net"}


def test_a_source_name_given_to_site_is_an_error_that_points_to_source(tour: Path) -> None:
    code, out, err = run_cli(tour, "search", "--site", "almayadeen-en")
    assert code == 2 and out == ""
    assert "almayadeen-en" in err and "--source almayadeen-en" in err


def test_the_issue_export_no_longer_writes_a_silent_header_only_file(tour: Path, tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    code, _, err = run_cli(tour, "export", "crimea", "--site", "almayadeen-en", "--format", "csv", "-o", str(target))
    assert code == 2 and "did you mean" in err and not target.exists()
    code, _, err = run_cli(tour, "export", "crimea", "--source", "almayadeen-en", "--format", "csv", "-o", str(target))
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(target.read_text("utf-8"))))
    assert [r["canonical_url"] for r in rows] == [CRIMEA]


def test_a_misspelt_site_gets_a_did_you_mean(tour: Path) -> None:
    code, _, err = run_cli(tour, "search", "grain", "--site", "news.exampel.com")
    assert code == 2
    assert "news.exampel.com" in err and f"did you mean: {GRAIN_SITE}" in err


def test_an_unknown_source_lists_the_known_ones(tour: Path) -> None:
    code, _, err = run_cli(tour, "export", "--source", "nope")
    assert code == 2 and "no source named 'nope'" in err and "almayadeen-en" in err


def test_site_and_source_together_keep_the_sites_in_both(tour: Path) -> None:
    code, _, err = run_cli(tour, "search", "--source", "almayadeen-en", "--site", GRAIN_SITE)
    assert code == 2 and "belongs" in err
    code, out, _ = run_cli(tour, "search", "--source", "almayadeen-en", "--site", "english.almayadeen.net")
    assert code == 0 and _sites(out) == {"english.almayadeen.net"}


def test_a_source_covers_the_sites_ingest_fetched_for_it(tour: Path) -> None:
    """A source whose start URL is on another host (a feed service) still finds its articles via the frontier."""
    (tour / "sources.toml").write_text(
        '[[source]]\nname = "example-feed"\nstart = ["https://feeds.example.org/news.xml"]\n', "utf-8"
    )
    try:
        code, _, err = run_cli(tour, "search", "--source", "example-feed")
        assert code == 2 and "no articles from source 'example-feed'" in err and "feeds.example.org" in err
        with ArchiveDir(tour) as archive:
            grain = next(a for a in archive.store.iter_articles() if a.site == GRAIN_SITE)
            Frontier(archive.store.db).offer(grain.url, source="example-feed", via="feed", now=datetime.now(UTC))
        code, out, err = run_cli(tour, "search", "--source", "example-feed")
        assert code == 0, err
        assert _sites(out) == {GRAIN_SITE}
    finally:
        (tour / "sources.toml").unlink()
