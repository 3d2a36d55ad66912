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

import fcntl
import gzip
import io
import logging
import os
import re
import secrets
import socket
import zlib
from collections.abc import Callable, Iterator
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
#: ``newsarchive-STAMP-SEQ-HOST-PID-TOKEN.warc.gz``: the host and process that created the file, and a random
#: token drawn by each writer, make its name unique when several workers (on one machine or many) write into
#: one WARC location, even two containers with the same host name and pid. The time stamp comes first, so
#: names still sort by time. Names without -TOKEN (written before the token) and without HOST-PID-TOKEN
#: (one writer per archive) are still read and repaired; without HOST-PID they are never appended to.
#: The token starts with a letter and a pid is digits only, so HOST-PID-TOKEN and the older HOST-PID (whose
#: host may itself end in "-DIGITS-LETTERS") are never read one for the other.
#: 11 to 14 digits: files named before the year was zero-padded (year 1 gave "10101000000") stay readable.
WARC_NAME = re.compile(
    r"^newsarchive-(\d{11,14})-(\d{5})(?:-([a-z0-9][a-z0-9.-]{0,62})-(\d{1,10})(?:-([a-z][a-z0-9]{5}))?)?\.warc\.gz$"
)
#: Characters of a writer's token after its first letter.
_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def writer_token() -> str:
    """A new writer's random token for its WARC file names: a letter and five letters or digits (1.6e9 values)."""
    return secrets.choice(_TOKEN_CHARS[:26]) + "".join(secrets.choice(_TOKEN_CHARS) for _ in range(5))


def host_tag() -> str:
    """This machine's name as it goes into WARC file names: lower-case letters, digits, '.' and '-'."""
    name = re.sub(r"[^a-z0-9.-]+", "-", socket.gethostname().lower()).strip(".-")[:63].strip(".-")
    return name or "host"


def _seq(name: str) -> int:
    match = WARC_NAME.match(name)
    return int(match.group(2)) if match else -1


def writer_of(name: str) -> tuple[str, int, str] | None:
    """(host, pid, token) of the writer that created a WARC file of this archive; None for a file named before
    host and pid went into names. The token is "" for a file named before the token."""
    match = WARC_NAME.match(name)
    if match is None or match.group(3) is None:
        return None
    return match.group(3), int(match.group(4)), match.group(5) or ""


def _try_lock(fh: BinaryIO) -> bool:
    """Take the writer's lock on an open WARC file; False when a live process holds it (it is writing it).

    The lock is an flock the kernel drops when the writer dies, so a file nobody holds is a finished
    file or one a killed process left behind; on a shared mount (NFS) it is a lock the server keeps.
    """
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:  # a file system without locks: no concurrent writer can be told apart
        LOGGER.debug("no flock on %s: %s", getattr(fh, "name", "?"), exc)
    return True


#: Committed sizes by file name, or a function that reads them from the store when called.
Committed = dict[str, int] | Callable[[], dict[str, int]]


def _sizes(committed: Committed) -> dict[str, int]:
    return committed() if callable(committed) else committed


def _open_existing(path: Path) -> BinaryIO:
    """An existing file opened for writing at its end; never created (a file gone meanwhile: FileNotFoundError)."""
    fh = open(path, "r+b")  # noqa: SIM115 - the caller closes it
    fh.seek(0, os.SEEK_END)
    return fh


def settle_file(path: Path, committed: Committed) -> tuple[bool, int]:
    """Cut what a dead writer left past a WARC file's committed size (every complete record when unknown).

    Returns (False, size) when a live process is writing the file (it is left alone), else (True, new
    size). The committed size is read once the lock is held: a writer commits every record before it
    lets its file go, so the size read then is final. Used before a file is uploaded.
    """
    with _open_existing(path) as fh:
        if not _try_lock(fh):
            return False, fh.seek(0, os.SEEK_END)
        return True, _cut_tail(fh, path, _sizes(committed).get(path.name))


def _cut_tail(fh: BinaryIO, path: Path, committed: int | None) -> int:
    size = fh.seek(0, os.SEEK_END)
    keep = committed if committed is not None else complete_size(path)
    if size > keep:
        LOGGER.warning("%s: cutting %d bytes of an unfinished write", path.name, size - keep)
        fh.truncate(keep)
        os.fsync(fh.fileno())
        size = fh.seek(keep)  # truncate() leaves the position where it was: tell() must give the end
    return size


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
    return StatusAndHeaders(f"{raw.status} {_ascii_reason(raw.reason)}".strip(), headers, protocol=raw.http_version)


def _ascii_reason(reason: str | None) -> str:
    """The reason phrase as printable ASCII: warcio writes the status line as ASCII and raised
    UnicodeEncodeError on ``500 \xe2\x80\xae`` (a server's bytes, read as Latin-1): exit 70 for the run.
    Other bytes and controls (an ESC) are percent-encoded, as warcio does for header values."""
    return "".join(ch if " " <= ch <= "~" and ch != "%" else f"%{ord(ch) & 0xFF:02X}" for ch in reason or "")


class WarcWriterPool:
    """Appends captures to this process's current WARC file in ``directory``, rotating by size.

    ``committed`` maps file names to their committed sizes (from the store). Each process writes
    files of its own, named with its host, pid and a random token, and holds an flock on the one it writes: several
    processes (on one machine, or many sharing a mount) can write into one directory. On the first
    append, the last file of every writer of this host that no live process holds is settled (cut
    back to its committed size, see :func:`settle_file`); with ``adopt``, such a file of this host
    that the store knows and that has room is appended to (as one run after another always did),
    else a new file is started. ``on_close`` is called with a file's name once it is closed for good
    (rotation, end of run): object storage uploads it then.
    """

    def __init__(
        self,
        directory: Path,
        committed: Committed,
        *,
        max_bytes: int,
        adopt: bool = True,
        on_close: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.adopt = adopt
        self.on_close = on_close
        #: Read again once the files to settle are locked (another worker may have committed meanwhile).
        self._committed_source = committed
        self._committed = dict(_sizes(committed))
        self._fh: BinaryIO | None = None
        self._name: str | None = None
        self._settled = False
        self._host = host_tag()
        self._token = writer_token()

    def _open(self, now: datetime) -> tuple[BinaryIO, str]:
        if self._fh is not None and self._name is not None:
            if self._fh.tell() < self.max_bytes:
                return self._fh, self._name
            self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        names = sorted(n for n in os.listdir(self.directory) if WARC_NAME.match(n))
        opened: tuple[BinaryIO, str] | None = None
        if not self._settled:
            opened = self._settle(names)
            self._settled = True
        if opened is None:
            opened = self._create(names, now)
        fh, name = opened
        if fh.tell() == 0:
            writer = WARCWriter(fh, gzip=True)
            info = writer.create_warcinfo_record(
                name, {"software": f"newsarchive/{__version__}", "format": "WARC File Format 1.1"}
            )
            writer.write_record(info)
        self._fh, self._name = fh, name
        return fh, name

    def settle(self) -> None:
        """Settle what dead writers of this host left (a worker killed while this one ran): at the end of a run.

        So once every worker of a machine has ended, every file they wrote is whole, without waiting for the
        next run.
        """
        if not self.directory.is_dir():
            return
        names = sorted(n for n in os.listdir(self.directory) if WARC_NAME.match(n))
        adopt, self.adopt = self.adopt, False
        try:
            self._settle(names)
        finally:
            self.adopt = adopt

    def _settle(self, names: list[str]) -> tuple[BinaryIO, str] | None:
        """Settle the last file of each writer of this host (and the last file named before); maybe adopt one.

        Only a writer's last file can hold a torn tail: it wrote its earlier files whole before rotating.
        """
        last: dict[tuple[str, int, str] | None, str] = {}
        for name in names:
            writer = writer_of(name)
            if writer is not None and writer[0] != self._host:
                continue
            # A writer's last file is its highest sequence number, not the last name: a name's time is its
            # first record's, and an import of an older WARC file starts files dated before.
            if writer is None or writer not in last or _seq(name) >= _seq(last[writer]):
                last[writer] = name
        locked: list[tuple[str, BinaryIO]] = []
        try:
            for name in sorted(last.values(), reverse=True):
                try:
                    fh = _open_existing(self.directory / name)
                except FileNotFoundError:
                    continue
                if _try_lock(fh):
                    locked.append((name, fh))
                else:
                    fh.close()  # a live process is writing it
            if locked and callable(self._committed_source):
                self._committed.update(self._committed_source())  # final for every file now locked
            adopted: tuple[BinaryIO, str] | None = None
            while locked:
                name, fh = locked.pop(0)
                path = self.directory / name
                committed = self._committed.get(name)
                size = _cut_tail(fh, path, committed)
                if size == 0 and committed is None:
                    fh.close()
                    path.unlink(missing_ok=True)  # created by a writer killed before its first record
                    continue
                mine = writer_of(name) is not None
                if adopted is None and self.adopt and mine and committed is not None and size < self.max_bytes:
                    adopted = (fh, name)
                    continue
                fh.close()
        finally:
            for _, fh in locked:
                fh.close()
        return adopted

    def _create(self, names: list[str], now: datetime) -> tuple[BinaryIO, str]:
        # Above every sequence number there (not the last name's: a name's date is its first record's).
        seq = max(map(_seq, names), default=0) + 1
        stamp = now.astimezone(UTC)
        while True:
            seq %= 100_000  # five digits; the time stamp orders the names, host, pid and token make them unique
            # The year zero-padded: strftime's %Y gives "1" for year 1 (a clamped WARC-Date), and the
            # name then failed WARC_NAME: the archive refused to read its own file.
            name = (
                f"newsarchive-{stamp.year:04d}{stamp:%m%d%H%M%S}-{seq:05d}-{self._host}-{os.getpid()}-{self._token}"
                ".warc.gz"
            )
            if (self.directory / name).exists():  # host, pid and token make it this writer's own name
                seq += 1
                continue
            fh = open(self.directory / name, "ab")  # noqa: SIM115 - kept open across appends, closed in close()
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # blocks only while another process settles it (size 0)
            except OSError as exc:
                if isinstance(exc, BlockingIOError):
                    raise
                LOGGER.debug("no flock on %s: %s", name, exc)
            # Between open() and flock() another worker's settle may have taken the new, empty file for one
            # a killed writer left and removed it: records written to that open file would go to no file
            # at all. Go on only if the name still leads to the file this process holds.
            try:
                same = os.path.samestat(os.fstat(fh.fileno()), os.stat(self.directory / name))
            except FileNotFoundError:
                same = False
            if not same:
                fh.close()
                seq += 1
                continue
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
            # The cut is made while this process still holds the file's lock (a duplicate of its descriptor
            # keeps the flock once the file object is closed): let go before, another worker settling could
            # adopt the file and append records the cut then removed.
            held = os.dup(self._fh.fileno()) if self._fh is not None else None
            try:
                try:
                    self.close(finished=False)  # its buffer written now, before the cut, if it can be
                except OSError:
                    LOGGER.debug("closing %s after a failed write failed too", start and start[0], exc_info=True)
                if start is not None:
                    self._cut_back(*start)
            finally:
                if held is not None:
                    os.close(held)
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

    def close(self, *, finished: bool = True) -> None:
        """Close the current file (its lock goes with it); ``finished``: hand it to ``on_close``."""
        fh, name = self._fh, self._name
        self._fh = None
        self._name = None
        if fh is not None:
            fh.close()
            if finished and name is not None and self.on_close is not None:
                self.on_close(name)


def complete_size(path: Path, start: int = 0) -> int:
    """Where the last complete gzip member (one record each) of a WARC file ends; ``start`` when none is.

    Inflated output is bounded per call and thrown away, so a member that inflates to
    gigabytes costs time, never memory.
    """
    end = pos = start
    inflater = zlib.decompressobj(31)
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            while chunk := fh.read(1024 * 1024):
                pos += len(chunk)
                while chunk:
                    inflater.decompress(chunk, 1024 * 1024)
                    while inflater.unconsumed_tail and not inflater.eof:
                        inflater.decompress(inflater.unconsumed_tail, 1024 * 1024)
                    if not inflater.eof:
                        break
                    chunk = inflater.unused_data
                    end = pos - len(chunk)
                    inflater = zlib.decompressobj(31)
    except (OSError, zlib.error):
        pass
    return end


#: A record whose payload inflates past this many bytes is refused (``--max-record-size``): a small
#: .warc.gz can hold a record that inflates to gigabytes, and a page is never that big.
MAX_RECORD_BYTES = 64 * 1024 * 1024
_DATE_MIN = datetime.min.replace(tzinfo=UTC)
_DATE_MAX = datetime.max.replace(tzinfo=UTC)


def _warc_fetched_at(value: str) -> tuple[datetime, str | None]:
    """WARC-Date as an aware UTC datetime, and a note when it had to be clamped or was unreadable.

    Dates at the ends of the calendar (year 1 at +14:00, year 9999 at -14:00) do not fit in UTC:
    they are clamped to the first or last representable instant, with a note.
    """
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC), f"unreadable WARC-Date {value[:40]!r}; 1970-01-01 used"
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC), None
    except OverflowError:
        clamped = _DATE_MIN if parsed.year < 5000 else _DATE_MAX
        return clamped, f"WARC-Date {value[:40]!r} is outside the calendar in UTC; clamped to {clamped:%Y-%m-%d}"


class RecordTooLarge(ArchiveError):
    """A record's payload inflates past the size cap."""


def _to_rawpage(
    record: object, url_hint: str | None = None, *, max_bytes: int | None = None
) -> tuple[RawPage, str | None]:
    """The record as a RawPage, and a note when its WARC-Date had to be clamped or was unreadable."""
    rec = record  # warcio ArcWarcRecord
    target = rec.rec_headers.get_header("WARC-Target-URI") or url_hint or ""  # type: ignore[attr-defined]
    http = rec.http_headers  # type: ignore[attr-defined]
    try:
        status = int(http.get_statuscode() or 0) if http else 0
    except ValueError:
        status = 0
    headers = tuple((k, v) for k, v in http.headers) if http else ()
    fetched_at, note = _warc_fetched_at(rec.rec_headers.get_header("WARC-Date") or "")  # type: ignore[attr-defined]
    stream = rec.content_stream()  # type: ignore[attr-defined]
    if max_bytes is None:
        body = stream.read()
    else:
        body = stream.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise RecordTooLarge(
                f"{target}: record payload inflates past {max_bytes:,} bytes; refused"
                " (if it is genuine, raise the cap with --max-record-size)"
            )
    reason = http.statusline.partition(" ")[2] if http else ""
    page = RawPage(
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
    return page, note


def check_name(name: str) -> None:
    """Refuse a name (it comes from the store) that is not one of this archive's WARC file names."""
    if not WARC_NAME.match(name):
        # Never let the store point outside the archive's WARC location.
        raise ArchiveError(f"refused to read {name!r}: not a WARC file name of this archive")


def read_capture(path: Path, offset: int) -> RawPage:
    """Read the response record at ``offset`` of a WARC file."""
    check_name(path.name)
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return _first_response(fh, path.name, offset)
    except FileNotFoundError as exc:
        raise ArchiveError(f"WARC file missing: {path}", hint="restore it from a backup; reparse needs it") from exc


def read_capture_from(stream: BinaryIO, name: str, offset: int) -> RawPage:
    """The response record that ``stream`` starts with (the bytes of ``name`` from ``offset`` on)."""
    check_name(name)
    return _first_response(stream, name, offset)


def _first_response(fh: BinaryIO, name: str, offset: int) -> RawPage:
    try:
        for record in ArchiveIterator(fh):
            if record.rec_type in ("response", "resource"):
                return _to_rawpage(record)[0]
            break
    except FileNotFoundError:
        raise
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        raise ArchiveError(f"{name} at offset {offset}: unreadable record ({exc})") from exc
    raise ArchiveError(f"{name} at offset {offset}: no response record there")


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
    """One record found while reading a WARC file from start to end.

    ``raw`` is set for HTTP response records (and resource records), read with the size
    cap; ``skip`` names what any other record is (``warcinfo``, ``request``, ...);
    ``error`` says why a damaged or oversized record was not read; ``note`` is a warning
    about a record that was read (a clamped WARC-Date).
    """

    offset: int
    length: int
    raw: RawPage | None = None
    skip: str | None = None
    error: str | None = None
    note: str | None = None


def _drain(record: object) -> int:
    """Read what is left of a record's block; return how many bytes its Content-Length still claims."""
    stream = record.raw_stream  # type: ignore[attr-defined]
    while stream.read(256 * 1024):
        pass
    return int(getattr(stream, "limit", 0) or 0)


def _archive_iterator(fh: BinaryIO) -> ArchiveIterator:
    """warcio's iterator, reading a record with no WARC-Target-URI as one with an empty URI.

    warcio calls ``uri.startswith`` on the header's value: a response record without the header
    (a hostile or broken WARC) raised AttributeError and ended the whole import (exit 70). With an
    empty URI the record has no HTTP headers and is skipped like any non-HTTP record.
    """
    it = ArchiveIterator(fh)
    load = it.loader.load_http_headers

    def load_http_headers(rec_type: str, uri: str | None, stream: object, length: int | None) -> object:
        return load(rec_type, uri or "", stream, length)

    it.loader.load_http_headers = load_http_headers
    return it


def iter_records(path: Path, *, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[WarcEntry]:
    """Every record of any WARC file (gzipped or not), with its position, streamed.

    A record cut short (its Content-Length claims more bytes than the file holds), a
    damaged gzip member or unreadable bytes end the file with one ``error`` entry: the
    records before it were yielded and nothing after it is trusted. A payload that
    inflates past ``max_record_bytes`` gives an ``error`` entry and reading goes on.
    Raises ArchiveError only when the file is not WARC at all (or missing).
    """
    if not _starts_like_warc(path):
        raise ArchiveError(f"{path}: not a readable WARC file (no WARC/1.x header at the start)")
    last = 0
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally (the generator may be left early)
    except FileNotFoundError as exc:
        raise ArchiveError(f"no such file: {path}") from exc
    try:
        it = _archive_iterator(fh)
        for record in it:
            offset = it.offset  # where this record starts (warcio moves it once the record is read)
            rec_type = record.rec_type
            raw: RawPage | None = None
            skip = error = note = None
            if rec_type in ("response", "resource") and record.http_headers is not None:
                try:
                    raw, date_note = _to_rawpage(record, max_bytes=max_record_bytes)
                except RecordTooLarge as exc:
                    error = f"{path.name} at offset {offset}: {exc.message}"
                else:
                    note = f"{raw.url}: {date_note}" if date_note else None
            elif rec_type == "resource":
                skip = f"resource record ({record.content_type or 'no type'})"
            else:
                skip = f"{rec_type} record"
            missing = _drain(record)
            if missing > 0:
                held = (record.length or 0) - missing
                yield WarcEntry(
                    offset, 0,
                    error=f"{path}: not a readable WARC file past offset {offset}: the record there is cut short "
                    f"(its Content-Length says {record.length} bytes, the file holds {held})",
                )  # fmt: skip
                return
            last = it.get_record_offset()  # (reads the record to its end)
            yield WarcEntry(last, it.get_record_length() or 0, raw=raw, skip=skip, error=error, note=note)
            last += it.get_record_length() or 0
    except (ArchiveLoadFailed, OSError, EOFError, ValueError, OverflowError, zlib.error) as exc:
        # OverflowError: a Content-Length of 20 digits (warcio passes it to readline as a C size).
        yield WarcEntry(last, 0, error=f"{path}: not a readable WARC file past offset {last} ({exc})")
        return
    finally:
        fh.close()
    # warcio ends quietly at a torn gzip member: the records before it were read, say what was not.
    if _is_gzip(path):
        end = complete_size(path, last)
        if end < path.stat().st_size:
            yield WarcEntry(
                end, 0, error=f"{path}: not a readable WARC file past offset {end} (a truncated or damaged record)"
            )


def iter_responses(path: Path, *, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[WarcEntry]:
    """The HTTP response (and resource) records of a WARC file; ArchiveError at the first damaged one."""
    for entry in iter_records(path, max_record_bytes=max_record_bytes):
        if entry.error:
            raise ArchiveError(
                entry.error, hint="the records before it were read; check the file with: warcio check FILE"
            )
        if entry.raw is not None:
            yield entry
