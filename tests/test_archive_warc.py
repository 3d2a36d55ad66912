"""WARC writing: valid records, rotation, and a torn tail cut before the next append."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from newsarchive.archive.rawpage import RawPage
from newsarchive.archive.warc import WarcWriterPool, iter_responses, read_capture


def _raw(n: int, body: bytes | None = None) -> RawPage:
    return RawPage(
        url=f"https://example.com/a{n}",
        final_url=f"https://example.com/a{n}",
        status=200,
        headers=(("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")),
        body=body if body is not None else f"<html><body><p>page {n}</p></body></html>".encode(),
        fetched_at=datetime(2024, 3, 16, 6, 51, tzinfo=UTC),
        request_headers=(("User-Agent", "test"),),
    )


def test_capture_is_read_back_byte_for_byte_from_its_offset(tmp_path: Path) -> None:
    pool = WarcWriterPool(tmp_path, {}, max_bytes=10**9)
    body = "<html>ص\x00 ünïcode</html>".encode()
    loc = pool.append(_raw(1, body))
    pool.close()
    raw = read_capture(tmp_path / loc.warc, loc.offset)
    assert raw.body == body
    assert raw.status == 200
    assert raw.header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert raw.header("Content-Encoding") is None
    assert raw.fetched_at == datetime(2024, 3, 16, 6, 51, tzinfo=UTC)


def test_torn_tail_past_committed_size_is_cut_before_appending(tmp_path: Path) -> None:
    pool = WarcWriterPool(tmp_path, {}, max_bytes=10**9)
    first = pool.append(_raw(1))
    pool.close()
    path = tmp_path / first.warc
    with open(path, "ab") as fh:  # a killed run's half-written record
        fh.write(b"\x1f\x8b\x08\x00garbage-half-record")
    pool = WarcWriterPool(tmp_path, {first.warc: first.end}, max_bytes=10**9)
    second = pool.append(_raw(2))
    pool.close()
    assert second.offset == first.end
    urls = [e.raw.url for e in iter_responses(path)]
    assert urls == ["https://example.com/a1", "https://example.com/a2"]


def test_files_rotate_past_the_size_limit(tmp_path: Path) -> None:
    pool = WarcWriterPool(tmp_path, {}, max_bytes=1)
    a = pool.append(_raw(1))
    b = pool.append(_raw(2))
    pool.close()
    assert a.warc != b.warc
    assert sorted(p.name for p in tmp_path.glob("*.warc.gz")) == sorted([a.warc, b.warc])
