"""Behaviour of the Al Mayadeen parser beyond its declared fixture tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import FIXTURES, require_shared

from newsarchive.article import RelatedLink
from newsarchive.errors import NotAnArticle
from newsarchive.parse import parse_page
from newsarchive.parse.registry import parser_for
from newsarchive.parse.sites.almayadeen import CRIMEA_URL, SECRET_URL, AlMayadeen

DIR = FIXTURES / "sites" / "almayadeen"
SEEDS = {"crimea.html": CRIMEA_URL, "crimea-min.html": CRIMEA_URL,
         "open-secret.html": SECRET_URL, "open-secret-min.html": SECRET_URL}  # fmt: skip


def _parse(name: str, url: str | None = None):  # type: ignore[no-untyped-def]
    return parse_page((DIR / name).read_bytes(), url or SEEDS[name])


def _ticker_lines(name: str) -> list[str]:
    """The BREAKING items of a fixture, whether rendered as a list or injected from a script array."""
    html = (DIR / name).read_text("utf-8")
    items = re.findall(r'<ul class="ticker">(.*?)</ul>', html, re.S)
    if items:
        return [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li>(.*?)</li>", items[0])]
    array = re.search(r"window.__BREAKING__ = (\[.*?\]);", html)
    assert array, name
    import json

    return list(json.loads(array.group(1)))


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_breaking_ticker_never_reaches_body(name: str) -> None:
    art = _parse(name)
    lines = _ticker_lines(name)
    assert len(lines) >= 5
    everything = art.to_json()
    for line in lines:
        assert line not in everything


def test_ticker_differs_between_variants_of_the_same_page() -> None:
    assert set(_ticker_lines("crimea.html")).isdisjoint(_ticker_lines("crimea-min.html"))


@pytest.mark.parametrize("name", ["crimea.html", "crimea-min.html"])
def test_read_more_links_become_related_links(name: str) -> None:
    art = _parse(name)
    assert art.related == (
        RelatedLink(
            "US position on Crimean Peninsula 'declaration of war': Crimea",
            "https://english.almayadeen.net/news/politics/us-position-on-crimean-peninsula-declaration-of-war:-crimea",
        ),
        RelatedLink(
            "US considering providing Ukraine with weapons to hit Crimea: Reports",
            "https://english.almayadeen.net/news/politics/us-considering-providing-ukraine-with-weapons-to-hit-crimea:",
        ),
    )
    assert "Read more" not in art.body
    assert "US position on Crimean Peninsula" not in art.body


def test_read_more_links_keep_page_order_on_open_secret() -> None:
    titles = [r.title for r in _parse("open-secret-min.html").related]
    assert titles == [
        "No breaks or rotation; Ukraine's war drafting saga continues",
        "Italy's Meloni slams Macron's invite to Zelensky as 'inappropriate'",
        "US must realize consequences of allies sending troops to Kiev: Antonov",
    ]


@pytest.mark.parametrize(("name", "box"), [
    ("crimea.html", ("Senate blames Secret Service failures", "South Korea warns US chip tariffs")),
    ("crimea-min.html", ("Senate blames Secret Service failures", "South Korea warns US chip tariffs")),
    ("open-secret.html", ("Cholera devastates Darfur", "US uses tariffs to strongarm India")),
    ("open-secret-min.html", ("Cholera devastates Darfur", "US uses tariffs to strongarm India")),
])  # fmt: skip
def test_related_news_box_is_not_a_related_link(name: str, box: tuple[str, str]) -> None:
    art = _parse(name)
    html = (DIR / name).read_text("utf-8")
    assert all(title in html for title in box)  # the box is really in the fixture
    for title in box:
        assert not any(title in r.title for r in art.related)
        assert title not in art.body
    assert "Related News" not in art.body


@pytest.mark.parametrize(("name", "utc"), [
    ("crimea.html", datetime(2023, 2, 16, 6, 35, tzinfo=UTC)),
    ("open-secret-min.html", datetime(2024, 3, 16, 6, 51, tzinfo=UTC)),
])  # fmt: skip
def test_published_is_aware_with_site_offset(name: str, utc: datetime) -> None:
    art = _parse(name)
    assert art.published is not None
    assert art.published.utcoffset() == timedelta(hours=2)
    assert art.published == utc
    assert art.updated is not None and art.updated > art.published


def test_offset_follows_the_cms_clock_not_beirut() -> None:
    # 26 Mar 2023: Israel had switched to +03:00, Beirut had not (it switched on 29 Mar).
    art = _parse(
        "tweet-and-video.html",
        "https://english.almayadeen.net/news/politics/ukrainian-drone-strike-reported-near-crimean-bridge",
    )
    assert art.published == datetime(2023, 3, 26, 7, 0, tzinfo=UTC)
    assert art.published.utcoffset() == timedelta(hours=3)


def test_naive_article_published_time_is_read_as_utc() -> None:
    url = "https://english.almayadeen.net/news/economy/economy-ministers-meet-in-cairo-on-regional-trade"
    html = (DIR / "no-tags-no-tawsiyat.html").read_text("utf-8")
    assert 'id="tawsiyat-metadata"' not in html and "2023-05-04T09:12:00.0000000" in html
    art = parse_page(html, url)
    assert art.published == datetime(2023, 5, 4, 9, 12, tzinfo=UTC)
    assert art.tags == ()


def test_visible_date_is_cms_local_time_when_nothing_else_is_left() -> None:
    html = (DIR / "no-tags-no-tawsiyat.html").read_text("utf-8")
    html = re.sub(r'<meta property="article:(published|modified)_time"[^>]*>', "", html)
    art = parse_page(
        html, "https://english.almayadeen.net/news/economy/economy-ministers-meet-in-cairo-on-regional-trade"
    )
    assert art.published == datetime(2023, 5, 4, 9, 12, tzinfo=UTC)  # "4 May 2023 12:12" at +03:00


def test_subheadings_stay_in_body_as_their_own_paragraphs() -> None:
    for name in ("open-secret.html", "open-secret-min.html"):
        paragraphs = _parse(name).body.split("\n\n")
        assert "What is the NATO consensus?" in paragraphs
        assert "Russia will treat US troops in Ukraine as interventionists" in paragraphs
        assert paragraphs[0].startswith("Russia's Deputy Permanent Representative to the UN, Dmitry Polyansky")
        assert paragraphs[-1].endswith("as part of the war in Ukraine.")


def test_body_is_exactly_the_seed_paragraphs() -> None:
    art = _parse("crimea.html")
    paragraphs = art.body.split("\n\n")
    assert len(paragraphs) == 12
    text = require_shared("seeds", "almayadeen-en-crimea.txt").read_text("utf-8")
    assert all(p in text for p in paragraphs)


def test_lead_caption_is_not_body_and_alt_is_not_caption() -> None:
    art = _parse("crimea.html")
    assert len(art.images) == 1
    caption = art.images[0].caption or ""
    assert caption.endswith("(Reuters)")
    assert "REUTERS/File Photo" not in caption
    assert caption not in art.body


def test_tags_in_page_order_not_keyword_order() -> None:
    art = _parse("crimea-min.html")
    assert art.tags == ("United States", "US", "Ukraine", "Antony Blinken", "Crimea")
    assert "Politico" not in art.tags  # only in meta keywords / tawsiyat keywords


def test_source_comes_from_meta_row_and_is_not_a_byline() -> None:
    art = _parse("open-secret.html")
    assert art.source == "News websites"
    assert art.byline == ("Al Mayadeen English",)


def test_opinion_piece_carries_the_writer_and_drops_the_disclaimer() -> None:
    url = "https://english.almayadeen.net/articles/opinion/why-sanctions-keep-failing--a-view-from-the-global-south"
    art = _parse("opinion-named-author.html", url)
    assert art.byline == ("Karim Haddad",)
    assert art.source is None
    assert "do not necessarily reflect" not in art.body
    assert "measured against their own stated aims, is poor." in art.body  # inline nodes keep their spaces


def test_embedded_tweet_keeps_text_but_not_attribution_or_video() -> None:
    art = _parse(
        "tweet-and-video.html",
        "https://english.almayadeen.net/news/politics/ukrainian-drone-strike-reported-near-crimean-bridge",
    )
    assert "No damage to the bridge." in art.body
    assert "@example_gov" not in art.body
    assert "youtube" not in art.to_json().lower()
    assert len(art.body.split("\n\n")) == 3


def test_arabic_and_spanish_editions() -> None:
    ar = _parse("arabic-news.html", "https://www.almayadeen.net/news/politics/x")
    es = _parse("spanish-news.html", "https://espanol.almayadeen.net/noticias/politica/x")
    assert (ar.lang, es.lang) == ("ar", "es")
    assert "أخبار ذات صلة" not in ar.body and "اقرأ أيضاً" not in ar.body
    assert ar.related[0].title == "موسكو تحذر من إرسال قوات غربية"
    assert es.source == "Agencias" and "Noticia recomendada" not in es.body


@pytest.mark.parametrize(("name", "url"), [
    ("listing-politics.html", "https://english.almayadeen.net/news/politics"),
    ("video-no-text.html", "https://english.almayadeen.net/videos/newsfeed/drone-footage-shows-strike-on-armored-vehicle"),
    ("error-404.html", "https://english.almayadeen.net/news/politics/gone"),
])  # fmt: skip
def test_listing_page_is_not_an_article(name: str, url: str) -> None:
    with pytest.raises(NotAnArticle):
        parse_page((DIR / name).read_bytes(), url)


def test_all_three_editions_route_to_this_parser_and_others_do_not() -> None:
    for url in (CRIMEA_URL, "https://www.almayadeen.net/news/politics/x", "https://espanol.almayadeen.net/x"):
        assert parser_for(url, "") is AlMayadeen
    assert not AlMayadeen.claims_url("https://almayadeen.net.example.com/news/x")
    html = (DIR / "crimea.html").read_text("utf-8")
    assert parser_for("https://mirror.example.org/page", html) is AlMayadeen  # claimed by the tawsiyat marker


def test_parse_is_pure_and_repeatable() -> None:
    html = (DIR / "crimea.html").read_text("utf-8")
    assert AlMayadeen().parse(html, CRIMEA_URL) == AlMayadeen().parse(html, CRIMEA_URL)
