"""Hostile discovery documents: malformed XML, fake or bombing gzip, entity expansion and external entities."""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from collections.abc import Iterator

import pytest
from conftest import FIXTURES

from newsarchive.discover import discover
from newsarchive.discover.safexml import parse_xml
from newsarchive.discover.sitemaps import MAX_DECOMPRESSED, gunzip
from newsarchive.errors import ParseError

D = FIXTURES / "discover"


def read(name: str) -> bytes:
    return (D / name).read_bytes()


def gzip_of_zeros(size: int) -> bytes:
    """A gzip member of ``size`` zero bytes, compressed in 1 MiB steps (never held uncompressed)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1024 * 1024)
    parts = [comp.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(comp.flush())
    return b"".join(parts)


class Listener:
    """A 127.0.0.1 TCP socket that records whether anything connected to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    item = Listener()
    yield item
    item.close()


def test_malformed_sitemap_is_one_line_parse_error() -> None:
    with pytest.raises(ParseError, match="not well-formed XML") as info:
        discover(read("malformed.xml"), "https://bad.example.com/sitemap.xml")
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    "body",
    [b"", b"   \n", b"\x00\x01\x02 binary", b"Just some text", b"<?xml version='1.0'?>", b"<urlset><url><loc>"],
)
def test_garbage_is_a_parse_error_not_a_crash(body: bytes) -> None:
    with pytest.raises(ParseError):
        discover(body, "https://bad.example.com/sitemap.xml", hint="sitemap")


def test_malformed_feed_without_any_feed_structure_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        discover(b"<rss><channel><item><title>unclosed", "https://bad.example.com/rss", hint="feed")


def test_gzip_that_is_not_gzip_gives_a_clear_error() -> None:
    fake = b"\x1f\x8b" + b"this is not deflate data at all" * 10
    with pytest.raises(ParseError, match="not valid gzip"):
        discover(fake, "https://bad.example.com/sitemap.xml.gz")


def test_truncated_gzip_gives_a_clear_error() -> None:
    body = gzip.compress(read("news-sitemap.xml"))[:-30]
    with pytest.raises(ParseError, match="gzip"):
        discover(body, "https://bad.example.com/sitemap.xml.gz")


@pytest.mark.slow
def test_gzip_bomb_is_refused_at_the_size_cap() -> None:
    bomb = gzip_of_zeros(4 * MAX_DECOMPRESSED)  # 200 MiB of zeros -> about 200 KB compressed
    assert len(bomb) < MAX_DECOMPRESSED // 200
    with pytest.raises(ParseError, match="gzip bomb"):
        discover(bomb, "https://bad.example.com/sitemap.xml.gz")


def test_gunzip_cap_is_exact() -> None:
    data = gzip.compress(b"a" * 1000)
    assert gunzip(data, limit=1000) == b"a" * 1000
    with pytest.raises(ParseError, match="gzip bomb"):
        gunzip(data, limit=999)


def test_multi_member_gzip_is_read_whole() -> None:
    assert gunzip(gzip.compress(b"<urlset>") + gzip.compress(b"</urlset>")) == b"<urlset></urlset>"


@pytest.mark.parametrize("name", ["billion-laughs.xml", "xxe-file.xml", "xxe-file-rss.xml"])
def test_entity_declarations_are_refused_never_expanded(name: str) -> None:
    with pytest.raises(ParseError, match="ENTITY"):
        discover(read(name), "https://evil.example.com/doc.xml")


def test_billion_laughs_in_utf16_is_refused_too() -> None:
    body = (
        read("billion-laughs.xml").decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    )
    with pytest.raises(ParseError, match="ENTITY"):
        discover(body.encode("utf-16"), "https://evil.example.com/doc.xml")


def test_billion_laughs_in_a_feed_is_refused() -> None:
    body = (
        read("billion-laughs.xml")
        .replace(b"<urlset", b"<rss version='2.0'><channel")
        .replace(b"</urlset>", b"</channel></rss>")
    )
    with pytest.raises(ParseError, match="ENTITY"):
        discover(body, "https://evil.example.com/rss.xml")


@pytest.mark.parametrize("root", ["urlset", "rss"])
def test_external_entity_to_localhost_is_refused_and_never_fetched(listener: Listener, root: str) -> None:
    url = f"http://127.0.0.1:{listener.port}/evil"
    body = (
        f'<?xml version="1.0"?><!DOCTYPE {root} [ <!ENTITY % remote SYSTEM "{url}"> %remote; '
        f'<!ENTITY xxe SYSTEM "{url}/x"> ]><{root}><x>&xxe;</x></{root}>'
    ).encode()
    with pytest.raises(ParseError, match="ENTITY"):
        discover(body, "https://evil.example.com/doc.xml")
    assert listener.connections == 0


@pytest.mark.parametrize("root", ["urlset", "rss"])
def test_external_dtd_without_entities_is_neither_loaded_nor_fetched(listener: Listener, root: str) -> None:
    loc = "<url><loc>https://x.example.com/a</loc></url>" if root == "urlset" else (
        "<channel><title>t</title><link>https://x.example.com/</link><description>d</description>"
        "<item><link>https://x.example.com/a</link></item></channel>"
    )  # fmt: skip
    for system in (f"http://127.0.0.1:{listener.port}/evil.dtd", "file:///etc/passwd"):
        body = f'<?xml version="1.0"?><!DOCTYPE {root} SYSTEM "{system}"><{root}>{loc}</{root}>'.encode()
        found = discover(body, "https://x.example.com/doc.xml")
        assert [c.url for c in found.candidates] == ["https://x.example.com/a"]
        assert "root:" not in repr(found)
    assert listener.connections == 0


def test_safe_parser_leaves_references_to_an_external_dtd_unexpanded() -> None:
    root = parse_xml(b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a>x&passwd;y</a>')
    assert "".join(root.itertext()) == "x&passwd;y"  # a reference node, never expanded or read


def test_deeply_nested_xml_is_refused_not_a_recursion_crash() -> None:
    body = b"<urlset>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</urlset>"
    with pytest.raises(ParseError):
        discover(body, "https://evil.example.com/sitemap.xml")


@pytest.mark.parametrize("hint", ["sitemap", "feed"])
def test_html_error_page_where_a_sitemap_or_feed_was_announced_is_an_error(hint: str) -> None:
    page = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>challenge</body></html>"
    with pytest.raises(ParseError, match=f"expected a {hint}, got an HTML page"):
        discover(page, "https://x.example.com/sitemap-2024-1.xml", "text/html", hint=hint)
    assert discover(page, "https://x.example.com/", "text/html").kind == "listing"
