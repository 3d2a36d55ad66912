"""When the generic path asks for a second opinion, and readability's passes rewritten for speed giving the
stock passes' results."""

from __future__ import annotations

import copy

import pytest
from conftest import FIXTURES
from lxml import etree
from readability import Document

from newsarchive.parse.dom import build_tree
from newsarchive.parse.generic import (
    CONFIDENT_CHARS,
    DOUBTFUL_CHARS,
    _doubtful,
    _Readability,
    _readability_paragraphs,
    confident,
    extract_body,
)

PARAGRAPH = (
    "The regional council agreed on Tuesday to fund the new tram line through the old harbour district, "
    "after two years of hearings, three public inquiries and a close final vote."
)
PAGES = sorted((FIXTURES / "sites").glob("*/*.html"))


def _paragraphs(total_chars: int, line: str = PARAGRAPH) -> list[str]:
    return [line] * (total_chars // len(line) + 1)


def test_long_text_made_of_paragraphs_needs_no_second_opinion() -> None:
    assert confident(_paragraphs(CONFIDENT_CHARS))


def test_short_text_gets_a_second_opinion() -> None:
    assert not confident(_paragraphs(CONFIDENT_CHARS // 2))


def test_long_text_made_mostly_of_short_lines_gets_a_second_opinion() -> None:
    """A link list or menu kept by trafilatura: many short lines, however long the whole."""
    menu = ["Home", "World news", "Sport results today", "Weather"] * 400 + [PARAGRAPH] * 10
    assert len("".join(menu)) > CONFIDENT_CHARS
    assert not confident(menu)


def test_main_extractor_doubtful_on_little_text_or_short_lines() -> None:
    assert _doubtful(["A short teaser of the article."])
    assert _doubtful(["Home", "News", "Sport", "Contact"] * 100)
    assert not _doubtful(_paragraphs(DOUBTFUL_CHARS))


def test_page_with_a_long_article_keeps_all_of_it_without_second_opinion() -> None:
    text = [f"{PARAGRAPH} Paragraph {i} of the report." for i in range(60)]
    html = (
        "<html><head><title>Tram line funded</title></head><body><nav><a href='/'>Home</a> <a href='/n'>News</a>"
        "</nav><article><h1>Tram line funded</h1>" + "".join(f"<p>{p}</p>" for p in text) + "</article>"
        "<footer>Copyright Riverside Post</footer></body></html>"
    )
    body = extract_body(html, "https://riverside.example/tram", headline="Tram line funded")
    assert body.split("\n\n") == text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_unlikely_candidate_pass_drops_what_stock_readability_drops(page) -> None:  # type: ignore[no-untyped-def]
    tree = build_tree(page.read_text("utf-8"))
    ours = _Readability(tree)
    ours.html = copy.deepcopy(tree)
    ours.remove_unlikely_candidates()
    stock = Document(etree.tostring(tree, encoding="unicode"))
    stock.html = copy.deepcopy(tree)
    Document.remove_unlikely_candidates(stock)
    assert etree.tostring(ours.html) == etree.tostring(stock.html)


def test_unlikely_candidate_pass_keeps_an_article_inside_a_sidebar_and_code_in_a_comment_box() -> None:
    tree = build_tree(
        "<html><body><div class='sidebar'><article><p>Kept article text.</p></article></div>"
        "<div class='sidebar'><p>Dropped sidebar text.</p><div class='comment'>Nested.</div></div>"
        "<pre><span class='comment'>kept code</span></pre></body></html>"
    )
    doc = _Readability(tree)
    doc.html = copy.deepcopy(tree)
    doc.remove_unlikely_candidates()
    text = doc.html.text_content()
    assert "Kept article text." in text and "kept code" in text
    assert "Dropped sidebar text." not in text and "Nested." not in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_paragraph_scores_pick_the_candidates_stock_readability_picks(page) -> None:  # type: ignore[no-untyped-def]
    """Our scoring (no debug formatting, lengths in one split) ranks the candidates as the stock one does."""
    tree = build_tree(page.read_text("utf-8"))
    ours = _Readability(tree)
    ours.html = copy.deepcopy(tree)
    stock = Document(etree.tostring(tree, encoding="unicode"))
    stock.html = copy.deepcopy(tree)
    ours_scores = {ours.html.getroottree().getpath(e): c["content_score"] for e, c in ours.score_paragraphs().items()}
    stock_scores = {
        stock.html.getroottree().getpath(e): c["content_score"] for e, c in Document.score_paragraphs(stock).items()
    }
    assert ours_scores.keys() == stock_scores.keys()
    for path, score in stock_scores.items():
        assert ours_scores[path] == pytest.approx(score, abs=0.05)


COMMENT = (
    "Reader remark number {}: I have lived near the harbour for decades, and honestly, this tram, "
    "like the last one, will never be finished, mark my words, whatever the council says today. "
)


def test_second_opinion_reads_the_page_without_its_comment_section() -> None:
    """readability reads the tree trafilatura read: a comment box readability would keep (its class names
    an article) beside a short story no longer makes the comments part of the body."""
    html = (
        "<html><head><title>Council funds tram line</title></head><body><div class='main'>"
        "<h1>Council funds tram line</h1><div class='story'>" + f"<p>{PARAGRAPH}</p>" * 3 + "</div>"
        "<div class='article-comments'>" + "".join(f"<p>{COMMENT.format(i)}</p>" for i in range(12)) + "</div>"
        "</div></body></html>"
    )
    body = extract_body(html, "https://example.com/news/tram", headline="Council funds tram line")
    assert body.split("\n\n") == [PARAGRAPH] * 3


def test_readability_on_a_tree_it_owns_gives_what_it_gives_on_a_copy() -> None:
    for page in PAGES[:8]:
        html = page.read_text("utf-8")
        tree = build_tree(html)
        on_copy = _readability_paragraphs(tree)
        assert _readability_paragraphs(build_tree(html), fresh=lambda html=html: build_tree(html)) == on_copy
