"""Shared pieces of the tests/test_hostile_*.py modules: a real 127.0.0.1 server per test, CLI runs, WARC files."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from click.testing import CliRunner
from fault_routes import HTML, article
from server import FixtureServer, Route, send
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsarchive.cli import cli

XML = {"Content-Type": "application/xml"}
#: Control characters that must never reach a terminal: ESC (OSC title, CSI), BEL, C1 CSI and NEL, bidi.
CONTROLS = frozenset("\x1b\x07\x9b\x85\u202e\u2066\u2067\u2069")

__all__ = ["CONTROLS", "HTML", "XML", "Run", "article", "body", "config", "feed", "run", "sitemap", "source", "warc"]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def crashed(self) -> bool:
        """An internal error: exit 70, a traceback or "unexpected" (never right for hostile input)."""
        text = self.out + self.err
        return self.code == 70 or "Traceback" in text or "unexpected" in self.err

    def json(self) -> object:
        return json.loads(self.out)


def run(archive: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    result = CliRunner().invoke(cli, ["--archive", str(archive), *args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def body(data: bytes, headers: dict[str, str] | None = None, status: int = 200) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, status, data, headers if headers is not None else HTML)

    return route


def page(title: str, head: str = "", text: str | None = None) -> bytes:
    """An article page with extra markup in its <head>."""
    html = article(title) if text is None else article(title, text)
    return html.replace(b"<head>", b"<head>" + head.encode("utf-8"), 1)


def feed(*links: str, encoding: str = "utf-8", dates: Iterable[str] = ()) -> bytes:
    dated = list(dates)
    items = "".join(
        f"<item><title>Story {i}</title><link>{link}</link>"
        + (f"<pubDate>{dated[i]}</pubDate>" if i < len(dated) else "")
        + "</item>"
        for i, link in enumerate(links)
    )
    return (
        f"<?xml version='1.0' encoding='{encoding}'?><rss version='2.0'><channel><title>T</title>{items}"
        "</channel></rss>"
    ).encode()


def sitemap(*locs: str, index: bool = False, encoding: str = "utf-8", extra: str = "") -> bytes:
    tag, item = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    entries = "".join(f"<{item}><loc>{loc}</loc>{extra}</{item}>" for loc in locs)
    return (
        f"<?xml version='1.0' encoding='{encoding}'?><{tag} xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
        f"xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{entries}</{tag}>"
    ).encode()


def source(name: str, *start: str) -> str:
    return f"[[source]]\nname = {json.dumps(name)}\nstart = {json.dumps(list(start))}\n\n"


def config(archive: Path, settings: str = "delay = 0.0", sources: str = "") -> Path:
    archive.mkdir(parents=True, exist_ok=True)
    path = archive / "sources.toml"
    path.write_text(f"[settings]\n{settings}\n\n{sources}", "utf-8")
    return path


def warc(path: Path, records: Iterable[tuple[str, bytes, str | None]]) -> Path:
    """A gzipped WARC of response records (target URI, HTML body, WARC-Date or None); an empty URI omits it."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for uri, html, date in records:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            headers = {"WARC-Date": date} if date else None
            record = writer.create_warc_record(
                uri, "response", payload=io.BytesIO(html), http_headers=http, warc_headers_dict=headers
            )
            writer.write_record(record)
    return path


def start_server(root: Path) -> FixtureServer:
    root.mkdir(exist_ok=True)
    return FixtureServer(root).start()


def with_good_page(server: FixtureServer) -> FixtureServer:
    """The server, serving one ordinary article at /good.html (the page a hostile one must not harm)."""
    server.routes["/good.html"] = body(page("Harbour reopens after storm"))
    return server


def archive_of_good_page(server: FixtureServer, archive: Path) -> Path:
    """An archive holding /good.html, fetched through the CLI."""
    assert run(archive, "fetch", server.url("/good.html")).code == 0
    return archive
