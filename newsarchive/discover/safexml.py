"""The one hardened lxml XML parser: no entity expansion, no DTD loading, no network; <!ENTITY> refused."""

from __future__ import annotations

import re

from lxml import etree

from newsarchive.errors import ParseError
from newsarchive.parse.decode import declared_charset, whatwg_codec


#: Every XML parse in discovery goes through this configuration.
def make_parser() -> etree.XMLParser:
    """A fresh hardened parser (lxml parsers are not thread-safe, so one per call).

    No entities, no network, no DTD, no huge trees: feeds and sitemaps are untrusted input.
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
    )


_ENTITY_MARKS = tuple("<!ENTITY".encode(enc) for enc in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"))
#: C0 controls XML 1.0 forbids, raw or as references: one (a NUL in a URL) made lxml refuse the whole
#: sitemap, and every good URL in it was lost. They are dropped, as parse/decode drops them from pages.
_XML_ILLEGAL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_ILLEGAL_REF = re.compile(rb"&#(?:0*(?:[0-8]|1[124-9]|2[0-9]|3[01])|[xX]0*(?:[0-8]|[bBcCeEfF]|1[0-9a-fA-F]));")
_BARE_AMP = re.compile(rb"&(?!(?:#[0-9]+|#[xX][0-9a-fA-F]+|amp|lt|gt|quot|apos);)")


def refuse_entities(body: bytes, what: str = "document") -> None:
    """Raise ParseError when the document declares entities (billion laughs, external entities / XXE)."""
    if any(mark in body for mark in _ENTITY_MARKS):
        raise ParseError(f"{what} declares XML entities (<!ENTITY>): refused, never expanded or fetched")


_XML_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?\sencoding\s*=\s*)(["'])([^"']*)\2""")


def honoured_encoding(body: bytes, content_type: str | None = None) -> tuple[bytes, str | None]:
    """The XML document (and its Content-Type) with only WHATWG encoding labels left for a parser to trust.

    feedparser decodes with whatever codec the XML declaration or the Content-Type names: ``undefined``
    raises on every byte, ``punycode``, ``rot13``, ``base64`` are Python codecs no browser or XML parser
    honours. Such a label is dropped (the header's) or replaced by ``utf-8`` (the declaration's), as an
    unknown label in an HTML page is ignored (``decode.decode_html``). lxml refuses such a sitemap
    outright (``Unsupported encoding``), feedparser raised UnicodeError (exit 70).
    """
    if content_type and declared_charset(content_type) and whatwg_codec(declared_charset(content_type)) is None:
        content_type = content_type.split(";", 1)[0]
    m = _XML_ENCODING.match(body.lstrip(b"\xef\xbb\xbf")[:512])
    if m and whatwg_codec(m.group(3).decode("ascii", "replace")) is None:
        offset = len(body) - len(body.lstrip(b"\xef\xbb\xbf"))
        body = body[: offset + m.start(3)] + b"utf-8" + body[offset + m.end(3) :]
    return body, content_type


def parse_xml(body: bytes, what: str = "XML document") -> etree._Element:
    """Parse untrusted XML safely; bare ``&`` in URLs are escaped first; any error -> one-line ParseError."""
    refuse_entities(body, what)
    body = honoured_encoding(body)[0]
    if _is_ascii_compatible(body):
        body = _XML_ILLEGAL.sub(b"", body)
        if b"&" in body:
            body = _BARE_AMP.sub(b"&amp;", _XML_ILLEGAL_REF.sub(b"", body))
    try:
        root = etree.fromstring(body, parser=make_parser())
    except etree.XMLSyntaxError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise ParseError(f"{what} is not well-formed XML: {message}") from exc
    except ValueError as exc:  # e.g. unicode strings with an encoding declaration
        raise ParseError(f"{what} cannot be read as XML: {exc}") from exc
    if root is None:
        raise ParseError(f"{what} is empty")
    return root


def _is_ascii_compatible(body: bytes) -> bool:
    return not (
        body[:2] in (b"\xff\xfe", b"\xfe\xff")
        or body[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")
        or (len(body) > 1 and body[1:2] == b"\x00")
        or body[:1] == b"\x00"
    )


def localname(el: etree._Element) -> str:
    """The element's tag without its namespace ('' for comments and processing instructions)."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]
