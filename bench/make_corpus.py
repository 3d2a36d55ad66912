"""Build a corpus of real-looking news articles by resampling real article text into an archive's store."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from newsarchive.article import Article
from newsarchive.store.articles import ArticleStore

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NEWSARCHIVE_SHARED", ROOT.parent / "shared"))  # /work/shared
ZYTE = SHARED / "realpages" / "zyte-dev" / "ground-truth.json"
FIXTURE_GOLDEN = ROOT / "fixtures" / "sites"
STATS = SHARED / "corpus-stats" / "stats.json"
SITES = ("almayadeen-en", "almayadeen-es", "almayadeen-ar", "blog-a", "news-b", "wire-c")
HOW = (
    "paragraphs of the 88 zyte-dev ground-truth article bodies (English) and of the Spanish and Arabic golden"
    " fixture bodies are resampled: each article takes 4-10 random paragraphs (~4 KB), a headline from a random"
    " sentence, 1-4 tags from a 300-word vocabulary drawn from the text, a site, a byline from 50 names and a"
    " publication time uniform over 2015-2024; 80% English, 10% Spanish, 10% Arabic"
)


HOW_REAL = (
    "real-statistics profile (/work/shared/corpus-stats, 11,588 real news articles): 72% Arabic, 28% English;"
    " body words drawn by frequency (Zipf) from each language's 60,000 most frequent words, body, headline,"
    " paragraph and tags-per-article counts drawn from the real percentiles, tags from the real top-tag lists"
    " by use, publication time uniform over 2015-2026; 1 in 20 English articles is a real zyte-dev"
    " ground-truth body (88 real pages, resampled)"
)
REAL_AR = 0.72


def _paragraphs(texts: list[str]) -> list[str]:
    return [p.strip() for t in texts for p in re.split(r"\n\s*\n|\n", t) if len(p.strip()) > 80]


def _pools() -> dict[str, list[str]]:
    en = _paragraphs([v["articleBody"] for v in json.loads(ZYTE.read_text("utf-8")).values()])
    by_lang: dict[str, list[str]] = {"en": en, "es": [], "ar": []}
    for golden in FIXTURE_GOLDEN.rglob("*.article.json"):
        data = json.loads(golden.read_text("utf-8"))
        lang = (data.get("lang") or "").split("-")[0]
        if lang in ("es", "ar"):
            by_lang[lang].extend(_paragraphs([data["body"]]))
    for lang in ("es", "ar"):
        if not by_lang[lang]:
            by_lang[lang] = en
    return by_lang


def _tags(rng: random.Random, pools: dict[str, list[str]]) -> list[str]:
    vocab = sorted({w.lower() for p in pools["en"] for w in re.findall(r"[A-Za-z]{6,}", p)})
    return rng.sample(vocab, min(300, len(vocab)))


def corpus_tags(seed: int = 7) -> list[str]:
    """The tag vocabulary of make_articles(..., seed) (for benchmarks that filter by tag)."""
    return _tags(random.Random(seed), _pools())


def make_articles(n: int, seed: int = 7) -> Iterator[Article]:
    rng = random.Random(seed)
    pools = _pools()
    tags = _tags(rng, pools)
    names = [f"Author {i}" for i in range(50)]
    start = datetime(2015, 1, 1, tzinfo=UTC)
    span = int((datetime(2025, 1, 1, tzinfo=UTC) - start).total_seconds())
    for i in range(n):
        r = rng.random()
        lang = "en" if r < 0.8 else "es" if r < 0.9 else "ar"
        pool = pools[lang]
        paras: list[str] = []
        while sum(len(p) for p in paras) < 3500 and len(paras) < 10:
            paras.append(rng.choice(pool))
        sentence = re.split(r"(?<=[.!?؟])\s", rng.choice(pool))[0]
        headline = " ".join(sentence.split()[:12])
        site = SITES[1] if lang == "es" else SITES[2] if lang == "ar" else rng.choice(SITES[:1] + SITES[3:])
        yield Article(
            url=f"https://{site}.example/{i}",
            headline=headline,
            body="\n\n".join(paras),
            site=site,
            lang=lang,
            byline=(rng.choice(names),),
            tags=tuple(rng.sample(tags, rng.randint(1, 4))),
            section=rng.choice(("politics", "world", "economy", "culture")),
            description=paras[0][:200],
            published=start + timedelta(seconds=rng.randrange(span)),
        )


class _Percentiles:
    """Draw integers from a distribution given by percentiles {"1": v, ..., "99": v} (linear between them)."""

    def __init__(self, pct: dict[str, int]) -> None:
        pts = sorted((float(k) / 100, float(v)) for k, v in pct.items())
        lo, hi = pts[0][1], pts[-1][1]
        self.xs = np.array([0.0] + [p for p, _ in pts] + [1.0])
        self.ys = np.array([max(1.0, lo * 0.7)] + [v for _, v in pts] + [hi * 1.25])

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.maximum(1, np.interp(rng.random(size), self.xs, self.ys).round().astype(np.int64))


class _Lang:
    def __init__(self, stats: dict) -> None:  # type: ignore[type-arg]
        self.words = np.array([w for w, _, _ in stats["words"]], dtype=object)
        counts = np.array([c for _, c, _ in stats["words"]], dtype=np.float64)
        self.cum = np.cumsum(counts / counts.sum())
        self.body = _Percentiles(stats["body_words_percentiles"])
        self.headline = _Percentiles(stats["headline_words_percentiles"])
        self.paras = _Percentiles(stats["paragraphs_percentiles"])
        self.ntags = _Percentiles(stats["tags_per_article_percentiles"])
        self.tags = [t for t, _ in stats["top_tags"]]
        tag_counts = np.array([c for _, c in stats["top_tags"]], dtype=np.float64)
        self.tag_p = tag_counts / tag_counts.sum()

    def text(self, rng: np.random.Generator, n: int) -> list[str]:
        idx = np.searchsorted(self.cum, rng.random(n) * self.cum[-1])
        return list(self.words[np.minimum(idx, len(self.words) - 1)])


def real_stats() -> dict:  # type: ignore[type-arg]
    return json.loads(STATS.read_text("utf-8"))["languages"]  # type: ignore[no-any-return]


def real_tags(lang: str, k: int = 3) -> list[str]:
    """The k most used real tags of a language (for benchmarks that filter by tag)."""
    return [t for t, _ in real_stats()[lang]["top_tags"][:k]]


def make_real_articles(n: int, seed: int = 7, *, first: int = 0) -> Iterator[Article]:
    """n articles with real-archive term statistics (see HOW_REAL); ``first`` numbers the URLs."""
    stats = real_stats()
    langs = {lang: _Lang(stats[lang]) for lang in ("ar", "en")}
    real_en = [v["articleBody"] for v in json.loads(ZYTE.read_text("utf-8")).values() if v["articleBody"].strip()]
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    names = [f"Author {i}" for i in range(50)]
    start = datetime(2015, 1, 1, tzinfo=UTC)
    span = int((datetime(2026, 12, 31, tzinfo=UTC) - start).total_seconds())
    for i in range(first, first + n):
        lang = "ar" if prng.random() < REAL_AR else "en"
        L = langs[lang]
        nwords = int(L.body.draw(rng, 1)[0])
        headline = " ".join(L.text(rng, int(L.headline.draw(rng, 1)[0]))).capitalize()
        if lang == "en" and prng.random() < 0.05:
            body = prng.choice(real_en)
        else:
            words = L.text(rng, nwords)
            npara = max(1, min(int(L.paras.draw(rng, 1)[0]), nwords // 8 or 1))
            cuts = sorted(prng.sample(range(1, nwords), npara - 1)) if nwords > npara else []
            bounds = [0, *cuts, nwords]
            body = "\n\n".join(" ".join(words[a:b]) + "." for a, b in itertools.pairwise(bounds) if b > a)
        ntags = min(int(L.ntags.draw(rng, 1)[0]), len(L.tags))
        tags = tuple(dict.fromkeys(rng.choice(L.tags, size=ntags, p=L.tag_p).tolist()))
        site = "almayadeen-ar" if lang == "ar" else prng.choice(SITES[:1] + SITES[3:])
        yield Article(
            url=f"https://{site}.example/{i}",
            headline=headline,
            body=body,
            site=site,
            lang=lang,
            byline=(prng.choice(names),),
            tags=tags,
            section=prng.choice(("politics", "world", "economy", "culture")),
            description=body[:200],
            published=start + timedelta(seconds=prng.randrange(span)),
        )


def articles(profile: str, n: int, seed: int = 7, *, first: int = 0) -> Iterator[Article]:
    if profile == "real":
        return make_real_articles(n, seed, first=first)
    return make_articles(n, seed)


def build(archive: Path, n: int, profile: str = "english") -> int:
    """Write n articles to <archive>/store.sqlite (no WARC, no index); returns n."""
    archive.mkdir(parents=True, exist_ok=True)
    store = ArticleStore(archive / "store.sqlite")
    count = 0
    try:
        batch = store.transaction()
        batch.__enter__()
        for article in articles(profile, n):
            store.upsert(article)
            count += 1
            if count % 5000 == 0:
                batch.__exit__(None, None, None)
                batch = store.transaction()
                batch.__enter__()
        batch.__exit__(None, None, None)
        store.clear_index_queue()
    finally:
        store.close()
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("archive", type=Path)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument(
        "--profile",
        choices=("english", "real"),
        default="english",
        help="english: resampled English-heavy pages (the original corpus); real: real-archive statistics",
    )
    args = ap.parse_args()
    print(f"{build(args.archive, args.n, args.profile)} articles in {args.archive}/store.sqlite")
    print(f"how: {HOW_REAL if args.profile == 'real' else HOW}")


if __name__ == "__main__":
    main()
