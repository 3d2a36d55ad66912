"""`newsarchive ingest` over a fixture site on a real 127.0.0.1 server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from server import FixtureServer, write_sitemap

from newsarchive import __version__
from newsarchive.cli import cli
from newsarchive.ingest import Ingest, IngestOptions
from newsarchive.pipeline import Archive
from newsarchive.runlock import RunLock
from newsarchive.sources import load_config


@pytest.fixture
def news_site() -> Iterator[FixtureServer]:
    server = FixtureServer(FIXTURES / "ingest-site").start()
    yield server
    server.stop()


def _config(archive: Path, server: FixtureServer, *start: str) -> Path:
    archive.mkdir(parents=True, exist_ok=True)
    urls = ", ".join(f'"{server.url(s)}"' for s in start)
    path = archive / "sources.toml"
    path.write_text(f'[settings]\ndelay = 0.0\n\n[[source]]\nname = "fixture"\nstart = [{urls}]\n', "utf-8")
    return path


def ingest(archive: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--archive", str(archive), "ingest", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _exported(archive: Path) -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["--archive", str(archive), "export", "--jsonl"])
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_feed_articles_are_archived_with_clean_urls(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/feed.xml")
    code, out, err = ingest(archive_dir, "--json")
    assert code == 0, err
    counts = json.loads(out)
    assert counts["discovered"] == 3 and counts["new"] == 3 and counts["failed"] == 0
    urls = sorted(a["url"] for a in _exported(archive_dir))
    assert urls == sorted(news_site.url(f"/news/{s}.html") for s in
                          ("gaza-aid-convoy", "lebanon-border-shelling", "red-sea-shipping"))  # fmt: skip


def test_stats_report_the_last_ingest_run_and_its_counts(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/feed.xml")
    assert ingest(archive_dir, "--json")[0] == 0
    data = json.loads(CliRunner().invoke(cli, ["--archive", str(archive_dir), "stats", "--json"]).stdout)
    assert data["last_ingest"]["counts"]["new"] == 3 and data["last_ingest"]["finished"].endswith("+00:00")
    text = CliRunner().invoke(cli, ["--archive", str(archive_dir), "stats"]).stdout
    assert "last ingest run finished: " in text and "3 new" in text


def test_second_run_fetches_nothing_and_uses_conditional_get(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/feed.xml")
    ingest(archive_dir)
    news_site.requests.clear()
    code, out, _ = ingest(archive_dir, "--json")
    assert code == 0
    counts = json.loads(out)
    assert counts["fetched"] == 0 and counts["new"] == 0 and counts["discovered"] == 0
    feed_requests = [h for p, h in news_site.requests if p == "/feed.xml"]
    assert feed_requests and "If-None-Match" in feed_requests[0]
    assert not [p for p, _ in news_site.requests if p.startswith("/news/")]


def test_backfill_reads_only_the_monthly_sitemaps_of_the_period(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/sitemaps/all.xml")
    code, _out, err = ingest(archive_dir, "--since", "2023-02-01", "--until", "2023-02-28", "--json")
    assert code == 0, err
    assert sorted(a["headline"] for a in _exported(archive_dir)) == [
        "Crimea bridge repaired after blast",
        "Ukraine peace talks stall again",
    ]
    assert not [p for p, _ in news_site.requests if "sitemap-2024-3" in p]


def test_robots_disallowed_pages_are_never_fetched(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/sitemaps/all.xml")
    code, out, _ = ingest(archive_dir, "--since", "2024-03-01", "--json")
    assert code == 0
    assert json.loads(out)["refused"] >= 1
    assert not [p for p, _ in news_site.requests if p.startswith("/private/")]
    assert len(_exported(archive_dir)) == 3


def test_requests_name_the_tool_its_version_and_a_contact(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/feed.xml")
    ingest(archive_dir)
    agents = {h.get("User-Agent", "") for _, h in news_site.requests}
    assert agents and all(a.startswith(f"newsarchive/{__version__} (+http") for a in agents)


def test_quiet_run_prints_nothing_when_all_is_well(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/feed.xml")
    result = CliRunner().invoke(cli, ["--archive", str(archive_dir), "-q", "ingest"])
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""


def test_a_second_ingest_exits_75_at_once(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/feed.xml")
    with RunLock(archive_dir / "lock"):
        code, _, err = ingest(archive_dir)
    assert code == 75
    assert "another newsarchive run" in err


def test_a_failing_source_is_reported_and_exits_1(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/missing-feed.xml")
    code, _, err = ingest(archive_dir)
    assert code == 1
    assert "HTTP 404" in err


def test_incremental_run_rereads_only_recent_monthly_sitemaps(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/sitemaps/all.xml")
    archive = Archive(archive_dir)
    with archive:
        report = Ingest(archive, load_config(archive_dir), clock=lambda: datetime(2024, 3, 30, tzinfo=UTC)).run(
            IngestOptions()
        )
    assert report.new == 3
    assert not [p for p, _ in news_site.requests if "sitemap-2023-2" in p]


def test_backfill_is_resumable_after_an_interrupted_run(news_site: FixtureServer, archive_dir: Path) -> None:
    _config(archive_dir, news_site, "/sitemaps/all.xml")
    code, out, _ = ingest(archive_dir, "--since", "2023-01-01", "--max-pages", "2", "--json")
    assert code == 0
    assert json.loads(out)["new"] == 2
    _code, out, _ = ingest(archive_dir, "--since", "2023-01-01", "--json")
    assert json.loads(out)["new"] == 3
    assert len(_exported(archive_dir)) == 5


def test_blogger_feed_fills_the_dates_and_labels_a_theme_hides(tmp_path: Path, archive_dir: Path) -> None:
    """The minified seed variant prints no date or author; the blog's feed has them, keyed by post id."""
    site = tmp_path / "blog"
    (site / "feeds" / "posts").mkdir(parents=True)
    (site / "2023" / "04").mkdir(parents=True)
    blogger = FIXTURES / "sites" / "blogger"
    feed = (blogger / "feed-posts-default.atom.xml").read_text("utf-8")
    (site / "feeds" / "posts" / "default.xml").write_text(
        feed.replace("https://min-menu-news.blogspot.com", "{{BASE}}"), "utf-8"
    )
    page = (blogger / "white-house-arabic-theme-min.html").read_bytes()
    (site / "2023" / "04" / "white-house-we-dont-encourage-ukraine.html").write_bytes(page)
    server = FixtureServer(site).start()
    try:
        _config(archive_dir, server, "/feeds/posts/default.xml")
        _code, out, _err = ingest(archive_dir, "--since", "2023-01-01", "--json")
    finally:
        server.stop()
    assert json.loads(out)["new"] == 1, out  # the feed's other post is not on this fixture site (404)
    articles = {a["headline"]: a for a in _exported(archive_dir)}
    post = articles["White House: We don't encourage Ukraine to hit Russia in depth"]
    assert post["published"] == "2023-04-22T09:14:00+03:00"
    assert post["updated"] is not None
    assert post["tags"], "labels come from the feed"
    assert post["byline"], "the author comes from the feed"


def test_an_article_whose_lastmod_moved_is_captured_again_and_keeps_history(tmp_path: Path, archive_dir: Path) -> None:
    site = tmp_path / "site"
    (site / "news").mkdir(parents=True)
    page = (FIXTURES / "ingest-site" / "news" / "gaza-aid-convoy.html").read_text("utf-8")
    (site / "news" / "gaza.html").write_text(page, "utf-8")
    write_sitemap(site, ["/news/gaza.html"], lastmod="2024-03-05T07:15:00+02:00")
    server = FixtureServer(site).start()
    try:
        _config(archive_dir, server, "/sitemap.xml")
        assert json.loads(ingest(archive_dir, "--json")[1])["new"] == 1
        (site / "news" / "gaza.html").write_text(page.replace("Officials quoted", "Officials, quoted later,"), "utf-8")
        write_sitemap(site, ["/news/gaza.html"], lastmod="2024-03-06T09:00:00+02:00")
        counts = json.loads(ingest(archive_dir, "--json")[1])
    finally:
        server.stop()
    assert counts["fetched"] == 1 and counts["updated"] == 1
    result = CliRunner().invoke(cli, ["--archive", str(archive_dir), "show", "--json", "--history",
                                      server.url("/news/gaza.html")])  # fmt: skip
    record = json.loads(result.stdout)
    assert "Officials, quoted later," in record["body"]
    assert len(record["history"]) == 1 and "Officials quoted" in record["history"][0]["body"]


def _site_answering(site: Path, *, pages: int, status: int, body: bytes) -> FixtureServer:
    """A started server whose sitemap lists ``pages`` articles that all answer ``status``."""
    from server import send

    site.mkdir()
    write_sitemap(site, [f"/news/{n}.html" for n in range(pages)])
    server = FixtureServer(site)
    for n in range(pages):
        server.routes[f"/news/{n}.html"] = lambda h: send(h, status, body)
    return server.start()


def test_a_bot_wall_403_is_reported_once_and_not_hammered(tmp_path: Path, archive_dir: Path) -> None:
    server = _site_answering(tmp_path / "site", pages=6, status=403, body=b"<html>Just a moment...</html>")
    try:
        _config(archive_dir, server, "/sitemap.xml")
        code, _, err = ingest(archive_dir)
    finally:
        server.stop()
    assert code == 1
    assert err.count("403 Forbidden") == 1
    assert len([p for p, _ in server.requests if p.startswith("/news/")]) == 1


def test_a_host_that_keeps_failing_is_left_alone(tmp_path: Path, archive_dir: Path) -> None:
    server = _site_answering(tmp_path / "site", pages=12, status=500, body=b"oops")
    try:
        archive_dir.mkdir()
        (archive_dir / "sources.toml").write_text(
            "[settings]\ndelay = 0.0\nretries = 0\n\n"
            f'[[source]]\nname = "f"\nstart = ["{server.url("/sitemap.xml")}"]\n'
        )
        code, out, _ = ingest(archive_dir, "--json")
    finally:
        server.stop()
    assert code == 1
    hits = [p for p, _ in server.requests if p.startswith("/news/")]
    assert len(hits) == 5  # HOST_FAILURE_LIMIT, then the host waits for the next run
    assert json.loads(out)["failed"] == 5


def test_an_unreadable_robots_txt_skips_the_host_and_says_so(tmp_path: Path, archive_dir: Path) -> None:
    """RFC 9309: a robots.txt answering 5xx means 'disallow all for now'; the run reports it, exit 1."""
    from server import send

    site = tmp_path / "site"
    (site / "news").mkdir(parents=True)
    (site / "news" / "a.html").write_text("<html><body><p>never fetched</p></body></html>")
    write_sitemap(site, ["/news/a.html"])
    server = FixtureServer(site)
    server.routes["/robots.txt"] = lambda h: send(h, 503, b"down")
    server.start()
    try:
        config = _config(archive_dir, server, "/sitemap.xml")
        # No retries of the 503 (their backoff sleeps 1 + 2 + 4 s): the verdict is the same.
        config.write_text(config.read_text("utf-8").replace("delay = 0.0\n", "delay = 0.0\nretries = 0\n"), "utf-8")
        code, _, err = ingest(archive_dir)
    finally:
        server.stop()
    assert code == 1
    assert "robots.txt answered HTTP 503; the host is skipped this run" in err
    assert [p for p, _ in server.requests if p != "/robots.txt"] == []


def test_a_run_that_dies_half_way_through_a_sitemap_does_not_mark_it_read(
    news_site: FixtureServer, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the sitemap's ETag was saved before its URLs; the next run got 304 and lost the rest."""
    _config(archive_dir, news_site, "/sitemaps/all/sitemap-2024-3.xml")
    from newsarchive.store.frontier import Frontier

    real_offer = Frontier.offer
    calls = {"n": 0}

    def dying_offer(self: Frontier, *args: object, **kwargs: object) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")  # stands for SIGKILL between two offers
        return real_offer(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Frontier, "offer", dying_offer)
    archive = Archive(archive_dir)
    with archive, pytest.raises(KeyboardInterrupt):
        Ingest(archive, load_config(archive_dir)).run(IngestOptions())
    monkeypatch.setattr(Frontier, "offer", real_offer)
    code, _, err = ingest(archive_dir)
    assert code == 0, err
    assert len(_exported(archive_dir)) == 3
