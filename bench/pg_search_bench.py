"""Search on PostgreSQL (index/pg_search.py) beside the Whoosh index, on the same corpus and queries.

Starts its own throwaway PostgreSQL cluster (tests/pg_cluster.py: the machine's binaries, durability
off as for tests), loads the corpus into the search tables with COPY and builds a Whoosh index of the
same articles, then prints per query kind the p50/p95 latency of both, and the queries per second
of N concurrent searchers (threads, one PostgreSQL connection each; the Whoosh threads share one
index and Python's GIL). Searches run without the store (no snippet reads): the engines are timed.

The corpus is the real-statistics profile of bench/make_corpus.py (72% Arabic, 28% English), built
into a temporary SQLite store, or an existing store given with --corpus (opened read-only).

    python bench/pg_search_bench.py --n 100000
    python bench/pg_search_bench.py --corpus /path/archive/store.sqlite --n 100000 --json out.json

--url postgresql://... searches a database of your own instead of a throwaway cluster: it is loaded when
its search tables are empty (or of another version), else searched as it is (loading 100k takes minutes).

The last column counts the searches that took a fast path: a relevance top from the impact lists, or facets
from the counts kept per frequent term. "facets, again" runs the facet searches a second time: a frequent
word's counts are kept by its first facet search.

--index gin,rum compares the two kinds of text index (docs/scale-out.md): one database each, loaded in
turn, every query timed on both (alternately first) and their results compared (total, hits, order,
scores: they must be the same); with --url, give one database per kind.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from make_corpus import HOW_REAL, build, real_tags  # noqa: E402
from pg_cluster import Cluster, find_bin_dir  # noqa: E402
from search_bench import STOP, Words  # noqa: E402

from newsarchive.article import Article  # noqa: E402
from newsarchive.index.backend import WhooshBackend  # noqa: E402
from newsarchive.index.pg_search import INDEX_CHOICES, INDEX_ENV, PgSearch, connect  # noqa: E402
from newsarchive.index.writer import rebuild  # noqa: E402
from newsarchive.search import SearchRequest  # noqa: E402
from newsarchive.store.articles import ArticleStore  # noqa: E402

LIMIT = 10
#: The issue's p95 targets (ms) at 1,000,000 articles, printed beside the figures.
TARGETS = {"one-year newest-first": 20, "term + one year": 150, "term": 300, "facets": 500, "facets, again": 500}


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p * (len(values) - 1)))]


def _server_cpu(cluster: Cluster | None, pg: PgSearch) -> float:
    """CPU seconds of the server so far: the session's backend and the postmaster's ended children (parallel
    index builds); 0 for a server given by --url (not this machine's, maybe)."""
    if cluster is None:
        return 0.0

    def times(pid: str, fields: slice) -> float:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(v) for v in stat[fields]) / os.sysconf("SC_CLK_TCK")

    postmaster = (cluster.data / "postmaster.pid").read_text().split()[0]
    return times(str(pg.conn.info.backend_pid), slice(11, 13)) + times(postmaster, slice(11, 15))


def _articles(store: ArticleStore, n: int) -> Iterator[Article]:
    return itertools.islice(store.iter_articles(order="id"), n)


def make_kinds(rng: random.Random, words: Words, tags: dict[str, list[str]]) -> Callable[[], dict[str, SearchRequest]]:
    def year() -> tuple[datetime, datetime]:
        y = rng.randint(2015, 2025)
        return datetime(y, 1, 1, tzinfo=UTC), datetime(y, 12, 31, 23, 59, 59, tzinfo=UTC)

    def kinds() -> dict[str, SearchRequest]:
        lang = rng.choice(("ar", "ar", "en"))
        w, w2 = words.pick(words.frequent[lang], 2)
        pair = rng.choice(words.real_pairs) if lang == "en" else words.pick(words.frequent["ar"], 2)
        start, end = year()
        return {
            "term": SearchRequest(w, limit=LIMIT),
            "rare term": SearchRequest(words.pick(words.rare[lang])[0], limit=LIMIT),
            "two terms": SearchRequest(f"{w} {w2}", limit=LIMIT),
            "phrase": SearchRequest('"' + " ".join(pair) + '"', limit=LIMIT),
            "term + one year": SearchRequest(w, date_from=start, date_to=end, limit=LIMIT),
            "one-year newest-first": SearchRequest(date_from=start, date_to=end, sort="newest", limit=LIMIT),
            "term + tag": SearchRequest(w, tags=(rng.choice(tags[lang]),), limit=LIMIT),
            "facets": SearchRequest(w, facets=True, limit=LIMIT),
            # The total of a frequent word counted exactly, with one hit in date order (no ranking).
            "exact totals": SearchRequest(w, sort="newest", limit=1),
            "stop word": SearchRequest(rng.choice(STOP[lang]), limit=LIMIT),
        }

    return kinds


def _concurrent(make: Callable[[], Any], reqs: list[SearchRequest], threads: int, seconds: float) -> float:
    """Queries per second of ``threads`` searchers, each with its own backend from ``make``."""
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def work(k: int) -> None:
        backend = make()
        i = k
        while time.perf_counter() < stop:
            backend.search(reqs[i % len(reqs)])
            done[k] += 1
            i += threads
        backend.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / (time.perf_counter() - started)


def _load(pg: PgSearch, store: ArticleStore, n: int, procs: int, cluster: Cluster | None) -> tuple[int, float]:
    """Bulk-load ``n`` articles into ``pg``'s empty tables (or keep what a database given holds); prints the figures."""
    t = time.perf_counter()
    held = pg.doc_count()
    if held:
        print(f"database given: its {held} articles searched as they are (no load)")
        return held, float("nan")
    cpu_before, server_before = os.times(), _server_cpu(cluster, pg)
    loaded = pg.bulk_load(_articles(store, n), procs=procs)
    load_s = time.perf_counter() - t
    cpu_after = os.times()
    server = _server_cpu(cluster, pg) - server_before
    client = sum(cpu_after[:4]) - sum(cpu_before[:4])  # this process and its analysis processes
    per = (client + server) / loaded * 1000
    cores = os.cpu_count() or 1
    # What a load needs of the machine, whatever else runs on it: the rate it would reach with every
    # core to itself (the analysis processes and the server run at once; the main process is light).
    print(f"  CPU: {client:.0f} s of this process and its analysis processes + {server:.0f} s of the"
          f" server = {per:.2f} ms an article: at most {cores * 1000 / per:.0f} articles/s on {cores} idle"
          " cores")  # fmt: skip
    return loaded, load_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="articles")
    ap.add_argument("--corpus", type=Path, help="an existing store.sqlite to read (default: build one)")
    ap.add_argument("--runs", type=int, default=30, help="queries per kind")
    ap.add_argument("--threads", type=int, default=8, help="concurrent searchers")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each concurrent run")
    ap.add_argument(
        "--procs", type=int, default=os.cpu_count() or 1, help="processes analysing articles for the bulk load"
    )
    ap.add_argument("--load-only", action="store_true", help="measure the bulk load, then stop (no queries)")
    ap.add_argument("--no-whoosh", action="store_true", help="PostgreSQL only")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument(
        "--check-order",
        action="store_true",
        help="also rank every match of each relevance query and check the impact lists gave the same hits in order",
    )
    ap.add_argument(
        "--index",
        default="auto",
        help="the text index: auto (RUM when the server offers it), gin or rum; a comma list (gin,rum) loads one"
        " database per kind and times each query on each, alternately, checking they give the same hits",
    )
    ap.add_argument(
        "--url",
        action="append",
        help="a PostgreSQL database to use (kept; loaded only when its search tables are empty); one per --index kind",
    )
    args = ap.parse_args()
    kinds_wanted = [k.strip() for k in args.index.split(",") if k.strip()]
    if not kinds_wanted or any(k not in INDEX_CHOICES for k in kinds_wanted):
        sys.exit(f"--index: a comma list of {', '.join(INDEX_CHOICES)}")
    if args.url and len(args.url) != len(kinds_wanted):
        sys.exit("--url: one database per --index kind")
    bin_dir = find_bin_dir()
    if bin_dir is None and not args.url:
        sys.exit("PostgreSQL server binaries not found (apt-get install postgresql, or NEWSARCHIVE_PG_BIN)")
    work = Path(tempfile.mkdtemp(prefix="newsarchive-pgbench-"))
    figures: dict[str, Any] = {"n": args.n}
    print(f"load average at start: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    if args.corpus:
        store = ArticleStore(args.corpus, read_only=True)
        print(f"corpus: {args.corpus} (read-only)")
    else:
        t = time.perf_counter()
        build(work / "archive", args.n, "real")
        print(f"corpus: {args.n} articles built in {time.perf_counter() - t:.0f} s: {HOW_REAL}")
        store = ArticleStore(work / "archive" / "store.sqlite", read_only=True)
    n = min(args.n, store.count())
    figures["n"] = n
    cluster = Cluster(bin_dir).start() if not args.url else None  # type: ignore[arg-type]
    backends: list[tuple[str, str, PgSearch]] = []  # (index kind, url, backend)
    try:
        for i, wanted in enumerate(kinds_wanted):
            url = args.url[i] if args.url else cluster.new_database()  # type: ignore[union-attr]
            os.environ[INDEX_ENV] = wanted  # the kind of the tables made now (a database given keeps its own)
            pg = PgSearch(connect(url), replace_outdated=True)
            loaded, load_s = _load(pg, store, n, args.procs, cluster)
            kind = pg.index_kind
            size = pg.conn.execute(
                "SELECT pg_total_relation_size('search_docs') + pg_total_relation_size('search_terms'),"
                " pg_total_relation_size('search_impacts'), (SELECT count(*) FROM search_impacts),"
                " pg_relation_size('search_docs_tv')"
            ).fetchone()
            size_mb, impacts_mb, text_mb = size[0] / 2**20, size[1] / 2**20, size[3] / 2**20
            pg.conn.commit()
            figures.setdefault(kind, {})["pg_load_per_s"] = loaded / load_s
            print(f"PostgreSQL bulk load, {kind.upper()} index (COPY, analysis in {args.procs} processes included):"
                  f" {loaded} articles in {load_s:.0f} s, {loaded / load_s:.0f} articles/s; tables + indexes"
                  f" {size_mb:.0f} MB (the {kind.upper()} index {text_mb:.0f} MB), impact lists {impacts_mb:.0f} MB"
                  f" ({size[2]} rows)")  # fmt: skip
            print(f"  {pg.stats()}")
            backends.append((kind, url, pg))
        if args.load_only:
            return
        whoosh = None
        if not args.no_whoosh:
            t = time.perf_counter()
            written = rebuild(work / "index", _articles(store, n))
            wload = time.perf_counter() - t
            figures["whoosh_load_per_s"] = written / wload
            wsize = sum(p.stat().st_size for p in (work / "index").rglob("*") if p.is_file()) / 2**20
            rate = written / wload
            print(f"Whoosh rebuild: {written} articles in {wload:.0f} s, {rate:.0f} articles/s; {wsize:.0f} MB")
            whoosh = WhooshBackend(work / "index")
        new = list(itertools.islice(_articles(store, n), 100))
        for kind, _, pg in backends:
            t = time.perf_counter()
            pg.add(new)  # the same articles again: a re-index of 100 (one transaction; the same content)
            ms = (time.perf_counter() - t) * 1000
            figures[kind]["add_100_ms"] = ms
            print(f"PostgreSQL add/update of 100 articles, one transaction, {kind.upper()} index: {ms:.0f} ms")

        rng = random.Random(1)
        words = Words(rng)
        kinds = make_kinds(rng, words, {lang: real_tags(lang) for lang in ("ar", "en")})
        labels = [kind for kind, _, _ in backends]
        times: dict[str, dict[str, list[float]]] = {label: {} for label in [*labels, "whoosh"]}
        totals: dict[str, list[int]] = {}
        shortcut: dict[str, dict[str, int]] = {label: {} for label in labels}
        differ: list[str] = []
        reqs: list[SearchRequest] = []
        for run in range(args.runs + 2):
            for kind, req in kinds().items():
                reqs.append(req)
                order = backends if run % 2 == 0 else backends[::-1]  # alternately first: neither always warms
                results = {}
                for label, _, pg in order:
                    pg.last_ranking = pg.last_facets = ""
                    t0 = time.perf_counter()
                    got = pg.search(req)
                    t1 = time.perf_counter()
                    results[label] = got
                    if run >= 2:  # warm-up
                        times[label].setdefault(kind, []).append((t1 - t0) * 1000)
                        if pg.last_ranking == "impacts" or pg.last_facets == "kept counts":
                            shortcut[label][kind] = shortcut[label].get(kind, 0) + 1
                got = results[labels[0]]
                for label in labels[1:]:  # results never depend on the index kind
                    other = results[label]
                    if (other.total, [(h.id, h.score) for h in other.hits]) != (
                        got.total, [(h.id, h.score) for h in got.hits]
                    ):  # fmt: skip
                        differ.append(f"{kind}: {req.text!r}")
                if whoosh is not None:
                    t1 = time.perf_counter()
                    expected = whoosh.search(req)
                    t2 = time.perf_counter()
                    if expected.total != got.total:
                        print(f"  totals differ for {req.text!r}: PostgreSQL {got.total}, Whoosh {expected.total}")
                    if run >= 2:
                        times["whoosh"].setdefault(kind, []).append((t2 - t1) * 1000)
                if run >= 2:
                    totals.setdefault(kind, []).append(got.total)
        # Facets again: a frequent word's counts are kept by its first facet search (search_term_facets); the
        # same searches once more (a user paging through the hits, or a team asking for the same word).
        timed = reqs[len(reqs) * 2 // (args.runs + 2) :]  # after the warm-up
        again = [req for req in timed if req.facets]
        for label, _, pg in backends:
            for req in again:
                t0 = time.perf_counter()
                pg.search(req)
                times[label].setdefault("facets, again", []).append((time.perf_counter() - t0) * 1000)
                if pg.last_facets == "kept counts":
                    shortcut[label]["facets, again"] = shortcut[label].get("facets, again", 0) + 1
        totals["facets, again"] = totals["facets"]
        for label, _, pg in backends:
            kept = pg.conn.execute("SELECT count(*) FROM search_facet_terms").fetchone()[0]
            pg.conn.commit()
            t = time.perf_counter()
            pg.add(new)
            ms = (time.perf_counter() - t) * 1000
            figures[label]["add_100_facets_kept_ms"] = ms
            print(f"PostgreSQL add/update of 100 articles with the facet counts of {kept} terms kept,"
                  f" {label.upper()} index: {ms:.0f} ms")  # fmt: skip
        print(f"\n{n} articles; ms per search (limit {LIMIT}, no snippets), {args.runs} queries per kind")
        head = f"{'kind':<24}"
        for label in labels:
            head += f" {label.upper() + ' p50':>9} {label.upper() + ' p95':>9}"
        if len(labels) == 2:
            head += f" {labels[1].upper() + '/' + labels[0].upper() + ' p50':>14}"
        head += f" {'Whoosh p50':>11} {'Whoosh p95':>11} {'median hits':>12} {'p95 target @1M':>15}"
        head += "".join(f" {'fast ' + label.upper():>12}" for label in labels)
        print(head)
        for kind in times[labels[0]]:
            line = f"{kind:<24}"
            for label in labels:
                ms = times[label][kind]
                row = figures[label].setdefault(kind, {})
                row.update(p50=statistics.median(ms), p95=_pct(ms, 0.95), from_impacts=shortcut[label].get(kind, 0))
                line += f" {row['p50']:9.1f} {row['p95']:9.1f}"
            if len(labels) == 2:
                ratio = figures[labels[1]][kind]["p50"] / figures[labels[0]][kind]["p50"]
                line += f" {ratio:14.2f}"
            wms = times["whoosh"].get(kind)
            if wms:
                figures.setdefault("whoosh", {})[kind] = {"p50": statistics.median(wms), "p95": _pct(wms, 0.95)}
                line += f" {statistics.median(wms):11.1f} {_pct(wms, 0.95):11.1f}"
            else:
                line += f" {'-':>11} {'-':>11}"
            figures.setdefault("median_total", {})[kind] = statistics.median(totals[kind])
            target = TARGETS.get(kind)
            line += f" {statistics.median(totals[kind]):12.0f} {target if target else '-':>15}"
            line += "".join(f" {shortcut[label].get(kind, 0):>9}/{len(times[label][kind])}" for label in labels)
            print(line)
        if len(labels) > 1:
            figures["differ"] = differ
            print(f"\nsame total, hits, order and scores on every index kind: {len(reqs) - len(differ)} of {len(reqs)}")
            for item in differ[:10]:
                print(f"  differs: {item}")
        if args.check_order:
            for label, url, pg in backends:
                full = PgSearch(connect(url), create=False)
                full.use_impacts = False
                checked = [r for r in reqs if r.effective_sort == "relevance"]
                same = 0
                for req in checked:
                    a, b = pg.search(req), full.search(req)
                    same += a.total == b.total and [h.id for h in a.hits] == [h.id for h in b.hits]
                full.close()
                figures[label]["same_order"] = [same, len(checked)]
                print(f"\n{label.upper()}: impact lists against ranking every match: {same} of {len(checked)} the"
                      " same hits in order")  # fmt: skip
        line = f"\n{args.threads} concurrent searchers, mixed kinds:"
        for label, url, _ in backends:
            qps = _concurrent(lambda url=url: PgSearch(connect(url), create=False), reqs, args.threads, args.seconds)
            figures[label]["qps"] = qps
            line += f" PostgreSQL {label.upper()} {qps:.1f} queries/s,"
        if whoosh is not None:
            wqps = _concurrent(lambda: WhooshBackend(work / "index"), reqs, args.threads, args.seconds)
            figures["whoosh_qps"] = wqps
            line += f" Whoosh {wqps:.1f} queries/s (threads, one process)"
            whoosh.close()
        print(line.rstrip(","))
    finally:
        for _, _, pg in backends:
            pg.close()
        if cluster is not None:
            cluster.stop()
        store.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
