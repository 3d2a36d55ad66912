"""Discovery from feeds: RSS 0.91/2.0, RSS 1.0, Atom, JSON Feed, Blogger Atom and JSON with paging."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from conftest import FIXTURES

from newsarchive.discover import Followup, discover, in_period
from newsarchive.errors import ParseError

D = FIXTURES / "discover"
BLOG = "https://fixture-blog.blogspot.com/feeds/posts/default?orderby=published"


def read(name: str) -> bytes:
    return (D / name).read_bytes()


def test_rss2_items_become_feed_candidates_with_aware_dates_and_absolute_links() -> None:
    found = discover(read("rss2.xml"), "https://news.example.com/rss.xml", "application/rss+xml")
    assert found.kind == "feed"
    assert [c.url for c in found.candidates] == [
        "https://news.example.com/news/gaza-aid-convoy.html?utm_medium=rss",
        "https://news.example.com/news/relative.html",
        "https://news.example.com/news/guid-only.html",
    ]
    first = found.candidates[0]
    assert first.via == "feed" and first.title == "Aid convoy reaches northern Gaza"
    assert first.published == datetime(2024, 3, 5, 7, 15, tzinfo=timezone(timedelta(hours=2)))
    assert first.published.utcoffset() == timedelta(hours=2)
    assert found.candidates[1].published == datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    assert found.candidates[2].published is None
    assert found.followups == []
    assert len(found.feed_entries) == 3


def test_rss091_with_public_doctype_is_read_without_fetching_the_dtd() -> None:
    found = discover(read("rss091.xml"), "http://old.example.com/rss.xml")
    assert [c.url for c in found.candidates] == ["http://old.example.com/story/1.html"]


def test_rss1_rdf_items_with_dc_date() -> None:
    found = discover(read("rss1.rdf"), "https://rdf.example.org/index.rdf")
    assert found.kind == "feed"
    (cand,) = found.candidates
    assert cand.url == "https://rdf.example.org/a/1" and cand.title == "RDF story"
    assert cand.published == datetime(2023, 2, 10, 7, 0, tzinfo=UTC)


def test_atom_prefers_the_html_alternate_link_and_follows_rel_next() -> None:
    found = discover(read("atom.xml"), "https://atom.example.net/feed.atom")
    urls = [c.url for c in found.candidates]
    assert urls == [
        "https://atom.example.net/2024/03/lebanon-border.html",
        "https://atom.example.net/2024/03/older.html",
    ]
    first = found.candidates[0]
    assert first.published is not None and first.published.isoformat() == "2024-03-12T13:45:00+02:00"
    assert first.lastmod is not None and first.lastmod.isoformat() == "2024-03-12T15:00:00+02:00"
    (nxt,) = found.followups
    assert nxt.url == "https://atom.example.net/feed.atom?page=2" and nxt.kind == "feed"
    # entries go newest first, so the next page holds nothing newer than the oldest one here
    assert nxt.period is not None and nxt.period[1] == date(2024, 3, 1)


def test_json_feed_items_urls_external_urls_and_next_url() -> None:
    found = discover(read("jsonfeed.json"), "https://json.example.com/feed.json", "application/feed+json")
    assert found.kind == "feed"
    assert [c.url for c in found.candidates] == [
        "https://json.example.com/posts/one",
        "https://json.example.com/posts/two",
        "https://elsewhere.example.org/story",
    ]
    one = found.candidates[0]
    assert one.title == "First post" and one.published is not None and one.published.utcoffset() == timedelta(hours=2)
    assert one.lastmod == datetime(2024, 3, 29, 6, 0, tzinfo=UTC)
    assert [f.url for f in found.followups] == ["https://json.example.com/feed.json?page=2"]
    assert len(found.feed_entries) == 4


def test_blogger_atom_entries_carry_post_ids_and_page_by_start_index_without_rel_next() -> None:
    found = discover(read("blogger-page1.atom.xml"), BLOG, "application/atom+xml")
    assert [c.url for c in found.candidates] == [
        "https://fixture-blog.blogspot.com/2024/03/white-house-we-dont-encourage-ukraine.html",
        "https://fixture-blog.blogspot.com/2024/02/second-post.html",
    ]
    first = found.candidates[0]
    assert first.extra["blogger_post_id"] == "1111111111111111111"
    assert first.extra["blogger_blog_id"] == "1234567890123456789"
    assert first.published is not None and first.published.isoformat() == "2024-03-20T09:00:00-07:00"
    assert first.lastmod is not None and first.lastmod.microsecond == 345000
    # 2 entries returned from start-index 1, totalResults 3: the next page starts at 3 (no page size assumed)
    (nxt,) = found.followups
    assert nxt.kind == "feed"
    assert nxt.url == "https://fixture-blog.blogspot.com/feeds/posts/default?orderby=published&start-index=3"
    assert found.feed_entries and found.feed_entries[0]["id"].endswith("post-1111111111111111111")


def test_blogger_paging_stops_when_total_results_are_reached() -> None:
    url = "https://fixture-blog.blogspot.com/feeds/posts/default?orderby=published&start-index=3"
    found = discover(read("blogger-page2.atom.xml"), url)
    assert [c.extra["blogger_post_id"] for c in found.candidates] == ["3333333333333333333"]
    assert found.followups == []


def test_blogger_paging_stops_on_an_empty_page() -> None:
    url = "https://fixture-blog.blogspot.com/feeds/posts/default?start-index=26"
    found = discover(read("blogger-empty.atom.xml"), url)
    assert found.candidates == [] and found.followups == []


def test_blogger_rel_next_link_wins_over_computed_start_index() -> None:
    found = discover(read("blogger-relnext.atom.xml"), BLOG)
    (nxt,) = found.followups
    assert "start-index=3" in nxt.url and "max-results=2" in nxt.url and nxt.url.startswith("https://www.blogger.com/")


def test_blogger_json_feed_entries_and_next_page_from_opensearch_counts() -> None:
    url = "https://fixture-blog.blogspot.com/feeds/posts/default?alt=json&max-results=2"
    found = discover(read("blogger-page1.json"), url, "application/json")
    assert found.kind == "feed"
    assert [c.extra["blogger_post_id"] for c in found.candidates] == ["1111111111111111111", "2222222222222222222"]
    assert found.candidates[0].title == "White House: we don't encourage Ukraine"
    assert found.candidates[1].published is not None and found.candidates[1].published.isoformat().endswith("-07:00")
    (nxt,) = found.followups
    assert nxt.url == "https://fixture-blog.blogspot.com/feeds/posts/default?alt=json&max-results=2&start-index=3"
    assert found.feed_entries[0]["thr$total"] == {"$t": "0"}


def test_blogger_json_in_script_callback_is_unwrapped() -> None:
    body = b"myCallback(" + read("blogger-page1.json") + b");"
    found = discover(body, "https://fixture-blog.blogspot.com/feeds/posts/default?alt=json-in-script&callback=x")
    assert len(found.candidates) == 2


def test_feed_next_page_is_skipped_by_backfill_once_entries_are_older_than_since() -> None:
    found = discover(read("blogger-page1.atom.xml"), BLOG)
    (nxt,) = found.followups
    assert in_period(nxt, date(2024, 1, 1), None)  # this page still reaches back to 2024-02-01
    assert not in_period(nxt, date(2024, 3, 1), None)


def test_unordered_feed_page_gives_no_period_for_the_next_page() -> None:
    body = read("atom.xml").replace(b"2024-03-01T08:00:00Z", b"2024-03-30T08:00:00Z")
    (nxt,) = discover(body, "https://atom.example.net/feed.atom").followups
    assert nxt.period is None and in_period(nxt, date(2025, 1, 1), None)


def test_json_that_is_not_a_feed_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="neither a JSON Feed nor a GData feed"):
        discover(b'{"hello": "world"}', "https://x.example.com/feed.json")
    with pytest.raises(ParseError, match="JSON"):
        discover(b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "https://x.example.com/feed.json")


def test_a_followup_without_period_or_lastmod_is_kept_by_backfill() -> None:
    assert in_period(Followup("https://x.example.com/f?page=2", "feed"), date(2023, 1, 1), date(2023, 12, 31))
