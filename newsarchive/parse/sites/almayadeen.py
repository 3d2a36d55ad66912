"""Al Mayadeen (English, Arabic and Spanish editions): one CMS, one parser."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar
from urllib.parse import unquote, urljoin, urlsplit
from zoneinfo import ZoneInfo

from lxml import etree
from lxml import html as lxml_html

from newsarchive.article import Article, Image, RelatedLink
from newsarchive.errors import NotAnArticle
from newsarchive.parse.dates import parse_date
from newsarchive.parse.dom import build_tree, clean_text, join_paragraphs
from newsarchive.parse.metadata import extract_metadata
from newsarchive.parse.site import DefaultSource, Host, Site, SiteParser, SiteTest, Tag

HtmlElement = lxml_html.HtmlElement


def _cls(*names: str) -> str:
    """XPath predicate: the element has any of these class tokens."""
    tests = (f"contains(@class, '{n}') and contains(concat(' ', normalize-space(@class), ' '), ' {n} ')" for n in names)
    return "@class and (" + " or ".join(f"({t})" for t in tests) + ")"


#: Where each concept lives in the page, as XPath (the English DOM is partly inferred: SITES.md 1.5).
SELECTORS: dict[str, str] = {
    "tawsiyat": '//script[@id="tawsiyat-metadata"]',
    "article": f"(//section[{_cls('read-section')}] | //article[{_cls('article', 'post')}])",
    "headline": ".//h1",
    "standfirst": f".//p[{_cls('summary', 'lg_para')}]",
    "meta_row": f".//*[{_cls('post-metas', 'article-details-metas', 'post-type', 'type-wrap')}]",
    "body": f".//div[{_cls('p-content')}]",
    "lead_figure": f".//figure | .//*[{_cls('lead-image', 'main-image', 'article-image', 'post-image')}]",
    "caption": f".//figcaption | .//*[{_cls('caption', 'img-caption', 'image-caption')}]",
    "tags": f".//*[{_cls('tags', 'post-tags', 'article-tags', 'tags-list')}]",
    "coverage_box": f".//*[{_cls('coverage-box', 'post-coverage', 'coverage-card')}]",
    "coverage_title": f".//*[{_cls('coverage-title')}] | .//h2 | .//h3 | .//h4",
}

#: Blocks inside the body container that are not the article's own text.
BODY_REMOVALS: tuple[str, ...] = (
    f".//*[{_cls('related-news', 'related-box', 'related-articles', 'related_news', 'recommendations')}]",
    f".//*[{_cls('ad', 'ads', 'advert', 'banner', 'share', 'share-list', 'social-share', 'post_disclaimer')}]",
    f".//*[{_cls('read-time', 'min-read', 'shares-count', 'newsletter', 'breaking', 'ticker')}]",
    ".//script | .//style | .//noscript | .//iframe | .//figure | .//figcaption | .//form | .//button",
)

#: Embedded posts: only their quoted text is body text (not the "— Name (@handle) date" attribution).
EMBED_QUOTE = f"self::blockquote[{_cls('twitter-tweet', 'instagram-media', 'tiktok-embed', 'twitter-video')}]"

#: Headings that open the view-time "Related News" recommender box (removed, not related links).
RELATED_BOX_HEADINGS = frozenset({"related news", "أخبار ذات صلة", "اخبار ذات صلة", "noticias relacionadas"})
#: Inline, newsroom-written "Read more:" lines: become related links, leave the body.
READ_MORE = re.compile(
    r"^\s*(?:read more|اقرأ أيضاً|اقرأ أيضا|اقرأ ايضاً|اقرأ ايضا|lee también|leer más|lea también)\s*[:：]", re.I
)
#: Meta-row labels, per edition.
BY_LABEL = re.compile(r"^\s*(?:by|بقلم|por)\s*[:：]?\s*", re.I)
SOURCE_LABEL = re.compile(r"^\s*(?:source|المصدر|fuente)\s*[:：]\s*", re.I)
#: The visible header date "16 Feb 2023 08:35" (CMS-local time; last-resort date only).
VISIBLE_DATE = re.compile(r"\b(\d{1,2} [A-Z][a-z]{2} \d{4} \d{1,2}:\d{2})\b")
#: The CMS clock follows Israel's DST rule, not Beirut's (SITES.md 1.4).
CMS_ZONE = "Asia/Jerusalem"
#: tawsiyat ``type`` values that are never articles.
NON_ARTICLE_TYPES = frozenset({"page", "videoobject", "video", "listing", "section"})

HOST_LANG = {"english.almayadeen.net": "en", "www.almayadeen.net": "ar", "almayadeen.net": "ar",
             "espanol.almayadeen.net": "es"}  # fmt: skip
BLOCK_TAGS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "li", "pre"})
CONTAINER_TAGS = frozenset({"div", "section", "blockquote", "ul", "ol", "article", "span", "center"})

EN = "https://english.almayadeen.net"
CRIMEA_URL = f"{EN}/news/politics/us-not-actively-encouraging-ukraine-to-retake-crimea:-report"
CRIMEA_BODY = r"re:^US State Secretary Antony Blinken on Wednesday said.*and aviation,\" Podolyak indicated\.$"
ES = "https://espanol.almayadeen.net"
ES_READ_MORE = f"{ES}/noticias/politica/moscu-responde-a-paris"
SECRET_URL = f"{EN}/news/politics/russia--foreign-troops-in-the-ukrainian-army-an--open-secret"

#: EXPECTED.md: what must never reach any field of an Al Mayadeen article.
NEVER_COMMON: tuple[str, ...] = (
    "BREAKING", "Slogan", "LIVE", "Min Read", "Shares", "Most Read", "Read Next", "Coverage",
    "The Ummah's Martyrs", "As the Draconian Western-led sanctions", "Related News", "Read more",
    "Al Mayadeen is an Arab Independent Media Satellite Channel.", "All Rights Reserved", "Privacy Policy",
    "Android", "iOS", "Arts&Culture", "Infographs", "In Pictures", "Video Features", "Asia-Pacific",
    "Hezbollah SG reveals war details", "Freedom Flotilla", "Yemen Navy", "Georges Abdallah",
    "Security incident reported in the Gaza Strip", "Al Mayadeen's correspondent", "Israeli media",
    "tawsiyat", "function(", "window.",
)  # fmt: skip
NEVER_CRIMEA = (*NEVER_COMMON, "Senate blames Secret Service", "South Korea warns US chip tariffs",
                "REUTERS/File Photo", "[1/4]")  # fmt: skip
NEVER_SECRET = (*NEVER_COMMON, "Cholera devastates Darfur", "US uses tariffs to strongarm India")


class AlMayadeen(SiteParser):
    """english./www./espanol.almayadeen.net articles (tawsiyat metadata + read-section markup)."""

    name = "almayadeen"
    version = "1"
    description = "Al Mayadeen (English, Arabic, Spanish): tawsiyat metadata, Read more links, no recirculation."
    site = Site(
        url_patterns=(r"https?://(?:english|www|espanol)\.almayadeen\.net(?:[/?#]|$)",),
        page_markers=(Tag("script", {"id": "tawsiyat-metadata"}),),
        hosts=(  # SITES.md 1.1: one source per edition
            Host(r"english\.almayadeen\.net", "almayadeen-en", "https://english.almayadeen.net"),
            Host(r"(?:www\.)?almayadeen\.net", "almayadeen-ar", "https://www.almayadeen.net"),
            Host(r"espanol\.almayadeen\.net", "almayadeen-es", "https://espanol.almayadeen.net"),
        ),
        sitemaps=("/sitemaps/all.xml",),
        listings=("/",),
        link_patterns=(  # article slugs are titles cut at 60 characters (SITES.md 1.7): at least three words
            r"^https?://[^/]+/news/[a-z0-9-]+/[^/?#]*-[^/?#]*-[^/?#]+$",
            r"^https?://[^/]+/articles/(?:[a-z0-9-]+/)?[^/?#]*-[^/?#]*-[^/?#]+$",
            r"^https?://[^/]+/newscast/\d{4}/\d{1,2}/\d{1,2}/[^/?#]+$",
        ),
        default_source=DefaultSource("almayadeen-en", ("https://english.almayadeen.net/sitemaps/all.xml",)),
    )
    example_sites = ("english.almayadeen.net", "www.almayadeen.net", "espanol.almayadeen.net")
    tests: ClassVar[tuple[SiteTest, ...]] = (
        SiteTest(
            url=CRIMEA_URL,
            fixture="almayadeen/crimea.html",
            expect={
                "headline": "US not actively encouraging Ukraine to retake Crimea: Reports",
                "byline": ["Al Mayadeen English"],
                "source": "Agencies",
                "published": "2023-02-16T08:35:00+02:00",
                "section": "Politics",
                "series": "Russia & NATO",
                "tags": ["United States", "US", "Ukraine", "Antony Blinken", "Crimea"],
                "description": "startswith:The US Secretary of State says the US assisting Ukraine",
                "body": CRIMEA_BODY,
                "related": "count:2",
                "images": "count:1",
                "lang": "en",
            },
            never=NEVER_CRIMEA,
        ),
        SiteTest(
            url=CRIMEA_URL,
            fixture="almayadeen/crimea-min.html",
            expect={
                "headline": "US not actively encouraging Ukraine to retake Crimea: Reports",
                "published": "2023-02-16T08:35:00+02:00",
                "source": "Agencies",
                "tags": "count:5",
                "related": "count:2",
                "body": CRIMEA_BODY,
            },
            never=NEVER_CRIMEA,
        ),
        SiteTest(
            url=SECRET_URL,
            fixture="almayadeen/open-secret.html",
            expect={
                "headline": "Russia: Foreign troops in the Ukrainian army an 'open secret'",
                "byline": ["Al Mayadeen English"],
                "source": "News websites",
                "published": "2024-03-16T08:51:00+02:00",
                "tags": ["United States", "Poland", "Nato", "Russia", "France", "Kiev", "Ukraine", "Dmitry Polyansky"],
                "related": "count:3",
                "body": "contains:\n\nWhat is the NATO consensus?\n\nFollowing a Ukraine summit",
                "series": "Russia & NATO",
                "lang": "en",
            },
            never=NEVER_SECRET,
        ),
        SiteTest(
            url=SECRET_URL,
            fixture="almayadeen/open-secret-min.html",
            expect={
                "headline": "Russia: Foreign troops in the Ukrainian army an 'open secret'",
                "published": "2024-03-16T08:51:00+02:00",
                "source": "News websites",
                "related": "count:3",
                "body": "contains:\n\nRussia will treat US troops in Ukraine as interventionists\n\nIf the US troops",
            },
            never=NEVER_SECRET,
        ),
        SiteTest(
            url=f"{EN}/articles/opinion/why-sanctions-keep-failing--a-view-from-the-global-south",
            fixture="almayadeen/opinion-named-author.html",
            expect={"byline": ["Karim Haddad"], "source": None, "section": "Opinion", "series": None,
                    "body": "contains:\n\nThe structural problem\n\n", "related": "count:1"},
            never=(*NEVER_COMMON, "do not necessarily reflect"),
        ),
        SiteTest(
            url="https://www.almayadeen.net/news/politics/مسؤول-روسي--وجود-قوات-أجنبية-في-أوكرانيا--سر-مكشوف",
            fixture="almayadeen/arabic-news.html",
            expect={"lang": "ar", "byline": ["الميادين نت"], "source": "وكالات", "related": "count:1",
                    "published": "2024-08-12T23:18:00+03:00", "series": "روسيا والأطلسي",
                    "tags": ["روسيا", "أوكرانيا", "الناتو"]},
            never=("أخبار ذات صلة", "خبر مقترح", "اقرأ أيضاً", "عاجل", "مراسل الميادين", "تصفح المزيد", "الأكثر قراءة"),
        ),
        SiteTest(
            url=f"{ES}/noticias/politica/rusia-advierte-contra-el-env-o-de-tropas-occidentales-a-ucra",
            fixture="almayadeen/spanish-news.html",
            expect={"lang": "es", "byline": ["Al Mayadeen Español"], "source": "Agencias", "section": "Política",
                    "related": [{"title": "Moscú responde a París", "url": ES_READ_MORE}]},
            never=("Noticias relacionadas", "Noticia recomendada", "Lee también", "ÚLTIMA HORA", "Corresponsal"),
        ),
        SiteTest(
            url=f"{EN}/news/politics/ukrainian-drone-strike-reported-near-crimean-bridge",
            fixture="almayadeen/tweet-and-video.html",
            expect={"published": "2023-03-26T10:00:00+03:00", "body": "contains:pic.twitter.com/AbCdEf1234"},
            never=(*NEVER_COMMON, "@example_gov", "widgets.js", "youtube", "YouTube"),
        ),
        SiteTest(
            url=f"{EN}/news/economy/economy-ministers-meet-in-cairo-on-regional-trade",
            fixture="almayadeen/no-tags-no-tawsiyat.html",
            expect={"tags": [], "published": "2023-05-04T09:12:00+00:00", "section": "Economy"},
            never=NEVER_COMMON,
        ),
        SiteTest(url=f"{EN}/news/politics", fixture="almayadeen/listing-politics.html", not_article=True),
        SiteTest(
            url=f"{EN}/videos/newsfeed/drone-footage-shows-strike-on-armored-vehicle",
            fixture="almayadeen/video-no-text.html",
            not_article=True,
        ),
        SiteTest(url=f"{EN}/news/politics/gone", fixture="almayadeen/error-404.html", not_article=True),
        SiteTest(url=f"{EN}/news/politics/anything", only_matching=True),
        SiteTest(url="https://www.almayadeen.net/news/politics/x", only_matching=True),
        SiteTest(url="https://espanol.almayadeen.net/noticias/politica/x", only_matching=True),
    )

    def parse(self, html: str, url: str) -> Article:
        tree = build_tree(html)
        taw = tawsiyat(tree)
        if str(taw.get("type", "")).lower() in NON_ARTICLE_TYPES - {"videoobject", "video"}:
            raise NotAnArticle(f"{url}: tawsiyat type {taw.get('type')!r} is not an article")
        scope = _first(tree, SELECTORS["article"])
        if scope is None:
            scope = tree
        body_el = _first(scope, SELECTORS["body"])
        if body_el is None:
            body_el = _first(tree, "/" + SELECTORS["body"][1:])
        if body_el is None:
            raise NotAnArticle(f"{url}: no article body container (listing, video or error page)")
        paragraphs, related = body_blocks(body_el, url)
        if not paragraphs:
            raise NotAnArticle(f"{url}: the page has no article text (e.g. a video page)")
        md = extract_metadata(tree, url) if not taw else None
        classes = tawsiyat_classes(taw)
        meta_row = _first(scope, SELECTORS["meta_row"])
        h1 = _first(scope, SELECTORS["headline"])
        standfirst = _first(scope, SELECTORS["standfirst"])
        published, updated = dates(tree, taw, meta_row)
        canonical = _canonical(tree, url) or _str(taw.get("url")) or (md.canonical_url if md else None) or url
        return Article(
            url=url,
            canonical_url=canonical,
            headline=clean_text(h1.text_content() if h1 is not None else None)
            or clean_text(_str(taw.get("title")))
            or clean_text(md.headline if md else _meta(tree, "og:title")),
            body=join_paragraphs(paragraphs),
            byline=byline(meta_row, taw, classes),
            source=source(meta_row),
            published=published,
            updated=updated,
            description=clean_text(standfirst.text_content() if standfirst is not None else None)
            or clean_text(_str(taw.get("description")))
            or clean_text(md.description if md else _meta(tree, "og:description"))
            or None,
            section=classes.get("category") or section_from_url(canonical),
            series=classes.get("coverage") or coverage_title(scope),
            tags=tags(scope),
            images=lead_images(scope, url, md.image if md else _meta(tree, "og:image")),
            related=tuple(related),
            lang=_str(taw.get("lang")) or HOST_LANG.get(urlsplit(url).hostname or "") or tree.get("lang"),
            extra=extras(taw, classes),
        )


@cache
def _xpath(expr: str) -> etree.XPath:
    return etree.XPath(expr)


def _first(node: HtmlElement, xpath: str) -> HtmlElement | None:
    found = _xpath(xpath)(node)
    return found[0] if found else None


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def tawsiyat(tree: HtmlElement) -> dict[str, Any]:
    """The CMS's own metadata block (SITES.md 1.2) as a dict; {} when absent or unreadable."""
    script = _first(tree, SELECTORS["tawsiyat"])
    if script is None or not (script.text or "").strip():
        return {}
    try:
        data = json.loads(script.text, strict=False)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def extras(taw: dict[str, Any], classes: dict[str, str]) -> dict[str, str]:
    """CMS facts with no Article field: post id, post type, country."""
    pairs = (("postid", _str(taw.get("postid"))), ("posttype", classes.get("posttype")))
    pairs += (("country", classes.get("country")),)
    return {k: v for k, v in pairs if v}


def tawsiyat_classes(taw: dict[str, Any]) -> dict[str, str]:
    """tawsiyat ``classes`` -> {mapping: value}, e.g. {"category": "Politics", "coverage": "Russia & NATO"}."""
    out: dict[str, str] = {}
    for item in taw.get("classes") or ():
        if isinstance(item, dict) and isinstance(item.get("mapping"), str):
            value = clean_text(_str(item.get("value")))
            if value:
                out.setdefault(item["mapping"].lower(), value)
    return out


def dates(tree: HtmlElement, taw: dict[str, Any], meta_row: HtmlElement | None) -> tuple[datetime | None, ...]:
    """Published/updated, aware. tawsiyat carries the offset; ``article:*_time`` is naive UTC (SITES.md 1.4)."""
    found = []
    for taw_key, meta_key in (("published_time", "article:published_time"), ("last_updated", "article:modified_time")):
        value = parse_date(_str(taw.get(taw_key)))
        if value is None:
            value = parse_date(_meta(tree, meta_key), default_tz=UTC)
        found.append(value)
    for item in _row_items(meta_row) if found[0] is None else ():
        if m := VISIBLE_DATE.search(item):
            found[0] = parse_date(m.group(1), default_tz=ZoneInfo(CMS_ZONE))
            break
    return found[0], found[1]


def _canonical(tree: HtmlElement, url: str) -> str | None:
    href = tree.xpath('//link[@rel="canonical"]/@href')
    return urljoin(url, str(href[0]).strip()) if href and str(href[0]).strip() else None


def _meta(tree: HtmlElement, key: str) -> str | None:
    values = _xpath(f'//head/meta[@property="{key}" or @name="{key}"]/@content')(tree)
    return str(values[0]).strip() or None if values else None


def _row_items(meta_row: HtmlElement | None) -> list[str]:
    if meta_row is None:
        return []
    items = meta_row.xpath(".//li") or meta_row.xpath("./*") or [meta_row]
    return [clean_text(i.text_content()) for i in items]


def byline(meta_row: HtmlElement | None, taw: dict[str, Any], classes: dict[str, str]) -> tuple[str, ...]:
    """Authors: the meta row's "By ..." item, else tawsiyat ``author`` / ``class6``."""
    for item in _row_items(meta_row):
        if BY_LABEL.match(item) and BY_LABEL.sub("", item):
            names = re.split(r"\s*(?:,|&| and | و | y )\s*", BY_LABEL.sub("", item))
            return tuple(n for n in names if n)
    name = clean_text(_str(taw.get("author"))) or classes.get("author")
    return (name,) if name else ()


def source(meta_row: HtmlElement | None) -> str | None:
    """The agency ("Agencies", "News websites"): only the meta row carries it."""
    for item in _row_items(meta_row):
        if SOURCE_LABEL.match(item):
            return SOURCE_LABEL.sub("", item) or None
    return None


def section_from_url(url: str) -> str | None:
    """``/news/politics/<slug>`` -> "Politics" (the English nav labels, kebab-cased in URLs)."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) >= 3 and parts[0] in {"news", "articles", "noticias"}:
        return unquote(parts[1]).replace("-", " ").title()
    return None


def coverage_title(scope: HtmlElement) -> str | None:
    box = _first(scope, SELECTORS["coverage_box"])
    title = _first(box, SELECTORS["coverage_title"]) if box is not None else None
    return clean_text(title.text_content()) or None if title is not None else None


def tags(scope: HtmlElement) -> tuple[str, ...]:
    """The rendered tag list, in page order (tawsiyat ``keywords`` are SEO terms, not tags)."""
    box = _first(scope, SELECTORS["tags"])
    if box is None:
        return ()
    items = box.xpath(".//a") or box.xpath(".//li | .//p")
    out: list[str] = []
    for item in items:
        text = clean_text(item.text_content()).lstrip("#").strip()
        if text and text not in out:
            out.append(text)
    return tuple(out)


def lead_images(scope: HtmlElement, url: str, og_image: str | None) -> tuple[Image, ...]:
    """The lead figure's image and its visible caption (never the alt text, never body text)."""
    fig = _first(scope, SELECTORS["lead_figure"])
    img = _first(fig, ".//img") if fig is not None else None
    if img is not None:
        src = img.get("data-src") or img.get("src") or ""
        if src.strip():
            cap = _first(fig, SELECTORS["caption"]) if fig is not None else None
            caption = clean_text(cap.text_content()) if cap is not None else ""
            return (Image(urljoin(url, src.strip()), caption or None),)
    return (Image(og_image),) if og_image else ()


def _is_related_box(el: HtmlElement) -> bool:
    heading = _first(el, ".//h2 | .//h3 | .//h4 | .//h5 | .//strong | .//span")
    return heading is not None and clean_text(heading.text_content()).lower() in RELATED_BOX_HEADINGS


def body_blocks(body_el: HtmlElement, url: str) -> tuple[list[str], list[RelatedLink]]:
    """Body paragraphs in order, and the inline "Read more:" items pulled out as related links."""
    for xpath in BODY_REMOVALS:
        for el in _xpath(xpath)(body_el):
            el.drop_tree()
    paragraphs: list[str] = []
    related: list[RelatedLink] = []

    def walk(node: HtmlElement) -> None:
        if node.text and node.text.strip() and node.tag in CONTAINER_TAGS - {"ul", "ol"}:
            paragraphs.append(clean_text(node.text))
        for child in node:
            if not isinstance(child.tag, str):
                continue
            if child.tag in BLOCK_TAGS:
                text = clean_text(child.text_content())
                if READ_MORE.match(text):
                    link = read_more_link(child, text, url)
                    if link:
                        related.append(link)
                elif text.lower() in RELATED_BOX_HEADINGS:
                    pass
                elif text:
                    paragraphs.append(text)
            elif child.xpath(EMBED_QUOTE):
                paragraphs.extend(t for p in child.xpath(".//p") if (t := clean_text(p.text_content())))
            elif child.tag in CONTAINER_TAGS and not _is_related_box(child):
                walk(child)
            elif child.tag not in CONTAINER_TAGS:
                text = clean_text(child.text_content())
                if text and child.tag in {"strong", "b", "em", "a"}:
                    paragraphs.append(text)
            if child.tail and child.tail.strip():
                paragraphs.append(clean_text(child.tail))

    walk(body_el)
    return paragraphs, related


def read_more_link(block: HtmlElement, text: str, url: str) -> RelatedLink | None:
    """A "Read more: <title>" block -> RelatedLink(title, absolute url); None when it links nowhere."""
    links = [a for a in block.xpath(".//a[@href]") if a.get("href", "").strip() not in {"", "#"}]
    if not links:
        return None
    title = READ_MORE.sub("", clean_text(links[-1].text_content())).strip() or READ_MORE.sub("", text).strip()
    return RelatedLink(title, urljoin(url, links[-1].get("href", "").strip())) if title else None
