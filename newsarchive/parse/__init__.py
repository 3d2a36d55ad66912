"""STAGE 4: raw page -> Article. Pure: no network, no clock, no printing."""

from __future__ import annotations

import dataclasses
import re

from newsarchive.article import Article, ParserInfo, clean_article, clean_text
from newsarchive.errors import ParseError
from newsarchive.fetch.urls import site_of
from newsarchive.parse.decode import decode_html, drop_control_refs, sniff_binary
from newsarchive.parse.registry import parser_by_name, parser_for

__all__ = ["parse_html", "parse_page", "site_of"]

#: A page may carry thousands of keyword tags (SEO spam); an archive keeps the first ones.
MAX_TAGS = 100
MAX_TAG_CHARS = 200
#: Every other field a page controls is capped too (a 5 MB <title> was stored, indexed and printed whole):
#: far above any real value, so only hostile pages are cut.
MAX_HEADLINE_CHARS = 2_000
MAX_SHORT_CHARS = 1_000  # section, series, source, each author, each caption and related-link title
MAX_DESCRIPTION_CHARS = 20_000
MAX_AUTHORS = 50
MAX_IMAGES = 200
MAX_RELATED = 200


def parse_html(html: str, url: str, *, parser: str | None = None) -> Article:
    """Parse decoded HTML: choose a parser, run it, fill what every article must have."""
    html = drop_control_refs(html)
    cls = parser_by_name(parser) if parser else parser_for(url, html)
    try:
        article = cls().parse(html, url)
    except ValueError as exc:
        # urllib and codecs raise ValueError on page text (a malformed URL, a codec that refuses the
        # bytes): one bad page is a failed page, never the end of the run. Parsers drop such values
        # themselves (metadata.join_url); this is the net for any they miss.
        raise ParseError(f"{url}: unreadable value in the page ({exc})") from None
    # Checked once cleaned: a title or a text of control characters only is none.
    article = _clean_all(
        article.replace(
            headline=article.headline or "",
            body=article.body or "",
            site=article.site or site_of(article.canonical_url or url),
            parser=ParserInfo(cls.name, cls.version),
        )
    )
    headline, body = article.headline.strip(), article.body.strip()
    if not headline:
        raise ParseError(f"{url}: no headline found", hint=f"parser {cls.name!r} found no title on the page")
    if not body:
        raise ParseError(f"{url}: no article text found", hint=f"parser {cls.name!r} found no body text")
    return (
        article
        if (headline, body) == (article.headline, article.body)
        else article.replace(headline=headline, body=body)
    )


#: A byline's leading label ("By Jane Doe", "by: Jane Doe", "BY JANE DOE"), which names no one.
_BY_LABEL = re.compile(r"^by\b\s*:?\s*", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|<\s*>|\[\s*\]")
_URL = re.compile(r"^(?:https?://|www\.)\S*$", re.IGNORECASE)


def _authors(names: tuple[str, ...]) -> tuple[str, ...]:
    """Author names without a "By" label, e-mail addresses or profile URLs; de-duplicated, order kept.

    A CMS fills its author field with what it has: "By Jane Doe", "jane@paper.example", a profile
    page's URL. The label is dropped, an address inside a name ("Jane Doe (jane@x.example)") goes,
    and a value that is only an address or an URL names no one.
    """
    out: list[str] = []
    seen: set[str] = set()
    for raw in names[:MAX_AUTHORS]:
        name = " ".join(_text(raw).split())
        if _URL.match(name):
            continue
        name = " ".join(_EMPTY_BRACKETS.sub(" ", _EMAIL.sub("", name)).split()).strip(" ,;|")
        name = _BY_LABEL.sub("", name).strip(" ,;|")
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name[:MAX_SHORT_CHARS])
    return tuple(out)


def _text(value: str) -> str:
    # C0/C1 controls (but tab and newline) and bidi overrides: the one cleaning function, which
    # clean_article then applies to every field (url, canonical_url, lang, image URLs... included).
    return clean_text(value)


def _clean_all(article: Article) -> Article:
    return clean_article(_clean(article))


def _clean(article: Article) -> Article:
    """Control characters out of every text field (article.clean_article); tags de-duplicated and capped."""
    tags: list[str] = []
    seen: set[str] = set()
    for tag in article.tags:
        tag = " ".join(_text(tag).split())[:MAX_TAG_CHARS]
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
        if len(tags) >= MAX_TAGS:
            break
    short = MAX_SHORT_CHARS
    # A "last modified" before the first publication is a CMS's stale or copied field (a template's
    # dateModified, an imported post keeping its draft's date): no modification date is better than a false one.
    updated = article.updated
    if updated is not None and article.published is not None and updated < article.published:
        updated = None
    return article.replace(
        updated=updated,
        headline=" ".join(_text(article.headline[: MAX_HEADLINE_CHARS * 4]).split())[:MAX_HEADLINE_CHARS],
        body=_text(article.body),
        byline=_authors(article.byline),
        description=_text(article.description)[:MAX_DESCRIPTION_CHARS] if article.description else article.description,
        section=_text(article.section)[:short] if article.section else article.section,
        series=_text(article.series)[:short] if article.series else article.series,
        source=_text(article.source)[:short] if article.source else article.source,
        tags=tuple(tags),
        images=tuple(
            dataclasses.replace(i, caption=_text(i.caption)[:short]) if i.caption else i
            for i in article.images[:MAX_IMAGES]
        ),
        related=tuple(dataclasses.replace(r, title=_text(r.title)[:short]) for r in article.related[:MAX_RELATED]),
    )


def parse_page(body: bytes | str, url: str, *, content_type: str | None = None, parser: str | None = None) -> Article:
    """Parse a page as captured (bytes plus its Content-Type) into an Article.

    Bytes that are plainly not HTML (PDF, images, archives) are a ParseError saying what they are.
    """
    if isinstance(body, bytes):
        kind = sniff_binary(body)
        if kind:
            raise ParseError(f"{url}: not an HTML page (the body is {kind})")
    return parse_html(decode_html(body, content_type), url, parser=parser)
