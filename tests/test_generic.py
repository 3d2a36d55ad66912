"""The generic parser: body extraction choices and the Article it builds for unknown sites."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import FIXTURES

from newsarchive.parse import parse_html
from newsarchive.parse.generic import choose, extract_body, restore_gaps

GENERIC = FIXTURES / "sites" / "generic"
FIRST = "The city council voted on Tuesday to expand the tram network"


def _page(name: str) -> str:
    return (GENERIC / name).read_text("utf-8")


def test_wordpress_page_parses_to_body_and_metadata() -> None:
    art = parse_html(_page("wordpress-graph.html"), "https://riverside.example/2024/03/05/council/")
    assert art.parser is not None and art.parser.name == "generic"
    assert art.headline == "Council approves tram extension"
    assert art.published == datetime(2024, 3, 5, 9, 15, tzinfo=UTC)
    assert art.canonical_url == "https://riverside.example/2024/03/05/council-approves-tram-extension/"
    assert art.byline == ("Jane Okafor",)
    assert art.tags == ("Transport", "Council")
    assert art.body.startswith(FIRST)
    assert art.body.endswith("according to the transport department.")


def test_headline_repeated_at_the_top_of_the_body_is_dropped() -> None:
    """Regression: the h1 and an h2 copy of the headline used to open the body."""
    body = parse_html(_page("wordpress-graph.html"), "https://riverside.example/a/").body
    assert "Council approves tram extension" not in body


def test_related_posts_share_bar_and_sidebar_never_reach_the_body() -> None:
    body = parse_html(_page("wordpress-graph.html"), "https://riverside.example/a/").body
    for noise in ("Bus fares rise again", "Share this", "Flood warning lifted", "Riverside Post"):
        assert noise not in body


def test_body_paragraphs_are_separated_by_one_blank_line() -> None:
    body = parse_html(_page("sentinel-date.html"), "https://news.example/grain").body
    paragraphs = body.split("\n\n")
    assert len(paragraphs) == 3
    assert all(p.strip() == p and "\n" not in p for p in paragraphs)


def test_arc_page_keeps_article_paragraphs_only() -> None:
    art = parse_html(_page("arc-comma-tags.html"), "https://cleveland.example/music/2019/11/doobie.html")
    assert art.body.startswith("The Doobie Brothers, Whitney Houston and Depeche Mode")
    assert "Browns lose again" not in art.body
    assert "Fusion" not in art.body


def test_json_ld_article_body_rescues_a_page_whose_markup_holds_no_text() -> None:
    text = "First paragraph of a story told only in JSON-LD, long enough to count.\nSecond paragraph, also real."
    html = "<html><head><title>T</title></head><body><div id='app'></div></body></html>"  # a script-rendered shell
    body = extract_body(html, "https://news.example/x", article_body=text)
    assert body == (
        "First paragraph of a story told only in JSON-LD, long enough to count.\n\nSecond paragraph, also real."
    )


def test_json_ld_article_body_does_not_replace_a_good_extraction() -> None:
    """Measured on the Zyte pages: articleBody often carries captions and promos, so it only rescues."""
    page = _page("sentinel-date.html")
    body = extract_body(page, "https://news.example/grain", headline="Grain prices fall as harvest beats forecasts",
                        article_body="Short teaser.")  # fmt: skip
    assert body.startswith(FIRST)
    assert "Short teaser" not in body


def test_wider_text_is_taken_only_when_it_contains_the_narrow_one() -> None:
    narrow = ["Alpha beta gamma delta epsilon.", "Zeta eta theta iota kappa."] * 4
    wider = [*narrow, "Lambda mu nu xi omicron pi rho sigma tau.", "Upsilon phi chi psi omega again."] * 2
    assert choose(narrow, wider) == wider
    other = ["Something else entirely, and long enough to be twice the size."] * 6
    assert choose(narrow, other) == narrow
    assert choose(narrow, list(narrow)) == narrow  # same length: keep trafilatura's


def test_readability_core_of_a_boilerplate_heavy_extraction_replaces_it() -> None:
    core = [f"Paragraph {i} of the story, with enough words to be an article line." for i in range(6)]
    noisy = ["Home", "News", "Sport", *core, "Most read: ten stories you missed and more links to click"] * 1
    noisy += [f"Related headline number {i} with a few words" for i in range(8)]
    assert choose(noisy, core) == core
    assert choose(noisy, core[:1]) == noisy  # a fragment of it is no second opinion


def test_second_opinion_runs_when_the_first_extractor_found_nothing() -> None:
    found = ["Only readability found this text, in a page whose layout trafilatura did not read at all."] * 3
    assert choose([], found) == found
    assert choose([], ["Home", "News"]) == []  # a fragment (a menu) is no article


_STORY = [f"Paragraph {i} of the story, with enough words to be an article line." for i in range(4)]


def test_lines_readability_left_out_inside_the_article_are_put_back() -> None:
    """A list and an embedded post between two article paragraphs: readability's cleaning drops them."""
    inside = [
        "- First item of the checklist",
        "- Second item of the checklist",
        "Quoted post text — A Person (@person)",
    ]
    first = ["Home", "News", *_STORY[:2], *inside, *_STORY[2:], "Most read: ten stories you missed"]
    assert restore_gaps(first, _STORY, list) == [*_STORY[:2], *inside, *_STORY[2:]]


def test_boilerplate_around_the_article_and_link_boxes_inside_it_stay_out() -> None:
    nav = ["- Scoreboard", "- Schedules: East | West", "- Standings"]
    first = ["Menu", *_STORY[:2], *nav, *_STORY[2:], "Related: another story"]
    links = ["scoreboard", "east", "west", "standings", "menu", "related another story"]
    assert restore_gaps(first, _STORY, lambda: links) == _STORY  # the box is link text: left out
    assert restore_gaps(first, _STORY, list) == [*_STORY[:2], *nav, *_STORY[2:]]  # plain text: put back
    assert restore_gaps(_STORY, _STORY, list) == _STORY


def test_a_line_holding_readability_paragraphs_is_no_gap() -> None:
    """A layout-table row joining several of readability's paragraphs is not put back a second time."""
    row = "| " + " ".join(_STORY[1:3]) + " |"
    first = [_STORY[0], row, _STORY[3]]
    assert restore_gaps(first, _STORY, list) == _STORY


def test_an_embedded_post_inside_the_article_survives_the_second_opinion() -> None:
    """readability drops a quoted tweet (its class is "unlikely") while its text is what trafilatura kept, but
    for the teasers around the article: readability's core is taken and the post between its paragraphs put back."""
    story = [
        f"Paragraph {i} of the council story, with enough words, commas, and clauses to be a real line."
        for i in range(6)
    ]
    post = (
        '<blockquote class="twitter-tweet"><p lang="en">The tram vote passed tonight, a good day for the riverside.'
        ' <a href="https://t.co/x">pic.twitter.com/x</a></p>— Jane Okafor (@jokafor)'
        ' <a href="https://twitter.com/x">March 5, 2024</a></blockquote>'
    )
    teasers = "".join(
        f'<div class="teaser"><p>Related headline number {i} about another matter</p></div>' for i in range(12)
    )
    paragraphs = [f"<p>{p}</p>" for p in story]
    html = (
        "<html><head><title>Council approves tram extension</title></head><body><div id='story'>"
        f"<h1>Council approves tram extension</h1>{''.join(paragraphs[:3])}{post}{''.join(paragraphs[3:])}</div>"
        f"<div><div><div class='more'>{teasers}</div></div></div></body></html>"
    )
    body = extract_body(html, "https://riverside.example/2024/03/05/tram/", headline="Council approves tram extension")
    assert body.split("\n\n") == [
        *story[:3],
        "The tram vote passed tonight, a good day for the riverside. pic.twitter.com/x",
        "— Jane Okafor (@jokafor) March 5, 2024",
        *story[3:],
    ]
