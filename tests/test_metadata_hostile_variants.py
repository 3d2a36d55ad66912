"""The metadata cascade on variants of the generic fixtures carrying what hostile or careless pages carry.

Each test re-renders every page of ``fixtures/sites/generic`` with one kind of trouble added (a second
article's JSON-LD, a canonical link to the home page, ...) and holds the result to the page's own facts.
"""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES
from lxml import html as lxml_html

from newsarchive.parse import parse_html
from newsarchive.parse.dom import build_tree
from newsarchive.parse.metadata import extract_metadata

GENERIC = sorted((FIXTURES / "sites" / "generic").glob("*.html"))
URL = "https://news.example/2024/03/05/the-story/"


def _variant(path, head: str = "", *, drop: str | None = None):  # type: ignore[no-untyped-def]
    """The page's tree with ``head`` markup added at the start of <head> and ``drop`` elements (XPath) removed."""
    tree = build_tree(path.read_text("utf-8"))
    if drop:
        for el in tree.xpath(drop):
            el.drop_tree()
    head_el = tree.find("head")
    for el in reversed(lxml_html.fragments_fromstring(head) if head else []):
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
