"""import-warc over real-world WARC files (wget's), damaged and hostile ones, and store rebuild in place."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tracemalloc
import zlib
from pathlib import Path

import pytest
from conftest import export_jsonl, run_cli
from server import FixtureServer
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SITE = "https://news.example.com"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def article_html(n: int) -> bytes:
    text = f"Story {n}: the harbour authority said on Monday that ships would be delayed by the storm. " * 8
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Story {n}</title>"
        f"<meta property='article:published_time' content='2024-03-1{n}T08:00:00Z'></head><body><article>"
        f"<h1>Harbour story number {n}</h1><p>{text}</p></article></body></html>"
    ).encode()


class WgetWarc:
    """Writes a WARC the way ``wget --warc-file`` does: WARC/1.0, gzip per record, warcinfo first,
    a request record before each response, and the MANIFEST (metadata) and wget.log (resource) at the end."""

    def __init__(self, path: Path, *, gzip_records: bool = True) -> None:
        self.fh = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.writer = WARCWriter(self.fh, gzip=gzip_records, warc_version="1.0")
        info = self.writer.create_warcinfo_record(
            path.name,
            {"software": "Wget/1.21.3 (linux-gnu)", "format": "WARC File Format 1.0",
             "robots": "classic", "wget-arguments": f'"--warc-file=site" "-r" "-l1" "{SITE}/"'},
        )  # fmt: skip
        self.writer.write_record(info)

    def exchange(
        self, url: str, status: str, headers: list[tuple[str, str]], body: bytes, date: str = "2024-03-16T08:00:00Z"
    ) -> None:
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        request = self.writer.create_warc_record(
            url, "request",
            http_headers=StatusAndHeaders(f"GET {path} HTTP/1.1", [("User-Agent", "Wget/1.21.3"),
                                          ("Host", "news.example.com")], is_http_request=True),
            warc_headers_dict={"WARC-Date": date},
        )  # fmt: skip
        self.writer.write_record(request)
        http = StatusAndHeaders(status, [*headers, ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        response = self.writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict={"WARC-Date": date,
                               "WARC-Concurrent-To": request.rec_headers.get_header("WARC-Record-ID")},
        )  # fmt: skip
        self.writer.write_record(response)

    def close(self) -> None:
        manifest = self.writer.create_warc_record(
            "metadata://gnu.org/software/wget/warc/MANIFEST.txt", "metadata",
            payload=io.BytesIO(b"<urn:uuid:0001>\n"), length=16, warc_content_type="text/plain",
        )  # fmt: skip
        self.writer.write_record(manifest)
        log = b"--2024-03-16 08:00:00--  https://news.example.com/\nResolving news.example.com... 93.184.216.34\n"
        resource = self.writer.create_warc_record(
            "metadata://gnu.org/software/wget/warc/wget.log", "resource",
            payload=io.BytesIO(log), length=len(log), warc_content_type="text/plain",
        )  # fmt: skip
        self.writer.write_record(resource)
        self.fh.close()


def wget_site(path: Path, *, gzip_records: bool = True) -> None:
    warc = WgetWarc(path, gzip_records=gzip_records)
    html = [("Content-Type", "text/html; charset=UTF-8")]
    warc.exchange(f"{SITE}/", "301 Moved Permanently", [("Location", f"{SITE}/news/"), *html], b"")
    warc.exchange(f"{SITE}/news/1", "200 OK", html, article_html(1))
    warc.exchange(f"{SITE}/logo.png", "200 OK", [("Content-Type", "image/png")], PNG)
    warc.exchange(f"{SITE}/style.css", "200 OK", [("Content-Type", "text/css")], b"body { color: #222 }\n")
    warc.exchange(f"{SITE}/news/missing", "404 Not Found", html, b"<html><body><h1>Not found</h1></body></html>")
    warc.exchange(f"{SITE}/news/2", "200 OK", [], article_html(2))  # no Content-Type: sniffed as HTML
    warc.exchange(f"{SITE}/news/3", "200 OK", [("Content-Type", "application/xhtml+xml")], article_html(3))
    warc.close()


# --- 1. wget WARC files: only HTML responses are pages --------------------------------------------


def test_a_wget_warc_imports_its_html_pages_and_skips_the_rest(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "site.warc.gz"
    wget_site(path)
    code, out, err = run_cli(archive_dir, "import-warc", "--json", str(path))
    assert code == 0, err
    counts = json.loads(out)
    assert (counts["new"], counts["failed"], counts["errors"]) == (3, 0, [])
    # warcinfo, 7 requests, metadata, resource (log), the redirect, the PNG, the CSS, the 404
    assert counts["skipped"] == 1 + 7 + 1 + 1 + 4
    assert sorted(a["headline"] for a in export_jsonl(archive_dir)) == [f"Harbour story number {n}" for n in (1, 2, 3)]


def test_the_summary_line_shows_the_skipped_records(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "site.warc.gz"
    wget_site(path)
    code, _, err = run_cli(archive_dir, "import-warc", str(path))
    assert code == 0, err
    assert "14 skipped" in err and "0 failed" in err and "warning" not in err


def test_an_uncompressed_wget_warc_imports_the_same(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "site.warc"
    wget_site(path, gzip_records=False)
    code, out, err = run_cli(archive_dir, "import-warc", "--json", str(path))
    assert code == 0, err
    assert (json.loads(out)["new"], json.loads(out)["skipped"]) == (3, 14)


# --- 6. damaged, oversized and odd records -------------------------------------------------------


def _plain_pages(path: Path, count: int) -> list[int]:
    offsets = []
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=False)
        for n in range(count):
            offsets.append(fh.tell())
            body = article_html(n)
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(f"{SITE}/news/{n}", "response", payload=io.BytesIO(body),
                                          length=len(body), http_headers=http)
            )  # fmt: skip
    return offsets


def test_an_uncompressed_record_cut_mid_body_is_failed_not_stored(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "cut.warc"
    offsets = _plain_pages(path, 3)
    data = path.read_bytes()
    path.write_bytes(data[: offsets[2] + (len(data) - offsets[2]) // 2])
    code, out, _err = run_cli(archive_dir, "import-warc", "--json", str(path))
    assert code == 1
    counts = json.loads(out)
    assert (counts["new"], counts["failed"]) == (2, 1)
    assert "cut short" in counts["errors"][0] and f"offset {offsets[2]}" in counts["errors"][0]
    headlines = sorted(a["headline"] for a in export_jsonl(archive_dir))
    assert headlines == ["Harbour story number 0", "Harbour story number 1"]


def test_a_record_claiming_more_bytes_than_the_file_holds_is_failed(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "liar.warc"
    offsets = _plain_pages(path, 2)
    data = path.read_bytes()
    head_end = data.index(b"\r\n\r\n", offsets[1])
    header = data[offsets[1] : head_end]
    length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    lying = header.replace(f"Content-Length: {length}".encode(), f"Content-Length: {length + 5000}".encode())
    path.write_bytes(data[: offsets[1]] + lying + data[head_end:])
    code, _, err = run_cli(archive_dir, "import-warc", str(path))
    assert code == 1
    assert "cut short" in err and "1 failed" in err
    assert [a["headline"] for a in export_jsonl(archive_dir)] == ["Harbour story number 0"]


def test_a_record_that_inflates_past_the_cap_is_refused_and_the_rest_imported(
    tmp_path: Path, archive_dir: Path
) -> None:
    path = tmp_path / "bomb.warc.gz"
    bomb = b"<html><body>" + b" " * (8 * 1024 * 1024) + b"</body></html>"
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, body in ((f"{SITE}/bomb", bomb), (f"{SITE}/news/1", article_html(1))):
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          length=len(body), http_headers=http))  # fmt: skip
    assert path.stat().st_size < 100_000
    code, out, err = run_cli(archive_dir, "import-warc", "--max-record-size", "1M", "--json", str(path))
    assert code == 1, err
    counts = json.loads(out)
    assert (counts["new"], counts["failed"]) == (1, 1)
    assert "inflates past 1,048,576 bytes" in counts["errors"][0]
    # the default cap (64M) lets the same record through to the parser (which finds no text in it)
    code, out, _ = run_cli(archive_dir, "import-warc", "--json", str(path))
    assert not any("inflates" in e for e in json.loads(out)["errors"])


def test_a_bad_max_record_size_is_a_usage_error(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "site.warc.gz"
    wget_site(path)
    code, _, err = run_cli(archive_dir, "import-warc", "--max-record-size", "lots", str(path))
    assert code == 2 and "not a size" in err


def test_a_gzip_member_bomb_does_not_inflate_in_memory_when_checking_a_torn_file(tmp_path: Path) -> None:
    from newsarchive.archive.warc import complete_size

    path = tmp_path / "torn.warc.gz"
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = deflate.compress(b"\0" * (256 * 1024 * 1024)) + deflate.flush()
    path.write_bytes(member + gzip.compress(b"WARC/1.0\r\n")[:10])  # a bomb, then a torn member
    tracemalloc.start()
    try:
        assert complete_size(path) == len(member)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024, peak  # inflated 1 MiB at a time and thrown away, never 256 MiB at once


def test_warc_dates_at_the_ends_of_the_calendar_are_clamped_with_a_message(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "dates.warc.gz"
    warc = WgetWarc(path)
    html = [("Content-Type", "text/html")]
    warc.exchange(f"{SITE}/news/1", "200 OK", html, article_html(1), date="0001-01-01T00:00:00+14:00")
    warc.exchange(f"{SITE}/news/2", "200 OK", html, article_html(2), date="9999-12-31T23:59:59-14:00")
    warc.exchange(f"{SITE}/news/3", "200 OK", html, article_html(3), date="9999-12-31T23:59:59Z")
    warc.close()
    code, out, err = run_cli(archive_dir, "import-warc", "--json", str(path))
    assert code == 0, err
    counts = json.loads(out)
    assert counts["new"] == 3
    assert sum("outside the calendar" in e for e in counts["errors"]) == 2
    fetched = sorted(str(a["fetched_at"]) for a in export_jsonl(archive_dir))
    assert fetched[0].startswith("0001-01-01") and fetched[-1].startswith("9999-12-31")
    assert run_cli(archive_dir, "search", "harbour", "--json")[0] == 0


# --- 2. store rebuild: the archive's own WARC files, indexed in place ----------------------------


def _warc_state(archive: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((archive / "warc").iterdir())}


def _drop_store(archive: Path) -> None:
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm"):
        (archive / name).unlink(missing_ok=True)


def test_store_rebuild_indexes_the_warc_files_in_place(site_server: FixtureServer, archive_dir: Path) -> None:
    pages = ["/news/crimea-red-line.html", "/news/poland-troops.html", "/news/grain-deal.html"]
    assert run_cli(archive_dir, "fetch", "--delay", "0", *[site_server.url(p) for p in pages])[0] == 0
    assert run_cli(archive_dir, "fetch", "--delay", "0", site_server.url("/missing.html"))[0] == 1  # an archived 404
    site_server.stop()
    before, warcs = export_jsonl(archive_dir), _warc_state(archive_dir)
    _drop_store(archive_dir)
    code, out, err = run_cli(archive_dir, "store", "rebuild", "--json")
    assert code == 0, err
    assert json.loads(out)["new"] == 3
    assert _warc_state(archive_dir) == warcs  # same files, same bytes: nothing copied or appended
    assert export_jsonl(archive_dir) == before  # field for field, capture offsets included
    # run again on the rebuilt store: nothing new, nothing written
    code, out, _ = run_cli(archive_dir, "store", "rebuild", "--json")
    assert (code, json.loads(out)["new"], json.loads(out)["unchanged"]) == (0, 0, 3)
    assert _warc_state(archive_dir) == warcs


def test_import_warc_of_the_archives_own_files_indexes_them_in_place(
    site_server: FixtureServer, archive_dir: Path
) -> None:
    assert run_cli(archive_dir, "fetch", "--delay", "0", site_server.url("/news/grain-deal.html"))[0] == 0
    before, warcs = export_jsonl(archive_dir), _warc_state(archive_dir)
    _drop_store(archive_dir)
    code, _, err = run_cli(archive_dir, "import-warc", *map(str, sorted((archive_dir / "warc").iterdir())))
    assert code == 0, err
    assert _warc_state(archive_dir) == warcs
    assert export_jsonl(archive_dir) == before


def test_the_next_fetch_after_a_rebuild_appends_to_the_archive_without_cutting(
    site_server: FixtureServer, archive_dir: Path
) -> None:
    assert run_cli(archive_dir, "fetch", "--delay", "0", site_server.url("/news/grain-deal.html"))[0] == 0
    old = {p.name: p.read_bytes() for p in (archive_dir / "warc").iterdir()}
    _drop_store(archive_dir)
    assert run_cli(archive_dir, "store", "rebuild")[0] == 0
    assert run_cli(archive_dir, "fetch", "--delay", "0", site_server.url("/news/poland-troops.html"))[0] == 0
    assert len(export_jsonl(archive_dir)) == 2
    for name, data in old.items():  # the old records are all still there, byte for byte (appended to at most)
        assert (archive_dir / "warc" / name).read_bytes()[: len(data)] == data
    code, out, _ = run_cli(archive_dir, "reparse", "--json")
    assert code == 0 and json.loads(out)["failed"] == 0


def test_import_counts_articles_missing_a_date_as_incomplete(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "undated.warc.gz"
    warc = WgetWarc(path)
    undated = article_html(4).replace(b"article:published_time", b"x-not-a-date")
    warc.exchange(f"{SITE}/news/4", "200 OK", [("Content-Type", "text/html")], undated)
    warc.exchange(f"{SITE}/news/1", "200 OK", [("Content-Type", "text/html")], article_html(1))
    warc.close()
    code, out, err = run_cli(archive_dir, "import-warc", "--json", str(path))
    assert code == 0, err
    assert (json.loads(out)["new"], json.loads(out)["incomplete"]) == (2, 1)


@pytest.mark.skipif(shutil.which("wget") is None, reason="GNU wget is not installed")
def test_a_warc_written_by_real_wget_imports_with_exit_0(
    site_server: FixtureServer, archive_dir: Path, tmp_path: Path
) -> None:
    """The import-warc help's own example, run with wget against the local fixture site."""
    pages = [site_server.url(p) for p in ("/news/grain-deal.html", "/news/missing.html", "/news/poland-troops.html")]
    subprocess.run(
        ["wget", "-q", "--warc-file=site", "-r", "-l1", "-e", "robots=off", "--tries=1", *pages],
        cwd=tmp_path, capture_output=True, timeout=120, check=False,  # exit 8: the fixture site has 404s
    )  # fmt: skip
    code, out, err = run_cli(archive_dir, "import-warc", "--json", str(tmp_path / "site.warc.gz"))
    assert code == 0, err
    counts = json.loads(out)
    assert (counts["new"], counts["failed"]) == (2, 0)
    assert counts["skipped"] > 10  # warcinfo, requests, the 404s, the manifest and log records
