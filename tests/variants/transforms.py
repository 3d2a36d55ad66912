"""Markup transforms of a fixture page: other plausible renditions of the same article.

Every transform works on an lxml tree (never on text with regexes) and is seeded: ``fn(tree, rng)``
changes the tree in place and returns False when it does not apply to the page (no ticker to move, say).
Serialisation is part of the rendition too: :func:`serialize` writes a tree minified, pretty-printed
(optionally with CRLF), with attributes reordered and quoted differently.

What a transform knows about a fixture (which box is the ticker, which links are tags) it reads off the
*original* page by its markup; the parser under test is never consulted.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html

from newsarchive.parse.rules import common_ancestor

HtmlElement = lxml_html.HtmlElement
Transform = Callable[[HtmlElement, random.Random], bool]

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                  "track", "wbr"})  # fmt: skip
RAW = frozenset({"script", "style"})
PRESERVE = frozenset({"pre", "textarea", "script", "style"})
BLOCK = frozenset({
    "html", "head", "body", "div", "section", "article", "aside", "nav", "header", "footer", "main", "p", "h1",
    "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "figure", "figcaption", "blockquote",
    "table", "thead", "tbody", "tr", "td", "th", "form", "noscript", "title", "meta", "link", "script", "style",
    "hr", "pre", "iframe", "video", "template",
})  # fmt: skip
#: Block elements whose children are laid out as blocks (whitespace between block children never renders).
_ASCII_WS = " \t\r\n\f"

# ---- Which parts of a fixture are what (read off the original markup) ---------------------------------------

TICKER_XPATH = "//*[contains(concat(' ', normalize-space(@class), ' '), ' breaking-news ')]"
RECIRC_CLASSES = ("related-news", "most-read", "read-next", "coverage-list", "PopularPosts", "related-posts",
                  "FeaturedPost")  # fmt: skip
SIDEBAR_XPATH = (
    "//aside[not(.//h1)] | //*[contains(concat(' ', normalize-space(@class), ' '), ' sidebar ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' sidebar-container ')]"
    " | //*[@id='sidebar-wrapper']"
)
TAG_HREF = re.compile(r"/tags?/|/search/label/")
TICKER_ARRAY = re.compile(r"=\s*(\[.*?\])\s*;", re.S)


def has_class(el: HtmlElement, token: str) -> bool:
    return token in (el.get("class") or "").split()


def _by_class(tree: HtmlElement, token: str) -> list[HtmlElement]:
    return tree.xpath(f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {token} ')]")


def ticker_items(tree: HtmlElement) -> list[str]:
    """The ticker lines of a page: rendered items, else the JSON array a script fills the ticker from."""
    out: list[str] = []
    for box in tree.xpath(TICKER_XPATH):
        out += [" ".join(li.text_content().split()) for li in box.xpath(".//li | .//p")]
    for script in tree.xpath("//script[not(@src)]"):
        text = script.text or ""
        if "BREAKING" in text or "ticker" in text:
            m = TICKER_ARRAY.search(text)
            if m:
                with contextlib.suppress(ValueError):
                    out += [str(x) for x in json.loads(m.group(1))]
    return [t for t in out if t]


def recirculation_boxes(tree: HtmlElement) -> list[HtmlElement]:
    boxes = [el for token in RECIRC_CLASSES for el in _by_class(tree, token)]
    boxes += tree.xpath("//*[contains(@class, 'p-content')]//aside")
    return [b for b in boxes if not any(a in boxes for a in b.iterancestors())]


def tag_links(tree: HtmlElement, tags: tuple[str, ...]) -> list[HtmlElement]:
    """The links of the rendered tag list: the first link to a tag page whose text is each of the article's tags
    (a sidebar label cloud links the same pages, wherever the sidebar sits: it is not the article's tag list)."""
    want = {t.casefold() for t in tags}
    links = []
    sidebars = set(tree.xpath(SIDEBAR_XPATH + " | //*[contains(concat(' ', normalize-space(@class), ' '), ' Label ')]"))
    for a in tree.iter("a"):
        if any(anc in sidebars for anc in a.iterancestors()):
            continue
        text = " ".join(a.text_content().split()).lstrip("#").strip().casefold()
        rel = (a.get("rel") or "").split()
        if text in want and (TAG_HREF.search(a.get("href") or "") or "tag" in rel):
            links.append(a)
            want.discard(text)
    return links


def _token(rng: random.Random, prefix: str = "x") -> str:
    return f"{prefix}-{rng.getrandbits(24):06x}"


def _make(tag: str, text: str | None = None, **attrs: str) -> HtmlElement:
    el = lxml_html.Element(tag)
    for k, v in attrs.items():
        el.set(k.rstrip("_").replace("_", "-"), v)
    if text is not None:
        el.text = text
    return el


def _body(tree: HtmlElement) -> HtmlElement:
    body = tree.find("body")
    return body if body is not None else tree


# ---- Tree transforms ----------------------------------------------------------------------------------------


def extra_class_tokens(tree: HtmlElement, rng: random.Random) -> bool:
    """Every class attribute: tokens shuffled, one or two meaningless tokens added."""
    for el in tree.iter():
        if isinstance(el.tag, str) and el.get("class"):
            tokens = el.get("class", "").split()
            tokens += [_token(rng, "u") for _ in range(rng.randint(1, 2))]
            rng.shuffle(tokens)
            el.set("class", " ".join(tokens))
    return True


_WRAPPABLE_PARENTS = frozenset({"div", "section", "article", "body", "main", "aside", "header", "footer"})


_WRAPPABLE = BLOCK - {"li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "script", "style", "meta", "link",
                     "title", "head", "html", "body", "noscript"}  # fmt: skip


def wrappers(tree: HtmlElement, rng: random.Random) -> bool:
    """Extra wrapper elements: random blocks wrapped in a div/section, runs of paragraphs grouped."""
    candidates = [
        el for el in _body(tree).iter()
        if isinstance(el.tag, str) and el.tag in _WRAPPABLE
        and el.getparent() is not None and el.getparent().tag in _WRAPPABLE_PARENTS
    ]  # fmt: skip
    if not candidates:
        return False
    for el in rng.sample(candidates, min(len(candidates), rng.randint(3, 10))):
        _wrap([el], rng.choice(["div", "div", "section", "div"]), rng)
    # group a run of sibling paragraphs in a div (sub-sections of a body)
    runs = [p for p in _body(tree).iter("p") if p.getparent() is not None and p.getparent().tag in {"div", "section"}]
    if runs:
        start = rng.choice(runs)
        group = [start]
        nxt = start.getnext()
        while nxt is not None and nxt.tag == "p" and len(group) < 3:
            group.append(nxt)
            nxt = nxt.getnext()
        _wrap(group, "div", rng)
    return True


def _wrap(elements: list[HtmlElement], tag: str, rng: random.Random) -> None:
    first = elements[0]
    parent = first.getparent()
    if parent is None:
        return
    wrapper = _make(tag, class_=_token(rng, "wrap"))
    parent.insert(parent.index(first), wrapper)
    tail = elements[-1].tail
    for el in elements:
        wrapper.append(el)  # moves el, with its tail
    elements[-1].tail = None
    wrapper.tail = tail


def sidebar_first(tree: HtmlElement, rng: random.Random) -> bool:
    """Sidebars moved before the article column (first child of their parent)."""
    sidebars = tree.xpath(SIDEBAR_XPATH)
    sidebars = [s for s in sidebars if not any(a in sidebars for a in s.iterancestors())]
    moved = False
    for side in sidebars:
        parent = side.getparent()
        if parent is not None and parent.index(side) > 0:
            parent.insert(0, side)
            moved = True
    return moved


def _ticker_box(tree: HtmlElement) -> HtmlElement | None:
    boxes = tree.xpath(TICKER_XPATH)
    return boxes[0] if boxes else None


def ticker_script(tree: HtmlElement, rng: random.Random) -> bool:
    """The ticker injected by script: items in a JS array, an empty container, a ``<noscript>`` copy."""
    box = _ticker_box(tree)
    items = ticker_items(tree)
    if box is None or not items:
        return False
    label = next((t.strip() for t in box.itertext() if t.strip()), "BREAKING")
    for child in list(box):
        box.remove(child)
    box.text = None
    box.append(_make("span", label, class_="breaking-label"))
    holder_id = _token(rng, "tk")
    box.append(_make("div", None, id=holder_id))
    noscript = _make("noscript")
    ul = etree.SubElement(noscript, "ul")
    for item in items:
        etree.SubElement(ul, "li").text = item
    box.append(noscript)
    script = _make("script")
    script.text = (f"var T={json.dumps(items)};document.getElementById({json.dumps(holder_id)}).innerHTML="
                   "T.map(function(t){return '<p>'+t+'</p>'}).join('');")  # fmt: skip
    box.addnext(script)
    return True


def ticker_repeat(tree: HtmlElement, rng: random.Random) -> bool:
    """The ticker repeated after the footer (and, on some seeds, at the top of the article column)."""
    items = ticker_items(tree)
    if not items:
        return False
    box = _make("div", None, class_="breaking-news")
    box.append(_make("span", "BREAKING"))
    ul = etree.SubElement(box, "ul")
    for item in rng.sample(items, len(items)):
        etree.SubElement(ul, "li").text = item
    _body(tree).append(box)
    h1 = tree.find(".//h1")
    if rng.random() < 0.5 and h1 is not None and h1.getparent() is not None:
        h1.addprevious(copy.deepcopy(box))
    return True


def _box_items(box: HtmlElement) -> tuple[str, list[tuple[str, str]]]:
    heading = next((h for h in box.xpath(".//h2 | .//h3 | .//h4 | .//h5 | .//strong")), None)
    title = " ".join(heading.text_content().split()) if heading is not None else ""
    links = []
    for a in box.xpath(".//a[@href]"):
        text = " ".join(a.text_content().split())
        if text and (heading is None or a not in heading.iterdescendants()):
            links.append((text, a.get("href", "")))
    return title, links


def recirculation_markup(tree: HtmlElement, rng: random.Random) -> bool:
    """Recirculation boxes rebuilt as a list, as bare links, or as ``<p>`` inside ``<a>`` (class kept)."""
    boxes = recirculation_boxes(tree)
    if not boxes:
        return False
    for box in boxes:
        title, links = _box_items(box)
        if not links:
            continue
        style = rng.choice(["list", "bare", "p-in-a"])
        for child in list(box):
            box.remove(child)
        box.text = None
        head_tag = rng.choice(["h2", "h3", "h4", "strong", "span", "p"])
        if title:
            box.append(_make(head_tag, title))
        if style == "list":
            ul = etree.SubElement(box, rng.choice(["ul", "ol"]))
            for text, href in links:
                etree.SubElement(ul, "li").append(_make("a", text, href=href))
        elif style == "bare":
            for text, href in links:
                a = _make("a", text, href=href)
                a.tail = " "
                box.append(a)
        else:
            for text, href in links:
                a = _make("a", None, href=href)
                a.append(_make("p", text))
                box.append(a)
    return True


def tags_markup(tree: HtmlElement, rng: random.Random, tags: tuple[str, ...] = ()) -> bool:
    """The tag list as plain links, as paragraphs, or as buttons (the tag box and its class kept)."""
    links = tag_links(tree, tags)
    box = common_ancestor(links)
    if box is None or len(links) < 1:
        return False
    if box in links:
        box = box.getparent()
    items = [(" ".join(a.text_content().split()), a.get("href", ""), a.get("rel")) for a in links]
    style = rng.choice(["links", "paragraphs", "buttons", "button-in-link"])
    for child in list(box):
        box.remove(child)
    box.text = None
    for text, href, rel in items:
        attrs = {"href": href, **({"rel": rel} if rel else {})}
        if style == "links":
            el = _make("a", text, **attrs)
            el.tail = rng.choice([" ", ", ", " · ", "\n"])
        elif style == "paragraphs":
            el = _make("p")
            el.append(_make("a", text, **attrs))
        elif style == "buttons":
            el = _make("button", text, type="button", onclick=f"location.href='{href}'")
        else:
            el = _make("a", None, **attrs)
            el.append(_make("button", text, type="button"))
        box.append(el)
    return True


READ_MORE_LABEL = re.compile(r"^\s*(read more|اقرأ أيضاً|اقرأ أيضا|lee también)\s*:", re.I)


def read_more_markup(tree: HtmlElement, rng: random.Random) -> bool:
    """The newsroom's "Read more:" lines in other markups: the whole line linked, the label in a ``<b>``, a
    ``<div>`` instead of a ``<p>``, or the ``<p>`` inside the link."""
    lines = []
    for p in tree.iter("p"):
        text = " ".join(p.text_content().split())
        m = READ_MORE_LABEL.match(text)
        links = p.xpath(".//a[@href]")
        if m and links:
            title = READ_MORE_LABEL.sub("", " ".join(links[-1].text_content().split())).strip()  # a wholly linked line
            lines.append((p, m.group(1), title, links[-1].get("href", "")))
    for p, label, title, href in lines:
        style = rng.choice(["whole-link", "bold", "div", "p-in-a"])
        if style == "whole-link":
            new = _make("p")
            new.append(_make("a", f"{label}: {title}", href=href))
        elif style == "bold":
            new = _make("p")
            b = _make("b", label)
            b.tail = ": "
            new.append(b)
            new.append(_make("a", title, href=href))
        elif style == "div":
            new = _make("div")
            strong = _make("strong", f"{label}:")
            strong.tail = " "
            new.append(strong)
            new.append(_make("a", title, href=href))
        else:
            new = _make("a", None, href=href)
            new.append(_make("p", f"{label}: {title}"))
        new.tail = p.tail
        p.getparent().replace(p, new)
    return bool(lines)


def class_tokens(tree: HtmlElement) -> list[str]:
    """Every distinct class token used inside ``<body>``, sorted."""
    return sorted({t for el in _body(tree).iter() if isinstance(el.tag, str) for t in (el.get("class") or "").split()})


def rename_tokens(tree: HtmlElement, tokens: set[str], rng: random.Random) -> None:
    mapping = {t: _token(rng, "c") for t in sorted(tokens)}
    for el in tree.iter():
        if isinstance(el.tag, str) and el.get("class"):
            el.set("class", " ".join(mapping.get(t, t) for t in el.get("class", "").split()))


def rename_all(tree: HtmlElement, rng: random.Random) -> bool:
    """A redesign: every class token of the page renamed (consistently)."""
    rename_tokens(tree, set(class_tokens(tree)), rng)
    return True


# ---- Serialisation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """How a tree is written out."""

    minify: bool = False
    pretty: bool = False
    crlf: bool = False
    shuffle_attrs: bool = False
    quotes: str = "double"  # double | single | mixed (unquoted where HTML allows)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_UNQUOTED_OK = re.compile(r"^[A-Za-z0-9_\-.:/]+$")


def _attr(name: str, value: str, quote: str) -> str:
    if quote == "none" and _UNQUOTED_OK.match(value):
        return f"{name}={value}"
    if quote == "single":
        return f"{name}='" + value.replace("&", "&amp;").replace("'", "&#39;") + "'"
    return f'{name}="' + value.replace("&", "&amp;").replace('"', "&quot;") + '"'


def _is_ws(text: str | None) -> bool:
    return not text or not text.strip(_ASCII_WS)


def serialize(tree: HtmlElement, style: Style, rng: random.Random) -> str:
    out: list[str] = ["<!DOCTYPE html>"]
    nl = "\r\n" if style.crlf else "\n"

    def collapse(text: str) -> str:
        return re.sub(r"[ \t\r\n\f]+", " ", text) if style.minify else text

    def write(el: HtmlElement, depth: int, preserve: bool) -> None:
        if not isinstance(el.tag, str):
            if isinstance(el, etree._Comment):
                out.append(f"<!--{el.text or ''}-->")
            return
        tag = el.tag
        items = list(el.attrib.items())
        if style.shuffle_attrs:
            rng.shuffle(items)
        quote = {"double": "double", "single": "single"}.get(style.quotes) or rng.choice(["double", "single", "none"])
        attrs = "".join(" " + _attr(k, v, quote if style.quotes != "mixed" else rng.choice(
            ["double", "single", "none"])) for k, v in items)  # fmt: skip
        out.append(f"<{tag}{attrs}>")
        if tag in VOID:
            return
        keep = preserve or tag in PRESERVE
        children = [c for c in el]
        block_ctx = tag in BLOCK and tag not in {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "td",
                                                  "th", "figcaption", "title", "pre", "script", "style"}  # fmt: skip
        if tag in RAW:
            out.append(el.text or "")
        else:
            _text(el.text, children[0] if children else None, depth + 1, keep, block_ctx)
        for i, child in enumerate(children):
            write(child, depth + 1, keep)
            nxt = children[i + 1] if i + 1 < len(children) else None
            _text(child.tail, nxt, depth + 1 if nxt is not None else depth, keep, block_ctx, after=child)
        out.append(f"</{tag}>")

    def _text(text: str | None, before: HtmlElement | None, depth: int, keep: bool, block_ctx: bool,
              after: HtmlElement | None = None) -> None:  # fmt: skip
        between_blocks = (
            block_ctx
            and _is_ws(text)
            and (
                (before is None or (isinstance(before.tag, str) and before.tag in BLOCK))
                and (after is None or (isinstance(after.tag, str) and after.tag in BLOCK))
            )
        )
        if keep:
            out.append(_escape_text(text or ""))
        elif between_blocks and style.pretty:
            out.append(nl + "  " * depth)
        elif between_blocks and style.minify:
            return
        elif text:
            out.append(_escape_text(collapse(text)))

    write(tree, 0, False)
    text = "".join(out)
    if style.crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text


def parse_fixture(html: str) -> HtmlElement:
    """The tree a transform works on (comments kept, like the page)."""
    return lxml_html.document_fromstring(html)
