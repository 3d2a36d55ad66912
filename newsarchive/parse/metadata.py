"""The shared metadata cascade: JSON-LD, then OpenGraph / <meta>, then markup.

Site parsers call these helpers for any field their selectors miss.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from newsarchive.fetch.urls import MAX_URL_LENGTH
from newsarchive.parse.dates import is_ambiguous, locale_dayfirst, numeric_orders, parse_date

LOGGER = logging.getLogger(__name__)

ARTICLE_TYPES = frozenset({
    "NewsArticle", "Article", "BlogPosting", "ReportageNewsArticle", "AnalysisNewsArticle",
    "OpinionNewsArticle", "BackgroundNewsArticle", "Report", "LiveBlogPosting", "TechArticle",
    "ScholarlyArticle", "SocialMediaPosting", "AdvertiserContentArticle", "SatiricalArticle",
    "ReviewNewsArticle", "AskPublicNewsArticle", "Posting", "Blog",
})  # fmt: skip
#: schema.org's WebPage and its kinds: the node that describes the page itself. CMSs (Yoast, Rank Math)
#: give the page's dates there too, and some pages there only.
WEBPAGE_TYPES = frozenset({
    "WebPage", "ItemPage", "AboutPage", "CollectionPage", "ContactPage", "FAQPage", "MedicalWebPage",
    "ProfilePage", "QAPage", "SearchResultsPage", "CheckoutPage", "RealEstateListing",
})  # fmt: skip
#: The article and WebPage kinds by their lower-case names: Bear Blog writes ``"@type": "article"``.
_KNOWN_TYPES = {name.lower(): name for name in ARTICLE_TYPES | WEBPAGE_TYPES}
#: WebPage nodes whose dates are tried, as for the markup's dates: a page of 20,000 of them took 2 s.
MAX_WEBPAGES = 20


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
            data = load_json(text)
        except ValueError:
            # CMSs emit trailing commas and raw newlines; try once with those cleaned.
            try:
                data = load_json(re.sub(r",\s*([}\]])", r"\1", text))
            except ValueError:
                LOGGER.debug("unparseable or too deeply nested JSON-LD block skipped")
                continue
        yield from _flatten(data)


#: JSON a page carries (JSON-LD, a CMS's metadata block) nested deeper than this is refused: real
#: JSON-LD nests under 15 levels, and every walker of the values (authors, images, @graph) recurses.
MAX_JSON_DEPTH = 64


def load_json(text: str) -> Any:
    """``json.loads`` of JSON from a page, refusing JSON nested deeper than :data:`MAX_JSON_DEPTH`.

    Raises ValueError for bad or too deep JSON: a page of 100,000 ``[`` raised RecursionError in the
    decoder (exit 70); and what the decoder takes (up to ~1,000 levels), the walkers of the values
    (``_flatten``, ``_names``, ``_resolve``...) would recurse through as deep.
    """
    try:
        data = json.loads(text, strict=False)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))
    return data


def _flatten(data: Any) -> Iterator[dict[str, Any]]:
    """The nodes of a JSON-LD value: list items, ``@graph`` members, a node and what its ``mainEntity`` holds."""
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _flatten(data["@graph"])
        yield data
        if "mainEntity" in data:
            yield from _flatten(data["mainEntity"])


#: What may precede a schema.org type name in ``@type``: its URL (``http://schema.org/NewsArticle``,
#: ``https://schema.org/NewsArticle``) or its compact prefix (``schema:NewsArticle``).
_SCHEMA_PREFIX = re.compile(r"^(?:https?://(?:www\.)?schema\.org/|schema:)", re.IGNORECASE)
#: A node's first types that count: a node of thousands of types is no node a CMS wrote.
MAX_TYPES = 16


def _types(obj: dict[str, Any]) -> set[str]:
    """A node's ``@type`` (a name or a list of names) as schema.org names: a schema.org URL or ``schema:``
    prefix dropped, an article or WebPage kind written in another case (``newsArticle``) spelled as
    schema.org does."""
    t = obj.get("@type")
    names = [t] if isinstance(t, str) else t[:MAX_TYPES] if isinstance(t, list) else []
    out = set()
    for name in names:
        if isinstance(name, str):
            bare = _SCHEMA_PREFIX.sub("", name.strip())
            out.add(_KNOWN_TYPES.get(bare.lower(), bare))
    return out


def article_json_ld(tree: lxml_html.HtmlElement, url: str | None = None) -> dict[str, Any] | None:
    """The page's main article object in JSON-LD, if it has one (the rule: docs/article-json.md).

    Every node of every block is a candidate: top-level ones, those of a list or ``@graph``, and those a
    node's ``mainEntity`` holds (a WebPage's article); ``@type`` may be a list or carry the schema.org URL
    (``https://schema.org/NewsArticle``). When the page has several articles, the one naming this page
    (its ``url``, ``@id`` or ``mainEntityOfPage`` is the page's URL or canonical link, given ``url``) wins,
    then the one article a WebPage of this page (naming it, or no page) holds as its ``mainEntity``, then
    the others but those a WebPage lists in a ``mainEntity`` of several articles or of another page: those
    naming no page before those naming another. Within a step, page order, one with a headline before a
    bare one. Its ``author``, ``publisher`` and ``image`` given as ``{"@id": ...}`` references (Yoast,
    Rank Math) are completed by the node of that ``@id``.
    """
    objects = list(json_ld_objects(tree))
    by_id = _id_index(objects)
    node = _main_article(objects, by_id, _here(tree, url) if url else set())
    return _completed(node, by_id) if node is not None else None


def _id_index(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{@id: node}`` of the nodes that say more than their ``@id`` and ``@type`` (a bare reference
    ``{"@id": ...}`` is no definition)."""
    return {obj["@id"]: obj for obj in objects if isinstance(obj.get("@id"), str) and not _is_reference(obj)}


def _is_reference(obj: dict[str, Any]) -> bool:
    """A node that only names another: ``{"@id": ...}``, perhaps with its ``@type``."""
    return "@id" in obj and all(key in ("@id", "@type", "@context") for key in obj)


def _entities(node: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The nodes a node's ``mainEntity`` holds (an object, a list, or ``{"@id": ...}`` references)."""
    value = node.get("mainEntity")
    out = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            out.append(by_id.get(item["@id"], item) if _is_reference(item) and isinstance(item["@id"], str) else item)
        elif isinstance(item, str) and item in by_id:
            out.append(by_id[item])
    return out


def _main_article(
    objects: list[dict[str, Any]], by_id: dict[str, dict[str, Any]], here: set[str]
) -> dict[str, Any] | None:
    """article_json_ld() among the page's JSON-LD ``objects`` (the node as the page wrote it), ``here`` the
    page's URL keys (_here())."""
    articles = [obj for obj in objects if _types(obj) & ARTICLE_TYPES]
    if not articles:
        return None
    own = [obj for obj in articles if here & _ld_url_keys(obj)] if here and len(articles) > 1 else []
    held: list[dict[str, Any]] = []  # the one article a WebPage of this page holds as its mainEntity
    listed: set[int] = set()  # articles a listing (several, or another page's) holds: not the page's
    for holder in objects:
        if "mainEntity" not in holder or not _types(holder) & WEBPAGE_TYPES:
            continue
        entities = [e for e in _entities(holder, by_id) if _types(e) & ARTICLE_TYPES]
        keys = _ld_url_keys(holder)
        if len(entities) == 1 and (not keys or not here or here & keys):
            held.append(entities[0])
        else:
            listed.update(id(e) for e in entities)
    unlisted = [obj for obj in articles if id(obj) not in listed]
    # one naming another page (a related story) only when no other is left
    anonymous = [obj for obj in unlisted if not _ld_url_keys(obj)] if here and len(unlisted) > 1 else []
    candidates = own or held or anonymous or unlisted
    if not candidates:
        return None
    # An article object with a headline beats a bare one (e.g. a Blog wrapping a BlogPosting).
    return next((obj for obj in candidates if obj.get("headline")), candidates[0])


#: An article's values that may be ``{"@id": ...}`` references to a node elsewhere on the page.
_REFERRING_KEYS = ("author", "publisher", "image")


def _completed(article: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The article node with its _REFERRING_KEYS' references completed (_resolve); the node is left as is."""
    if not by_id:
        return article
    return {**article, **{key: _resolve(article[key], by_id) for key in _REFERRING_KEYS if key in article}}


def _here(tree: lxml_html.HtmlElement, url: str) -> set[str]:
    """The page's URL and its canonical link, as _url_key()s."""
    here = {_url_key(url)}
    here.update(_url_key(str(href)) for href in tree.xpath('//link[@rel="canonical"]/@href')[:1])
    return here - {""}


def _webpages(
    objects: list[dict[str, Any]],
    here: set[str],
    article: dict[str, Any] | None,
    by_id: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The page's JSON-LD WebPage nodes: first those naming this page (its URL or canonical link, or the
    ``@id`` the article's ``mainEntityOfPage`` or ``isPartOf`` refers to) or holding the article (the node
    _main_article() chose) as their ``mainEntity``, then those naming no page, then the others. A WebPage
    written inside the article's ``mainEntityOfPage`` or ``isPartOf`` counts too."""
    nodes = [obj for obj in objects if _types(obj) & WEBPAGE_TYPES and not _types(obj) & ARTICLE_TYPES]
    refs: set[str] = set()
    for key in ("mainEntityOfPage", "isPartOf") if article else ():
        value = article.get(key) if article else None
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                refs.add(item)
            elif isinstance(item, dict):
                if isinstance(item.get("@id"), str):
                    refs.add(item["@id"])
                if _types(item) & WEBPAGE_TYPES:
                    nodes.append(item)

    def rank(node: dict[str, Any]) -> int:
        keys = _ld_url_keys(node)
        if here & keys or node.get("@id") in refs:
            return 0
        if article is not None and "mainEntity" in node and any(e is article for e in _entities(node, by_id or {})):
            return 0
        return 1 if not keys else 2

    return sorted(nodes, key=rank)[:MAX_WEBPAGES]  # stable: page order within a rank


def _url_key(url: str) -> str:
    """An URL without scheme, ``www.``, query, fragment or trailing slash, lower-case host: for comparing."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    host = (parts.hostname or "").lower().removeprefix("www.")
    return f"{host}{parts.path.rstrip('/')}" if host else ""


def _ld_url_keys(obj: dict[str, Any]) -> set[str]:
    """The URLs a JSON-LD object gives for the page it describes, as _url_key()s."""
    values: list[Any] = [obj.get("url"), obj.get("@id")]
    main = obj.get("mainEntityOfPage")
    values += [main.get("@id"), main.get("url")] if isinstance(main, dict) else [main]
    return {_url_key(v) for v in values if isinstance(v, str) and v.strip()} - {""}


def _resolve(value: Any, by_id: dict[str, dict[str, Any]]) -> Any:
    """A value with each ``{"@id": ...}`` reference (or one lacking a ``name``) completed by the node of its
    ``@id``: the node's keys, then the reference's own. One step only: the node's own references stay as
    they are, so a cycle of references (a Person whose ``worksFor`` names the article) ends at once."""
    if isinstance(value, list):
        return [_resolve(v, by_id) for v in value]
    if isinstance(value, dict) and "name" not in value:
        ref = value.get("@id")
        if isinstance(ref, str) and ref in by_id:
            return {**by_id[ref], **value}
    return value


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
    """Keywords as a list, a comma- or semicolon-joined string, or a mix -> clean list, order kept.

    Duplicates (case-insensitive) go; so do CMS-internal tags such as Arc XP's ``@lll``.
    """
    raw: list[str] = []
    if isinstance(value, str):
        raw = re.split(r"[,;]", value)
    elif isinstance(value, list):
        for v in value:
            raw.extend(split_tags(v))
    seen: set[str] = set()
    out = []
    for t in raw:
        t = " ".join(t.split())
        if t and not t.startswith("@") and t.lower() not in seen:
            seen.add(t.lower())
            out.append(t)
    return out


_META_ATTRS = ("property", "name", "itemprop")


def meta_content(tree: lxml_html.HtmlElement, *keys: str) -> str | None:
    """First non-empty <meta property|name|itemprop=key content=...> among keys (anywhere in the document)."""
    wanted = set(keys)
    found: dict[tuple[str, str], str] = {}
    for meta in tree.getroottree().iter("meta"):  # one pass, not an XPath scan of the page per key and attribute
        content = meta.get("content")
        if not content or not content.strip():
            continue
        for attr in _META_ATTRS:
            key = meta.get(attr)
            if key in wanted and (key, attr) not in found:
                found[(key, attr)] = content.strip()
    for key in keys:
        for attr in _META_ATTRS:
            if (key, attr) in found:
                return found[(key, attr)]
    return None


def meta_all(tree: lxml_html.HtmlElement, key: str) -> list[str]:
    """Every non-empty content of <meta property|name=key> (several ``article:tag`` metas, say)."""
    out = []
    for meta in tree.getroottree().iter("meta"):
        if meta.get("property") == key or meta.get("name") == key:
            content = meta.get("content")
            if content and content.strip():
                out.append(content.strip())
    return out


def meta_values(tree: lxml_html.HtmlElement) -> dict[str, list[str]]:
    """``{key: meta_all(tree, key)}`` for every key of the page, from one pass over its metas."""
    out: dict[str, list[str]] = {}
    for meta in tree.getroottree().iter("meta"):
        content = meta.get("content")
        if not content or not content.strip():
            continue
        prop, name = meta.get("property"), meta.get("name")
        for key in (prop,) if prop == name else (prop, name):
            if key is not None:
                out.setdefault(key, []).append(content.strip())
    return out


class _Metas:
    """Every <meta> of a page from one pass: meta_content() and meta_values() without a pass per key."""

    def __init__(self, tree: lxml_html.HtmlElement) -> None:
        self.first: dict[tuple[str, str], str] = {}
        self.values: dict[str, list[str]] = {}
        for meta in tree.getroottree().iter("meta"):
            content = meta.get("content")
            if not content or not content.strip():
                continue
            content = content.strip()
            for attr in _META_ATTRS:
                key = meta.get(attr)
                if key is not None and (attr, key) not in self.first:
                    self.first[(attr, key)] = content
            prop, name = meta.get("property"), meta.get("name")
            for key in (prop,) if prop == name else (prop, name):
                if key is not None:
                    self.values.setdefault(key, []).append(content)

    def content(self, *keys: str) -> str | None:
        """meta_content(tree, *keys)."""
        for key in keys:
            for attr in _META_ATTRS:
                value = self.first.get((attr, key))
                if value is not None:
                    return value
        return None


def _first_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list) and value:
        return _first_str(value[0])
    if isinstance(value, dict):
        return _first_str(value.get("url") or value.get("@id") or value.get("name"))
    return None


def _image_url(value: Any) -> str | None:
    """A JSON-LD ``image`` (an URL, an ImageObject, a list of either) -> the first image's URL: an
    ImageObject's ``url``, else its ``contentUrl``, else its ``@id`` when that has no ``#fragment`` (an
    unresolved ``{"@id": "https://site/post/#primaryimage"}`` names a node, not an image file)."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        return next((found for item in value if (found := _image_url(item))), None)
    if isinstance(value, dict):
        found = _image_url(value.get("url")) or _image_url(value.get("contentUrl"))
        ident = value.get("@id")
        if not found and isinstance(ident, str) and "#" not in ident:
            found = ident.strip() or None
        return found
    return None


#: An HTML entity or tag in a JSON-LD text ("Tom &amp; Jerry", "<b>Live</b>: ...").
_MARKUP = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]\w*);|</?[A-Za-z][^<>]*>")


def _as_text(value: str | None) -> str | None:
    """A JSON-LD text as text: CMSs write it HTML-escaped or with tags (a title field's markup), where
    OpenGraph's values reach us as text already (the HTML parser decoded them). Plain text is kept as is."""
    if not value or not _MARKUP.search(value):
        return value
    try:
        text = lxml_html.fragment_fromstring(value, create_parent="div").text_content()
    except (ValueError, etree.ParserError):
        return value
    return " ".join(text.split()) or value


#: Where a publication date may be, in order of trust (SITES.md 3.6), after JSON-LD.
PUBLISHED_META = (
    "article:published_time", "og:published_time", "datePublished", "parsely-pub-date", "pubdate", "publishdate",
    "sailthru.date", "date", "dc.date", "DC.date.issued", "dcterms.created",
)  # fmt: skip
UPDATED_META = ("article:modified_time", "og:updated_time", "dateModified", "dcterms.modified")
PUBLISHED_MARKUP = (
    '//*[@itemprop="datePublished"]/@content', '//*[@itemprop="datePublished"]/@datetime',
    "//time[contains(concat(' ', normalize-space(@class), ' '), ' published ')]/@datetime",
    "//abbr[contains(concat(' ', normalize-space(@class), ' '), ' published ')]/@title",
    "//time/@datetime",
)  # fmt: skip
TAG_LINKS = '//a[@rel="tag"]'


def extract_metadata(tree: lxml_html.HtmlElement, url: str) -> Metadata:
    """Run the cascade: JSON-LD first, OpenGraph and <meta> next, then plain markup."""
    md = Metadata()
    page = _Metas(tree)  # one pass over the page's <meta>s for every key below
    objects = list(json_ld_objects(tree))
    by_id = _id_index(objects)
    here = _here(tree, url) if objects else set()
    node = _main_article(objects, by_id, here)
    ld = _completed(node, by_id) if node is not None else None
    webpages = _webpages(objects, here, node, by_id) if objects else []
    ld_published: str | None = None
    ld_updated: str | None = None
    if ld:
        md.json_ld_type = sorted(_types(ld) & ARTICLE_TYPES)[0]
        md.headline = _as_text(_first_str(ld.get("headline")) or _first_str(ld.get("name")))
        md.description = _as_text(_first_str(ld.get("description")))
        md.byline = _names(ld.get("author"))
        ld_published = _first_str(ld.get("datePublished")) or _first_str(ld.get("dateCreated"))
        ld_updated = _first_str(ld.get("dateModified"))
        md.section = _first_str(ld.get("articleSection"))
        md.tags = split_tags(ld.get("keywords"))
        md.image = _image_url(ld.get("image"))
        md.lang = _first_str(ld.get("inLanguage"))
        body = ld.get("articleBody")
        md.article_body = body.strip() if isinstance(body, str) and body.strip() else None
    md.headline = md.headline or page.content("og:title", "twitter:title") or _title(tree)
    md.description = md.description or page.content("og:description", "description", "twitter:description")
    md.site_name = page.content("og:site_name")
    if md.headline:
        md.headline = without_site_name(md.headline, md.site_name, url)
    if not md.byline:
        meta_authors = split_tags(page.content("author", "article:author", "parsely-author", "byl"))
        md.byline = _drop_publisher(meta_authors, page, ld)
    metas = page.values
    published = [ld_published, *(metas[k][0] if k in metas else None for k in PUBLISHED_META)]
    # The WebPage node's dates when neither the article node nor a <meta> gives one, before the markup's.
    published += [_first_str(n.get("datePublished")) or _first_str(n.get("dateCreated")) for n in webpages]
    published += _markup_dates(tree)
    updated = [ld_updated, *(metas[k][0] if k in metas else None for k in UPDATED_META)]
    updated += [_first_str(n.get("dateModified")) for n in webpages]
    nodes = [ld, *webpages] if ld else webpages
    dayfirst = page_dayfirst(tree, [*published, *updated], lambda: _locale_tags(tree, page, nodes))
    md.published, md.updated = pick_dates(published, updated, dayfirst=dayfirst)
    md.section = md.section or page.content("article:section")
    md.tags = (
        md.tags
        or split_tags(metas.get("article:tag", []))
        or split_tags([" ".join(a.text_content().split()) for a in tree.xpath(TAG_LINKS)])
        or split_tags(page.content("news_keywords", "sailthru.tags", "keywords"))
    )
    md.image = md.image or page.content("og:image", "twitter:image")
    canonical = tree.xpath('//link[@rel="canonical"]/@href')
    md.canonical_url = canonical_url(url, canonical[0]) if canonical else None
    md.canonical_url = md.canonical_url or canonical_url(url, page.content("og:url"))
    md.lang = md.lang or _lang(tree, page)
    if md.image:
        # an inline data: image (a placeholder pixel) or a javascript: value is no image of the article
        md.image = join_url(url, md.image)
        if md.image and urlsplit(md.image).scheme.lower() not in ("http", "https"):
            md.image = None
    return md


def join_url(base: str, href: object) -> str | None:
    """``href`` resolved against ``base``; None when empty or malformed (``http://[::1/x``, port 99999).

    A page's URLs are page text: a malformed one is dropped, never raised (urljoin raises ValueError);
    so is one longer than the fetcher takes (``fetch/urls.MAX_URL_LENGTH``): a 10,000-character canonical
    URL became the article's key.
    """
    text = str(href).strip() if href is not None else ""
    if not text or len(text) > MAX_URL_LENGTH:
        return None
    try:
        joined = urljoin(base, text)
        urlsplit(joined).port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return None
    return joined if len(joined) <= MAX_URL_LENGTH else None


def canonical_url(url: str, href: object) -> str | None:
    """A canonical link of the page at ``url`` resolved (join_url), or None where it cannot be the page's.

    A CMS or SEO plugin set up wrong names the site's home page as the canonical URL of every
    article: taken, every article of the site would get one id and replace the one before it. A
    home page (an URL without a path) is the canonical URL of a home page only.
    """
    joined = join_url(url, href)
    if joined is None:
        return None
    if _is_home(joined) and not _is_home(url):
        LOGGER.debug("%s: canonical URL %s is the home page, ignored", url, joined)
        return None
    return joined


def _is_home(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.path.strip("/") == "" and not parts.query


def _markup_dates(tree: lxml_html.HtmlElement) -> list[str]:
    """What the PUBLISHED_MARKUP XPaths find, in their order (at most 20), from one scan of the page."""
    buckets: list[list[str]] = [[], [], [], [], []]
    for el in tree.xpath('//*[@itemprop="datePublished"] | //time | //abbr'):
        if el.get("itemprop") == "datePublished":
            for i, attr in ((0, "content"), (1, "datetime")):
                if el.get(attr) is not None:
                    buckets[i].append(str(el.get(attr)))
        published = " published " in f" {' '.join((el.get('class') or '').split())} "
        if el.tag == "time" and el.get("datetime") is not None:
            if published:
                buckets[2].append(str(el.get("datetime")))
            buckets[4].append(str(el.get("datetime")))
        elif el.tag == "abbr" and published and el.get("title") is not None:
            buckets[3].append(str(el.get("title")))
    return [v for bucket in buckets for v in bucket][:20]


def pick_dates(
    published: list[str | None], updated: list[str | None], *, dayfirst: bool = False
) -> tuple[datetime | None, datetime | None]:
    """First trustworthy (published, updated) among candidate strings, most trusted first.

    A value with an explicit offset or ``Z`` wins over any zone-less one. A zone-less
    time (``2019-11-20T01:53:14``) is accepted only with the zone another date of the
    same page states (CMSs print every date of a page in one zone); when no date of the
    page carries a zone it stays None: an archive should rather say "unknown" than
    guess hours wrong. Sentinel and impossible dates never count. ``dayfirst`` is the
    order of the page's numeric dates (page_dayfirst).
    """
    candidates = [c for c in published + updated if c]
    page_zone: tzinfo | None = None
    for text in candidates:
        value = parse_date(text, dayfirst=dayfirst)
        if value is not None and value.tzinfo is not None and len(text.strip()) > 10:
            page_zone = value.tzinfo
            break
    return _first_date(published, page_zone, dayfirst), _first_date(updated, page_zone, dayfirst)


def _first_date(texts: list[str | None], page_zone: tzinfo | None, dayfirst: bool) -> datetime | None:
    for text in texts:
        value = parse_date(text, dayfirst=dayfirst)
        if value is not None:
            return value
    if page_zone is None:
        return None
    for text in texts:
        value = parse_date(text, default_tz=page_zone, dayfirst=dayfirst)
        if value is not None:
            return value
    return None


#: The page's text, where its other dates are shown (a comment's, "Updated 25/03/2023"), without scripts.
_PAGE_TEXT = etree.XPath("//text()[not(ancestor::script or ancestor::style)]")


def page_dayfirst(tree: lxml_html.HtmlElement, dates: list[str | None], locale_tags: Callable[[], list[str]]) -> bool:
    """Whether the page's numeric dates put the day first (``02/03/2023`` is 2 March), by evidence.

    Asked only when one of its candidate ``dates`` could be read either way. In order: the page's own
    numeric dates that cannot (``25/03/2023`` is day first, ``03/25/2023`` month first), those of its
    metadata, else those of its text, when all of them agree (a site prints its dates one way); else the
    page's language tags (``locale_tags()``: ``<html lang>``, og:locale, content-language...) when those
    that say something agree (dates.locale_dayfirst: ``en-US`` month first; ``en-GB``, ``en-AU``,
    ``en-IN``, ``ar``, ``es``, ``fr``... day first; bare ``en`` says nothing); else month first, as
    dateutil reads them.
    """
    texts = [d for d in dates if d]
    if not any(is_ambiguous(d) for d in texts):
        return False
    seen = {order for text in texts for order in numeric_orders(text)}
    if len(seen) != 1:
        seen = {order for text in _PAGE_TEXT(tree) for order in numeric_orders(str(text))}
    if len(seen) == 1:
        return seen.pop()
    said = {order for tag in locale_tags() if (order := locale_dayfirst(tag)) is not None}
    return said.pop() if len(said) == 1 else False


def _locale_tags(tree: lxml_html.HtmlElement, page: _Metas, nodes: list[dict[str, Any]]) -> list[str]:
    """The language tags the page states: <html lang>, og:locale, content-language metas, JSON-LD inLanguage."""
    tags = [tree.get("lang"), tree.get("xml:lang")]
    tags += [page.content(key) for key in ("og:locale", "language", "content-language")]
    tags += [str(v) for v in _HTTP_EQUIV_LANGUAGE(tree)]
    tags += [_first_str(node.get("inLanguage")) for node in nodes]
    return [part.strip() for tag in tags if tag for part in tag.split(",") if part.strip()]


_HTTP_EQUIV_LANGUAGE = etree.XPath(
    "//meta[translate(@http-equiv, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
    " = 'content-language']/@content"
)


def _drop_publisher(names: list[str], metas: _Metas, ld: dict[str, Any] | None) -> list[str]:
    """<meta name=author> values naming the publisher (Wired's "Condé Nast") or an URL are no byline."""
    publishers = {n.lower() for n in _names(ld.get("publisher"))} if ld else set()
    publishers.update(n.lower() for n in (metas.content("publisher", "copyright"),) if n)
    return [n for n in names if n.lower() not in publishers and not n.lower().startswith(("http://", "https://"))]


def _title(tree: lxml_html.HtmlElement) -> str | None:
    h1 = tree.xpath("//h1")
    if h1:
        text = " ".join(h1[0].text_content().split())
        if text:
            return text
    titles = tree.xpath("//title/text()")
    return " ".join(str(titles[0]).split()) or None if titles else None


def _lang(tree: lxml_html.HtmlElement, metas: _Metas) -> str | None:
    value = tree.get("lang") or metas.content("og:locale", "language", "content-language")
    if not value:
        return None
    return value.replace("_", "-").split("-")[0].lower() or None


#: Separators between a page title and the site's name ("Story - The Site", "The Site | Story").
_TITLE_SEPARATORS = re.compile(r"\s+[|\-\u2013\u2014\u00b7\u2022\u00bb]+\s+|\s*(?:::|\|)\s*")
#: A title part this short at either end, beside a longer one, names the site or section.
_SITE_PART_WORDS = 4
#: A URL path segment's file extension (".html", ".php", ".stm").
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")
#: Words of a segment that name a page, not its subject.
_GENERIC_SEGMENTS = frozenset({
    "index", "default", "article", "articles", "story", "stories", "news", "display", "show", "view", "page",
    "detail", "details", "item", "post", "content", "main", "print",
})  # fmt: skip


def fallback_headline(tree: lxml_html.HtmlElement, url: str, site_name: str | None = None) -> tuple[str, str]:
    """A headline for a page whose markup declares none, and where it came from.

    In order: ``<title>`` without the site's name (``"title"``), og:title / twitter:title
    (``"og:title"``), the first heading h1-h6 (``"heading"``), the last meaningful URL path
    segment (``"url"``: ``/2008/01/storm-hits-coast.html`` -> ``Storm hits coast``), and last the
    site's host name (``"site"``), so that a page with article text is always an article.
    """
    titles = tree.xpath("//title")
    title = _strip_site_name(" ".join(titles[0].text_content().split()), site_name, url) if titles else ""
    if title:
        return title, "title"
    og = meta_content(tree, "og:title", "twitter:title")
    if og and og.split():
        return " ".join(og.split()), "og:title"
    for heading in tree.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        text = " ".join(heading.text_content().split())
        if text:
            return text, "heading"
    slug = url_slug_headline(url)
    if slug:
        return slug, "url"
    host = (urlsplit(url).hostname or url).lower()
    return host.removeprefix("www."), "site"


def _strip_site_name(title: str, site_name: str | None, url: str) -> str:
    """A <title> without the parts naming the site.

    A part equal to og:site_name or the host goes; without one, a short part (a few words) at
    either end of a longer one does ("Storm hits coast - Daily Planet" -> "Storm hits coast").
    """
    parts = [p.strip() for p in _TITLE_SEPARATORS.split(title) if p and p.strip()]
    if len(parts) < 2:
        return title
    kept = [p for p in parts if not _names_site(p, site_name, url)]
    if not kept:
        return title
    if len(kept) < len(parts):
        return " - ".join(kept)
    longest = max(len(p) for p in parts)
    while len(parts) > 1 and len(parts[-1].split()) <= _SITE_PART_WORDS and len(parts[-1]) < longest:
        parts.pop()
    while len(parts) > 1 and len(parts[0].split()) <= _SITE_PART_WORDS and len(parts[0]) < longest:
        parts.pop(0)
    return " - ".join(parts)


def _names_site(part: str, site_name: str | None, url: str) -> bool:
    """Whether a part of a title is the site's name: og:site_name, the host, or the host's first word."""
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    low = part.lower()
    squashed = re.sub(r"\W+", "", low)
    return bool(
        (site_name and low == site_name.strip().lower())
        or (host and (low == host or squashed == re.sub(r"\W+", "", host)))
        or (host and squashed == host.split(".")[0])
    )


def without_site_name(headline: str, site_name: str | None, url: str) -> str:
    """A declared headline (JSON-LD, og:title) without the site's name at its end or start.

    CMSs copy the ``<title>`` into og:title, so "Storm hits coast | Daily Planet" is common there. Only
    a part that is the site's name (``_names_site``) goes, never a short part by its length alone (a
    declared "Storm hits coast - live" keeps its "live"); the rest is kept as written.
    """
    for _ in range(2):  # the end, then the start
        seps = list(_TITLE_SEPARATORS.finditer(headline))
        if not seps:
            break
        head, tail = headline[: seps[-1].start()].strip(), headline[seps[-1].end() :].strip()
        if head and _names_site(tail, site_name, url):
            headline = head
            continue
        head, tail = headline[: seps[0].start()].strip(), headline[seps[0].end() :].strip()
        if tail and _names_site(head, site_name, url):
            headline = tail
            continue
        break
    return headline


def url_slug_headline(url: str) -> str | None:
    """Words of the last URL path segment that reads as a title (``storm-hits-coast``), or None."""
    segments = [unquote(s) for s in urlsplit(url).path.split("/") if s]
    for segment in reversed(segments):
        segment = _EXTENSION.sub("", segment)
        words = [w for w in re.split(r"[-_+\s.,;]+", segment) if w]
        while words and not re.search(r"[^\W\d]", words[-1]):  # trailing ids: "storm-hits-coast-1234567"
            words.pop()
        if not words or not any(re.search(r"[^\W\d]", w) for w in words):
            continue
        if all(w.lower() in _GENERIC_SEGMENTS or len(w) < 3 for w in words):
            continue
        text = " ".join(words)
        return text[:1].upper() + text[1:]
    return None
