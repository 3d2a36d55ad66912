"""A real HTTP server on 127.0.0.1 serving fixture sites, with named fault endpoints (as scrapy's mockserver)."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

Route = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-request (the fetcher refusing a connection, a timeout) is expected here.

    The stock server prints that traceback to ``sys.stderr``, which, while a test runs the CLI in-process,
    is the CLI's captured stderr: a "Traceback" the CLI never wrote. Keep such errors on a list instead.
    """

    errors: list[BaseException]

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.errors.append(error)


class FixtureServer:
    """Serves files under ``root`` (``/a/b.html`` -> ``root/a/b.html``) plus programmable routes.

    ``host``: another loopback address (127.0.0.2, ...) is another host for politeness (host_of ignores ports).
    """

    def __init__(self, root: Path, host: str = "127.0.0.1") -> None:
        self.root = root
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        #: (time.time() when the request line was read, path): the gaps between requests (politeness tests).
        self.request_times: list[tuple[float, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle plus delayed ACKs
            # add ~40 ms to every keep-alive response.
            disable_nagle_algorithm = True
            types: ClassVar[dict[str, str]] = {
                ".html": "text/html; charset=utf-8",
                ".xml": "application/xml",
                ".txt": "text/plain; charset=utf-8",
                ".json": "application/json",
            }

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return None

            def do_GET(self) -> None:
                server.request_times.append((time.time(), self.path))
                server.requests.append((self.path, dict(self.headers.items())))
                path = self.path.split("?", 1)[0]
                if path in server.routes:
                    server.routes[path](self)
                    return
                file = (server.root / path.lstrip("/")).resolve()
                if server.root.resolve() not in file.parents or not file.is_file():
                    self.send_error(404)
                    return
                body = file.read_bytes().replace(b"{{BASE}}", server.base.encode())
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", self.types.get(file.suffix, "application/octet-stream"))
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = _QuietServer((host, 0), Handler)
        self.httpd.errors = []
        self.httpd.daemon_threads = True
        # stop() waits for the serving loop to look at its flag: every 50 ms, not the default 500 ms.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> FixtureServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def write_sitemap(root: Path, paths: Iterable[str], lastmod: str | None = None) -> None:
    """``root/sitemap.xml`` listing each path on the serving FixtureServer ({{BASE}}), with ``lastmod`` if given."""
    stamp = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
    urls = "".join(f"<url><loc>{{{{BASE}}}}{path}</loc>{stamp}</url>" for path in paths)
    (root / "sitemap.xml").write_text(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>', "utf-8"
    )


def send(
    handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> None:
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    if "Content-Length" not in (headers or {}):
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def slow(seconds: float) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        send(handler, 200, b"<html><body>late</body></html>", {"Content-Type": "text/html"})

    return route
