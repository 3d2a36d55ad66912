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
from conftest import TOUR, export_jsonl, run_cli
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
    assert "0 articles would change, 0 would move, 0 would be added, 1 failed" in err
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


# --- what an older parser stored: moved canonical URLs, pages it declined --------------------------------------

NEWS = "https://news.example.com"
#: (URL, page, WARC-Date): F's page first, then a page E whose canonical URL is F's.
OLDER_PARSER_PAGES = [
    (f"{NEWS}/e-target", page("The target's own story", text="Ferries resumed at dawn. " * 20), "2024-03-17T08:00:00Z"),
    (f"{NEWS}/a?ref=rss", page("Story A", f'<link rel="canonical" href="{NEWS}/a">'), "2024-03-17T09:00:00Z"),
    (f"{NEWS}/declined", page("Story B, declined by an older parser"), "2024-03-17T09:01:00Z"),
    (f"{NEWS}/changed", page("Story C"), "2024-03-17T09:02:00Z"),
    (f"{NEWS}/same", page("Story D"), "2024-03-17T09:03:00Z"),
    (f"{NEWS}/e?from=home", page("Story E", f'<link rel="canonical" href="{NEWS}/e-target">'), "2024-03-17T09:04:00Z"),
]


def _older_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser of an older version: it ignored canonical URLs, declined /declined, and read C's headline wrong."""
    import newsarchive.pipeline
    from newsarchive.errors import NotAnArticle

    current = newsarchive.pipeline.parse_page

    def older(body: bytes, url: str, **kwargs: object) -> object:
        if url.endswith("/declined"):
            raise NotAnArticle("an older parser's verdict")
        article = current(body, url, **kwargs)  # type: ignore[arg-type]
        if url.endswith("/changed"):
            article = article.replace(headline="An older parser's headline")
        return article.replace(canonical_url=article.url)

    monkeypatch.setattr(newsarchive.pipeline, "parse_page", older)


@pytest.fixture(params=["sqlite", "postgres"])
def store_args(request: pytest.FixtureRequest) -> tuple[str, ...]:
    if request.param == "sqlite":
        return ()
    return ("--store", request.getfixturevalue("pg_url"))


@pytest.fixture
def older_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_args: tuple[str, ...]) -> Path:
    """An archive an older parser filled (see _older_parser); the current parser is back once it is made."""
    source = warc(tmp_path / "news.warc.gz", OLDER_PARSER_PAGES)
    archive = tmp_path / "archive"
    with monkeypatch.context() as older:
        _older_parser(older)
        code, out, err = run_cli(archive, *store_args, "import-warc", str(source), "--json")
    assert code == 0, err
    assert json.loads(out)["new"] == 5 and json.loads(out)["not_article"] == 1
    return archive


def _by_id(archive: Path, store_args: tuple[str, ...]) -> dict[str, dict[str, object]]:
    code, out, err = run_cli(archive, *store_args, "export", "--jsonl")
    assert code == 0, err
    return {a["id"]: a for a in map(json.loads, out.splitlines())}


_CAPTURE_FIELDS = ("fetched_at", "capture", "parser")


def test_diff_reports_moved_and_added_articles_as_reparse_then_stores_them(
    older_archive: Path, store_args: tuple[str, ...]
) -> None:
    """Before: A and E were shown as a changed canonical_url of their old article, and B (no article yet) not at all."""
    code, out, err = run_cli(older_archive, *store_args, "reparse", "--diff", "--json")
    assert code == 0, err
    report = json.loads(out)
    by_url = {item["url"]: item for item in report}
    assert {url: item["action"] for url, item in by_url.items()} == {
        f"{NEWS}/a": "moved",
        f"{NEWS}/e-target": "moved",
        f"{NEWS}/declined": "added",
        f"{NEWS}/changed": "changed",
    }
    assert by_url[f"{NEWS}/a"]["from"]["url"] == f"{NEWS}/a?ref=rss"
    assert by_url[f"{NEWS}/e-target"]["from"]["url"] == f"{NEWS}/e?from=home"
    assert by_url[f"{NEWS}/changed"]["changes"] == {"headline": {"old": "An older parser's headline", "new": "Story C"}}
    assert "reparse --diff: 1 articles would change, 2 would move, 1 would be added" in err

    before = _by_id(older_archive, store_args)
    code, out, err = run_cli(older_archive, *store_args, "reparse", "--json")
    assert code == 0, err
    counts = json.loads(out)
    assert (counts["new"], counts["updated"]) == (2, 2)  # A and B new; C and e-target (now E's story) updated
    after = _by_id(older_archive, store_args)

    # Every article reparse added, and every one it changed, is in the report, with the values reparse stored.
    reported = {item["id"]: item for item in report}
    assert set(after) - set(before) == {i for i in reported if i not in before}
    for article_id, item in reported.items():
        for key, pair in item["changes"].items():
            assert after[article_id][key] == pair["new"], (item["url"], key)
            if article_id in before:
                assert before[article_id][key] == pair["old"], (item["url"], key)
        if item["action"] == "moved":  # the article under the old key stays as it was
            assert after[item["from"]["id"]] == before[item["from"]["id"]]
    for article_id in set(before) - set(reported):
        unchanged = {k: v for k, v in after[article_id].items() if k not in _CAPTURE_FIELDS}
        assert unchanged == {k: v for k, v in before[article_id].items() if k not in _CAPTURE_FIELDS}

    # Reparse did it all: a diff now has nothing to report.
    code, out, err = run_cli(older_archive, *store_args, "reparse", "--diff", "--json")
    assert code == 0, err
    assert json.loads(out) == []
    assert "reparse --diff: 0 articles would change, 0 would move, 0 would be added" in err


def test_diff_shows_moved_and_added_articles_as_text(older_archive: Path, store_args: tuple[str, ...]) -> None:
    code, out, err = run_cli(older_archive, *store_args, "reparse", "--diff")
    assert code == 0, err
    assert f"moved {NEWS}/a?ref=rss -> {NEWS}/a" in out
    assert f"moved {NEWS}/e?from=home -> {NEWS}/e-target" in out
    assert f"added {NEWS}/declined" in out
    assert "    + Story B, declined by an older parser" in out
    assert "    - An older parser's headline\n    + Story C" in out


# --- -q: only the problems ----------------------------------------------------------------------------------------


def test_quiet_diff_prints_the_changes_but_no_summary(older_archive: Path, store_args: tuple[str, ...]) -> None:
    code, out, err = run_cli(older_archive, *store_args, "-q", "reparse", "--diff")
    assert code == 0
    assert f"added {NEWS}/declined" in out
    assert err == ""
    code, out, err = run_cli(older_archive, *store_args, "reparse", "--diff", "-q", "--json")
    assert code == 0 and len(json.loads(out)) == 4 and err == ""


def test_quiet_diff_still_warns_and_exits_1_where_pages_failed(copy_archive: Path, tmp_path: Path) -> None:
    shutil.move(copy_archive / "warc", tmp_path / "moved-away")
    code, out, err = run_cli(copy_archive, "-q", "reparse", "--diff")
    assert code == 1
    assert out == ""
    assert err.startswith("warning: WARC file missing: ") and err.count("\n") == 1


def test_a_page_the_parser_now_fails_on_keeps_its_article_in_the_diff_as_in_reparse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the diff showed every field of the stored article going to null and an "error" field, where reparse
    keeps the article (and warns, exit 1)."""
    import newsarchive.pipeline
    from newsarchive.article import Article

    url = f"{NEWS}/emptied"
    source = warc(tmp_path / "n.warc.gz", [(url, b"<html><head><title>T</title></head><body></body></html>", None)])
    archive = tmp_path / "archive"
    with monkeypatch.context() as older:
        older.setattr(newsarchive.pipeline, "parse_page", lambda body, url, **_: Article(url, "An older read", "Text."))
        assert run_cli(archive, "import-warc", str(source))[0] == 0
    before = export_jsonl(archive)
    code, out, err = run_cli(archive, "reparse", "--diff", "--json")
    assert code == 1
    assert json.loads(out) == []
    assert f"warning: {url}: no article text found" in err
    assert "0 articles would change, 0 would move, 0 would be added, 1 failed" in err
    code, _, reparse_err = run_cli(archive, "reparse")
    assert code == 1 and f"warning: {url}: no article text found" in reparse_err
    assert export_jsonl(archive) == before
