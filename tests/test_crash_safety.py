"""SIGKILL `ingest` at named points; the next run completes with every article exactly once and all files sound.

The kills are deterministic: ``NEWSARCHIVE_FAULTPOINT=NAME:N`` makes the ingest process SIGKILL itself
the N-th time it reaches ``faultpoint("NAME")`` (newsarchive/faultpoint.py), so each case interrupts
the run at the same place on any machine, however loaded.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT
from server import FixtureServer, write_sitemap
from warcio.checker import Checker
from whoosh import index as whoosh_index

from newsarchive.faultpoint import POINTS

N_ARTICLES = 16
FIRST, MIDDLE, LAST = 1, N_ARTICLES // 2, N_ARTICLES
PER_PAGE = (
    "mid-warc-record",
    "after-warc-fsync",
    "after-capture-commit",
    "after-article-commit",
    "after-frontier-done",
)

#: Each case: the fault points that kill successive runs on one archive (NAME:N), before a run that must
#: complete. Every per-page point is killed at its first and its 16th hit (the WARC points are also hit
#: by the sitemap, archived during discovery); the chain kills each run that recovers from the kill
#: before it, at every point in turn, mid-run.
CASES: list[tuple[str, ...]] = [
    ("after-discovery",),
    *((f"{name}:{n}",) for name in PER_PAGE for n in (FIRST, LAST)),
    ("before-index-commit",),
    ("after-index-commit",),
    (f"mid-warc-record:{MIDDLE}", *(f"{name}:2" for name in PER_PAGE[1:]), "before-index-commit", "after-index-commit"),
]

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
    for n in range(N_ARTICLES):
        filler = "More detail follows in the usual measured tone of a wire report. " * 20
        (root / "news" / f"story-{n}.html").write_text(PAGE.format(n=n, day=1 + n % 28, filler=filler), "utf-8")
    write_sitemap(root, (f"/news/story-{n}.html" for n in range(N_ARTICLES)))
    server = FixtureServer(root).start()
    yield server
    server.stop()


def _ingest(archive: Path, faultpoint: str | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "NEWSARCHIVE_ALLOW_PRIVATE": "1"}
    env.pop("NEWSARCHIVE_FAULTPOINT", None)
    if faultpoint:
        env["NEWSARCHIVE_FAULTPOINT"] = faultpoint
    return subprocess.run(
        [sys.executable, "-m", "newsarchive", "--archive", str(archive), "-q", "ingest"],
        env=env, capture_output=True, timeout=120,
    )  # fmt: skip


def _setup(archive: Path, server: FixtureServer) -> None:
    archive.mkdir(parents=True)
    (archive / "sources.toml").write_text(
        f'[settings]\ndelay = 0.02\n\n[[source]]\nname = "crash"\nstart = ["{server.url("/sitemap.xml")}"]\n'
    )


def _warc_problems(warc: Path) -> str:
    """What ``warcio check`` says of a WARC file ('' when every record reads and its digests match)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = Checker(SimpleNamespace(inputs=[str(warc)], verbose=False)).process_all()
    return "" if status == 0 else out.getvalue() or f"exit {status}"


def _check_sound(archive: Path) -> dict[str, int]:
    db = sqlite3.connect(archive / "store.sqlite")
    articles = db.execute("SELECT COUNT(*), COUNT(DISTINCT canonical_url) FROM articles").fetchone()
    pending = db.execute("SELECT COUNT(*) FROM frontier WHERE state != 'done'").fetchone()[0]
    queued = db.execute("SELECT COUNT(*) FROM index_queue").fetchone()[0]
    store_ids = {r[0] for r in db.execute("SELECT id FROM articles")}
    db.close()
    warcs = sorted((archive / "warc").glob("*.warc.gz"))
    assert warcs
    for warc in warcs:
        assert _warc_problems(warc) == "", warc.name
    ix = whoosh_index.open_dir(str(archive / "index"))
    with ix.searcher() as s:
        index_ids = [fields["id"] for fields in s.all_stored_fields()]
    ix.close()
    assert sorted(index_ids) == sorted(store_ids), "store and index disagree"
    return {"articles": articles[0], "distinct": articles[1], "pending": pending, "queued": queued}


SOUND = {"articles": N_ARTICLES, "distinct": N_ARTICLES, "pending": 0, "queued": 0}


@pytest.mark.slow
@pytest.mark.parametrize("kills", CASES, ids=["+".join(case) for case in CASES])
def test_ingest_killed_at_a_fault_point_loses_and_duplicates_nothing(
    kills: tuple[str, ...], crash_site: FixtureServer, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    _setup(archive, crash_site)
    for point in kills:
        killed = _ingest(archive, point)
        assert killed.returncode == -signal.SIGKILL, f"{point} was not reached: {killed.stderr.decode()}"
    rerun = _ingest(archive)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert _check_sound(archive) == SOUND


FAULTPOINT_RUN = "from newsarchive.faultpoint import faultpoint\nfor _ in range(3): faultpoint('after-discovery')"


@pytest.mark.parametrize(
    ("spec", "killed"),
    [
        ("after-discovery:3", True),  # the third time
        ("after-discovery:4", False),  # a hit count never reached
        ("after-discovery", True),  # the first time
        ("", False),
        ("after-warc-fsync", False),  # another point
    ],
)
def test_a_fault_point_kills_only_when_named_and_only_at_its_hit_count(spec: str, killed: bool) -> None:
    env = {**os.environ, "NEWSARCHIVE_FAULTPOINT": spec, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", FAULTPOINT_RUN], env=env, capture_output=True, timeout=60)
    assert proc.returncode == (-signal.SIGKILL if killed else 0), proc.stderr.decode()


def test_every_fault_point_is_placed_once_in_the_code_and_killed_at_by_a_case() -> None:
    placed: dict[str, int] = {}
    for path in (ROOT / "newsarchive").rglob("*.py"):
        for name in re.findall(r'\bfaultpoint\("([a-z-]+)"\)', path.read_text("utf-8")):
            placed[name] = placed.get(name, 0) + 1
    assert placed == dict.fromkeys(POINTS, 1)
    assert {point.split(":")[0] for case in CASES for point in case} == set(POINTS)
