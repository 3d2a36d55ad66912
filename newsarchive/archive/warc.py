"""WARC files (ISO 28500) via warcio: request + response records, rotation, torn-tail recovery.

Each record is its own gzip member, so any record can be read from its offset alone.
Records are appended whole and fsynced before the caller records where they are; a
file's *committed size* (kept in the store) marks the end of the last complete pair,
and anything past it (a torn write from a killed run) is cut when the file is next
opened for writing.

The HTTP payload stored is the page's entity body as the server meant it (content- and
transfer-encodings removed). The headers that described those encodings are kept as
``X-Archive-Orig-*`` headers, the convention of pywb and the Wayback Machine, so the
record stays valid for standard WARC tools (``warcio check``, replay systems).
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsarchive import __version__
from newsarchive.archive.rawpage import RawPage
from newsarchive.errors import ArchiveError
from newsarchive.faultpoint import faultpoint

LOGGER = logging.getLogger(__name__)

_REWRITTEN_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_WARC_NAME = re.compile(r"^newsarchive-(\d{14})-(\d{5})\.warc\.gz$")


@dataclass(frozen=True)
class WarcLocation:
    """Where a response record was written, and the file's size after the whole pair."""

    warc: str
    offset: int
    length: int
    end: int


def _warc_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _http_headers(raw: RawPage) -> StatusAndHeaders:
    headers: list[tuple[str, str]] = []
    for key, value in raw.headers:
        if key.lower() in _REWRITTEN_HEADERS:
            if key.lower() != "content-length":
                headers.append((f"X-Archive-Orig-{key}", value))
            continue
        headers.append((key, value))
    headers.append(("Content-Length", str(len(raw.body))))
    return StatusAndHeaders(f"{raw.status} {raw.reason or ''}".strip(), headers, protocol=raw.http_version)


class WarcWriterPool:
    """Appends captures to the current WARC file in ``directory``, rotating by size.

    ``committed`` maps file names to their committed sizes (from the store); the
    current file is truncated back to its committed size before anything is appended.
    """

    def __init__(self, directory: Path, committed: dict[str, int], *, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._committed = dict(committed)
        self._fh: BinaryIO | None = None
        self._name: str | None = None

    def _open(self, now: datetime) -> tuple[BinaryIO, str]:
        if self._fh is not None and self._name is not None:
            if self._fh.tell() < self.max_bytes:
                return self._fh, self._name
            self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        names = sorted(n for n in os.listdir(self.directory) if _WARC_NAME.match(n))
        name = names[-1] if names else None
        if name is not None:
            size = (self.directory / name).stat().st_size
            committed = self._committed.get(name)
            known = committed is not None
            if committed is None:
                # Not known to the store (a lost store being rebuilt from these very files):
                # keep every complete record, and write to a new file rather than this one.
                committed = _complete_size(self.directory / name)
            if size > committed:
                LOGGER.warning("%s: cutting %d bytes of an unfinished write", name, size - committed)
                with open(self.directory / name, "r+b") as fh:
                    fh.truncate(committed)
                    os.fsync(fh.fileno())
                size = committed
            if size >= self.max_bytes or (not known and size > 0):
                name = None
        if name is None:
            seq = int(_WARC_NAME.match(names[-1]).group(2)) + 1 if names else 1  # type: ignore[union-attr]
            name = f"newsarchive-{now.astimezone(UTC):%Y%m%d%H%M%S}-{seq:05d}.warc.gz"
        fh = open(self.directory / name, "ab")  # noqa: SIM115 - kept open across appends, closed in close()
        fh.seek(0, os.SEEK_END)
        if fh.tell() == 0:
            writer = WARCWriter(fh, gzip=True)
            info = writer.create_warcinfo_record(
                name, {"software": f"newsarchive/{__version__}", "format": "WARC File Format 1.1"}
            )
            writer.write_record(info)
        self._fh, self._name = fh, name
        return fh, name

    def append(self, raw: RawPage) -> WarcLocation:
        """Write response + request records for ``raw``; durable on return.

        On a write error (full disk, read-only file system) the file is cut back to
        where it was, so no partial record is left behind, and ArchiveError is raised.
        """
        start: tuple[str, int] | None = None
        try:
            fh, name = self._open(raw.fetched_at)
            start = (name, self._committed.get(name, 0))
            writer = WARCWriter(fh, gzip=True)
            date = _warc_date(raw.fetched_at)
            warc_headers = {"WARC-Date": date}
            if raw.truncated:
                warc_headers["WARC-Truncated"] = "length"  # ISO 28500 6.3.16: cut at the size limit
            response = writer.create_warc_record(
                raw.final_url,
                "response",
                payload=io.BytesIO(raw.body),
                length=len(raw.body),
                http_headers=_http_headers(raw),
                warc_headers_dict=warc_headers,
            )
            offset = fh.tell()
            writer.write_record(response)
            faultpoint("mid-warc-record")
            length = fh.tell() - offset
            if raw.request_headers:
                path = raw.final_url.split("/", 3)[3] if raw.final_url.count("/") >= 3 else ""
                req_headers = StatusAndHeaders(f"GET /{path} HTTP/1.1", list(raw.request_headers), is_http_request=True)
                request = writer.create_warc_record(
                    raw.final_url,
                    "request",
                    http_headers=req_headers,
                    warc_headers_dict={
                        "WARC-Date": date,
                        "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
                    },
                )
                writer.write_record(request)
            fh.flush()
            os.fsync(fh.fileno())
            end = fh.tell()
            faultpoint("after-warc-fsync")
            self._committed[name] = end
        except OSError as exc:
            self.close()
            if start is not None:
                self._cut_back(*start)
            raise ArchiveError(
                f"cannot write WARC file in {self.directory}: {exc.strerror or exc}",
                hint="free some disk space or fix the archive's permissions; nothing was half-written",
            ) from exc
        return WarcLocation(name, offset, length, end)

    def _cut_back(self, name: str, size: int) -> None:
        """Remove what a failed append left past ``size`` (a new, empty file is removed)."""
        path = self.directory / name
        try:
            if size == 0:
                path.unlink(missing_ok=True)
                return
            with open(path, "r+b") as fh:
                fh.truncate(size)
        except OSError as exc:  # the next open cuts it anyway (committed size)
            LOGGER.warning("%s: could not cut a failed write back: %s", name, exc.strerror or exc)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = None
        self._name = None


def _complete_size(path: Path, start: int = 0) -> int:
    """Where the last complete gzip member (one record each) of a WARC file ends; ``start`` when none is."""
    end = pos = start
    inflater = zlib.decompressobj(31)
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            while chunk := fh.read(1024 * 1024):
                pos += len(chunk)
                while chunk:
                    inflater.decompress(chunk)
                    if not inflater.eof:
                        break
                    chunk = inflater.unused_data
                    end = pos - len(chunk)
                    inflater = zlib.decompressobj(31)
    except (OSError, zlib.error):
        pass
    return end


def _to_rawpage(record: object, url_hint: str | None = None) -> RawPage:
    rec = record  # warcio ArcWarcRecord
    target = rec.rec_headers.get_header("WARC-Target-URI") or url_hint or ""  # type: ignore[attr-defined]
    http = rec.http_headers  # type: ignore[attr-defined]
    status = int(http.get_statuscode() or 0) if http else 0
    headers = tuple((k, v) for k, v in http.headers) if http else ()
    date = rec.rec_headers.get_header("WARC-Date") or ""  # type: ignore[attr-defined]
    try:
        fetched_at = datetime.fromisoformat(date.replace("Z", "+00:00"))
        if fetched_at.tzinfo is None:
            fetched_at = fetched_at.replace(tzinfo=UTC)
    except ValueError:
        fetched_at = datetime(1970, 1, 1, tzinfo=UTC)
    body = rec.content_stream().read()  # type: ignore[attr-defined]
    reason = http.statusline.partition(" ")[2] if http else ""
    return RawPage(
        url=target,
        final_url=target,
        status=status,
        headers=headers,
        body=body,
        fetched_at=fetched_at,
        http_version=(http.protocol if http and http.protocol else "HTTP/1.1"),
        reason=reason,
        truncated=bool(rec.rec_headers.get_header("WARC-Truncated")),  # type: ignore[attr-defined]
    )


def read_capture(path: Path, offset: int) -> RawPage:
    """Read the response record at ``offset`` of a WARC file."""
    if not _WARC_NAME.match(path.name):
        # The name comes from the store: never let it point outside the archive's WARC folder.
        raise ArchiveError(f"refused to read {path.name!r}: not a WARC file name of this archive")
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            for record in ArchiveIterator(fh):
                if record.rec_type in ("response", "resource"):
                    return _to_rawpage(record)
                break
    except FileNotFoundError as exc:
        raise ArchiveError(f"WARC file missing: {path}", hint="restore it from a backup; reparse needs it") from exc
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"{path.name} at offset {offset}: unreadable record ({exc})") from exc
    raise ArchiveError(f"{path.name} at offset {offset}: no response record there")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _starts_like_warc(path: Path) -> bool:
    """True when the file (plain or gzip) begins with a WARC version line."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=fh) as gz:
                    return gz.read(5) == b"WARC/"
            return fh.read(5) == b"WARC/"
    except FileNotFoundError:
        return True  # reported by the reader with its own message
    except (OSError, EOFError):
        return False


@dataclass(frozen=True)
class WarcEntry:
    """A response found while reading a WARC file from start to end."""

    raw: RawPage
    offset: int
    length: int


def iter_responses(path: Path) -> Iterator[WarcEntry]:
    """Every HTTP response (and resource) record of any WARC file, with its position.

    Raises ArchiveError when the file cannot be read as WARC; entries read before a
    damaged record are still yielded.
    """
    if not _starts_like_warc(path):
        raise ArchiveError(f"{path}: not a readable WARC file (no WARC/1.x header at the start)")
    last = 0
    try:
        with open(path, "rb") as fh:
            it = ArchiveIterator(fh)
            for record in it:
                if record.rec_type not in ("response", "resource") or (
                    record.rec_type == "response" and not record.http_headers
                ):
                    last = it.get_record_offset()  # (reads the record to its end)
                    continue
                raw = _to_rawpage(record)
                offset = last = it.get_record_offset()
                yield WarcEntry(raw, offset, it.get_record_length() or 0)
    except FileNotFoundError as exc:
        raise ArchiveError(f"no such file: {path}") from exc
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"{path}: not a readable WARC file ({exc})", hint="check it with: warcio check FILE") from (
            exc
        )
    # warcio ends quietly at a torn gzip member: the records before it were read, say what was not.
    if _is_gzip(path):
        end = _complete_size(path, last)
        if end < path.stat().st_size:
            raise ArchiveError(
                f"{path}: not a readable WARC file past offset {end} (a truncated or damaged record)",
                hint="the records before it were read; check the file with: warcio check FILE",
            )
