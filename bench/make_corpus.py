"""Build a corpus of real-looking news articles by resampling real article text into an archive's store."""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsarchive.article import Article
from newsarchive.store.articles import ArticleStore

ROOT = Path(__file__).resolve().parent.parent
ZYTE = ROOT.parent / "shared" / "realpages" / "zyte-dev" / "ground-truth.json"
FIXTURE_GOLDEN = ROOT / "fixtures" / "sites"
SITES = ("almayadeen-en", "almayadeen-es", "almayadeen-ar", "blog-a", "news-b", "wire-c")
HOW = (
    "paragraphs of the 88 zyte-dev ground-truth article bodies (English) and of the Spanish and Arabic golden"
    " fixture bodies are resampled: each article takes 4-10 random paragraphs (~4 KB), a headline from a random"
    " sentence, 1-4 tags from a 300-word vocabulary drawn from the text, a site, a byline from 50 names and a"
    " publication time uniform over 2015-2024; 80% English, 10% Spanish, 10% Arabic"
)


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


def build(archive: Path, n: int) -> int:
    """Write n articles to <archive>/store.sqlite (no WARC, no index); returns n."""
    archive.mkdir(parents=True, exist_ok=True)
    store = ArticleStore(archive / "store.sqlite")
    count = 0
    try:
        batch = store.transaction()
        batch.__enter__()
        for article in make_articles(n):
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
    args = ap.parse_args()
    print(f"{build(args.archive, args.n)} articles in {args.archive}/store.sqlite")
    print(f"how: {HOW}")


if __name__ == "__main__":
    main()
