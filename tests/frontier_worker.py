"""A frontier worker process for the PostgreSQL frontier tests: claim, fetch politely, mark done.

    python tests/frontier_worker.py DB_URL OUT_FILE [--threads N] [--delay S] [--lease S] [--die-after N]

Each fetched URL is appended to OUT_FILE as one JSON line {"url", "token"} (flushed at once, so a killed
worker's fetches are on record). ``--die-after N``: SIGKILL itself after its N-th fetch, its batch unfinished.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsarchive.fetch.polite import PoliteFetcher
from newsarchive.sources import Settings
from newsarchive.store.pg_frontier import PgFrontier, worker_token


def run(url: str, out: Path, *, threads: int, delay: float, lease: float, die_after: int | None) -> int:
    conn = psycopg.connect(url, autocommit=True)
    frontier = PgFrontier(conn, lease=lease)
    settings = Settings(delay=delay, allow_private=True, retries=0, timeout=10)
    gate = frontier.host_gate(settings)
    lock = threading.Lock()
    fetched = [0]
    log = open(out, "a", encoding="utf-8")  # noqa: SIM115 - closed below

    def work() -> None:
        with PoliteFetcher(settings, gate=gate) as fetcher:
            while True:
                batch = frontier.claim(now=datetime.now(UTC), limit=5)
                if not batch:
                    wait = frontier.waiting(now=datetime.now(UTC))
                    if wait is None:
                        return
                    time.sleep(min(max(wait, 0.02), 0.5))
                    continue
                for n, item in enumerate(batch):
                    if item.url not in frontier.renew([d.url for d in batch[n:]]):
                        continue
                    raw = fetcher.fetch(item.request_url)
                    with lock:
                        log.write(json.dumps({"url": item.url, "token": worker_token(), "status": raw.status}) + "\n")
                        log.flush()
                        fetched[0] += 1
                        if die_after is not None and fetched[0] >= die_after:
                            os.kill(os.getpid(), signal.SIGKILL)
                    with lock:  # one thread at a time on the store's connection
                        frontier.done(item.url, now=datetime.now(UTC), lastmod=None)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    log.close()
    frontier.close()
    conn.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("out", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--die-after", type=int)
    args = parser.parse_args()
    return run(args.url, args.out, threads=args.threads, delay=args.delay, lease=args.lease, die_after=args.die_after)


if __name__ == "__main__":
    raise SystemExit(main())
