"""Which article store an archive uses: SQLite in the archive directory (the default) or PostgreSQL.

One setting chooses it, first found wins: ``--store URL`` (or ``$NEWSARCHIVE_STORE``), then
``store = "..."`` in the ``[settings]`` of the archive's sources.toml, else ``<archive>/store.sqlite``.
A value is ``postgresql://[user[:password]@]host[:port]/database[?options]`` (``postgres://`` too) or
``sqlite:PATH``. Importing this module loads neither psycopg nor sqlite3: reading commands on the
embedded default pay nothing for the choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from newsarchive.config import ENV_STORE
from newsarchive.errors import UsageError

__all__ = ["ENV_STORE", "StoreSpec", "mask_url", "open_store", "parse_store_spec", "resolve_store"]

if TYPE_CHECKING:
    from newsarchive.store.articles import ArticleStore

#: The SQLite store's file name in the archive directory.
SQLITE_NAME = "store.sqlite"

_PG_SCHEMES = ("postgresql", "postgres")
_HINT = "use postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE or sqlite:PATH (docs/scale-out.md)"


@dataclass(frozen=True)
class StoreSpec:
    """Where the article store is: a SQLite file (``path``) or a PostgreSQL database (``url``)."""

    kind: str  # "sqlite" | "postgresql"
    path: Path | None = None
    url: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgresql"

    def describe(self) -> str:
        """For messages and ``stats``: the file, or the URL with its password masked."""
        if self.url is not None:
            return mask_url(self.url)
        return str(self.path)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (in the userinfo and in a ``password=`` option)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return re.sub(r"(://[^/@:]*:)[^@/]*@", r"\1***@", url)
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostport}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    masked = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    if not netloc and "://" in url and "://" not in masked:
        masked = masked.replace(":", "://", 1)  # postgresql:///db?host=... keeps its empty host part
    return masked


def url_password(url: str) -> str | None:
    """The password a URL carries (to scrub it from a server's error text), if any."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return None
    found = re.search(r"(?i)(?:^|&)password=([^&]*)", parts.query)
    return password or (found.group(1) if found else None)


def parse_store_spec(value: str, *, what: str = "--store") -> StoreSpec:
    """Check a store setting; a bad one is a UsageError (exit 2) naming ``what`` (password masked)."""
    text = value.strip()
    if not text:
        raise UsageError(f"{what} is empty", hint=_HINT)
    lowered = text.lower()
    if lowered.startswith("sqlite:"):
        rest = text[len("sqlite:") :]
        if rest.startswith("//"):
            rest = rest[2:]  # sqlite:///abs/path and sqlite://rel/path as SQLAlchemy writes them
        if not rest:
            raise UsageError(f"{what} = {text!r}: no file after sqlite:", hint="e.g. sqlite:/srv/news/store.sqlite")
        return StoreSpec("sqlite", path=Path(rest).expanduser())
    scheme = lowered.partition("://")[0]
    if scheme not in _PG_SCHEMES or "://" not in text:
        raise UsageError(f"{what} = {mask_url(text)!r}: not a store URL", hint=_HINT)
    text = scheme + text[len(scheme) :]  # POSTGRESQL:// as postgresql:// (libpq knows the lower case only)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is no number
    except ValueError as exc:
        raise UsageError(f"{what} = {mask_url(text)!r}: not a valid URL ({exc})", hint=_HINT) from None
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        raise UsageError(f"{what} = {mask_url(text)!r}: no database name", hint=_HINT)
    return StoreSpec("postgresql", url=text)


_CONFIG_KEY = re.compile(rb"(?m)^\s*[\"']?store[\"']?\s*=")


def config_store(root: Path) -> str | None:
    """The ``store`` setting of the archive's sources.toml, or None (checked as the whole file is)."""
    path = root / "sources.toml"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not _CONFIG_KEY.search(data):
        return None  # the common case: no TOML parsed, no parser loaded
    from newsarchive.sources import load_config

    return load_config(root).settings.store


def resolve_store(root: Path, setting: str | None) -> StoreSpec:
    """The store of an archive: ``setting`` (--store, $NEWSARCHIVE_STORE), else its config, else SQLite."""
    if setting:
        spec = parse_store_spec(setting)
        base = Path.cwd()  # a relative sqlite:PATH on the command line or in the environment: the working directory
    else:
        configured = config_store(root)
        if not configured:
            return StoreSpec("sqlite", path=root / SQLITE_NAME)
        spec = parse_store_spec(configured, what=f"{root / 'sources.toml'}: [settings] store")
        base = root  # in sources.toml: the archive directory (as the warc setting)
    if spec.path is not None and not spec.path.is_absolute():
        spec = StoreSpec("sqlite", path=base / spec.path)
    if spec.path is not None and spec.path.is_dir():
        raise UsageError(
            f"the store setting sqlite:{spec.path} is a directory",
            hint=f"name the store's file: sqlite:{spec.path / SQLITE_NAME}",
        )
    return spec


def open_store(spec: StoreSpec, *, read_only: bool = False) -> ArticleStore:
    """Open the store a spec names: ``ArticleStore`` (SQLite) or ``PgArticleStore`` (same methods, same results)."""
    if spec.is_postgres:
        from typing import cast

        from newsarchive.store.pg import PgArticleStore

        assert spec.url is not None
        # PgArticleStore has every public method of ArticleStore with the same results
        # (tests/test_store_postgres.py holds it to that); typed as one for the callers.
        return cast("ArticleStore", PgArticleStore(spec.url, read_only=read_only))
    from newsarchive.store.articles import ArticleStore

    assert spec.path is not None
    return ArticleStore(spec.path, read_only=read_only)
