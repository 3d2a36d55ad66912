"""trafilatura's main-text cascade, run on a tree we already have, without the work we do not use.

``TrafilaturaRun(tree, url).text(fast=...)`` returns what
``trafilatura.extract(tree, url=url, include_comments=False, include_tables=True, deduplicate=False,
fast=fast) or ""`` returns (tests/test_generic_trafilatura_text.py checks it, page for page), cheaper:

- the tree is copied once and pruned once for both runs (``extract`` copies the tree three times a run:
  once for itself, once to clean it, once as a backup that only the full cascade reads), and the pruned
  copy is handed to readability's second opinion afterwards (``take_raw``);
- the raw-tree prunes (infinite-scroll containers, share buttons, comment sections) and the page-text
  measure of the recall escalation (``html2txt``, whose cleaning XPath runs a regular expression on
  every element) select their elements in one Python walk with compiled regular expressions instead
  of EXSLT ``re:test`` callbacks, which call back into Python for every element tested (a sixth of
  trafilatura's time on the dev pages went there);
- the whole cascade reuses the main extractor's run of the fast one when that run did not read ``fast``;
- its options objects are built once, and nothing is serialised but the text.

Everything else is trafilatura's own code (its main extractor, its comparison with its readability
port and jusText, its baseline and recall retry). The selectors are trafilatura's: when the
installed trafilatura's XPath expressions differ from the ones written here (another version), its
XPaths are used as they are; when its internals cannot be imported at all, ``trafilatura.extract``
runs instead.
"""

from __future__ import annotations

import re
from copy import copy, deepcopy
from typing import Any
from unicodedata import normalize

import trafilatura
from lxml import html as lxml_html

try:  # trafilatura's internals; any other layout runs trafilatura.extract as it is
    from trafilatura import core as _core
    from trafilatura.baseline import _spaced_text
    from trafilatura.baseline import baseline as _baseline
    from trafilatura.external import compare_extraction, justext_rescue
    from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
    from trafilatura.main_extractor import extract_content
    from trafilatura.settings import BASIC_CLEAN_XPATH, Extractor
    from trafilatura.xml import delete_element, xmltotxt
    from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH

    _forum_thread_page = _core._forum_thread_page
    _ESCALATION = (
        _core.ESCALATION_MAX_LENGTH,
        _core.ESCALATION_PAGE_SHARE,
        _core.ESCALATION_ACCEPT_RATIO,
        _core.ESCALATION_JUSTEXT_RATIO,
    )
    _INTERNALS = True
except (ImportError, AttributeError):  # pragma: no cover - another trafilatura release
    _INTERNALS = False

__all__ = ["TrafilaturaRun"]


def _squash(xpath: str) -> str:
    return " ".join(xpath.split())


# The XPath expressions of trafilatura 2.3 that the walks below evaluate, as they print.
_RAW_PRUNE_PATHS = (
    ".//*[self::div or self::section or self::aside][ re:test(@id, 'mvp-post-add-(?:box|wrap)|infinite-?scroll') "
    "or re:test(@class, 'mvp-post-add-(?:box|wrap)|infinite-?scroll')][ not(.//h1) or "
    "re:test(@id, 'mvp-post-add-(?:box|wrap)') or re:test(@class, 'mvp-post-add-(?:box|wrap)')]",
    ".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]",
)
_COMMENTS_PRUNE_PATH = (
    ".//*[self::div or self::list or self::section or self::details or self::ol or self::ul][ "
    "re:test(@id, '^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)') or "
    "re:test(@class, '^[Cc]omment(?!ary)|(?:article|post)-comments')][ not(self::ol or self::ul) or "
    "re:test(@id, '^(?:[Cc]omment(?!ary)|comol)') or re:test(@class, '^[Cc]omment(?!ary)|(?:article|post)-comments')]"
)
_COOKIE = (
    "cookie[-_]?(?:banner|bar|consent|law|notice|policy|description)|notice[-_]{0,2}cookie"
    "|consent[-_]?(?:banner|manager|sdk)|borlabs|cookiebot|cmplz|onetrust|moove[-_]?gdpr"
)
_BASIC_CLEAN_PATH = (
    ".//aside|.//div[contains(@class|@id, 'footer')]|.//fencedframe|.//footer|.//script|.//style|.//svg|"
    f".//template|.//*[re:test(@class, '{_COOKIE}', 'i') or re:test(@id, '{_COOKIE}', 'i')]"
)

_SCROLL = re.compile(r"mvp-post-add-(?:box|wrap)|infinite-?scroll")
_ADD_BOX = re.compile(r"mvp-post-add-(?:box|wrap)")
_SCROLL_TAGS = frozenset({"div", "section", "aside"})
_COMMENT_ID = re.compile(r"^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)")
_COMMENT_LIST_ID = re.compile(r"^(?:[Cc]omment(?!ary)|comol)")
_COMMENT_CLASS = re.compile(r"^[Cc]omment(?!ary)|(?:article|post)-comments")
_COMMENT_TAGS = frozenset({"div", "list", "section", "details", "ol", "ul"})
_COOKIE_RE = re.compile(_COOKIE, re.IGNORECASE)
_BASIC_CLEAN_TAGS = frozenset({"aside", "fencedframe", "footer", "script", "style", "svg", "template"})

if _INTERNALS:
    _WALK_RAW = tuple(_squash(x.path) for x in RAW_TREE_PRUNE_XPATH) == _RAW_PRUNE_PATHS
    _WALK_COMMENTS = tuple(_squash(x.path) for x in REMOVE_COMMENTS_AND_LISTS_XPATH) == (_COMMENTS_PRUNE_PATH,)
    _WALK_BASIC = _squash(BASIC_CLEAN_XPATH.path) == _BASIC_CLEAN_PATH

    class _Options(Extractor):
        """trafilatura's options for our runs, recording whether anything read ``fast``.

        Its main extractor reads it only in its wild-text recovery (on short texts): when it did not, its
        result is the same with or without ``fast``, and the whole cascade reuses the main extractor's run.
        """

        def __init__(self, *, fast: bool) -> None:
            self.fast_read = False
            super().__init__(fast=fast, comments=False, tables=True, dedup=False, output_format="txt")

        @property
        def fast(self) -> bool:
            self.fast_read = True
            return bool(self._fast)

        @fast.setter
        def fast(self, value: bool) -> None:
            self._fast = value

    #: The options of our two runs (extract() builds one per call, reading its config file's values).
    _OPTIONS = {fast: _Options(fast=fast) for fast in (True, False)}


def _raw_prune_matches(tree: lxml_html.HtmlElement, comments: bool) -> list[Any]:
    """What RAW_TREE_PRUNE_XPATH (and, with ``comments``, REMOVE_COMMENTS_AND_LISTS_XPATH) select, in order."""
    out = []
    tags = _SCROLL_TAGS | _COMMENT_TAGS if comments else _SCROLL_TAGS
    for el in tree.iter(*tags):  # in document order; the root (<html>) is never one of them
        ident, cls = el.get("id") or "", el.get("class") or ""
        if not (ident or cls):
            continue
        tag = el.tag
        if tag in _SCROLL_TAGS:
            if (_SCROLL.search(ident) or _SCROLL.search(cls)) and (
                el.find(".//h1") is None or _ADD_BOX.search(ident) or _ADD_BOX.search(cls)
            ):
                out.append(el)
                continue
            if "elementor-share-buttons" in cls:
                out.append(el)
                continue
        if (
            comments
            and tag in _COMMENT_TAGS
            and (_COMMENT_ID.search(ident) or _COMMENT_CLASS.search(cls))
            and (tag not in ("ol", "ul") or _COMMENT_LIST_ID.search(ident) or _COMMENT_CLASS.search(cls))
        ):
            out.append(el)
    return out


def _basic_clean_matches(body: lxml_html.HtmlElement) -> list[Any]:
    """What trafilatura's BASIC_CLEAN_XPATH selects under ``body``, in document order."""
    out = []
    it = body.iter()
    next(it)
    for el in it:
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag in _BASIC_CLEAN_TAGS:
            out.append(el)
            continue
        cls, ident = el.get("class"), el.get("id")
        if cls is None and ident is None:
            continue
        if tag == "div":
            # contains(@class|@id, 'footer'): the string of the first of the two in the markup
            first = next(value for name, value in el.items() if name in ("class", "id"))
            if "footer" in first:
                out.append(el)
                continue
        if (cls is not None and _COOKIE_RE.search(cls)) or (ident is not None and _COOKIE_RE.search(ident)):
            out.append(el)
    return out


def _html2txt_length(tree: lxml_html.HtmlElement) -> int:
    """``len(trafilatura.baseline.html2txt(tree))``, its cleaning XPath evaluated by _basic_clean_matches."""
    tree = copy(tree)
    body = tree.find(".//body")
    if body is None:
        body = tree
    for el in _basic_clean_matches(body) if _WALK_BASIC else BASIC_CLEAN_XPATH(body):
        delete_element(el)
    return len(_spaced_text(body))


class TrafilaturaRun:
    """trafilatura's cascade on one page's tree; the tree given is not changed."""

    def __init__(self, tree: lxml_html.HtmlElement, url: str | None) -> None:
        self.tree = tree
        self.url = url
        self._raw: lxml_html.HtmlElement | None = None
        self._page_length: int | None = None
        #: The main extractor's result per focus ("balanced", "recall"), and whether it read ``fast``.
        self._main: dict[str, tuple[Any, str, bool]] = {}

    @property
    def raw(self) -> lxml_html.HtmlElement:
        """A copy of the tree with trafilatura's raw-tree prunes done (what its stages all read)."""
        if self._raw is None:
            self._raw = self.pruned_copy()
        return self._raw

    def take_raw(self) -> lxml_html.HtmlElement:
        """The pruned copy, handed over: the caller may change it (a later run makes itself another)."""
        raw, self._raw = self.raw, None
        return raw

    def pruned_copy(self) -> lxml_html.HtmlElement:
        """A new copy of the tree without what trafilatura prunes from the raw tree before any stage:
        infinite-scroll containers of appended articles, share buttons and (off a forum's thread) comment
        sections."""
        raw = copy(self.tree)
        prune_comments = not _forum_thread_page(raw)  # comments off: pruned, but on a forum's thread
        if _WALK_RAW and (_WALK_COMMENTS or not prune_comments):
            for el in _raw_prune_matches(raw, prune_comments):
                delete_element(el)
        else:  # pragma: no cover - another trafilatura release
            raw = prune_unwanted_nodes(raw, RAW_TREE_PRUNE_XPATH)
            if prune_comments:
                raw = prune_unwanted_nodes(raw, REMOVE_COMMENTS_AND_LISTS_XPATH)
        return raw

    def _page_text_length(self) -> int:
        if self._page_length is None:
            self._page_length = _html2txt_length(self.raw)
        return self._page_length

    def _main_extractor(self, options: Any) -> tuple[Any, str]:
        """Stage 1 of trafilatura_sequence, on the raw tree: cleaning, tag conversion, main extractor.

        A result that did not depend on ``fast`` (options.fast_read) is reused by the other run."""
        cached = self._main.get(options.focus)
        if cached is not None and not cached[2]:
            return deepcopy(cached[0]), cached[1]
        cleaned = convert_tags(tree_cleaning(copy(self.raw), options), options, self.url)
        options.fast_read = False
        body, text = extract_content(cleaned, options)
        self._main[options.focus] = (deepcopy(body), text, options.fast_read)
        return body, text

    def _extract_and_compare(self, options: Any, fast: bool) -> tuple[Any, str]:
        """Stages 1-2 of trafilatura_sequence: main extractor, then (not fast) the external comparison."""
        body, text = self._main_extractor(options)
        if not fast:
            backup = tree_cleaning(copy(self.raw), options)  # the cleaned tree before tag conversion
            body, text = compare_extraction(backup, copy(self.raw), body, text, options)
        return body, text

    def text(self, *, fast: bool) -> str:
        """The text trafilatura.extract gives (``fast``: its main extractor alone), '' for none."""
        if not _INTERNALS:  # pragma: no cover - another trafilatura release
            out = trafilatura.extract(
                self.tree, url=self.url, include_comments=False, include_tables=True, deduplicate=False, fast=fast
            )
            return out or ""
        options = _OPTIONS[fast]
        raw = self.raw
        body, text = self._extract_and_compare(options, fast)
        # 3. rescue: baseline on the raw tree, taken only if it adds text
        if len(text) < options.min_extracted_size:
            b_body, b_text, b_len = _baseline(raw)
            if b_len > len(text):
                body, text = b_body, b_text
        # 4. recall escalation: a short text covering little of the page is retried in recall mode
        max_length, page_share, accept_ratio, justext_ratio = _ESCALATION
        if 0 < len(text) < max_length and len(text) < page_share * self._page_text_length():
            r_options = copy(options)
            r_options.focus = "recall"
            r_text = j_text = ""
            try:
                r_body, r_text = self._extract_and_compare(r_options, fast)
            except Exception:  # pragma: no cover - as trafilatura: a failed retry is no retry
                r_text = ""
            if not fast:
                try:
                    j_body, j_text = justext_rescue(copy(raw), options)
                except Exception:  # pragma: no cover
                    j_text = ""
            if len(j_text) > len(r_text) and len(j_text) > justext_ratio * len(text):
                body, text = j_body, j_text
            elif len(r_text) >= options.min_extracted_size and len(r_text) > accept_ratio * len(text):
                body, text = r_body, r_text
        if len(text) < options.min_output_size:
            return ""
        return normalize("NFC", xmltotxt(body, options.formatting).strip())
