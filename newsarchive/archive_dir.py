"""The archive directory and its read side (store, index paths), importing no parser.

``pipeline.Archive`` adds the writing side; reading commands (search, export, stats) use
this class alone, so they start without loading trafilatura and the site parsers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Self

from newsarchive.config import default_archive_dir

if TYPE_CHECKING:
    from newsarchive.store.articles import ArticleStore

#: Markers around matched terms in search snippets; the CLI turns them into colour or nothing.
MARK_START = "\x02"
MARK_END = "\x03"


class ArchiveDir:
    """One archive directory: ``warc/``, ``store.sqlite``, ``index/``, ``lock``."""

    def __init__(self, root: Path | None = None, *, read_only: bool = False) -> None:
        self.root = (root or default_archive_dir()).expanduser()
        #: Reading commands: the store is opened read-only and nothing is written (read-only backups work).
        self.read_only = read_only
        self.warc_dir = self.root / "warc"
        self.index_dir = self.root / "index"
        self._store: ArticleStore | None = None

    def exists(self) -> bool:
        return (self.root / "store.sqlite").exists()

    @property
    def store(self) -> ArticleStore:
        if self._store is None:
            from newsarchive.store.articles import ArticleStore

            self._store = ArticleStore(self.root / "store.sqlite", read_only=self.read_only)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
