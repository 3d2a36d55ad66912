"""The newest-first listing of one year: newsarchive against FTS5's listing, with and without its total.

``bench/search_bench.py`` times FTS5's listing as ten rows (``fts5_peer.LIST_SQL``); a newsarchive listing also
says how many articles the range holds ("1-10 of 8,291"). This times, in one process and alternated query by
query, our listing (``search`` with dates and ``sort="newest"``, the store answering), FTS5's ten rows, and FTS5's
ten rows followed by the range's ``COUNT(*)``: the same answer as ours. Run it on a directory that
``search_bench.py --keep DIR`` built:

    python bench/listing_bench.py DIR
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fts5_peer
from search_bench import _pct

from newsarchive.index.writer import open_index
from newsarchive.pipeline import Archive
from newsarchive.search import SearchRequest, search

COUNT_SQL = "SELECT COUNT(*) FROM meta WHERE published BETWEEN ? AND ?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path, help="a search_bench.py --keep directory (archive/ and fts5.sqlite)")
    ap.add_argument("--runs", type=int, default=300, help="listings per engine (the first 20 are a warm-up)")
    args = ap.parse_args()
    archive = Archive(args.dir / "archive")
    ix = open_index(archive.index_dir)
    peer = fts5_peer.Peer(args.dir / "fts5.sqlite")
    rng = random.Random(3)
    labels = ("newsarchive (10 hits + total)", "FTS5 (10 rows)", "FTS5 (10 rows + total)")
    times: dict[str, list[float]] = {label: [] for label in labels}
    total = 0
    with archive:
        search(ix, SearchRequest("warmup", limit=10), store=archive.store)
        for run in range(args.runs):
            year = rng.randint(2015, 2024)
            start = datetime(year, 1, 1, tzinfo=UTC)
            end = datetime(year, 12, 31, 23, 59, 59, tzinfo=UTC)
            span = (int(start.timestamp()), int(end.timestamp()))
            req = SearchRequest(date_from=start, date_to=end, sort="newest", limit=10)

            def ours(req: SearchRequest = req) -> None:
                nonlocal total
                total = search(ix, req, store=archive.store).total

            def fts5_rows(span: tuple[int, int] = span) -> None:
                peer.listing(span)

            def fts5_total(span: tuple[int, int] = span) -> None:
                peer.listing(span)
                peer.db.execute(COUNT_SQL, span).fetchone()

            steps: list[Callable[[], None]] = [ours, fts5_rows, fts5_total]
            for label, step in zip(times, steps, strict=True):
                t = time.perf_counter()
                step()
                if run >= 20:
                    times[label].append((time.perf_counter() - t) * 1000)
    ix.close()
    print(f"one-year listings, newest first, {args.runs - 20} each (last total: {total:,})")
    for label, ms in times.items():
        print(f"{label:32s} p50 {_pct(ms, 0.5):6.3f}  p95 {_pct(ms, 0.95):6.3f} ms")


if __name__ == "__main__":
    main()
