"""The indexing rate of a full rebuild (``Archive.reindex``) beside SQLite FTS5's, in one run.

    python bench/index_rate.py --archive DIR [--tree SRC ...] [--runs N] [--procs N]

Each run rebuilds the index of ``DIR`` (an archive made by bench/make_corpus.py) with each source tree
(default: this one), then builds bench/fts5_peer.py's FTS5 table from the same store, each in a fresh
process, alternating. Per engine: docs/s (wall), CPU per article of the main process and of its worker
processes (``getrusage``: the machine is shared, CPU time moves less with its load than wall time), the
peak RSS summed over the process tree (sampled every 50 ms from /proc) and the segments left.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

_OURS = """
import gc, json, resource, sys, time
gc.disable()
from pathlib import Path
from newsarchive.pipeline import Archive
{procs}
a = Archive(Path({archive!r}))
t = time.perf_counter()
n = a.reindex()
wall = time.perf_counter() - t
a.close()
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
segs = len(list(Path({archive!r}, "index").glob("*.trm")))
import newsarchive
print(json.dumps({{"n": n, "wall": wall, "main": me.ru_utime + me.ru_stime, "workers": kids.ru_utime + kids.ru_stime,
                  "segments": segs, "tree": newsarchive.__file__}}))
"""

_FTS = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
import fts5_peer
from pathlib import Path
t = time.perf_counter()
n = fts5_peer.build(Path({store!r}), Path({out!r}))
wall = time.perf_counter() - t
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"n": n, "wall": wall, "main": me.ru_utime + me.ru_stime, "workers": 0.0, "segments": 1}}))
"""


def _tree_rss(pid: int) -> int:
    """Resident kB of ``pid`` and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def run(code: str, pythonpath: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    # A neutral working directory: ``python -c`` puts it first on sys.path, before PYTHONPATH's tree.
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True, cwd="/")
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.05)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise SystemExit(f"run failed ({proc.returncode})")
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = peak / 1024
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", type=Path, required=True)
    ap.add_argument("--tree", action="append", help="a newsarchive source tree (default: this one)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--procs", type=int, help="REBUILD_PROCS (default: the tree's)")
    ap.add_argument("--no-fts", action="store_true")
    args = ap.parse_args()
    trees = args.tree or [str(HERE.parent)]
    procs = f"import newsarchive.index.writer as w; w.REBUILD_PROCS = {args.procs}" if args.procs else ""
    store = args.archive / "archive.sqlite3"
    if not store.exists():
        store = next(args.archive.glob("*.sqlite*"))
    engines: dict[str, tuple[str, str | None]] = {
        t: (_OURS.format(archive=str(args.archive), procs=procs), str(Path(t).resolve())) for t in trees
    }
    if not args.no_fts:
        out = args.archive.parent / "index_rate_fts5.sqlite3"
        engines["FTS5"] = (_FTS.format(here=str(HERE), store=str(store), out=str(out)), str(HERE.parent))
    results: dict[str, list[dict[str, float]]] = {name: [] for name in engines}
    for _ in range(args.runs):
        for name, (code, path) in engines.items():
            r = run(code, path)
            results[name].append(r)
            print(
                f"  {name}: {r['n'] / r['wall']:.0f} docs/s, CPU main {1000 * r['main'] / r['n']:.2f}"
                f" + workers {1000 * r['workers'] / r['n']:.2f} ms/article, peak {r['peak_mb']:.0f} MB,"
                f" {r['segments']:.0f} segments {r.get('tree', '')}",
                flush=True,
            )
    peer = results.get("FTS5")
    head = f"{'engine':<40} {'docs/s':>8} {'ratio':>6} {'CPU ms/art main+workers':>24} {'CPU ratio':>9} {'peak MB':>8}"
    print("\n" + head)
    for name, rs in results.items():
        rate = statistics.median(r["n"] / r["wall"] for r in rs)
        main_ms = statistics.median(1000 * r["main"] / r["n"] for r in rs)
        work_ms = statistics.median(1000 * r["workers"] / r["n"] for r in rs)
        peak = max(r["peak_mb"] for r in rs)
        ratio = cpu_ratio = ""
        if peer:
            prate = statistics.median(r["n"] / r["wall"] for r in peer)
            pcpu = statistics.median(1000 * r["main"] / r["n"] for r in peer)
            ratio = f"{rate / prate:.2f}"
            cpu_ratio = f"{pcpu / (main_ms + work_ms):.2f}"
        cpu = f"{main_ms:.2f} + {work_ms:.2f}"
        print(f"{name[-40:]:<40} {rate:8.0f} {ratio:>6} {cpu:>24} {cpu_ratio:>9} {peak:8.0f}")


if __name__ == "__main__":
    main()
