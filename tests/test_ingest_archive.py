"""What ingest leaves in the archive: feeds in the WARC files, not-article verdicts, parse-quality alarms,
canonical URLs trusted only within a site; and the store rebuilt from warc/ alone."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import FIXTURES, export_jsonl, run_cli
from server import FixtureServer, write_sitemap
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

BLOGGER = FIXTURES / "sites" / "blogger"
ALMAYADEEN = FIXTURES / "sites" / "almayadeen"
POST = "/2023/04/white-house-we-dont-encourage-ukraine.html"


def exported(archive: Path) -> list[dict[str, object]]:
    return sorted(export_jsonl(archive), key=lambda a: str(a["id"]))


def config(archive: Path, server: FixtureServer, *start: str) -> None:
    archive.mkdir(parents=True, exist_ok=True)
    urls = ", ".join(f'"{server.url(s)}"' for s in start)
    (archive / "sources.toml").write_text(
        f'[settings]\ndelay = 0.0\n\n[[source]]\nname = "fixture"\nstart = [{urls}]\n', "utf-8"
    )


def warc_state(archive: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((archive / "warc").iterdir())}


def drop_store(archive: Path) -> None:
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm"):
        (archive / name).unlink(missing_ok=True)


# --- 3. feeds archived: Blogger's feed-only fields come back from the WARC files alone --------------


@pytest.fixture
def blog(tmp_path: Path) -> FixtureServer:
    """A Blogger blog whose theme prints no date, author or labels; its feed has them."""
    site = tmp_path / "blog"
    (site / "feeds" / "posts").mkdir(parents=True)
    (site / "2023" / "04").mkdir(parents=True)
    feed = (BLOGGER / "feed-posts-default.atom.xml").read_text("utf-8")
    (site / "feeds" / "posts" / "default.xml").write_text(
        feed.replace("https://min-menu-news.blogspot.com", "{{BASE}}"), "utf-8"
    )
    (site / POST.lstrip("/")).write_bytes((BLOGGER / "white-house-arabic-theme-min.html").read_bytes())
    return FixtureServer(site)


def test_the_feeds_ingest_reads_are_archived_as_warc_records(blog: FixtureServer, archive_dir: Path) -> None:
    blog.start()
    try:
        config(archive_dir, blog, "/feeds/posts/default.xml")
        run_cli(archive_dir, "ingest", "--since", "2023-01-01")
    finally:
        blog.stop()
    records: list[tuple[str, str]] = []
    for path in sorted((archive_dir / "warc").iterdir()):
        with open(path, "rb") as fh:
            records += [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI") or "") for r in ArchiveIterator(fh)]
    feed = blog.url("/feeds/posts/default.xml")
    assert ("response", feed) in records and ("request", feed) in records


def test_a_store_rebuilt_from_warc_alone_keeps_the_blogger_feed_fields(blog: FixtureServer, archive_dir: Path) -> None:
    blog.start()
    try:
        config(archive_dir, blog, "/feeds/posts/default.xml")
        code, out, err = run_cli(archive_dir, "ingest", "--since", "2023-01-01", "--json")
    finally:
        blog.stop()
    assert json.loads(out)["new"] == 1, err
    before, warcs = exported(archive_dir), warc_state(archive_dir)
    assert before[0]["tags"] and before[0]["byline"] and before[0]["published"] == "2023-04-22T09:14:00+03:00"
    drop_store(archive_dir)
    code, out, err = run_cli(archive_dir, "store", "rebuild", "--json")
    assert code == 0, err
    assert exported(archive_dir) == before  # field for field: dates, labels and author from the archived feed
    assert warc_state(archive_dir) == warcs


def test_an_unchanged_feed_is_archived_once(blog: FixtureServer, archive_dir: Path) -> None:
    blog.start()
    try:
        config(archive_dir, blog, "/feeds/posts/default.xml")
        run_cli(archive_dir, "ingest", "--since", "2023-01-01")
        sizes = warc_state(archive_dir)
        run_cli(archive_dir, "ingest", "--since", "2023-01-01")  # backfill: read again without conditional GET
    finally:
        blog.stop()
    assert warc_state(archive_dir) == sizes


# --- 4. not-article verdicts: kept in the WARC, re-parsed when their parser changes ------------------


def write_warc(path: Path, pages: list[tuple[str, bytes]]) -> None:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, body in pages:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
                warc_headers_dict={"WARC-Date": "2024-03-16T08:00:00Z"},
            ))  # fmt: skip


VIDEO = "https://english.almayadeen.net/shows/episodes/some-video"
CRIMEA = "https://english.almayadeen.net/news/politics/us-not-actively-encouraging-ukraine-to-retake-crimea:-report"


def verdicts(archive: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(archive / "store.sqlite") as db:
        return [(r[0], r[1]) for r in db.execute("SELECT url, parser FROM verdicts")]


def test_a_not_article_page_stays_in_the_warc_with_its_parser_verdict(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "pages.warc.gz"
    body = (ALMAYADEEN / "video-no-text.html").read_bytes()
    write_warc(path, [(VIDEO, body)])
    code, out, _ = run_cli(archive_dir, "import-warc", "--json", str(path))
    assert (code, json.loads(out)["not_article"]) == (0, 1)
    from newsarchive.parse.sites.almayadeen import AlMayadeen

    assert verdicts(archive_dir) == [(VIDEO, f"almayadeen/{AlMayadeen.version}")]
    kept = []
    for warc in (archive_dir / "warc").iterdir():
        with open(warc, "rb") as fh:
            kept += [r.content_stream().read() for r in ArchiveIterator(fh) if r.rec_type == "response"]
    assert kept == [body]


def test_reparse_changed_picks_not_articles_whose_parser_has_a_new_version(
    tmp_path: Path, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsarchive.parse.sites.almayadeen import AlMayadeen

    path = tmp_path / "pages.warc.gz"
    grain = (FIXTURES / "e2e" / "news" / "grain-deal.html").read_bytes()
    write_warc(path, [(VIDEO, (ALMAYADEEN / "video-no-text.html").read_bytes()),
                      (CRIMEA, (ALMAYADEEN / "crimea.html").read_bytes()),
                      ("https://news.example.com/x", grain)])  # fmt: skip
    assert run_cli(archive_dir, "import-warc", str(path))[0] == 0
    code, out, _ = run_cli(archive_dir, "reparse", "--changed", "--json")
    counts = json.loads(out)
    assert (code, counts["not_article"], counts["unchanged"]) == (0, 0, 0)  # nothing changed: nothing parsed

    newer = f"{AlMayadeen.version}.1"
    monkeypatch.setattr(AlMayadeen, "version", newer)
    code, out, _ = run_cli(archive_dir, "reparse", "--changed", "--json")
    counts = json.loads(out)
    assert (code, counts["not_article"], counts["unchanged"]) == (0, 1, 1)  # the Al Mayadeen pages only
    assert verdicts(archive_dir) == [(VIDEO, f"almayadeen/{newer}")]
    counts = json.loads(run_cli(archive_dir, "reparse", "--changed", "--json")[1])
    assert (counts["not_article"], counts["unchanged"]) == (0, 0)


def test_a_not_article_page_a_new_parser_version_recognises_becomes_an_article(
    tmp_path: Path, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsarchive.errors import NotAnArticle
    from newsarchive.parse.sites.almayadeen import AlMayadeen

    def refuse(self: AlMayadeen, html: str, url: str) -> None:
        raise NotAnArticle("no article markup")  # an older parser that did not know this markup

    path = tmp_path / "pages.warc.gz"
    page = (FIXTURES / "e2e" / "news" / "grain-deal.html").read_bytes()
    write_warc(path, [("https://english.almayadeen.net/news/politics/grain", page)])
    with monkeypatch.context() as old:
        old.setattr(AlMayadeen, "parse", refuse)
        _code, out, _ = run_cli(archive_dir, "import-warc", "--json", str(path))
    assert json.loads(out)["not_article"] == 1
    newer = f"{AlMayadeen.version}.1"
    monkeypatch.setattr(AlMayadeen, "version", newer)  # the real parser, a new version: it reads the page
    _code, out, _ = run_cli(archive_dir, "reparse", "--changed", "--json")
    assert json.loads(out)["new"] == 1
    assert verdicts(archive_dir) == []
    assert [a["parser"]["version"] for a in exported(archive_dir)] == [newer]


def test_a_page_an_older_parser_failed_on_is_parsed_again_by_reparse_changed_once_it_has_a_new_version(
    tmp_path: Path, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page its parser failed on (no headline, no text) records that verdict with the parser's version, as a
    not-article page does: `reparse --changed` leaves it alone until that parser has a new version, then parses it
    (it never did: nothing was on record for the page)."""
    from newsarchive.parse.sites.almayadeen import AlMayadeen

    real = AlMayadeen.parse

    def headless(self: AlMayadeen, html: str, url: str) -> object:
        return real(self, html, url).replace(headline="")  # an older parser that missed this markup's title

    path = tmp_path / "pages.warc.gz"
    page = (FIXTURES / "e2e" / "news" / "grain-deal.html").read_bytes()
    write_warc(path, [("https://english.almayadeen.net/news/politics/grain", page)])
    with monkeypatch.context() as old:
        old.setattr(AlMayadeen, "parse", headless)
        _code, out, _ = run_cli(archive_dir, "import-warc", "--json", str(path))
        assert json.loads(out)["failed"] == 1
        assert verdicts(archive_dir) == [
            ("https://english.almayadeen.net/news/politics/grain", f"almayadeen/{AlMayadeen.version}")
        ]
        _code, out, _ = run_cli(archive_dir, "reparse", "--changed", "--json")
        assert json.loads(out)["failed"] == 0  # the same parser: the page is not tried again
    newer = f"{AlMayadeen.version}.1"
    monkeypatch.setattr(AlMayadeen, "version", newer)  # the real parser, a new version: it reads the page
    _code, out, _ = run_cli(archive_dir, "reparse", "--changed", "--json")
    assert json.loads(out)["new"] == 1
    assert verdicts(archive_dir) == []
    assert [a["parser"]["version"] for a in exported(archive_dir)] == [newer]


# --- 5. parse-quality alarm: a site that changes its markup --------------------------------------


def test_a_site_that_changes_its_markup_gives_one_warning_and_exit_1(tmp_path: Path, archive_dir: Path) -> None:
    site = tmp_path / "site"
    (site / "news").mkdir(parents=True)
    pages = sorted((FIXTURES / "ingest-site" / "news").glob("*.html"))
    for n, page in enumerate(pages):
        (site / "news" / f"a{n}.html").write_bytes(page.read_bytes())
    write_sitemap(site, [f"/news/a{n}.html" for n in range(len(pages))])
    server = FixtureServer(site).start()
    try:
        config(archive_dir, server, "/sitemap.xml")
        code, out, err = run_cli(archive_dir, "ingest", "--json")
        assert code == 0, err
        assert json.loads(out)["sources"]["fixture"] == {"pages": 5, "not_article": 0, "incomplete": 0, "missing": {}}
        # the site's new templates: no published-time metadata, no dated text
        for n, page in enumerate(pages):
            html = page.read_text("utf-8")
            html = "\n".join(line for line in html.splitlines() if "published" not in line)
            (site / "news" / f"b{n}.html").write_text(html, "utf-8")
        write_sitemap(site, [f"/news/{k}{n}.html" for k in "ab" for n in range(len(pages))])
        code, _, err = run_cli(archive_dir, "-q", "ingest")
    finally:
        server.stop()
    assert code == 1
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, err
    assert "fixture" in warnings[0] and "has the site changed its markup?" in warnings[0]
    assert "5 of 5 pages" in warnings[0] and "5 without date" in warnings[0]
    assert "ingest: fixture: 5 pages, 0 not recognised as articles, 5 without date" in err


def test_a_source_that_always_lacked_dates_raises_no_alarm(tmp_path: Path, archive_dir: Path) -> None:
    site = tmp_path / "site"
    (site / "news").mkdir(parents=True)
    pages = sorted((FIXTURES / "ingest-site" / "news").glob("*.html"))
    for k in "ab":
        for n, page in enumerate(pages):
            html = "\n".join(line for line in page.read_text("utf-8").splitlines() if "published" not in line)
            (site / "news" / f"{k}{n}.html").write_text(html, "utf-8")
    write_sitemap(site, [f"/news/a{n}.html" for n in range(len(pages))])
    server = FixtureServer(site).start()
    try:
        config(archive_dir, server, "/sitemap.xml")
        assert run_cli(archive_dir, "ingest")[0] == 0
        write_sitemap(site, [f"/news/{k}{n}.html" for k in "ab" for n in range(len(pages))])
        code, _, err = run_cli(archive_dir, "ingest")
    finally:
        server.stop()
    assert code == 0, err
    assert "changed its markup" not in err


# --- 7. canonical URLs: trusted within a site, or when the target agrees -------------------------


def story(headline: str, canonical: str, text: str = "The harbour authority said ships would be delayed.") -> bytes:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{headline}</title>"
        f"<link rel='canonical' href='{canonical}'>"
        "<meta property='article:published_time' content='2024-03-16T08:00:00Z'></head><body><article>"
        f"<h1>{headline}</h1><p>{text * 10}</p></article></body></html>"
    ).encode()


ORIGINAL = "https://news.example.com/2024/harbour"


def test_a_canonical_url_on_another_site_does_not_replace_the_archived_article(
    tmp_path: Path, archive_dir: Path
) -> None:
    first, second = tmp_path / "1.warc.gz", tmp_path / "2.warc.gz"
    write_warc(first, [(ORIGINAL, story("Harbour delays", ORIGINAL))])
    write_warc(second, [("https://copycat.example.org/stolen", story("Buy cheap pills", ORIGINAL, "Spam text. "))])
    assert run_cli(archive_dir, "import-warc", str(first))[0] == 0
    code, out, _ = run_cli(archive_dir, "import-warc", "--json", str(second))
    assert (code, json.loads(out)["new"]) == (0, 1)
    by_url = {a["canonical_url"]: a for a in exported(archive_dir)}
    assert by_url[ORIGINAL]["headline"] == "Harbour delays"
    copy = by_url["https://copycat.example.org/stolen"]
    assert copy["headline"] == "Buy cheap pills" and copy["site"] == "copycat.example.org"


def test_a_canonical_url_within_the_same_site_is_trusted(tmp_path: Path, archive_dir: Path) -> None:
    first, second = tmp_path / "1.warc.gz", tmp_path / "2.warc.gz"
    write_warc(first, [(ORIGINAL, story("Harbour delays", ORIGINAL))])
    write_warc(second, [("https://m.example.com/harbour?amp=1", story("Harbour delays grow", ORIGINAL))])
    assert run_cli(archive_dir, "import-warc", str(first))[0] == 0
    code, out, _ = run_cli(archive_dir, "import-warc", "--json", str(second))
    assert (code, json.loads(out)["updated"]) == (0, 1)
    assert [a["headline"] for a in exported(archive_dir)] == ["Harbour delays grow"]


def test_a_cross_site_canonical_is_trusted_when_the_archived_target_agrees(tmp_path: Path, archive_dir: Path) -> None:
    first, second = tmp_path / "1.warc.gz", tmp_path / "2.warc.gz"
    write_warc(first, [(ORIGINAL, story("Harbour delays", ORIGINAL))])
    write_warc(second, [("https://syndication.example.net/harbour", story("Harbour delays", ORIGINAL))])
    assert run_cli(archive_dir, "import-warc", str(first))[0] == 0
    code, out, _ = run_cli(archive_dir, "import-warc", "--json", str(second))
    assert (code, json.loads(out)["unchanged"]) == (0, 1)
    assert [(a["canonical_url"], a["url"]) for a in exported(archive_dir)] == [(ORIGINAL, ORIGINAL)]
    code, out, _ = run_cli(archive_dir, "reparse", "--json")  # and stays so when parsed again
    assert (code, json.loads(out)["new"]) == (0, 0)
    assert [(a["canonical_url"], a["url"]) for a in exported(archive_dir)] == [(ORIGINAL, ORIGINAL)]


def test_a_cross_site_canonical_to_a_page_never_archived_is_not_trusted(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "1.warc.gz"
    write_warc(path, [("https://copycat.example.org/stolen", story("Harbour delays", ORIGINAL))])
    assert run_cli(archive_dir, "import-warc", str(path))[0] == 0
    assert [a["canonical_url"] for a in exported(archive_dir)] == ["https://copycat.example.org/stolen"]
