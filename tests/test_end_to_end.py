"""The whole pipeline through a real local HTTP server: fetch -> WARC -> parse -> search -> export -> reparse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from server import FixtureServer

from newsarchive.cli import cli

WARCIO = "import sys; from warcio.cli import main; sys.exit(main(sys.argv[1:]))"
PAGES = ["/news/crimea-red-line.html", "/news/poland-troops.html", "/news/grain-deal.html"]


def run(archive: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--archive", str(archive), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _fetch_all(archive: Path, server: FixtureServer) -> None:
    code, _, err = run(archive, "fetch", "--delay", "0", *[server.url(p) for p in PAGES])
    assert code == 0, err
    assert "3 new" in err


def test_fetch_archives_raw_pages_as_valid_warc(site_server: FixtureServer, archive_dir: Path) -> None:
    _fetch_all(archive_dir, site_server)
    warcs = list((archive_dir / "warc").glob("*.warc.gz"))
    assert len(warcs) == 1
    check = subprocess.run([sys.executable, "-c", WARCIO, "check", str(warcs[0])], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    index = subprocess.run([sys.executable, "-c", WARCIO, "index", str(warcs[0])], capture_output=True, text=True)
    types = [json.loads(line)["warc-type"] for line in index.stdout.splitlines()]
    assert types == ["warcinfo"] + ["response", "request"] * 3


def test_raw_page_is_kept_byte_for_byte(site_server: FixtureServer, archive_dir: Path) -> None:
    _fetch_all(archive_dir, site_server)
    result = CliRunner().invoke(cli, ["--archive", str(archive_dir), "show", "--raw", site_server.url(PAGES[0])])
    assert result.exit_code == 0
    assert result.stdout_bytes == (site_server.root / PAGES[0].lstrip("/")).read_bytes()


def test_fetched_article_is_found_by_keyword_and_month(site_server: FixtureServer, archive_dir: Path) -> None:
    _fetch_all(archive_dir, site_server)
    code, out, _ = run(archive_dir, "search", "crimea blinken", "--from", "2023-02", "--to", "2023-02", "--json")
    assert code == 0
    hits = json.loads(out)
    assert [h["headline"] for h in hits] == ["US not actively encouraging Ukraine to retake Crimea"]
    assert hits[0]["published"] == "2023-02-16T08:35:00+02:00"
    assert "Blinken" in hits[0]["snippet"]
    code, out, _ = run(archive_dir, "search", "crimea blinken", "--from", "2023-03", "--json")
    assert json.loads(out) == []


def test_export_jsonl_holds_every_article_with_capture(site_server: FixtureServer, archive_dir: Path) -> None:
    _fetch_all(archive_dir, site_server)
    code, out, _ = run(archive_dir, "export", "--jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 3
    assert all(r["capture"]["warc"].endswith(".warc.gz") and r["capture"]["status"] == 200 for r in records)
    assert [r["published"][:10] for r in records] == ["2024-03-16", "2023-07-02", "2023-02-16"]  # newest first


def test_reparse_with_server_stopped_gives_the_same_articles(site_server: FixtureServer, archive_dir: Path) -> None:
    _fetch_all(archive_dir, site_server)
    _, before, _ = run(archive_dir, "export", "--jsonl")
    site_server.stop()
    code, _, err = run(archive_dir, "reparse")
    assert code == 0, err
    assert "3 unchanged" in err
    _, after, _ = run(archive_dir, "export", "--jsonl")
    assert after == before


def test_warc_alone_rebuilds_the_archive_offline(site_server: FixtureServer, archive_dir: Path, tmp_path: Path) -> None:
    _fetch_all(archive_dir, site_server)
    site_server.stop()
    _, before, _ = run(archive_dir, "export", "--jsonl")
    fresh = tmp_path / "fresh"
    warcs = [str(p) for p in (archive_dir / "warc").glob("*.warc.gz")]
    code, _, err = run(fresh, "import-warc", *warcs)
    assert code == 0, err

    def content(text: str) -> list[dict[str, object]]:
        out = []
        for line in text.splitlines():
            record = json.loads(line)
            for volatile in ("capture",):
                record.pop(volatile)
            out.append(record)
        return out

    _, after, _ = run(fresh, "export", "--jsonl")
    assert content(after) == content(before)
    code, out, _ = run(fresh, "search", "grain corridor", "--json")
    assert [h["headline"] for h in json.loads(out)] == ["Black Sea grain corridor talks resume in Istanbul"]


def test_refetching_unchanged_pages_adds_no_duplicates(site_server: FixtureServer, archive_dir: Path) -> None:
    _fetch_all(archive_dir, site_server)
    code, _, err = run(archive_dir, "fetch", "--delay", "0.2", *[site_server.url(p) for p in PAGES])
    assert code == 0
    assert "3 unchanged" in err
    _, out, _ = run(archive_dir, "export", "--jsonl")
    assert len(out.splitlines()) == 3


def test_reparse_diff_shows_field_changes_and_writes_nothing(site_server: FixtureServer, archive_dir: Path) -> None:
    _fetch_all(archive_dir, site_server)
    import sqlite3

    db = sqlite3.connect(archive_dir / "store.sqlite")
    row = db.execute("SELECT id, json FROM articles WHERE url LIKE '%grain-deal%'").fetchone()
    data = json.loads(row[1])
    data["headline"] = "An older parser's headline"
    db.execute("UPDATE articles SET json = ? WHERE id = ?", (json.dumps(data), row[0]))
    db.commit()
    db.close()
    code, out, err = run(archive_dir, "reparse", "--diff", "--json")
    assert code == 0, err
    changes = json.loads(out)
    assert len(changes) == 1
    assert changes[0]["changes"] == {
        "headline": {"old": "An older parser's headline", "new": "Black Sea grain corridor talks resume in Istanbul"}
    }
    code, out, _ = run(archive_dir, "reparse", "--diff", "--json")
    assert len(json.loads(out)) == 1  # still there: --diff wrote nothing
