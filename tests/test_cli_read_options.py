"""search, export and show refuse options that do nothing together (exit 2 and a message), never ignore one silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

CRIMEA = "9570016f3b8ebc3c"  # an article of the tour


@pytest.mark.parametrize(
    "args",
    [
        ("search", "crimea", "--json", "--jsonl"),
        ("search", "crimea", "--jsonl", "--facets"),
        ("search", "crimea", "--json", "--histogram"),
        ("search", "crimea", "--jsonl", "--histogram"),
        ("search", "--jsonl", "--facets"),  # the date listing path too
        ("search", "crimea", "--page", "2", "--offset", "1"),
        ("search", "--sort", "relevance"),  # nothing to rank without a query
        ("export", "--jsonl", "--csv"),
        ("export", "--json", "--jsonl"),
        ("export", "--format", "csv", "--json"),
        ("export", "crimea", "--sort", "oldest"),  # a query's export is in index order
        ("export", "--tag", "ukraine", "--sort", "newest"),
        ("export", "--csv-formulas"),  # a JSON export: the flag was ignored
        ("export", "--jsonl", "--csv-formulas"),
        ("show", CRIMEA, "--raw", "--json"),  # --json was ignored: the raw page came out
        ("show", CRIMEA, "--raw", "--history"),
        ("show", CRIMEA, "--history"),  # the text view has no history: it was ignored
    ],
)
def test_options_that_do_nothing_together_are_refused(tour: Path, args: tuple[str, ...]) -> None:
    code, out, err = run_cli(tour, *args)
    assert code == 2, (out, err)
    assert any(why in err for why in ("together", "needs a query", "only orders", "does nothing", "needs --json"))
    assert out == ""


@pytest.mark.parametrize(
    "args",
    [
        ("search", "crimea", "--json", "--facets"),
        ("search", "crimea", "--facets", "--histogram"),
        ("search", "crimea", "--offset", "0"),
        ("search", "--sort", "oldest"),
        ("export", "--format", "csv", "--csv"),
        ("export", "--sort", "oldest", "--jsonl"),
        ("export", "--csv", "--csv-formulas"),
        ("show", CRIMEA, "--json", "--history"),
        ("show", CRIMEA, "--raw"),
    ],
)
def test_options_that_work_together_still_work(tour: Path, args: tuple[str, ...]) -> None:
    code, out, err = run_cli(tour, *args)
    assert code == 0, err
    assert out


@pytest.mark.parametrize(
    ("name", "first"),
    [("x.csv", "id,"), ("x.CSV", "id,"), ("x.jsonl", '{"'), ("x.ndjson", '{"'), ("x.json", "["), ("x.txt", "[")],
)
def test_export_without_a_format_follows_the_output_files_extension(
    tour: Path, tmp_path: Path, name: str, first: str
) -> None:
    out_file = tmp_path / name
    code, _, err = run_cli(tour, "export", "-o", str(out_file))
    assert code == 0, err
    assert out_file.read_text(encoding="utf-8").startswith(first)


def test_an_explicit_format_wins_over_the_output_files_extension(tour: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "x.csv"
    code, _, err = run_cli(tour, "export", "--jsonl", "-o", str(out_file))
    assert code == 0, err
    assert out_file.read_text(encoding="utf-8").startswith('{"')
    code, _, err = run_cli(tour, "export", "--format", "json", "-o", str(out_file))
    assert code == 0, err
    assert out_file.read_text(encoding="utf-8").startswith("[")
