"""Body-extraction quality on the Zyte article-extraction benchmark (shingle F1, precision, recall)."""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from newsarchive.errors import NewsArchiveError  # noqa: E402
from newsarchive.parse import parse_html  # noqa: E402
from newsarchive.parse.decode import decode_html  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "realpages" / "zyte-dev"
_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """The multiset of n-token shingles; 1..n-1 tokens give one short shingle."""
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def tp_fp_fn(true: str, pred: str) -> tuple[float, float, float]:
    """Shared, predicted-only and truth-only shingle counts, normalised to sum to 1."""
    t, p = shingles(true), shingles(pred)
    tp = float(sum((t & p).values()))
    fp = float(sum((p - t).values()))
    fn = float(sum((t - p).values()))
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def page_precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp else 0.0


def page_recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn else 0.0


def score(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """The benchmark's metric over (truth, prediction) pairs."""
    counts = [tp_fp_fn(t, p) for t, p in pairs]
    prec = statistics.mean([page_precision(*c) for c in counts if c[0] + c[1] > 0] or [0.0])
    rec = statistics.mean([page_recall(*c) for c in counts if c[0] + c[2] > 0] or [0.0])
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    acc = statistics.mean(float(_TOKEN.findall(t) == _TOKEN.findall(p)) for t, p in pairs)
    return {"f1": f1, "precision": prec, "recall": rec, "accuracy": acc}


def load_pages(data: Path) -> list[tuple[str, str, str, str]]:
    """(id, url, html, true body) for every page with ground truth."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        path = data / "html" / f"{key}.html.gz"
        if not path.exists():
            continue
        html = decode_html(gzip.decompress(path.read_bytes()), "text/html; charset=utf-8")
        pages.append((key, truth[key]["url"], html, truth[key]["articleBody"] or ""))
    return pages


def generic_body(html: str, url: str) -> str:
    """newsarchive's generic-path body; a refused page gives ''. bench/quality.py runs it too."""
    try:
        return parse_html(html, url, parser="generic").body
    except NewsArchiveError:
        return ""


def trafilatura_body(precision: bool, comments: bool = False) -> Callable[[str, str], str]:
    """trafilatura.extract as an extractor; imported at the first page, so the rest runs without it."""

    def run(html: str, url: str) -> str:
        import trafilatura

        return trafilatura.extract(html, url=url, include_comments=comments, favor_precision=precision) or ""

    return run


def extractor(name: str) -> Callable[[str, str], str]:
    if name == "generic":
        return generic_body
    if name == "trafilatura":
        return trafilatura_body(False)
    if name == "trafilatura-precision":
        return trafilatura_body(True)
    raise SystemExit(f"unknown extractor {name!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding html/ and ground-truth.json")
    ap.add_argument("--extractor", default="generic", choices=["generic", "trafilatura", "trafilatura-precision"])
    ap.add_argument("-v", "--verbose", action="store_true", help="list the worst pages")
    ap.add_argument("--worst", type=int, default=15, help="how many worst pages -v lists")
    ap.add_argument("--dump", type=Path, help="write {id: prediction} JSON here")
    args = ap.parse_args(argv)

    pages = load_pages(args.data)
    run = extractor(args.extractor)
    pairs, rows, preds = [], [], {}
    started = time.process_time()
    for key, url, html, truth in pages:
        pred = run(html, url)
        preds[key] = pred
        pairs.append((truth, pred))
        tp, fp, fn = tp_fp_fn(truth, pred)
        rows.append((page_precision(tp, fp, fn), page_recall(tp, fp, fn), key, url))
    elapsed = time.process_time() - started
    m = score(pairs)
    print(
        f"{args.extractor}: {len(pages)} pages  F1 {m['f1']:.4f}  precision {m['precision']:.4f}  "
        f"recall {m['recall']:.4f}  accuracy {m['accuracy']:.3f}  ({len(pages) / elapsed:.1f} pages/s CPU)"
    )
    if args.verbose:
        rows.sort(key=lambda r: 2 * r[0] * r[1] / (r[0] + r[1]) if r[0] + r[1] else 0.0)
        for p, r, key, url in rows[: args.worst]:
            print(f"  P {p:.3f} R {r:.3f}  {key[:12]}  {url}")
    if args.dump:
        args.dump.write_text(json.dumps(preds, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
