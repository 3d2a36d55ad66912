"""One polite fetcher for every command: robots.txt, User-Agent, delay, caps; URLs fetched as discovered.

Real servers on 127.0.0.1 (tests/server.py); each test builds the few routes it needs.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_routes import HTML, article
from hypothesis import example, given, settings
from hypothesis import strategies as st
from server import FixtureServer, Route, send

from newsarchive.cli import cli

FEED = "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>T</title>{items}</channel></rss>"
ITEM = "<item><title>{title}</title><link>{link}</link><pubDate>Tue, 05 Mar 2024 07:15:00 GMT</pubDate></item>"
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def site(empty_site: FixtureServer) -> FixtureServer:
    return empty_site


def page(title: str = "Harbour delays expected") -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, article(title), HTML)

    return route


def body(data: bytes, headers: dict[str, str] | None = None, status: int = 200) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, status, data, headers or HTML)

    return route


def timed(route: Route, log: list[tuple[str, float]]) -> Route:
    """The route, recording when each request arrived (server side)."""

    def wrapper(handler: BaseHTTPRequestHandler) -> None:
        log.append((handler.path, time.monotonic()))
        route(handler)

    return wrapper


def feed(server: FixtureServer, *links: str) -> bytes:
    items = "".join(ITEM.format(title=f"Story {i}", link=link) for i, link in enumerate(links))
    return FEED.format(items=items).encode("utf-8")


def cli_run(archive: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--archive", str(archive), *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def write_config(archive: Path, settings: str = "delay = 0.0", sources: str = "") -> Path:
    archive.mkdir(parents=True, exist_ok=True)
    path = archive / "sources.toml"
    path.write_text(f"[settings]\n{settings}\n\n{sources}", "utf-8")
    return path


def source(name: str, *start: str) -> str:
    urls = ", ".join(json.dumps(u) for u in start)
    return f"[[source]]\nname = {json.dumps(name)}\nstart = [{urls}]\n\n"


def paths(server: FixtureServer) -> list[str]:
    return [p for p, _ in server.requests]


# --- 1. sources add never replaces another source --------------------------------------------------


def test_sources_add_of_a_second_feed_on_the_same_host_keeps_both(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/sport/feed.xml"] = body(feed(site, site.url("/sport/a.html")), XML)
    site.routes["/news/feed.xml"] = body(feed(site, site.url("/news/a.html")), XML)
    archive = tmp_path / "a"
    assert cli_run(archive, "sources", "add", site.url("/sport/feed.xml"))[0] == 0
    code, _, err = cli_run(archive, "sources", "add", site.url("/news/feed.xml"))
    assert code == 0, err
    listed = json.loads(cli_run(archive, "sources", "list", "--json")[1])
    starts = {s["name"]: s["start"] for s in listed}
    assert starts["127.0.0.1"] == [site.url("/sport/feed.xml")]
    assert starts["127.0.0.1-news"] == [site.url("/news/feed.xml")]
    assert "added 127.0.0.1-news" in err and "is taken" in err


def test_sources_add_of_one_feed_on_two_ports_gets_distinct_names(tmp_path: Path) -> None:
    servers = [FixtureServer(tmp_path).start() for _ in range(2)]
    try:
        for server in servers:
            server.routes["/feed.xml"] = body(feed(server, server.url("/a.html")), XML)
        archive = tmp_path / "a"
        for server in servers:
            code, _, err = cli_run(archive, "sources", "add", server.url("/feed.xml"))
            assert code == 0, err
        listed = json.loads(cli_run(archive, "sources", "list", "--json")[1])
    finally:
        for server in servers:
            server.stop()
    by_start = {s["start"][0]: s["name"] for s in listed}
    assert by_start[servers[0].url("/feed.xml")] == "127.0.0.1"
    assert by_start[servers[1].url("/feed.xml")] == "127.0.0.1-feed"


def test_sources_add_of_the_same_feed_twice_changes_nothing(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/feed.xml"] = body(feed(site, site.url("/a.html")), XML)
    archive = tmp_path / "a"
    cli_run(archive, "sources", "add", site.url("/feed.xml"))
    code, _, err = cli_run(archive, "sources", "add", site.url("/feed.xml"))
    assert code == 0 and "already a source: 127.0.0.1" in err
    assert len(json.loads(cli_run(archive, "sources", "list", "--json")[1])) == 2  # built-in + this one


@pytest.mark.parametrize("name", ["bad name!", "-dash-first", "x" * 65, "é"])
def test_sources_add_refuses_a_name_that_loading_would_refuse(name: str, site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/feed.xml"] = body(feed(site, site.url("/a.html")), XML)
    code, _, err = cli_run(tmp_path / "a", "sources", "add", site.url("/feed.xml"), "--name", name)
    assert code == 2 and "is not a source name" in err
    assert not (tmp_path / "a" / "sources.toml").exists()
    assert site.requests == []


def test_sources_add_refuses_a_taken_name(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/feed.xml"] = body(feed(site, site.url("/a.html")), XML)
    code, _, err = cli_run(tmp_path / "a", "sources", "add", site.url("/feed.xml"), "--name", "almayadeen-en")
    assert code == 2 and "a source named 'almayadeen-en' exists" in err


# --- 2. one polite fetcher: robots.txt, User-Agent, delay -----------------------------------------

ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def test_fetch_obeys_robots_txt_with_a_clear_message(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/robots.txt"] = body(ROBOTS, {"Content-Type": "text/plain"})
    site.routes["/private/story.html"] = page()
    code, _, err = cli_run(tmp_path / "a", "fetch", site.url("/private/story.html"))
    assert code == 1
    assert "disallowed by robots.txt" in err and "--ignore-robots" in err
    assert "/private/story.html" not in paths(site)


def _redirect(to: str) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(301)
        handler.send_header("Location", to)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def test_a_redirect_into_a_disallowed_path_is_not_followed(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/robots.txt"] = body(ROBOTS, {"Content-Type": "text/plain"})
    site.routes["/feed.xml"] = body(feed(site, site.url("/news/a.html")), XML)
    site.routes["/news/a.html"] = _redirect("/private/a.html")
    site.routes["/private/a.html"] = page()
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/feed.xml")))
    code, out, err = cli_run(archive, "ingest", "--json")
    assert code == 0, err
    assert "/private/a.html" not in paths(site)
    assert json.loads(out)["refused"] == 1 and json.loads(out)["new"] == 0
    code, _, err = cli_run(archive, "fetch", site.url("/news/a.html"))
    assert code == 1 and "disallowed by robots.txt" in err
    assert "/private/a.html" not in paths(site)


def test_a_redirect_to_another_host_obeys_that_hosts_robots_txt(site: FixtureServer, tmp_path: Path) -> None:
    other = FixtureServer(tmp_path, host="127.0.0.2").start()
    try:
        other.routes["/robots.txt"] = body(ROBOTS, {"Content-Type": "text/plain"})
        other.routes["/private/a.html"] = page()
        site.routes["/a.html"] = _redirect(other.url("/private/a.html"))
        code, _, err = cli_run(tmp_path / "a", "fetch", site.url("/a.html"))
        assert code == 1 and "disallowed by robots.txt" in err
        assert paths(other) == ["/robots.txt"]
        code, _, err = cli_run(tmp_path / "a", "fetch", "--ignore-robots", site.url("/a.html"))
        assert code == 0, err
        assert "/private/a.html" in paths(other)
    finally:
        other.stop()


def test_fetch_ignore_robots_fetches_what_robots_txt_disallows(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/robots.txt"] = body(ROBOTS, {"Content-Type": "text/plain"})
    site.routes["/private/story.html"] = page()
    code, _, err = cli_run(tmp_path / "a", "fetch", "--ignore-robots", site.url("/private/story.html"))
    assert code == 0, err
    assert "/private/story.html" in paths(site)


def test_sources_add_obeys_robots_txt(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/robots.txt"] = body(ROBOTS, {"Content-Type": "text/plain"})
    site.routes["/private/feed.xml"] = body(feed(site, site.url("/a.html")), XML)
    code, _, err = cli_run(tmp_path / "a", "sources", "add", site.url("/private/feed.xml"))
    assert code == 2 and "disallowed by robots.txt" in err
    assert "/private/feed.xml" not in paths(site)


def test_fetch_and_sources_add_send_the_configured_user_agent(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/story.html"] = page()
    site.routes["/feed.xml"] = body(feed(site, site.url("/a.html")), XML)
    archive = tmp_path / "a"
    write_config(archive, 'delay = 0.0\nuser_agent = "TestBot/2.0"\ncontact = "ops@example.org"', "")
    assert cli_run(archive, "fetch", site.url("/story.html"))[0] == 0
    assert cli_run(archive, "sources", "add", site.url("/feed.xml"))[0] == 0
    agents = {h.get("User-Agent") for _, h in site.requests}
    assert agents == {"TestBot/2.0 contact: ops@example.org"}


def test_fetch_spaces_two_requests_to_one_host_by_the_configured_delay(site: FixtureServer, tmp_path: Path) -> None:
    arrivals: list[tuple[str, float]] = []
    site.routes["/a.html"] = timed(page("First story here"), arrivals)
    site.routes["/b.html"] = timed(page("Second story here"), arrivals)
    archive = tmp_path / "a"
    write_config(archive, "delay = 1.6")  # more than fetch's old fixed 1 s, so the config must be what counts
    code, _, err = cli_run(archive, "fetch", site.url("/a.html"), site.url("/b.html"))
    assert code == 0, err
    assert [p for p, _ in arrivals] == ["/a.html", "/b.html"]
    assert arrivals[1][1] - arrivals[0][1] >= 1.5  # generous: the server saw them at least the delay apart


def test_fetch_delay_option_overrides_the_config(site: FixtureServer, tmp_path: Path) -> None:
    arrivals: list[tuple[str, float]] = []
    site.routes["/a.html"] = timed(page("First story here"), arrivals)
    site.routes["/b.html"] = timed(page("Second story here"), arrivals)
    archive = tmp_path / "a"
    write_config(archive, "delay = 0.0")
    assert cli_run(archive, "fetch", "--delay", "0.6", site.url("/a.html"), site.url("/b.html"))[0] == 0
    assert arrivals[1][1] - arrivals[0][1] >= 0.5


def test_a_redirect_to_another_host_waits_for_that_hosts_turn_and_takes_it(site: FixtureServer, tmp_path: Path) -> None:
    """The redirect target's host gets the delay too: before, the hop went out at once after that host's
    last request, and the host's next request counted its delay from the request before the hop."""
    other = FixtureServer(tmp_path, host="127.0.0.2").start()
    try:
        arrivals: list[tuple[str, float]] = []
        for path, title in (("/b.html", "First story here"), ("/moved.html", "Moved story"), ("/c.html", "Third")):
            other.routes[path] = timed(page(title), arrivals)
        site.routes["/x.html"] = page("Local story here")
        site.routes["/a.html"] = _redirect(other.url("/moved.html"))
        archive = tmp_path / "a"
        write_config(archive)
        urls = (site.url("/x.html"), other.url("/b.html"), site.url("/a.html"), other.url("/c.html"))
        code, _, err = cli_run(archive, "fetch", "--delay", "0.6", *urls)
        assert code == 0, err
    finally:
        other.stop()
    assert [p for p, _ in arrivals] == ["/b.html", "/moved.html", "/c.html"]
    assert arrivals[1][1] - arrivals[0][1] >= 0.5  # the hop waited for 127.0.0.2's turn
    assert arrivals[2][1] - arrivals[1][1] >= 0.5  # and took it: the next request counts from the hop


def test_a_redirect_to_a_host_asking_too_long_a_delay_fails_that_page_only(site: FixtureServer, tmp_path: Path) -> None:
    other = FixtureServer(tmp_path, host="127.0.0.2").start()
    try:
        other.routes["/robots.txt"] = body(b"User-agent: *\nCrawl-delay: 1e300\n", {"Content-Type": "text/plain"})
        other.routes["/moved.html"] = page()
        site.routes["/a.html"] = _redirect(other.url("/moved.html"))
        site.routes["/b.html"] = page("Second story here")
        code, _, err = cli_run(tmp_path / "a", "fetch", site.url("/a.html"), site.url("/b.html"))
    finally:
        other.stop()
    assert code == 1
    assert f"/a.html: redirects to {other.url('/moved.html')}: 127.0.0.2: robots.txt asks for" in err
    assert "Traceback" not in err
    assert paths(other) == ["/robots.txt"] and "/b.html" in paths(site)


def test_threads_sharing_a_gate_take_one_hosts_turns_one_at_a_time(site: FixtureServer) -> None:
    """Two threads waiting for one host both read its last request and both went when the delay was up."""
    from newsarchive.fetch.polite import HostGate, PoliteFetcher
    from newsarchive.sources import Settings

    arrivals: list[tuple[str, float]] = []
    for path in ("/a.html", "/b.html", "/c.html"):
        site.routes[path] = timed(page(), arrivals)
    config = Settings(delay=0.6)
    gate = HostGate(config)
    with PoliteFetcher(config, gate=gate) as first:
        first.fetch(site.url("/a.html"))  # robots.txt read, the host's last request just made
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def fetch(path: str) -> None:
        try:
            with PoliteFetcher(config, gate=gate) as fetcher:
                start.wait()
                fetcher.fetch(site.url(path))
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(path,)) for path in ("/b.html", "/c.html")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    times = sorted(t for _, t in arrivals)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The server saw them a delay (0.6 s) apart, the last two too; the race gave ~0 s. Half the delay: room for a
    # loaded machine's scheduling between a thread's turn and its request reaching the server (0.498 s seen).
    assert len(gaps) == 2 and min(gaps) >= 0.3, gaps


def test_a_redirect_waits_a_bounded_time_for_a_host_other_threads_have_queued_for(
    site: FixtureServer, tmp_path: Path
) -> None:
    """Threads of one run queue for a host's turns (each reserves one, a delay apart): a redirect to that host
    waits at most 2 x its delay + 1 s. Further away, the hop is not taken (HostBusy: the page is retried later,
    not failed), no turn is reserved for it, and the target is never asked."""
    from newsarchive.fetch.polite import HostBusy, HostGate, PoliteFetcher
    from newsarchive.sources import Settings

    other = FixtureServer(tmp_path, host="127.0.0.2").start()
    try:
        other.routes["/moved.html"] = page()
        site.routes["/a.html"] = _redirect(other.url("/moved.html"))
        config = Settings(delay=0.5)
        slept: list[float] = []
        gate = HostGate(config, sleep=slept.append)  # the sleeps asked for, none slept
        with PoliteFetcher(config, gate=gate, obey_robots=False) as fetcher:
            for _ in range(5):  # five requests of other threads queued for 127.0.0.2: the last turn 2 s away
                gate.wait_turn(other.url("/x"), None)
            assert [round(s, 1) for s in slept] == [0.5, 1.0, 1.5, 2.0]
            with pytest.raises(HostBusy) as busy:
                fetcher.fetch(site.url("/a.html"))
            assert len(slept) == 4  # its turn (2.5 s away) is beyond the bound (2 s): not waited for at all
            assert f"redirects to {other.url('/moved.html')}" in busy.value.message
            assert 2.3 <= busy.value.retry_after <= 2.6  # when the host's queue of turns has passed
            assert paths(other) == [] and paths(site) == ["/a.html"]
            gate.wait_turn(other.url("/y"), None)  # the hop reserved no turn: the next one is the sixth
            assert round(slept[-1], 1) == 2.5
    finally:
        other.stop()


# --- 3. URLs: fetched as discovered; IRIs encoded; malformed ones skipped -----------------------------


def test_ingest_fetches_urls_exactly_as_the_feed_lists_them(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/feed.xml"] = body(
        feed(site, site.url("/news/a%2Fb.html?path=c%2Fd"), site.url("/news/q.html?a=1;b=2")), XML
    )
    site.routes["/news/a%2Fb.html"] = page("Slash encoded story")
    site.routes["/news/q.html"] = page("Semicolon query story")
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/feed.xml")))
    code, out, err = cli_run(archive, "ingest", "--json")
    assert code == 0, err
    assert json.loads(out)["new"] == 2
    assert "/news/a%2Fb.html?path=c%2Fd" in paths(site)
    assert "/news/q.html?a=1;b=2" in paths(site)


SITEMAP = "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{urls}</urlset>"


def sitemap(*locs: str) -> bytes:
    return SITEMAP.format(urls="".join(f"<url><loc>{loc}</loc></url>" for loc in locs)).encode("utf-8")


INDEX = "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{}</sitemapindex>"


def sitemap_index(*locs: str) -> bytes:
    return INDEX.format("".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)).encode("utf-8")


def test_sitemaps_naming_each_other_by_variant_urls_are_each_fetched_once(site: FixtureServer, tmp_path: Path) -> None:
    # Two indexes that list each other under other spellings of one URL (a fragment, the host's case, a
    # default port, a dot segment): each is one document, requested once a run.
    host_upper = site.url("/b.xml").replace("127.0.0.1", "127.0.0.1".upper())
    site.routes["/a.xml"] = body(sitemap_index(site.url("/b.xml") + "#x", host_upper, site.url("/s.xml")), XML)
    site.routes["/b.xml"] = body(
        sitemap_index(site.url("/a.xml") + "#y", site.url("/x/../a.xml"), site.url("/b.xml#z")), XML
    )
    site.routes["/s.xml"] = body(sitemap(site.url("/news/a.html")), XML)
    site.routes["/news/a.html"] = page()
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/a.xml")))
    code, out, err = cli_run(archive, "ingest", "--json")
    assert code == 0, err
    assert json.loads(out)["new"] == 1
    assert sorted(p for p in paths(site) if p != "/robots.txt") == ["/a.xml", "/b.xml", "/news/a.html", "/s.xml"]


def test_a_discovery_document_reached_by_a_redirect_is_not_fetched_again_by_its_final_url(
    site: FixtureServer, tmp_path: Path
) -> None:
    """A moved sitemap that the index also lists under its new address (any spelling) is requested once."""
    site.routes["/index.xml"] = body(sitemap_index(site.url("/old.xml"), site.url("/new.xml") + "#top"), XML)
    site.routes["/old.xml"] = _redirect(site.url("/new.xml"))
    site.routes["/new.xml"] = body(sitemap(site.url("/news/a.html")), XML)
    site.routes["/news/a.html"] = page()
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/index.xml")))
    code, out, err = cli_run(archive, "ingest", "--json")
    assert code == 0, err
    assert json.loads(out)["new"] == 1
    assert [p for p in paths(site) if p != "/robots.txt"] == ["/index.xml", "/old.xml", "/new.xml", "/news/a.html"]


def test_a_source_starting_at_robots_txt_requests_it_once(site: FixtureServer, tmp_path: Path) -> None:
    # robots.txt is read for its rules before the first request to the origin; the source reading its
    # Sitemap: lines must not ask for it again (one more request, a Crawl-delay later).
    robots = f"User-agent: *\nDisallow: /private/\nSitemap: {site.url('/s.xml')}\n".encode()
    site.routes["/robots.txt"] = body(robots, {"Content-Type": "text/plain"})
    site.routes["/s.xml"] = body(sitemap(site.url("/news/a.html"), site.url("/private/b.html")), XML)
    site.routes["/news/a.html"] = page()
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/robots.txt")))
    code, out, err = cli_run(archive, "ingest", "--json")
    assert code == 0, err
    assert (json.loads(out)["new"], json.loads(out)["refused"]) == (1, 1)
    assert paths(site) == ["/robots.txt", "/s.xml", "/news/a.html"]
    code, out, err = cli_run(archive, "ingest", "--json")  # the next run reads it again, once
    assert code == 0, err
    assert paths(site)[3:].count("/robots.txt") == 1


def test_an_iri_in_a_sitemap_is_fetched_percent_encoded_and_archived(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/sitemap.xml"] = body(sitemap(site.url("/news/été-à-gaza.html")), XML)
    site.routes["/news/%C3%A9t%C3%A9-%C3%A0-gaza.html"] = page("Summer story in Gaza")
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/sitemap.xml")))
    code, out, err = cli_run(archive, "ingest", "--json")
    assert code == 0, err
    assert json.loads(out)["new"] == 1
    # and the next run is fine too (the IRI used to kill every later ingest)
    assert cli_run(archive, "ingest")[0] == 0


def test_fetch_of_a_typed_iri_is_archived(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/news/%D8%AE%D8%A8%D8%B1.html"] = page("Arabic named story")
    code, _, err = cli_run(tmp_path / "a", "fetch", site.url("/news/خبر.html"))
    assert code == 0, err


def test_a_redirect_to_a_raw_utf8_location_is_followed(site: FixtureServer, tmp_path: Path) -> None:
    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", "/news/été.html".encode().decode("latin-1"))  # raw UTF-8 bytes on the wire
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    site.routes["/old.html"] = redirect
    site.routes["/news/%C3%A9t%C3%A9.html"] = page("Summer story moved")
    code, _, err = cli_run(tmp_path / "a", "fetch", site.url("/old.html"))
    assert code == 0, err


def test_malformed_urls_in_a_sitemap_are_skipped_and_counted(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/sitemap.xml"] = body(
        sitemap("http://[::1/x", "http://[oops/", site.url("/news/good.html"), "http://127.0.0.1:99999/x"), XML
    )
    site.routes["/news/good.html"] = page("The good story survives")
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/sitemap.xml")))
    code, out, err = cli_run(archive, "ingest", "--json")
    assert code == 0, err
    counts = json.loads(out)
    assert counts["new"] == 1 and counts["bad_urls"] == 3


def test_malformed_urls_in_feeds_are_skipped_and_counted(site: FixtureServer, tmp_path: Path) -> None:
    """RSS: feedparser already drops a link it cannot resolve; a JSON Feed's reaches us and is counted."""
    site.routes["/feed.xml"] = body(feed(site, "http://[oops/", site.url("/news/good.html")), XML)
    items = [{"id": "1", "url": "http://[::1/x"}, {"id": "2", "url": site.url("/news/other.html")}]
    json_feed = {"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": items}
    site.routes["/feed.json"] = body(json.dumps(json_feed).encode(), {"Content-Type": "application/feed+json"})
    site.routes["/news/good.html"] = page("The good story survives")
    site.routes["/news/other.html"] = page("The other story survives")
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/feed.xml"), site.url("/feed.json")))
    code, out, err = cli_run(archive, "ingest", "--json")
    assert code == 0, err
    counts = json.loads(out)
    assert counts["new"] == 2 and counts["bad_urls"] == 1


@pytest.mark.parametrize("url", ["http://[::1/x", "http://[oops/", "http://127.0.0.1:99999/"])
def test_a_malformed_url_on_the_command_line_is_a_usage_error(url: str, tmp_path: Path) -> None:
    for args in (("fetch", url), ("sources", "add", url)):
        code, _, err = cli_run(tmp_path / "a", *args)
        assert code == 2, (args, err)
        assert "not a valid URL" in err and "unexpected" not in err


def test_fetch_with_an_unknown_parser_is_a_usage_error_before_anything_is_fetched(
    site: FixtureServer, tmp_path: Path
) -> None:
    """It used to fetch the page, archive it (a capture without an article), then exit 2."""
    site.routes["/story.html"] = page()
    code, _, err = cli_run(tmp_path / "a", "fetch", "--parser", "almayaden", site.url("/story.html"))
    assert code == 2 and "no parser named 'almayaden'" in err and "known parsers: almayadeen" in err
    assert site.requests == []
    assert not list((tmp_path / "a").glob("warc/*.warc.gz"))


# --- 4. sources.toml validated on load -------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ('delay = "fast"', 'line 2: [settings] delay = "fast": must be a number'),
        ('max_pages = "ten"', 'line 2: [settings] max_pages = "ten": must be a whole number'),
        ("timeout = 0", "timeout = 0: out of range"),
        ("timeout = -5", "timeout = -5: out of range"),
        ("delay = inf", "delay = inf: must be a finite number"),
        ("delay = nan", "delay = nan: must be a finite number"),
        ("max_crawl_delay = 1e300", "max_crawl_delay = 1e+300: out of range"),
        ("retries = 2.5", "retries = 2.5: must be a whole number"),
        ("delai = 2", "unknown key 'delai'"),
        ("timeout = true", "timeout = true: must be a number"),  # as written, not Python's True
        ('user_agent = ["a"]', 'user_agent = ["a"]: must be a text in quotes'),
    ],
)
def test_a_bad_value_in_sources_toml_names_line_and_key_exit_2(settings: str, expected: str, tmp_path: Path) -> None:
    archive = tmp_path / "a"
    write_config(archive, settings)
    for args in (("ingest",), ("sources", "list"), ("fetch", "http://127.0.0.1:9/x")):
        code, _, err = cli_run(archive, *args)
        assert code == 2, (args, err)
        assert expected in err and "unexpected" not in err


def test_a_bad_source_key_names_its_line(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    write_config(archive, "delay = 1", source("s", "https://example.org/feed.xml") + "max_page = 3\n")
    code, _, err = cli_run(archive, "sources", "list")
    assert code == 2 and "line 8: [[source]] 's' unknown key 'max_page'" in err and "did you mean 'max_pages'" in err


def test_a_non_utf8_sources_toml_is_a_usage_error(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_bytes(b"[settings]\n# caf\xe9\ndelay = 1\n")
    code, _, err = cli_run(archive, "sources", "list")
    assert code == 2 and "line 2: not UTF-8" in err


def test_an_empty_sources_toml_says_there_are_no_sources(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_text("")
    code, _, err = cli_run(archive, "ingest")
    assert code == 2 and "defines no sources" in err and "sources add" in err
    code, _, err = cli_run(archive, "sources", "list")
    assert code == 0 and "no sources in" in err


def test_the_written_sources_toml_points_at_its_documentation(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/feed.xml"] = body(feed(site, site.url("/a.html")), XML)
    archive = tmp_path / "a"
    assert cli_run(archive, "sources", "add", site.url("/feed.xml"))[0] == 0
    assert "docs/sources.md" in (archive / "sources.toml").read_text().splitlines()[0]


def test_docs_sources_md_documents_every_key() -> None:
    from newsarchive.sources import SETTING_KEYS, SOURCE_KEYS

    text = (Path(__file__).resolve().parent.parent / "docs" / "sources.md").read_text()
    for key in [*SETTING_KEYS, *SOURCE_KEYS]:
        assert f"| `{key}` |" in text, key


@pytest.mark.parametrize("value", ["localhost", "yes please", "10.0.0.0/33"])
def test_a_bad_allow_private_environment_value_is_a_usage_error(value: str, tmp_path: Path) -> None:
    env = {"NEWSARCHIVE_ALLOW_PRIVATE": value}
    for args in (("ingest",), ("fetch", "http://127.0.0.1:9/x"), ("sources", "add", "http://127.0.0.1:9/x")):
        code, _, err = cli_run(tmp_path / "a", *args, env=env)
        assert code == 2, (args, err)
        assert "NEWSARCHIVE_ALLOW_PRIVATE=" in err and "is not an IP address or network" in err


@pytest.mark.parametrize(
    "args",
    [
        ("ingest", "--wait", "-1"),
        ("ingest", "--max-pages", "-3"),
        ("fetch", "--delay", "1e9", "http://127.0.0.1:9/"),
        ("fetch", "--delay", "nan", "http://127.0.0.1:9/"),
        ("fetch", "--wait", "-2", "http://127.0.0.1:9/"),
        ("reparse", "--wait", "nan"),
        ("reindex", "--wait", "-5"),
    ],
)
def test_numbers_given_as_options_are_range_checked(args: tuple[str, ...], tmp_path: Path) -> None:
    code, _, err = cli_run(tmp_path / "a", *args)
    assert code == 2, err


# --- 5. caps: Crawl-delay, Retry-After, feed items; worker errors fail the run ------------------------


def _crawl_site(site: FixtureServer, crawl_delay: str) -> None:
    site.routes["/robots.txt"] = body(
        f"User-agent: *\nCrawl-delay: {crawl_delay}\n".encode(), {"Content-Type": "text/plain"}
    )
    site.routes["/feed.xml"] = body(feed(site, site.url("/news/a.html")), XML)
    site.routes["/news/a.html"] = page()


@pytest.mark.parametrize("crawl_delay", ["1e300", "86400", "61"])
def test_a_crawl_delay_above_the_cap_skips_the_host_with_a_warning(
    crawl_delay: str, site: FixtureServer, tmp_path: Path
) -> None:
    _crawl_site(site, crawl_delay)
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/feed.xml")))
    code, _, err = cli_run(archive, "ingest")
    assert code == 1
    assert "more than max_crawl_delay (60 s); the host is skipped this run" in err
    assert "Traceback" not in err and "Exception in thread" not in err
    assert paths(site) == ["/robots.txt"]


def test_a_crawl_delay_under_the_cap_is_honoured(site: FixtureServer, tmp_path: Path) -> None:
    arrivals: list[tuple[str, float]] = []
    _crawl_site(site, "0.5")
    site.routes["/feed.xml"] = timed(site.routes["/feed.xml"], arrivals)
    site.routes["/news/a.html"] = timed(page(), arrivals)
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/feed.xml")))
    code, _, err = cli_run(archive, "ingest")
    assert code == 0, err
    assert [p for p, _ in arrivals] == ["/feed.xml", "/news/a.html"]
    assert arrivals[1][1] - arrivals[0][1] >= 0.4


def test_a_retry_after_above_the_cap_is_not_waited_for(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/busy.html"] = body(b"busy", {"Retry-After": "100000", "Content-Type": "text/plain"}, status=503)
    archive = tmp_path / "a"
    write_config(archive, "delay = 0.0\nmax_retry_after = 30")
    code, _, err = cli_run(archive, "fetch", site.url("/busy.html"))
    assert code == 1 and "HTTP 503" in err
    assert paths(site).count("/busy.html") == 1


def test_an_exception_in_a_fetch_worker_fails_the_run(
    site: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a worker thread used to print a thread traceback and exit 0 with nothing archived."""
    from newsarchive.fetch.polite import PoliteFetcher

    site.routes["/feed.xml"] = body(feed(site, site.url("/news/a.html")), XML)
    original: Callable[..., object] = PoliteFetcher.fetch

    def broken(self: PoliteFetcher, url: str, **kw: object) -> object:
        if "/news/" in url:
            raise RuntimeError("injected worker bug")
        return original(self, url, **kw)

    monkeypatch.setattr(PoliteFetcher, "fetch", broken)
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/feed.xml")))
    code, _, err = cli_run(archive, "ingest")
    assert code == 70
    assert "unexpected RuntimeError: injected worker bug" in err


def test_a_feed_cut_at_the_size_cap_keeps_no_validators_so_the_next_run_asks_for_it_whole(
    site: FixtureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its ETag was kept: the next run got 304 Not Modified and never read what the cut had left out."""
    from newsarchive.fetch.client import Fetcher

    monkeypatch.setattr(Fetcher.__init__, "__kwdefaults__", {**Fetcher.__init__.__kwdefaults__, "max_bytes": 4000})
    padding = "<item><title>Long</title><description>" + "x" * 6000 + "</description></item>"
    first, last = (ITEM.format(title=t, link=site.url(p)) for t, p in (("A", "/news/a.html"), ("B", "/news/b.html")))
    (site.root / "feed.xml").write_text(FEED.format(items=first + padding + last), "utf-8")  # served with an ETag
    site.routes["/news/a.html"] = page()
    site.routes["/news/b.html"] = page("Second story here")
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/feed.xml")))
    code, _, said = cli_run(archive, "ingest")
    assert code == 0, said
    assert "/news/a.html" in paths(site) and "/news/b.html" not in paths(site)
    code, _, err = cli_run(archive, "ingest")
    assert code == 0, err
    feed_requests = [headers for path, headers in site.requests if path == "/feed.xml"]
    assert len(feed_requests) == 2
    assert "If-None-Match" not in feed_requests[1]  # asked for in full, not answered 304
    assert "feed.xml: cut at the size limit" in said and "ETag/Last-Modified not kept" in said


def test_feed_items_per_document_are_capped() -> None:
    from newsarchive.discover.feeds import MAX_FEED_ITEMS, parse_feed

    items = "".join(ITEM.format(title=f"t{i}", link=f"http://ex.com/{i}.html") for i in range(MAX_FEED_ITEMS + 500))
    found = parse_feed(FEED.format(items=items).encode(), "http://ex.com/feed.xml")
    assert len(found.candidates) == MAX_FEED_ITEMS
    assert found.candidates[-1].url == f"http://ex.com/{MAX_FEED_ITEMS - 1}.html"


# --- 6. messages that say what happened -------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_host_says_so_not_robots_txt(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    port = _closed_port()
    write_config(archive, sources=source("s", f"http://127.0.0.1:{port}/feed.xml"))
    code, _, err = cli_run(archive, "ingest")
    assert code == 1
    assert f"cannot reach 127.0.0.1:{port}: no network? (connection refused)" in err  # the origin, port included
    assert "robots.txt" not in err


def test_a_refused_private_address_shows_the_allow_private_hint(site: FixtureServer, tmp_path: Path) -> None:
    site.routes["/feed.xml"] = body(feed(site, site.url("/a.html")), XML)
    archive = tmp_path / "a"
    write_config(archive, "delay = 0.0\nallow_private = false", source("s", site.url("/feed.xml")))
    code, _, err = cli_run(archive, "ingest")
    assert code == 1 and "non-public address" in err
    assert "Hint: set NEWSARCHIVE_ALLOW_PRIVATE=1" in err
    code, _, err = cli_run(tmp_path / "b", "fetch", site.url("/a.html"), env={"NEWSARCHIVE_ALLOW_PRIVATE": "0"})
    assert code == 1 and "Hint: set NEWSARCHIVE_ALLOW_PRIVATE=1" in err


def test_a_quiet_ingest_that_only_refused_a_private_url_prints_nothing(site: FixtureServer, tmp_path: Path) -> None:
    # A feed listing an internal address (refused, exit 0) is nothing wrong: cron must not mail a hint.
    site.routes["/feed.xml"] = body(feed(site, site.url("/a.html"), "http://10.1.2.3/x.html"), XML)
    site.routes["/a.html"] = page()
    archive = tmp_path / "a"
    write_config(archive, sources=source("s", site.url("/feed.xml")))
    env = {"NEWSARCHIVE_ALLOW_PRIVATE": "127.0.0.0/8"}
    code, out, err = cli_run(archive, "-q", "ingest", env=env)
    assert (code, out, err) == (0, "", "")
    assert "/a.html" in paths(site)
    code, _, err = cli_run(tmp_path / "b", "ingest", "--config", str(archive / "sources.toml"), env=env)
    assert code == 0 and "Hint: set NEWSARCHIVE_ALLOW_PRIVATE=1" in err  # without -q it is still said


def test_a_first_ingest_finding_only_old_sitemaps_says_how_to_backfill(site: FixtureServer, tmp_path: Path) -> None:
    index = (
        "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        + "".join(f"<sitemap><loc>{site.url(f'/sitemap-2020-{m}.xml')}</loc></sitemap>" for m in (1, 2, 3))
        + "</sitemapindex>"
    )
    site.routes["/sitemap.xml"] = body(index.encode(), XML)
    archive = tmp_path / "a"
    write_config(archive, sources=source("old", site.url("/sitemap.xml")))
    code, _, err = cli_run(archive, "ingest")
    assert code == 0, err
    assert "note: old: nothing found in the last 40 days (3 older sitemaps not read)" in err
    assert "newsarchive ingest --source old --since YYYY-MM-DD" in err


def test_a_lock_path_that_is_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    archive = tmp_path / "a"
    (archive / "lock").mkdir(parents=True)
    for args in (("fetch", "http://127.0.0.1:9/x"), ("ingest",)):
        code, _, err = cli_run(archive, *args)
        assert code == 2, (args, err)
        assert "cannot use the lock file" in err and "it is a directory" in err


# --- URL functions on any text (hypothesis) ----------------------------------------------------------

_PREFIXES = ["http://", "https://", "HTTP://", "http://[", "https://ex.com", "http://ex.com:", "http://é.com/", ""]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_PREFIXES), st.text(max_size=40))
@example("http://", "0 ?")  # a space in the host: 'http://0 ' was returned, and became 'http://0' given back
@example("http://", "ex.com ?q")
@example("http://", "𝑨")  # NFKC folds the host to 'A', which a second pass lower-cases: 'http://A' was not stable
def test_url_functions_give_ascii_urls_or_invalid_url(prefix: str, rest: str) -> None:
    """Any text: an RFC 3986 (ASCII) URL, stable when given back, or InvalidURL; never another exception."""
    from newsarchive.discover.types import absolute_url
    from newsarchive.fetch.urls import InvalidURL, fetch_form, normalize_url, to_uri

    url = prefix + rest
    absolute_url("http://ex.com/", url)
    try:
        uri, key, wire = to_uri(url), normalize_url(url), fetch_form(url)
    except InvalidURL:
        return
    assert uri.isascii() and key.isascii() and wire.isascii()
    assert to_uri(uri) == uri and normalize_url(key) == key and fetch_form(wire) == wire


def test_a_frontier_from_before_fetch_url_is_migrated_and_fetched_as_discovered(tmp_path: Path) -> None:
    import sqlite3
    from datetime import UTC, datetime

    from newsarchive.store.frontier import Frontier

    db = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute(
        "CREATE TABLE frontier (url TEXT PRIMARY KEY, source TEXT NOT NULL, via TEXT NOT NULL, lastmod TEXT,"
        " published TEXT, discovered_at TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
        " next_try TEXT, fetched_at TEXT, fetched_lastmod TEXT, last_error TEXT)"
    )
    now = datetime(2024, 3, 5, tzinfo=UTC)
    db.execute(
        "INSERT INTO frontier (url, source, via, discovered_at, state) VALUES (?, 's', 'feed', ?, 'pending')",
        ("http://ex.com/q?a=1%3Bb%3D2", now.isoformat()),
    )
    frontier = Frontier(db)
    assert [d.request_url for d in frontier.due(now, limit=5)] == ["http://ex.com/q?a=1%3Bb%3D2"]
    frontier.offer("http://ex.com/q?a=1%3Bb%3D2", source="s", via="feed", now=now, fetch_url="http://ex.com/q?a=1;b=2")
    assert [d.request_url for d in frontier.due(now, limit=5)] == ["http://ex.com/q?a=1;b=2"]


def test_a_source_whose_every_start_url_robots_txt_disallows_is_an_error_not_silence(
    site: FixtureServer, tmp_path: Path
) -> None:
    """Before: every run found nothing, exit 0, nothing printed under -q (cron would never tell)."""
    site.routes["/robots.txt"] = body(ROBOTS, {"Content-Type": "text/plain"})
    site.routes["/private/feed.xml"] = body(feed(site, site.url("/news/a.html")), XML)
    archive = tmp_path / "a"
    write_config(archive, sources=source("walled", site.url("/private/feed.xml"), site.url("/private/map.xml")))
    code, _, err = cli_run(archive, "-q", "ingest")
    assert code == 1
    assert "walled: robots.txt disallows every start URL" in err
    assert paths(site) == ["/robots.txt"]
    # One start URL allowed: no error (the disallowed one is only counted as refused).
    write_config(archive, sources=source("walled", site.url("/private/feed.xml"), site.url("/feed.xml")))
    site.routes["/feed.xml"] = body(feed(site), XML)
    code, _, err = cli_run(archive, "-q", "ingest")
    assert (code, err) == (0, "")
