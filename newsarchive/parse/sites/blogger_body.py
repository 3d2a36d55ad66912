"""Blogger post body -> images and text (helpers of :mod:`newsarchive.parse.sites.blogger`)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

from lxml import etree
from lxml import html as lxml_html

from newsarchive.article import Image
from newsarchive.parse.dom import clean_text

Element = lxml_html.HtmlElement


def cls(name: str) -> str:
    """XPath predicate: the element carries the class token ``name``."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def first(nodes: Any) -> Any:
    return nodes[0] if nodes else None


def drop(el: Element) -> None:
    """Remove ``el`` from its parent, keeping a non-blank tail in the text flow."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail and tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


# Pruned inside the post body only, in this order (the order decides where blank tails go).
_BODY_NOISE = tuple(
    etree.XPath(xp)
    for xp in (
        *(f".//{tag}" for tag in (
            "script", "style", "noscript[.//script]", "iframe", "form", "button", "input", "select", "textarea",
            "object", "embed", "svg", "ins",
        )),
        f".//*[{cls('post-footer')} or {cls('post-share-buttons')} or {cls('tr-caption')} or @id='related-posts']",
    )
)  # fmt: skip
_BLOCK = frozenset({
    "div", "section", "article", "header", "footer", "aside", "nav", "main", "center", "figure", "figcaption",
    "dl", "dt", "dd", "tr", "table", "tbody", "thead", "address", "hr", "details", "summary",
})  # fmt: skip
_PARA = frozenset({"p", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"})
_IMGS = etree.XPath(".//img[@src or @data-src]")
_CAPTION_TABLE = etree.XPath(f"ancestor::table[{cls('tr-caption-container')}][1]")
_CAPTION = etree.XPath(f".//*[{cls('tr-caption')}]")
_TEMPLATES = etree.XPath(".//script[@type='text/template']")


def images(body: Element, url: str) -> tuple[Image, ...]:
    out: list[Image] = []
    seen: set[str] = set()
    for img in _IMGS(body):
        src = (img.get("src") or img.get("data-src") or "").strip()
        if not src or src.startswith("data:") or img.get("width") in ("0", "1") or img.get("height") in ("0", "1"):
            continue
        src = urljoin(url, src)
        if src in seen:
            continue
        seen.add(src)
        caption = None
        table = first(_CAPTION_TABLE(img))
        if table is not None:
            cap = first(_CAPTION(table))
            caption = clean_text(cap.text_content()) if cap is not None else None
        out.append(Image(src, caption or None))
    return tuple(out)


class _Lines:
    """Collects rendered lines; '' marks a paragraph break."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.buf: list[str] = []

    def text(self, value: str | None) -> None:
        if value:
            self.buf.append(value)

    def newline(self) -> None:
        line = clean_text("".join(self.buf))
        self.buf = []
        if line:
            self.lines.append(line)

    def br(self) -> None:
        line = clean_text("".join(self.buf))
        self.buf = []
        self.lines.append(line)

    def para(self) -> None:
        self.newline()
        self.lines.append("")


def render(body: Element) -> str:
    """Post body -> text: one line per editor line / list item, blank line between paragraphs."""
    body = _copy(body)
    for xp in _BODY_NOISE:
        for el in xp(body):
            drop(el)
    out = _Lines()
    _walk(body, out, top=True)
    out.newline()
    paragraphs: list[str] = []
    current: list[str] = []
    for line in out.lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)


def render_template(body: Element) -> str:
    """Bodies that ship only inside ``<script type='text/template'>`` (Google corporate blogs)."""
    for script in _TEMPLATES(body):
        text = (script.text or "").strip()
        if text:
            return render(lxml_html.fragment_fromstring(text, create_parent="div"))
    return ""


def _copy(el: Element) -> Element:
    """A detached copy of ``el``, as ``lxml.html.fromstring(tostring(el))`` would give it."""
    return lxml_html.fromstring(lxml_html.tostring(el, encoding="unicode"))


def _walk(el: Element, out: _Lines, top: bool = False) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    tag = tag.split("}")[-1].lower()
    if tag == "br":
        out.br()
    elif tag in _PARA and not top:
        out.para()
    elif (tag in _BLOCK or tag == "li") and not top:
        out.newline()
    if tag:
        out.text(el.text)
        for child in el:
            _walk(child, out)
    if tag in _PARA and not top:
        out.para()
    elif (tag in _BLOCK or tag == "li" or tag in ("td", "th")) and not top:
        out.newline()
    if not top:
        out.text(el.tail)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def remove_repeated_headline(body: str, headline: str) -> str:
    """Drop the title the post repeats at the top of its own body (as one or several lines)."""
    target = _norm(headline)
    if not target:
        return body
    lines = body.split("\n")
    acc = ""
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        acc = f"{acc} {_norm(line)}".strip()
        if acc == target:
            return "\n".join(lines[i + 1 :]).strip()
        if not target.startswith(acc):
            break
    first_line = lines[0]
    if _norm(first_line).startswith(target + " "):
        # Title run into the first line ("Title!\xa0 First sentence ..."): cut it off at a sentence break.
        m = re.match(re.escape(headline.strip()) + r"[\s\u00a0]+", first_line)
        if m:
            lines[0] = first_line[m.end() :]
            return "\n".join(lines).strip()
    return body
