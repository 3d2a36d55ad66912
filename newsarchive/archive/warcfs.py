"""Where an archive's WARC files live: a directory, or object storage (``s3://bucket/prefix``) through fsspec.

The location is chosen by ``--warc DIR-or-URL``, else ``$NEWSARCHIVE_WARC``, else ``warc = "..."`` in the
``[settings]`` of the archive's sources.toml, else it is ``warc/`` in the archive directory (as it always was).

* A directory (``warc/``, or a shared mount every worker sees): files are written there directly, each
  process in files of its own (see archive/warc.py: names carry host, pid and a random
  token, the writer holds an flock).
* Object storage: a process writes its files into ``warc-spool/`` in the archive directory (records
  fsynced there before the store points at them, as in a directory), and uploads each file when it is
  closed (rotation, end of the run), then deletes the spooled copy. A record is read back with one
  byte-range request. A file a killed process left in the spool (not uploaded) stays there, readable
  from this machine, until the next writing run on this machine settles it (cuts any torn tail back to
  the committed size) and uploads it, at its end.

The store keeps each capture's file *name* and offset, never a path: the location maps a name to where
the file is. A name not found there is looked for in the archive's own ``warc/`` (files written before
the location was changed).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from newsarchive.archive.rawpage import RawPage
from newsarchive.archive.warc import WARC_NAME, Committed, check_name, read_capture, read_capture_from, settle_file
from newsarchive.errors import ArchiveError, UsageError

LOGGER = logging.getLogger(__name__)

ENV_WARC = "NEWSARCHIVE_WARC"
#: Local directory (in the archive directory) where files bound for object storage are written first.
SPOOL_DIR = "warc-spool"
#: URL schemes of object storage that newsarchive writes WARC files to.
SCHEMES = ("s3",)
#: How much of a file's start is compared with an object of its name before an upload.
_SAME_FILE_BYTES = 65536
_INSTALL_HINT = "install the s3 extra: pip install 'newsarchive[s3]' (fsspec and s3fs)"


def parse_location(value: str, *, base: Path, what: str) -> str:
    """A WARC location as given (``--warc``, the environment or the config) -> ``s3://...`` or an absolute path.

    A relative directory is taken from ``base`` (the working directory for --warc and the environment,
    the archive directory for the config). Anything else is a UsageError naming ``what``.
    """
    text = value.strip()
    if not text:
        raise UsageError(f"{what}: empty WARC location", hint="give a directory or s3://bucket/prefix")
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() not in SCHEMES:
            raise UsageError(
                f"{what}: {parts.scheme}:// is not a WARC location newsarchive can write",
                hint="use a directory (a shared mount) or s3://bucket/prefix (S3 or an S3-compatible server)",
            )
        if not parts.netloc or parts.query or parts.fragment or "@" in parts.netloc:
            raise UsageError(f"{what}: {text!r} is not a bucket URL", hint="e.g. s3://news-warc/archive")
        prefix = "/".join(p for p in parts.path.split("/") if p)
        if any(p in (".", "..") for p in prefix.split("/")):
            raise UsageError(f"{what}: {text!r}: '.' and '..' have no place in a bucket prefix")
        return f"s3://{parts.netloc}" + (f"/{prefix}" if prefix else "")
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else (base / path).absolute())


class WarcFiles(Protocol):
    """One WARC location: where the writer appends, how a record is read back, what happens to a closed file."""

    #: The local directory the writer appends to (the location itself, or the spool).
    write_dir: Path
    #: Where the location is, for messages.
    label: str

    def prepare(self) -> None: ...

    def names(self) -> list[str]: ...

    def read(self, name: str, offset: int, length: int) -> RawPage: ...

    def finish(self, name: str) -> None: ...

    def flush(self, committed: Committed) -> int: ...

    def local_dirs(self) -> list[Path]: ...

    def fetched(self, name: str) -> contextlib.AbstractContextManager[Path]: ...

    def size(self) -> int: ...


def _legacy_read(legacy: Path, name: str) -> Path | None:
    path = legacy / name
    return path if path.is_file() else None


class WarcDir:
    """WARC files in a directory: the archive's ``warc/``, or another one (a mount shared by several machines)."""

    remote = False

    def __init__(self, path: Path, *, legacy: Path) -> None:
        self.write_dir = path
        self.legacy = legacy
        self.label = str(path)

    def prepare(self) -> None:
        """The archive's own warc/ is created on first use; another directory must be there (a mount)."""
        if self.write_dir == self.legacy:
            self.write_dir.mkdir(parents=True, exist_ok=True)
        elif not self.write_dir.is_dir():
            raise UsageError(
                f"the WARC location {self.write_dir} is not a directory",
                hint="mount or create it, or change --warc / $NEWSARCHIVE_WARC / [settings] warc in sources.toml",
            )

    def names(self) -> list[str]:
        if not self.write_dir.is_dir():
            return []
        return sorted(n for n in os.listdir(self.write_dir) if WARC_NAME.match(n))

    def read(self, name: str, offset: int, length: int) -> RawPage:
        check_name(name)
        path = self.write_dir / name
        if not path.exists():
            path = _legacy_read(self.legacy, name) or path
        return read_capture(path, offset)

    def finish(self, name: str) -> None:
        """A closed file stays where it was written."""

    def flush(self, committed: Committed) -> int:
        return 0

    def local_dirs(self) -> list[Path]:
        return list(dict.fromkeys([self.write_dir, self.legacy]))

    @contextlib.contextmanager
    def fetched(self, name: str) -> Iterator[Path]:
        yield self.write_dir / name

    def size(self) -> int:
        return sum(_file_size(self.write_dir / n) for n in self.names())


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _storage_error(exc: BaseException, url: str, *, doing: str, bucket_call: bool = False) -> UsageError | ArchiveError:
    """A failure of object storage as an expected error: what went wrong and what to do (exit 2 for set-up)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "the AWS default"
    bucket = urlsplit(url).netloc
    if names & {"EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError", "ConnectionError",
                "ServerDisconnectedError", "ConnectionRefusedError"}:  # fmt: skip
        return UsageError(
            f"cannot reach the object storage for {url} ({endpoint}) while {doing}: {exc}",
            hint="check the endpoint (AWS_ENDPOINT_URL) and the network; spooled files are uploaded by a later run",
        )
    if names & {"NoCredentialsError", "PartialCredentialsError"}:
        return UsageError(
            f"no credentials for {url}",
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (~/.aws/credentials)",
        )
    text = str(exc)
    if isinstance(exc, FileNotFoundError) and (bucket_call or "bucket" in text.lower()):
        return UsageError(
            f"the bucket {bucket!r} of {url} does not exist",
            hint=f"create it (aws s3 mb s3://{bucket}), or fix --warc, $NEWSARCHIVE_WARC or warc in sources.toml",
        )
    if isinstance(exc, PermissionError):
        return UsageError(f"access to {url} denied while {doing}: {text}", hint="check the credentials' rights")
    return ArchiveError(f"object storage error for {url} while {doing}: {type(exc).__name__}: {text}")


class _NameTaken(ArchiveError):
    """The bucket holds another file of a spooled file's name: that file is kept, the others go on."""


class WarcBucket:
    """WARC files in object storage (``s3://bucket/prefix``): written to a local spool, uploaded when closed."""

    remote = True

    def __init__(self, url: str, *, spool: Path, legacy: Path) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.write_dir = spool
        self.legacy = legacy
        self.label = self.url
        self._fs: Any = None
        self._checked = False

    # --- the connection -----------------------------------------------------------------------

    @property
    def fs(self) -> Any:
        if self._fs is None:
            try:
                import fsspec
                import s3fs  # noqa: F401 - fsspec's "s3" protocol: imported here so that its absence is named
            except ImportError as exc:
                raise UsageError(f"the WARC location {self.url} needs s3fs, which is not installed",
                                 hint=_INSTALL_HINT) from exc  # fmt: skip
            fs = fsspec.filesystem(
                "s3",
                skip_instance_cache=True,
                config_kwargs={
                    "connect_timeout": 10,
                    "read_timeout": 60,
                    "retries": {"max_attempts": 2, "mode": "standard"},
                },
            )
            fs.retries = 2  # s3fs's own retry loop around botocore's
            self._fs = fs
        return self._fs

    def _key(self, name: str) -> str:
        return f"{self.bucket}/{self.prefix}/{name}" if self.prefix else f"{self.bucket}/{name}"

    def prepare(self) -> None:
        """Fail early, with a hint, when s3fs is missing, the endpoint is unreachable or the bucket missing."""
        if self._checked:
            return
        try:
            self.fs.call_s3("head_bucket", Bucket=self.bucket)
        except UsageError:
            raise
        except Exception as exc:
            raise _storage_error(exc, self.url, doing="opening the bucket", bucket_call=True) from exc
        self._checked = True

    # --- reading ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The WARC files uploaded to the location, oldest first."""
        self.prepare()
        path = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        try:
            listed = self.fs.ls(path, detail=False, refresh=True)
        except FileNotFoundError as exc:
            if "bucket" in str(exc).lower():
                raise _storage_error(exc, self.url, doing="listing it") from exc
            return []  # nothing uploaded yet
        except Exception as exc:
            raise _storage_error(exc, self.url, doing="listing it") from exc
        return sorted(n for n in (p.rsplit("/", 1)[-1] for p in listed) if WARC_NAME.match(n))

    def read(self, name: str, offset: int, length: int) -> RawPage:
        """One record with one byte-range request (a file still in this machine's spool is read there)."""
        check_name(name)
        spooled = self.write_dir / name
        if spooled.is_file():
            return read_capture(spooled, offset)
        try:
            if length > 0:
                data = self.fs.cat_file(self._key(name), start=offset, end=offset + length)
                return read_capture_from(io.BytesIO(data), name, offset)
            with self.fs.open(self._key(name), "rb") as fh:
                fh.seek(offset)
                return read_capture_from(fh, name, offset)
        except FileNotFoundError as exc:
            if "bucket" in str(exc).lower():
                raise _storage_error(exc, self.url, doing=f"reading {name}") from exc
            local = _legacy_read(self.legacy, name)
            if local is not None:
                return read_capture(local, offset)
            raise ArchiveError(
                f"WARC file missing: {self.url}/{name}",
                hint="a file written on another machine is uploaded when its worker closes it (rotation or end of "
                "its run; a killed worker's file by the next run there); else restore it from a backup",
            ) from exc
        except (UsageError, ArchiveError):
            raise
        except Exception as exc:
            raise _storage_error(exc, self.url, doing=f"reading {name}") from exc

    @contextlib.contextmanager
    def fetched(self, name: str) -> Iterator[Path]:
        """A local copy of a whole uploaded file (for a rebuild), removed afterwards."""
        check_name(name)
        spooled = self.write_dir / name
        if spooled.is_file():
            yield spooled
            return
        # In the archive directory: a file is up to 1 GiB, more than /tmp may hold.
        self.legacy.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".download-", dir=self.legacy.parent) as tmp:
            local = Path(tmp) / name
            try:
                self.fs.get_file(self._key(name), str(local))
            except Exception as exc:
                raise _storage_error(exc, self.url, doing=f"downloading {name}") from exc
            yield local

    def size(self) -> int:
        path = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        try:
            return int(self.fs.du(path, total=True)) + sum(_file_size(p) for p in self._spooled())
        except Exception:  # stats must not fail on a storage hiccup
            return sum(_file_size(p) for p in self._spooled())

    def local_dirs(self) -> list[Path]:
        return [self.legacy]

    # --- writing ------------------------------------------------------------------------------

    def _spooled(self) -> list[Path]:
        if not self.write_dir.is_dir():
            return []
        return sorted(p for p in self.write_dir.iterdir() if WARC_NAME.match(p.name))

    def _already_there(self, path: Path, key: str, size: int) -> bool:
        """True when the bucket holds this very file; an object of that name that is another file is never
        overwritten (ArchiveError): two writers whose machines share a host name and pid (containers) named
        their files alike, and replacing the object would lose the records the store points at in it."""
        self.fs.invalidate_cache(key)
        try:
            remote_size = int(self.fs.info(key)["size"])
        except FileNotFoundError:
            return False
        # The first records tell the file (the warcinfo record's WARC-Record-ID is unique to its writer).
        with open(path, "rb") as fh:
            head = fh.read(min(_SAME_FILE_BYTES, remote_size))
        if head and self.fs.cat_file(key, start=0, end=len(head)) == head:
            # This file: uploaded whole before (the spooled copy may have lost an uncommitted tail since,
            # cut by a settle), or less of it (then uploaded again).
            return remote_size >= size
        raise _NameTaken(
            f"{path.name}: another file of that name is already in {self.url} (written by a machine with the"
            " same host name and process id?); not replaced, kept in the spool"
        )

    def _upload(self, path: Path) -> None:
        key = self._key(path.name)
        local_size = path.stat().st_size  # FileNotFoundError: another process of this machine uploaded it
        try:
            if self._already_there(path, key, local_size):
                path.unlink(missing_ok=True)  # uploaded before, its spooled copy not yet removed (a kill)
                return
            self.fs.put_file(str(path), key)
            self.fs.invalidate_cache(key)
            remote_size = int(self.fs.info(key)["size"])
        except ArchiveError:
            raise
        except Exception as exc:
            raise _storage_error(exc, self.url, doing=f"uploading {path.name}") from exc
        if remote_size != local_size:
            raise ArchiveError(f"{path.name}: uploaded {remote_size} bytes of {local_size}; kept in the spool")
        path.unlink(missing_ok=True)  # only once the object holds every byte

    def finish(self, name: str) -> None:
        """Upload a file the writer closed; on failure it stays in the spool for the next run (a warning)."""
        path = self.write_dir / name
        try:
            self._upload(path)
        except FileNotFoundError:
            return  # uploaded by another process of this machine (its end-of-run flush)
        except (UsageError, ArchiveError) as exc:
            LOGGER.warning("%s: not uploaded (%s); kept in %s for the next run", name, exc.message, self.write_dir)

    def flush(self, committed: Committed) -> int:
        """Upload every spooled file no live process is writing (a killed run's too, its torn tail cut first).

        Returns how many were uploaded; stops at the first failure (a warning: the files wait for the next run).
        """
        uploaded = 0
        for path in self._spooled():
            try:
                free, size = settle_file(path, committed)
                if not free:
                    continue  # another process on this machine is writing it
                if size == 0:
                    path.unlink(missing_ok=True)  # created by a writer killed before its first record
                    continue
                self._upload(path)
            except _NameTaken as exc:
                LOGGER.warning("%s", exc.message)
                continue  # this file only: the others are uploaded
            except (UsageError, ArchiveError) as exc:
                LOGGER.warning("%s: not uploaded (%s); kept in %s for the next run", path.name, exc.message,
                               self.write_dir)  # fmt: skip
                break
            except FileNotFoundError:
                continue  # uploaded meanwhile by another process of this machine
            uploaded += 1
        return uploaded


def open_location(spec: str | None, root: Path) -> WarcDir | WarcBucket:
    """The WARC location of the archive at ``root``: ``spec`` (already checked), else its warc/ directory."""
    legacy = root / "warc"
    if spec is None:
        return WarcDir(legacy, legacy=legacy)
    if spec.startswith("s3://"):
        return WarcBucket(spec, spool=root / SPOOL_DIR, legacy=legacy)
    path = Path(spec)
    return WarcDir(path, legacy=legacy)


def location_setting(cli_value: str | None, root: Path) -> str | None:
    """--warc (or $NEWSARCHIVE_WARC, which click gives as --warc), else the archive's config; None: warc/."""
    if cli_value:
        return parse_location(cli_value, base=Path.cwd(), what="--warc")
    env = os.environ.get(ENV_WARC)
    if env:
        return parse_location(env, base=Path.cwd(), what=ENV_WARC)
    from newsarchive.sources import configured_warc

    value = configured_warc(root)
    return parse_location(value, base=root, what=f"{root / 'sources.toml'}: [settings] warc") if value else None
