"""The generic path on pages without a headline and on hostile input (huge attributes, huge DOMs, odd charsets)."""

from __future__ import annotations

import pytest

from newsarchive.errors import ParseError
from newsarchive.parse import parse_html, parse_page
from newsarchive.parse.decode import charset_from_content_type, decode_html
from newsarchive.parse.dom import MAX_HTML_CHARS, build_tree
from newsarchive.parse.generic import MAX_ELEMENTS, page_tree
from newsarchive.parse.metadata import fallback_headline, url_slug_headline

STORY = [
    "The harbour authority confirmed on Monday that the northern pier will close for repairs until spring.",
    "Engineers found corrosion in the steel piles during a routine inspection last month, officials said.",
    "Ferry services will move to the southern terminal, adding about ten minutes to most crossings.",
    "Local businesses near the pier said they expected a quiet winter but welcomed the long-term repairs.",
]


def _paragraphs() -> str:
    return "".join(f"<p>{p}</p>" for p in STORY)


def _page(head: str = "", before: str = "") -> str:
    return f"<html><head>{head}</head><body>{before}<article>{_paragraphs()}</article></body></html>"


# --- a page with article text is an article, headline or not ---------------------------------


def test_page_without_any_title_takes_its_headline_from_the_url_slug() -> None:
    art = parse_html(_page(), "https://port.example/2008/01/northern-pier-to-close-for-repairs-123456.html")
    assert art.headline == "Northern pier to close for repairs"
    assert art.extra["headline_source"] == "url"
    assert art.body.startswith(STORY[0])


def test_page_without_title_or_h1_takes_its_first_heading() -> None:
    art = parse_html(_page(before="<h3>Pier closes for repairs</h3>"), "https://port.example/a?id=7")
    assert art.headline == "Pier closes for repairs"
    assert art.extra["headline_source"] == "heading"


def test_page_with_no_title_and_no_slug_is_still_an_article_named_after_its_site() -> None:
    art = parse_html(_page(), "https://www.port.example/index.php?id=7")
    assert art.headline == "port.example"
    assert art.extra["headline_source"] == "site"
    assert STORY[2] in art.body


def test_declared_headline_records_no_fallback_source() -> None:
    art = parse_html(_page(head="<title>Pier to close</title>"), "https://port.example/x")
    assert art.headline == "Pier to close"
    assert "headline_source" not in art.extra


def test_page_without_body_text_is_still_refused() -> None:
    with pytest.raises(ParseError, match="no article text"):
        shell = "<html><head><title>T</title></head><body><div id='app'></div><script>render()</script></body></html>"
        parse_html(shell, "https://x.example/t")


def test_page_without_headline_and_with_a_stray_line_of_text_is_refused() -> None:
    """A junk page (control sequences, a script shell) must not become an article named after its host."""
    with pytest.raises(ParseError, match="no headline"):
        parse_html("<html><body>\x1b[2J only</body></html>", "https://x.example/a")


def test_fallback_headline_strips_the_site_name_from_the_title() -> None:
    tree = build_tree("<html><head><title>  Pier to close | Harbour Gazette </title></head><body></body></html>")
    assert fallback_headline(tree, "https://gazette.example/a", "Harbour Gazette") == ("Pier to close", "title")
    tree = build_tree("<html><head><title>Pier to close for repairs - Gazette</title></head><body></body></html>")
    assert fallback_headline(tree, "https://x.example/a", None) == ("Pier to close for repairs", "title")
    tree = build_tree("<html><head><meta property='og:title' content='Pier news'></head><body></body></html>")
    assert fallback_headline(tree, "https://x.example/a", None) == ("Pier news", "og:title")


def test_url_slug_skips_ids_extensions_and_generic_names() -> None:
    assert url_slug_headline("https://a.example/news/storm-hits-coast/987654") == "Storm hits coast"
    assert url_slug_headline("https://a.example/display_article.php?id=1") is None
    assert url_slug_headline("https://a.example/") is None


# --- hostile input ------------------------------------------------------------------------------


def test_article_text_after_an_attribute_over_libxml2s_10mb_limit_is_kept() -> None:
    """Regression: without huge_tree libxml2 stopped at the 11 MB data: URI and the story was lost."""
    image = '<img src="data:image/png;base64,' + "A" * (11 * 1024 * 1024) + '">'
    art = parse_html(_page(head="<title>Pier to close</title>", before=image), "https://port.example/pier")
    assert art.body.startswith(STORY[0])
    assert STORY[-1] in art.body


def test_page_over_the_size_limit_is_a_clear_parse_error() -> None:
    page = "<html><body><p>" + "x" * MAX_HTML_CHARS + "</p></body></html>"
    with pytest.raises(ParseError, match="too large to parse"):
        parse_html(page, "https://port.example/big")


def test_page_with_a_huge_dom_is_refused_before_extraction() -> None:
    """Regression: a 16 MB table page took 112 s and 2 GB in the extractors; now a bounded refusal."""
    rows = "<tr><td>1</td><td>2</td></tr>" * (MAX_ELEMENTS // 3 + 1)
    page = f"<html><head><title>Table</title></head><body><table>{rows}</table>{_paragraphs()}</body></html>"
    with pytest.raises(ParseError, match="too large for the generic extractor"):
        parse_html(page, "https://port.example/table")


@pytest.mark.parametrize("label", ["undefined", "rot13", "base64", "zip", "hex", "uu", "bz2", "quopri", "punycode"])
def test_meta_charset_naming_a_non_text_codec_falls_back_to_detection(label: str) -> None:
    """Regression: Python's codec registry took these labels and decoding crashed or garbled the page."""
    body = f'<html><head><meta charset="{label}"><title>Café</title></head><body>{_paragraphs()}</body></html>'
    raw = body.encode("cp1252")
    text = decode_html(raw)
    assert "Café" in text
    art = parse_page(raw, "https://port.example/pier")
    assert art.headline == "Café"
    assert art.body.startswith(STORY[0])


@pytest.mark.parametrize("label", ["rot13", "base64", "undefined"])
def test_content_type_charset_naming_a_non_text_codec_is_ignored(label: str) -> None:
    assert charset_from_content_type(f"text/html; charset={label}") is None
    page = f"<html><head><title>Café</title></head><body>{_paragraphs()}</body></html>"
    assert "Café" in decode_html(page.encode("cp1252"), f"text/html; charset={label}")


def test_whatwg_labels_map_as_browsers_map_them() -> None:
    assert charset_from_content_type("text/html; charset=latin1") == "cp1252"
    assert charset_from_content_type("text/html; charset=ISO-8859-1") == "cp1252"
    assert charset_from_content_type("text/html; charset=x-sjis") == "cp932"
    assert charset_from_content_type("text/html; charset=windows-1251") == "cp1251"
    assert "Привет" in decode_html("<p>Привет мир</p>".encode("cp1251"), "text/html; charset=windows-1251")


def test_a_title_never_closed_does_not_swallow_the_article() -> None:
    """An unclosed <title> makes the rest of the page its text (as a browser's parser reads it): the generic
    path closes it at its first line and reads the article that follows."""
    story = "The harbour council voted on Tuesday to fund the tram line, after two years of hearings. " * 6
    html = (
        "<html><head><title>Tram line funded - Riverside Post i library-->\n"
        "<script src='/js/site.js'></script><meta name='x' content='y'></head><body><div id='story'>"
        "<h1>Tram line funded</h1>" + f"<p>{story}</p>" * 3 + "</div></body></html>"
    )
    article = parse_html(html, "https://riverside.example/news/tram", parser="generic")
    assert article.body.count("harbour council") == 18
    assert "<script" not in article.body and "<script" not in article.headline


def test_a_short_title_with_markup_in_it_is_left_as_written() -> None:
    html = (
        "<html><head><title>A <b>bold</b> title</title></head><body><p>"
        + "Text of the page. " * 20
        + "</p></body></html>"
    )
    tree = page_tree(html)
    assert tree.find(".//title").text_content() == "A <b>bold</b> title"
