"""Hostile or broken servers (real 127.0.0.1 endpoints): a clear FetchError or a bounded page, never a hang."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fault_routes
import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from server import FixtureServer

from newsarchive.archive.warc import iter_responses
from newsarchive.cli import cli
from newsarchive.errors import FetchError, RefusedURL
from newsarchive.fetch.client import MAX_REDIRECTS, Fetcher
from newsarchive.parse import parse_page


@pytest.fixture(scope="module")
def faults() -> Iterator[FixtureServer]:
    server = FixtureServer(FIXTURES / "e2e").start()
    fault_routes.install(server)
    yield server
    server.stop()


def fetcher(**kwargs: object) -> tuple[Fetcher, list[float]]:
    """A Fetcher with short limits whose retry pauses are recorded, not slept."""
    slept: list[float] = []
    options: dict[str, object] = {"timeout": 1.0, "max_bytes": 1024 * 1024, "sleep": slept.append, **kwargs}
    return Fetcher(**options), slept  # type: ignore[arg-type]


def fetch_error(server: FixtureServer, path: str, **kwargs: object) -> str:
    f, _ = fetcher(**kwargs)
    with pytest.raises(FetchError) as info:
        f.fetch(server.url(path))
    message = info.value.message
    assert "\n" not in message and len(message) < 400
    assert server.url(path) in message or "refused" in message
    return message


def test_slow_loris_body_is_abandoned_at_the_deadline(faults: FixtureServer) -> None:
    message = fetch_error(faults, "/slow-loris", deadline=0.5)
    assert "too slow" in message


def test_server_silent_before_headers_times_out(faults: FixtureServer) -> None:
    message = fetch_error(faults, "/slow-headers", timeout=0.3)
    assert "timed out after 0.3s" in message


def test_connection_reset_before_the_response_is_a_clear_error(faults: FixtureServer) -> None:
    assert "connection reset by peer" in fetch_error(faults, "/reset")


def test_connection_reset_in_the_middle_of_the_body_is_a_clear_error(faults: FixtureServer) -> None:
    assert "connection reset by peer" in fetch_error(faults, "/reset-mid-body")


def test_endless_redirects_stop_after_the_hop_limit(faults: FixtureServer) -> None:
    before = len(faults.requests)
    assert f"more than {MAX_REDIRECTS} redirects" in fetch_error(faults, "/loop")
    assert len(faults.requests) - before == MAX_REDIRECTS + 1


@pytest.mark.parametrize("path", ["/redirect-file", "/redirect-ftp"])
def test_redirect_to_a_non_http_scheme_is_refused(faults: FixtureServer, path: str) -> None:
    f, _ = fetcher()
    with pytest.raises(RefusedURL, match="only http and https URLs are fetched"):
        f.fetch(faults.url(path))


def test_429_waits_as_long_as_retry_after_says_then_gets_the_page(faults: FixtureServer) -> None:
    f, slept = fetcher()
    raw = f.fetch(faults.url("/429-then-ok"))
    assert raw.status == 200
    assert slept == [7.0, 7.0]


def test_503_with_a_past_http_date_retries_at_once(faults: FixtureServer) -> None:
    f, slept = fetcher()
    assert f.fetch(faults.url("/503-then-ok")).status == 200
    assert slept == [0.0]


def test_500_storm_gives_up_after_the_configured_retries(faults: FixtureServer) -> None:
    f, slept = fetcher(retries=3)
    before = len(faults.requests)
    raw = f.fetch(faults.url("/500-storm"))
    assert raw.status == 500
    assert len(faults.requests) - before == 4
    assert len(slept) == 3 and slept == sorted(slept)  # backoff grows


def test_body_over_the_limit_is_cut_and_marked_truncated(faults: FixtureServer) -> None:
    f, _ = fetcher(max_bytes=100_000)
    raw = f.fetch(faults.url("/huge"))
    assert raw.truncated
    assert len(raw.body) == 100_000


def test_gzip_bomb_inflates_no_further_than_the_limit(faults: FixtureServer) -> None:
    f, _ = fetcher(max_bytes=100_000)
    raw = f.fetch(faults.url("/gzip-bomb"))
    assert raw.truncated
    assert len(raw.body) == 100_000


def test_content_length_longer_than_the_body_is_a_truncated_download(faults: FixtureServer) -> None:
    assert "body cut short after" in fetch_error(faults, "/length-too-long")


def test_content_length_shorter_than_the_body_does_not_poison_the_next_response(faults: FixtureServer) -> None:
    f, _ = fetcher()
    first = f.fetch(faults.url("/length-too-short"))
    second = f.fetch(faults.url("/ok"))
    assert first.body == fault_routes.article()
    assert second.status == 200 and second.body == fault_routes.article()
    assert second.header("X-Smuggled") is None


@pytest.mark.parametrize("path", ["/bad-gzip", "/bad-deflate"])
def test_compressed_body_that_does_not_decompress_is_a_clear_error(faults: FixtureServer, path: str) -> None:
    assert "Content-Encoding does not decode" in fetch_error(faults, path)


def test_unrequested_content_encoding_is_refused_not_archived_as_html(faults: FixtureServer) -> None:
    assert "unsupported Content-Encoding 'br'" in fetch_error(faults, "/unknown-encoding")


def test_good_gzip_is_decoded(faults: FixtureServer) -> None:
    f, _ = fetcher()
    raw = f.fetch(faults.url("/good-gzip"))
    assert raw.body == fault_routes.article()


def test_chunked_body_cut_in_the_middle_is_a_clear_error(faults: FixtureServer) -> None:
    assert "connection lost while reading" in fetch_error(faults, "/truncated-chunked")


def _serve(server: FixtureServer, path: str, body: bytes, content_type: str) -> str:
    server.routes[path] = fault_routes.charset(body, content_type)
    return server.url(path)


@pytest.mark.parametrize(
    ("name", "encoding", "content_type"),
    [
        ("utf8-labelled-latin1", "utf-8", "text/html; charset=iso-8859-1"),
        ("cp1252-labelled-utf8", "cp1252", "text/html; charset=utf-8"),
        ("cp1251-no-charset", "cp1251", "text/html"),
        ("utf8-no-content-type", "utf-8", ""),
        ("cp1256-bogus-charset", "cp1256", "text/html; charset=x-no-such-charset"),
    ],
)
def test_wrong_or_missing_charset_still_decodes_the_headline(
    faults: FixtureServer, name: str, encoding: str, content_type: str
) -> None:
    words = {"cp1251": "Новости порта", "cp1256": "أخبار الميناء"}.get(encoding, "Café déjà vu")
    text = {"cp1251": "Порт закрыт из-за шторма. ", "cp1256": "أغلق الميناء بسبب العاصفة. "}.get(
        encoding, "Le café a fermé à cause de la tempête. "
    )
    body = fault_routes.ARTICLE.format(title=words, text=text * 30).replace("<meta charset='utf-8'>", "")
    url = _serve(faults, f"/charset/{name}", body.encode(encoding), content_type)
    f, _ = fetcher()
    raw = f.fetch(url)
    article = parse_page(raw.body, raw.final_url, content_type=raw.content_type)
    assert article.headline == words


def _run(archive: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--archive", str(archive), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def _stored(archive: Path) -> list[str]:
    """The archive's articles as exported JSON lines ([] when there is no archive)."""
    result = CliRunner().invoke(cli, ["--archive", str(archive), "export", "--jsonl"])
    return [line for line in result.stdout.splitlines() if line] if result.exit_code == 0 else []


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/reset", "connection reset by peer"),
        ("/loop", "redirects"),
        ("/bad-gzip", "does not decode"),
        ("/length-too-long", "body cut short"),
        ("/pdf-as-html", "not an HTML page (the body is a PDF document)"),
    ],
)
def test_fetch_command_reports_a_broken_server_and_keeps_the_archive(
    faults: FixtureServer, archive_dir: Path, path: str, says: str
) -> None:
    code, err = _run(archive_dir, "fetch", faults.url("/ok"))
    assert code == 0, err
    before = _stored(archive_dir)
    code, err = _run(archive_dir, "fetch", faults.url(path))
    assert code == 1
    assert says in err
    assert "Traceback" not in err
    assert _stored(archive_dir) == before


def test_truncated_page_is_archived_with_warc_truncated_and_never_parsed(
    faults: FixtureServer, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Fetcher.__init__, "__kwdefaults__", {**Fetcher.__init__.__kwdefaults__, "max_bytes": 1000})
    code, err = _run(archive_dir, "fetch", faults.url("/huge"))
    assert code == 1
    assert "cut at the size limit" in err
    warc = next((archive_dir / "warc").glob("*.warc.gz"))
    entries = list(iter_responses(warc))
    assert len(entries) == 1 and entries[0].raw.truncated
    _run(archive_dir, "reparse")
    assert _stored(archive_dir) == []


def test_a_refused_redirect_stores_nothing(faults: FixtureServer, archive_dir: Path) -> None:
    code, err = _run(archive_dir, "fetch", faults.url("/redirect-file"))
    assert code == 1
    assert "refused file:///etc/passwd" in err
    assert not list((archive_dir / "warc").glob("*.warc.gz"))


def test_a_kept_alive_connection_the_server_dropped_is_retried_once_on_a_new_one() -> None:
    """HTTP/1.1 keeps connections open; a server may close one while the next request is on its way. The
    request that meets the reset goes out again once on a new connection (as browsers and curl do): the
    page is fetched, not failed. A server that resets every connection still fails, after that one retry."""
    import socket
    import struct
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    requests_seen: list[int] = []  # the connection number each request arrived on

    def serve() -> None:
        for conn_no in (1, 2):
            conn, _ = listener.accept()
            with conn, conn.makefile("rb") as reader:  # both closed: the socket's fd goes with the last
                while reader.readline() not in (b"\r\n", b""):  # the request's head
                    pass
                requests_seen.append(conn_no)
                page = b"<html><head><title>Kept alive</title></head><body><p>Hello.</p></body></html>"
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(page))
                conn.sendall(page)
                if conn_no == 1:  # wait for the next request on this connection, then reset it unanswered
                    while reader.readline() not in (b"\r\n", b""):
                        pass
                    requests_seen.append(conn_no)
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    f, _ = fetcher(allow_private=True)
    try:
        assert f.fetch(f"http://127.0.0.1:{port}/a.html").status == 200
        second = f.fetch(f"http://127.0.0.1:{port}/b.html")
    finally:
        f.close()
        listener.close()
    thread.join(5)
    assert second.status == 200 and b"Kept alive" in second.body
    assert requests_seen == [1, 1, 2]  # b.html met the reset on connection 1, then came on connection 2
