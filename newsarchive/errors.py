"""Every error newsarchive raises on purpose, in one place (as scrapy's exceptions.py).

A ``NewsArchiveError`` is *expected*: the CLI prints its message and hint on one line
each and exits with ``exit_code``; anything else is a bug and shows a traceback only
with ``-v``.
"""

from __future__ import annotations

#: Exit statuses, shared by every command (the table in README.md lists exactly these).
EXIT_OK = 0
EXIT_PARTIAL = 1  # some inputs failed, the rest was done; `search`: no hits (as grep)
EXIT_USAGE = 2  # bad command line or bad input the user gave (also: a read-only archive for a writing command)
EXIT_NOT_ARTICLE = 3  # `parse`: the page is not an article (listing, video, error page)
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in newsarchive (an unexpected exception), never a user mistake
EXIT_LOCKED = 75  # another run holds the archive (EX_TEMPFAIL: cron may simply retry)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report a process killed by SIGINT)


class NewsArchiveError(Exception):
    """Base of all expected errors."""

    exit_code = EXIT_PARTIAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(NewsArchiveError):
    """The user asked for something that cannot be done as asked."""

    exit_code = EXIT_USAGE


class QueryError(UsageError):
    """A search query or date range that cannot be understood."""


class FetchError(NewsArchiveError):
    """A page could not be downloaded."""


class RefusedURL(FetchError):
    """A URL that newsarchive will not fetch (scheme, private address, robots.txt)."""


class ParseError(NewsArchiveError):
    """A page could not be turned into an Article (no headline or no body)."""


class NotAnArticle(ParseError):
    """The page is valid but is not an article: a listing, a video page, an error page."""

    exit_code = EXIT_NOT_ARTICLE


class ArchiveError(NewsArchiveError):
    """The archive directory, its WARC files or its store cannot be used."""


class SearchIndexError(ArchiveError):
    """The search index is missing, outdated or damaged."""


class LockedError(NewsArchiveError):
    """Another newsarchive process holds the archive or the index."""

    exit_code = EXIT_LOCKED
