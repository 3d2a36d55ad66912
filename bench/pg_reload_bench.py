"""Searches during a reload of the PostgreSQL search tables (``reindex``: PgSearch.bulk_load, docs/scale-out.md).

Loads the corpus once, then reloads it (``replace=True``) while a searcher thread on its own connection searches
frequent words every 50 ms: prints the reload's time and rate, how many searches were answered during it, and their
p50 and slowest latency (a search that waited for the reload shows as one search as long as the reload).

    python bench/pg_reload_bench.py --corpus /path/archive/store.sqlite --n 100000

Starts its own throwaway PostgreSQL cluster (tests/pg_cluster.py), or uses --url postgresql://... (its search tables
are replaced).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from pg_cluster import Cluster, find_bin_dir  # noqa: E402

from newsarchive.index.pg_search import LOAD_PROCS, PgSearch, connect  # noqa: E402
from newsarchive.search import SearchRequest  # noqa: E402
from newsarchive.store.articles import ArticleStore  # noqa: E402

WORDS = ("غزة", "مدينة", "الاحتلال", "court", "growth")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="an archive's store.sqlite (bench/make_corpus.py)")
    ap.add_argument("--n", type=int, default=100_000, help="articles to load")
    ap.add_argument("--url", help="a PostgreSQL database of your own (its search tables are replaced)")
    args = ap.parse_args()
    cluster = None
    url = args.url
    if url is None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            sys.exit("no PostgreSQL binaries found (install postgresql, or give --url)")
        cluster = Cluster(bin_dir).start()
        url = cluster.new_database()
    store = ArticleStore(args.corpus)
    try:
        loader = PgSearch(connect(url))
        t = time.perf_counter()
        loader.bulk_load(itertools.islice(store.iter_articles(order="id"), args.n), replace=True, procs=LOAD_PROCS)
        print(f"first load: {args.n} articles in {time.perf_counter() - t:.0f} s")
        done = threading.Event()
        times: list[tuple[float, float]] = []  # (when it started, how long it took)

        def search() -> None:
            pg = PgSearch(connect(url), create=False)
            for word in itertools.cycle(WORDS):
                if done.is_set():
                    break
                started = time.perf_counter()
                pg.search(SearchRequest(word, limit=10))
                times.append((started, time.perf_counter() - started))
                time.sleep(0.05)
            pg.close()

        searcher = threading.Thread(target=search)
        searcher.start()
        time.sleep(2)
        start = time.perf_counter()
        loader.bulk_load(itertools.islice(store.iter_articles(order="id"), args.n), replace=True, procs=LOAD_PROCS)
        took = time.perf_counter() - start
        time.sleep(1)
        done.set()
        searcher.join()
        during = sorted(d for at, d in times if at + d >= start and at <= start + took)
        print(f"reload: {args.n} articles in {took:.0f} s ({args.n / took:.0f} articles/s)")
        print(
            f"searches answered during the reload: {len(during)}, p50 {statistics.median(during) * 1000:.0f} ms,"
            f" slowest {', '.join(f'{d * 1000:.0f}' for d in during[-3:])} ms"
        )
        loader.close()
    finally:
        store.close()
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
