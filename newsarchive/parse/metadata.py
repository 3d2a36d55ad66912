"""The shared metadata cascade: JSON-LD, then OpenGraph / <meta>, then markup.

Site parsers call these helpers for any field their selectors miss.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from lxml import html as lxml_html

from newsarchive.parse.dates import parse_date

LOGGER = logging.getLogger(__name__)

ARTICLE_TYPES = frozenset({
    "NewsArticle", "Article", "BlogPosting", "ReportageNewsArticle", "AnalysisNewsArticle",
    "OpinionNewsArticle", "BackgroundNewsArticle", "Report", "LiveBlogPosting", "TechArticle",
    "ScholarlyArticle", "SocialMediaPosting", "AdvertiserContentArticle", "SatiricalArticle",
    "ReviewNewsArticle", "AskPublicNewsArticle", "Posting", "Blog",
})  # fmt: skip


@dataclass
class Metadata:
    """What the page says about itself, before any body extraction."""

    headline: str | None = None
    description: str | None = None
    byline: list[str] = field(default_factory=list)
    published: Any = None
    updated: Any = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    canonical_url: str | None = None
    lang: str | None = None
    site_name: str | None = None
    article_body: str | None = None
    json_ld_type: str | None = None


def json_ld_objects(tree: lxml_html.HtmlElement) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object on the page, flattening lists and ``@graph``."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        text = (script.text or "").strip()
        if not text:
            continue
        try:
            data = json.loads(text, strict=False)
        except ValueError:
            # CMSs emit trailing commas and raw newlines; try once with those cleaned.
            try:
                data = json.loads(re.sub(r",\s*([}\]])", r"\1", text), strict=False)
            except ValueError:
                LOGGER.debug("unparseable JSON-LD block skipped")
                continue
        yield from _flatten(data)


def _flatten(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _flatten(data["@graph"])
        yield data


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def article_json_ld(tree: lxml_html.HtmlElement) -> dict[str, Any] | None:
    """The page's main article object in JSON-LD, if it has one."""
    for obj in json_ld_objects(tree):
        if _types(obj) & ARTICLE_TYPES:
            return obj
    return None


def _names(value: Any) -> list[str]:
    """Author-like values (str, Person, list of either) -> names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        out: list[str] = []
        for v in value:
            out.extend(_names(v))
        return out
    return []


def split_tags(value: Any) -> list[str]:
    """Keywords as a list, a comma-joined string, or a mix -> clean list, order kept."""
    raw: list[str] = []
    if isinstance(value, str):
        raw = value.split(",")
    elif isinstance(value, list):
        for v in value:
            raw.extend(split_tags(v))
    seen: set[str] = set()
    out = []
    for t in raw:
        t = " ".join(t.split())
        if t and t.lower() not in seen:
            seen.add(t.lower())
            out.append(t)
    return out


def meta_content(tree: lxml_html.HtmlElement, *keys: str) -> str | None:
    """First non-empty <meta property|name|itemprop=key content=...> among keys."""
    for key in keys:
        for attr in ("property", "name", "itemprop"):
            for value in tree.xpath(f'//meta[@{attr}="{key}"]/@content'):
                if value and value.strip():
                    return str(value).strip()
    return None


def meta_all(tree: lxml_html.HtmlElement, key: str) -> list[str]:
    return [str(v).strip() for v in tree.xpath(f'//meta[@property="{key}" or @name="{key}"]/@content') if v.strip()]


def _first_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list) and value:
        return _first_str(value[0])
    if isinstance(value, dict):
        return _first_str(value.get("url") or value.get("@id") or value.get("name"))
    return None


def extract_metadata(tree: lxml_html.HtmlElement, url: str) -> Metadata:
    """Run the cascade: JSON-LD first, OpenGraph and <meta> next, then plain markup."""
    md = Metadata()
    ld = article_json_ld(tree)
    if ld:
        md.json_ld_type = sorted(_types(ld) & ARTICLE_TYPES)[0]
        md.headline = _first_str(ld.get("headline")) or _first_str(ld.get("name"))
        md.description = _first_str(ld.get("description"))
        md.byline = _names(ld.get("author"))
        md.published = parse_date(_first_str(ld.get("datePublished")))
        md.updated = parse_date(_first_str(ld.get("dateModified")))
        md.section = _first_str(ld.get("articleSection"))
        md.tags = split_tags(ld.get("keywords"))
        md.image = _first_str(ld.get("image"))
        md.lang = _first_str(ld.get("inLanguage"))
        body = ld.get("articleBody")
        md.article_body = body.strip() if isinstance(body, str) and body.strip() else None
    md.headline = md.headline or meta_content(tree, "og:title", "twitter:title") or _title(tree)
    md.description = md.description or meta_content(tree, "og:description", "description", "twitter:description")
    md.byline = md.byline or split_tags(meta_content(tree, "author", "article:author", "parsely-author", "byl"))
    md.published = md.published or parse_date(
        meta_content(tree, "article:published_time", "datePublished", "pubdate", "publishdate", "date",
                     "parsely-pub-date", "og:published_time", "dc.date", "DC.date.issued")
    )  # fmt: skip
    md.updated = md.updated or parse_date(meta_content(tree, "article:modified_time", "dateModified", "og:updated_time"))
    if md.published is None:
        for dt in tree.xpath("//time/@datetime"):
            md.published = parse_date(str(dt))
            if md.published:
                break
    md.section = md.section or meta_content(tree, "article:section")
    md.tags = md.tags or split_tags(meta_all(tree, "article:tag")) or split_tags(meta_content(tree, "news_keywords"))
    md.image = md.image or meta_content(tree, "og:image", "twitter:image")
    canonical = tree.xpath('//link[@rel="canonical"]/@href')
    md.canonical_url = urljoin(url, str(canonical[0]).strip()) if canonical and str(canonical[0]).strip() else None
    md.canonical_url = md.canonical_url or (meta_content(tree, "og:url") or None)
    md.lang = md.lang or _lang(tree)
    md.site_name = meta_content(tree, "og:site_name")
    if md.image:
        md.image = urljoin(url, md.image)
    return md


def _title(tree: lxml_html.HtmlElement) -> str | None:
    h1 = tree.xpath("//h1")
    if h1:
        text = " ".join(h1[0].text_content().split())
        if text:
            return text
    titles = tree.xpath("//title/text()")
    return " ".join(str(titles[0]).split()) or None if titles else None


def _lang(tree: lxml_html.HtmlElement) -> str | None:
    value = tree.get("lang") or meta_content(tree, "og:locale", "language", "content-language")
    if not value:
        return None
    return value.replace("_", "-").split("-")[0].lower() or None
