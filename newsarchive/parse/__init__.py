"""STAGE 4: raw page -> Article. Pure: no network, no clock, no printing."""

from __future__ import annotations

from urllib.parse import urlsplit

from newsarchive.article import Article, ParserInfo
from newsarchive.errors import ParseError
from newsarchive.parse.decode import decode_html
from newsarchive.parse.registry import parser_by_name, parser_for

__all__ = ["parse_html", "parse_page", "site_of"]


def site_of(url: str) -> str:
    """The site an URL belongs to: its host, lower-case, without a leading ``www.``."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def parse_html(html: str, url: str, *, parser: str | None = None) -> Article:
    """Parse decoded HTML: choose a parser, run it, fill what every article must have."""
    cls = parser_by_name(parser) if parser else parser_for(url, html)
    article = cls().parse(html, url)
    headline = (article.headline or "").strip()
    body = (article.body or "").strip()
    if not headline:
        raise ParseError(f"{url}: no headline found", hint=f"parser {cls.name!r} found no title on the page")
    if not body:
        raise ParseError(f"{url}: no article text found", hint=f"parser {cls.name!r} found no body text")
    return article.replace(
        headline=headline,
        body=body,
        site=article.site or site_of(article.canonical_url or url),
        parser=ParserInfo(cls.name, cls.version),
    )


def parse_page(body: bytes | str, url: str, *, content_type: str | None = None, parser: str | None = None) -> Article:
    """Parse a page as captured (bytes plus its Content-Type) into an Article."""
    return parse_html(decode_html(body, content_type), url, parser=parser)
