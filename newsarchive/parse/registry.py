"""The explicit, ordered list of parsers; the generic parser is always last."""

from __future__ import annotations

from newsarchive.errors import UsageError
from newsarchive.parse.generic import GenericParser
from newsarchive.parse.site import SiteParser
from newsarchive.parse.sites.almayadeen import AlMayadeen
from newsarchive.parse.sites.blogger import Blogger

# One import line per site, like yt-dlp's _extractors.py: a new site shows up in the diff.
SITE_PARSERS: tuple[type[SiteParser], ...] = (AlMayadeen, Blogger)

PARSERS: tuple[type[SiteParser], ...] = (*SITE_PARSERS, GenericParser)


def parser_by_name(name: str) -> type[SiteParser]:
    for cls in PARSERS:
        if cls.name == name:
            return cls
    known = ", ".join(cls.name for cls in PARSERS)
    raise UsageError(f"no parser named {name!r}", hint=f"known parsers: {known}")


def parser_for(url: str, html: str) -> type[SiteParser]:
    """Pick the parser: a site parser claiming the URL, then one claiming the page, then generic."""
    for cls in SITE_PARSERS:
        if cls.claims_url(url):
            return cls
    for cls in SITE_PARSERS:
        if cls.claims_page(html, url):
            return cls
    return GenericParser
