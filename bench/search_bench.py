"""Search benchmark, newsarchive against SQLite FTS5 in the same run on the same corpus and queries.

Prints, for each figure, newsarchive's value, FTS5's and their ratio (newsarchive / FTS5; below 1 is
better for a time, above 1 for a rate), then tantivy's and that ratio (bench/tantivy_peer.py, when
tantivy is installed): indexing rate, query latency p50/p95 (wall and CPU) per query kind (the same
queries for each engine, answered engine by engine after its files were read once), adding
100 articles + commit, and the wall time of a whole search process (warm page cache; every engine's
processes read their bytecode from a cache under a temporary prefix, written by a first run, as an
installed copy has it: PYTHONDONTWRITEBYTECODE would compile every changed source on every run). The
machine is shared, so absolute figures are noisy; the ratios measured in one run are the figures to compare.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fts5_peer
from make_corpus import HOW, HOW_REAL, ZYTE, articles, build, corpus_tags, real_stats, real_tags

from newsarchive.index.writer import index_state, open_index
from newsarchive.pipeline import Archive
from newsarchive.search import SearchRequest, search

try:
    import tantivy_peer
except ImportError:  # tantivy is optional (pip install .[bench])
    tantivy_peer = None  # type: ignore[assignment]

STOP = {"en": ("the", "of", "and", "to", "in", "a"), "ar": ("في", "من", "على", "إلى", "أن")}
LIMIT = 10


_PYCACHE: list[str] = []


def _child_env() -> dict[str, str]:
    """The environment of a timed process: bytecode cached under a prefix of this run (bench/search_startup.py)."""
    if not _PYCACHE:
        _PYCACHE.append(tempfile.mkdtemp(prefix="search-bench-pyc-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": _PYCACHE[0]}


def _child(code: str) -> tuple[float, float]:
    """Run python code in a fresh process: (wall seconds, peak RSS MB of that process)."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter();"
        f" subprocess.run([sys.executable, '-c', {code!r}], check=True, stdout=subprocess.DEVNULL);"
        " print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper], check=True, capture_output=True, text=True, env=_child_env()
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def _tree_pss_mb(root: int) -> float:
    """Proportional set size of ``root`` and all its descendants, MB (shared pages counted once)."""
    tree, todo = [], [root]
    while todo:  # the kernel's list of each task's children: no scan of all of /proc
        pid = todo.pop()
        tree.append(pid)
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _build(code: str) -> dict[str, float]:
    """Run an index build in a fresh process: wall and CPU seconds, and peak memory of its whole process
    tree (workers included; sampled every second as the sum of PSS, so forked pages count once)."""
    t = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_pss_mb(proc.pid))
        time.sleep(1.0)
    if proc.returncode:
        raise SystemExit(f"index build failed (exit {proc.returncode}): {code}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall": time.perf_counter() - t, "cpu": cpu, "peak_mb": peak}


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cli(archive: Path, *args: str) -> tuple[float, float]:
    code = f"import sys; sys.argv = ['newsarchive', '--archive', {str(archive)!r}, *{list(args)!r}]\n"
    code += "from newsarchive.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    return _child(code)


def _merge_small_segments(index_dir: Path) -> None:
    """A kept index gets a segment each run (the 100 articles added): merged with the other small ones once timed,
    so that every run searches the same layout (the build's segments and one small one), not one segment more
    than the run before (Whoosh's policy lets about thirteen pile up, each costing every search its lookups)."""
    from whoosh.reading import SegmentReader

    from newsarchive.index.writer import IndexWriter

    def small_ones(writer: Any, segments: list[Any]) -> list[Any]:
        largest = max(s.doc_count_all() for s in segments)
        kept = []
        for segment in segments:
            if segment.doc_count_all() * 20 < largest:
                writer.add_reader(SegmentReader(writer.storage, writer.schema, segment))
            else:
                kept.append(segment)
        return kept

    ix = open_index(index_dir)
    IndexWriter(ix).commit(mergetype=small_ones)
    ix.close()


def _read_once(paths: list[Path]) -> None:
    """Read these files (or the files under these directories) once: their pages in the page cache."""
    for path in paths:
        for f in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            with f.open("rb", buffering=0) as fh:
                while fh.read(8 << 20):
                    pass


def _stat(values: list[float], q: float | None) -> float:
    """The median (q None) or the q-th percentile of ``values``."""
    return statistics.median(values) if q is None else _pct(values, q)


def _stat_of(values: list[float] | None, q: float | None) -> float | None:
    """``_stat`` of a peer's times; None where the peer did not run."""
    return _stat(values, q) if values else None


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p * (len(values) - 1)))]


class Words:
    """The query vocabulary, drawn with a fixed seed from the real word statistics (both languages)."""

    def __init__(self, rng: random.Random) -> None:
        stats = real_stats()
        self.rng = rng
        self.frequent: dict[str, list[str]] = {}
        self.rare: dict[str, list[str]] = {}
        for lang in ("en", "ar"):
            words = [(w, df) for w, _, df in stats[lang]["words"] if not w.isdigit() and len(w) > 2]
            n = stats[lang]["articles"]
            self.frequent[lang] = [w for w, df in words if 0.05 * n <= df <= 0.4 * n and w not in STOP[lang]][:200]
            self.rare[lang] = [w for w, df in words if 3 <= df <= 10][:2000]
        zyte = json.loads(ZYTE.read_text("utf-8"))
        pairs = []
        for v in zyte.values():
            toks = re.findall(r"\w+", v["articleBody"].lower())
            pairs += [(a, b) for a, b in itertools.pairwise(toks) if len(a) > 3 and len(b) > 3]
        self.real_pairs = sorted(set(pairs))

    def pick(self, pool: list[str], k: int = 1) -> list[str]:
        return self.rng.sample(pool, k)


Kind = tuple[SearchRequest, Callable[[Any], Any]]  # newsarchive's request, the same search on a peer


def _span(start: datetime, end: datetime) -> tuple[int, int]:
    return int(start.timestamp()), int(end.timestamp())


def make_kinds(rng: random.Random, words: Words, tags: dict[str, list[str]]) -> Callable[[], dict[str, Kind]]:
    def year() -> tuple[datetime, datetime]:
        y = rng.randint(2015, 2024)
        return datetime(y, 1, 1, tzinfo=UTC), datetime(y, 12, 31, 23, 59, 59, tzinfo=UTC)

    def text(ws: list[str], *, phrase: bool = False) -> Kind:
        q = '"' + " ".join(ws) + '"' if phrase else " ".join(ws)
        return SearchRequest(q, limit=LIMIT), lambda p: p.text(p.query(ws, phrase=phrase))

    def kinds() -> dict[str, Kind]:
        out: dict[str, Kind] = {}
        for lang in ("ar", "en"):
            out[f"stop word ({lang})"] = text([rng.choice(STOP[lang])])
            out[f"frequent term ({lang})"] = text(words.pick(words.frequent[lang]))
            out[f"rare term ({lang})"] = text(words.pick(words.rare[lang]))
            out[f"two-term AND ({lang})"] = text(words.pick(words.frequent[lang], 2))
        ar_pair = words.pick(words.frequent["ar"], 2) if rng.random() < 0.5 else ["في", "غزة"]
        out["phrase (ar)"] = text(ar_pair, phrase=True)
        out["phrase (en)"] = text(list(rng.choice(words.real_pairs)), phrase=True)
        lang = rng.choice(("ar", "ar", "en"))
        w = words.pick(words.frequent[lang])[0]
        start, end = year()
        span = _span(start, end)
        out["term + one-year range"] = (
            SearchRequest(w, date_from=start, date_to=end, limit=LIMIT),
            lambda p, w=w, span=span: p.text(p.query([w]), span=span),
        )
        tag = rng.choice(tags[lang])
        out["term + tag"] = (
            SearchRequest(w, tags=(tag,), limit=LIMIT),
            lambda p, w=w, tag=tag: p.text(p.query([w]), tag=tag),
        )
        out["one-year range, newest first"] = (
            SearchRequest(date_from=start, date_to=end, sort="newest", limit=LIMIT),
            lambda p, span=span: p.listing(span),
        )
        return out

    return kinds


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000, help="articles in the corpus")
    ap.add_argument("--profile", choices=("english", "real"), default="real", help="corpus (bench/make_corpus.py)")
    ap.add_argument("--runs", type=int, default=40, help="queries per kind")
    ap.add_argument("--dir", type=Path, help="work directory (default: a temp dir, deleted afterwards)")
    ap.add_argument("--keep", type=Path, help="like --dir, and reuse the indexes already built there (resumable)")
    ap.add_argument("--no-fts5", action="store_true", help="without the FTS5 peer")
    ap.add_argument("--no-tantivy", action="store_true", help="without the tantivy peer (also when not installed)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument(
        "--queries-only",
        action="store_true",
        help="with --keep: time the query kinds only (no whole search process, no articles added: the kept archive"
        " and indexes are left as they are)",
    )
    ap.add_argument(
        "--build-only",
        type=lambda v: v.split(","),
        metavar="ENGINES",
        help="build the corpus and these engines' missing indexes (newsarchive,fts5,tantivy), record their"
        " build figures in DIR/builds.json and stop; a later --keep run prints them beside its queries",
    )
    args = ap.parse_args()
    if args.queries_only and not args.keep:
        ap.error("--queries-only needs --keep DIR (indexes built there)")
    if args.keep:
        args.dir = args.keep
    work = args.dir or Path(tempfile.mkdtemp(prefix="newsarchive-bench-"))
    archive_dir = work / "archive"
    fts_path = work / "fts5.sqlite"
    tan_path = work / "tantivy"
    store_path = archive_dir / "store.sqlite"
    use_fts = not args.no_fts5
    use_tan = not args.no_tantivy and tantivy_peer is not None
    print(f"corpus: {args.n} articles, profile {args.profile}: {HOW_REAL if args.profile == 'real' else HOW}")
    print(f"load average at start: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    if not store_path.exists():
        t = time.perf_counter()
        build(archive_dir, args.n, args.profile)
        print(f"corpus built in {time.perf_counter() - t:.1f} s")
    figures: dict[str, tuple[float, float | None, float | None]] = {}

    def show(name: str, ours: float, peer: float | None, unit: str, tan: float | None = None) -> None:
        figures[name] = (ours, peer, tan)
        peer_s = f"{peer:10.1f}" if peer is not None else f"{'-':>10}"
        tan_s = f"{tan:10.1f}" if tan is not None else f"{'-':>10}"
        print(
            f"{name:<42} {ours:10.1f} {peer_s} {_ratio(ours, peer) if peer else '-':>7}"
            f" {tan_s} {_ratio(ours, tan) if tan else '-':>7}  {unit}"
        )

    print(f"{'figure':<42} {'newsarch.':>10} {'FTS5':>10} {'ratio':>7} {'tantivy':>10} {'ratio':>7}")
    code = (
        "import gc; gc.disable(); from pathlib import Path; from newsarchive.pipeline import Archive;"
        f" a = Archive(Path({str(archive_dir)!r})); a.reindex(); a.close()"
    )
    here = str(Path(__file__).resolve().parent)
    fts_code = (
        f"import sys; sys.path.insert(0, {here!r}); import fts5_peer;"
        f" from pathlib import Path; fts5_peer.build(Path({str(store_path)!r}), Path({str(fts_path)!r}))"
    )
    tan_code = (
        f"import sys; sys.path.insert(0, {here!r}); import tantivy_peer;"
        f" from pathlib import Path; tantivy_peer.build(Path({str(store_path)!r}), Path({str(tan_path)!r}))"
    )
    # Each index is built once per work directory and its build figures are kept in builds.json, so a
    # --keep run (or one resumed after --build-only) prints the figures measured when it was built.
    builds_path = work / "builds.json"
    builds: dict[str, dict[str, Any]] = json.loads(builds_path.read_text()) if builds_path.exists() else {}
    engines = {
        "newsarchive": (code, lambda: index_state(archive_dir / "index") == "ok"),
        "fts5": (fts_code, fts_path.exists),
        "tantivy": (tan_code, tan_path.exists),
    }
    wanted = ["newsarchive"] + ["fts5"] * use_fts + ["tantivy"] * use_tan
    if args.build_only is not None:
        wanted = [e for e in wanted if e in args.build_only]
    for engine in wanted:
        engine_code, built = engines[engine]
        if args.keep and built():
            if engine not in builds:
                print(f"indexing {engine}: reused, built earlier without recorded figures")
            continue
        load = _load()
        figures_of = _build(engine_code)
        builds[engine] = {**figures_of, "n": args.n, "load_before": load, "load_after": _load(), "at": time.time()}
        builds_path.write_text(json.dumps(builds, indent=1))
        print(f"indexing {engine}: {figures_of['wall']:.0f} s wall, {figures_of['cpu']:.0f} s CPU (load {load})")
    if args.build_only is not None:
        return
    if "newsarchive" in builds:
        rec = [builds.get(e) for e in ("newsarchive", "fts5", "tantivy")]

        def rate(r: dict[str, Any] | None, key: str) -> float | None:
            return r["n"] / r[key] if r else None

        def peak(r: dict[str, Any] | None) -> float | None:
            return r["peak_mb"] if r else None

        by_wall = [rate(r, "wall") for r in rec]
        by_cpu = [rate(r, "cpu") for r in rec]
        show("indexing (docs/s)", by_wall[0] or 0.0, by_wall[1], "docs/s (higher is better)", by_wall[2])
        show("indexing (docs per CPU-second)", by_cpu[0] or 0.0, by_cpu[1], "docs/CPU-s", by_cpu[2])
        show("indexing peak memory (all processes)", peak(rec[0]) or 0.0, peak(rec[1]), "MB (sum of PSS)", peak(rec[2]))
        print("  builds: " + "; ".join(f"{e} load {r['load_before']} -> {r['load_after']}" for e, r in builds.items()))
    size = sum(p.stat().st_size for p in (archive_dir / "index").rglob("*") if p.is_file())
    tan_size = sum(p.stat().st_size for p in tan_path.rglob("*") if p.is_file()) if use_tan else 0
    show(
        "index size",
        size / 2**20,
        fts_path.stat().st_size / 2**20 if use_fts else None,
        "MB",
        tan_size / 2**20 if use_tan else None,
    )

    rng = random.Random(1)
    words = Words(rng)
    if args.profile == "real":
        tags = {lang: real_tags(lang) for lang in ("ar", "en")}
    else:
        tags = {"ar": corpus_tags()[:3], "en": corpus_tags()[:3]}
    kinds = make_kinds(rng, words, tags)

    archive = Archive(archive_dir)
    ix = open_index(archive.index_dir)
    peers: list[Any] = [
        fts5_peer.Peer(fts_path) if use_fts else None,
        tantivy_peer.Peer(tan_path) if use_tan else None,
    ]
    # The same queries for every engine, drawn first; each engine then answers all of them in one block, after
    # its files were read once (a warm page cache, as on a machine that searches its archive every day). At
    # 1,000,000 articles the three engines' files (25 GB) are more than this machine's memory: answered in turn,
    # query by query, each engine evicted the others' pages and p95 measured the disk (3.7 s for one word).
    plans = [kinds() for _ in range(args.runs + 3)]
    files: list[list[Path]] = [[archive_dir / "index", store_path], [fts_path], [tan_path]]
    ours: dict[str, list[float]] = {}
    theirs: list[dict[str, list[float]]] = [{}, {}]
    # CPU time of the same queries (process_time: all threads of this process, every engine runs in it):
    # what the load of other jobs on the machine changes least.
    ours_cpu: dict[str, list[float]] = {}
    theirs_cpu: list[dict[str, list[float]]] = [{}, {}]
    worst: dict[str, list[tuple[float, str]]] = {}
    with archive:
        _read_once(files[0])
        for run, plan in enumerate(plans):
            for kind, (req, _) in plan.items():
                c, t = time.process_time(), time.perf_counter()
                search(ix, req, store=archive.store)
                elapsed, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
                if run >= 3:  # warm-up
                    ours.setdefault(kind, []).append(elapsed)
                    ours_cpu.setdefault(kind, []).append(cpu)
                    worst.setdefault(kind, []).append((elapsed, req.text))
        for peer, times, cpus, paths in zip(peers, theirs, theirs_cpu, files[1:], strict=True):
            if peer is None:
                continue
            _read_once(paths)
            for run, plan in enumerate(plans):
                for kind, (_, peer_search) in plan.items():
                    c, t = time.process_time(), time.perf_counter()
                    peer_search(peer)
                    if run >= 3:
                        times.setdefault(kind, []).append((time.perf_counter() - t) * 1000)
                        cpus.setdefault(kind, []).append((time.process_time() - c) * 1000)
    ix.close()
    for kind, ms in ours.items():
        fm, tm = theirs[0].get(kind), theirs[1].get(kind)
        for label, q in (("p50", None), ("p95", 0.95)):
            show(f"{kind} {label}", _stat(ms, q), _stat_of(fm, q), "ms", _stat_of(tm, q))
    for kind, ms in ours_cpu.items():
        fm, tm = theirs_cpu[0].get(kind), theirs_cpu[1].get(kind)
        for label, q in (("p50", None), ("p95", 0.95)):
            show(f"{kind} {label} CPU", _stat(ms, q), _stat_of(fm, q), "ms of CPU", _stat_of(tm, q))
    print("slowest newsarchive queries per kind (ms):")
    for kind, found in worst.items():
        print(f"  {kind}: " + "; ".join(f"{ms:.0f} {text!r}" for ms, text in sorted(found, reverse=True)[:3]))

    if args.queries_only:
        for peer in peers:
            if peer is not None:
                peer.close()
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1, ensure_ascii=False))
        return
    freq = words.frequent["ar"][:5] + words.frequent["en"][:5]
    _cli(archive_dir, "search", "warm", "-n", str(LIMIT))  # the page cache, as for any search after the first
    walls = [_cli(archive_dir, "search", rng.choice(freq), "-n", str(LIMIT)) for _ in range(6)]
    fwalls, twalls = [], []
    if use_fts:
        _child(fts5_peer.process_code(fts_path, fts5_peer.fts_query(["warm"])))  # its bytecode and pages, as ours
        fwalls = [_child(fts5_peer.process_code(fts_path, fts5_peer.fts_query([rng.choice(freq)]))) for _ in range(6)]
    if use_tan:
        _child(tantivy_peer.process_code(tan_path, ["warm"]))
        twalls = [_child(tantivy_peer.process_code(tan_path, [rng.choice(freq)])) for _ in range(6)]
    show(
        "whole search process, warm (p50)",
        statistics.median(w for w, _ in walls) * 1000,
        statistics.median(w for w, _ in fwalls) * 1000 if fwalls else None,
        "ms",
        statistics.median(w for w, _ in twalls) * 1000 if twalls else None,
    )
    show(
        "whole search process peak RSS",
        max(m for _, m in walls),
        max(m for _, m in fwalls) if fwalls else None,
        "MB",
        max(m for _, m in twalls) if twalls else None,
    )

    stamp = int(time.time())  # new URLs on every run, so that a reused archive gets 100 new articles too
    new = []
    with archive:
        for article in articles(args.profile, args.n + 100, seed=99):
            if args.profile == "real" or int(article.url.rsplit("/", 1)[1]) >= args.n:
                new_url = f"{article.url}?new={stamp}"
                archive.store.upsert(article.replace(url=new_url, canonical_url=new_url))
                new.append(new_url)
                if len(new) == 100:
                    break
        t = time.perf_counter()
        written = archive.sync_index()
        ours_add = time.perf_counter() - t
    if args.dir is not None:
        _merge_small_segments(archive.index_dir)
    fts_add = tan_add = None
    for peer in peers:
        if peer is not None:
            peer.close()
    db = sqlite3.connect(store_path)
    rows = [
        (r, json.loads(j))
        for r, j in db.execute(f"SELECT rowid, json FROM articles WHERE url IN ({','.join('?' * len(new))})", new)
    ]
    db.close()
    if use_fts:
        t = time.perf_counter()
        fts5_peer.add(fts_path, rows)
        fts_add = time.perf_counter() - t
    if use_tan:
        t = time.perf_counter()
        tantivy_peer.add(tan_path, rows)
        tan_add = time.perf_counter() - t
    show(
        f"adding {written} articles + commit",
        ours_add * 1000,
        fts_add * 1000 if fts_add else None,
        "ms",
        tan_add * 1000 if tan_add else None,
    )
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"load average at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, ensure_ascii=False))
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    for cache in _PYCACHE:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
