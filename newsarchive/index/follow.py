"""A local Whoosh index that follows a shared store's numbered changes (a laptop searching the team's archive).

The index remembers, in ``newsarchive-follow.json`` beside its files, the identity of the change
feed it follows and the number of the last change it applied. :func:`follow` applies the changes
since (articles read from the store, deleted ones removed) and saves the number after each batch,
so a sync killed midway resumes where it stopped; a missing, outdated or damaged index, or a feed
with another identity (another database), is rebuilt from the store first, then caught up from
the number read before the rebuild began (changes made meanwhile are applied again: harmless).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsarchive.article import Article
    from newsarchive.index.backend import ChangeFeed
    from newsarchive.store.articles import ArticleStore

FOLLOW_FILE = "newsarchive-follow.json"
BATCH = 1000


@dataclass(frozen=True)
class FollowResult:
    rebuilt: bool
    written: int  # articles written to the index (added or changed)
    deleted: int
    counter: int


def follow_state(directory: Path) -> tuple[str, int] | None:
    """(feed identity, last change applied) of a following index, or None."""
    try:
        data = json.loads((directory / FOLLOW_FILE).read_text("utf-8"))
        return str(data["identity"]), int(data["counter"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save(directory: Path, identity: str, counter: int) -> None:
    path = directory / FOLLOW_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"identity": identity, "counter": counter}), "utf-8")
    os.replace(tmp, path)


def _tapped(articles: Iterator[Article], call: Callable[[], None] | None) -> Iterator[Article]:
    for article in articles:
        yield article
        if call is not None:
            call()


def follow(
    directory: Path,
    feed: ChangeFeed,
    store: ArticleStore,
    *,
    rebuild: bool = False,
    on_article: Callable[[], None] | None = None,
) -> FollowResult:
    """Bring the Whoosh index in ``directory`` up to the feed's last change (``rebuild``: from scratch;
    ``on_article``: called once per article read by a rebuild, for progress)."""
    from newsarchive.index.writer import index_state, open_index
    from newsarchive.index.writer import rebuild as rebuild_index

    identity = feed.identity
    state = follow_state(directory)
    rebuilt = False
    written = deleted = 0
    if rebuild or state is None or state[0] != identity or index_state(directory) != "ok":
        counter = feed.change_counter()
        written = rebuild_index(directory, _tapped(store.iter_articles(order="id"), on_article))
        _save(directory, identity, counter)
        rebuilt = True
    else:
        counter = state[1]
    from newsarchive.index.writer import write_articles

    ix = open_index(directory)
    try:
        while True:
            ids, new = feed.changes_since(counter, limit=BATCH)
            if not ids:
                break
            found = store.get_many(ids)
            missing = [i for i in ids if i not in found]
            write_articles(ix, found.values(), delete_ids=missing)
            written += len(found)
            deleted += len(missing)
            counter = new
            _save(directory, identity, counter)
    finally:
        ix.close()
    return FollowResult(rebuilt, written, deleted, counter)
