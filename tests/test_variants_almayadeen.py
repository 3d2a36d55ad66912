"""Al Mayadeen pages in other renditions of the site's markup: the parser's redesign-proof signals.

Each test edits one fixture the way a redesign would (with lxml, on the tree) and checks the article
still comes out as the original did. Every one of these failed before the rules gained their fallbacks
(tags empty, "Related News" in the body, NotAnArticle on a renamed body container).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import FIXTURES
from lxml import etree
from lxml import html as lxml_html

from newsarchive.article import Article
from newsarchive.errors import NotAnArticle
from newsarchive.parse import parse_page
from newsarchive.parse import rules as r
from newsarchive.parse.sites import almayadeen as am
from newsarchive.parse.sites.almayadeen import CRIMEA_URL, SECRET_URL

DIR = FIXTURES / "sites" / "almayadeen"
Edit = Callable[[lxml_html.HtmlElement], None]


def _rendition(name: str, edit: Edit) -> str:
    tree = lxml_html.document_fromstring((DIR / name).read_bytes().decode("utf-8"))
    edit(tree)
    return lxml_html.tostring(tree, encoding="unicode", doctype="<!DOCTYPE html>")


def _rename(*tokens: str) -> Edit:
    def edit(tree: lxml_html.HtmlElement) -> None:
        for el in tree.iter():
            if isinstance(el.tag, str) and el.get("class"):
                el.set("class", " ".join(f"z{t[::-1]}" if t in tokens else t for t in el.get("class", "").split()))

    return edit


def _rename_all(tree: lxml_html.HtmlElement) -> None:
    for el in tree.iter():
        if isinstance(el.tag, str) and el.get("class"):
            el.set("class", " ".join(f"k{abs(hash(t)) % 10**6}" for t in el.get("class", "").split()))


def _parse(name: str, url: str, edit: Edit) -> Article:
    return parse_page(_rendition(name, edit), url)


def test_renamed_body_container_is_still_an_article_with_the_same_body() -> None:
    original = parse_page((DIR / "crimea.html").read_bytes(), CRIMEA_URL)
    art = _parse("crimea.html", CRIMEA_URL, _rename("p-content"))
    assert art.body == original.body
    assert art.related == original.related
    assert "Senate blames Secret Service" not in art.to_json()


def test_renamed_tag_box_still_gives_the_tags_in_page_order() -> None:
    art = _parse("crimea.html", CRIMEA_URL, _rename("tags"))
    assert art.tags == ("United States", "US", "Ukraine", "Antony Blinken", "Crimea")


def test_renamed_related_news_box_does_not_leak_into_body_or_related() -> None:
    art = _parse("open-secret.html", SECRET_URL, _rename("related-news", "related-title"))
    assert "Cholera devastates Darfur" not in art.to_json()
    assert "Related News" not in art.body
    assert len(art.related) == 3


@pytest.mark.parametrize(("name", "url"), [("crimea.html", CRIMEA_URL), ("open-secret.html", SECRET_URL)])
def test_every_class_renamed_keeps_every_field(name: str, url: str) -> None:
    original = parse_page((DIR / name).read_bytes(), url)
    art = _parse(name, url, _rename_all)
    for field in ("headline", "body", "byline", "source", "published", "updated", "tags", "related", "series"):
        assert getattr(art, field) == getattr(original, field), field


def test_renamed_meta_row_still_gives_byline_source_and_visible_date() -> None:
    url = "https://english.almayadeen.net/news/economy/economy-ministers-meet-in-cairo-on-regional-trade"
    meta_row = _rename("post-type", "post-metas", "type-wrap", "article-details-metas")
    art = _parse("no-tags-no-tawsiyat.html", url, meta_row)
    assert art.source == "Agencies"
    assert art.byline == ("Al Mayadeen English",)


def test_renamed_disclaimer_and_tweet_classes_stay_out_of_the_body() -> None:
    opinion = "https://english.almayadeen.net/articles/opinion/why-sanctions-keep-failing--a-view-from-the-global-south"
    art = _parse("opinion-named-author.html", opinion, _rename_all)
    assert "do not necessarily reflect" not in art.body
    tweet = "https://english.almayadeen.net/news/politics/ukrainian-drone-strike-reported-near-crimean-bridge"
    art = _parse("tweet-and-video.html", tweet, _rename_all)
    assert "@example_gov" not in art.body
    assert "No damage to the bridge." in art.body


def _flatten_body(tree: lxml_html.HtmlElement) -> None:
    """No paragraph container at all: the body's paragraphs become bare text lines under <br>s."""
    body = tree.xpath("//div[contains(@class, 'p-content')]")[0]
    body.set("class", "x")
    for p in body.xpath("./p"):
        br = etree.Element("br")
        br.tail = p.text_content()
        p.addnext(br)
        p.drop_tree()


def test_no_body_container_at_all_uses_the_generic_body_and_keeps_site_metadata() -> None:
    art = _parse("crimea.html", CRIMEA_URL, _flatten_body)
    assert "Antony Blinken on Wednesday said in a video call" in art.body
    assert art.source == "Agencies"
    assert art.published is not None and art.published.isoformat() == "2023-02-16T08:35:00+02:00"
    assert art.tags == ("United States", "US", "Ukraine", "Antony Blinken", "Crimea")
    assert "BREAKING" not in art.body and "Most Read" not in art.body


@pytest.mark.parametrize(("name", "url"), [
    ("listing-politics.html", "https://english.almayadeen.net/news/politics"),
    ("video-no-text.html", "https://english.almayadeen.net/videos/newsfeed/drone-footage-shows-strike-on-armored-vehicle"),
    ("error-404.html", "https://english.almayadeen.net/news/politics/gone"),
])  # fmt: skip
def test_pages_that_are_not_articles_stay_so_when_every_class_is_renamed(name: str, url: str) -> None:
    with pytest.raises(NotAnArticle):
        _parse(name, url, _rename_all)


def test_rules_are_data_ending_in_redesign_proof_signals() -> None:
    assert am.BODY[-1][0] == "densest"
    assert am.TAG_BOX[-2] == ("link-box", am.TAG_HREF)
    assert ("heading", am.RECIRCULATION_HEADINGS) in am.PAGE_NOISE
    assert ("heading", am.RECIRCULATION_HEADINGS) in am.BODY_NOISE


def test_rule_interpreter_heading_box_needs_mostly_links() -> None:
    tree = lxml_html.fragment_fromstring(
        "<div><div id=a><h3>Related News</h3><ul><li><a href=/x>One story</a></li><li><a href=/y>Two</a></li></ul>"
        "</div><div id=b><h3>Related News</h3><p>A paragraph of prose that is not a list of links at all.</p></div>"
        "</div>"
    )
    found = r.find_union(tree, (("heading", "related news"),))
    assert [el.get("id") for el in found] == ["a"]


def test_rule_interpreter_first_rule_that_finds_wins() -> None:
    tree = lxml_html.fragment_fromstring("<div><p class=a>one</p><p class=b>two</p></div>")
    assert r.find(tree, (("css", "p.zz"), ("css", "p.b"), ("css", "p.a"))).text == "two"
    assert r.find(tree, (("css", "p.zz"),)) is None
