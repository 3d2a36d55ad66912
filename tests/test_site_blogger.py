"""Behaviour of the Blogger parser and feed merge on the project's own fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import FIXTURES
from matchers import all_strings

from newsarchive.article import Article
from newsarchive.parse import parse_html, parse_page
from newsarchive.parse.registry import parser_for
from newsarchive.parse.sites.blogger import Blogger
from newsarchive.parse.sites.blogger_feed import merge_feed, merge_feed_entry, parse_feed

DIR = FIXTURES / "sites" / "blogger"
SEED_URL = "https://min-menu-news.blogspot.com/2023/04/white-house-we-dont-encourage-ukraine.html"
CUSTOM_URL = "https://www.minmenu-news.net/2023/04/white-house-we-dont-encourage-ukraine.html"
HEADLINE = "White House: We don't encourage Ukraine to hit Russia in depth"
POST_ID = "7305518724931260419"


def _parse(name: str, url: str = SEED_URL) -> Article:
    return parse_page((DIR / name).read_bytes(), url)


SEED_VARIANTS = [
    ("white-house-arabic-theme.html", SEED_URL),
    ("white-house-arabic-theme-min.html", SEED_URL + "?m=1"),
    ("white-house-classic-custom-domain.html", CUSTOM_URL),
]


@pytest.mark.parametrize(("name", "url"), SEED_VARIANTS)
def test_repeated_headline_is_not_body_text(name: str, url: str) -> None:
    article = _parse(name, url)
    assert article.headline == HEADLINE
    assert article.body.startswith("U.S. National Security Council Strategic Communications Coordinator John Kirby")
    assert "White House:\n" not in article.body.split("To the White House:")[0]
    assert "hit Russia in depth" not in article.body


@pytest.mark.parametrize(("name", "url"), SEED_VARIANTS)
def test_seed_body_runs_from_kirby_to_the_closing_sentence(name: str, url: str) -> None:
    body = _parse(name, url).body
    assert body.endswith("We appreciate your interest in this crucial topic.")
    assert body.count("We appreciate your interest in this crucial topic.") == 1


@pytest.mark.parametrize(("name", "url"), SEED_VARIANTS)
def test_post_lead_ins_stay_in_the_body(name: str, url: str) -> None:
    body = _parse(name, url).body
    for lead_in in ("Earlier :", "Instead :", "In conclusion :"):
        assert lead_in in body.splitlines()


@pytest.mark.parametrize(("name", "url"), SEED_VARIANTS)
def test_list_items_are_separate_lines(name: str, url: str) -> None:
    lines = _parse(name, url).body.splitlines()
    assert "Putin said the West was trying to establish an anti-Russian" in lines
    assert "zone in Ukraine in order to work on Russia's collapse" in lines
    assert "the supply of weapons to Ukraine." in lines
    assert "To the White House:" in lines


@pytest.mark.parametrize(("name", "url"), SEED_VARIANTS)
def test_comments_never_reach_any_field(name: str, url: str) -> None:
    strings = all_strings(_parse(name, url).to_dict())
    for needle in ("Comments", "comments:", "Karim Haddad", "Pentagon does another", "brother Karim",
                   "Post a Comment", "Reply", "Delete"):  # fmt: skip
        assert not [s for s in strings if needle in s], needle


@pytest.mark.parametrize(("name", "url"), SEED_VARIANTS)
def test_theme_chrome_sidebar_and_pager_never_reach_any_field(name: str, url: str) -> None:
    strings = all_strings(_parse(name, url).to_dict())
    for needle in ("Min menu", "Pages", "Popular Posts", "Newer Post", "Older Post", "Powered by", "Visit profile",
                   "Telegram channel", "Kiev regime: eight years", "Share to", "Get link", "Email This",
                   "التصنيفات", "أرشيف"):  # fmt: skip
        assert not [s for s in strings if needle in s], needle


def test_custom_domain_detected_from_page() -> None:
    html = (DIR / "white-house-classic-custom-domain.html").read_text("utf-8")
    assert not Blogger.claims_url(CUSTOM_URL)
    assert Blogger.claims_page(html, CUSTOM_URL)
    assert parser_for(CUSTOM_URL, html) is Blogger
    article = parse_html(html, CUSTOM_URL)
    assert article.parser is not None and article.parser.name == "blogger"
    assert article.site == "minmenu-news.net"


def test_blogspot_url_claimed_without_looking_at_the_page() -> None:
    assert Blogger.claims_url(SEED_URL)
    assert Blogger.claims_url("http://plentylife.blogspot.de/2017/05/strong-beautiful.html")
    assert not Blogger.claims_url("https://example.com/2023/04/white-house.html")


def test_wordpress_page_is_not_claimed() -> None:
    html = (
        "<!DOCTYPE html><html lang='en'><head><meta name='generator' content='WordPress 6.4.2'/>"
        "<link rel='https://api.w.org/' href='https://news.example.org/wp-json/'/>"
        "<title>Blogger outreach tips</title></head><body class='single-post'>"
        "<article class='post hentry'><h1 class='entry-title'>Blogger outreach tips</h1>"
        "<div class='entry-content post-body'><p>Write to a blogger on blogger.com or www.blogger.com.</p></div>"
        "</article></body></html>"
    )
    url = "https://news.example.org/2023/04/blogger-outreach-tips/"
    assert not Blogger.claims_url(url)
    assert not Blogger.claims_page(html, url)
    assert parser_for(url, html) is not Blogger


def test_dates_are_aware_and_come_from_the_markup() -> None:
    article = _parse("white-house-arabic-theme.html")
    assert article.published == datetime(2023, 4, 22, 6, 14, tzinfo=UTC)
    assert article.updated == datetime(2023, 4, 22, 7, 2, 37, tzinfo=UTC)
    assert article.byline == ("Abu Yazan",)
    assert article.tags == ("Ukraine", "Russia", "White House")


def test_post_and_blog_ids_are_kept_for_the_feed_join() -> None:
    for name, url in SEED_VARIANTS:
        extra = _parse(name, url).extra
        assert extra["blogger_post_id"] == POST_ID
        assert extra["blogger_blog_id"] == "4417283950126783341"


def test_mobile_url_has_the_canonical_post_url() -> None:
    article = _parse("white-house-arabic-theme-min.html", SEED_URL + "?m=1")
    assert article.canonical_url == SEED_URL
    assert article.id == _parse("white-house-arabic-theme.html").id


def test_post_without_labels_has_no_tags_and_sidebar_labels_are_ignored() -> None:
    article = _parse(
        "olive-harvest-contempo-no-labels.html", "https://fieldnotes-ar.blogspot.com/2023/09/olive-harvest-notes.html"
    )
    assert article.tags == ()
    assert article.images[0].caption == "Nets under the old trees"
    assert "Nets under the old trees" not in article.body
    classic = _parse("white-house-classic-custom-domain.html", CUSTOM_URL)
    assert "NATO" not in classic.tags


LABEL_LINKS = (
    "<a href='https://min-menu-news.blogspot.com/search/label/Ukraine' rel='tag'>Ukraine</a>\n"
    "<a href='https://min-menu-news.blogspot.com/search/label/Russia' rel='tag'>Russia</a>\n"
    "<a href='https://min-menu-news.blogspot.com/search/label/White%20House' rel='tag'>White House</a>"
)
LABELS_BY_SCRIPT = [
    "<button onclick=\"location.href='/search/label/Ukraine'\">Ukraine</button>"
    "<button onclick=\"location.href='/search/label/Russia'\">Russia</button>"
    "<button onclick=\"location.href='/search/label/White%20House'\">White House</button>",
    "<span data-href='/search/label/Ukraine'>Ukraine</span>, <span data-href='/search/label/Russia'>Russia</span>,"
    " <span data-url='https://min-menu-news.blogspot.com/search/label/White%20House'>White House</span>",
]


@pytest.mark.parametrize("labels", LABELS_BY_SCRIPT, ids=["onclick-buttons", "data-attributes"])
def test_labels_that_go_to_their_search_page_by_script_or_data_attribute_are_tags(labels: str) -> None:
    html = (DIR / "white-house-arabic-theme.html").read_text("utf-8")
    assert LABEL_LINKS in html
    article = parse_html(html.replace(LABEL_LINKS, labels), SEED_URL)
    assert article.tags == ("Ukraine", "Russia", "White House")


OLIVE_URL = "https://fieldnotes-ar.blogspot.com/2023/09/olive-harvest-notes.html"


@pytest.mark.parametrize(
    "renames",
    [
        {'class="tr-caption"': 'class="img-note"'},  # the caption cell's class renamed, its box's kept
        {'class="tr-caption"': 'class="img-note"', 'class="tr-caption-container"': 'class="pic"'},  # both
        {' class="tr-caption"': "", ' class="tr-caption-container"': ""},  # no class at all
    ],
    ids=["cell-renamed", "both-renamed", "no-class"],
)
def test_image_caption_under_the_image_is_no_body_text_whatever_its_class(renames: dict[str, str]) -> None:
    html = (DIR / "olive-harvest-contempo-no-labels.html").read_text("utf-8")
    for old, new in renames.items():
        assert old in html
        html = html.replace(old, new)
    assert 'class="tr-caption"' not in html
    article = parse_html(html, OLIVE_URL)
    assert "Nets under the old trees" not in article.body
    assert article.body.startswith("The harvest started two weeks early this year.\n\nWe laid the nets on Monday")
    assert article.images[0].caption == "Nets under the old trees"


def test_figure_caption_is_the_image_caption_not_body_text() -> None:
    html = (DIR / "olive-harvest-contempo-no-labels.html").read_text("utf-8")
    start, end = html.index('<table align="center"'), html.index("</table>") + len("</table>")
    figure = (
        '<figure><a href="https://blogger.googleusercontent.com/img/b/olives/s1600/olives.jpg"><img'
        ' src="https://blogger.googleusercontent.com/img/b/olives/s640/olives.jpg"/></a>'
        "<figcaption>Nets under the old trees</figcaption></figure>"
    )
    article = parse_html(html[:start] + figure + html[end:], OLIVE_URL)
    assert "Nets under the old trees" not in article.body
    assert article.images[0].caption == "Nets under the old trees"


def test_text_in_a_larger_table_under_an_image_stays_body_text() -> None:
    html = (DIR / "olive-harvest-contempo-no-labels.html").read_text("utf-8")
    html = html.replace('class="tr-caption-container"', "").replace(' class="tr-caption"', "")
    rows = "<tr><td>Row two of a price table</td></tr><tr><td>Row three of a price table</td></tr></tbody>"
    article = parse_html(html.replace("</tbody>", rows, 1), OLIVE_URL)
    assert "Nets under the old trees" in article.body and "Row three of a price table" in article.body
    assert article.images[0].caption is None


@pytest.mark.parametrize("feed", ["feed-posts-default.atom.xml", "feed-posts-default.json"])
def test_feed_is_read_into_per_post_records(feed: str) -> None:
    page = parse_feed((DIR / feed).read_bytes())
    assert page.total_results == 41
    assert page.start_index == 1
    assert page.next_url and "start-index=3" in page.next_url
    entry = next(e for e in page.entries if e.post_id == POST_ID)
    assert entry.blog_id == "4417283950126783341"
    assert entry.title == HEADLINE
    assert entry.link == SEED_URL
    assert entry.author == "Abu Yazan"
    assert entry.labels == ("White House", "Russia", "Ukraine")
    assert entry.published == datetime(2023, 4, 22, 6, 14, tzinfo=UTC)
    assert entry.updated == datetime(2023, 4, 22, 7, 2, 37, 481000, tzinfo=UTC)


@pytest.mark.parametrize("feed", ["feed-posts-default.atom.xml", "feed-posts-default.json"])
def test_feed_entry_fills_hidden_dates_by_post_id(feed: str) -> None:
    article = _parse("white-house-arabic-theme-min.html", SEED_URL + "?m=1")
    assert article.published is None and article.byline == ()
    merged = merge_feed(article, parse_feed((DIR / feed).read_bytes()).entries)
    assert merged.published == datetime(2023, 4, 22, 6, 14, tzinfo=UTC)
    assert merged.updated is not None and merged.updated.tzinfo is not None
    assert merged.byline == ("Abu Yazan",)
    assert merged.tags == ("Ukraine", "Russia", "White House"), "page order of labels is kept"
    assert merged.body == article.body


def test_feed_wins_for_dates_and_other_posts_entries_are_ignored() -> None:
    article = _parse("white-house-arabic-theme.html")
    entries = parse_feed((DIR / "feed-posts-default.atom.xml").read_bytes()).entries
    other = next(e for e in entries if e.post_id != POST_ID)
    assert merge_feed_entry(article, other) == article
    own = next(e for e in entries if e.post_id == POST_ID)
    merged = merge_feed_entry(article, own)
    assert merged.updated == own.updated
    assert merged.updated != article.updated  # feed has milliseconds the page lacks


def test_feed_labels_fill_a_page_without_labels() -> None:
    article = _parse("white-house-arabic-theme-min.html", SEED_URL + "?m=1").replace(tags=())
    entry = next(e for e in parse_feed((DIR / "feed-posts-default.json").read_bytes()).entries if e.post_id == POST_ID)
    assert merge_feed_entry(article, entry).tags == ("White House", "Russia", "Ukraine")


def test_parse_is_pure_and_repeatable() -> None:
    html = (DIR / "white-house-arabic-theme.html").read_text("utf-8")
    assert Blogger().parse(html, SEED_URL) == Blogger().parse(html, SEED_URL)


@pytest.mark.parametrize("bad", ["http://[::1/x", "http://[oops/", "http://example.com:99999/p.jpg"])
def test_a_malformed_canonical_or_image_url_is_dropped_and_the_post_kept(bad: str) -> None:
    page = (DIR / "white-house-arabic-theme.html").read_text("utf-8")
    head = page.index(">", page.index("<head")) + 1  # before the page's own canonical link: the first one counts
    page = page[:head] + f'<link rel="canonical" href="{bad}">' + page[head:]
    body = page.index(">", page.index("id='post-body-")) + 1  # an image inside the post's body
    page = page[:body] + f'<img src="{bad}" width="400">' + page[body:]
    original = _parse("white-house-arabic-theme.html")
    article = parse_page(page.encode("utf-8"), SEED_URL)
    assert article.headline == original.headline and article.body == original.body
    assert article.canonical_url == original.canonical_url
    assert all(bad not in image.url for image in article.images)
