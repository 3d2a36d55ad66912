"""A search while another process (cron's ingest) writes the index sees whole commits only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsarchive.index.writer import (
    RETIRE_GRACE,
    RETIRED_FILE,
    IndexWriter,
    create_index,
    open_index,
    retire_files,
    write_articles,
)
from newsarchive.search import SearchRequest, search
from tests.test_search_query import ARTICLES

BATCH, BATCHES = 20, 30
ROOT = Path(__file__).resolve().parent.parent

WRITER = f"""
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from newsarchive.article import Article
from newsarchive.index.writer import open_index, write_articles
ix = open_index(Path(sys.argv[1]))
for batch in range({BATCHES}):
    write_articles(ix, [
        Article(url=f"https://w.example/{{batch}}/{{i}}", headline=f"Harvest report {{batch}} {{i}}",
                body="The harvest of grain rose again this week. " * 40, site="wire", lang="en", tags=("Harvest",),
                published=datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=batch))
        for i in range({BATCH})
    ])
"""


@pytest.mark.slow
def test_searches_during_index_writes_see_whole_commits(tmp_path: Path) -> None:
    directory = tmp_path / "ix"
    write_articles(create_index(directory), ARTICLES)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(directory)], env=env, stderr=subprocess.PIPE)
    totals: list[int] = []
    try:
        while writer.poll() is None:
            results = search(open_index(directory), SearchRequest("harvest", facets=True, limit=5))
            assert results.total % BATCH == 0, "a search saw part of a commit"
            assert results.total >= (totals[-1] if totals else 0), "a search went back to an older commit"
            assert dict(results.facets["tag"]).get("harvest", 0) == results.total
            assert len(results.hits) == min(5, results.total)
            totals.append(results.total)
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0, writer.stderr.read().decode() if writer.stderr else ""
    assert search(open_index(directory), SearchRequest("harvest")).total == BATCH * BATCHES
    assert len(set(totals)) > 3, f"the searches did not overlap the writes: {sorted(set(totals))}"


def test_files_a_commit_replaced_stay_for_the_grace_period_then_go(tmp_path: Path) -> None:
    directory = tmp_path / "ix"
    index = create_index(directory)
    for article in ARTICLES:
        write_articles(index, [article])
    IndexWriter(index).commit(optimize=True)  # one segment replaces the four
    toc = index._read_toc()
    live = {s.segment_id() for s in toc.segments}
    segment_files = {p.name.split(".")[0] for p in directory.glob("MAIN_*") if p.name != "MAIN_WRITELOCK"}
    assert segment_files - live, "no replaced segment to retire"  # kept: a search may still read them
    retired = json.loads((directory / RETIRED_FILE).read_text())
    assert retired and all(not name.startswith(tuple(live)) for name in retired)

    retire_files(directory, "MAIN", toc.generation, toc.segments, now=time.time() + RETIRE_GRACE + 1)
    assert {p.name.split(".")[0] for p in directory.glob("MAIN_*") if p.name != "MAIN_WRITELOCK"} == live
    assert json.loads((directory / RETIRED_FILE).read_text()) == {}
    assert search(open_index(directory), SearchRequest("grain")).total == 1
