"""Damaged WARC files, a damaged index, a read-only archive, a full disk: clear errors, nothing lost or doubled."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsarchive.archive import warc as warc_module
from newsarchive.cli import cli

TOUR = FIXTURES / "tour" / "example-news.warc.gz"
TOUR_ARTICLES = 4


def run(archive: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--archive", str(archive), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def exported(archive: Path) -> list[dict[str, object]]:
    code, out, _ = run(archive, "export", "--jsonl")
    return [json.loads(line) for line in out.splitlines()] if code == 0 else []


def snapshot(archive: Path) -> dict[str, str]:
    """Digest of every WARC file and the store's capture and article rows."""
    state = {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(archive.glob("warc/*.warc.gz"))}
    if (archive / "store.sqlite").exists():
        with sqlite3.connect(archive / "store.sqlite") as db:
            for table in ("captures", "articles"):
                rows = db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                state[table] = hashlib.sha1(repr(rows).encode()).hexdigest()
    return state


def one_line_warning(err: str) -> str:
    """A damaged record is one warning line (it is counted as failed; the rest of the run goes on)."""
    lines = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Error:" not in err
    return lines[0]


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def article_html(n: int) -> bytes:
    text = f"Story {n}: the harbour authority said on Monday that ships would be delayed. " * 8
    return (
        f"<html><head><meta charset='utf-8'><title>Story {n}</title></head><body><article>"
        f"<h1>Harbour story number {n}</h1><p>{text}</p></article></body></html>"
    ).encode()


def write_warc(path: Path, records: list[tuple[str, str, bytes]]) -> list[int]:
    """(type, url, payload) records as one gzip member each; returns each record's offset."""
    offsets = []
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for rec_type, url, payload in records:
            offsets.append(fh.tell())
            if rec_type == "response":
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
                record = writer.create_warc_record(
                    url, "response", payload=io.BytesIO(payload), length=len(payload), http_headers=http,
                    warc_headers_dict={"WARC-Date": "2024-03-16T08:00:00Z"},
                )  # fmt: skip
            else:
                record = writer.create_warc_record(
                    url, rec_type, payload=io.BytesIO(payload), length=len(payload),
                    warc_content_type="application/octet-stream",
                )  # fmt: skip
            writer.write_record(record)
    return offsets


def three_pages(path: Path) -> list[int]:
    return write_warc(path, [("response", f"https://news.example.com/news/{n}", article_html(n)) for n in range(3)])


def test_truncated_last_record_keeps_the_records_before_it(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "cut.warc.gz"
    offsets = three_pages(path)
    data = path.read_bytes()
    path.write_bytes(data[: offsets[2] + (len(data) - offsets[2]) // 2])
    code, _, err = run(archive_dir, "import-warc", str(path))
    assert code == 1
    assert "not a readable WARC file" in one_line_warning(err)
    assert "1 failed" in err
    assert sorted(a["headline"] for a in exported(archive_dir)) == ["Harbour story number 0", "Harbour story number 1"]


def test_corrupt_record_in_the_middle_is_reported_and_earlier_records_kept(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "corrupt.warc.gz"
    offsets = three_pages(path)
    data = bytearray(path.read_bytes())
    data[offsets[1] + 30 : offsets[1] + 60] = b"\xff" * 30  # inside the second record's deflate stream
    path.write_bytes(bytes(data))
    code, _, err = run(archive_dir, "import-warc", str(path))
    assert code == 1
    one_line_warning(err)
    assert [a["headline"] for a in exported(archive_dir)] == ["Harbour story number 0"]


def test_unknown_record_types_are_skipped(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "mixed.warc.gz"
    write_warc(
        path,
        [
            ("x-custom-type", "urn:x:1", b"whatever this is"),
            ("response", "https://news.example.com/news/1", article_html(1)),
            ("metadata", "https://news.example.com/news/1", b"outlinks: none"),
            ("conversion", "https://news.example.com/news/1", b"plain text"),
            ("response", "https://news.example.com/news/2", article_html(2)),
        ],
    )
    code, _, err = run(archive_dir, "import-warc", str(path))
    assert code == 0, err
    assert len(exported(archive_dir)) == 2


def test_plain_gzip_that_is_not_warc_is_refused(tmp_path: Path, archive_dir: Path) -> None:
    path = tmp_path / "fake.warc.gz"
    path.write_bytes(gzip.compress(b"<html>just a page</html>"))
    code, _, err = run(archive_dir, "import-warc", str(path))
    assert code == 1
    assert "not a readable WARC file" in one_line_error(err)
    assert not archive_dir.joinpath("warc").exists() or not list(archive_dir.glob("warc/*.warc.gz"))


@pytest.mark.parametrize("damage", ["garbage", "empty-files", "missing-toc"])
def test_damaged_index_is_a_clear_error_and_reindex_repairs_it(archive_dir: Path, damage: str) -> None:
    assert run(archive_dir, "import-warc", str(TOUR))[0] == 0
    files = [p for p in (archive_dir / "index").iterdir() if p.is_file()]
    for p in files:
        if damage == "garbage":
            p.write_bytes(b"\x00garbage" * 10)
        elif damage == "empty-files":
            p.write_bytes(b"")
        elif p.suffix == ".toc":
            p.unlink()
    code, _, err = run(archive_dir, "search", "crimea")
    assert code in (1, 2, 75)
    assert "reindex" in one_line_error(err) + err
    assert run(archive_dir, "reindex")[0] == 0
    code, out, err = run(archive_dir, "search", "crimea", "--json")
    assert code == 0, err
    assert json.loads(out)


def test_damaged_warc_file_behind_a_capture_is_a_clear_reparse_error(archive_dir: Path) -> None:
    assert run(archive_dir, "import-warc", str(TOUR))[0] == 0
    warc = next(archive_dir.glob("warc/*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    warc.write_bytes(bytes(data))
    before = exported(archive_dir)
    code, _, err = run(archive_dir, "reparse")
    assert code == 1
    assert "unreadable record" in err
    assert "Traceback" not in err
    assert exported(archive_dir) == before  # nothing stored is dropped because its page cannot be read


def _import_twice_with_fault(
    archive_dir: Path, monkeypatch: pytest.MonkeyPatch, fault: object, target: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    """Import one page, then import the tour with ``fault`` patched in; return the error and both states."""
    first = archive_dir.parent / "first.warc.gz"
    write_warc(first, [("response", "https://news.example.com/news/first", article_html(0))])
    assert run(archive_dir, "import-warc", str(first))[0] == 0
    before = snapshot(archive_dir)
    with monkeypatch.context() as m:
        m.setattr(target, fault, raising=False)
        code, _, err = run(archive_dir, "import-warc", str(TOUR))
    assert code == 1
    return one_line_error(err), before, snapshot(archive_dir)


def test_full_disk_leaves_no_partial_record_and_a_retry_doubles_nothing(
    archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    error, before, after = _import_twice_with_fault(archive_dir, monkeypatch, no_space, "os.fsync")
    assert "No space left on device" in error
    assert after == before
    code, _, err = run(archive_dir, "import-warc", str(TOUR))
    assert code == 0, err
    urls = [a["url"] for a in exported(archive_dir)]
    assert len(urls) == TOUR_ARTICLES + 1 == len(set(urls))


def test_read_only_archive_is_a_clear_error_and_changes_nothing(
    archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = open

    def read_only(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if any(c in mode for c in "wa+"):
            raise PermissionError(errno.EROFS, "Read-only file system", str(file))
        return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

    error, before, after = _import_twice_with_fault(
        archive_dir, monkeypatch, read_only, "newsarchive.archive.warc.open"
    )
    assert "Read-only file system" in error
    assert after == before


def test_write_error_on_a_new_warc_file_leaves_no_file_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsarchive.archive.rawpage import RawPage

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("os.fsync", no_space)
    pool = warc_module.WarcWriterPool(tmp_path, {}, max_bytes=10**9)
    raw = RawPage("https://e.com/a", "https://e.com/a", 200, (), b"<p>x</p>", datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(warc_module.ArchiveError, match="No space left on device"):
        pool.append(raw)
    assert list(tmp_path.iterdir()) == []


def test_a_lost_store_rebuilt_from_the_archives_own_warc_files_loses_nothing(archive_dir: Path) -> None:
    assert run(archive_dir, "import-warc", str(TOUR))[0] == 0
    before = sorted(a["url"] for a in exported(archive_dir))
    warcs = sorted(archive_dir.glob("warc/*.warc.gz"))
    sizes = [p.stat().st_size for p in warcs]
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm"):
        (archive_dir / name).unlink(missing_ok=True)
    code, _, err = run(archive_dir, "import-warc", *map(str, warcs))
    assert code == 0, err
    assert [p.stat().st_size for p in warcs] == sizes  # the old files were read, never cut
    assert sorted(a["url"] for a in exported(archive_dir)) == before


def test_a_reindex_that_fails_leaves_the_index_queue_for_the_next_run(
    archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue of articles the index has not caught up with was emptied before the rebuild: a rebuild that failed
    (the old index kept) left those articles out of the index until the next full reindex."""
    from newsarchive.errors import SearchIndexError
    from newsarchive.index import writer

    assert run(archive_dir, "import-warc", str(TOUR))[0] == 0
    with sqlite3.connect(archive_dir / "store.sqlite") as db:
        db.execute("INSERT OR IGNORE INTO index_queue (id) SELECT id FROM articles")
    queued = _queued(archive_dir)
    assert queued == TOUR_ARTICLES

    def fail(*args: object, **kwargs: object) -> int:
        raise SearchIndexError("the disk is full")

    monkeypatch.setattr(writer, "write_segments", fail)
    code, _, err = run(archive_dir, "reindex")
    assert code != 0 and "the disk is full" in one_line_error(err)
    assert _queued(archive_dir) == queued
    monkeypatch.undo()
    assert run(archive_dir, "reindex")[0] == 0
    assert _queued(archive_dir) == 0


def _queued(archive: Path) -> int:
    with sqlite3.connect(archive / "store.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM index_queue").fetchone()[0])
