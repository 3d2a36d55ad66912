"""The Article record: the one contract between parsing, storage, index and export.

Its JSON form is documented in docs/article-json.md; keys are added, never renamed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Bidirectional embedding/override/isolate controls (the "Trojan Source" set): they reorder what a
#: terminal or an editor shows. The marks LRM, RLM and ALM stay: Arabic text uses them legitimately.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

#: Lone surrogates (a page's JSON-LD escape ``"\\ud800"`` decodes to one): no UTF-8 encodes them, so an
#: article holding one could be neither digested nor stored. Each becomes U+FFFD, as undecodable bytes do.
SURROGATES = "\ud800-\udfff"
#: Removed from every text field: C0 controls but tab and newline, DEL, C1 controls, bidi controls.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + BIDI_CONTROLS + SURROGATES + "]")
#: Unicode's own line and paragraph separators: line breaks to str.splitlines, editors and JSON readers.
LINE_SEPARATORS = "\u2028\u2029"
#: ... and from one-line fields (URLs, language, site, names, tags) line breaks and tabs too.
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f" + BIDI_CONTROLS + LINE_SEPARATORS + SURROGATES + "]")
#: A language tag (BCP 47's shape: ``en``, ``pt-BR``, ``zh-Hant-TW``); anything else in ``lang`` is dropped.
_LANG_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")

#: Article fields that may hold several lines; every other text is one line.
_MULTILINE_FIELDS = frozenset({"body", "description"})


_LONE_SURROGATE = re.compile(f"[{SURROGATES}]")


def without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate as U+FFFD (what clean_text leaves of one); the text itself when none."""
    return text if text.isascii() or not _LONE_SURROGATE.search(text) else _LONE_SURROGATE.sub("\ufffd", text)


def clean_text(value: str, *, one_line: bool = False) -> str:
    """Text from a page without the characters a terminal or editor would obey (see BIDI_CONTROLS).

    Carriage returns become newlines in multi-line text; in one-line text, line breaks and tabs
    become spaces. Text with nothing to clean is returned as it is (one regex scan).
    """
    pattern = _UNSAFE_ONE_LINE if one_line else _UNSAFE
    if pattern.search(value) is None:
        return value
    if one_line:
        return pattern.sub(lambda m: " " if m.group() in "\t\n\r" + LINE_SEPARATORS else _removed(m.group()), value)
    return pattern.sub(lambda m: "\n" if m.group() == "\r" else _removed(m.group()), value.replace("\r\n", "\n"))


def _removed(char: str) -> str:
    """What clean_text leaves of an unsafe character: nothing, or U+FFFD for a lone surrogate."""
    return "\ufffd" if "\ud800" <= char <= "\udfff" else ""


def _clean_json(value: Any) -> Any:
    """``extra``: every string inside (keys too), cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k), one_line=True): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    return value


#: Version of the JSON form. Bumped when keys are added; existing keys never change meaning.
ARTICLE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Image:
    """An image that belongs to the article (lead image first)."""

    url: str
    caption: str | None = None


@dataclass(frozen=True)
class RelatedLink:
    """A link the newsroom attached to the article (e.g. an inline "Read more:")."""

    title: str
    url: str


@dataclass(frozen=True)
class ParserInfo:
    """Which parser produced the article, and which version of it."""

    name: str
    version: str


@dataclass(frozen=True)
class Capture:
    """Where the raw page behind the article is kept, byte for byte."""

    warc: str
    offset: int
    length: int
    status: int
    digest: str


def article_id(canonical_url: str) -> str:
    """Stable article id: the first 16 hex digits of SHA-256 of the canonical URL."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Article:
    """One news article, as parsed from one captured page.

    Only ``url``, ``headline`` and ``body`` are mandatory; every other field may be
    empty. Dates are timezone-aware datetimes. ``body`` is plain text with paragraphs
    separated by one blank line; headings inside the body are kept as paragraphs.
    """

    url: str
    headline: str
    body: str
    canonical_url: str = ""
    id: str = ""
    site: str = ""
    byline: tuple[str, ...] = ()
    source: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    description: str | None = None
    section: str | None = None
    series: str | None = None
    tags: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    related: tuple[RelatedLink, ...] = ()
    lang: str | None = None
    parser: ParserInfo | None = None
    fetched_at: datetime | None = None
    capture: Capture | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Frozen dataclass: fill derived keys through object.__setattr__ so that every
        # constructed Article is complete, whoever built it.
        for name in ("byline", "tags", "images", "related"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if not self.canonical_url:
            object.__setattr__(self, "canonical_url", self.url)
        if self.site:  # the JSON contract's form (docs/article-json.md), as --site and site: compare it
            site = self.site.strip().lower()
            site = site[4:] if site.startswith("www.") else site
            if site != self.site:
                object.__setattr__(self, "site", site)
        if not self.id:
            object.__setattr__(self, "id", article_id(self.canonical_url))
        for name in ("published", "updated", "fetched_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"Article.{name} must be timezone-aware, got {value!r}")

    def replace(self, **changes: Any) -> Article:
        """A copy with some fields changed (the id follows a changed canonical_url)."""
        if "canonical_url" in changes and "id" not in changes:
            changes["id"] = ""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (docs/article-json.md), as plain Python values."""
        return {
            "id": self.id,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "site": self.site,
            "headline": self.headline,
            "byline": list(self.byline),
            "source": self.source,
            "published": _iso(self.published),
            "updated": _iso(self.updated),
            "description": self.description,
            "section": self.section,
            "series": self.series,
            "tags": list(self.tags),
            "body": self.body,
            "images": [{"url": i.url, "caption": i.caption} for i in self.images],
            "related": [{"title": r.title, "url": r.url} for r in self.related],
            "lang": self.lang,
            "parser": dataclasses.asdict(self.parser) if self.parser else None,
            "fetched_at": _iso(self.fetched_at),
            "capture": dataclasses.asdict(self.capture) if self.capture else None,
            "extra": dict(self.extra),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """The JSON form as text (UTF-8 characters kept, not escaped)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (forward compatibility)."""
        parser = data.get("parser")
        capture = data.get("capture")
        return cls(
            id=data.get("id") or "",
            url=data["url"],
            canonical_url=data.get("canonical_url") or "",
            site=data.get("site") or "",
            headline=data["headline"],
            byline=tuple(data.get("byline") or ()),
            source=data.get("source"),
            published=parse_iso(data.get("published")),
            updated=parse_iso(data.get("updated")),
            description=data.get("description"),
            section=data.get("section"),
            series=data.get("series"),
            tags=tuple(data.get("tags") or ()),
            body=data["body"],
            images=tuple(Image(i["url"], i.get("caption")) for i in data.get("images") or ()),
            related=tuple(RelatedLink(r["title"], r["url"]) for r in data.get("related") or ()),
            lang=data.get("lang"),
            parser=ParserInfo(parser["name"], parser["version"]) if parser else None,
            fetched_at=parse_iso(data.get("fetched_at")),
            capture=Capture(**capture) if capture else None,
            extra=dict(data.get("extra") or {}),
        )

    @classmethod
    def from_json(cls, text: str) -> Article:
        return cls.from_dict(json.loads(text))

    def content_digest(self) -> str:
        """Digest of what the article says (not of when or where it was captured).

        Two captures with the same digest are the same version of the article.
        """
        data = self.to_dict()
        for volatile in ("fetched_at", "capture", "parser", "id", "url"):
            data.pop(volatile)
        blob = json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


def clean_article(article: Article) -> Article:
    """The article with :func:`clean_text` applied to every text it holds (nested ones too).

    The one cleaning function of parse time (``parse_html`` and the pipeline after a feed merge call
    it): nothing from a page reaches the store, search, show, stats, facets or export with a terminal
    control or a bidi override in it. The article itself is returned when there is nothing to clean.
    Articles read back from the store are not scanned again (the CLI cleans what it prints anyway).
    """
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(article):
        name = f.name
        value = getattr(article, name)
        if isinstance(value, str):
            cleaned = clean_text(value, one_line=name not in _MULTILINE_FIELDS)
            if cleaned != value:
                changes[name] = cleaned
        elif name in ("byline", "tags"):
            if any(_UNSAFE_ONE_LINE.search(v) for v in value):
                changes[name] = tuple(clean_text(v, one_line=True) for v in value)
        elif name == "images":
            if any(_UNSAFE_ONE_LINE.search(i.url) or (i.caption and _UNSAFE.search(i.caption)) for i in value):
                changes[name] = tuple(
                    Image(clean_text(i.url, one_line=True), clean_text(i.caption) if i.caption else i.caption)
                    for i in value
                )
        elif name == "related":
            if any(_UNSAFE_ONE_LINE.search(r.title + r.url) for r in value):
                changes[name] = tuple(
                    RelatedLink(clean_text(r.title, one_line=True), clean_text(r.url, one_line=True)) for r in value
                )
        elif name == "parser" and value is not None:
            if _UNSAFE_ONE_LINE.search(value.name + value.version):
                changes[name] = ParserInfo(*(clean_text(v, one_line=True) for v in (value.name, value.version)))
        elif name == "extra" and value:
            cleaned_extra = _clean_json(value)
            if cleaned_extra != value:
                changes[name] = cleaned_extra
    lang = changes.get("lang", article.lang)
    if lang is not None and not _LANG_TAG.fullmatch(lang):
        changes["lang"] = None  # 'en\u2028x', a sentence in a lang attribute: no language tag at all
    if "canonical_url" in changes or ("url" in changes and article.canonical_url == article.url):
        changes.setdefault("canonical_url", clean_text(article.canonical_url, one_line=True))
        changes["id"] = ""  # derived again from the clean canonical URL
    return dataclasses.replace(article, **changes) if changes else article


#: The top-level keys of the JSON form, in order. docs/article-json.md documents exactly these.
ARTICLE_JSON_KEYS: tuple[str, ...] = (
    "id", "url", "canonical_url", "site", "headline", "byline", "source", "published", "updated",
    "description", "section", "series", "tags", "body", "images", "related", "lang", "parser",
    "fetched_at", "capture", "extra",
)  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def parse_iso(value: str | None) -> datetime | None:
    """A date of the article's JSON form (ISO 8601, as ``to_dict`` writes it); None for none."""
    return datetime.fromisoformat(value) if value else None
