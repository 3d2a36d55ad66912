"""Lines of the text that are only a link to another page of the site (teasers, promos) on generated variants.

Each test re-renders every page of ``fixtures/sites/generic`` with lines added inside the article, between two of
its paragraphs: a teaser headline linking to another article of the site, a "Read more" or app promo link, in
several forms (a bare link, bold, a link holding the whole paragraph). Those are left out and the body is the
page's own. Lines that only look so (a link to another site, a heading a table of contents links to, a list of
further reading, a paragraph holding a link among its words) stay.
"""

from __future__ import annotations

import pytest
from conftest import FIXTURES
from lxml import html as lxml_html

from newsarchive.parse import parse_html
from newsarchive.parse.dom import build_tree, clean_text
from newsarchive.parse.generic import drop_link_lines

GENERIC = sorted((FIXTURES / "sites" / "generic").glob("*.html"))
URL = "https://news.example/2024/03/05/the-story/"

TEASERS = [
    '<p><a href="/2024/03/01/bus-fares-rise-again/">Bus fares rise again across the county</a></p>',
    '<p><strong><a href="https://news.example/2024/02/28/flood-warning/">FLOOD WARNING LIFTED FOR THE VALLEY</a>'
    "</strong></p>",
    '<div><a href="https://www.news.example/apps/">Click here to get the News Example app</a></div>',
    '<p><a href="/newsletters/?src=article">Sign up for our morning newsletter</a></p>',
    '<p><a href="/2024/03/04/council-budget/"><span>Read more:</span> Council budget row deepens</a></p>',
]  # fmt: skip


def _paragraphs(path) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    html = path.read_text("utf-8")
    return html, parse_html(html, URL, parser="generic").body.split("\n\n")


def _with_lines(html: str, after: str, markup: list[str]) -> str:
    """The page with ``markup`` inserted after the <p> whose text is the body line ``after``."""
    tree = build_tree(html)
    anchor = next(p for p in tree.iter("p") if clean_text(p.text_content()) == after)
    for fragment in reversed(markup):
        anchor.addnext(lxml_html.fragment_fromstring(fragment))
    return lxml_html.tostring(tree, encoding="unicode")


def _anchor_line(paragraphs: list[str]) -> str:
    """A body line inside the article (a paragraph with a line after it) to insert after."""
    return next(p for p in paragraphs[:-1] if len(p) > 60)


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
@pytest.mark.parametrize("teaser", TEASERS, ids=range(len(TEASERS)))
def test_a_teaser_link_to_another_page_of_the_site_is_left_out(path, teaser) -> None:  # type: ignore[no-untyped-def]
    html, original = _paragraphs(path)
    body = parse_html(_with_lines(html, _anchor_line(original), [teaser]), URL, parser="generic").body
    assert body.split("\n\n") == original


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
def test_several_teasers_between_paragraphs_are_left_out(path) -> None:  # type: ignore[no-untyped-def]
    html, original = _paragraphs(path)
    body = parse_html(_with_lines(html, _anchor_line(original), TEASERS[:3]), URL, parser="generic").body
    assert body.split("\n\n") == original


KEPT = [
    # a link to another site: a source the article cites
    '<p><a href="https://www.court-records.example/cases/2024/1187">Full text of the ruling in the tram case</a></p>',
    # a paragraph that holds a link among its own words
    '<p>The council published <a href="/documents/tram-plan/">the full tram plan</a> on its website today.</p>',
]  # fmt: skip


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: p.stem)
@pytest.mark.parametrize("line", KEPT, ids=["other-site", "inline-link"])
def test_lines_that_only_hold_a_link_stay(path, line) -> None:  # type: ignore[no-untyped-def]
    html, original = _paragraphs(path)
    body = parse_html(_with_lines(html, _anchor_line(original), [line]), URL, parser="generic").body
    assert clean_text(lxml_html.fragment_fromstring(line).text_content()) in body


def _tree(body: str) -> lxml_html.HtmlElement:
    return build_tree(f"<html><head><title>T</title></head><body>{body}</body></html>")


STORY = [f"Paragraph {i} of the story, with enough words to be an article line." for i in range(3)]


def test_a_heading_a_table_of_contents_links_to_stays() -> None:
    """The heading's text is a link (the table of contents, even one linking by URL) and a line of its own."""
    tree = _tree(
        '<ul><li><a href="https://news.example/2024/03/05/the-story/?page=2#costs">What the tram costs</a></li></ul>'
        f"<p>{STORY[0]}</p><h2 id='costs'>What the tram costs</h2><p>{STORY[1]}</p>"
    )
    lines = [STORY[0], "What the tram costs", STORY[1]]
    assert drop_link_lines(lines, tree, URL) == lines


def test_a_list_of_further_reading_stays_and_a_lone_teaser_goes() -> None:
    tree = _tree(
        f"<p>{STORY[0]}</p><ul><li><a href='/2024/01/02/older-story/'>The older story on the tram</a></li></ul>"
        f"<p><a href='/2024/01/03/other-story/'>Another story of the site</a></p><p>{STORY[1]}</p>"
    )
    lines = [STORY[0], "- The older story on the tram", "Another story of the site", STORY[1]]
    assert drop_link_lines(lines, tree, URL) == [STORY[0], "- The older story on the tram", STORY[1]]


def test_a_link_to_the_page_itself_is_no_teaser() -> None:
    tree = _tree(f"<p><a href='{URL}'>The story</a></p><p><a href='/2024/03/05/the-story'>Print</a></p>")
    lines = ["The story", "Print", STORY[0]]
    assert drop_link_lines(lines, tree, URL) == lines


def test_nothing_is_dropped_when_nothing_would_be_left() -> None:
    tree = _tree("<p><a href='/a/'>First link line</a></p><p><a href='/b/'>Second link line</a></p>")
    lines = ["First link line", "Second link line"]
    assert drop_link_lines(lines, tree, URL) == lines
    assert drop_link_lines(lines, tree, "not a url") == lines
