"""Search benchmark: indexing rate, index size, memory, process wall time and query latency p50/p95."""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from make_corpus import HOW, build, corpus_tags, make_articles

from newsarchive.index.writer import index_state, open_index
from newsarchive.pipeline import Archive
from newsarchive.search import SearchRequest, search

WORDS = ("government", "market", "police", "election", "company", "water", "school", "health", "energy", "data")


def _child(code: str) -> tuple[float, float]:
    """Run python code in a fresh process: (wall seconds, peak RSS MB of that process)."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter();"
        f" subprocess.run([sys.executable, '-c', {code!r}], check=True);"
        " print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", wrapper], check=True, capture_output=True, text=True).stdout.split()
    return float(out[-2]), float(out[-1])


def _cli(archive: Path, *args: str) -> tuple[float, float]:
    code = f"import sys; sys.argv = ['newsarchive', '--archive', {str(archive)!r}, *{list(args)!r}]\n"
    code += "from newsarchive.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    return _child(code)


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000, help="articles in the corpus")
    ap.add_argument("--runs", type=int, default=40, help="queries per kind")
    ap.add_argument("--dir", type=Path, help="work directory (default: a temp dir, deleted afterwards)")
    ap.add_argument("--keep", type=Path, help="like --dir, and reuse the index already built there (resumable)")
    args = ap.parse_args()
    if args.keep:
        args.dir = args.keep
    work = args.dir or Path(tempfile.mkdtemp(prefix="newsarchive-bench-"))
    archive_dir = work / "archive"
    print(f"corpus: {args.n} articles; {HOW}")
    if not (archive_dir / "store.sqlite").exists():
        t = time.perf_counter()
        build(archive_dir, args.n)
        print(f"corpus built in {time.perf_counter() - t:.1f} s")

    code = (
        "from pathlib import Path; from newsarchive.pipeline import Archive;"
        f" a = Archive(Path({str(archive_dir)!r})); a.reindex(); a.close()"
    )
    if args.keep and index_state(archive_dir / "index") == "ok":
        print("indexing: skipped (--keep: the index built before is reused)")
    else:
        wall, peak = _child(code)
        print(f"indexing: {args.n / wall:.0f} docs/s ({wall:.1f} s for {args.n}, process peak {peak:.0f} MB)")
    size = sum(p.stat().st_size for p in (archive_dir / "index").rglob("*") if p.is_file())
    print(f"index size: {size / 2**20:.0f} MB ({size / args.n / 1024:.1f} KB per article)")

    archive = Archive(archive_dir)
    rng = random.Random(1)
    y = lambda: rng.randint(2015, 2024)  # noqa: E731
    one_year = lambda: (datetime(y_ := y(), 1, 1, tzinfo=UTC), datetime(y_, 12, 31, 23, 59, 59, tzinfo=UTC))  # noqa: E731

    tags = corpus_tags()[:3]  # tags the corpus really has (each on about 1% of the articles)

    def kinds() -> dict[str, SearchRequest]:
        a, b = rng.sample(WORDS, 2)
        start, end = one_year()
        return {
            "single term": SearchRequest(a),
            "two terms": SearchRequest(f"{a} {b}"),
            "phrase": SearchRequest(f'"{a} {b}"' if rng.random() < 0.5 else '"the government"'),
            "term + one-year range": SearchRequest(a, date_from=start, date_to=end),
            "one-year range, newest first": SearchRequest(date_from=start, date_to=end, sort="newest"),
            "term + tag filter": SearchRequest(a, tags=(rng.choice(tags),)),
        }

    ix = open_index(archive.index_dir)
    timings: dict[str, list[float]] = {}
    with archive:
        for run in range(args.runs + 3):
            for kind, req in kinds().items():
                t = time.perf_counter()
                search(ix, req, store=archive.store)
                if run >= 3:  # warm-up
                    timings.setdefault(kind, []).append((time.perf_counter() - t) * 1000)
    ix.close()
    for kind, ms in timings.items():
        print(f"query {kind:<30} p50 {statistics.median(ms):6.1f} ms   p95 {_pct(ms, 0.95):6.1f} ms")

    _cli(archive_dir, "search", "warm", "-n", "20")  # the page cache, as for any search after the first
    walls = [_cli(archive_dir, "search", rng.choice(WORDS), "-n", "20") for _ in range(5)]
    print(
        f"whole `newsarchive search WORD` process: wall p50 {statistics.median(w for w, _ in walls):.2f} s,"
        f" peak {max(m for _, m in walls):.0f} MB"
    )

    stamp = int(time.time())  # new URLs on every run, so that a reused archive gets 100 new articles too
    with archive:
        for article in make_articles(args.n + 100, seed=99):
            if int(article.url.rsplit("/", 1)[1]) >= args.n:
                new_url = f"{article.url}?new={stamp}"
                archive.store.upsert(article.replace(url=new_url, canonical_url=new_url))
        t = time.perf_counter()
        written = archive.sync_index()
        print(f"adding {written} new articles to the index: {time.perf_counter() - t:.2f} s")
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
