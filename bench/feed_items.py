"""Time to read one huge RSS feed (the MAX_FEED_ITEMS cap at work): python bench/feed_items.py [ITEMS]."""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from newsarchive.discover.feeds import MAX_FEED_ITEMS, parse_feed  # noqa: E402


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    items = "".join(
        f"<item><title>Story {i}</title><link>https://example.com/news/{i}.html</link></item>" for i in range(count)
    )
    body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode()
    start = time.perf_counter()
    found = parse_feed(body, "https://example.com/feed.xml")
    took = time.perf_counter() - start
    print(f"{count:,} items ({len(body) / 1e6:.1f} MB): {len(found.candidates):,} read "
          f"(cap {MAX_FEED_ITEMS:,}) in {took:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
