"""SiteParser: how a site declares which pages it handles and how they are parsed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from newsarchive.article import Article


@dataclass(frozen=True)
class SiteTest:
    """A fixture test declared next to the parser (yt-dlp's ``_TESTS``).

    ``fixture`` is a path under ``fixtures/sites/``; ``expect`` maps a field to an exact
    value or a matcher string (``re:...``, ``count:N``, ``startswith:...``,
    ``contains:...``); ``never`` lists strings that must appear in no field.
    ``only_matching`` tests URL routing only.
    """

    url: str
    fixture: str | None = None
    expect: dict[str, Any] = field(default_factory=dict)
    never: tuple[str, ...] = ()
    only_matching: bool = False
    not_article: bool = False


@cache
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


class SiteParser:
    """Base class of every parser. Subclasses declare data, then implement ``parse``.

    ``parse(html, url)`` is a pure function: no network, no clock, no printing, no
    globals. It returns an :class:`Article` or raises ``ParseError`` / ``NotAnArticle``.
    """

    #: Short stable name, stored with every article (``parser.name``).
    name: ClassVar[str] = ""
    #: Bumped whenever the output for some page would change; ``reparse`` uses it.
    version: ClassVar[str] = "1"
    #: One line for docs/sites.md.
    description: ClassVar[str] = ""
    #: Regexes (``re.match`` from the start) of the URLs this parser claims.
    url_patterns: ClassVar[tuple[str, ...]] = ()
    #: Regexes searched in the HTML; any match claims the page whatever its URL.
    page_markers: ClassVar[tuple[str, ...]] = ()
    #: Example hosts for docs/sites.md.
    example_sites: ClassVar[tuple[str, ...]] = ()
    tests: ClassVar[tuple[SiteTest, ...]] = ()

    @classmethod
    def claims_url(cls, url: str) -> bool:
        return any(p.match(url) for p in _compiled(cls.url_patterns))

    @classmethod
    def claims_page(cls, html: str, url: str) -> bool:
        head = html[:300_000]
        return any(p.search(head) for p in _compiled(cls.page_markers))

    def parse(self, html: str, url: str) -> Article:
        raise NotImplementedError
