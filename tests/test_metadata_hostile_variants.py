"""The metadata cascade on variants of the generic fixtures carrying what hostile or careless pages carry.

Each test re-renders every page of ``fixtures/sites/generic`` with one kind of trouble added (a second
article's JSON-LD, a canonical link to the home page, ...) and holds the result to the page's own facts.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from newsarchive.parse import parse_html
from newsarchive.parse.dom import build_tree
from newsarchive.parse.metadata import extract_metadata

GENERIC = sorted((FIXTURES / "sites" / "generic").glob("*.html"))
URL = "https://news.example/2024/03/05/the-story/"


def _variant(path: Path, head: str = "", *, drop: str | None = None) -> lxml_html.HtmlElement:
    """The page's tree with ``head`` markup added at the start of <head> and ``drop`` elements (XPath) removed."""
    tree = build_tree(path.read_text("utf-8"))
    if drop:
        for el in tree.xpath(drop):
            el.drop_tree()
    head_el = tree.find("head")
    assert head_el is not None
    for el in reversed(lxml_html.fragments_fromstring(head) if head else []):
        assert not isinstance(el, str)
        head_el.insert(0, el)
    return tree


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_a_related_article_listed_first_in_json_ld_is_not_the_page(path) -> None:  # type: ignore[no-untyped-def]
    original = extract_metadata(build_tree(path.read_text("utf-8")), URL)
    other = {
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": "Most read: another story",
        "url": "https://news.example/2019/01/01/another-story/", "datePublished": "2019-01-01T00:00:00Z",
        "author": {"@type": "Person", "name": "Someone Else"},
    }  # fmt: skip
    own = {
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": "The page's own story",
        "mainEntityOfPage": {"@type": "WebPage", "@id": URL}, "datePublished": "2024-03-05T09:15:00+01:00",
    }  # fmt: skip
    script = '<script type="application/ld+json">{}</script>'
    tree = _variant(path, script.format(json.dumps([other, own])), drop='//script[@type="application/ld+json"]')
    md = extract_metadata(tree, URL)
    assert md.headline == "The page's own story"
    assert md.published is not None and md.published.isoformat() == "2024-03-05T09:15:00+01:00"
    assert "Someone Else" not in md.byline
    assert original.headline  # the page itself still parses


@pytest.mark.parametrize("home", ["/", "https://news.example", "https://news.example/#top"])
@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_a_canonical_link_to_the_home_page_is_not_the_article_url(path, home: str) -> None:  # type: ignore[no-untyped-def]
    tree = _variant(path, f'<link rel="canonical" href="{home}"><meta property="og:url" content="{home}">',
                    drop='//link[@rel="canonical"] | //meta[@property="og:url"]')  # fmt: skip
    assert extract_metadata(tree, URL).canonical_url is None


def test_the_home_page_may_name_itself_canonical() -> None:
    tree = _variant(GENERIC[0], '<link rel="canonical" href="https://news.example/">', drop='//link[@rel="canonical"]')
    assert extract_metadata(tree, "https://www.news.example").canonical_url == "https://news.example/"


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_an_update_before_the_publication_is_no_update(path) -> None:  # type: ignore[no-untyped-def]
    dates = (
        '<meta property="article:published_time" content="2024-03-05T09:15:00+01:00">'
        '<meta property="article:modified_time" content="2021-01-01T10:00:00+01:00">'
    )
    drop = '//script[@type="application/ld+json"] | //meta[contains(@property, "_time")] | //time'
    tree = _variant(path, dates, drop=drop)
    html = lxml_html.tostring(tree, encoding="unicode")
    article = parse_html(html, URL)
    assert article.published is not None and article.published.isoformat() == "2024-03-05T09:15:00+01:00"
    assert article.updated is None


def test_an_update_after_the_publication_is_kept() -> None:
    dates = (
        '<meta property="article:published_time" content="2024-03-05T09:15:00+01:00">'
        '<meta property="article:modified_time" content="2024-03-06T10:00:00+01:00">'
    )
    drop = '//script[@type="application/ld+json"] | //meta[contains(@property, "_time")] | //time'
    article = parse_html(lxml_html.tostring(_variant(GENERIC[-1], dates, drop=drop), encoding="unicode"), URL)
    assert article.updated is not None and article.updated.isoformat() == "2024-03-06T10:00:00+01:00"


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        (["By Jane Doe"], ["Jane Doe"]),
        (["by: Jane Doe", "BY John Roe"], ["Jane Doe", "John Roe"]),
        (["jane.doe@news.example"], []),
        (["Jane Doe (jane.doe@news.example)"], ["Jane Doe"]),
        (["https://news.example/author/jane-doe/", "Jane Doe"], ["Jane Doe"]),
        (["By Jane Doe", "Jane Doe"], ["Jane Doe"]),
        (["Bylund Smith"], ["Bylund Smith"]),
    ],
)
@pytest.mark.parametrize("where", ["json-ld", "meta"])
@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_a_byline_is_names_without_by_labels_addresses_or_urls(path, where: str, authors, expected) -> None:  # type: ignore[no-untyped-def]
    if where == "json-ld":
        ld = {
            "@type": "NewsArticle",
            "headline": "The story",
            "author": [{"@type": "Person", "name": a} for a in authors],
        }
        head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    else:
        head = '<meta property="og:title" content="The story">' + "".join(
            f'<meta name="author" content="{a}">' for a in authors[:1]
        )
        expected = expected[:1] if authors[0].startswith(("By", "by", "Bylund")) or "(" in authors[0] else []
    tree = _variant(path, head, drop='//script[@type="application/ld+json"] | //meta[@name="author"]')
    assert list(parse_html(lxml_html.tostring(tree, encoding="unicode"), URL).byline) == expected


@pytest.mark.parametrize("src", ["data:image/gif;base64,R0lGODlhAQABAAAAACw=", "javascript:void(0)"])
@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_an_inline_data_or_script_image_is_no_lead_image(path, src: str) -> None:  # type: ignore[no-untyped-def]
    drop = '//script[@type="application/ld+json"] | //meta[@property="og:image" or @name="twitter:image"]'
    md = extract_metadata(_variant(path, f'<meta property="og:image" content="{src}">', drop=drop), URL)
    assert md.image is None


_SITE_FORMS = [
    "{h} | Daily Planet",
    "{h} - Daily Planet",
    "Daily Planet \u2014 {h}",
    "{h} | news.example",
    "{h} \u00bb NEWS",
]


@pytest.mark.parametrize("form", _SITE_FORMS)
@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_a_declared_headline_loses_the_site_name_copied_into_it(path, form: str) -> None:  # type: ignore[no-untyped-def]
    """og:title is often the <title>, site name included: the part naming the site (og:site_name, the host
    or its first word) goes, wherever the headline was declared; the rest is kept as written."""
    own = extract_metadata(build_tree(path.read_text("utf-8")), URL).headline
    assert own
    title = form.format(h=own).replace('"', "&quot;")
    drop = '//script[@type="application/ld+json"] | //meta[@property="og:title" or @property="og:site_name"]'
    tree = _variant(
        path,
        f'<meta property="og:site_name" content="Daily Planet"><meta property="og:title" content="{title}">',
        drop=drop,
    )
    assert extract_metadata(tree, URL).headline == " ".join(own.split())
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": form.format(h=own)})
    tree = _variant(
        path,
        f'<meta property="og:site_name" content="Daily Planet"><script type="application/ld+json">{ld}</script>',
        drop=drop,
    )
    assert extract_metadata(tree, URL).headline == " ".join(own.split())


@pytest.mark.parametrize(
    "headline", ["Storm hits coast - live", "Daily Planet", "Gaza | Lebanon | Syria", "Planet - Daily"]
)
def test_a_declared_headline_keeps_every_part_that_is_not_the_site_name(headline: str) -> None:
    head = f'<meta property="og:site_name" content="Daily Planet"><meta property="og:title" content="{headline}">'
    page = f"<html><head>{head}</head><body><p>Text.</p></body></html>"
    assert extract_metadata(build_tree(page), URL).headline == headline


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("Tom &amp; Jerry&#39;s <b>day</b> out", "Tom & Jerry's day out"),
        ("<strong>Live:</strong> storm&nbsp;hits coast", "Live: storm\u00a0hits coast".replace("\u00a0", " ")),
        ("Profits < 5% & rising", "Profits < 5% & rising"),  # plain text: kept as written
        ("AT&T buys a rival", "AT&T buys a rival"),
    ],
)
@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_a_json_ld_headline_written_as_html_is_read_as_text(path, declared: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": declared,
                     "description": declared})  # fmt: skip
    tree = _variant(
        path, f'<script type="application/ld+json">{ld}</script>', drop='//script[@type="application/ld+json"]'
    )
    md = extract_metadata(tree, URL)
    assert md.headline == expected and md.description == expected


# Numeric dates: "02/03/2023" is 3 February in the United States and 2 March almost everywhere else.

#: Every date source of the generic fixtures (for variants that carry their own).
_DATES = (
    '//script[@type="application/ld+json"] | //time | //*[@itemprop] | //meta[contains(@property, "_time")]'
    ' | //meta[@name="sailthru.date" or @name="date" or @name="pubdate"]'
)
#: Language tags with the order of their numeric dates (True: day first).
_LOCALES = {
    "en-US": False, "en-GB": True, "en-AU": True, "en-IN": True, "en-NG": True,
    "ar": True, "ar-LB": True, "es": True, "es-ES": True, "fr": True, "fr-FR": True, "de-DE": True,
}  # fmt: skip
_LOCALE_PLACES = ("html lang", "og:locale", "content-language", "language")
_DATE_PLACES = ("meta date", "meta pubdate", "dc.date", "article:published_time", "json-ld", "time", "itemprop")


def _date_variant(path: Path, date: str, place: str, *, locale: str | None = None, locale_place: str = "html lang",
                  extra: str = "", body: str = "") -> lxml_html.HtmlElement:  # fmt: skip
    """A generic fixture whose only publication date is ``date`` at ``place``, its language tag ``locale``."""
    head = {
        "meta date": f'<meta name="date" content="{date}">',
        "meta pubdate": f'<meta name="pubdate" content="{date}">',
        "dc.date": f'<meta name="DC.date.issued" content="{date}">',
        "article:published_time": f'<meta property="article:published_time" content="{date}">',
        "json-ld": '<script type="application/ld+json">{}</script>'.format(
            json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "datePublished": date})
        ),
    }.get(place, "")
    if locale is not None and locale_place != "html lang":
        head += {
            "og:locale": f'<meta property="og:locale" content="{locale.replace("-", "_")}">',
            "content-language": f'<meta http-equiv="Content-Language" content="{locale}">',
            "language": f'<meta name="language" content="{locale}">',
        }[locale_place]
    tree = _variant(path, head + extra, drop=_DATES)
    tree.attrib.pop("lang", None)
    if locale is not None and locale_place == "html lang":
        tree.set("lang", locale)
    markup = {
        "time": f'<p>Posted <time datetime="{date}">{date}</time></p>',
        "itemprop": f'<p>Posted <span itemprop="datePublished" content="{date}">{date}</span></p>',
    }.get(place, "")
    body_el = tree.find("body")
    assert body_el is not None
    for el in reversed(lxml_html.fragments_fromstring(markup + body) if markup + body else []):
        assert not isinstance(el, str)
        body_el.insert(0, el)
    return tree


def _numeric(day: int, month: int, year: int, sep: str, dayfirst: bool) -> str:
    first, second = (day, month) if dayfirst else (month, day)
    return f"{first:02d}{sep}{second:02d}{sep}{year}"


_DAYS = st.integers(1, 28)
_MONTHS = st.integers(1, 12)
_YEARS = st.integers(1995, 2030)
_SEPS = st.sampled_from(["/", ".", "-"])


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(GENERIC), day=_DAYS, month=_MONTHS, year=_YEARS, sep=_SEPS,
    locale=st.sampled_from(sorted(_LOCALES)), locale_place=st.sampled_from(_LOCALE_PLACES),
    place=st.sampled_from(_DATE_PLACES), with_time=st.booleans(),
)  # fmt: skip
def test_a_numeric_date_is_read_in_the_order_of_the_page_s_language(
    path: Path, day: int, month: int, year: int, sep: str, locale: str, locale_place: str, place: str, with_time: bool
) -> None:
    """Written as the page's language writes dates, a numeric date reads back as written: en-US month first,
    other English locales and other languages day first; ambiguous or not, wherever the date and the tag are."""
    text = _numeric(day, month, year, sep, _LOCALES[locale]) + (" 10:15 +01:00" if with_time else "")
    md = extract_metadata(_date_variant(path, text, place, locale=locale, locale_place=locale_place), URL)
    zone = timezone(timedelta(hours=1)) if with_time else UTC
    assert md.published == datetime(year, month, day, 10 if with_time else 0, 15 if with_time else 0, tzinfo=zone)


@settings(max_examples=60, deadline=None)
@given(
    path=st.sampled_from(GENERIC), day=st.integers(13, 28), month=_MONTHS, year=_YEARS, sep=_SEPS,
    locale=st.sampled_from([*_LOCALES, "en", None]), dayfirst=st.booleans(), place=st.sampled_from(_DATE_PLACES),
)  # fmt: skip
def test_a_numeric_date_whose_day_is_over_12_says_its_own_order(
    path: Path, day: int, month: int, year: int, sep: str, locale: str | None, dayfirst: bool, place: str
) -> None:
    """A day past 12 cannot be a month: the date is read right whatever the page's language says."""
    md = extract_metadata(_date_variant(path, _numeric(day, month, year, sep, dayfirst), place, locale=locale), URL)
    assert md.published == datetime(year, month, day, tzinfo=UTC)


@settings(max_examples=80, deadline=None)
@given(
    path=st.sampled_from(GENERIC), day=st.integers(1, 12), month=_MONTHS, year=_YEARS, sep=_SEPS,
    locale=st.sampled_from([*_LOCALES, "en", None]), place=st.sampled_from(_DATE_PLACES),
    witness=st.sampled_from(["modified", "text", "time"]), other_day=st.integers(13, 28), dayfirst=st.booleans(),
)  # fmt: skip
def test_a_page_shows_its_order_in_its_other_numeric_dates(
    path: Path,
    day: int,
    month: int,
    year: int,
    sep: str,
    locale: str | None,
    place: str,
    witness: str,
    other_day: int,
    dayfirst: bool,
) -> None:
    """Another numeric date of the page whose day is past 12 shows the order the site writes, and the
    ambiguous one is read the same way: with bare ``en`` or no tag, and over a tag that says otherwise
    (a WordPress site left at its default ``en-US`` that prints 25/03/2024)."""
    other = _numeric(other_day, month, year + 1, sep, dayfirst)
    extra = f'<meta property="article:modified_time" content="{other}">' if witness == "modified" else ""
    body = {"text": f"<p>Updated {other}</p>", "time": f'<p><time class="updated">{other}</time></p>'}.get(witness, "")
    tree = _date_variant(path, _numeric(day, month, year, sep, dayfirst), place, locale=locale, extra=extra, body=body)
    assert extract_metadata(tree, URL).published == datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize("locale", ["en", None])
@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_a_page_that_says_nothing_of_its_order_keeps_month_first(path: Path, locale: str | None) -> None:
    md = extract_metadata(_date_variant(path, "02/03/2023", "meta date", locale=locale), URL)
    assert md.published == datetime(2023, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize("date", ["2023-02-03", "2023/02/03", "2023-02-03 10:15:00 +0100", "2023-02-03T10:15:00+01:00"])
@pytest.mark.parametrize("locale", ["en-GB", "fr", "ar", "en-US"])
@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_a_year_first_date_is_year_month_day_in_every_language(path: Path, locale: str, date: str) -> None:
    md = extract_metadata(_date_variant(path, date, "meta date", locale=locale), URL)
    assert md.published is not None and (md.published.year, md.published.month, md.published.day) == (2023, 2, 3)


# JSON-LD WebPage dates: Yoast, Rank Math and others put datePublished / dateModified on the page's WebPage
# node, and some pages have no article node, or one without dates.

_PAGE_PUBLISHED = "2024-03-05T09:15:00+01:00"
_PAGE_MODIFIED = "2024-03-06T10:00:00+01:00"
_WEBPAGE_FORMS = ("alone", "graph", "graph with article", "main entity of page", "referenced by article", "typed list")


def _webpage_ld(form: str, dates: dict[str, str], article: dict[str, str] | None = None) -> str:
    """JSON-LD whose WebPage node carries ``dates``, in one of the shapes CMSs write it."""
    page: dict[str, object] = {"@type": "WebPage", "@id": URL, "url": URL, "name": "The story", **dates}
    node: dict[str, object] = {"@type": "NewsArticle", "headline": "The story", **(article or {})}
    data: object
    if form == "alone":
        data = [
            {"@context": "https://schema.org", **page},
            *([{"@context": "https://schema.org", **node}] if article else []),
        ]
    elif form == "graph":
        site = {"@type": "WebSite", "@id": "https://news.example/#website", "name": "News"}
        data = {"@context": "https://schema.org", "@graph": [site, page, *([node] if article else [])]}
    elif form == "graph with article":
        data = {"@context": "https://schema.org", "@graph": [{**node, "isPartOf": {"@id": URL}}, page]}
    elif form == "main entity of page":
        data = {"@context": "https://schema.org", **node, "mainEntityOfPage": page}
    elif form == "referenced by article":
        other = {"@type": "WebPage", "@id": "https://news.example/", "datePublished": "2019-01-01T00:00:00Z"}
        page = {k: v for k, v in page.items() if k != "url"} | {"@id": "https://news.example/?p=123#webpage"}
        node["mainEntityOfPage"] = {"@id": page["@id"]}
        data = {"@context": "https://schema.org", "@graph": [other, node, page]}
    else:  # "typed list"
        page["@type"] = ["WebPage", "ItemPage"]
        data = {"@context": "https://schema.org", "@graph": [page, *([node] if article else [])]}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


@pytest.mark.parametrize("form", _WEBPAGE_FORMS)
@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_dates_only_a_webpage_node_carries_are_the_article_s(path: Path, form: str) -> None:
    dates = {"datePublished": _PAGE_PUBLISHED, "dateModified": _PAGE_MODIFIED}
    tree = _variant(path, _webpage_ld(form, dates), drop=_DATES)
    md = extract_metadata(tree, URL)
    assert md.published is not None and md.published.isoformat() == _PAGE_PUBLISHED
    assert md.updated is not None and md.updated.isoformat() == _PAGE_MODIFIED
    article = parse_html(lxml_html.tostring(tree, encoding="unicode"), URL)
    assert article.published == md.published and article.updated == md.updated


@settings(max_examples=60, deadline=None)
@given(
    path=st.sampled_from(GENERIC), form=st.sampled_from(_WEBPAGE_FORMS), stated=st.sampled_from(["published", "both"]),
    days=st.tuples(st.integers(1, 28), st.integers(0, 30)), with_meta=st.sampled_from([None, "published", "modified"]),
)  # fmt: skip
def test_an_article_node_or_a_meta_date_beats_the_webpage_s(
    path: Path, form: str, stated: str, days: tuple[int, int], with_meta: str | None
) -> None:
    """The WebPage's dates come last of the declared ones: after the article node's and the <meta>s'."""
    page_dates = {"datePublished": "2020-01-01T08:00:00+00:00", "dateModified": "2020-01-02T08:00:00+00:00"}
    own_published = datetime(2024, 3, days[0], 9, 15, tzinfo=UTC)
    own_modified = own_published + timedelta(days=days[1], hours=1)
    article = {"datePublished": own_published.isoformat()}
    if stated == "both":
        article["dateModified"] = own_modified.isoformat()
    head = _webpage_ld(form, page_dates, article if with_meta is None else None)
    if with_meta is not None:  # no dated article node: the meta dates must still win
        head += f'<meta property="article:published_time" content="{own_published.isoformat()}">'
        if with_meta == "modified":
            head += f'<meta property="article:modified_time" content="{own_modified.isoformat()}">'
    md = extract_metadata(_variant(path, head, drop=_DATES), URL)
    assert md.published == own_published
    if (with_meta is None and stated == "both") or with_meta == "modified":
        assert md.updated == own_modified
    else:  # nothing better gives a modification date
        assert md.updated == datetime(2020, 1, 2, 8, tzinfo=UTC)


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_the_webpage_naming_the_page_beats_another(path: Path) -> None:
    other = {"@type": "WebPage", "url": "https://news.example/", "datePublished": "2019-01-01T00:00:00Z"}
    own = {"@type": "WebPage", "url": URL, "datePublished": _PAGE_PUBLISHED}
    ld = json.dumps({"@context": "https://schema.org", "@graph": [other, own]})
    md = extract_metadata(_variant(path, f'<script type="application/ld+json">{ld}</script>', drop=_DATES), URL)
    assert md.published is not None and md.published.isoformat() == _PAGE_PUBLISHED


def test_the_webpage_naming_the_page_is_found_among_thousands() -> None:
    """A @graph of 20,000 WebPage nodes with unparseable dates: the page's own, last, still gives its date
    (and only the first MAX_WEBPAGES of them are tried: all of them took 2 s)."""
    others = [
        {"@type": "WebPage", "url": f"https://news.example/{i}", "datePublished": f"day {i}"} for i in range(20_000)
    ]
    own = {"@type": "WebPage", "url": URL, "datePublished": _PAGE_PUBLISHED}
    ld = json.dumps({"@context": "https://schema.org", "@graph": [*others, own]})
    md = extract_metadata(_variant(GENERIC[0], f'<script type="application/ld+json">{ld}</script>', drop=_DATES), URL)
    assert md.published is not None and md.published.isoformat() == _PAGE_PUBLISHED


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_a_webpage_s_language_tells_the_order_of_its_numeric_dates(path: Path) -> None:
    ld = json.dumps({"@context": "https://schema.org", "@type": "WebPage", "inLanguage": "en-GB",
                     "datePublished": "02/03/2023"})  # fmt: skip
    tree = _variant(path, f'<script type="application/ld+json">{ld}</script>', drop=_DATES)
    tree.attrib.pop("lang", None)
    assert extract_metadata(tree, URL).published == datetime(2023, 3, 2, tzinfo=UTC)


# JSON-LD shapes: however a page wraps and names its article node (a list, @graph, a WebPage's mainEntity
# object, list or {"@id"} reference; @type as a list, with the schema.org URL or in another case; the
# author and image as {"@id"} references to nodes elsewhere), the article is found and read whole.

_STORY = {"headline": "Storm hits the coast overnight", "published": "2024-03-05T09:15:00+01:00",
          "image": "https://news.example/media/storm.jpg", "author": "Jane Doe"}  # fmt: skip
_ARTICLE_KINDS = (
    "NewsArticle", "Article", "BlogPosting", "LiveBlogPosting", "ReportageNewsArticle", "AnalysisNewsArticle",
    "OpinionNewsArticle", "BackgroundNewsArticle", "ReviewNewsArticle",
)  # fmt: skip
_TYPE_SPELLINGS = ("name", "list", "http", "https", "schema:", "lower case")
_WRAPPERS = (
    "blocks", "list", "graph", "webpage main entity", "itempage main entity list", "graph main entity reference",
    "graph webpage holding the article", "typed-list webpage in a list",
)  # fmt: skip
_OWN_NAMES = ("none", "url", "mainEntityOfPage")


def _spelled(kind: str, spelling: str) -> object:
    return {
        "name": kind, "list": [kind, "Article"], "http": f"http://schema.org/{kind}",
        "https": f"https://schema.org/{kind}", "schema:": f"schema:{kind}", "lower case": kind.lower(),
    }[spelling]  # fmt: skip


def _shaped_ld(kind: str, spelling: str, wrapper: str, references: bool, own_name: str, related: bool) -> str:
    """<script> blocks carrying _STORY as a ``kind`` article node in the shape ``wrapper``, beside the nodes a
    CMS adds (Organization, WebSite) and, if ``related``, another page's article before it."""
    person = {"@type": "Person", "@id": "https://news.example/#/schema/person/jd", "name": _STORY["author"]}
    image = {"@type": "ImageObject", "@id": f"{URL}#primaryimage", "url": _STORY["image"], "width": 1200}
    org = {"@type": "Organization", "@id": "https://news.example/#organization", "name": "Daily Planet"}
    site = {"@type": "WebSite", "@id": "https://news.example/#website", "publisher": {"@id": org["@id"]}}
    article: dict[str, object] = {
        "@type": _spelled(kind, spelling), "@id": f"{URL}#article", "headline": _STORY["headline"],
        "datePublished": _STORY["published"], "publisher": {"@id": org["@id"]},
        "author": [{"@id": person["@id"]}] if references else {"@type": "Person", "name": _STORY["author"]},
        "image": {"@id": image["@id"]} if references else {"@type": "ImageObject", "url": _STORY["image"]},
    }  # fmt: skip
    if own_name == "url":
        article["url"] = URL
    elif own_name == "mainEntityOfPage":
        article["mainEntityOfPage"] = {"@type": "WebPage", "@id": URL}
    other = {
        "@type": "NewsArticle", "headline": "Most read: another story", "datePublished": "2019-01-01T00:00:00Z",
        "url": "https://news.example/2019/01/01/another-story/", "image": "https://news.example/media/other.jpg",
        "author": {"@type": "Person", "name": "Someone Else"},
    }  # fmt: skip
    others = [other] if related else []
    support = [person, image] if references else []
    blocks: list[object]
    if wrapper == "blocks":
        blocks = [org, *others, article, *support]
    elif wrapper == "list":
        blocks = [[org, site, *others, article, *support]]
    elif wrapper == "graph":
        blocks = [{"@graph": [org, site, *others, article, *support]}]
    elif wrapper == "webpage main entity":
        blocks = [*others, {"@type": "WebPage", "@id": URL, "url": URL, "mainEntity": article}, *support]
    elif wrapper == "itempage main entity list":
        blocks = [*others, {"@type": "ItemPage", "name": "The story", "mainEntity": [article]}, [org, *support]]
    elif wrapper == "graph main entity reference":
        page = {"@type": "WebPage", "@id": URL, "mainEntity": {"@id": article["@id"]}}
        blocks = [{"@graph": [org, page, *others, article, *support]}]
    elif wrapper == "graph webpage holding the article":
        blocks = [{"@graph": [org, site, *others, {"@type": "WebPage", "mainEntity": article}, *support]}]
    else:  # "typed-list webpage in a list"
        blocks = [[*others, {"@type": ["WebPage", "ItemPage"], "url": URL, "mainEntity": [article]}, *support]]
    return "".join(
        '<script type="application/ld+json">{}</script>'.format(
            json.dumps({"@context": "https://schema.org", **b} if isinstance(b, dict) else b)
        )
        for b in blocks
    )


_NO_LD = '//script[@type="application/ld+json"]'


@pytest.mark.parametrize("wrapper", _WRAPPERS)
@settings(max_examples=20, deadline=None)
@given(
    path=st.sampled_from(GENERIC), kind=st.sampled_from(_ARTICLE_KINDS), spelling=st.sampled_from(_TYPE_SPELLINGS),
    references=st.booleans(), own_name=st.sampled_from(_OWN_NAMES), related=st.booleans(),
)  # fmt: skip
def test_the_article_node_is_found_in_every_json_ld_shape(
    wrapper: str, path: Path, kind: str, spelling: str, references: bool, own_name: str, related: bool
) -> None:
    head = _shaped_ld(kind, spelling, wrapper, references, own_name, related)
    tree = _variant(path, head, drop=_NO_LD)
    md = extract_metadata(tree, URL)
    assert md.json_ld_type in ({kind, "Article"} if spelling == "list" else {kind})
    assert md.headline == _STORY["headline"]
    assert md.byline == [_STORY["author"]]
    assert md.published is not None and md.published.isoformat() == _STORY["published"]
    assert md.image == _STORY["image"]
    article = parse_html(lxml_html.tostring(tree, encoding="unicode"), URL)
    assert (article.headline, list(article.byline), article.published) == (md.headline, md.byline, md.published)
    assert article.images and article.images[0].url == _STORY["image"]


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_an_image_reference_to_no_node_is_no_image(path: Path) -> None:
    """An ``{"@id": "...#primaryimage"}`` whose ImageObject the page leaves out names a node, not a file:
    the page's og:image (or no image) is the article's, never the page's own URL."""
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": "The story",
                     "image": {"@id": f"{URL}#primaryimage"}})  # fmt: skip
    og = '<meta property="og:image" content="https://news.example/media/og.jpg">'
    drop = '//script[@type="application/ld+json"] | //meta[@property="og:image" or @name="twitter:image"]'
    tree = _variant(path, f'<script type="application/ld+json">{ld}</script>{og}', drop=drop)
    assert extract_metadata(tree, URL).image == "https://news.example/media/og.jpg"
    tree = _variant(path, f'<script type="application/ld+json">{ld}</script>', drop=drop)
    assert extract_metadata(tree, URL).image is None


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_a_publisher_given_by_reference_in_meta_author_is_no_byline(path: Path) -> None:
    org = {"@type": "Organization", "@id": "https://news.example/#organization", "name": "Daily Planet"}
    node = {"@type": "NewsArticle", "headline": "The story", "publisher": {"@id": org["@id"]}}
    ld = json.dumps({"@context": "https://schema.org", "@graph": [org, node]})
    head = f'<script type="application/ld+json">{ld}</script><meta name="author" content="Daily Planet">'
    tree = _variant(path, head, drop='//script[@type="application/ld+json"] | //meta[@name="author"]')
    assert extract_metadata(tree, URL).byline == []


@pytest.mark.parametrize("listing", ["several articles", "another page's article"])
@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_articles_a_listing_holds_as_its_main_entity_are_not_the_page(path: Path, listing: str) -> None:
    """A section page's CollectionPage lists its stories in ``mainEntity``: none of them is the page's
    article, and the page reads as it would without that block."""
    without = extract_metadata(_variant(path, drop=_NO_LD), URL)
    stories = [
        {"@type": "NewsArticle", "headline": f"Listed story {i}", "url": f"https://news.example/story-{i}/",
         "datePublished": "2019-01-01T00:00:00Z", "author": {"@type": "Person", "name": "Someone Else"}}
        for i in range(3 if listing == "several articles" else 1)
    ]  # fmt: skip
    page = {"@context": "https://schema.org", "@type": "CollectionPage", "mainEntity": stories}
    if listing == "another page's article":
        page["url"] = "https://news.example/section/"
    md = extract_metadata(_variant(path, f'<script type="application/ld+json">{json.dumps(page)}</script>',
                                   drop=_NO_LD), URL)  # fmt: skip
    assert md.json_ld_type is None
    assert (md.headline, md.byline, md.published) == (without.headline, without.byline, without.published)


def test_a_huge_graph_of_reference_cycles_is_read_in_bounded_time() -> None:
    """10,000 WebPage / article pairs naming each other (mainEntity, mainEntityOfPage, an author and an
    image referring back to the article): read in linear time, references followed one step only."""
    nodes: list[dict[str, object]] = []
    for i in range(10_000):
        here, story = f"https://news.example/{i}#webpage", f"https://news.example/{i}#article"
        nodes.append({"@type": "WebPage", "@id": here, "mainEntity": {"@id": story}, "about": {"@id": story}})
        nodes.append({"@type": "NewsArticle", "@id": story, "headline": f"Story {i}", "mainEntity": {"@id": here},
                      "mainEntityOfPage": {"@id": here}, "author": {"@id": story}, "image": {"@id": here}})  # fmt: skip
    person = {"@type": "Person", "@id": f"{URL}#jd", "name": "Jane Doe", "author": {"@id": f"{URL}#article"}}
    own = {"@type": "NewsArticle", "@id": f"{URL}#article", "url": URL, "headline": "The page's own story",
           "author": {"@id": person["@id"]}, "mainEntity": {"@id": f"{URL}#article"}}  # fmt: skip
    ld = json.dumps({"@context": "https://schema.org", "@graph": [*nodes, own, person]})
    tree = _variant(GENERIC[0], f'<script type="application/ld+json">{ld}</script>', drop=_NO_LD)
    started = time.process_time()
    md = extract_metadata(tree, URL)
    assert time.process_time() - started < 5
    assert (md.headline, md.byline) == ("The page's own story", ["Jane Doe"])
