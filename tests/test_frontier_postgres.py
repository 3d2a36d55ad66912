"""The PostgreSQL frontier (store/pg_frontier.py): the SQLite frontier's behaviour, plus claims, leases,
the discovery lock and politeness across workers (threads and processes) on a throwaway cluster."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from server import FixtureServer

from newsarchive.fetch.polite import PoliteFetcher
from newsarchive.sources import Settings
from newsarchive.store.frontier import Frontier

psycopg = pytest.importorskip("psycopg")

from newsarchive.store.pg_frontier import PgFrontier  # noqa: E402

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WORKER = Path(__file__).resolve().parent / "frontier_worker.py"


@pytest.fixture
def conn(pg_url: str) -> Iterator[Any]:
    with psycopg.connect(pg_url, autocommit=True) as c:
        yield c


def sqlite_frontier(tmp_path: Path) -> Frontier:
    db = sqlite3.connect(tmp_path / "f.sqlite", isolation_level=None)
    db.row_factory = sqlite3.Row
    return Frontier(db)


def exercise(frontier: Frontier) -> list[object]:
    """The same calls on either frontier: everything they answer, in order."""
    out: list[object] = []
    t = NOW
    out.append(frontier.knows_source("a"))
    out.append(frontier.offer("https://x.example/1", source="a", via="feed", now=t, lastmod=t - timedelta(days=1)))
    out.append(frontier.offer("https://x.example/2", source="a", via="sitemap", now=t, published=t - timedelta(days=3)))
    out.append(
        frontier.offer("https://y.example/3", source="b", via="feed", now=t, fetch_url="https://y.example/3?utm=x")
    )
    out.append(frontier.offer("https://x.example/1", source="a", via="feed", now=t))
    out.append(frontier.knows_source("a"))
    out.append([(d.url, d.source, d.attempts, d.lastmod, d.request_url) for d in frontier.due(t, limit=10)])
    out.append([d.url for d in frontier.due(t, limit=10, sources=["b"])])
    frontier.done("https://x.example/1", now=t, lastmod=t - timedelta(days=1))
    frontier.failed("https://x.example/2", now=t, error="HTTP 500", retry=True, backoff=timedelta(minutes=30))
    frontier.refused("https://y.example/3", "disallowed by robots.txt")
    out.append(sorted(frontier.counts().items()))
    out.append([d.url for d in frontier.due(t + timedelta(hours=1), limit=10)])
    # a newer lastmod re-queues a done URL; an older one does not
    out.append(frontier.offer("https://x.example/1", source="a", via="feed", now=t, lastmod=t - timedelta(days=2)))
    out.append(frontier.offer("https://x.example/1", source="a", via="feed", now=t, lastmod=t))
    out.append(frontier.offer("https://y.example/3", source="b", via="feed", now=t, lastmod=t))
    out.append(sorted(frontier.counts().items()))
    for _ in range(5):
        frontier.failed("https://x.example/2", now=t, error="x" * 900, retry=True, backoff=timedelta(minutes=1))
    out.append(sorted(frontier.counts().items()))
    out.append(frontier.doc_state("https://x.example/feed"))
    frontier.save_doc_state("https://x.example/feed", etag='"e1"', last_modified="Mon", lastmod=t, now=t)
    frontier.save_doc_state("https://x.example/feed", etag='"e2"', last_modified=None, lastmod=None, now=t)
    out.append(frontier.doc_state("https://x.example/feed"))
    out.append(frontier.feed_metadata("blogger:1"))
    frontier.save_feed_metadata("blogger:1", '{"a": 1}')
    frontier.save_feed_metadata("blogger:1", '{"a": 2}')
    out.append(frontier.feed_metadata("blogger:1"))
    out.append(frontier.last_run())
    run = frontier.start_run(t)
    out.append(frontier.last_run())
    frontier.finish_run(run, t + timedelta(minutes=1), '{"new": 1}')
    out.append(frontier.last_run())
    return out


def test_pg_frontier_answers_as_the_sqlite_frontier(tmp_path: Path, conn: Any) -> None:
    assert exercise(PgFrontier(conn)) == exercise(sqlite_frontier(tmp_path))


def seed(frontier: PgFrontier, hosts: list[str], per_host: int, *, source: str = "s") -> list[str]:
    urls = [f"{base}/p{i}.html" for i in range(per_host) for base in hosts]
    for n, url in enumerate(urls):
        frontier.offer(url, source=source, via="sitemap", now=NOW - timedelta(seconds=n))
    return urls


def test_claims_from_concurrent_threads_never_overlap_and_miss_nothing(conn: Any) -> None:
    frontier = PgFrontier(conn)
    urls = seed(frontier, [f"http://h{i}.example" for i in range(12)], 25)
    claimed: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        from newsarchive.store.pg_frontier import worker_token

        while batch := frontier.claim(now=NOW, limit=4):
            with lock:
                claimed.extend(d.url for d in batch)
            frontier.unclaim([])  # a no-op
            for item in batch:
                frontier._coord().execute(  # done, on this thread's own connection
                    "UPDATE frontier SET state = 'done', claimed_by = NULL, lease_until = NULL WHERE url = %s",
                    (item.url,),
                )
            frontier.give_host(batch[0].url.split("/")[2], token=worker_token(), delay=0.0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    frontier.close()
    assert sorted(claimed) == sorted(urls)  # every URL once: none twice, none lost
    assert frontier.counts() == {"done": len(urls)}
    assert frontier.claims() == []


def test_a_claimed_url_comes_back_when_its_lease_has_passed(pg_url: str, conn: Any) -> None:
    dead = PgFrontier(conn, lease=0.3)
    urls = seed(dead, ["http://a.example"], 3)
    first = dead.claim(now=NOW, limit=10, token="dead-worker")
    assert sorted(d.url for d in first) == sorted(urls)
    with psycopg.connect(pg_url, autocommit=True) as other_conn:
        other = PgFrontier(other_conn, lease=30)
        assert other.claim(now=NOW, token="live-worker") == []  # claimed, and the host taken
        assert other.waiting(now=NOW) is not None  # ... but not lost: a worker waits for it
        time.sleep(0.5)
        again = other.claim(now=NOW, limit=10, token="live-worker")
        assert sorted(d.url for d in again) == sorted(urls)
        # the dead worker's renewal (had it only been slow) fails: it must not fetch them now
        assert dead.renew(urls, token="dead-worker") == set()
        assert other.renew(urls, token="live-worker") == set(urls)
        other.close()
    dead.close()


def test_done_failed_refused_and_unclaim_release_claims(conn: Any) -> None:
    frontier = PgFrontier(conn)
    seed(frontier, ["http://a.example"], 4)
    batch = frontier.claim(now=NOW, limit=4, token="w")
    frontier.done(batch[0].url, now=NOW, lastmod=None)
    frontier.failed(batch[1].url, now=NOW, error="HTTP 503", retry=True, backoff=timedelta(minutes=30))
    frontier.refused(batch[2].url, "robots")
    frontier.unclaim([batch[3].url], token="w")
    assert frontier.claims() == []
    frontier.give_host("a.example", token="w", delay=0)
    assert [d.url for d in frontier.claim(now=NOW, token="w2")] == [batch[3].url]  # the failed one waits its retry
    frontier.close()


def test_discovery_of_a_source_is_taken_by_one_worker_at_a_time(pg_url: str, conn: Any) -> None:
    one = PgFrontier(conn)
    with psycopg.connect(pg_url, autocommit=True) as c2:
        two = PgFrontier(c2)
        assert not two.discovering(["news"])
        with one.discovery_lock("news") as mine:
            assert mine
            assert two.discovering(["news", "blog"]) and not two.discovering(["blog"])
            with two.discovery_lock("news") as theirs, two.discovery_lock("blog") as other_source:
                assert not theirs and other_source
        with two.discovery_lock("news") as theirs:
            assert theirs
        c3 = psycopg.connect(pg_url, autocommit=True)
        assert PgFrontier(c3).discovery_lock("news").__enter__()  # taken, never given back ...
        c3.close()  # ... the worker is killed: its session ends and its lock goes with it
        with two.discovery_lock("news") as theirs:
            assert theirs


def test_a_source_discovered_during_a_run_is_not_walked_again_by_that_run(pg_url: str, conn: Any) -> None:
    """A worker whose run started before another worker finished discovering a source has that source's URLs
    already: it skips the walk (each sitemap read again would take a politeness turn of its host). A run started
    after the discovery walks it, as a later cron run must."""
    one = PgFrontier(conn)
    with psycopg.connect(pg_url, autocommit=True) as c2:
        two = PgFrontier(c2)
        early = one.start_run(NOW)
        busy = two.start_run(NOW)
        assert not one.discovered_during("news", early)
        two.mark_discovered("news")  # the second worker walked it, while the first worker's run was going
        assert one.discovered_during("news", early) and two.discovered_during("news", busy)
        assert not one.discovered_during("blog", early)
        later = one.start_run(NOW)
        assert not one.discovered_during("news", later)
        one.mark_discovered("news")
        assert one.discovered_during("news", later) and one.discovered_during("news", early)


def test_a_frontier_made_before_the_discoveries_table_gets_it_when_opened(pg_url: str, conn: Any) -> None:
    """A store whose frontier tables were made before ``source_discoveries`` existed: opening it creates the
    table (the schema check knew only the tables of the version before, so every run's discovery failed)."""
    PgFrontier(conn)
    conn.execute("DROP TABLE source_discoveries")
    frontier = PgFrontier(conn)
    run = frontier.start_run(NOW)
    assert not frontier.discovered_during("news", run)
    frontier.mark_discovered("news")
    assert frontier.discovered_during("news", run)


def site(tmp_path: Path, address: str, pages: int) -> FixtureServer:
    root = tmp_path / address
    root.mkdir()
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    for i in range(pages):
        (root / f"p{i}.html").write_text(f"<html><body><p>page {i}</p></body></html>")
    return FixtureServer(root, host=address).start()


def smallest_gap(server: FixtureServer) -> float:
    times = sorted(t for t, _ in server.request_times)
    return min(b - a for a, b in itertools.pairwise(times))


def test_hosts_table_spaces_requests_to_a_host_across_gates_and_keeps_robots(tmp_path: Path, conn: Any) -> None:
    servers = [site(tmp_path, f"127.0.0.{n}", 6) for n in (2, 3)]
    try:
        frontier = PgFrontier(conn)
        settings = Settings(delay=0.15, allow_private=True, retries=0)
        gates = [frontier.host_gate(settings) for _ in range(3)]  # three workers' gates, one hosts table
        urls = [s.url(f"/p{i}.html") for s in servers for i in range(6)]

        def fetch(gate: Any, mine: list[str]) -> None:
            with PoliteFetcher(settings, gate=gate) as fetcher:
                for url in mine:
                    assert fetcher.fetch(url).status == 200

        threads = [threading.Thread(target=fetch, args=(g, urls[i::3])) for i, g in enumerate(gates)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for server in servers:
            assert smallest_gap(server) >= 0.15
            assert [p for _, p in server.request_times].count("/robots.txt") == 1  # read once for all workers
        row = {h["host"]: h for h in frontier.hosts()}["127.0.0.2"]
        assert "Disallow: /private/" in row["robots_txt"] and row["delay"] == 0.15 and row["held_by"] is None
        with PoliteFetcher(settings, gate=frontier.host_gate(settings)) as late:  # a new worker: robots from the table
            assert not late.allowed(servers[0].url("/private/x.html"))
        assert [p for _, p in servers[0].request_times].count("/robots.txt") == 1
        frontier.close()
    finally:
        for server in servers:
            server.stop()


def test_a_batch_keeps_its_host_between_its_requests_with_no_statement_each_and_keeps_the_delay(
    tmp_path: Path, conn: Any
) -> None:
    """A fetch thread holds the host its claim took for the whole batch: one give at the end instead of a take
    and a give per request; another worker's request to the host waits, and every gap keeps the delay."""
    server = site(tmp_path, "127.0.0.2", 6)
    try:
        frontier = PgFrontier(conn)
        seed(frontier, [server.url("").rstrip("/")], 5)
        settings = Settings(delay=0.15, allow_private=True, retries=0)
        calls: Counter[tuple[str, str]] = Counter()
        for name in ("take_host", "give_host"):
            real = getattr(frontier, name)

            def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                calls[(threading.current_thread().name, _name)] += 1
                return _real(*args, **kwargs)

            setattr(frontier, name, counted)
        held: list[Any] = []

        def batch_worker() -> None:
            gate = frontier.host_gate(settings)
            batch = frontier.claim(now=NOW, limit=5)
            assert len(batch) == 5
            gate.hold("127.0.0.2")
            try:
                with PoliteFetcher(settings, gate=gate) as fetcher:
                    for n, item in enumerate(batch):
                        assert fetcher.fetch(item.request_url).status == 200
                        if n == 2:
                            held.append({h["host"]: h for h in frontier.hosts()}["127.0.0.2"]["held_by"])
            finally:
                gate.release()

        def other_worker() -> None:
            time.sleep(0.05)  # after the claim
            with PoliteFetcher(settings, gate=frontier.host_gate(settings)) as fetcher:
                assert fetcher.fetch(server.url("/p5.html")).status == 200

        threads = [threading.Thread(target=batch_worker, name="batch"), threading.Thread(target=other_worker)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert held and held[0] is not None  # held between the batch's requests
        assert calls[("batch", "take_host")] == 0 and calls[("batch", "give_host")] == 1
        assert len(server.request_times) == 7  # robots.txt, the batch's five pages, the other worker's page
        assert smallest_gap(server) >= 0.15
        row = {h["host"]: h for h in frontier.hosts()}["127.0.0.2"]
        assert row["held_by"] is None and row["delay"] == 0.15
        frontier.close()
    finally:
        server.stop()


def test_renewing_a_batch_holds_its_host_a_lease_longer(conn: Any) -> None:
    frontier = PgFrontier(conn, lease=60)
    urls = seed(frontier, ["http://a.example"], 2)
    frontier.claim(now=NOW, token="w")
    before = conn.execute("SELECT next_allowed FROM hosts WHERE host = 'a.example'").fetchone()[0]
    time.sleep(0.05)
    assert frontier.renew(urls, token="w", host="a.example") == set(urls)
    after = conn.execute("SELECT next_allowed FROM hosts WHERE host = 'a.example'").fetchone()[0]
    assert after > before
    assert frontier.renew(urls, token="other", host="a.example") == set()  # not its claim, not its host
    assert conn.execute("SELECT next_allowed FROM hosts WHERE host = 'a.example'").fetchone()[0] == after
    frontier.close()


def run_workers(pg_url: str, out: Path, specs: list[list[str]], *, first_alone: bool = False) -> list[int]:
    """Run worker processes to their end (exit codes); ``first_alone``: the others start once it has fetched."""
    procs = []
    for n, spec in enumerate(specs):
        procs.append(subprocess.Popen([sys.executable, str(WORKER), pg_url, str(out), *spec], stderr=subprocess.PIPE))
        if first_alone and n == 0:
            deadline = time.monotonic() + 60
            while not (out.exists() and out.read_text()) and time.monotonic() < deadline:
                time.sleep(0.05)
    codes = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        codes.append(p.returncode)
        if p.returncode not in (0, -9):
            raise AssertionError(err.decode())
    return codes


@pytest.mark.slow
def test_worker_processes_share_the_frontier_and_the_hosts_delay(tmp_path: Path, pg_url: str, conn: Any) -> None:
    servers = [site(tmp_path, f"127.0.0.{n}", 15) for n in (2, 3, 4)]
    try:
        frontier = PgFrontier(conn)
        urls = seed(frontier, [s.base for s in servers], 15)
        out = tmp_path / "fetched.jsonl"
        codes = run_workers(pg_url, out, [["--threads", "3", "--delay", "0.05"]] * 3)
        assert codes == [0, 0, 0]
        fetched = Counter(json.loads(line)["url"] for line in out.read_text().splitlines())
        assert sorted(fetched) == sorted(urls) and set(fetched.values()) == {1}
        assert len({json.loads(line)["token"].rsplit("/", 1)[0] for line in out.read_text().splitlines()}) > 1
        for server in servers:
            assert smallest_gap(server) >= 0.05
            pages = Counter(p for _, p in server.request_times if p.endswith(".html"))
            assert set(pages.values()) == {1}
        assert frontier.counts() == {"done": len(urls)} and frontier.claims() == []
    finally:
        for server in servers:
            server.stop()


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing(tmp_path: Path, pg_url: str, conn: Any) -> None:
    servers = [site(tmp_path, f"127.0.0.{n}", 12) for n in (2, 3)]
    try:
        frontier = PgFrontier(conn)
        urls = seed(frontier, [s.base for s in servers], 12)
        out = tmp_path / "fetched.jsonl"
        # Renewed at a third of the lease: with 1.5 s, a stall of over 0.5 s on a loaded CI machine let a live
        # worker's claim expire and its page be fetched twice.
        lease = ["--lease", "4", "--delay", "0.1"]
        dying = [*lease, "--threads", "1", "--die-after", "3"]
        codes = run_workers(pg_url, out, [dying, lease, lease], first_alone=True)
        assert codes == [-9, 0, 0]
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        fetched = Counter(line["url"] for line in lines)
        assert sorted(fetched) == sorted(urls)  # nothing lost, the killed worker's claims included
        # fetched twice: only the page the killed worker fetched and never marked done
        assert [u for u, n in fetched.items() if n > 1] == [lines[2]["url"]]
        assert frontier.counts() == {"done": len(urls)} and frontier.claims() == []
        assert all(h["held_by"] is None for h in frontier.hosts())
    finally:
        for server in servers:
            server.stop()


def test_a_frontier_copied_before_the_shared_columns_gets_hosts_and_claims(conn: Any) -> None:
    """store migrate from a newsarchive without pg_frontier made the SQLite columns alone: they are completed."""
    conn.execute(
        "CREATE TABLE frontier (url TEXT PRIMARY KEY, source TEXT NOT NULL, via TEXT NOT NULL, lastmod TEXT, "
        "published TEXT, discovered_at TEXT NOT NULL, state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, "
        "next_try TEXT, fetched_at TEXT, fetched_lastmod TEXT, last_error TEXT, fetch_url TEXT)"
    )
    conn.execute(
        "INSERT INTO frontier (url, source, via, discovered_at, state, fetch_url) VALUES "
        "('https://a.example/1', 's', 'feed', '2026-01-05T12:00:00+00:00', 'pending', NULL), "
        "('https://b.example/2', 's', 'feed', '2026-01-05T12:00:00+00:00', 'pending', 'https://c.example/2')"
    )
    frontier = PgFrontier(conn)
    assert {h["host"] for h in frontier.hosts()} == {"a.example", "c.example"}
    claimed = {d.url for _ in range(2) for d in frontier.claim(now=NOW, token="w")}
    assert claimed == {"https://a.example/1", "https://b.example/2"}
    frontier.close()


def test_a_url_new_to_the_frontier_comes_with_its_hosts_row_and_a_known_one_is_compared(conn: Any) -> None:
    """Discovery's usual case, a new URL, is one statement that also gives a new host its row (else its URLs
    are never claimed); a URL already there goes the careful way (lastmod compared), inside a transaction too."""
    frontier = PgFrontier(conn)
    assert frontier.offer("https://new.example/1", source="s", via="feed", now=NOW) == "new"
    assert frontier.offer("https://new.example/2", source="s", via="feed", now=NOW) == "new"
    assert conn.execute("SELECT host FROM hosts").fetchall() == [("new.example",)]
    assert frontier.offer("https://new.example/1", source="s", via="feed", now=NOW) == "known"
    claimed = frontier.claim(now=NOW, token="w")
    assert sorted(d.url for d in claimed) == ["https://new.example/1", "https://new.example/2"]
    frontier.done("https://new.example/1", now=NOW, lastmod=None)
    later = NOW + timedelta(days=1)
    assert frontier.offer("https://new.example/1", source="s", via="feed", now=later, lastmod=later) == "changed"
    with conn.transaction():
        assert frontier.offer("https://other.example/1", source="s", via="feed", now=NOW) == "new"
    assert ("other.example",) in conn.execute("SELECT host FROM hosts").fetchall()
    frontier.close()


# --- redirects between hosts that workers hold for their batches -------------------------------------------


def redirecting_site(tmp_path: Path, address: str, pages: int, to: Callable[[], str]) -> FixtureServer:
    """``/p{i}.html`` answers 302 to ``{to}/from-{address}-{i}.html`` (robots.txt and those targets are files)."""
    from server import send

    server = site(tmp_path, address, 0)
    for i in range(pages):
        (server.root / f"from-{address}-{i}.html").write_text(f"<html><body><p>moved {i}</p></body></html>")

    def redirect(handler: Any) -> None:
        n = handler.path.split("/p", 1)[1].split(".", 1)[0]
        send(handler, 302, b"", {"Location": f"{to()}/from-{address}-{n}.html"})

    for i in range(pages):
        server.routes[f"/p{i}.html"] = redirect
    return server


def test_two_workers_redirected_into_the_hosts_they_hold_both_go_on_at_once(tmp_path: Path, conn: Any) -> None:
    """A worker holding host A for its batch is redirected to B, which another worker holds for its batch and is
    redirected to A: each waited for the other's host until a lease ran out (here 60 s; 300 s by default), their own
    claims expiring meanwhile. A request whose hop must wait gives its batch's host back first (it is done with it:
    its answer was the redirect), so each takes the other's host a delay later; the batch takes its own back after."""
    servers: dict[str, FixtureServer] = {}
    servers["a"] = redirecting_site(tmp_path, "127.0.0.2", 3, lambda: servers["b"].base)
    servers["b"] = redirecting_site(tmp_path, "127.0.0.3", 3, lambda: servers["a"].base)
    try:
        frontier = PgFrontier(conn, lease=60)
        for name, server in servers.items():
            seed(frontier, [server.base], 3, source=name)
        settings = Settings(delay=0.3, allow_private=True, retries=0)
        claimed = threading.Barrier(2)
        finals: dict[str, list[str]] = {}
        errors: list[BaseException] = []

        def worker(name: str) -> None:
            try:
                gate = frontier.host_gate(settings)
                batch = frontier.claim(now=NOW, sources=[name])
                assert len(batch) == 3
                host = servers[name].base.split("//")[1].split(":")[0]
                gate.hold(host)
                claimed.wait(timeout=10)  # both hosts held for a batch before either hop
                try:
                    with PoliteFetcher(settings, gate=gate) as fetcher:
                        finals[name] = [fetcher.fetch(item.request_url).final_url for item in batch]
                finally:
                    gate.release()
            except BaseException as exc:  # shown by the assertion below
                errors.append(exc)

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(name,)) for name in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        elapsed = time.monotonic() - started
        assert errors == []
        assert elapsed < 20, elapsed  # ~3 s of turns; a lease (60 s) when the two waited for each other
        for name, other in (("a", "b"), ("b", "a")):
            address = servers[name].base.split("//")[1].split(":")[0]
            assert sorted(u.removeprefix(servers[other].base) for u in finals[name]) == [
                f"/from-{address}-{i}.html" for i in range(3)
            ]
        for server in servers.values():
            assert smallest_gap(server) >= 0.3  # the hops kept each host's delay, across the two workers
            pages = Counter(p for _, p in server.request_times if p != "/robots.txt")
            assert set(pages.values()) == {1}  # nothing requested twice
        assert all(h["held_by"] is None for h in frontier.hosts())
        frontier.close()
    finally:
        for server in servers.values():
            server.stop()


def test_a_hop_to_a_host_another_worker_keeps_waits_a_bounded_time_then_is_deferred(tmp_path: Path, conn: Any) -> None:
    """The host a redirect goes to is another worker's for longer than a hop waits (2 x its delay + 1 s): the
    request gives up with HostBusy (the page goes back to the frontier: not a failure), the target never asked,
    and the thread's own batch host, given back while it waited, is taken again for the batch's next page."""
    from newsarchive.fetch.polite import HostBusy

    target = site(tmp_path, "127.0.0.3", 1)
    source = redirecting_site(tmp_path, "127.0.0.2", 1, lambda: target.base)
    (source.root / "p1.html").write_text("<html><body><p>stays</p></body></html>")
    try:
        frontier = PgFrontier(conn, lease=60)
        seed(frontier, [source.base], 2, source="a")
        seed(frontier, [target.base], 1, source="b")
        settings = Settings(delay=0.3, allow_private=True, retries=0)
        assert frontier.claim(now=NOW, sources=["b"], token="another-worker")  # holds 127.0.0.3 a lease (60 s)
        gate = frontier.host_gate(settings)
        batch = frontier.claim(now=NOW, sources=["a"])
        assert [item.request_url for item in batch] == [source.url("/p0.html"), source.url("/p1.html")]
        gate.hold("127.0.0.2")
        try:
            with PoliteFetcher(settings, gate=gate) as fetcher:
                started = time.monotonic()
                with pytest.raises(HostBusy) as busy:
                    fetcher.fetch(batch[0].request_url)
                waited = time.monotonic() - started
                assert 1.4 <= waited < 4, waited  # 2 x 0.3 + 1 s, then given up
                assert "127.0.0.3" in busy.value.message and busy.value.retry_after > 0
                assert fetcher.fetch(batch[1].request_url).status == 200  # the batch's host, taken again
        finally:
            gate.release()
        assert target.request_times == []  # not even its robots.txt (read under the host's turn, not had)
        assert smallest_gap(source) >= 0.3
        held = {h["host"]: h["held_by"] for h in frontier.hosts()}
        assert held == {"127.0.0.2": None, "127.0.0.3": "another-worker"}
        frontier.close()
    finally:
        source.stop()
        target.stop()


def test_a_batch_redirected_to_another_origin_of_its_own_host_does_not_wait_for_itself(
    tmp_path: Path, conn: Any
) -> None:
    """Same host, another origin (another scheme or port: its own robots.txt): the thread holds the host for its
    batch, so the hop and that origin's robots.txt go on under its hold, a delay apart, never waiting for itself."""
    (tmp_path / "port2").mkdir()
    target = site(tmp_path / "port2", "127.0.0.2", 0)  # another port of the same loopback host
    source = redirecting_site(tmp_path, "127.0.0.2", 2, lambda: target.base)
    for i in range(2):
        (target.root / f"from-127.0.0.2-{i}.html").write_text(f"<html><body><p>moved {i}</p></body></html>")
    try:
        frontier = PgFrontier(conn, lease=60)
        seed(frontier, [source.base], 2)
        settings = Settings(delay=0.3, allow_private=True, retries=0)
        gate = frontier.host_gate(settings)
        batch = frontier.claim(now=NOW)
        gate.hold("127.0.0.2")
        started = time.monotonic()
        try:
            with PoliteFetcher(settings, gate=gate) as fetcher:
                finals = [fetcher.fetch(item.request_url).final_url for item in batch]
        finally:
            gate.release()
        assert time.monotonic() - started < 10
        assert all(u.startswith(target.base) for u in finals)
        times = sorted(t for s in (source, target) for t, _ in s.request_times)
        assert len(times) == 6  # robots.txt of each origin, two redirects, two targets
        assert all(h["held_by"] is None for h in frontier.hosts())
        frontier.close()
    finally:
        source.stop()
        target.stop()
