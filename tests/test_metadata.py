"""The metadata cascade on hand-made pages of the CMS families in SITES.md section 3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from conftest import FIXTURES

from newsarchive.parse.dom import build_tree
from newsarchive.parse.metadata import article_json_ld, extract_metadata, pick_dates, split_tags

GENERIC = FIXTURES / "sites" / "generic"


def _md(name: str, url: str = "https://news.example/story"):  # type: ignore[no-untyped-def]
    return extract_metadata(build_tree((GENERIC / name).read_text("utf-8")), url)


def test_article_is_found_inside_a_yoast_graph() -> None:
    md = _md("wordpress-graph.html")
    assert md.json_ld_type == "Article"
    assert md.headline == "Council approves tram extension"
    assert md.section == "Local"


def test_graph_author_reference_resolves_to_the_person_name() -> None:
    assert _md("wordpress-graph.html").byline == ["Jane Okafor"]


def test_json_ld_keywords_are_deduplicated_case_insensitively() -> None:
    assert _md("wordpress-graph.html").tags == ["Transport", "Council"]


def test_organization_block_before_the_article_is_skipped() -> None:
    tree = build_tree((GENERIC / "arc-comma-tags.html").read_text("utf-8"))
    ld = article_json_ld(tree)
    assert ld is not None and ld["@type"] == "NewsArticle"


def test_author_list_gives_every_name_in_order() -> None:
    assert _md("arc-comma-tags.html").byline == ["Troy L. Smith", "Anne Nickoloff"]


def test_comma_joined_article_tag_is_split_and_internal_tags_dropped() -> None:
    assert _md("arc-comma-tags.html").tags == ["doobie-brothers", "rock-hall-2020", "concerts-2020"]


def test_arc_millisecond_zulu_dates_are_kept() -> None:
    md = _md("arc-comma-tags.html")
    assert md.published == datetime(2019, 11, 19, 11, 51, 32, 556000, tzinfo=UTC)
    assert md.updated == datetime(2019, 11, 19, 12, 10, 1, 101000, tzinfo=UTC)


def test_sentinel_json_ld_date_falls_through_to_the_meta_date() -> None:
    md = _md("sentinel-date.html")
    assert md.published == datetime(2019, 11, 19, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert md.updated is None  # 1970-01-01 is a sentinel, and nothing else gives a modified time


def test_semicolons_and_commas_both_split_meta_keywords() -> None:
    assert _md("sentinel-date.html").tags == ["grain", "markets", "harvest"]


def test_zone_less_published_time_takes_the_zone_of_the_modified_time() -> None:
    md = _md("naive-time.html")
    assert md.published == datetime(2019, 11, 20, 1, 53, 14, 418000, tzinfo=timezone(timedelta(hours=-8)))


def test_publisher_in_meta_author_is_no_byline() -> None:
    assert _md("naive-time.html").byline == []


def test_page_with_only_zone_less_times_has_no_published_date() -> None:
    md = _md("naive-only.html")
    assert md.published is None
    assert md.tags == ["libraries", "opening hours"]


def test_zoned_candidate_beats_an_earlier_zone_less_one() -> None:
    published, _ = pick_dates(["2019-11-20T01:53:14", "2019-11-20T09:53:14Z"], [])
    assert published == datetime(2019, 11, 20, 9, 53, 14, tzinfo=UTC)


def test_split_tags_accepts_lists_mixed_with_joined_strings() -> None:
    assert split_tags(["Gaza, Lebanon", "  gaza ", "Red  Sea", None]) == ["Gaza", "Lebanon", "Red Sea"]
