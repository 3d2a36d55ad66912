"""Parse speed (pages/s on one core) of every registered parser, beside plain trafilatura on the same pages."""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import trafilatura  # noqa: E402

from newsarchive.errors import NewsArchiveError  # noqa: E402
from newsarchive.parse import parse_html  # noqa: E402
from newsarchive.parse.decode import decode_html  # noqa: E402
from newsarchive.parse.registry import PARSERS  # noqa: E402

DEFAULT_ZYTE = REPO.parent / "shared" / "realpages" / "zyte-dev"
Page = tuple[str, str]  # (html, url)


def fixture_pages(site: str) -> list[Page]:
    """fixtures/sites/<site>/*.html, with the URL their test declares when there is one."""
    folder = REPO / "fixtures" / "sites" / site
    urls = {}
    for cls in PARSERS:
        for t in cls.tests:
            if t.fixture:
                urls[t.fixture] = t.url
    pages = []
    for path in sorted(folder.glob("*.html")):
        rel = f"{site}/{path.name}"
        pages.append((decode_html(path.read_bytes()), urls.get(rel, f"https://{site}.example/{path.stem}")))
    return pages


def zyte_pages(data: Path) -> list[Page]:
    import json

    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        (decode_html(gzip.decompress((data / "html" / f"{k}.html.gz").read_bytes()), "text/html; charset=utf-8"),
         truth[k]["url"])
        for k in sorted(truth)
        if (data / "html" / f"{k}.html.gz").exists()
    ]  # fmt: skip


def rate(pages: list[Page], run: Callable[[str, str], object], repeat: int) -> float:
    """Pages per CPU second (process time, so other load on the machine does not count)."""
    started = time.process_time()
    for _ in range(repeat):
        for html, url in pages:
            run(html, url)
    elapsed = time.process_time() - started
    return len(pages) * repeat / elapsed if elapsed else float("inf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_ZYTE, help="Zyte benchmark folder for the generic path")
    ap.add_argument("--repeat", type=int, default=3, help="passes over fixture pages (they are few)")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the issue asks

    def ours(name: str) -> Callable[[str, str], object]:
        def run(html: str, url: str) -> object:
            try:
                return parse_html(html, url, parser=name)
            except NewsArchiveError:
                return None

        return run

    def plain_trafilatura(html: str, url: str) -> object:
        return trafilatura.extract(html, url=url, include_comments=False, favor_precision=True)

    rows = []
    for cls in PARSERS:
        pages = fixture_pages(cls.name)
        label = f"fixtures/sites/{cls.name}"
        if cls.name == "generic" and args.data.exists():
            pages, label = zyte_pages(args.data), str(args.data)
        if not pages:
            rows.append((cls.name, 0, None, None, "(no fixtures)"))
            continue
        repeat = 1 if len(pages) > 20 else args.repeat
        traf_rate = rate(pages, plain_trafilatura, repeat)  # first: any warm-up cost is trafilatura's
        rows.append((cls.name, len(pages), rate(pages, ours(cls.name), repeat), traf_rate, label))
    print(f"{'parser':<16} {'pages':>5} {'pages/s':>9} {'trafilatura':>12}  pages")
    for name, n, ours_rate, traf_rate, label in rows:
        a = f"{ours_rate:9.1f}" if ours_rate else f"{'-':>9}"
        b = f"{traf_rate:12.1f}" if traf_rate else f"{'-':>12}"
        print(f"{name:<16} {n:>5} {a} {b}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
