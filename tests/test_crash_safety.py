"""SIGKILL `ingest` at many points; the next run completes with every article exactly once and all files sound."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server import FixtureServer
from whoosh import index as whoosh_index

N_ARTICLES = 24
KILL_POINTS = 20
WARCIO = "import sys; from warcio.cli import main; sys.exit(main(sys.argv[1:]))"

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Story {n}</title>
<meta property="article:published_time" content="2024-03-{day:02d}T10:00:00+02:00"></head>
<body><nav>Home</nav><article><h1>Story number {n} about the harbour</h1>
<p>Paragraph one of story {n}: the harbour authority said on Monday that ships would be delayed.</p>
<p>Paragraph two of story {n}: officials expect the backlog to clear by the end of the week.</p>
<p>Paragraph three of story {n}: {filler}</p></article></body></html>"""


@pytest.fixture(scope="module")
def crash_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureServer]:
    root = tmp_path_factory.mktemp("crash-site")
    (root / "news").mkdir()
    urls = []
    for n in range(N_ARTICLES):
        filler = "More detail follows in the usual measured tone of a wire report. " * 20
        (root / "news" / f"story-{n}.html").write_text(PAGE.format(n=n, day=1 + n % 28, filler=filler), "utf-8")
        urls.append(f"<url><loc>{{{{BASE}}}}/news/story-{n}.html</loc></url>")
    (root / "sitemap.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(urls)
        + "</urlset>"
    )
    server = FixtureServer(root).start()
    yield server
    server.stop()


def _ingest(archive: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NEWSARCHIVE_ALLOW_PRIVATE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "newsarchive", "--archive", str(archive), "-q", "ingest"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _setup(archive: Path, server: FixtureServer) -> None:
    archive.mkdir(parents=True)
    (archive / "sources.toml").write_text(
        f'[settings]\ndelay = 0.02\n\n[[source]]\nname = "crash"\nstart = ["{server.url("/sitemap.xml")}"]\n'
    )


def _check_sound(archive: Path) -> dict[str, int]:
    db = sqlite3.connect(archive / "store.sqlite")
    articles = db.execute("SELECT COUNT(*), COUNT(DISTINCT canonical_url) FROM articles").fetchone()
    pending = db.execute("SELECT COUNT(*) FROM frontier WHERE state != 'done'").fetchone()[0]
    queued = db.execute("SELECT COUNT(*) FROM index_queue").fetchone()[0]
    store_ids = {r[0] for r in db.execute("SELECT id FROM articles")}
    db.close()
    for warc in (archive / "warc").glob("*.warc.gz"):
        check = subprocess.run([sys.executable, "-c", WARCIO, "check", str(warc)], capture_output=True, text=True)
        assert check.returncode == 0, f"{warc.name}: {check.stdout}{check.stderr}"
    ix = whoosh_index.open_dir(str(archive / "index"))
    with ix.searcher() as s:
        index_ids = {fields["id"] for fields in s.all_stored_fields()}
    ix.close()
    assert index_ids == store_ids, "store and index disagree"
    return {"articles": articles[0], "distinct": articles[1], "pending": pending, "queued": queued}


def test_ingest_killed_at_many_points_loses_and_duplicates_nothing(crash_site: FixtureServer, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline"
    _setup(baseline, crash_site)
    start = time.monotonic()
    proc = _ingest(baseline)
    _out, err = proc.communicate(timeout=120)
    full = time.monotonic() - start
    assert proc.returncode == 0, err.decode()
    assert _check_sound(baseline) == {"articles": N_ARTICLES, "distinct": N_ARTICLES, "pending": 0, "queued": 0}

    outcomes = []
    for i in range(1, KILL_POINTS + 1):
        archive = tmp_path / f"kill-{i}"
        _setup(archive, crash_site)
        proc = _ingest(archive)
        time.sleep(full * i / (KILL_POINTS + 1))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        killed_early = proc.returncode == -signal.SIGKILL
        rerun = _ingest(archive)
        _, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, f"kill point {i}: {err.decode()}"
        state = _check_sound(archive)
        assert state == {"articles": N_ARTICLES, "distinct": N_ARTICLES, "pending": 0, "queued": 0}, f"point {i}"
        outcomes.append(killed_early)
    # Most kill points must really have interrupted a run (not landed after it finished).
    assert sum(outcomes) >= KILL_POINTS * 3 // 4, json.dumps(outcomes)
