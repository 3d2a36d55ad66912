"""The archive directory and its read side (store, index paths), importing no parser.

``pipeline.Archive`` adds the writing side; reading commands (search, export, stats) use
this class alone, so they start without loading trafilatura and the site parsers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Self

from newsarchive.config import default_archive_dir

if TYPE_CHECKING:
    from newsarchive.archive.warcfs import WarcBucket, WarcDir
    from newsarchive.store.articles import ArticleStore
    from newsarchive.store.backend import StoreSpec

#: Markers around matched terms in search snippets; the CLI turns them into colour or nothing.
MARK_START = "\x02"
MARK_END = "\x03"


class ArchiveDir:
    """One archive directory: ``warc/``, ``store.sqlite``, ``index/``, ``lock``.

    The article store is ``store.sqlite`` unless ``store`` (--store, $NEWSARCHIVE_STORE) or the
    ``store`` setting of the archive's sources.toml names another: see store/backend.py. The WARC files
    are in ``warc/`` unless ``warc`` (--warc, $NEWSARCHIVE_WARC) or the ``warc`` setting names another
    location: see archive/warcfs.py.
    """

    def __init__(
        self, root: Path | None = None, *, read_only: bool = False, store: str | None = None, warc: str | None = None
    ) -> None:
        self.root = (root or default_archive_dir()).expanduser()
        #: Reading commands: the store is opened read-only and nothing is written (read-only backups work).
        self.read_only = read_only
        self.index_dir = self.root / "index"
        #: The store setting given on the command line or in the environment (None: the config's, else SQLite).
        self.store_setting = store
        self._store_spec: StoreSpec | None = None
        self._store: ArticleStore | None = None
        self._warc_option = warc
        self._warcs: WarcDir | WarcBucket | None = None

    @property
    def warcs(self) -> WarcDir | WarcBucket:
        """Where the WARC files are (a directory or object storage), resolved on first use."""
        if self._warcs is None:
            from newsarchive.archive.warcfs import location_setting, open_location

            self._warcs = open_location(location_setting(self._warc_option, self.root), self.root)
        return self._warcs

    @property
    def warc_dir(self) -> Path:
        """The local directory WARC files are written to: the location, or the spool of object storage."""
        return self.warcs.write_dir

    @property
    def store_spec(self) -> StoreSpec:
        """Where the article store is (checked: a bad setting is a UsageError, exit 2)."""
        if self._store_spec is None:
            from newsarchive.store.backend import resolve_store

            self._store_spec = resolve_store(self.root, self.store_setting)
        return self._store_spec

    def missing(self) -> str:
        """What :meth:`exists` found missing, for the error: the archive, or a store set elsewhere."""
        spec = self.store_spec
        if spec.path is not None and spec.path != self.root / "store.sqlite":
            return f"no article store at {spec.path} (the store setting of the archive {self.root})"
        return f"no archive at {self.root}"

    def require(self, hint: str = "fetch or import something first") -> None:
        """A command that needs an archive, on one that is not there (a mistyped --archive): a usage error,
        exit 2, with nothing created."""
        if not self.exists():
            from newsarchive.errors import UsageError

            raise UsageError(self.missing(), hint=hint)

    def exists(self) -> bool:
        spec = self.store_spec
        if spec.path is None:
            return True  # a database server: opening the store says whether it holds an archive
        return spec.path.exists()

    @property
    def store(self) -> ArticleStore:
        if self._store is None:
            from newsarchive.store.backend import open_store

            self._store = open_store(self.store_spec, read_only=self.read_only)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
