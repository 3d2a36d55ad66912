"""How a site declares itself (one :class:`Site` record: recognition, discovery hints, default source, feed merge)
and the :class:`SiteParser` base every parser extends."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, ClassVar

from newsarchive.article import Article

#: Page markers are looked for in this much of the page (the head and the start of the body).
MARKER_WINDOW = 400_000
#: A feed says whose it is near its start (its <id>, generator, first entries).
FEED_WINDOW = 20_000


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


# -- page markers: data, compiled once ------------------------------------------------------------


@dataclass(frozen=True)
class Tag:
    """A page marker: a start tag carrying these attributes, in any order, quoted either way or not at all.

    ``attrs`` maps an attribute name to a regex its whole value must match (case-insensitive, like HTML).
    ``Tag("link", {"rel": r"service\\.post", "href": ...})`` matches ``<link href=... rel="service.post">`` too.
    """

    tag: str
    attrs: Mapping[str, str]

    def __hash__(self) -> int:
        return hash((self.tag, tuple(self.attrs.items())))

    @cached_property
    def regex(self) -> re.Pattern[str]:
        checks = "".join(
            rf"""(?=[^>]*?\s{re.escape(name)}\s*=\s*(?:"(?:{value})"|'(?:{value})'|(?:{value})(?=[\s/>])))"""
            for name, value in self.attrs.items()
        )
        return re.compile(rf"<{re.escape(self.tag)}\b{checks}[^>]*>", re.I)


@dataclass(frozen=True)
class Text:
    """A page marker: a regex searched in the page's text (scripts included), case-sensitive."""

    pattern: str

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


Marker = Tag | Text


# -- the declaration record -----------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """A host the site owns.

    ``pattern`` is a regex matched against the whole lower-case host name; ``source`` names the source that
    reads it (``{group}`` takes a named group of the pattern); ``origin`` is where its start URLs go (an
    edition's canonical address), else the origin of the URL the user gave.
    """

    pattern: str
    source: str
    origin: str | None = None

    def match(self, host: str) -> re.Match[str] | None:
        return _compiled((self.pattern,))[0].fullmatch(host)


@dataclass(frozen=True)
class DefaultSource:
    """A source every new archive reads (sources.toml's built-in content); its parser is the site's."""

    name: str
    start: tuple[str, ...]


@dataclass(frozen=True)
class FeedMerge:
    """What the site's feeds say of each post (kept at discovery) filled into the post's parsed page.

    ``entries`` reads a feed of the site into (post key, JSON text) pairs; ``key`` gives a parsed article's
    post key; ``merge`` fills the article from the JSON kept under that key. Keys are stored as
    ``"<site name>:<post key>"``.
    """

    entries: Callable[[bytes], Iterable[tuple[str, str]]]
    key: Callable[[Article], str | None]
    merge: Callable[[Article, str], Article]


@dataclass(frozen=True)
class Site:
    """Everything the program knows about one site, declared once in its module (``SiteParser.site``).

    Parsing picks the parser by ``url_patterns`` then ``page_markers``; ``sources add`` recognises the site by
    ``hosts``, ``page_markers`` or ``feed_markers`` and starts it at ``feeds + sitemaps + listings`` (paths
    under its origin); listing pages of its hosts yield the links matching ``link_patterns``.
    """

    #: Regexes (``re.match`` from the start) of the article URLs the parser claims without reading the page.
    url_patterns: tuple[str, ...] = ()
    #: Any one of these in a page claims it, whatever its URL (a blog on its own domain).
    page_markers: tuple[Marker, ...] = ()
    #: Hosts the site owns.
    hosts: tuple[Host, ...] = ()
    #: Discovery start points, as paths under the site's origin, in this order.
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    #: Article links on the site's listing pages (regexes searched in the absolute URL).
    link_patterns: tuple[str, ...] = ()
    #: Regexes (bytes) that mark a feed document as the site's, searched near its start.
    feed_markers: tuple[bytes, ...] = ()
    #: Regex (``re.match``) of the ids its feeds give their entries (Atom ``<id>``, RSS ``<guid>``) and themselves;
    #: each named group that matched becomes the feed candidate's ``<site name>_<group>_id`` extra.
    feed_ids: str | None = None
    #: Hosts of the platform that serve feeds for many blogs (their sources are named after the posts' host).
    platform_hosts: tuple[str, ...] = ()
    default_source: DefaultSource | None = None
    feed_merge: FeedMerge | None = None
    #: The parser class; bound when the class declaring the record is created.
    parser: type[SiteParser] | None = None

    @property
    def name(self) -> str:
        return self.parser.name if self.parser else ""

    def claims_url(self, url: str) -> bool:
        return any(p.match(url) for p in _compiled(self.url_patterns))

    def claims_page(self, html: str) -> bool:
        head = html[:MARKER_WINDOW]
        return any(m.regex.search(head) for m in self.page_markers)

    def host(self, host: str) -> tuple[Host, re.Match[str]] | None:
        """The declared host matching ``host`` (lower-case, no port) and its match."""
        for declared in self.hosts:
            m = declared.match(host)
            if m:
                return declared, m
        return None

    def owns_feed(self, body: bytes) -> bool:
        head = body[:FEED_WINDOW]
        return any(re.search(p, head) for p in self.feed_markers)

    def feed_id_extras(self, feed_id: str) -> dict[str, str]:
        """``{"<site>_<group>_id": value}`` for the named groups of ``feed_ids`` matching ``feed_id``; {}."""
        m = _compiled((self.feed_ids,))[0].match(feed_id) if self.feed_ids else None
        return {f"{self.name}_{k}_id": v for k, v in m.groupdict().items() if v} if m else {}

    def start_paths(self) -> tuple[str, ...]:
        return (*self.feeds, *self.sitemaps, *self.listings)


@cache
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


class SiteParser:
    """Base class of every parser. Subclasses declare data, then implement ``parse``.

    ``parse(html, url)`` is a pure function: no network, no clock, no printing, no
    globals. It returns an :class:`Article` or raises ``ParseError`` / ``NotAnArticle``.
    """

    #: Short stable name, stored with every article (``parser.name``); also the site's name.
    name: ClassVar[str] = ""
    #: Bumped whenever the output for some page would change; ``reparse`` uses it.
    version: ClassVar[str] = "1"
    #: One line for docs/sites.md.
    description: ClassVar[str] = ""
    #: The site's declaration: URLs, page markers, discovery hints, default source, feed merge.
    site: ClassVar[Site] = Site()
    #: Example hosts for docs/sites.md.
    example_sites: ClassVar[tuple[str, ...]] = ()
    tests: ClassVar[tuple[SiteTest, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "site" in cls.__dict__:  # the record declared in the class body now holds its parser
            cls.site = dataclasses.replace(cls.__dict__["site"], parser=cls)

    @classmethod
    def claims_url(cls, url: str) -> bool:
        return cls.site.claims_url(url)

    @classmethod
    def claims_page(cls, html: str, url: str) -> bool:
        return cls.site.claims_page(html)

    def parse(self, html: str, url: str) -> Article:
        raise NotImplementedError
