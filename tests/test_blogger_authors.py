"""Blogger bylines: placeholders are no author; the post's own "Posted by" line names it and leaves the body."""

from __future__ import annotations

import pytest
from conftest import FIXTURES

from newsarchive.article import Article
from newsarchive.parse import parse_html, parse_page
from newsarchive.parse.sites.blogger_body import is_placeholder_author, posted_by

DIR = FIXTURES / "sites" / "blogger"
CORPORATE_URL = "https://devblog.fixture-corp.example/2020/05/new-build-tools.html"
URL = "https://fixture-notes.blogspot.com/2021/03/spring-notes.html"


def _v2_page(fn: str, ld_author: str, first_block: str = "") -> str:
    """A layouts-v2 post (SITES.md 2.3): JSON-LD, byline in the header, body with an optional first block."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta content='blogger' name='generator'/>"
        "<meta content='Fixture Notes' property='og:site_name'/><title>Fixture Notes: Spring notes</title></head>"
        "<body><div class='widget Blog' data-version='2' id='Blog1'><div class='blog-posts hfeed container'>"
        "<article class='post-outer-container'><div class='post-outer'><div class='post'>"
        '<script type="application/ld+json">{"@context": "http://schema.org", "@type": "BlogPosting",'
        f' "headline": "Spring notes", "author": {{"@type": "Person", "name": "{ld_author}"}}}}</script>'
        "<a name='3022211100099988877'></a><h3 class='post-title entry-title'>Spring notes</h3>"
        "<div class='post-header'><div class='post-header-line-1'><span class='byline post-author vcard'>"
        f"<span class='post-author-label'>By</span> <span class='fn'><span>{fn}</span></span></span>"
        "<span class='byline post-timestamp'><a class='timestamp-link' href='#' rel='bookmark'>"
        "<time class='published' datetime='2021-03-04T08:00:00+01:00'>March 4, 2021</time></a></span></div></div>"
        "<div class='post-body entry-content float-container' id='post-body-3022211100099988877'>"
        f"{first_block}<p>The almond trees flowered a week early this year.</p>"
        "<p>We counted forty hives along the terraces.</p></div></div></div></article></div></div></body></html>"
    )


def _parse(html: str, url: str = URL) -> Article:
    return parse_html(html, url)


@pytest.mark.parametrize("placeholder", ["Unknown", "Anonymous", "unknown", "Anónimo", "غير معروف"])
def test_placeholder_author_is_no_author(placeholder: str) -> None:
    article = _parse(_v2_page(placeholder, placeholder))
    assert article.byline == ()
    assert placeholder not in article.body


def test_placeholder_in_the_byline_falls_back_to_the_json_ld_author() -> None:
    assert _parse(_v2_page("Unknown", "Mariam Haddad")).byline == ("Mariam Haddad",)


def test_real_author_named_like_no_placeholder_is_kept() -> None:
    assert _parse(_v2_page("Unknown Pleasures Collective", "Unknown")).byline == ("Unknown Pleasures Collective",)


def test_posted_by_line_at_the_top_of_the_body_names_the_author_and_leaves_the_body() -> None:
    first = "<p><i>Posted by Mariam Haddad, Field Ecologist</i></p>"
    article = _parse(_v2_page("Fixture Notes", "Fixture Notes", first))
    assert article.byline == ("Mariam Haddad",)
    assert article.body.startswith("The almond trees flowered a week early this year.")
    assert "Posted by" not in article.body


def test_corporate_blog_post_names_its_authors_not_the_blog() -> None:
    article = parse_page((DIR / "corporate-posted-by-in-body.html").read_bytes(), CORPORATE_URL)
    assert article.byline == ("Jane Fixture", "Omar Example")
    assert "Fixture Developers" not in article.byline
    assert article.body.startswith("Today we are releasing version 4.1 of the build tools")
    assert "Posted by" not in article.body


def test_posted_by_line_in_a_template_script_body_names_the_authors() -> None:
    """Google corporate template (SITES.md 2.4): the body ships inside <script type='text/template'>."""
    body = (
        "<span class='byline-author'>Posted by Yun Fixture and Lee Example, Software Engineers, Fixture Research"
        "</span> <img src='https://blogger.googleusercontent.com/img/hero.gif' style='display: none;'/>"
        "<p>Large models are expensive to serve.</p><p>We describe a cheaper way.</p>"
    )
    html = (
        "<!DOCTYPE html><html><head><meta content='blogger' name='generator'/><title>Cheaper serving</title></head>"
        "<body><div class='post' itemscope='' itemtype='http://schema.org/BlogPosting'>"
        "<h2 class='title' itemprop='name headline'>Cheaper serving</h2>"
        "<div class='post-header'><div class='published'>"
        "<span class='publishdate' itemprop='datePublished'>May 19, 2020</span></div></div>"
        "<div class='post-body'><div class='post-content' itemprop='articleBody'>"
        f"<script type='text/template'>{body}</script><noscript>{body}</noscript></div></div>"
        "<div class='post-footer'><span class='post-author vcard'>Posted by <span class='fn'>Fixture Research</span>"
        "</span></div></div></body></html>"
    )
    article = parse_html(html, "https://research.fixture-corp.example/2020/05/cheaper-serving.html")
    assert article.byline == ("Yun Fixture", "Lee Example")
    assert article.body.startswith("Large models are expensive to serve.")


@pytest.mark.parametrize(
    "first_line",
    [
        "By now most of the hives have been moved up the hill.",  # a sentence, not a byline
        "By the river",  # no name: a lower-case word after "By"
        "By Ned Deily's account, the release went well.",
        "By Friday",
        "Posted by the kitchen window, the bread cooled slowly while we talked about the harvest and the weather.",
    ],
)
def test_a_sentence_starting_with_by_stays_in_the_body(first_line: str) -> None:
    article = _parse(_v2_page("Mariam Haddad", "Mariam Haddad", f"<p>{first_line}</p>"))
    assert article.byline == ("Mariam Haddad",)
    assert article.body.startswith(first_line)


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("Posted by Ned Deily", ("Ned Deily",)),
        ("By: Layla Mansour", ("Layla Mansour",)),
        ("Posted by Dustin Fixture, Software Engineer, Fixture Research, and Arno Example, Engineer, CoreML",
         ("Dustin Fixture", "Arno Example")),
        ("Posted by Yun Zhu and Lijuan Liu, Software Engineers, Google Research", ("Yun Zhu", "Lijuan Liu")),
        ("بواسطة أبو يزن", ("أبو يزن",)),
        ("Eingestellt von Sandra", ("Sandra",)),
        ("Posted by Jane Doe, Product Manager.", ("Jane Doe",)),
        ("By Ludwig van Beethoven", ("Ludwig van Beethoven",)),
        ("By May Chen", ("May Chen",)),
        ("By Ned Deily's account, the release went well.", ()),
        ("Posted by Unknown", ()),
        ("Posted by the sea", ()),
        ("We posted by mail", ()),
    ],
)  # fmt: skip
def test_posted_by_reads_the_names_of_a_byline_line(line: str, names: tuple[str, ...]) -> None:
    assert posted_by(line) == names


def test_placeholders_are_recognised_whatever_their_case_and_spacing() -> None:
    assert is_placeholder_author(" UNKNOWN ")
    assert is_placeholder_author("anonymous")
    assert not is_placeholder_author("Ned Deily")


@pytest.mark.parametrize("name", ["Byron Okafor", "Authority Bureau"])
def test_a_name_starting_like_a_byline_label_keeps_its_first_letters(name: str) -> None:
    assert _parse(_v2_page(name, name)).byline == (name,)
