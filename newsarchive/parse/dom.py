"""Tree building and the small text helpers every parser shares."""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

from newsarchive.errors import ParseError

_WS = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def build_tree(html: str) -> lxml_html.HtmlElement:
    """Parse HTML leniently; a page lxml cannot make a tree of is a ParseError."""
    # lxml refuses str input carrying an XML encoding declaration.
    if html.lstrip().startswith("<?xml"):
        html = re.sub(r"^\s*<\?xml[^>]*>", "", html, count=1)
    html = _CONTROL.sub("", html)
    if not html.strip():
        raise ParseError("empty page", hint="the capture holds no HTML")
    try:
        parser = lxml_html.HTMLParser(huge_tree=False, remove_comments=True)
        tree = lxml_html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"not an HTML page: {exc}") from exc
    return tree


def clean_text(text: str | None) -> str:
    """Collapse runs of white space within a line; trim."""
    if not text:
        return ""
    return _WS.sub(" ", _CONTROL.sub("", text)).strip()


def join_paragraphs(paragraphs: list[str]) -> str:
    """Paragraphs -> body text: one blank line between paragraphs, empties dropped."""
    out = [p.strip() for p in paragraphs]
    return "\n\n".join(p for p in out if p)
