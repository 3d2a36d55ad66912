"""State shared by every command, and helpers for output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsarchive.archive_dir import MARK_END, MARK_START, ArchiveDir

if TYPE_CHECKING:  # the pipeline loads every parser (trafilatura, lxml): reading commands never need it
    from newsarchive.pipeline import Archive


_CONTROL = dict.fromkeys([*range(0, 9), *range(11, 32), *range(127, 160)], None)
_CONTROL_BUT_MARKS = {k: v for k, v in _CONTROL.items() if chr(k) not in (MARK_START, MARK_END)}


@dataclass
class Context:
    archive_dir: Path | None
    verbose: bool
    quiet: bool

    def archive(self) -> Archive:
        from newsarchive.pipeline import Archive

        return Archive(self.archive_dir)

    def reader(self) -> ArchiveDir:
        """The archive for reading commands: its store and index, without loading the parsers."""
        return ArchiveDir(self.archive_dir)


def safe(text: str | None) -> str:
    """Text from the web with control characters (terminal escapes) removed, for printing."""
    return (text or "").translate(_CONTROL)


def render_marks(text: str, *, color: bool) -> str:
    """Replace snippet match markers with bold colour on a terminal, nothing elsewhere."""
    text = text.translate(_CONTROL_BUT_MARKS)
    if color:
        return text.replace(MARK_START, "\x1b[1;31m").replace(MARK_END, "\x1b[0m")
    return text.replace(MARK_START, "").replace(MARK_END, "")


def use_color() -> bool:
    import os

    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def stream_json_array(items: Iterable[dict[str, Any]]) -> None:
    """Print a JSON array one item at a time (constant memory, like sqlite-utils' output_rows)."""
    first = True
    click.echo("[", nl=False)
    for item in items:
        click.echo(("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False), nl=False)
        first = False
    click.echo("\n]" if not first else "]")


def stream_jsonl(items: Iterable[dict[str, Any]]) -> None:
    for item in items:
        click.echo(json.dumps(item, ensure_ascii=False))


def progress(iterable: Iterable[Any], *, label: str, quiet: bool, length: int | None = None) -> Any:
    """A progress bar only on a terminal (stderr), never under cron or in a pipe."""
    if quiet or not sys.stderr.isatty():
        return _Null(iterable)
    return click.progressbar(iterable, label=label, length=length, file=sys.stderr)


class _Null:
    def __init__(self, iterable: Iterable[Any]) -> None:
        self.iterable = iterable

    def __enter__(self) -> Iterable[Any]:
        return self.iterable

    def __exit__(self, *exc: object) -> None:
        return None
