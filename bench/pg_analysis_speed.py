"""CPU time of the PostgreSQL bulk load's per-article analysis (pg_search._chunk), this tree against a git revision.

    python bench/pg_analysis_speed.py --store /work/bench-data/k100-real/archive/store.sqlite --rev main

Reads ``--n`` articles of a store (read-only, in id order), runs ``_chunk(batch, 400.0)`` over chunks of 500 with
this tree's pg_search and with ``--rev``'s (its pg_search.py loaded beside the rest of this tree), alternately,
``--reps`` times, and prints the best CPU time per article of each, after checking that both give the same
chunks (rows, impact rows, document frequencies, counts, months).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsarchive.index import pg_search  # noqa: E402
from newsarchive.store.articles import ArticleStore  # noqa: E402


def _module_at(rev: str) -> Any:
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:newsarchive/index/pg_search.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "pg_search_at_rev.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("pg_search_at_rev", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--rev", default="main")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    store = ArticleStore(args.store, read_only=True)
    articles = list(itertools.islice(store.iter_articles(order="id"), args.n))
    chunks = [articles[i : i + 500] for i in range(0, len(articles), 500)]
    modules = {args.rev: _module_at(args.rev), "this tree": pg_search}
    results = {name: [m._chunk(c, 400.0) for c in chunks] for name, m in modules.items()}  # also warms the caches
    same = results[args.rev] == results["this tree"]
    best = dict.fromkeys(modules, float("inf"))
    for _ in range(args.reps):
        for name, module in modules.items():
            t0 = time.process_time()
            for c in chunks:
                module._chunk(c, 400.0)
            best[name] = min(best[name], time.process_time() - t0)
    print(f"{len(articles)} articles, chunks of 500, best of {args.reps} (CPU time); same output: {same}")
    for name, seconds in best.items():
        print(f"  {name}: {seconds / len(articles) * 1000:.3f} ms an article")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
