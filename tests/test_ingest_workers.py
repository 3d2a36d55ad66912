"""Several `newsarchive ingest` processes on one PostgreSQL store cooperate (store/pg_frontier.py):
no page archived twice, none lost, hosts' delay kept across workers, a SIGKILLed worker's pages taken
over by the others, every WARC file valid (`warcio check`)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from server import FixtureServer, write_sitemap

psycopg = pytest.importorskip("psycopg")

#: One source per host, each its own loopback address: three hosts for politeness (host_of ignores ports).
ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
DELAY = 0.1

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="2024-03-{day:02d}T07:15:00+00:00">
</head><body><article><h1>{title}</h1>
<p>{title}. This fixture article exists so that several ingest workers have real pages to fetch, archive,
parse and store; it says the same thing several times to look like a real story of some length.</p>
<p>Officials quoted in the report said the situation remained fluid and that further statements were
expected later in the day, while analysts warned that the outcome was far from certain.</p>
</article></body></html>
"""


def make_site(root: Path, address: str, pages: int) -> list[str]:
    root.mkdir(parents=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    paths = []
    for i in range(pages):
        path = f"/news/{address.replace('.', '-')}-story-{i}.html"
        (root / path.lstrip("/")).parent.mkdir(exist_ok=True)
        (root / path.lstrip("/")).write_text(PAGE.format(title=f"Story {i} from host {address}", day=1 + i % 28))
        paths.append(path)
    write_sitemap(root, paths)
    return paths


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[list[tuple[FixtureServer, list[str]]]]:
    out = []
    for address in ADDRESSES:
        root = tmp_path / "sites" / address
        paths = make_site(root, address, 10)
        out.append((FixtureServer(root, host=address).start(), paths))
    yield out
    for server, _ in out:
        server.stop()


def write_config(archive: Path, servers: list[FixtureServer]) -> None:
    archive.mkdir(parents=True, exist_ok=True)
    sources = "".join(
        f'\n[[source]]\nname = "host{n}"\nstart = ["{s.url("/sitemap.xml")}"]\n' for n, s in enumerate(servers)
    )
    (archive / "sources.toml").write_text(f"[settings]\ndelay = {DELAY}\n{sources}", "utf-8")


def start_worker(archive: Path, pg_url: str, warc: Path, **env: str) -> subprocess.Popen[bytes]:
    # A live worker stalled past its lease (renewed each third of it) loses its batch, by design: room for a loaded
    # 2-core CI machine (6 s expired under a live worker once, with the whole suite running beside it).
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "NEWSARCHIVE_LEASE": "15", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "newsarchive", "--archive", str(archive), "--store", pg_url, "--warc", str(warc),
         "ingest", "--json"],
        env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def finish(procs: list[subprocess.Popen[bytes]]) -> list[tuple[int, dict[str, Any] | None, str]]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=180)
        counts = json.loads(stdout) if stdout.strip() else None
        out.append((proc.returncode, counts, stderr.decode()))
    return out


def page_urls(hosts: list[tuple[FixtureServer, list[str]]]) -> list[str]:
    return sorted(server.url(p) for server, paths in hosts for p in paths)


def check_archive(pg_url: str, warc: Path, hosts: list[tuple[FixtureServer, list[str]]]) -> None:
    """Every page archived once (one capture, one article), nothing left pending or claimed, WARCs valid."""
    expected = page_urls(hosts)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        captured = Counter(
            r[0] for r in conn.execute("SELECT url FROM captures WHERE url LIKE %s", ("%/news/%",)).fetchall()
        )
        articles = sorted(r[0] for r in conn.execute("SELECT url FROM articles").fetchall())
        states = dict(conn.execute("SELECT state, COUNT(*) FROM frontier GROUP BY state").fetchall())
        claimed = conn.execute("SELECT url, claimed_by FROM frontier WHERE claimed_by IS NOT NULL").fetchall()
        held = conn.execute("SELECT host FROM hosts WHERE held_by IS NOT NULL").fetchall()
    assert sorted(captured) == expected and set(captured.values()) == {1}
    assert articles == expected
    assert states == {"done": len(expected)} and claimed == [] and held == []
    files = sorted(warc.glob("*.warc.gz"))
    assert files
    for path in files:
        check = subprocess.run([Path(sys.executable).parent / "warcio", "check", str(path)], capture_output=True)
        assert check.returncode == 0, (path.name, check.stdout, check.stderr)


def gaps_respected(hosts: list[tuple[FixtureServer, list[str]]], *, each_page_once: bool = True) -> None:
    """No two requests to one host closer than its delay (the fixture servers' own clock); no page fetched twice."""
    for server, _ in hosts:
        times = sorted(t for t, _ in server.request_times)
        assert min(b - a for a, b in itertools.pairwise(times)) >= DELAY
        pages = Counter(p for _, p in server.request_times if p.startswith("/news/"))
        assert set(pages.values()) == {1} or not each_page_once


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 4])
def test_ingest_workers_on_one_postgres_store_archive_each_page_once(
    workers: int, hosts: list[tuple[FixtureServer, list[str]]], tmp_path: Path, pg_url: str
) -> None:
    servers = [s for s, _ in hosts]
    warc = tmp_path / "shared-warc"  # a shared mount: it exists before the workers start
    warc.mkdir()
    # two workers on one machine share an archive directory; four are four machines (own directories, shared WARCs)
    archives = [tmp_path / ("archive" if workers == 2 else f"machine{n}") for n in range(workers)]
    for archive in archives:
        write_config(archive, servers)
    results = finish([start_worker(a, pg_url, warc) for a in archives])
    for code, counts, err in results:
        assert code == 0, err
        assert counts is not None and counts["failed"] == 0
    assert sum(c["new"] for _, c, _ in results if c) == len(page_urls(hosts))
    check_archive(pg_url, warc, hosts)
    gaps_respected(hosts)


@pytest.mark.slow
@pytest.mark.parametrize(
    "killed_at",
    [
        "mid-warc-record:7",  # a torn WARC record (3 sitemaps, then pages)
        "after-article-commit:5",  # capture and article written, not committed: the page's transaction is lost whole
    ],
)
def test_a_worker_killed_mid_batch_leaves_every_page_archived_once(
    killed_at: str, hosts: list[tuple[FixtureServer, list[str]]], tmp_path: Path, pg_url: str
) -> None:
    servers = [s for s, _ in hosts]
    warc = tmp_path / "shared-warc"  # a shared mount: it exists before the workers start
    warc.mkdir()
    archives = [tmp_path / f"machine{n}" for n in range(3)]
    for archive in archives:
        write_config(archive, servers)
    # The first worker dies with its batches claimed and unfinished; the two others start once it has claimed
    # pages, and take over. Where the capture and its article had been written, they were not committed: one
    # transaction with the frontier state, so the page is not archived twice when another worker fetches it again.
    doomed = start_worker(archives[0], pg_url, warc, NEWSARCHIVE_FAULTPOINT=killed_at)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and doomed.poll() is None:
            try:
                if conn.execute("SELECT 1 FROM frontier WHERE claimed_by IS NOT NULL").fetchone():
                    break
            except psycopg.errors.UndefinedTable:
                pass
            time.sleep(0.05)
    results = finish([doomed, *(start_worker(a, pg_url, warc) for a in archives[1:])])
    assert results[0][0] == -9, results[0]
    assert [code for code, _, _ in results[1:]] == [0, 0], results
    # The next cron run on the killed worker's machine settles the WARC file it left torn.
    page = make_site(tmp_path / "extra", "127.0.0.2", 11)[-1]
    (hosts[0][0].root / page.lstrip("/")).write_text((tmp_path / "extra" / page.lstrip("/")).read_text())
    write_sitemap(hosts[0][0].root, [*hosts[0][1], page])
    hosts[0][1].append(page)
    [(code, counts, err)] = finish([start_worker(archives[0], pg_url, warc)])
    assert code == 0 and counts is not None and counts["new"] == 1, err
    check_archive(pg_url, warc, hosts)
    gaps_respected(hosts, each_page_once=False)  # the page being written when the worker died was fetched again


def test_a_fetch_thread_holding_a_host_never_blocks_discovery_that_needs_it(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The discovery overlap's deadlock (found by bench/scale_bench.py with 8 workers): a fetch thread keeps its
    batch's host until the batch ends; while the main thread is still discovering, its pages wait in the results
    queue. When that queue had a bound, the thread blocked on it holding the host, and the main thread, about to
    read another sitemap of that very host, waited for the host: stuck until the claim's lease ran out (300 s).
    The queue is unbounded; a thread only stops claiming new batches while QUEUED pages wait (here 2)."""
    from newsarchive import ingest
    from newsarchive.ingest import Ingest, IngestOptions
    from newsarchive.pipeline import Archive
    from newsarchive.sources import load_config

    monkeypatch.setattr(ingest, "QUEUED", 2)
    monkeypatch.delenv("NEWSARCHIVE_LEASE", raising=False)  # the default 300 s: a deadlock is not cut short
    root = tmp_path / "shared-host"
    shared = make_site(root, "127.0.0.2", 12)  # sources a (10 pages) and c (2) are on this host
    for name, paths in (("sitemap-a.xml", shared[:10]), ("sitemap-c.xml", shared[10:])):
        write_sitemap(root, paths)
        (root / "sitemap.xml").rename(root / name)
    (tmp_path / "other-host").mkdir()
    host = FixtureServer(tmp_path / "shared-host", host="127.0.0.2").start()
    other = FixtureServer(tmp_path / "other-host", host="127.0.0.3").start()
    # Source b's sitemap answers late: a's batch is claimed and fetched while the main thread waits on it.
    other.routes["/sitemap.xml"] = lambda handler: (time.sleep(1.0), write_sitemap_reply(handler))[1]
    archive_dir = tmp_path / "archive"
    archive_dir.mkdir()
    (archive_dir / "sources.toml").write_text(
        "[settings]\ndelay = 0.05\n"
        f'[[source]]\nname = "a"\nstart = ["{host.url("/sitemap-a.xml")}"]\n'
        f'[[source]]\nname = "b"\nstart = ["{other.url("/sitemap.xml")}"]\n'
        f'[[source]]\nname = "c"\nstart = ["{host.url("/sitemap-c.xml")}"]\n',
        "utf-8",
    )
    (tmp_path / "warc").mkdir()
    reports: list[Any] = []
    archive = Archive(archive_dir, store=pg_url, warc=str(tmp_path / "warc"))
    try:
        ingest_run = Ingest(archive, load_config(archive_dir), max_workers=1)

        def target() -> None:
            try:
                reports.append(ingest_run.run(IngestOptions()))
            except BaseException as exc:  # shown by the assertion below
                reports.append(exc)

        run = threading.Thread(target=target, daemon=True)
        run.start()
        run.join(timeout=120)  # not a speed figure: the run takes ~2 s, a deadlock 300 s
        assert not run.is_alive(), "ingest is stuck: the fetch thread and the discovery wait for each other"
    finally:
        if not run.is_alive():
            archive.close()
        host.stop()
        other.stop()
    [report] = reports
    assert report.new == 12 and report.failed == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        held = conn.execute("SELECT host FROM hosts WHERE held_by IS NOT NULL").fetchall()
        articles = sorted(r[0] for r in conn.execute("SELECT url FROM articles").fetchall())
    assert held == [] and articles == sorted(host.url(p) for p in shared)


def redirect_to(location: str) -> Any:
    """A route answering 302 to ``location``."""
    from server import send

    return lambda handler: send(handler, 302, b"", {"Location": location})


def write_sitemap_reply(handler: Any) -> None:
    """An empty urlset (source b only makes the main thread wait)."""
    from server import send

    body = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"></urlset>'
    send(handler, 200, body, {"Content-Type": "application/xml"})


@pytest.mark.slow
def test_two_workers_whose_hosts_redirect_into_each_other_finish_promptly(tmp_path: Path, pg_url: str) -> None:
    """Hosts A and B each list pages that redirect to the other (example.com -> www.example.com and back, both in
    the frontier). A fetch thread holding A for its batch, redirected to B, waited for B as long as another worker
    held B for its batch, and two redirected into each other's hosts waited for each other until a lease ran out
    (120 s here), their claims expiring meanwhile (pages fetched twice). Now a hop's wait is bounded and gives the
    batch's own host back first: both workers finish in seconds, every page archived once, the delays kept."""

    roots = {address: tmp_path / "sites" / address for address in ADDRESSES[:2]}
    servers = {}
    listed: dict[str, list[str]] = {}
    moved: dict[str, list[str]] = {}
    plains = {address: make_site(roots[address], address, 4) for address in ADDRESSES[:2]}
    for address, other in zip(ADDRESSES[:2], reversed(ADDRESSES[:2]), strict=True):
        plain = plains[address]
        hops = [f"/news/{address.replace('.', '-')}-to-{other.replace('.', '-')}-{i}.html" for i in range(6)]
        listed[address] = plain + hops
        write_sitemap(roots[address], listed[address])
        targets = [f"/moved/from-{address.replace('.', '-')}-{i}.html" for i in range(6)]
        (roots[other] / "moved").mkdir(parents=True, exist_ok=True)
        for i, target in enumerate(targets):
            (roots[other] / target.lstrip("/")).write_text(PAGE.format(title=f"Moved {i} from {address}", day=1 + i))
        moved[other] = targets
    for address in ADDRESSES[:2]:
        servers[address] = FixtureServer(roots[address], host=address).start()
    for address, other in zip(ADDRESSES[:2], reversed(ADDRESSES[:2]), strict=True):
        for i, hop in enumerate(listed[address][4:]):
            location = servers[other].url(f"/moved/from-{address.replace('.', '-')}-{i}.html")
            servers[address].routes[hop] = redirect_to(location)
    try:
        warc = tmp_path / "shared-warc"
        warc.mkdir()
        archives = [tmp_path / f"machine{n}" for n in range(2)]
        for archive in archives:
            write_config(archive, list(servers.values()))
        started = time.monotonic()
        results = finish([start_worker(a, pg_url, warc, NEWSARCHIVE_LEASE="120") for a in archives])
        elapsed = time.monotonic() - started
    finally:
        for server in servers.values():
            server.stop()
    for code, counts, err in results:
        assert code == 0, err
        assert counts is not None and counts["failed"] == 0, counts
        assert "Traceback" not in err and "busy" not in err  # a deferred page is no error (cron stays quiet)
    assert elapsed < 60, elapsed  # ~10 s; two workers waiting on each other's hosts took a lease (120 s) or more
    requested = sorted(servers[a].url(p) for a in ADDRESSES[:2] for p in listed[a])
    finals = sorted(servers[a].url(p) for a in ADDRESSES[:2] for p in moved[a])
    plain = [u for u in requested if "-to-" not in u]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        captured = Counter(r[0] for r in conn.execute("SELECT url FROM captures WHERE url LIKE '%/news/%'"))
        articles = sorted(r[0] for r in conn.execute("SELECT url FROM articles").fetchall())
        states = dict(conn.execute("SELECT state, COUNT(*) FROM frontier GROUP BY state").fetchall())
        held = conn.execute("SELECT host FROM hosts WHERE held_by IS NOT NULL").fetchall()
    assert sorted(captured) == requested and set(captured.values()) == {1}  # every page archived exactly once
    assert articles == sorted(plain + finals)
    assert states == {"done": len(requested)} and held == []
    assert sum(c["new"] for _, c, _ in results if c) == len(requested)
    for server in servers.values():
        times = sorted(t for t, _ in server.request_times)
        assert min(b - a for a, b in itertools.pairwise(times)) >= DELAY  # hops included, across the two workers


def test_a_page_whose_redirect_host_another_worker_keeps_is_put_back_and_fetched_once_it_is_free(
    tmp_path: Path, pg_url: str
) -> None:
    """Another worker holds B (its batch: ~4 s here). A page of A redirecting to B waits for B a bounded time
    (2 x delay + 1 s), then goes back to the frontier, due again a little later: no attempt counted, no error,
    not failed; the run fetches A's other pages meanwhile, waits for the page to come due, and archives it."""
    from server import send

    from newsarchive.ingest import Ingest, IngestOptions
    from newsarchive.pipeline import Archive
    from newsarchive.sources import load_config
    from newsarchive.store.pg_frontier import PgFrontier

    roots = {address: tmp_path / "sites" / address for address in ADDRESSES[:2]}
    plain = make_site(roots["127.0.0.2"], "127.0.0.2", 3)
    make_site(roots["127.0.0.3"], "127.0.0.3", 0)
    (roots["127.0.0.3"] / "moved.html").write_text(PAGE.format(title="Moved story", day=9))
    write_sitemap(roots["127.0.0.2"], [*plain, "/news/hop.html"])
    a, b = (FixtureServer(roots[address], host=address).start() for address in ADDRESSES[:2])
    a.routes["/news/hop.html"] = lambda handler: send(handler, 302, b"", {"Location": b.url("/moved.html")})
    archive_dir = tmp_path / "archive"
    write_config(archive_dir, [a])
    (tmp_path / "warc").mkdir()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        PgFrontier(conn).close()  # the tables; then B held by another worker for ~4 s more
        conn.execute(
            "INSERT INTO hosts (host, held_by, next_allowed) VALUES ('127.0.0.3', 'another-worker', "
            "clock_timestamp() + interval '4 seconds')"
        )
    pages: list[tuple[str, str]] = []
    archive = Archive(archive_dir, store=pg_url, warc=str(tmp_path / "warc"))
    try:
        started = time.monotonic()
        report = Ingest(
            archive, load_config(archive_dir), max_workers=2, on_page=lambda u, o: pages.append((u, o))
        ).run(IngestOptions())
        elapsed = time.monotonic() - started
    finally:
        archive.close()
        a.stop()
        b.stop()
    hop = a.url("/news/hop.html")
    assert (hop, "deferred") in pages and pages[-1][0] == hop  # put back, then archived at the end
    assert report.failed == 0 and report.errors == [] and report.new == 4
    assert elapsed < 30, elapsed
    assert [p for _, p in b.request_times] == ["/robots.txt", "/moved.html"]  # asked only once B was free
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute("SELECT state, attempts, last_error FROM frontier WHERE url = %s", (hop,)).fetchone()
        captured = Counter(r[0] for r in conn.execute("SELECT url FROM captures WHERE url LIKE '%/news/%'"))
    assert row == ("done", 0, None)
    assert set(captured.values()) == {1} and len(captured) == 4
