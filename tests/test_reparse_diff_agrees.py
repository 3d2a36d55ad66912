"""`reparse --diff` shows what `reparse` would do, and both refuse an archive that is not there.

The diff runs every page through the steps reparse takes before it writes (feed fields merged, the
article cleaned, an untrusted canonical URL dropped), reports the captures reparse could not read with
the same warnings and exit status, and on a mistyped --archive says so (exit 2) and creates nothing.

After reparse the archive holds what parsing each page afresh gives: an article whose page now gives another
key (canonical URL) is removed (from the store, the index and exports; its text kept in the new article's
history), or replaced by the article of another page that still gives its key; the diff reports each of
these as reparse then does it, on both stores, whatever the order of the pages, with --changed, and after a
reparse killed before it removed them (_diff_then_reparse checks every report against the store).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import TOUR, export_jsonl, run_cli
from hostile_kit import page, warc

from newsarchive.article import ParserInfo

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
    assert "0 articles would change, 0 would move, 0 would be added, 0 would be removed, 1 failed" in err
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


def _removed_ids(report: list[dict[str, Any]]) -> set[str]:
    """The articles the report says reparse takes away: ``removed`` entries, and ``moved`` ones' old article."""
    ids = {item["id"] for item in report if item["action"] == "removed"}
    return ids | {item["from"]["id"] for item in report if item["action"] == "moved" and item["from"]["removed"]}


def _diff_then_reparse(
    archive: Path, store_args: tuple[str, ...], *flags: str, code: int = 0
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``reparse --diff`` then ``reparse`` (both with ``flags``), and the check that the report is what reparse did:
    every article it added or changed holds the reported values, the old of each was the stored one, it took away
    exactly the articles reported removed (and no other), left every other one as it was, and a diff after it is
    empty. (report, reparse's counts, articles before, articles after)."""
    got, out, err = run_cli(archive, *store_args, "reparse", "--diff", "--json", *flags)
    assert got == code, err
    report = json.loads(out)
    removed = _removed_ids(report)
    assert f"{len(removed)} would be removed" in run_cli(archive, *store_args, "reparse", "--diff", *flags)[2]
    before = _by_id(archive, store_args)
    got, out, err = run_cli(archive, *store_args, "reparse", "--json", *flags)
    assert got == code, err
    counts = json.loads(out)
    after = _by_id(archive, store_args)

    assert set(before) - set(after) == removed
    assert counts["removed"] == len(removed)
    reported = {item["id"]: item for item in report if item["action"] != "removed"}
    assert set(after) - set(before) == {i for i in reported if i not in before}
    for article_id, item in reported.items():
        for key, pair in item["changes"].items():
            assert after[article_id][key] == pair["new"], (item["url"], key)
            if article_id in before:
                assert before[article_id][key] == pair["old"], (item["url"], key)
        if item["action"] == "moved" and not item["from"]["removed"]:
            assert item["from"]["id"] in after  # another page gives it: it stays
    for article_id in set(before) - set(reported) - removed:
        unchanged = {k: v for k, v in after[article_id].items() if k not in _CAPTURE_FIELDS}
        assert unchanged == {k: v for k, v in before[article_id].items() if k not in _CAPTURE_FIELDS}

    # Reparse did it all: a diff now has nothing to report.
    got, out, err = run_cli(archive, *store_args, "reparse", "--diff", "--json", *flags)
    assert got == code, err
    assert json.loads(out) == []
    return report, counts, before, after


def test_diff_reports_moved_and_added_articles_as_reparse_then_stores_them(
    older_archive: Path, store_args: tuple[str, ...]
) -> None:
    """Before: A and E were shown as a changed canonical_url of their old article, and B (no article yet) not at all;
    then reparse left A's and E's old articles in the store, their page's story there twice."""
    code, _, err = run_cli(older_archive, *store_args, "reparse", "--diff")
    assert code == 0, err
    assert "reparse --diff: 1 articles would change, 2 would move, 1 would be added, 2 would be removed" in err
    report, counts, _, after = _diff_then_reparse(older_archive, store_args)
    by_url = {item["url"]: item for item in report}
    assert {url: item["action"] for url, item in by_url.items()} == {
        f"{NEWS}/a": "moved",
        f"{NEWS}/e-target": "moved",
        f"{NEWS}/declined": "added",
        f"{NEWS}/changed": "changed",
    }
    assert by_url[f"{NEWS}/a"]["from"]["url"] == f"{NEWS}/a?ref=rss"
    assert by_url[f"{NEWS}/e-target"]["from"]["url"] == f"{NEWS}/e?from=home"
    assert by_url[f"{NEWS}/a"]["from"]["removed"] and by_url[f"{NEWS}/e-target"]["from"]["removed"]
    assert by_url[f"{NEWS}/changed"]["changes"] == {"headline": {"old": "An older parser's headline", "new": "Story C"}}
    assert (counts["new"], counts["updated"], counts["removed"]) == (2, 2, 2)  # A, B new; C, e-target updated
    # One article per page, each under its canonical URL: the old keys are gone.
    assert sorted(a["canonical_url"] for a in after.values()) == [
        f"{NEWS}/a", f"{NEWS}/changed", f"{NEWS}/declined", f"{NEWS}/e-target", f"{NEWS}/same",
    ]  # fmt: skip


def test_reparse_takes_the_old_article_out_of_search_and_keeps_it_in_the_history(
    older_archive: Path, store_args: tuple[str, ...]
) -> None:
    def hits(headline: str) -> list[str]:
        code, out, err = run_cli(older_archive, *store_args, "search", f'"{headline}"', "--json")
        assert code in (0, 1), err
        return [a["canonical_url"] for a in json.loads(out or "[]") if a["headline"] == headline]

    assert hits("Story A") == [f"{NEWS}/a?ref=rss"]
    assert run_cli(older_archive, *store_args, "reparse")[0] == 0
    assert hits("Story A") == [f"{NEWS}/a"]  # was twice: the old article stayed in the index
    assert hits("Story E") == [f"{NEWS}/e-target"]
    code, out, err = run_cli(older_archive, *store_args, "show", f"{NEWS}/a", "--json", "--history")
    assert code == 0, err
    shown = json.loads(out)
    assert [(v["canonical_url"], v["headline"]) for v in shown["history"]] == [(f"{NEWS}/a?ref=rss", "Story A")]
    code, out, _ = run_cli(older_archive, *store_args, "show", f"{NEWS}/e-target", "--json", "--history")
    history = [(v["canonical_url"], v["headline"]) for v in json.loads(out)["history"]]
    assert history == [(f"{NEWS}/e-target", "The target's own story"), (f"{NEWS}/e?from=home", "Story E")]
    # The old key finds the page's article now (its URL), as any URL of the page does.
    code, out, _ = run_cli(older_archive, *store_args, "show", f"{NEWS}/a?ref=rss", "--json")
    assert code == 0 and json.loads(out)["canonical_url"] == f"{NEWS}/a"


# --- two pages of one old canonical URL, one of which moves ------------------------------------------------------

SHARED, OWN = f"{NEWS}/shared", f"{NEWS}/own"
STAYS, MOVES = f"{NEWS}/shared?ref=rss", f"{NEWS}/shared?ref=home"


def _shared_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_args: tuple[str, ...], *, mover: str, first: str
) -> Path:
    """Two pages an older parser both gave SHARED (it read their og:url); the current one reads MOVES's
    <link rel=canonical>, OWN. ``mover``: "older" or "newer", its capture time against STAYS's; ``first``: which
    page the WARC file (so the store, and reparse) has first. With an old parser version on MOVES's article only."""
    import newsarchive.pipeline

    stays = (STAYS, page("Story One", f'<link rel="canonical" href="{SHARED}">'), "")
    moves = (MOVES, page("Story Two", f'<link rel="canonical" href="{OWN}">'), "")
    times = ["2024-03-17T08:00:00Z", "2024-03-17T09:00:00Z"]
    stays_at, moves_at = times if mover == "newer" else times[::-1]
    records = [(stays[0], stays[1], stays_at), (moves[0], moves[1], moves_at)]
    source = warc(tmp_path / "shared.warc.gz", records if first == "stays" else records[::-1])
    current = newsarchive.pipeline.parse_page

    def older(body: bytes, url: str, **kwargs: object) -> object:
        article = current(body, url, **kwargs)  # type: ignore[arg-type]
        article = article.replace(canonical_url=SHARED)
        if url == MOVES:
            article = article.replace(parser=ParserInfo(article.parser.name, "0-older"))
        return article

    archive = tmp_path / "archive"
    with monkeypatch.context() as patched:
        patched.setattr(newsarchive.pipeline, "parse_page", older)
        code, _, err = run_cli(archive, *store_args, "import-warc", str(source))
    assert code == 0, err
    return archive


@pytest.mark.parametrize("first", ["stays", "moves"])
@pytest.mark.parametrize("mover", ["older", "newer"])
def test_two_pages_of_one_old_key_one_moving_give_both_articles_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_args: tuple[str, ...], mover: str, first: str
) -> None:
    """The old key's article is the page that stays, whichever was newer and whichever reparse met first."""
    archive = _shared_archive(tmp_path, monkeypatch, store_args, mover=mover, first=first)
    (shared_before,) = _by_id(archive, store_args).values()
    assert shared_before["headline"] == ("Story Two" if mover == "newer" else "Story One")
    report, counts, _, after = _diff_then_reparse(archive, store_args)
    assert {a["canonical_url"]: a["headline"] for a in after.values()} == {SHARED: "Story One", OWN: "Story Two"}
    assert counts["removed"] == 0
    actions = {item["url"]: item["action"] for item in report}
    if mover == "newer":  # the shared key's article was MOVES's: it moves, STAYS's takes the old key
        assert actions == {OWN: "moved", SHARED: "changed"}
        (moved,) = [item for item in report if item["action"] == "moved"]
        assert moved["from"] == {"id": shared_before["id"], "url": SHARED, "removed": False}
        shared = next(a for a in after.values() if a["canonical_url"] == SHARED)
        code, out, _ = run_cli(archive, *store_args, "show", SHARED, "--json", "--history")
        # STAYS's text, filed in the history when reparse met it (older), is the current one: not kept twice.
        assert all(v["headline"] != "Story One" for v in json.loads(out)["history"])
        assert shared["url"] == STAYS
    else:  # STAYS's page was the current one: MOVES's, in the history, only gives an article of its own
        assert actions == {OWN: "added"}
    code, _, err = run_cli(archive, *store_args, "reparse", "--diff")
    assert code == 0 and "0 would be removed" in err


def test_reparse_changed_gives_the_old_key_to_the_page_that_stays_though_it_did_not_parse_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_args: tuple[str, ...]
) -> None:
    """--changed parses only MOVES (its parser has a new version); STAYS, in the old key's history, is parsed at the
    end to see that it still gives the old key, and takes it."""
    archive = _shared_archive(tmp_path, monkeypatch, store_args, mover="newer", first="moves")
    report, counts, _, after = _diff_then_reparse(archive, store_args, "--changed")
    assert {a["canonical_url"]: a["headline"] for a in after.values()} == {SHARED: "Story One", OWN: "Story Two"}
    assert {item["url"]: item["action"] for item in report} == {OWN: "moved", SHARED: "changed"}
    assert counts["updated"] + counts["new"] == 1  # the one page --changed parsed


@pytest.mark.parametrize("newer_first", [False, True])
def test_two_pages_moving_to_one_key_take_both_old_articles_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_args: tuple[str, ...], newer_first: bool
) -> None:
    """The first page met is the new key's "moved" entry; the second, which no entry names (it replaces the first's
    article, or goes into its history, being older), is "removed" of its own."""
    import newsarchive.pipeline

    head = f'<link rel="canonical" href="{SHARED}">'
    records = [
        (STAYS, page("Story", head), "2024-03-17T08:00:00Z"),
        (MOVES, page("Story", head), "2024-03-17T09:00:00Z"),
    ]
    source = warc(tmp_path / "two.warc.gz", records[::-1] if newer_first else records)
    current = newsarchive.pipeline.parse_page
    archive = tmp_path / "archive"
    with monkeypatch.context() as patched:
        patched.setattr(
            newsarchive.pipeline,
            "parse_page",
            lambda body, url, **kw: current(body, url, **kw).replace(canonical_url=url),
        )
        assert run_cli(archive, *store_args, "import-warc", str(source))[0] == 0
    report, counts, _, after = _diff_then_reparse(archive, store_args)
    assert [(a["canonical_url"], a["url"]) for a in after.values()] == [(SHARED, MOVES)]  # the newer page's
    assert counts["removed"] == 2
    first, second = (MOVES, STAYS) if newer_first else (STAYS, MOVES)
    moved, removed = report
    assert (moved["action"], moved["url"], moved["from"]["url"], moved["from"]["removed"]) == (
        "moved",
        SHARED,
        first,
        True,
    )
    assert (removed["action"], removed["url"], removed["to"]["url"]) == ("removed", second, SHARED)
    code, out, _ = run_cli(archive, *store_args, "reparse", "--diff")
    assert code == 0 and out == ""
    code, out, _ = run_cli(archive, *store_args, "show", SHARED, "--json", "--history")
    assert code == 0
    assert sorted(v["canonical_url"] for v in json.loads(out)["history"]) == [MOVES, STAYS]


def test_diff_shows_a_removed_article_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import newsarchive.pipeline

    head = f'<link rel="canonical" href="{SHARED}">'
    source = warc(tmp_path / "two.warc.gz", [(STAYS, page("Story", head), None), (MOVES, page("Story", head), None)])
    current = newsarchive.pipeline.parse_page
    archive = tmp_path / "archive"
    with monkeypatch.context() as patched:
        patched.setattr(
            newsarchive.pipeline,
            "parse_page",
            lambda body, url, **kw: current(body, url, **kw).replace(canonical_url=url),
        )
        assert run_cli(archive, "import-warc", str(source))[0] == 0
    code, out, err = run_cli(archive, "reparse", "--diff")
    assert code == 0, err
    assert f"moved {STAYS} -> {SHARED} (" in out
    assert f"removed {MOVES} (" in out and f"): its page gives {SHARED} now" in out
    assert "0 would be added, 2 would be removed" in err


def test_a_page_that_cannot_be_read_and_may_give_the_old_key_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_args: tuple[str, ...]
) -> None:
    """STAYS's record damaged: it may still give the old key (its parse is on record nowhere but the key's history),
    so the old article stays, with a warning, in the diff as in reparse."""
    from newsarchive.store.backend import StoreSpec, open_store

    archive = _shared_archive(tmp_path, monkeypatch, store_args, mover="newer", first="stays")
    spec = (
        StoreSpec("postgresql", url=store_args[1]) if store_args else StoreSpec("sqlite", path=archive / "store.sqlite")
    )
    store = open_store(spec, read_only=True)
    try:
        row = store.latest_capture(STAYS)
        assert row is not None
    finally:
        store.close()
    path = archive / "warc" / row.warc
    data = bytearray(path.read_bytes())
    data[row.offset + row.length // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    code, _, err = run_cli(archive, *store_args, "reparse", "--diff")
    assert code == 1
    assert (
        f"warning: {SHARED}: kept, though its page now gives {OWN}: pages that could not be read may still give it"
        in err
    )
    report, counts, before, after = _diff_then_reparse(archive, store_args, code=1)
    assert counts["removed"] == 0 and set(before) <= set(after)
    assert {item["url"]: item["action"] for item in report} == {OWN: "moved"}


# --- killed mid-way: nothing lost, the next run finishes ----------------------------------------------------------


@pytest.mark.parametrize("hit", [2, 6])
def test_reparse_killed_before_it_takes_the_old_articles_away_loses_nothing(
    older_archive: Path, store_args: tuple[str, ...], hit: int
) -> None:
    """Killed as it stored the second page's article, or the last one's (6 pages): the old articles are all there;
    the diff then reports their removal, and the next reparse does it."""
    before = _by_id(older_archive, store_args)
    env = {**os.environ, "NEWSARCHIVE_FAULTPOINT": f"after-article-commit:{hit}"}
    killed = subprocess.run(
        [sys.executable, "-m", "newsarchive", "--archive", str(older_archive), *store_args, "-q", "reparse"],
        env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    middle = _by_id(older_archive, store_args)
    assert set(before) <= set(middle)
    _, counts, _, after = _diff_then_reparse(older_archive, store_args)
    assert counts["removed"] == 2
    assert sorted(a["canonical_url"] for a in after.values()) == [
        f"{NEWS}/a", f"{NEWS}/changed", f"{NEWS}/declined", f"{NEWS}/e-target", f"{NEWS}/same",
    ]  # fmt: skip


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
    assert "0 articles would change, 0 would move, 0 would be added, 0 would be removed, 1 failed" in err
    code, _, reparse_err = run_cli(archive, "reparse")
    assert code == 1 and f"warning: {url}: no article text found" in reparse_err
    assert export_jsonl(archive) == before


def test_reparse_changed_killed_before_it_settles_is_finished_by_the_next_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_args: tuple[str, ...]
) -> None:
    """Killed once MOVES's new article is stored: its page is the current one of both keys then; the old key's
    article has the old parser version, so the next --changed parses the page again and settles it."""
    archive = _shared_archive(tmp_path, monkeypatch, store_args, mover="newer", first="moves")
    env = {**os.environ, "NEWSARCHIVE_FAULTPOINT": "after-article-commit:1"}
    killed = subprocess.run(
        [sys.executable, "-m", "newsarchive", "--archive", str(archive), *store_args, "-q", "reparse", "--changed"],
        env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    middle = {a["canonical_url"]: a["headline"] for a in _by_id(archive, store_args).values()}
    assert middle == {SHARED: "Story Two", OWN: "Story Two"}
    report, _, _, after = _diff_then_reparse(archive, store_args, "--changed")
    assert {a["canonical_url"]: a["headline"] for a in after.values()} == {SHARED: "Story One", OWN: "Story Two"}
    assert {item["url"]: item["action"] for item in report} == {SHARED: "changed"}
