"""The search backend interface, and its Whoosh implementation (the default).

A backend indexes articles (``add``, ``delete``) and answers a ``search.SearchRequest`` (hits, total,
facets, did-you-mean) and the ids an export with a query takes (``iter_ids``). Two implement it:

* :class:`WhooshBackend`: the local Whoosh index of an archive directory (``index/``), exactly what
  ``search.search`` and ``search.iter_matching_ids`` answer (this class only wraps them);
* ``pg_search.PgSearch``: PostgreSQL full-text search over a shared store (docs/scale-out-search.md).

Which one answers is chosen by :func:`choose` from the store and the ``search`` setting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from whoosh.index import Index

    from newsarchive.article import Article
    from newsarchive.search import SearchRequest, SearchResults
    from newsarchive.store.articles import ArticleStore

#: What the ``search`` setting may say (config file ``search = "..."`` or $NEWSARCHIVE_SEARCH).
SearchSetting = Literal["auto", "whoosh", "postgresql"]
SETTINGS: tuple[str, ...] = ("auto", "whoosh", "postgresql")
ENV_SEARCH = "NEWSARCHIVE_SEARCH"


class SearchBackend(Protocol):
    """What every search backend does (see the module docstring)."""

    name: str

    def add(self, articles: Iterable[Article]) -> int: ...

    def delete(self, ids: Iterable[str]) -> int: ...

    def search(self, req: SearchRequest, *, store: ArticleStore | None = None) -> SearchResults: ...

    def iter_ids(self, req: SearchRequest, *, batch: int = 1000) -> Iterator[list[str]]: ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class ChangeFeed(Protocol):
    """A shared store's numbered changes, which a local index follows (index/follow.py).

    ``changes_since(n)``: the ids of the articles added, changed or deleted after change number n
    (at most ``limit``) and the number of the last of them; ``identity``: changes when the numbering
    starts again (another database), so a follower rebuilds instead of missing changes.
    """

    @property
    def identity(self) -> str: ...

    def changes_since(self, counter: int, *, limit: int = 5000) -> tuple[list[str], int]: ...

    def change_counter(self) -> int: ...


#: How the Whoosh backend ranks (stats says it).
WHOOSH_RANKING = "BM25F (Whoosh: K1 1.2, B 0.75, headline x2)"


class WhooshBackend:
    """The archive's Whoosh index in ``directory`` (search.py's functions, unchanged)."""

    name = "whoosh"

    def __init__(self, directory: Path, *, create: bool = False) -> None:
        self.directory = directory
        self.create = create
        self._ix: Index | None = None

    @property
    def ix(self) -> Index:
        if self._ix is None:
            from newsarchive.index.writer import open_index

            self._ix = open_index(self.directory, create=self.create)
        return self._ix

    def add(self, articles: Iterable[Article]) -> int:
        from newsarchive.index.writer import write_articles

        return write_articles(self.ix, articles)

    def delete(self, ids: Iterable[str]) -> int:
        from newsarchive.index.writer import write_articles

        wanted = list(ids)
        write_articles(self.ix, [], delete_ids=wanted)
        return len(wanted)

    def search(self, req: SearchRequest, *, store: ArticleStore | None = None) -> SearchResults:
        from newsarchive.search import search

        return search(self.ix, req, store=store)

    def iter_ids(self, req: SearchRequest, *, batch: int = 1000) -> Iterator[list[str]]:
        from newsarchive.search import iter_matching_ids

        return iter_matching_ids(self.ix, req, batch=batch)

    def stats(self) -> dict[str, Any]:
        from newsarchive.index.writer import index_state

        return {"backend": "whoosh", "index": index_state(self.directory), "ranking": WHOOSH_RANKING}

    def close(self) -> None:
        if self._ix is not None:
            self._ix.close()
            self._ix = None


def search_setting(value: str | None, *, what: str = "search") -> SearchSetting:
    """The ``search`` setting, checked ('auto' when absent)."""
    from newsarchive.errors import UsageError

    text = (value or "auto").strip().lower()
    if text in ("postgres", "pg"):
        text = "postgresql"
    if text not in SETTINGS:
        raise UsageError(f"{what} = {value!r}: unknown search", hint="use one of: " + ", ".join(SETTINGS))
    return text  # type: ignore[return-value]


def choose(store_url: str | None, setting: str | None) -> Literal["whoosh", "postgresql"]:
    """Which backend answers: PostgreSQL full-text search on a PostgreSQL store unless ``search = "whoosh"``
    asks for a local Whoosh index (following the store); Whoosh on a SQLite store (PostgreSQL search
    there is a usage error: it has no shared tables to search)."""
    from newsarchive.errors import UsageError

    chosen = search_setting(setting)
    on_pg = bool(store_url) and str(store_url).startswith(("postgresql://", "postgres://"))
    if chosen == "postgresql" and not on_pg:
        raise UsageError(
            'search = "postgresql" needs a PostgreSQL store', hint="set the store too: --store postgresql://..."
        )
    if chosen == "auto":
        return "postgresql" if on_pg else "whoosh"
    return chosen


def configured_search(root: Path) -> str | None:
    """The ``search`` setting: $NEWSARCHIVE_SEARCH, else ``search = "..."`` under [settings] in the archive's
    sources.toml (read, and checked with the whole file, only when the file names it)."""
    import os
    import re

    value = os.environ.get(ENV_SEARCH, "").strip()
    if value:
        return value
    try:
        data = (root / "sources.toml").read_bytes()
    except OSError:
        return None
    if not re.search(rb"(?m)^\s*[\"']?search[\"']?\s*=", data):
        return None  # the common case: no TOML parsed, no parser loaded
    from newsarchive.sources import load_config

    return load_config(root).settings.search


def store_url(archive: Any) -> str | None:
    """The PostgreSQL URL of an archive's store, or None for the SQLite store."""
    spec = getattr(archive, "store_spec", None)
    if spec is None or not getattr(spec, "is_postgres", False):
        return None
    return str(spec.url)


def which_backend(archive: Any) -> Literal["whoosh", "postgresql"]:
    """Which backend answers an archive's searches (see :func:`choose`)."""
    return choose(store_url(archive), configured_search(archive.root))


def open_backend(archive: Any, *, create: bool = False) -> SearchBackend:
    """The search backend of an archive (``archive_dir.ArchiveDir``): PostgreSQL full-text search on a
    PostgreSQL store (unless the ``search`` setting asks for a local Whoosh index), else the Whoosh index.
    ``create``: make the index or the search tables when missing (writing commands)."""
    if which_backend(archive) == "postgresql":
        from newsarchive.index.pg_search import PgSearch, connect

        url = store_url(archive)
        assert url is not None
        return PgSearch(connect(url), create=create)
    return WhooshBackend(archive.index_dir, create=create)


def search_stats(archive: Any) -> dict[str, Any]:
    """What ``stats`` shows of the search that answers this archive: backend, index state, ranking."""
    from newsarchive.errors import SearchIndexError

    if which_backend(archive) == "whoosh":
        out = WhooshBackend(archive.index_dir).stats()
        url = store_url(archive)
        if url is not None:  # a local index following a PostgreSQL store
            from newsarchive.index.follow import follow_state

            state = follow_state(archive.index_dir)
            out["follows_change"] = state[1] if state is not None else None
        return out
    from newsarchive.index.pg_search import RANKING, PgSearch, connect

    url = store_url(archive)
    assert url is not None
    try:
        pg = PgSearch(connect(url), create=False)
    except SearchIndexError:
        return {"backend": "postgresql", "index": "missing", "ranking": RANKING}
    try:
        return pg.stats()
    finally:
        pg.close()


def describe_search(data: dict[str, Any]) -> str:
    """One line of ``stats``: ``search: postgresql (GIN index, 1234 documents; ranking: ...)``."""
    if data.get("backend") == "postgresql":
        index = data.get("index", "")
        state = f"{index.upper()} index" if index in ("gin", "rum") else f"search tables {index}"
        docs = f", {data['documents']} documents" if "documents" in data else ""
        kept = data.get("facet_terms")
        facets = f"; facet counts kept for {kept} frequent term{'s' if kept != 1 else ''}" if kept else ""
        return f"search: postgresql ({state}{docs}; ranking: {data.get('ranking')}{facets})"
    follows = f", following the store up to change {data['follows_change']}" if data.get("follows_change") else ""
    return f"search: whoosh (index {data.get('index')}{follows}; ranking: {data.get('ranking')})"
