"""Ingest benchmark: a generated N-page fixture site on 127.0.0.1, politeness off; prints pages/s and memory.

    python bench/ingest_bench.py [--pages 10000] [--keep DIR]

The site is built from the Al Mayadeen seed fixture (so the site parser, claimed by
its page markers, does the parsing) with a different headline, slug, date and text
per page, listed in monthly sitemaps under a sitemap index. `newsarchive ingest
--since 2000-01-01` runs in a child process; its resident memory is sampled every
0.5 s, and the samples at each tenth of the run show whether memory stays flat as
the archive grows.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from server import FixtureServer  # noqa: E402

SEED = ROOT / "fixtures" / "sites" / "almayadeen" / "crimea.html"
CRIMEA_SLUG = "us-not-actively-encouraging-ukraine-to-retake-crimea:-report"
HEADLINE = "US not actively encouraging Ukraine to retake Crimea: Reports"
WORDS = [
    "ministry",
    "officials",
    "said",
    "talks",
    "would",
    "resume",
    "next",
    "week",
    "after",
    "the",
    "delegation",
    "returned",
    "from",
    "the",
    "capital",
    "while",
    "analysts",
    "warned",
    "that",
    "the",
    "ceasefire",
    "remained",
    "fragile",
    "and",
    "markets",
    "reacted",
    "to",
    "the",
    "news",
    "with",
    "caution",
]


def build_site(root: Path, pages: int) -> None:
    seed = SEED.read_text("utf-8")
    rng = random.Random(7)
    news = root / "news" / "politics"
    news.mkdir(parents=True)
    months: dict[str, list[str]] = {}
    for n in range(pages):
        month = 1 + n % 12
        slug = f"story-{n}-" + "-".join(rng.sample(WORDS, 4))
        text = " ".join(rng.choice(WORDS) for _ in range(60))
        page = seed.replace(CRIMEA_SLUG, slug).replace(HEADLINE, f"Story {n}: " + " ".join(rng.sample(WORDS, 6)))
        page = page.replace(
            "US State Secretary Antony Blinken", f"Story {n}. {text}. US State Secretary Antony Blinken"
        )
        page = page.replace("2023-02-16", f"2023-{month:02d}-{1 + n % 28:02d}")
        (news / f"{slug}.html").write_text(page, "utf-8")
        months.setdefault(f"2023-{month}", []).append(f"{{{{BASE}}}}/news/politics/{slug}.html")
    sitemaps = root / "sitemaps" / "all"
    sitemaps.mkdir(parents=True)
    index = ['<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for month, urls in months.items():
        body = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
        (sitemaps / f"sitemap-{month}.xml").write_text(
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'
        )
        index.append(f"<sitemap><loc>{{{{BASE}}}}/sitemaps/all/sitemap-{month}.xml</loc></sitemap>")
    (root / "sitemaps" / "all.xml").write_text("".join(index) + "</sitemapindex>")


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="build the site and archive here and keep them")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="na-ingest-bench-"))
    site, archive = work / "site", work / "archive"
    shutil.rmtree(work, ignore_errors=True)
    t0 = time.monotonic()
    build_site(site, args.pages)
    print(f"site: {args.pages} pages built in {time.monotonic() - t0:.1f}s")
    server = FixtureServer(site).start()
    archive.mkdir(parents=True)
    (archive / "sources.toml").write_text(
        "[settings]\ndelay = 0.0\nmax_discovery_docs = 1000\n\n"
        f'[[source]]\nname = "bench"\nstart = ["{server.url("/sitemaps/all.xml")}"]\n'
    )
    env = {**os.environ, "NEWSARCHIVE_ALLOW_PRIVATE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "newsarchive",
        "--archive",
        str(archive),
        "-q",
        "ingest",
        "--since",
        "2000-01-01",
        "--json",
    ]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, int]] = []
    while proc.poll() is None:
        samples.append((time.monotonic() - start, rss_kb(proc.pid)))
        time.sleep(0.5)
    out, err = proc.communicate()
    wall = time.monotonic() - start
    server.stop()
    if proc.returncode not in (0, 1):
        print(err, file=sys.stderr)
        raise SystemExit(proc.returncode)
    print(f"ingest: {out.strip()}")
    import json

    counts = json.loads(out)
    stored = counts.get("new", 0) + counts.get("updated", 0) + counts.get("unchanged", 0)
    print(f"pages archived: {stored} in {wall:.1f}s -> {stored / wall:.1f} pages/s (one host, politeness off)")
    peak = max((kb for _, kb in samples), default=0)
    print(f"peak RSS of the ingest process: {peak / 1024:.0f} MB")
    if samples:
        tenths = [samples[min(len(samples) - 1, int(len(samples) * k / 10))][1] // 1024 for k in range(1, 11)]
        print("RSS (MB) at each tenth of the run:", " ".join(str(t) for t in tenths))
    size = sum(p.stat().st_size for p in archive.rglob("*") if p.is_file())
    print(f"archive size: {size / 1e6:.1f} MB ({size / max(stored, 1) / 1024:.1f} KB per article)")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
