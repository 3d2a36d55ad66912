"""Al Mayadeen (English, Arabic and Spanish editions): one CMS, one parser.

Every concept is an ordered tuple of rules (see :mod:`newsarchive.parse.rules`): the CMS's class names
first, then signals that survive a redesign (tawsiyat / meta / JSON-LD for metadata, ``/tags/`` link
targets for tags, "Related News" / "Read more:" texts for recirculation, structure for the body). When no
body container is found at all, the generic extractor's body is used with this parser's metadata.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from lxml import etree
from lxml import html as lxml_html

from newsarchive.article import Article, Image, RelatedLink
from newsarchive.errors import NotAnArticle
from newsarchive.parse import rules as r
from newsarchive.parse.dates import parse_date
from newsarchive.parse.dom import build_tree, clean_text, join_paragraphs
from newsarchive.parse.generic import extract_body
from newsarchive.parse.metadata import article_json_ld, canonical_url, extract_metadata, join_url, load_json
from newsarchive.parse.site import DefaultSource, Host, Site, SiteParser, SiteTest, Tag

HtmlElement = lxml_html.HtmlElement

# ---- Texts that mark a block whatever its markup (English, Arabic, Spanish editions) ----------------------

#: Headings of recirculation boxes: the view-time "Related News" recommender, sidebars (not related links).
RECIRCULATION_HEADINGS = (
    r"related news|related articles|related stories|more news|recommended|you may also like|most read|read next"
    r"|coverage|latest news|trending|most popular|popular posts"
    r"|أخبار ذات صلة|اخبار ذات صلة|الأكثر قراءة|الاكثر قراءة|اقرأ التالي|تغطيات|مواضيع ذات صلة"
    r"|noticias relacionadas|lo más leído|lo mas leido|leer después|te puede interesar"
)
RELATED_BOX_HEADINGS = frozenset({"related news", "أخبار ذات صلة", "اخبار ذات صلة", "noticias relacionadas"})
#: Label of the live ticker ("BREAKING" and its editions' words).
TICKER_LABELS = r"breaking|breaking news|عاجل|última hora|ultima hora|urgente"
#: Inline, newsroom-written "Read more:" lines: become related links, leave the body.
READ_MORE = re.compile(
    r"^\s*(?:read more|read also|اقرأ أيضاً|اقرأ أيضا|اقرأ ايضاً|اقرأ ايضا|lee también|leer más|lea también)\s*[:：]",
    re.I,
)
#: Meta-row labels, per edition.
BY_LABEL = re.compile(r"^\s*(?:by|بقلم|por)\s*[:：]?\s*", re.I)
SOURCE_LABEL = re.compile(r"^\s*(?:source|المصدر|fuente)\s*[:：]\s*", re.I)
#: The visible header date "16 Feb 2023 08:35" (CMS-local time; last-resort date only).
VISIBLE_DATE = re.compile(r"\b(\d{1,2} [A-Z][a-z]{2} \d{4} \d{1,2}:\d{2})\b")
#: Links to a tag page: the CMS's ``/tags/<slug>``, Blogger-style labels, ``rel=tag`` (read separately).
TAG_HREF = r"/tags?/|/search/label/|/labels?/|[?&]tags?="
#: The opinion pages' disclaimer: a note of the site, not the writer's text.
DISCLAIMER = (
    r"the opinions mentioned in this article|the views expressed in this article|الآراء الواردة|الآراء المذكورة"
    r"|las opiniones mencionadas|las opiniones expresadas"
)
#: Links of an embedded post (a tweet whatever its blockquote's class).
EMBED_HREF = r"(?:twitter|x)\.com/[^/]+/status/|instagram\.com/(?:p|reel)/|tiktok\.com/@"
#: Links that share the page (a share list, whatever its class).
SHARE_HREF = r"(?:x|twitter)\.com/intent|facebook\.com/sharer|wa\.me/|whatsapp:|t\.me/share|telegram\.me/share"
#: The CMS clock follows Israel's DST rule, not Beirut's (SITES.md 1.4).
CMS_ZONE = "Asia/Jerusalem"
#: tawsiyat ``type`` values that are never articles.
NON_ARTICLE_TYPES = frozenset({"page", "videoobject", "video", "listing", "section"})
#: A labelled line ("By ...", "Source: ...") longer than this is prose, not a meta row item.
MAX_LINE_CHARS = 120

# ---- Rules: each concept, class names first, then redesign-proof signals (parse/rules.py) ---------------

ARTICLE_SCOPE: r.Rules = (("css", "section.read-section"), ("css", "article.article, article.post"))
HEADLINE: r.Rules = (("xpath", ".//h1"),)
HEADLINE_VALUES: r.Rules = (("data", "title"), ("meta", "og:title"), ("jsonld", "headline"))
STANDFIRST: r.Rules = (("css", "p.summary, p.lg_para"),)
STANDFIRST_VALUES: r.Rules = (("data", "description"), ("meta", "og:description"), ("meta", "description"))
META_ROW: r.Rules = (("css", ".post-metas, .article-details-metas, .post-type, .type-wrap"),)
BYLINE_LINE: r.Rules = (("label", BY_LABEL.pattern),)
SOURCE_LINE: r.Rules = (("label", SOURCE_LABEL.pattern),)
DATE_LINE: r.Rules = (("label", r"^\s*" + VISIBLE_DATE.pattern[2:-2] + r"\s*$"),)
#: The body container: the CMS's ``div.p-content``, else the element holding the most paragraph text.
BODY: r.Rules = (("css", "div.p-content"), ("densest", ""))
LEAD_FIGURE: r.Rules = (("css", "figure, .lead-image, .main-image, .article-image, .post-image"),)
CAPTION: r.Rules = (("css", "figcaption, .caption, .img-caption, .image-caption"),)
TAG_BOX: r.Rules = (("css", ".tags, .post-tags, .article-tags, .tags-list"), ("link-box", TAG_HREF),
                    ("xpath", "(.//a[contains(concat(' ', normalize-space(@rel), ' '), ' tag ')])[1]/.."))  # fmt: skip
TAG_ITEMS: r.Rules = (("links", TAG_HREF), ("xpath", ".//a[@rel] | .//a | .//button"),
                      ("xpath", ".//li[not(.//li)] | .//p"))  # fmt: skip
#: The coverage (series) box: by class, else the nearest box around a link to a coverage page that holds a
#: blurb (within three levels, never the article).
COVERAGE_BOX: r.Rules = (
    ("css", ".coverage-box, .post-coverage, .coverage-card"),
    ("xpath", ".//a[contains(@href, '/coverage/')]/ancestor::*[position() <= 3][.//p][not(.//h1)][1]"),
)
COVERAGE_TITLE: r.Rules = (("css", ".coverage-title"), ("xpath", ".//h2 | .//h3 | .//h4"))

#: Page furniture dropped before the body is looked for by structure: ticker, navigation, recirculation,
#: share buttons, footer. (Scripts, styles, noscript copies, forms and frames go too.)
PAGE_NOISE: r.Rules = (
    ("xpath", ".//script | .//style | .//noscript | .//template | .//iframe | .//form | .//svg"),
    ("css", ".breaking-news, .breaking, .ticker, .ticker-wrap, #breaking, .urgent-news"),
    ("headed", TICKER_LABELS),
    ("xpath", ".//nav | .//header[not(.//h1)] | .//*[@role='navigation'] | .//footer[not(.//h1)]"),
    ("css", ".main-nav, .mobile-menu, .regions-nav, .navbar, .site-footer"),
    ("css", ".related-news, .related-box, .related-articles, .related_news, .recommendations"),
    ("css", ".most-read, .read-next, .coverage-list, .sidebar"),
    *COVERAGE_BOX,
    ("xpath", ".//aside[not(.//h1)]"),
    ("heading", RECIRCULATION_HEADINGS),
    ("css", ".share, .share-list, .social-share, .read-time, .min-read, .shares-count, .newsletter"),
    ("links", SHARE_HREF),
)
#: Blocks inside the body container that are not the article's own text.
BODY_NOISE: r.Rules = (
    (
        "css",
        ".related-news, .related-box, .related-articles, .related_news, .recommendations, .ad, .ads, .advert,"
        " .banner, .share, .share-list, .social-share, .post_disclaimer, .read-time, .min-read, .shares-count,"
        " .newsletter, .breaking, .ticker",
    ),
    ("heading", RECIRCULATION_HEADINGS),
    ("link-list", ""),
    ("headed", TICKER_LABELS),
    (
        "xpath",
        ".//script | .//style | .//noscript | .//iframe | .//figure | .//figcaption | .//form"
        " | .//button[not(ancestor::a)]",
    ),
    ("label", DISCLAIMER),
)
#: Embedded posts: only their quoted text is body text (not the "— Name (@handle) date" attribution).
EMBEDS: r.Rules = (
    (
        "xpath",
        ".//blockquote[contains(@class, 'twitter-tweet') or contains(@class, 'instagram-media')"
        f" or contains(@class, 'tiktok-embed') or .//a[re:test(@href, '{EMBED_HREF}')]]",
    ),
)

BLOCK_TAGS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "li", "pre", "dd", "dt"})
CONTAINER_TAGS = frozenset({"div", "section", "blockquote", "ul", "ol", "article", "span", "center", "aside",
                            "main", "dl", "font"})  # fmt: skip
INLINE_TAGS = frozenset({"strong", "b", "em", "i", "a", "u", "q", "small", "mark", "cite", "sup", "sub"})

HOST_LANG = {"english.almayadeen.net": "en", "www.almayadeen.net": "ar", "almayadeen.net": "ar",
             "espanol.almayadeen.net": "es"}  # fmt: skip

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
    version = "2"
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
            expect={
                "byline": ["Karim Haddad"],
                "source": None,
                "section": "Opinion",
                "series": None,
                "body": "contains:\n\nThe structural problem\n\n",
                "related": "count:1",
            },
            never=(*NEVER_COMMON, "do not necessarily reflect"),
        ),
        SiteTest(
            url="https://www.almayadeen.net/news/politics/مسؤول-روسي--وجود-قوات-أجنبية-في-أوكرانيا--سر-مكشوف",
            fixture="almayadeen/arabic-news.html",
            expect={
                "lang": "ar",
                "byline": ["الميادين نت"],
                "source": "وكالات",
                "related": "count:1",
                "published": "2024-08-12T23:18:00+03:00",
                "series": "روسيا والأطلسي",
                "tags": ["روسيا", "أوكرانيا", "الناتو"],
            },
            never=("أخبار ذات صلة", "خبر مقترح", "اقرأ أيضاً", "عاجل", "مراسل الميادين", "تصفح المزيد", "الأكثر قراءة"),
        ),
        SiteTest(
            url=f"{ES}/noticias/politica/rusia-advierte-contra-el-env-o-de-tropas-occidentales-a-ucra",
            fixture="almayadeen/spanish-news.html",
            expect={
                "lang": "es",
                "byline": ["Al Mayadeen Español"],
                "source": "Agencias",
                "section": "Política",
                "related": [{"title": "Moscú responde a París", "url": ES_READ_MORE}],
            },
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
        kind = str(taw.get("type", "")).lower()
        if kind in NON_ARTICLE_TYPES - {"videoobject", "video"}:
            raise NotAnArticle(f"{url}: tawsiyat type {taw.get('type')!r} is not an article")
        scope = r.find(tree, ARTICLE_SCOPE)
        series = tawsiyat_classes(taw).get("coverage") or coverage_title(scope if scope is not None else tree)
        body_el = r.find(scope if scope is not None else tree, BODY[:1])
        if body_el is None:
            body_el = r.find(tree, BODY[:1])
        if body_el is None:
            r.drop(r.find_union(tree, PAGE_NOISE))
            body_el = r.find(scope if scope is not None else tree, BODY[1:])
        h1 = r.find(scope if scope is not None else tree, HEADLINE)
        if scope is None:
            scope = _article_scope(tree, h1, body_el)
        md = extract_metadata(tree, url) if not taw else None
        classes = tawsiyat_classes(taw)
        meta_row = r.find(scope, META_ROW)
        standfirst = r.find(scope, STANDFIRST)
        published, updated = dates(tree, taw, meta_row, scope, body_el)
        canonical = _canonical(tree, url) or _str(taw.get("url")) or (md.canonical_url if md else None) or url
        headline = clean_text(h1.text_content() if h1 is not None else None) or r.value(tree, HEADLINE_VALUES, taw)
        images = lead_images(scope, url, md.image if md else r.meta(tree, "og:image"))
        tag_list = tags(scope, body_el)
        byline_, source_ = byline(meta_row, scope, body_el, taw, classes), source(meta_row, scope, body_el)
        description = (
            clean_text(standfirst.text_content() if standfirst is not None else None)
            or r.value(tree, STANDFIRST_VALUES, taw)
            or None
        )
        if body_el is not None:
            paragraphs, related = body_blocks(body_el, url)
        elif _declares_article(tree, taw):
            paragraphs, related = generic_body(tree, url, headline, description)
        else:
            raise NotAnArticle(f"{url}: no article body container (listing, video or error page)")
        if not paragraphs:
            raise NotAnArticle(f"{url}: the page has no article text (e.g. a video page)")
        return Article(
            url=url,
            canonical_url=canonical,
            headline=headline or clean_text(md.headline if md else None),
            body=join_paragraphs(paragraphs),
            byline=byline_,
            source=source_,
            published=published,
            updated=updated,
            description=description,
            section=classes.get("category") or section_from_url(canonical),
            series=series,
            tags=tag_list,
            images=images,
            related=tuple(related),
            lang=_str(taw.get("lang")) or HOST_LANG.get(urlsplit(url).hostname or "") or tree.get("lang"),
            extra=extras(taw, classes),
        )


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _article_scope(tree: HtmlElement, h1: HtmlElement | None, body_el: HtmlElement | None) -> HtmlElement:
    """No article container by class: the innermost element holding the headline and the body."""
    if h1 is not None and body_el is not None:
        common = r.common_ancestor([h1, body_el])
        return common if common is not None else tree
    parent = h1.getparent() if h1 is not None else None
    return parent if parent is not None else tree


def _declares_article(tree: HtmlElement, taw: dict[str, Any]) -> bool:
    """The page says it is an article (tawsiyat, OpenGraph or JSON-LD): its text is worth a generic look."""
    if taw:
        return str(taw.get("type", "")).lower() == "article"
    return (r.meta(tree, "og:type") or "").lower() == "article" or article_json_ld(tree) is not None


def tawsiyat(tree: HtmlElement) -> dict[str, Any]:
    """The CMS's own metadata block (SITES.md 1.2) as a dict; {} when absent or unreadable."""
    scripts = tree.xpath('//script[@id="tawsiyat-metadata"]')
    if not scripts or not (scripts[0].text or "").strip():
        return {}
    try:
        data = load_json(scripts[0].text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def extras(taw: dict[str, Any], classes: dict[str, str]) -> dict[str, str]:
    """CMS facts with no Article field: post id, post type, country."""
    pairs = (
        ("postid", _str(taw.get("postid"))),
        ("posttype", classes.get("posttype")),
        ("country", classes.get("country")),
    )
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


def _header_lines(rules: r.Rules, scope: HtmlElement, body_el: HtmlElement | None) -> list[str]:
    """Short labelled lines of the article header (never inside the body), for a meta row found by text."""
    out = []
    for el in r.find_all(scope, rules):
        if body_el is not None and (el is body_el or body_el in el.iterancestors()):
            continue
        text = r.text_of(el)
        if len(text) <= MAX_LINE_CHARS:
            out.append(text)
    return out


def dates(
    tree: HtmlElement, taw: dict[str, Any], meta_row: HtmlElement | None,
    scope: HtmlElement | None = None, body_el: HtmlElement | None = None,
) -> tuple[datetime | None, ...]:  # fmt: skip
    """Published/updated, aware. tawsiyat carries the offset; ``article:*_time`` is naive UTC (SITES.md 1.4)."""
    found = []
    for taw_key, meta_key in (("published_time", "article:published_time"), ("last_updated", "article:modified_time")):
        value = parse_date(_str(taw.get(taw_key)))
        if value is None:
            value = parse_date(r.meta(tree, meta_key), default_tz=UTC)
        found.append(value)
    if found[0] is None:
        lines = _row_items(meta_row) or (_header_lines(DATE_LINE, scope, body_el) if scope is not None else [])
        for item in lines:
            if m := VISIBLE_DATE.search(item):
                found[0] = parse_date(m.group(1), default_tz=ZoneInfo(CMS_ZONE))
                break
    return found[0], found[1]


_CANONICAL = etree.XPath('/html/head/link[@rel="canonical"]/@href')


def _canonical(tree: HtmlElement, url: str) -> str | None:
    href = _CANONICAL(tree)
    return canonical_url(url, href[0]) if href else None


def _row_items(meta_row: HtmlElement | None) -> list[str]:
    if meta_row is None:
        return []
    items = meta_row.xpath(".//li") or meta_row.xpath("./*") or [meta_row]
    return [clean_text(i.text_content()) for i in items]


def byline(
    meta_row: HtmlElement | None, scope: HtmlElement | None, body_el: HtmlElement | None,
    taw: dict[str, Any], classes: dict[str, str],
) -> tuple[str, ...]:  # fmt: skip
    """Authors: the meta row's "By ..." item (found by class, else by its label), else tawsiyat ``author``."""
    lines = _row_items(meta_row) or (_header_lines(BYLINE_LINE, scope, body_el) if scope is not None else [])
    for item in lines:
        if BY_LABEL.match(item) and BY_LABEL.sub("", item):
            names = re.split(r"\s*(?:,|&| and | و | y )\s*", BY_LABEL.sub("", item))
            return tuple(n for n in names if n)
    name = clean_text(_str(taw.get("author"))) or classes.get("author")
    return (name,) if name else ()


def source(meta_row: HtmlElement | None, scope: HtmlElement | None, body_el: HtmlElement | None) -> str | None:
    """The agency ("Agencies", "News websites"): only the meta row carries it (found by class or label)."""
    lines = _row_items(meta_row) or (_header_lines(SOURCE_LINE, scope, body_el) if scope is not None else [])
    for item in lines:
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
    """The coverage box's title: its title element when the box has its class, else the text of the one
    coverage page it links to, beside a blurb (a list of coverages is the sidebar's, not this article's)."""
    box = r.find(scope, COVERAGE_BOX[:1])
    if box is not None:
        title = r.find(box, COVERAGE_TITLE)
        return clean_text(title.text_content()) or None if title is not None else None
    box = r.find(scope, COVERAGE_BOX[1:])
    links = box.xpath(".//a[contains(@href, '/coverage/')]") if box is not None else []
    blurb = box is not None and any(len(r.text_of(p)) >= 40 and r.link_share(p) < 0.5 for p in box.iter("p"))
    if len({a.get("href") for a in links}) != 1 or not blurb:
        return None
    return next((t for a in links if (t := clean_text(a.text_content()))), None)


def tags(scope: HtmlElement, body_el: HtmlElement | None = None) -> tuple[str, ...]:
    """The rendered tag list, in page order (tawsiyat ``keywords`` are SEO terms, not tags).

    The tag box is found by class, else as the box of links to tag pages; its items are those links, else
    its links or buttons, else its list items or paragraphs. Links inside the body are never tags.
    """
    box = r.find(scope, TAG_BOX)
    if box is None or (body_el is not None and (box is body_el or body_el in box.iterancestors())):
        return ()
    out: list[str] = []
    for item in r.find_all(box, TAG_ITEMS):
        if body_el is not None and body_el in item.iterancestors():
            continue
        text = clean_text(item.text_content()).lstrip("#").strip()
        if text and text not in out:
            out.append(text)
    return tuple(out)


def lead_images(scope: HtmlElement, url: str, og_image: str | None) -> tuple[Image, ...]:
    """The lead figure's image and its visible caption (never the alt text, never body text)."""
    fig = r.find(scope, LEAD_FIGURE)
    img = r.find(fig, (("xpath", ".//img"),)) if fig is not None else None
    if img is not None:
        src = img.get("data-src") or img.get("src") or ""
        if src.strip():
            cap = r.find(fig, CAPTION) if fig is not None else None
            caption = clean_text(cap.text_content()) if cap is not None else ""
            image = join_url(url, src)
            return (Image(image, caption or None),) if image else ()
    image = join_url(url, og_image) if og_image else None
    return (Image(image),) if image else ()


def body_blocks(body_el: HtmlElement, url: str) -> tuple[list[str], list[RelatedLink]]:
    """Body paragraphs in order, and the inline "Read more:" items pulled out as related links."""
    r.drop(r.find_union(body_el, BODY_NOISE))
    embeds = set(r.find_union(body_el, EMBEDS))
    paragraphs: list[str] = []
    related: list[RelatedLink] = []

    def walk(node: HtmlElement) -> None:
        if node.text and node.text.strip() and node.tag in CONTAINER_TAGS - {"ul", "ol", "dl"}:
            paragraphs.append(clean_text(node.text))
        for child in node:
            if not isinstance(child.tag, str):
                continue
            text = clean_text(child.text_content())
            if text and READ_MORE.match(text) and not _holds_blocks(child):
                link = read_more_link(child, text, url)
                if link:
                    related.append(link)
            elif text.lower().rstrip(":：").strip() in RELATED_BOX_HEADINGS:
                pass
            elif child.tag in BLOCK_TAGS:
                if text:
                    paragraphs.append(text)
            elif child in embeds:
                paragraphs.extend(t for p in child.xpath(".//p") if (t := clean_text(p.text_content())))
            elif child.tag in CONTAINER_TAGS:
                walk(child)
            elif child.tag in INLINE_TAGS and child.xpath(".//p | .//div | .//h2 | .//h3 | .//h4 | .//li"):
                walk(child)  # a link or bold run wrapping whole paragraphs
            elif text and child.tag in INLINE_TAGS:
                paragraphs.append(text)
            if child.tail and child.tail.strip():
                paragraphs.append(clean_text(child.tail))

    walk(body_el)
    return paragraphs, related


def _holds_blocks(el: HtmlElement) -> bool:
    """A container of several blocks (a wrapper of paragraphs), not one line."""
    return len(el.xpath(".//p | .//div | .//li | .//h2 | .//h3 | .//h4 | .//blockquote")) > 1


def read_more_link(block: HtmlElement, text: str, url: str) -> RelatedLink | None:
    """A "Read more: <title>" block -> RelatedLink(title, absolute url); None when it links nowhere."""
    links = [a for a in block.iter("a") if a.get("href", "").strip() not in {"", "#"}]
    if not links:
        return None
    title = READ_MORE.sub("", clean_text(links[-1].text_content())).strip() or READ_MORE.sub("", text).strip()
    href = join_url(url, links[-1].get("href", ""))
    return RelatedLink(title, href) if title and href else None


def generic_body(
    tree: HtmlElement, url: str, headline: str | None, description: str | None = None
) -> tuple[list[str], list[RelatedLink]]:
    """No body container at all: the generic extractor's paragraphs, on the page less its furniture.

    "Read more:" lines it keeps become related links when the page links their title; recirculation
    headings and the standfirst (a field of its own) are dropped.
    """
    page = lxml_html.tostring(tree, encoding="unicode")
    paragraphs = [p for p in extract_body(page, url, headline=headline).split("\n\n") if p.strip()]
    links = {clean_text(a.text_content()): a.get("href", "").strip() for a in tree.iter("a") if a.get("href")}
    out: list[str] = []
    related: list[RelatedLink] = []
    for para in paragraphs:
        if READ_MORE.match(para):
            title = READ_MORE.sub("", para).strip()
            href = join_url(url, links.get(title))
            if href:
                related.append(RelatedLink(title, href))
        elif para.lower().rstrip(":：").strip() not in RELATED_BOX_HEADINGS and para != description:
            out.append(para)
    return out, related
