"""Generic-path body quality beside its peers, on every dev set, in one run.

For each set (l3s-gn1, wcxb: ../shared/realpages/generic-dev/; zyte: ../shared/realpages/zyte-dev/)
every extractor runs on the same pages:

- ``newsarchive``: ``parse_html(..., parser="generic").body`` (a refused page scores 0);
- ``trafilatura``: ``trafilatura.extract`` with its defaults;
- ``trafilatura-precision``: the same with ``favor_precision=True``;
- ``readability``: readability-lxml ``Document(html).summary(html_partial=True)`` as text.

Metric (the one the sets' README names): per page, bags of lower-cased ``\\w+`` tokens of truth and
extraction; precision = shared/extracted, recall = shared/truth, F1 per page; the mean over pages of
each (an empty extraction scores 0 on all three). Zyte also gets its own shingle metric
(bench/zyte_f1.py). Speed is pages per CPU-second of each extractor alone (process time, so the
other jobs on a shared machine weigh less), summed over the worker processes.

    python bench/quality.py                        # every set, every extractor
    python bench/quality.py --sets wcxb --limit 50 --jobs 2 -v
    python bench/quality.py --best-of 2 --extractors newsarchive,trafilatura,trafilatura-precision   # speed

Half-split check (guard against tuning to the dev pages): each set is split in two halves by a fixed
hash of the page id (``half_of``); ``--halves`` prints every extractor's F1 on each half. Tune on
half A, accept a change only if half B does not get worse.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import zyte_f1  # noqa: E402

from newsarchive.parse.decode import decode_html  # noqa: E402

SHARED = REPO.parent / "shared" / "realpages"
SETS = ("l3s-gn1", "wcxb", "zyte")
EXTRACTORS = ("newsarchive", "trafilatura", "trafilatura-precision", "readability")
_TOKEN = re.compile(r"\w+")

Page = tuple[str, str, str, str]  # id, url, html, truth


def load_set(name: str, limit: int | None = None) -> list[Page]:
    """(id, url, html, truth text) of a dev set's pages, in id order."""
    if name == "zyte":
        pages = zyte_f1.load_pages(SHARED / "zyte-dev")
        return pages[:limit] if limit else pages
    folder = SHARED / "generic-dev" / name
    out: list[Page] = []
    for line in (folder / "truth.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        raw = gzip.decompress((folder / "html" / f"{rec['id']}.html.gz").read_bytes())
        out.append((rec["id"], rec["url"], decode_html(raw), rec["text"] or ""))
        if limit and len(out) >= limit:
            break
    return out


def half_of(page_id: str) -> str:
    """Which half, "A" or "B": the fixed half of its set a page belongs to (CRC-32 of its id)."""
    return "A" if zlib.crc32(page_id.encode("utf-8")) % 2 == 0 else "B"


def _readability(html: str, url: str) -> str:
    from lxml import html as lxml_html
    from readability import Document

    try:
        summary = Document(html).summary(html_partial=True)
        return str(lxml_html.fromstring(summary).text_content())
    except Exception:  # readability raises on odd pages: a refusal
        return ""


RUNNERS: dict[str, Callable[[str, str], str]] = {
    "newsarchive": zyte_f1.generic_body,
    # trafilatura's defaults here (comments kept), unlike zyte_f1's own runs
    "trafilatura": zyte_f1.trafilatura_body(False, comments=True),
    "trafilatura-precision": zyte_f1.trafilatura_body(True, comments=True),
    "readability": _readability,
}


def bag_prf(truth: str, pred: str) -> tuple[float, float, float]:
    """Precision, recall, F1 of one page's token bags (empty extraction: all 0)."""
    t = Counter(_TOKEN.findall(truth.lower()))
    p = Counter(_TOKEN.findall(pred.lower()))
    if not p or not t:
        return 0.0, 0.0, 0.0
    shared = sum((t & p).values())
    prec, rec = shared / sum(p.values()), shared / sum(t.values())
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def _run_page(job: tuple[Page, tuple[str, ...], int]) -> tuple[str, dict[str, tuple[str, float]]]:
    (key, url, html, _truth), names, best_of = job
    out = {}
    for name in names:
        best = float("inf")
        for _ in range(best_of):  # the least CPU time of best_of runs: a loaded machine's noise is upward
            started = time.process_time()
            pred = RUNNERS[name](html, url)
            best = min(best, time.process_time() - started)
        out[name] = (pred, best)
    return key, out


def run_set(
    pages: list[Page], names: tuple[str, ...], jobs: int, best_of: int = 1
) -> dict[str, dict[str, tuple[str, float]]]:
    """{page id: {extractor: (text, CPU seconds)}}."""
    work = [(page, names, best_of) for page in pages]
    if jobs <= 1:
        return dict(map(_run_page, work))
    with ProcessPoolExecutor(jobs) as pool:
        return dict(pool.map(_run_page, work, chunksize=4))


def summarize(
    pages: list[Page], results: dict[str, dict[str, tuple[str, float]]], name: str, zyte: bool
) -> dict[str, Any]:
    rows = [bag_prf(truth, results[key][name][0]) for key, _u, _h, truth in pages]
    cpu = sum(results[key][name][1] for key, *_ in pages)
    out: dict[str, Any] = {
        "f1": statistics.mean(r[2] for r in rows),
        "precision": statistics.mean(r[0] for r in rows),
        "recall": statistics.mean(r[1] for r in rows),
        "refused": sum(1 for key, *_ in pages if not results[key][name][0].strip()),
        "pages_per_s": len(pages) / cpu if cpu else 0.0,
    }
    if zyte:
        out["shingle"] = zyte_f1.score([(truth, results[key][name][0]) for key, _u, _h, truth in pages])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    ap.add_argument("--extractors", default=",".join(EXTRACTORS), help=f"comma-separated, of {', '.join(EXTRACTORS)}")
    ap.add_argument("--limit", type=int, help="first N pages of each set")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("-v", "--verbose", action="store_true", help="list newsarchive's worst pages per set")
    ap.add_argument("--worst", type=int, default=10)
    ap.add_argument("--best-of", type=int, default=1, help="time each extractor N times a page, keep the least")
    ap.add_argument("--halves", action="store_true", help="also print each extractor's F1 on halves A and B")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    ap.add_argument("--dump", type=Path, help="write each set's texts here as SET.json ({id: {extractor: text}})")
    args = ap.parse_args(argv)
    sets = tuple(s for s in args.sets.split(",") if s)
    names = tuple(e for e in args.extractors.split(",") if e)
    for s in sets:
        if s not in SETS:
            ap.error(f"unknown set {s!r}")
    for n in names:
        if n not in RUNNERS:
            ap.error(f"unknown extractor {n!r}")

    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for s in sets:
        pages = load_set(s, args.limit)
        results = run_set(pages, names, args.jobs, args.best_of)
        figures[s] = {n: summarize(pages, results, n, s == "zyte") for n in names}
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            texts = {key: {n: results[key][n][0] for n in names} for key, *_ in pages}
            (args.dump / f"{s}.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        print(f"\n{s}: {len(pages)} pages")
        print(f"  {'extractor':<22} {'F1':>6} {'P':>6} {'R':>6} {'empty':>5} {'pages/s':>8}   zyte shingle F1/P/R")
        for n in names:
            m = figures[s][n]
            extra = ""
            if "shingle" in m:
                sh = m["shingle"]
                extra = f"   {sh['f1']:.4f}/{sh['precision']:.4f}/{sh['recall']:.4f}"
            print(
                f"  {n:<22} {m['f1']:.4f} {m['precision']:.4f} {m['recall']:.4f} {m['refused']:>5} "
                f"{m['pages_per_s']:>8.1f}{extra}"
            )
        if args.halves:
            for half in "AB":
                keys = [(key, truth) for key, _u, _h, truth in pages if half_of(key) == half]
                f1s = "  ".join(
                    f"{n} {statistics.mean(bag_prf(t, results[k][n][0])[2] for k, t in keys):.4f}" for n in names
                )
                print(f"  half {half} ({len(keys)} pages): {f1s}")
                figures[s].setdefault("halves", {})[half] = {
                    n: statistics.mean(bag_prf(t, results[k][n][0])[2] for k, t in keys) for n in names
                }
        if args.verbose and "newsarchive" in names:
            scored = sorted((bag_prf(truth, results[key]["newsarchive"][0]), key, url) for key, url, _h, truth in pages)
            scored.sort(key=lambda r: r[0][2])
            for (p, r, f), key, url in scored[: args.worst]:
                best = max((bag_prf(t, results[key][n][0])[2], n) for k, _u, _h, t in pages if k == key for n in names)
                print(f"    F1 {f:.3f} P {p:.3f} R {r:.3f}  best {best[1]} {best[0]:.3f}  {key[:12]}  {url[:90]}")
    if len(sets) > 1:
        print("\nmean over sets (F1):")
        for n in names:
            print(f"  {n:<22} {statistics.mean(figures[s][n]['f1'] for s in sets):.4f}")
        if any(n != "newsarchive" for n in names):
            best_peer = statistics.mean(max(figures[s][n]["f1"] for n in names if n != "newsarchive") for s in sets)
            print(f"  {'best peer per set':<22} {best_peer:.4f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
