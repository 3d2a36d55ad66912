"""Blogger post body -> images and text (helpers of :mod:`newsarchive.parse.sites.blogger`)."""

from __future__ import annotations

import copy
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


# Pruned inside the post body only, by tag and then by class, each group in document order (the order
# decides which sibling keeps a dropped element's tail). ``noscript[.//script]`` never matched once scripts went.
_NOISE_TAGS = {
    tag: i
    for i, tag in enumerate((
        "script", "style", "iframe", "form", "button", "input", "select", "textarea", "object", "embed", "svg", "ins",
    ))
}  # fmt: skip
_NOISE_CLASSES = frozenset({"post-footer", "post-share-buttons", "tr-caption"})
_XML_SPACE = str.maketrans("\t\n\r", "   ")  # what XPath normalize-space() splits class tokens on
# How an element breaks the text: 1 <br>, 2 paragraph, 3 line (block or list item), 4 line after it (cell).
_KIND = {
    **dict.fromkeys((
        "div", "section", "article", "header", "footer", "aside", "nav", "main", "center", "figure", "figcaption",
        "dl", "dt", "dd", "tr", "table", "tbody", "thead", "address", "hr", "details", "summary", "li",
    ), 3),
    **dict.fromkeys(("p", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"), 2),
    "br": 1, "td": 4, "th": 4,
    # Inline tags (kind 0), listed only to skip the name normalization below.
    **dict.fromkeys(("span", "a", "b", "i", "u", "em", "strong", "img", "font", "small", "sup", "sub", "code"), 0),
}  # fmt: skip
# Tags whose deep copy renders exactly as a serialize-and-reparse copy would (checked on saved pages).
_PLAIN_COPY = frozenset({"div", "article", "section", "main", "span", "td", "p"})
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


def render(body: Element) -> str:
    """Post body -> text: one line per editor line / list item, blank line between paragraphs."""
    body = _copy(body)
    alive = _drop_noise(body)  # element proxies kept alive: the walk below reuses them
    lines: list[str] = []
    buf: list[str] = []
    if isinstance(body.tag, str):
        if body.text:
            buf.append(body.text)
        _walk(body, lines, buf)
    _newline(lines, buf)
    del alive
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)


def _drop_noise(body: Element) -> list[Element]:
    groups: list[list[Element]] = [[] for _ in range(len(_NOISE_TAGS) + 1)]
    elements = list(body.iter())
    for el in elements[1:]:  # the body itself stays
        tag = el.tag
        if not isinstance(tag, str):
            continue
        group = _NOISE_TAGS.get(tag)
        if group is None:
            value = el.get("class")
            if not (
                (value and not _NOISE_CLASSES.isdisjoint(value.translate(_XML_SPACE).split(" ")))
                or el.get("id") == "related-posts"
            ):
                continue
            group = len(_NOISE_TAGS)
        groups[group].append(el)
    for group_elements in groups:
        for el in group_elements:
            drop(el)
    return elements


def _newline(lines: list[str], buf: list[str]) -> None:
    if buf:
        text = "".join(buf)
        buf.clear()
        if not text.isspace():  # clean_text() makes blank text ''
            line = clean_text(text)
            if line:
                lines.append(line)


def _walk(el: Element, lines: list[str], buf: list[str]) -> None:
    """Children of ``el`` (with their tails) into ``lines``; ``buf`` holds the line being built."""
    for child in el:
        tag = child.tag
        kind = _KIND.get(tag)
        if kind is None:
            kind = _KIND.get(tag.split("}")[-1].lower(), 0) if isinstance(tag, str) else -1
        if kind == 1:
            line = clean_text("".join(buf)) if buf else ""
            buf.clear()
            lines.append(line)
        elif kind == 2:
            if buf:
                _newline(lines, buf)
            lines.append("")
        elif kind == 3 and buf:
            _newline(lines, buf)
        if kind >= 0:
            if child.text:
                buf.append(child.text)
            if len(child):
                _walk(child, lines, buf)
        if kind == 2:
            if buf:
                _newline(lines, buf)
            lines.append("")
        elif kind >= 3 and buf:
            _newline(lines, buf)
        if child.tail:
            buf.append(child.tail)


def render_template(body: Element) -> str:
    """Bodies that ship only inside ``<script type='text/template'>`` (Google corporate blogs)."""
    for script in _TEMPLATES(body):
        text = (script.text or "").strip()
        if text:
            return render(lxml_html.fragment_fromstring(text, create_parent="div"))
    return ""


def _copy(el: Element) -> Element:
    """A detached copy of ``el``, as ``lxml.html.fromstring(tostring(el))`` would give it."""
    if el.tag not in _PLAIN_COPY:  # head, raw-text and other odd elements: the slow, literal way
        return lxml_html.fromstring(lxml_html.tostring(el, encoding="unicode"))
    clone = copy.deepcopy(el)
    if clone.tail and clone.tail.strip():  # fromstring() wraps an element followed by text
        wrapper = lxml_html.Element("div")
        wrapper.append(clone)
        return wrapper
    clone.tail = None
    return clone


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
