"""State shared by every command, and helpers for output.

Every value the CLI prints goes through one of two functions: :func:`safe` for text and
:func:`to_json` for JSON (both neutralise terminal controls and bidi overrides a page may
carry). Logging is configured in one place, :func:`configure_logging`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsarchive.archive_dir import MARK_END, MARK_START, ArchiveDir
from newsarchive.article import BIDI_CONTROLS
from newsarchive.errors import UsageError

if TYPE_CHECKING:  # the pipeline loads every parser (trafilatura, lxml): reading commands never need it
    from newsarchive.pipeline import Archive

#: Removed from every printed text: C0 controls but tab and newline, DEL, C1 controls, bidi overrides.
_CONTROL = dict.fromkeys([*range(0, 9), *range(11, 32), *range(127, 160), *map(ord, BIDI_CONTROLS)], None)
_CONTROL_BUT_MARKS = {k: v for k, v in _CONTROL.items() if chr(k) not in (MARK_START, MARK_END)}
_ONE_LINE = {**_CONTROL, ord("\n"): " ", ord("\t"): " ", 0x2028: " ", 0x2029: " "}

#: Loggers whose lines reach the terminal without -v; other libraries' (trafilatura, htmldate,
#: readability, urllib3, ...) only with -v.
OWN_LOGGER = "newsarchive"

#: Set (to anything but "" or "0") to treat the archive as read-only, as on a read-only mount.
ENV_READONLY = "NEWSARCHIVE_READONLY"


@dataclass
class Context:
    archive_dir: Path | None
    verbose: bool
    quiet: bool
    wait: float = 0.0
    #: --store / $NEWSARCHIVE_STORE (None: the archive's config says, else its store.sqlite).
    store: str | None = None
    #: --warc: where WARC files go (a directory or s3://bucket/prefix); None: $NEWSARCHIVE_WARC, the config, warc/.
    warc: str | None = None

    def archive(self, *, writing: bool = True) -> Archive:
        """The archive with its writing side; ``writing``: refuse (exit 2) a read-only archive."""
        from newsarchive.pipeline import Archive

        if writing:
            check_writable(ArchiveDir(self.archive_dir).root)
            return Archive(self.archive_dir, store=self.store, warc=self.warc)
        archive = Archive(self.archive_dir, store=self.store, warc=self.warc)
        archive.read_only = True
        return archive

    def reader(self) -> ArchiveDir:
        """The archive for reading commands: store opened read-only, no parser loaded, nothing written."""
        return ArchiveDir(self.archive_dir, read_only=True, store=self.store, warc=self.warc)


def archive_is_read_only(root: Path) -> bool:
    """Whether the archive cannot be written (read-only mount or permissions, or $NEWSARCHIVE_READONLY)."""
    if os.environ.get(ENV_READONLY, "") not in ("", "0"):
        return True
    for path in (root, root / "store.sqlite", root / "warc", root / "index"):
        if path.exists() and not os.access(path, os.W_OK):
            return True
    return False


def check_writable(root: Path) -> None:
    root = root.expanduser()
    existing = root
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if archive_is_read_only(root) or (existing != root and not os.access(existing, os.W_OK)):
        raise UsageError(
            f"the archive {root} is read-only",
            hint="search, show, export and stats still work on it; copy it somewhere writable to change it",
        )


def configure_logging(*, verbose: bool, quiet: bool) -> None:
    """One stderr handler: newsarchive's warnings (errors under -q); everything, libraries too, with -v."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    root = logging.getLogger()
    handler = next(
        (h for h in root.handlers if isinstance(h, logging.StreamHandler) and getattr(h, "_newsarchive", False)), None
    )
    if handler is None:
        handler = logging.StreamHandler()
        handler._newsarchive = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_OwnOrVerbose())
        root.addHandler(handler)
    handler.stream = sys.stderr  # follows a swapped stderr (tests, CliRunner)
    # A file handler added later (ingest.log) may lower a logger's level: the terminal keeps its own.
    handler.setLevel(level)
    _OwnOrVerbose.verbose = verbose
    root.setLevel(level)


class _OwnOrVerbose(logging.Filter):
    verbose = False

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        return self.verbose or name == OWN_LOGGER or name.startswith(OWN_LOGGER + ".")


def safe(text: str | None, *, one_line: bool = False) -> str:
    """Text from the web made harmless to print: no terminal controls, no bidi overrides.

    ``one_line``: newlines and tabs become spaces too (a headline must not forge a line of output).
    """
    return (text or "").translate(_ONE_LINE if one_line else _CONTROL)


def render_marks(text: str, *, color: bool) -> str:
    """Replace snippet match markers with bold colour on a terminal, nothing elsewhere."""
    text = text.translate(_CONTROL_BUT_MARKS)
    if color:
        return text.replace(MARK_START, "\x1b[1;31m").replace(MARK_END, "\x1b[0m")
    return text.replace(MARK_START, "").replace(MARK_END, "")


def to_json(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """``newsarchive.export.to_json``, imported on first use (csv, tempfile and shutil come with it)."""
    from newsarchive.export import to_json as export_to_json

    return export_to_json(value, indent=indent, sort_keys=sort_keys)


def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def stream_json_array(items: Iterable[dict[str, Any]]) -> None:
    """Print a JSON array one item at a time (constant memory, like sqlite-utils' output_rows)."""
    first = True
    click.echo("[", nl=False)
    for item in items:
        click.echo(("\n" if first else ",\n") + to_json(item), nl=False)
        first = False
    click.echo("\n]" if not first else "]")


def stream_jsonl(items: Iterable[dict[str, Any]]) -> None:
    for item in items:
        click.echo(to_json(item))


def progress(iterable: Iterable[Any], *, label: str, quiet: bool, length: int | None = None) -> Any:
    """Counts, rate and estimate on a terminal (stderr) while iterating; nothing under cron or in a pipe."""
    from collections.abc import Sized

    from newsarchive.cli._progress import Progress

    if length is None and isinstance(iterable, Sized):
        length = len(iterable)
    return Progress(label, total=length, quiet=quiet).wrap(iterable)


__all__ = [
    "Context",
    "check_writable",
    "configure_logging",
    "progress",
    "render_marks",
    "safe",
    "stream_json_array",
    "stream_jsonl",
    "to_json",
    "use_color",
]
