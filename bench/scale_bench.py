"""Scale-out benchmark: the shared PostgreSQL frontier (store/pg_frontier.py) under several worker processes.

    python bench/scale_bench.py frontier [--urls 10000] [--hosts 100] [--workers 4] [--threads 8]
                                         [--delay 0.05] [--lease 5] [--kill-after 1000]
    python bench/scale_bench.py ingest [--hosts 50] [--pages 20] [--latency 0.2] [--delay 0.5] [--workers 1,2,4,8]
    python bench/scale_bench.py cpu [--hosts 10] [--pages 100] [--rounds 2] [--old OLD-SRC]

It starts its own throwaway PostgreSQL cluster (tests/pg_cluster.py) and its HTTP hosts on 127.0.0.2,
127.0.0.3, ... (one loopback address per host: politeness is per host name, ports do not count).

``frontier``: URLS URLs over HOSTS hosts in the frontier; WORKERS processes of THREADS threads each claim
batches (FOR UPDATE SKIP LOCKED, a lease), fetch them through the hosts-table gate (robots.txt, delay)
and mark them done; one worker SIGKILLs itself after KILL-AFTER fetches, mid-batch. From the hosts' own
request logs: URLs fetched twice (double claims; a fetch by the killed worker that it never marked done
is counted apart), URLs never fetched or not done (lost), claims left, and the smallest gap between two
requests to one host against the delay.

``ingest``: ``newsarchive ingest`` processes (1, 2, 4, 8) against one PostgreSQL store, the hosts answering
after LATENCY seconds, DELAY between two requests to a host: pages/s per number of workers.

``cpu``: one ``ingest`` process, hosts answering at once and no delay, on the SQLite store and on a
PostgreSQL store: pages per CPU-second of the ingest process (the store's own cost), and for PostgreSQL
also counting the server's CPU over the run (its sessions' backends, from /proc: Linux).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


class _QuietServer(ThreadingHTTPServer):
    """A killed worker's connections are reset mid-request: expected here, not printed."""

    def handle_error(self, request: object, client_address: object) -> None:
        return None


class Host:
    """One HTTP host on its own loopback address: any path is a small HTML page, after ``latency`` seconds."""

    def __init__(self, address: str, *, latency: float = 0.0, pages: dict[str, bytes] | None = None) -> None:
        self.log: list[tuple[float, str, str]] = []  # (arrival time, path, User-Agent)
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                host.log.append((time.time(), self.path, self.headers.get("User-Agent", "")))
                if latency:
                    time.sleep(latency)
                if self.path == "/robots.txt":
                    body, kind = b"User-agent: *\nDisallow: /private/\n", "text/plain"
                elif pages is not None:
                    found = pages.get(self.path)
                    if found is None:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    body = found
                    kind = "application/xml" if self.path.endswith(".xml") else "text/html; charset=utf-8"
                else:
                    body, kind = f"<html><body><p>{self.path}</p></body></html>".encode(), "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _QuietServer((address, 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://{address}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def smallest_gap(hosts: list[Host]) -> float:
    gaps = []
    for host in hosts:
        times = sorted(t for t, _, _ in host.log)
        gaps += [b - a for a, b in itertools.pairwise(times)]
    return min(gaps) if gaps else float("nan")


def start_cluster() -> Any:
    from pg_cluster import HOW_TO, Cluster, find_bin_dir  # type: ignore[import-not-found]

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise SystemExit(HOW_TO)
    return Cluster(bin_dir).start()


# --- frontier -----------------------------------------------------------------------------


def frontier_worker(args: argparse.Namespace) -> int:
    """One worker process: claim, fetch politely, mark done, until nothing is due (or its own SIGKILL)."""
    import psycopg

    from newsarchive.fetch.polite import PoliteFetcher
    from newsarchive.sources import Settings
    from newsarchive.store.pg_frontier import PgFrontier

    conn = psycopg.connect(args.url, autocommit=True)
    frontier = PgFrontier(conn, lease=args.lease)
    settings = Settings(delay=args.delay, allow_private=True, retries=0, timeout=30, user_agent=args.name)
    gate = frontier.host_gate(settings)
    lock = threading.Lock()
    fetched = [0]

    def work() -> None:
        with PoliteFetcher(settings, gate=gate) as fetcher:
            while True:
                batch = frontier.claim(now=datetime.now(UTC), limit=args.batch)
                if not batch:
                    wait = frontier.waiting(now=datetime.now(UTC))
                    if wait is None:
                        return
                    time.sleep(min(max(wait, 0.02), 0.5))
                    continue
                for n, item in enumerate(batch):
                    if item.url not in frontier.renew([d.url for d in batch[n:]]):
                        continue
                    fetcher.fetch(item.request_url)
                    with lock:
                        fetched[0] += 1
                        if args.die_after and fetched[0] >= args.die_after:
                            os.kill(os.getpid(), signal.SIGKILL)
                        frontier.done(item.url, now=datetime.now(UTC), lastmod=None)

    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    frontier.close()
    conn.close()
    return 0


def frontier_bench(args: argparse.Namespace) -> int:
    import psycopg

    from newsarchive.store.pg_frontier import PgFrontier

    cluster = start_cluster()
    hosts = [Host(f"127.0.0.{n + 2}") for n in range(args.hosts)]
    try:
        url = cluster.new_database()
        conn = psycopg.connect(url, autocommit=True)
        frontier = PgFrontier(conn)
        urls = [f"{hosts[i % len(hosts)].base}/a/{i}.html" for i in range(args.urls)]
        now = datetime.now(UTC).isoformat()
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO frontier (url, source, via, discovered_at, state, host) VALUES (%s, 's', 'sitemap', %s,"
                " 'pending', %s)",
                [(u, now, u.split("/")[2].split(":")[0]) for u in urls],
            )
            cur.executemany(
                "INSERT INTO hosts (host) VALUES (%s)", [(h.base.split("/")[2].split(":")[0],) for h in hosts]
            )
        procs = []
        started = time.monotonic()
        for n in range(args.workers):
            cmd = [sys.executable, __file__, "_frontier_worker", url, "--name", f"scalebench-w{n}",
                   "--threads", str(args.threads), "--delay", str(args.delay), "--lease", str(args.lease),
                   "--batch", str(args.batch)]  # fmt: skip
            if n == 0 and args.kill_after:
                cmd += ["--die-after", str(args.kill_after)]
            procs.append(subprocess.Popen(cmd))
        codes = [p.wait() for p in procs]
        elapsed = time.monotonic() - started
        killed = "scalebench-w0" if args.kill_after else None
        requests: dict[str, list[str]] = defaultdict(list)
        for host in hosts:
            for _, path, agent in sorted(host.log):
                if path != "/robots.txt":
                    requests[host.base + path].append(agent.split()[0])
        twice = {u: who for u, who in requests.items() if len(who) > 1}
        after_kill = {u for u, who in twice.items() if who[0] == killed and len(who) == 2}
        counts = frontier.counts()
        lost = [u for u in urls if u not in requests]
        robots = sum(1 for h in hosts for _, p, _ in h.log if p == "/robots.txt")
        print(f"frontier: {args.urls} URLs over {args.hosts} hosts, {args.workers} worker processes x {args.threads}"
              f" threads, delay {args.delay} s, lease {args.lease} s, batches of {args.batch}")  # fmt: skip
        print(f"  worker exit codes: {codes} (-9: killed itself after {args.kill_after} fetches, mid-batch)")
        print(f"  wall time {elapsed:.1f} s, {len(requests) / elapsed:.0f} URLs/s")
        doubles = len(twice) - len(after_kill)
        print(f"  double claims (fetched twice, not the killed worker's unfinished fetch): {doubles}")
        print(f"  fetched by the killed worker and again after its lease: {len(after_kill)}")
        left = len(frontier.claims())
        print(f"  lost (never fetched): {len(lost)}; frontier states: {dict(counts)}; claims left: {left}")
        print(f"  robots.txt requests: {robots} for {args.hosts} hosts")
        print(f"  smallest gap between two requests to one host: {smallest_gap(hosts) * 1000:.1f} ms"
              f" (delay {args.delay * 1000:.0f} ms)")  # fmt: skip
        per_worker = Counter(who[0] for who in requests.values())
        print(f"  URLs per worker: {dict(sorted(per_worker.items()))}")
        frontier.close()
        conn.close()
        ok = not doubles and not lost and not left and counts == {"done": args.urls}
        return 0 if ok and smallest_gap(hosts) >= args.delay else 1
    finally:
        for host in hosts:
            host.stop()
        cluster.stop()


# --- ingest ---------------------------------------------------------------------------------

PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{t}</title>'
    '<meta property="og:title" content="{t}"><meta property="article:published_time" content="2024-03-05T07:15:00Z">'
    "</head><body><article><h1>{t}</h1><p>{t}. A benchmark article of some length, so that the parser finds a"
    " body: officials said the situation remained fluid and further statements were expected later.</p>"
    "<p>Analysts warned that the outcome was far from certain, and the story would be updated.</p>"
    "</article></body></html>"
)


def fixture_hosts(count: int, pages: int, latency: float) -> list[Host]:
    """``count`` hosts with ``pages`` article pages each, listed in each host's /sitemap.xml."""
    hosts = []
    for n in range(count):
        paths = [f"/news/{n}-{i}.html" for i in range(pages)]
        served = {p: PAGE.format(t=f"Story {i} of host {n}").encode() for i, p in enumerate(paths)}
        host = Host(f"127.0.0.{n + 2}", latency=latency, pages=served)
        locs = "".join(f"<url><loc>{host.base}{p}</loc></url>" for p in paths)
        served["/sitemap.xml"] = (
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
        ).encode()
        hosts.append(host)
    return hosts


def run_ingest(
    hosts: list[Host], workers: int, delay: float, store: str | None, root: Path = ROOT
) -> tuple[int, float, float, list[str]]:
    """``workers`` ingest processes (own archive directories, one WARC directory) of the source tree ``root``
    to their end: new pages, wall seconds, CPU seconds of the workers, errors."""
    with tempfile.TemporaryDirectory(prefix="scalebench-") as tmp:
        warc = Path(tmp) / "warc"
        warc.mkdir()
        sources = "".join(
            f'\n[[source]]\nname = "h{n}"\nstart = ["{h.base}/sitemap.xml"]\n' for n, h in enumerate(hosts)
        )
        archives = [Path(tmp) / f"machine{n}" for n in range(workers)]
        for archive in archives:
            archive.mkdir()
            (archive / "sources.toml").write_text(
                f"[settings]\ndelay = {delay}\nmax_pages = 100000\n{sources}", "utf-8"
            )
        env = {**os.environ, "PYTHONPATH": str(root), "NEWSARCHIVE_ALLOW_PRIVATE": "1"}
        where = ["--store", store, "--warc", str(warc)] if store else []
        started = time.monotonic()
        before = os.times()
        procs = [
            subprocess.Popen([sys.executable, "-m", "newsarchive", "--archive", str(a), *where, "ingest", "--json"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for a in archives
        ]  # fmt: skip
        outs = [p.communicate() for p in procs]
        elapsed = time.monotonic() - started
        after = os.times()
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        new = sum(json.loads(o).get("new", 0) for o, _ in outs if o.strip())
        errors = [e.decode()[-300:] for (_, e), p in zip(outs, procs, strict=True) if p.returncode != 0]
    return new, elapsed, cpu, errors


def ingest_bench(args: argparse.Namespace) -> int:
    cluster = start_cluster()
    results = []
    try:
        cores = os.cpu_count() or 1
        for workers in [int(w) for w in args.workers.split(",")]:
            hosts = fixture_hosts(args.hosts, args.pages, args.latency)
            server_before = server_cpu(cluster)
            load_before = os.getloadavg()[0]
            new, elapsed, cpu, errors = run_ingest(hosts, workers, args.delay, cluster.new_database())
            time.sleep(0.5)  # the workers' sessions end after them: their backends' times reach the postmaster
            server = server_cpu(cluster) - server_before
            gap = smallest_gap(hosts)
            for host in hosts:
                host.stop()
            results.append((workers, new, elapsed))
            # What the run needed of the machine: the workers' CPU and the server's over the wall time, against
            # the cores; the load average (other jobs of the machine count in it) before and after.
            share = (cpu + server) / (elapsed * cores)
            print(f"ingest: {workers} workers: {new} new pages in {elapsed:.1f} s = {new / elapsed:.1f} pages/s;"
                  f" smallest gap to one host {gap * 1000:.0f} ms (delay {args.delay * 1000:.0f} ms);"
                  f" CPU {cpu:.1f} s of the workers + {server:.1f} s of the server = {(cpu + server) / new * 1000:.1f}"
                  f" ms a page, {share:.0%} of {cores} cores over the run; load average {load_before:.1f} ->"
                  f" {os.getloadavg()[0]:.1f}" + (f"; errors: {errors}" if errors else ""), flush=True)  # fmt: skip
        base = results[0][1] / results[0][2]
        for workers, new, elapsed in results:
            rate = new / elapsed
            target = 0.8 * workers
            print(f"  {workers} workers: {rate:.1f} pages/s = {rate / base:.2f} x one worker (target {target:.1f} x)")
        # The floor of the wall time whatever the number of workers: one host's pages one after another.
        floor = args.pages * (args.latency + args.delay)
        print(f"  one host's {args.pages} pages take at least {floor:.1f} s in a row (latency + delay each):"
              f" at most {args.hosts * args.pages / floor:.1f} pages/s however many workers")  # fmt: skip
    finally:
        cluster.stop()
    return 0


def server_cpu(cluster: Any) -> float:
    """CPU seconds the PostgreSQL server has spent so far: the postmaster's own and its ended children's (each
    session's backend ends with its connection, and the postmaster collects its times)."""
    pid = (cluster.data / "postmaster.pid").read_text().split()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def cpu_bench(args: argparse.Namespace) -> int:
    """One ingest process, hosts answering at once, no delay: pages per CPU-second on SQLite and on PostgreSQL."""
    cluster = start_cluster()
    try:
        rates: dict[str, list[float]] = {}
        totals: dict[str, list[float]] = {}  # pages per CPU-second of the ingest process and the server
        contenders = ["sqlite", "postgresql"] + (["postgresql (--old)"] if args.old else [])
        for name in contenders * args.rounds:  # interleaved: the machine's load changes during the run
            hosts = fixture_hosts(args.hosts, args.pages, 0.0)
            store = cluster.new_database() if name.startswith("postgresql") else None
            server_before = server_cpu(cluster)
            root = args.old.resolve() if name.endswith("(--old)") else ROOT
            new, elapsed, cpu, errors = run_ingest(hosts, 1, 0.0, store, root)
            time.sleep(0.5)  # the ingest's sessions end after it: their backends' times reach the postmaster
            server = server_cpu(cluster) - server_before if store else 0.0
            for host in hosts:
                host.stop()
            rates.setdefault(name, []).append(new / cpu)
            totals.setdefault(name, []).append(new / (cpu + server))
            rate = new / cpu
            failed = f"; errors: {errors}" if errors else ""
            on_server = f" + {server:.1f} CPU-s of the server = {new / (cpu + server):.1f} with it" if store else ""
            print(f"cpu: {name}: {new} new pages in {elapsed:.1f} s, {cpu:.1f} CPU-s of the ingest process ="
                  f" {rate:.1f} pages per CPU-second{on_server}{failed}", flush=True)  # fmt: skip
        best = {name: max(r) for name, r in rates.items()}
        share = best["postgresql"] / best["sqlite"]
        print(f"  PostgreSQL store: {share:.0%} of the SQLite store's pages per CPU-second (best of each; target 90%)")
        both = max(totals["postgresql"]) / best["sqlite"]
        print(f"  counting the PostgreSQL server's CPU too: {both:.0%} (SQLite has no server)")
        if args.old:
            old = best["postgresql (--old)"] / best["sqlite"]
            old_both = max(totals["postgresql (--old)"]) / best["sqlite"]
            print(f"  the --old tree's PostgreSQL store, same run: {old:.0%} ({old_both:.0%} counting the server)")
    finally:
        cluster.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("frontier", help="claims, leases and politeness with worker processes")
    f.add_argument("--urls", type=int, default=10_000)
    f.add_argument("--hosts", type=int, default=100)
    f.add_argument("--workers", type=int, default=4)
    f.add_argument("--threads", type=int, default=8)
    f.add_argument("--delay", type=float, default=0.05)
    f.add_argument("--lease", type=float, default=5.0)
    f.add_argument("--batch", type=int, default=5)
    f.add_argument("--kill-after", type=int, default=1000, help="SIGKILL worker 0 after this many fetches (0: never)")
    w = sub.add_parser("_frontier_worker")
    w.add_argument("url")
    w.add_argument("--name", required=True)
    w.add_argument("--threads", type=int, default=8)
    w.add_argument("--delay", type=float, default=0.05)
    w.add_argument("--lease", type=float, default=5.0)
    w.add_argument("--batch", type=int, default=5)
    w.add_argument("--die-after", type=int, default=0)
    i = sub.add_parser("ingest", help="newsarchive ingest pages/s with 1, 2, 4, 8 workers on one PostgreSQL store")
    i.add_argument("--hosts", type=int, default=50)
    i.add_argument("--pages", type=int, default=20, help="article pages per host")
    i.add_argument("--latency", type=float, default=0.2, help="seconds each answer takes")
    i.add_argument("--delay", type=float, default=0.5, help="seconds between two requests to one host")
    i.add_argument("--workers", default="1,2,4,8")
    c = sub.add_parser("cpu", help="pages per CPU-second of one ingest process, SQLite store beside PostgreSQL")
    c.add_argument("--hosts", type=int, default=10)
    c.add_argument("--pages", type=int, default=100, help="article pages per host")
    c.add_argument("--rounds", type=int, default=2, help="runs of each contender, interleaved (best counts)")
    c.add_argument("--old", type=Path, help="also a source tree before (git worktree add /tmp/old main), same run")
    args = parser.parse_args()
    if args.command == "cpu":
        return cpu_bench(args)
    if args.command == "frontier":
        return frontier_bench(args)
    if args.command == "_frontier_worker":
        return frontier_worker(args)
    return ingest_bench(args)


if __name__ == "__main__":
    raise SystemExit(main())
