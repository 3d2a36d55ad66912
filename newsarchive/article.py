"""The Article record: the one contract between parsing, storage, index and export.

Its JSON form is documented in docs/article-json.md; keys are added, never renamed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
        if not self.canonical_url:
            object.__setattr__(self, "canonical_url", self.url)
        if not self.id:
            object.__setattr__(self, "id", article_id(self.canonical_url))
        for name in ("byline", "tags", "images", "related"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
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
            published=_parse_iso(data.get("published")),
            updated=_parse_iso(data.get("updated")),
            description=data.get("description"),
            section=data.get("section"),
            series=data.get("series"),
            tags=tuple(data.get("tags") or ()),
            body=data["body"],
            images=tuple(Image(i["url"], i.get("caption")) for i in data.get("images") or ()),
            related=tuple(RelatedLink(r["title"], r["url"]) for r in data.get("related") or ()),
            lang=data.get("lang"),
            parser=ParserInfo(parser["name"], parser["version"]) if parser else None,
            fetched_at=_parse_iso(data.get("fetched_at")),
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


#: The top-level keys of the JSON form, in order. docs/article-json.md documents exactly these.
ARTICLE_JSON_KEYS: tuple[str, ...] = (
    "id", "url", "canonical_url", "site", "headline", "byline", "source", "published", "updated",
    "description", "section", "series", "tags", "body", "images", "related", "lang", "parser",
    "fetched_at", "capture", "extra",
)  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
