"""Named fault endpoints for FixtureServer (as scrapy's mockserver): each one a way a server can misbehave."""

from __future__ import annotations

import contextlib
import functools
import gzip
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from server import FixtureServer, Route, send

HTML = {"Content-Type": "text/html; charset=utf-8"}

PARAGRAPH = "The harbour authority said on Monday that ships would be delayed by the storm. " * 6
ARTICLE = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
    "<meta property='article:published_time' content='2024-03-16T08:00:00+02:00'></head>"
    "<body><article><h1>{title}</h1><p>{text}</p><p>{text}</p></article></body></html>"
)


def article(title: str = "Harbour delays expected", text: str = PARAGRAPH) -> bytes:
    """A small article page that every parser accepts."""
    return ARTICLE.format(title=title, text=text).encode("utf-8")


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the socket with an RST instead of a FIN (SO_LINGER 0)."""
    handler.wfile.flush()
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()
    handler.close_connection = True


def slow_loris(interval: float = 0.05, limit: float = 20.0) -> Route:
    """Headers at once, then one body byte per ``interval``: each read is quick, the whole never ends."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", "100000000")
        handler.end_headers()
        deadline = time.monotonic() + limit
        try:
            while time.monotonic() < deadline:
                handler.wfile.write(b"<")
                handler.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass  # the client gave up, as it should
        handler.close_connection = True

    return route


def slow_headers(seconds: float) -> Route:
    """Nothing at all for ``seconds``, then a page."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        with contextlib.suppress(OSError):
            send(handler, 200, article(), HTML)

    return route


def reset_at_once(handler: BaseHTTPRequestHandler) -> None:
    """Connection reset before any byte of the response."""
    _reset(handler)


def reset_mid_body(handler: BaseHTTPRequestHandler) -> None:
    """Headers and half the promised body, then a reset."""
    body = article()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body[: len(body) // 2])
    _reset(handler)


def redirect_to(location: str, status: int = 302) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, status, b"", {"Location": location})

    return route


def redirect_loop(handler: BaseHTTPRequestHandler) -> None:
    """/loop -> /loop?n=1 -> /loop?n=2 ... (a different URL each time, so only a hop count stops it)."""
    n = int(handler.path.partition("n=")[2] or 0)
    send(handler, 302, b"", {"Location": f"/loop?n={n + 1}"})


def statuses(codes: list[int], headers: dict[str, str] | None = None) -> Route:
    """Answer each request with the next status in ``codes`` (the last repeats); 2xx carry an article."""
    lock = threading.Lock()
    seen = [0]

    def route(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            code = codes[min(seen[0], len(codes) - 1)]
            seen[0] += 1
        if 200 <= code < 300:
            send(handler, code, article(), HTML)
        else:
            send(handler, code, f"<html><body>error {code}</body></html>".encode(), {**HTML, **(headers or {})})

    return route


def huge_body(size: int) -> Route:
    """A real page padded to ``size`` bytes, with a truthful Content-Length."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        body = article() + b" " * max(0, size - len(article()))
        with contextlib.suppress(OSError):  # the client stops reading at its limit
            send(handler, 200, body, HTML)

    return route


def content_length_too_long(handler: BaseHTTPRequestHandler) -> None:
    """Promises more bytes than it sends, then closes."""
    body = article()
    send(handler, 200, body, {**HTML, "Content-Length": str(len(body) + 5000), "Connection": "close"})
    handler.close_connection = True


def content_length_too_short(handler: BaseHTTPRequestHandler) -> None:
    """Sends more bytes than it promised, on a keep-alive connection."""
    body = article()
    send(handler, 200, body + b"HTTP/1.1 200 OK\r\nX-Smuggled: yes\r\n\r\n", {**HTML, "Content-Length": str(len(body))})


def bad_gzip(handler: BaseHTTPRequestHandler) -> None:
    """Says gzip, is not."""
    send(handler, 200, b"this is not gzip at all" * 20, {**HTML, "Content-Encoding": "gzip"})


def bad_deflate(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 200, b"\x00\x01\x02not deflate" * 20, {**HTML, "Content-Encoding": "deflate"})


def unknown_encoding(handler: BaseHTTPRequestHandler) -> None:
    """A Content-Encoding the client never asked for and cannot decode."""
    send(handler, 200, b"\x0b\x02\x80compressed-by-something-else" * 10, {**HTML, "Content-Encoding": "br"})


@functools.cache
def _gzip_of_zeros(uncompressed: int) -> bytes:
    """Made once per size for the whole run (compressing 200 MB takes a second or more)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    chunk = b"\0" * (1024 * 1024)
    return b"".join(packer.compress(chunk) for _ in range(uncompressed // len(chunk))) + packer.flush()


def gzip_bomb(uncompressed: int) -> Route:
    """A small gzip body that inflates to ``uncompressed`` bytes."""
    blob = _gzip_of_zeros(uncompressed)  # before the server answers: a client would time out waiting

    def route(handler: BaseHTTPRequestHandler) -> None:
        with contextlib.suppress(OSError):
            send(handler, 200, blob, {**HTML, "Content-Encoding": "gzip"})

    return route


def good_gzip(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 200, gzip.compress(article()), {**HTML, "Content-Encoding": "gzip"})


def charset(body: bytes, content_type: str) -> Route:
    """``body`` served under a chosen Content-Type (wrong or missing charset)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, body, {"Content-Type": content_type} if content_type else {})

    return route


def truncated_chunked(handler: BaseHTTPRequestHandler) -> None:
    """Chunked transfer that stops in the middle of a chunk and closes."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.write(b"400\r\n" + article()[:200])
    handler.wfile.flush()
    handler.close_connection = True


def pdf_as_html(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 200, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n" * 40, HTML)


def ok(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 200, article(), HTML)


def install(server: FixtureServer) -> dict[str, str]:
    """Add every named fault to ``server``; returns name -> URL."""
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
        "/ok": ok,
        "/slow-loris": slow_loris(),
        "/slow-headers": slow_headers(3.0),
        "/reset": reset_at_once,
        "/reset-mid-body": reset_mid_body,
        "/loop": redirect_loop,
        "/redirect-file": redirect_to("file:///etc/passwd"),
        "/redirect-ftp": redirect_to("ftp://127.0.0.1/x"),
        "/redirect-metadata": redirect_to("http://169.254.169.254/latest/meta-data/"),
        "/redirect-private-literal": redirect_to(server.url("/ok").replace("localhost", "127.0.0.1")),
        "/429-then-ok": statuses([429, 429, 200], {"Retry-After": "7"}),
        "/503-then-ok": statuses([503, 200], {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        "/500-storm": statuses([500]),
        "/huge": huge_body(3 * 1024 * 1024),
        "/length-too-long": content_length_too_long,
        "/length-too-short": content_length_too_short,
        "/bad-gzip": bad_gzip,
        "/bad-deflate": bad_deflate,
        "/unknown-encoding": unknown_encoding,
        "/gzip-bomb": gzip_bomb(200 * 1024 * 1024),
        "/good-gzip": good_gzip,
        "/truncated-chunked": truncated_chunked,
        "/pdf-as-html": pdf_as_html,
    }
    server.routes.update(routes)
    return {name: server.url(name) for name in routes}
