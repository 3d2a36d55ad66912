"""Tree building and the small text helpers every parser shares."""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

from newsarchive.config import MAX_BODY_BYTES
from newsarchive.errors import ParseError

#: Largest page (in characters) a tree is built for: the fetch limit (config.MAX_BODY_BYTES, 20 MiB),
#: which a stored page never exceeds. libxml2's huge-tree mode is on for pages within it, so that a text
#: node or attribute over libxml2's 10 MB default (an inline data: image) does not end the document early.
MAX_HTML_CHARS = MAX_BODY_BYTES

# Runs of [ \t\r\f\v\u00a0\u200b] become one space. A lone space is one already: it is left unmatched, so
# ordinary text costs no replacement per word.
_WS = re.compile(r" [ \t\r\f\v\u00a0\u200b]+|[\t\r\f\v\u00a0\u200b][ \t\r\f\v\u00a0\u200b]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_CHARS = tuple(chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F))  # what _CONTROL matches
_XML_DECL = re.compile(r"\s*<\?xml")
# HTML element classes without lxml.html's per-element Python lookup (form controls get the plain HtmlElement).
_LOOKUP = etree.ElementDefaultClassLookup(
    element=lxml_html.HtmlElement,
    comment=lxml_html.HtmlComment,
    pi=lxml_html.HtmlProcessingInstruction,
    entity=lxml_html.HtmlEntity,
)


def build_tree(html: str) -> lxml_html.HtmlElement:
    """Parse HTML leniently; a page lxml cannot make a tree of, or one over MAX_HTML_CHARS, is a ParseError."""
    if len(html) > MAX_HTML_CHARS:
        raise ParseError(
            f"page too large to parse: {len(html):,} characters (limit {MAX_HTML_CHARS:,})",
            hint="pages over the fetch limit are archived cut and never parsed",
        )
    # lxml refuses str input carrying an XML encoding declaration.
    if _XML_DECL.match(html):
        html = re.sub(r"^\s*<\?xml[^>]*>", "", html, count=1)
    if any(c in html for c in _CONTROL_CHARS):  # a scan for each is faster than one regex pass
        html = _CONTROL.sub("", html)
    if not html or html.isspace():
        raise ParseError("empty page", hint="the capture holds no HTML")
    try:
        # collect_ids=False: no libxml2 ID table (only XPath id() would read it; no parser uses it).
        parser = lxml_html.HTMLParser(huge_tree=True, remove_comments=True, collect_ids=False)
        parser.set_element_class_lookup(_LOOKUP)
        tree = lxml_html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"not an HTML page: {exc}") from exc
    return tree


def clean_text(text: str | None) -> str:
    """Collapse runs of white space within a line; trim."""
    if not text:
        return ""
    if not text.isprintable():  # printable text holds no control character: no pass needed
        text = _CONTROL.sub("", text)
    return _WS.sub(" ", text).strip()


# Joins the texts clean_lines() cleans in one pass: neither white space nor a control character, so no run
# crosses it; a text that holds it is cleaned alone.
_LINE_SEP = "\ue000"
_WS_CHARS = ("\t", "\r", "\f", "\v", "\u00a0", "\u200b")  # what _WS matches, but the space


def clean_lines(texts: list[str]) -> list[str]:
    """``[clean_text(t) for t in texts]``, in one pass over their text."""
    joined = _LINE_SEP.join(texts)
    if joined.count(_LINE_SEP) != len(texts) - 1:
        return [clean_text(t) for t in texts]
    if any(c in joined for c in _CONTROL_CHARS):
        joined = _CONTROL.sub("", joined)
    # What _WS.sub(" ", joined) does, with substring operations (far faster than a regex scan of long text).
    for c in _WS_CHARS:
        if c in joined:
            joined = joined.replace(c, " ")
    while "  " in joined:
        joined = joined.replace("  ", " ")
    return [t.strip() for t in joined.split(_LINE_SEP)]


def join_paragraphs(paragraphs: list[str]) -> str:
    """Paragraphs -> body text: one blank line between paragraphs, empties dropped."""
    out = [p.strip() for p in paragraphs]
    return "\n\n".join(p for p in out if p)
