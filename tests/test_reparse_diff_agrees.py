"""`reparse --diff` shows what `reparse` would do, and both refuse an archive that is not there.

The diff runs every page through the steps reparse takes before it writes (feed fields merged, the
article cleaned, an untrusted canonical URL dropped), reports the captures reparse could not read with
the same warnings and exit status, and on a mistyped --archive says so (exit 2) and creates nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import TOUR, run_cli
from hostile_kit import page, warc

COPY = "https://evil.example.org/copy"
VICTIM = "https://victim.example.com/story"


@pytest.fixture
def copy_archive(tmp_path: Path) -> Path:
    """An archive of one page on one site that names an article of another site as its canonical URL."""
    head = f'<link rel="canonical" href="{VICTIM}">'
    source = warc(tmp_path / "copy.warc.gz", [(COPY, page("A copied story", head), "2024-03-17T09:00:00Z")])
    archive = tmp_path / "archive"
    code, _, err = run_cli(archive, "import-warc", str(source))
    assert code == 0, err
    return archive


def test_diff_shows_no_change_where_reparse_keeps_an_untrusted_canonical_url_out(copy_archive: Path) -> None:
    code, out, err = run_cli(copy_archive, "reparse", "--diff", "--json")
    assert code == 0, err
    assert json.loads(out) == []
    assert "0 articles would change" in err
    code, _, err = run_cli(copy_archive, "reparse")
    assert code == 0 and "1 unchanged" in err
    code, out, _ = run_cli(copy_archive, "reparse", "--diff")
    assert code == 0 and out == ""


def test_diff_shows_the_values_reparse_then_writes(copy_archive: Path) -> None:
    """A stored article made stale by hand: the diff's new values are exactly what reparse stores."""
    import sqlite3

    with sqlite3.connect(copy_archive / "store.sqlite") as db:
        article_id, blob = db.execute("SELECT id, json FROM articles").fetchone()
        stale = {**json.loads(blob), "headline": "An older parser's headline", "site": "victim.example.com"}
        db.execute("UPDATE articles SET json = ? WHERE id = ?", (json.dumps(stale), article_id))
    db.close()
    code, out, err = run_cli(copy_archive, "reparse", "--diff", "--json")
    assert code == 0, err
    (change,) = json.loads(out)
    assert set(change["changes"]) == {"headline", "site"}
    assert run_cli(copy_archive, "reparse")[0] == 0
    _, out, _ = run_cli(copy_archive, "export", "--jsonl")
    (stored,) = map(json.loads, out.splitlines())
    assert {key: stored[key] for key in change["changes"]} == {k: v["new"] for k, v in change["changes"].items()}
    assert stored["canonical_url"] == COPY


@pytest.mark.parametrize("as_json", [False, True])
def test_diff_warns_of_each_unreadable_capture_and_exits_1_as_reparse_does(
    copy_archive: Path, tmp_path: Path, as_json: bool
) -> None:
    shutil.move(copy_archive / "warc", tmp_path / "moved-away")
    json_flag = ["--json"] if as_json else []
    code, out, err = run_cli(copy_archive, "reparse", "--diff", *json_flag)
    assert code == 1
    assert err.count("warning: WARC file missing: ") == 1
    assert "0 articles would change, 1 failed" in err
    if as_json:
        assert json.loads(out) == []
    code, _, reparse_err = run_cli(copy_archive, "reparse")
    assert code == 1
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warnings == [line for line in reparse_err.splitlines() if line.startswith("warning: ")]


def test_diff_of_an_archive_whose_warc_files_are_there_still_exits_0(tmp_path: Path) -> None:
    archive = tmp_path / "tour"
    assert run_cli(archive, "import-warc", str(TOUR))[0] == 0
    code, out, err = run_cli(archive, "reparse", "--diff")
    assert code == 0, err
    assert out == "" and "warning" not in err


@pytest.mark.parametrize(
    ("args", "read_only"),
    [(["reparse", "--diff"], True), (["reparse", "--diff"], False), (["reparse"], False), (["reindex"], False)],
)
def test_reparse_and_reindex_of_an_archive_that_is_not_there_exit_2_and_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], read_only: bool
) -> None:
    if read_only:
        monkeypatch.setenv("NEWSARCHIVE_READONLY", "1")
    mistyped = tmp_path / "nope"
    code, out, err = run_cli(mistyped, *args)
    assert code == 2
    assert err.startswith(f"Error: no archive at {mistyped}\n")
    assert out == ""
    assert not mistyped.exists()


@pytest.mark.parametrize("args", [["reparse"], ["reindex"]])
def test_writing_reparse_and_reindex_on_a_missing_read_only_archive_still_say_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("NEWSARCHIVE_READONLY", "1")
    code, _, err = run_cli(tmp_path / "nope", *args)
    assert code == 2 and "is read-only" in err
    assert not (tmp_path / "nope").exists()
