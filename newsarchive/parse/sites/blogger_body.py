"""Blogger post body -> images and text (helpers of :mod:`newsarchive.parse.sites.blogger`)."""

from __future__ import annotations

import copy
import re
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from newsarchive.article import Image
from newsarchive.parse.dom import clean_lines, clean_text
from newsarchive.parse.metadata import join_url

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
XML_SPACE = str.maketrans("\t\n\r", "   ")  # what XPath normalize-space() splits class tokens on
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
_CAPTION = etree.XPath(f".//*[{cls('tr-caption')}]")
_TEMPLATES = etree.XPath(".//script[@type='text/template']")


def _has_class(el: Element, name: str) -> bool:
    """The class token ``name`` as XPath sees it (tokens split on XML white space)."""
    value = el.get("class")
    if not value:
        return False
    return name in value.translate(XML_SPACE).split(" ")


#: A caption is a line or two: longer text under an image is the post's own.
CAPTION_MAX = 300
_CELLS = ("td", "th")


def caption_of(img: Element) -> Element | None:
    """The element holding the caption of ``img``, whatever its class (Blogger's ``tr-caption`` renamed or not).

    In a table: the cell of the row right under the image's own row, when the image's row has no text, the
    table is small (a caption box of at most 3 rows) and that cell holds short text and no image. In a
    ``<figure>``: its ``<figcaption>``.
    """
    for up, anc in enumerate(img.iterancestors()):
        tag = anc.tag
        if tag == "figure":
            return next(anc.iterchildren("figcaption"), None)
        if tag in _CELLS:
            return _cell_below(anc)
        if up >= 4 or tag in ("p", "li", "table", "tr", "body"):
            return None
    return None


def _cell_below(cell: Element) -> Element | None:
    row = cell.getparent()
    if row is None or row.tag != "tr" or row.text_content().strip():
        return None
    section = row.getparent()
    if section is None or sum(1 for _ in section.iterchildren("tr")) > 3:
        return None
    below = next(row.itersiblings("tr"), None)
    cells = list(below.iterchildren(*_CELLS)) if below is not None else []
    if len(cells) != 1 or next(cells[0].iter("img"), None) is not None:
        return None
    text = cells[0].text_content().strip()
    return cells[0] if text and len(text) <= CAPTION_MAX else None


def images(body: Element, url: str) -> tuple[Image, ...]:
    out: list[Image] = []
    seen: set[str] = set()
    for img in body.iterdescendants("img"):  # one without src or data-src gives '' below: skipped
        src = (img.get("src") or img.get("data-src") or "").strip()
        if not src or src.startswith("data:") or img.get("width") in ("0", "1") or img.get("height") in ("0", "1"):
            continue
        joined = join_url(url, src)
        if joined is None or joined in seen:  # a malformed src (http://[::1/x) is page text, not an image
            continue
        src = joined
        if src in seen:
            continue
        seen.add(src)
        caption = None
        # ancestor::table[cls('tr-caption-container')][1]
        table = next((t for t in img.iterancestors("table") if _has_class(t, "tr-caption-container")), None)
        cap = first(_CAPTION(table)) if table is not None else None
        if cap is None:
            cap = caption_of(img)
        if cap is not None:
            caption = clean_text(cap.text_content())
        out.append(Image(src, caption or None))
    return tuple(out)


def render_post(body: Element) -> str:
    """``render(body) or render_template(body)`` for a body whose page tree is spent afterwards: without
    template scripts (which render() drops), the noise is dropped from ``body`` itself, not from a copy."""
    if any(s.get("type") == "text/template" for s in body.iterdescendants("script")):
        return render(body) or render_template(body)
    return render(body, in_place=True)


def render(body: Element, *, in_place: bool = False) -> str:
    """Post body -> text: one line per editor line / list item, blank line between paragraphs.

    ``in_place``: the noise is dropped from ``body`` itself (rendered as its copy would be).
    """
    root: Element | None = None
    children: tuple[Element, ...] | None = None
    if in_place and body.tag in _PLAIN_COPY:
        if not (body.tail and body.tail.strip()):
            root = body  # as _copy(): the same element without its tail
        elif not _is_noise_box(body):
            root = body  # as _copy(): the element and its tail inside a <div>
            children = (body,)
    if root is None:
        root = _copy(body)
    alive = _drop_noise(root)  # element proxies kept alive: the walk below reuses them
    lines: list[str] = []  # raw lines, cleaned at the end in one pass; '' between paragraphs
    soft: list[int] = []  # lines left out when they clean to nothing (a <br> line stays: a break)
    buf: list[str] = []
    if children is not None:
        _walk(children, lines, buf, soft)
    elif isinstance(root.tag, str):
        if root.text:
            buf.append(root.text)
        _walk(root, lines, buf, soft)
    if buf:
        _newline(lines, buf, soft)
    del alive
    cleaned: list[str | None] = list(clean_lines(lines))
    for i in soft:
        if not cleaned[i]:
            cleaned[i] = None
    paragraphs: list[str] = []
    current: list[str] = []
    for line in cleaned:
        if line:
            current.append(line)
        elif line is not None and current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)


def _is_noise_box(el: Element) -> bool:
    """The class or id _drop_noise() drops an element for."""
    value = el.get("class")
    return bool(value and not _NOISE_CLASSES.isdisjoint(value.translate(XML_SPACE).split(" "))) or (
        el.get("id") == "related-posts"
    )


def _drop_noise(body: Element) -> list[Element]:
    groups: list[list[Element]] = [[] for _ in range(len(_NOISE_TAGS) + 1)]
    elements = list(body.iter())
    captions: list[Element] = []
    for el in elements[1:]:  # the body itself stays
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag == "img":
            cap = caption_of(el)  # an image caption is no post text, whatever its class
            if cap is not None:
                captions.append(cap)
        group = _NOISE_TAGS.get(tag)
        if group is None:
            keys = el.keys()  # one call: most body elements have no attribute
            if not keys:
                continue
            value = el.get("class") if "class" in keys else None
            if not (
                (value and not _NOISE_CLASSES.isdisjoint(value.translate(XML_SPACE).split(" ")))
                or ("id" in keys and el.get("id") == "related-posts")
            ):
                continue
            group = len(_NOISE_TAGS)
        groups[group].append(el)
    if captions:
        noise = set(groups[-1])
        groups[-1] += [c for c in captions if c not in noise]
        groups[-1].sort(key=elements.index)  # document order, as the class matches
    for group_elements in groups:
        for el in group_elements:
            drop(el)
    return elements


def _newline(lines: list[str], buf: list[str], soft: list[int]) -> None:
    """The line being built ends (``buf`` is not empty); blank text makes no line."""
    text = "".join(buf)
    buf.clear()
    if not text.isspace():  # clean_text() makes blank text ''
        soft.append(len(lines))
        lines.append(text)


def _walk(el: Any, lines: list[str], buf: list[str], soft: list[int]) -> None:
    """Children of ``el`` (or the elements of a sequence), with their tails, into ``lines``; ``buf`` holds the
    line being built."""
    for child in el:
        tag = child.tag
        kind = _KIND.get(tag)
        if kind is None:
            kind = _KIND.get(tag.split("}")[-1].lower(), 0) if isinstance(tag, str) else -1
        if kind == 0:  # inline
            if text := child.text:
                buf.append(text)
            if len(child):
                _walk(child, lines, buf, soft)
        elif kind > 0:
            if kind == 1:  # <br>: the line ends, even an empty one (two make a paragraph break)
                lines.append("".join(buf))
                buf.clear()
            elif buf and kind != 4:  # a block starts: the line being built ends
                _newline(lines, buf, soft)
            if kind == 2:
                lines.append("")
            if text := child.text:
                buf.append(text)
            if len(child):
                _walk(child, lines, buf, soft)
            if kind >= 2 and buf:  # the block ends
                _newline(lines, buf, soft)
            if kind == 2:
                lines.append("")
        if tail := child.tail:
            buf.append(tail)


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


#: Blogger's stand-ins for an author whose profile is hidden or gone, on pages and in feeds: never an author.
#: "Unknown" and "Anonymous" are Blogger's English strings [V]; the others are their usual translations [I].
PLACEHOLDER_AUTHORS = frozenset({
    "unknown", "anonymous", "noreply@blogger.com", "unbekannt", "anonym", "inconnu", "anonyme", "desconocido",
    "anónimo", "anonimo", "desconhecido", "anônimo", "sconosciuto", "onbekend", "anoniem", "غير معروف", "مجهول",
})  # fmt: skip
#: The labels a byline line opens with: English and Blogger's "Posted by" in other languages (the Arabic
#: theme fixture shows "بواسطة").
BYLINE_LABEL = (
    r"(?:posted\s+by|written\s+by|by|author|publié\s+par|publicado\s+por|postado\s+por|pubblicato\s+da"
    r"|eingestellt\s+von|geplaatst\s+door|مرسلة\s+بواسطة|بواسطة|بقلم)"
)
_BYLINE_LINE = re.compile(rf"^(?P<label>{BYLINE_LABEL})(?:\s*[:：]\s*|\s+)(?P<names>\S.*)$", re.I | re.S)
#: ", and " starts the next person of a byline ("A, Engineer, Team, and B, Manager"); " and " inside one
#: person's part joins names ("A and B, Engineers").
_NEXT_PERSON = re.compile(r",\s+(?:and|&)\s+", re.I)
_JOINED_NAMES = re.compile(r"\s+(?:and|&|و)\s+", re.I)
_MAX_BYLINE_CHARS = 200


def is_placeholder_author(name: str) -> bool:
    """Blogger's "Unknown" / "Anonymous" (and their translations): not a name."""
    return " ".join(name.split()).casefold() in PLACEHOLDER_AUTHORS


#: Lower-case words a name may hold ("Ludwig van Beethoven", "Abd al-Rahman").
_NAME_PARTICLES = frozenset({"al", "bin", "bint", "da", "de", "del", "della", "der", "di", "du", "el", "ibn", "la",
                             "le", "st.", "van", "von", "y"})  # fmt: skip
#: "By Friday", "By March": a time, not a person.
_NOT_NAMES = frozenset({
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "tomorrow", "january",
    "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
})  # fmt: skip


def _is_name(text: str) -> bool:
    """A person's name as bylines write it: 1-6 capitalised (or caseless) words, no digits, no placeholder."""
    words = text.split()
    return (
        0 < len(words) <= 6
        and len(text) <= 60
        and text[0].isalpha()
        and all(not w[0].islower() or w.lower() in _NAME_PARTICLES for w in words)
        and not any(c.isdigit() for c in text)
        and not is_placeholder_author(text)
        and not (len(words) == 1 and text.lower() in _NOT_NAMES)
    )


def posted_by(line: str) -> tuple[str, ...]:
    """The people a byline line names ("Posted by A, Role, and B, Role" -> (A, B)); () when it is no byline."""
    line = " ".join(line.split())
    m = _BYLINE_LINE.match(line) if len(line) <= _MAX_BYLINE_CHARS else None
    if not m:
        return ()
    text = m["names"]
    if re.search(r"[.!?;]\s", text) or text.endswith(("!", "?", ":")) or (text.endswith(".") and m["label"] == "by"):
        return ()  # a sentence that happens to start with "By"
    text = text.rstrip(" .")
    names: list[str] = []
    for i, part in enumerate(_NEXT_PERSON.split(text)):
        for name in _JOINED_NAMES.split(part.split(",")[0].strip()):
            if _is_name(name):
                names.append(name)
            elif i == 0 and not names:
                return ()  # the line does not open with a name
    return tuple(names)


def split_byline(body: str) -> tuple[tuple[str, ...], str]:
    """The post's own byline line at the top of its body (the people it names), and the body without it."""
    first, _, rest = body.partition("\n")
    names = posted_by(first)
    return (names, rest.strip()) if names else ((), body)


_WORDS = re.compile(r"\w+")


def _norm(text: str) -> str:
    return " ".join(_WORDS.findall(text.casefold()))


def remove_repeated_headline(body: str, headline: str) -> str:
    """Drop the title the post repeats at the top of its own body (as one or several lines)."""
    target = _norm(headline)
    if not target:
        return body
    # The body's lines one by one (most bodies answer at their first line: no split of the whole text).
    acc = ""
    first_norm = None
    start = 0
    while True:
        end = body.find("\n", start)
        line = body[start:] if end < 0 else body[start:end]
        if line.strip():
            norm = _norm(line)
            if start == 0:
                first_norm = norm
            acc = f"{acc} {norm}".strip()
            if acc == target:
                return "" if end < 0 else body[end + 1 :].strip()
            if not target.startswith(acc):
                break
        if end < 0:
            break
        start = end + 1
    first_line = body.partition("\n")[0]
    if (_norm(first_line) if first_norm is None else first_norm).startswith(target + " "):
        # Title run into the first line ("Title!\xa0 First sentence ..."): cut it off at a sentence break.
        m = re.match(re.escape(headline.strip()) + r"[\s\u00a0]+", first_line)
        if m:
            return (first_line[m.end() :] + body[len(first_line) :]).strip()
    return body
