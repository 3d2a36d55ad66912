"""The fixed cost of a `newsarchive search` process, for two source trees back to back (old vs new).

For each tree, alternating run by run so that both see the same load:

- import time: the sum of ``python -X importtime``'s top-level entries, and how many modules load;
- the whole search process: wall and CPU (user+sys) time, median of --runs runs;
- snippets: the time ``snippet()`` takes in one search, in a fresh process (cold caches, as on the
  command line), median of --runs runs per query.

The machine is shared, so figures move with the load (printed before and after): compare the two
trees of one run, not runs of different days. Bytecode is cached under a temporary prefix, so that
neither tree pays for compiling its sources (PYTHONDONTWRITEBYTECODE would make both do so on
every run, which no installed copy does).

    python bench/search_startup.py --archive ARCHIVE --old /tmp/old-src --new . --runs 10 crimea "oil OR gas"
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SNIPPET_TIMER = """
import sys, time
from pathlib import Path
import newsarchive.search as S
from newsarchive.archive_dir import ArchiveDir
from newsarchive.index.writer import open_index
spent = [0.0, 0]
real = S.snippet
def timed(*args, **kwargs):
    t = time.perf_counter()
    try:
        return real(*args, **kwargs)
    finally:
        spent[0] += time.perf_counter() - t
        spent[1] += 1
S.snippet = timed
archive = ArchiveDir(Path(sys.argv[1]), read_only=True)
ix = open_index(archive.index_dir)
with archive:
    S.search(ix, S.SearchRequest(text=sys.argv[2], limit=int(sys.argv[3])), store=archive.store)
print(spent[0] * 1000, spent[1])
"""


def _env(src: Path, cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "OPENBLAS_NUM_THREADS")}
    return {**env, "PYTHONPATH": str(src), "PYTHONPYCACHEPREFIX": cache, "NEWSARCHIVE_READONLY": "1"}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    cpu, start = _cpu(), time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=env["PYTHONPYCACHEPREFIX"])
    return time.perf_counter() - start, _cpu() - cpu, result.stderr


def _imports(stderr: str) -> tuple[float, int]:
    total, count = 0, 0
    for line in stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            _, cumulative, name = line.split("|")
            count += 1
            if len(name) - len(name.lstrip()) == 1:  # top level
                total += int(cumulative)
    return total / 1000, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, required=True, help="archive to search (only read)")
    parser.add_argument("--old", type=Path, required=True, help="source tree before (e.g. from git archive)")
    parser.add_argument("--new", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--limit", type=int, default=10, help="hits per page (snippets per search)")
    parser.add_argument("queries", nargs="+")
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    cache = tempfile.mkdtemp(prefix="search-startup-pyc-")
    # Run from a neutral directory: `python -m` puts the current one first on sys.path.
    envs = {name: _env(src, cache) for name, src in trees.items()}
    search = [sys.executable, "-m", "newsarchive", "--archive", str(args.archive), "search", "-n", str(args.limit)]
    for env in envs.values():  # fill the bytecode cache and the page cache
        for query in args.queries:
            _process([*search, query], env)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}   runs: {args.runs}")
    for query in args.queries:
        rows: dict[str, dict[str, list[float]]] = {
            n: {"wall": [], "cpu": [], "imp": [], "mods": [], "snip": []} for n in trees
        }
        for _ in range(args.runs):
            for name, env in envs.items():
                wall, cpu, _ = _process([*search, query], env)
                rows[name]["wall"].append(wall * 1000)
                rows[name]["cpu"].append(cpu * 1000)
                _, _, stderr = _process([sys.executable, "-X", "importtime", *search[1:], query], env)
                imp, mods = _imports(stderr)
                rows[name]["imp"].append(imp)
                rows[name]["mods"].append(mods)
                out = subprocess.run(
                    [sys.executable, "-c", SNIPPET_TIMER, str(args.archive), query, str(args.limit)],
                    env=env, capture_output=True, text=True, check=True, cwd=cache,
                ).stdout.split()  # fmt: skip
                rows[name]["snip"].append(float(out[0]))
        print(f"\nquery {query!r} ({int(out[1])} snippets per search)")
        heads = ("process wall", "process cpu", "imports", "modules", "snippets")
        print(f"  {'':4} {heads[0]:>13} {heads[1]:>12} {heads[2]:>9} {heads[3]:>8} {heads[4]:>9}  (ms, medians)")
        for name, row in rows.items():
            med = {k: statistics.median(v) for k, v in row.items()}
            figures = f"{med['wall']:13.0f} {med['cpu']:12.0f} {med['imp']:9.0f} {med['mods']:8.0f} {med['snip']:9.2f}"
            print(f"  {name:4} {figures}")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
