"""State shared by every command, and helpers for output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsarchive.config import default_archive_dir

if TYPE_CHECKING:  # the pipeline loads every parser (trafilatura, lxml): reading commands never need it
    from newsarchive.pipeline import Archive
    from newsarchive.store.articles import ArticleStore

#: Internal markers around matched terms in snippets (the same as newsarchive.search's, without importing Whoosh).
MARK_START = "\x02"
MARK_END = "\x03"

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

    def reader(self) -> ReadArchive:
        """The archive for reading commands: its store and index, without loading the parsers."""
        return ReadArchive(self.archive_dir)


class ReadArchive:
    """What search, export and stats need of an archive (``pipeline.Archive`` would import every parser)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_archive_dir()).expanduser()
        self.warc_dir = self.root / "warc"
        self.index_dir = self.root / "index"
        self._store: ArticleStore | None = None

    def exists(self) -> bool:
        return (self.root / "store.sqlite").exists()

    @property
    def store(self) -> ArticleStore:
        if self._store is None:
            from newsarchive.store.articles import ArticleStore

            self._store = ArticleStore(self.root / "store.sqlite")
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> ReadArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
