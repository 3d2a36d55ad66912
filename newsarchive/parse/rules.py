"""Extraction rules as data, and the small interpreter site modules share.

A site module states each concept (headline, body container, tag list, what to remove, ...) as an ordered
tuple of rules. A rule is a ``(kind, argument)`` pair; the first rule that finds something wins
(:func:`find_all`), or every rule contributes (:func:`find_union`, for removals). Rules end in signals that
survive a redesign: metadata blocks for values, link URL patterns, label and heading texts, structure.

Element rules (evaluated under a scope element):

``("css", "div.p-content")``
    a CSS selector (class tests match one token among any others).
``("xpath", ".//h1")``
    an XPath expression relative to the scope.
``("heading", regex)``
    a box whose first text matches ``regex`` (full match, case-insensitive) and whose other text is mostly
    link text: a recirculation box ("Related News", "Most Read", ...), whatever its tag or class.
``("label", regex)``
    the innermost block whose whole text starts with ``regex`` ("Source: ...", "Read more: ...").
``("links", regex)``
    links (``href``, ``data-href`` or ``onclick``) whose target matches ``regex``, e.g. ``/tags/``.
``("link-box", regex)``
    the innermost container holding all links whose target matches ``regex`` (a tag box).
``("headed", regex)``
    the innermost box that a label matching ``regex`` opens and that holds more than the label (a ticker:
    "BREAKING" then its items), never a box holding the page's ``<h1>``.
``("link-list", "")``
    a box of two or more links and (nearly) nothing else: recirculation inside a body, whatever its markup.
``("densest", "")``
    the element holding the most text in its direct ``<p>`` children (a body container found by structure).

Value rules (return a string):

``("data", key)``
    a key of the site's own metadata dict passed by the caller (Al Mayadeen's ``tawsiyat``).
``("meta", key)``
    ``<meta property|name=key content>``.
``("jsonld", key)``
    a key of the page's article JSON-LD object (a string or a ``{"name": ...}`` object).
``("text", rule)``
    the cleaned text of the first element an element rule (given as a nested rule) finds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml import etree
from lxml import html as lxml_html
from lxml.cssselect import CSSSelector

from newsarchive.parse.dom import clean_text
from newsarchive.parse.metadata import article_json_ld

HtmlElement = lxml_html.HtmlElement
Rule = tuple[str, Any]
Rules = tuple[Rule, ...]

#: Elements that can hold a box of links or a labelled line.
BOX_TAGS = ("div", "section", "aside", "ul", "ol", "nav", "article", "footer", "header", "figure", "table", "details")
LINE_TAGS = ("li", "span", "div", "p", "dd", "dt", "small", "time", "td")
#: A heading box is recirculation when at least this share of its text (past the heading) is link text.
LINK_BOX_MIN_SHARE = 0.6
#: A ``link-list`` box: at least this share of its text is link text.
LINK_LIST_MIN_SHARE = 0.9
#: A ``densest`` container needs at least this much paragraph text.
DENSEST_MIN_CHARS = 80

_BOX_TAGS = frozenset(BOX_TAGS)
_BOX_XPATH = " | ".join(f".//{t}" for t in BOX_TAGS)
_LINE_XPATH = " | ".join(f".//{t}" for t in LINE_TAGS)
#: ``re:test(@href, 'pattern')`` in XPath rules (EXSLT regular expressions).
_NAMESPACES = {"re": "http://exslt.org/regular-expressions"}
_DENSE_TAGS = frozenset({"div", "section", "article", "main", "td"})
_ONCLICK_URL = re.compile(r"""['"]([^'"]+)['"]""")


@cache
def _xpath(expr: str) -> etree.XPath:
    return etree.XPath(expr, namespaces=_NAMESPACES)


_SIMPLE_STEP = re.compile(r"^descendant-or-self::(\*|\w+)\[([^\[\]]*)\]$")
_CLASS_TEST = re.compile(r"contains\(concat\(' ', normalize-space\(@class\), ' '\), ' ([^' ]+) '\)")


@cache
def _css(selector: str) -> etree.XPath:
    """A CSS selector as XPath, each class-token test preceded by a cheap substring test."""
    expr = _CLASS_TEST.sub(lambda m: f"(contains(@class, '{m.group(1)}') and {m.group(0)})", CSSSelector(selector).path)
    parts = [_SIMPLE_STEP.match(part) for part in expr.split(" | ")]
    if len(parts) > 1 and all(parts):  # "a.x, .y" -> one scan of the tree testing either, not one scan each
        tests = [f"(self::{m[1]} and {m[2]})" if m[1] != "*" else f"({m[2]})" for m in parts if m]
        expr = "descendant-or-self::*[" + " or ".join(tests) + "]"
    return etree.XPath(expr)


_SIMPLE_SELECTOR = re.compile(r"^(\w+)?(?:\.([\w-]+))?(?:#([\w-]+))?$")


@dataclass(frozen=True)
class _Simple:
    """A list of ``tag``, ``.class``, ``tag.class`` and ``#id`` selectors, indexed for a one-walk match."""

    by_token: dict[str, frozenset[str | None]]
    by_id: dict[str, frozenset[str | None]]
    tags: frozenset[str]
    #: When every selector names its element: those element names (lxml filters a walk by name in C).
    named: tuple[str, ...] = ()

    def matches(self, el: HtmlElement) -> bool:
        tag = el.tag
        if tag in self.tags:
            return True
        cls = el.get("class")
        if cls and self.by_token:
            for token in cls.split():
                want = self.by_token.get(token)
                if want is not None and (None in want or tag in want):
                    return True
        if self.by_id:
            want = self.by_id.get(el.get("id") or "")
            if want is not None and (None in want or tag in want):
                return True
        return False


@cache
def _simple(selector: str) -> _Simple | None:
    """``"div.p-content, .tags, #breaking"`` indexed; None for any other CSS (attribute tests, nesting)."""
    by_token: dict[str, set[str | None]] = {}
    by_id: dict[str, set[str | None]] = {}
    tags: set[str] = set()
    for part in selector.split(","):
        m = _SIMPLE_SELECTOR.match(part.strip())
        if not m or not any(m.groups()) or (m[2] and m[3]):
            return None
        if m[2]:
            by_token.setdefault(m[2], set()).add(m[1])
        elif m[3]:
            by_id.setdefault(m[3], set()).add(m[1])
        else:
            tags.add(m[1])
    names = {n for want in (*by_token.values(), *by_id.values()) for n in want} | tags
    named = tuple(sorted(n for n in names if n is not None)) if None not in names else ()
    return _Simple({k: frozenset(v) for k, v in by_token.items()}, {k: frozenset(v) for k, v in by_id.items()},
                   frozenset(tags), named)  # fmt: skip


_META = etree.XPath("/html/head/meta[@property=$key or @name=$key or @itemprop=$key]/@content")


def meta(tree: HtmlElement, key: str) -> str | None:
    """The first non-empty ``<meta property|name|itemprop=key content>``."""
    for found in _META(tree, key=key):
        if str(found).strip():
            return str(found).strip()
    return None


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


def text_of(el: HtmlElement) -> str:
    """The element's text, white space collapsed (scripts and styles are text too: callers drop them)."""
    return clean_text(el.text_content())


def link_target(el: HtmlElement) -> str:
    """Where an element links: ``href``, else ``data-href``, else the first quoted string of ``onclick``."""
    target = el.get("href") or el.get("data-href")
    if target:
        return target.strip()
    m = _ONCLICK_URL.search(el.get("onclick") or "")
    return m.group(1).strip() if m else ""


def first_text(el: HtmlElement) -> str:
    """The first non-blank text node under ``el`` (a box's heading or label), cleaned."""
    for text in el.itertext():
        if text.strip():
            return clean_text(text)
    return ""


def link_share(el: HtmlElement, skip: str = "") -> float:
    """Share of ``el``'s text (less a leading ``skip`` text) that sits inside links."""
    if el.tag == "a" or any(a.tag == "a" for a in el.iterancestors()):
        return 1.0  # a paragraph inside a link is link text
    total = len(text_of(el)) - len(skip)
    if total <= 0:
        return 1.0
    linked = sum(len(text_of(a)) for a in el.xpath(".//a[not(ancestor::a)]"))
    return min(1.0, linked / total)


_TEXT_NODES = etree.XPath(".//text()")
_REGEX_CHARS = re.compile(r"[\\^$.*+?()\[\]{}]")


@cache
def _literals(pattern: str) -> frozenset[str] | None:
    """The phrases of a pattern that is only ``a|b|c`` (lower-cased), else None."""
    if _REGEX_CHARS.search(pattern):
        return None
    return frozenset(p.strip().lower() for p in pattern.split("|"))


def _heading_boxes_of(scope: HtmlElement, rx: re.Pattern[str]) -> list[tuple[HtmlElement, str]]:
    """``(box, heading)`` for every box of ``scope`` whose first text is a heading ``rx`` matches.

    Only the ancestors of a short matching text node can be such a box, so no other box is looked at.
    """
    literals = _literals(rx.pattern)
    if literals is not None:  # a plain list of phrases: a set lookup per short text node, no regex
        if not any(len(t) < 80 and t.strip().rstrip(":：").strip().lower() in literals for t in scope.itertext()):
            return []
    elif not any(len(t) < 80 and rx.fullmatch(t.strip().rstrip(":：").strip()) for t in scope.itertext()):
        return []  # (a cheap pass first: most scopes hold no such heading)
    out = []
    seen: set[HtmlElement] = set()
    for node in _TEXT_NODES(scope):
        head = node.strip()
        if not head or len(head) >= 80 or not rx.fullmatch(head.rstrip(":：").strip()):
            continue
        el = node.getparent()
        if node.is_tail:  # text after an element: boxes start further up
            el = el.getparent() if el is not None else None
        head = clean_text(head)
        while el is not None and el is not scope:
            if el not in seen and el.tag in _BOX_TAGS and first_text(el) == head:
                seen.add(el)
                out.append((el, head))
            elif first_text(el) != head:
                break
            el = el.getparent()
    return out


def _heading_boxes(scope: HtmlElement, pattern: str) -> list[HtmlElement]:
    found = _heading_boxes_of(scope, _regex(pattern))
    return [box for box, head in found if link_share(box, head) >= LINK_BOX_MIN_SHARE]


def _headed_boxes(scope: HtmlElement, pattern: str) -> list[HtmlElement]:
    found = _heading_boxes_of(scope, _regex(pattern))
    hits = [box for box, head in found if len(text_of(box)) > len(head) and not box.xpath(".//h1")]
    outer = {a for el in hits for a in el.iterancestors()}
    return [el for el in hits if el not in outer]


def _link_lists(scope: HtmlElement) -> list[HtmlElement]:
    """Boxes of two or more links and little else: only the boxes around links (up to three levels up)."""
    candidates: dict[HtmlElement, None] = {}
    for a in scope.iter("a"):
        for depth, el in enumerate(a.iterancestors()):
            if el is scope or depth >= 3:
                break
            if el.tag in _BOX_TAGS:
                candidates[el] = None
    return [
        box for box in candidates
        if len(box.xpath(".//a[@href][not(ancestor::a)]")) >= 2 and link_share(box) >= LINK_LIST_MIN_SHARE
    ]  # fmt: skip


def _labelled(scope: HtmlElement, pattern: str) -> list[HtmlElement]:
    rx = _regex(pattern)
    literals = _literals(pattern)
    text = scope.text_content()
    if literals is not None:  # plain phrases: substring tests, no regex over the whole text
        lowered = text.lower()
        if not any(phrase in lowered for phrase in literals):
            return []
    elif not _regex(pattern.removeprefix("^")).search(text):  # the label is nowhere
        return []
    hits = [el for el in _xpath(_LINE_XPATH)(scope) if rx.match(text_of(el))]
    inner = set()
    for el in hits:  # keep the innermost: drop an element when one of its descendants matched too
        for anc in el.iterancestors():
            inner.add(anc)
    return [el for el in hits if el not in inner]


def _links(scope: HtmlElement, pattern: str) -> list[HtmlElement]:
    rx = _regex(pattern)
    out = []
    for el in scope.iter():  # a walk reading three attributes beats two XPath scans on the small scopes used
        if (el.get("href") or el.get("data-href") or el.get("onclick")) and rx.search(link_target(el)):
            out.append(el)
    return out


def common_ancestor(elements: list[HtmlElement]) -> HtmlElement | None:
    """The innermost element holding every one of ``elements`` (itself when there is one)."""
    if not elements:
        return None
    chain = [elements[0], *elements[0].iterancestors()]
    for el in elements[1:]:
        ancestors = {el, *el.iterancestors()}
        chain = [c for c in chain if c in ancestors]
    return chain[0] if chain else None


def _lift(el: HtmlElement) -> HtmlElement:
    """The outermost of a chain of wrappers each holding only ``el``'s chain (``div > section > div.x``)."""
    up = el.getparent()
    while up is not None and up.tag in _DENSE_TAGS and sum(1 for c in up if isinstance(c.tag, str)) == 1:
        el, up = up, up.getparent()
    return el


def _densest(scope: HtmlElement) -> list[HtmlElement]:
    """Readability's idea, small: paragraphs credit their parent; a plain wrapper of a few paragraphs inside
    a container of more paragraphs (a sub-section of a body) credits that container by half, and a
    container split into several plain wrappers gets all of their paragraphs."""
    direct: dict[HtmlElement, list[int]] = {}
    for p in scope.iter("p"):
        text = text_of(p)
        parent = p.getparent()
        if text and parent is not None and link_share(p) < 0.5:
            direct.setdefault(parent, []).append(len(text))
    score: dict[HtmlElement, float] = {}
    count: dict[HtmlElement, int] = {}
    # plain wrappers of paragraphs, lifted through wrappers of a single element (div > section > p...)
    plain = {el: _lift(el) for el in direct if all(c.tag == "p" for c in el if isinstance(c.tag, str))}
    wrappers: dict[HtmlElement, int] = {}  # per container: how many plain wrappers it holds
    for top in plain.values():
        up = top.getparent()
        if up is not None:
            wrappers[up] = wrappers.get(up, 0) + 1
    for parent, sizes in direct.items():
        if parent.tag in _DENSE_TAGS:
            score[parent] = score.get(parent, 0.0) + sum(sizes)
            count[parent] = count.get(parent, 0) + len(sizes)
        if parent not in plain:
            continue
        grand = plain[parent].getparent()
        if grand is None or grand.tag not in _DENSE_TAGS:
            continue
        if wrappers.get(grand, 0) >= 2:  # a body split into several plain wrappers: each is part of it
            weight = 1.0
        elif len(sizes) <= len(direct.get(grand, ())):  # a sub-section beside the body's own paragraphs
            weight = 0.5
        else:
            continue
        score[grand] = score.get(grand, 0.0) + weight * sum(sizes)
        count[grand] = count.get(grand, 0) + len(sizes)
    ranked = [(value * (1.0 if count[el] >= 2 else 0.5), el) for el, value in score.items()]  # several paragraphs
    if not ranked:
        return []
    best_score, best = max(ranked, key=lambda pair: pair[0])
    if best_score < DENSEST_MIN_CHARS:
        return []
    # a plain wrapper of paragraphs followed by more paragraphs is a sub-section: the body is its parent
    parent = best.getparent()
    while parent is not None and all(c.tag == "p" for c in best if isinstance(c.tag, str)):
        nxt = best.getnext()
        if nxt is None or nxt.tag != "p" or not text_of(nxt):
            break
        best, parent = parent, parent.getparent()
    return [best]


def _elements(scope: HtmlElement, rule: Rule) -> list[HtmlElement]:
    kind, arg = rule
    if kind == "css":
        simple = _simple(arg)
        if simple is not None:  # one walk reading two attributes beats the XPath a CSS translator writes
            candidates = scope.iter(*simple.named) if simple.named else scope.iter()
            if simple.tags or simple.by_id:
                return [el for el in candidates if simple.matches(el)]
            return [el for el in candidates if el.get("class") and simple.matches(el)]  # most have no class
        return _css(arg)(scope)  # type: ignore[no-any-return]
    if kind == "xpath":
        return [el for el in _xpath(arg)(scope) if isinstance(el, lxml_html.HtmlElement)]
    if kind == "heading":
        return _heading_boxes(scope, arg)
    if kind == "headed":
        return _headed_boxes(scope, arg)
    if kind == "link-list":
        return _link_lists(scope)
    if kind == "label":
        return _labelled(scope, arg)
    if kind == "links":
        return _links(scope, arg)
    if kind == "link-box":
        box = common_ancestor(_links(scope, arg))
        return [box] if box is not None else []
    if kind == "densest":
        return _densest(scope)
    raise ValueError(f"unknown element rule kind {kind!r}")


def find_all(scope: HtmlElement, rules: Rules) -> list[HtmlElement]:
    """What the first rule that finds anything finds (document order within a rule)."""
    for rule in rules:
        found = _elements(scope, rule)
        if found:
            return found
    return []


def find(scope: HtmlElement, rules: Rules) -> HtmlElement | None:
    """The first element of :func:`find_all`, or None."""
    found = find_all(scope, rules)
    return found[0] if found else None


def find_union(scope: HtmlElement, rules: Rules) -> list[HtmlElement]:
    """Every element any rule finds, outermost only (a box inside another found box is left out)."""
    found: list[HtmlElement] = []
    seen: set[HtmlElement] = set()
    for rule in rules:
        for el in _elements(scope, rule):
            if el not in seen:
                seen.add(el)
                found.append(el)
    return [el for el in found if not any(a in seen for a in el.iterancestors())]


def which(scope: HtmlElement, rules: Rules) -> tuple[Rule | None, list[HtmlElement]]:
    """Like :func:`find_all`, and also the rule that matched (None when none did)."""
    for rule in rules:
        found = _elements(scope, rule)
        if found:
            return rule, found
    return None, []


def value(tree: HtmlElement, rules: Rules, data: Mapping[str, Any] | None = None,
          scope: HtmlElement | None = None) -> str | None:  # fmt: skip
    """The first non-empty string the value rules give (element rules read under ``scope``)."""
    ld: dict[str, Any] | None = None
    for kind, arg in rules:
        found: Any = None
        if kind == "data":
            found = (data or {}).get(arg)
        elif kind == "meta":
            found = meta(tree, arg)
        elif kind == "jsonld":
            if ld is None:
                ld = article_json_ld(tree) or {}
            found = ld.get(arg)
            if isinstance(found, dict):
                found = found.get("name")
            elif isinstance(found, list) and found:
                found = found[0].get("name") if isinstance(found[0], dict) else found[0]
        elif kind == "text":
            el = find(scope if scope is not None else tree, (arg,))
            found = text_of(el) if el is not None else None
        else:
            raise ValueError(f"unknown value rule kind {kind!r}")
        if isinstance(found, str) and clean_text(found):
            return clean_text(found)
    return None


def drop(elements: Iterable[HtmlElement]) -> None:
    """Remove elements (and their content) from the tree, keeping the text that follows each."""
    for el in elements:
        if el.getparent() is not None:
            el.drop_tree()
