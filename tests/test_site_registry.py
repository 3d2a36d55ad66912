"""One declaration per site: parsing, `sources add`, listing pages, built-in sources and the feed merge read it.

The Blogger markers are checked in every attribute order on custom domains (detection and parsing used to
disagree), and a throwaway third site (tests/tiny_site.py) is registered with one line to show that a site is
one module: each stage then uses its declaration.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT
from server import FixtureServer
from tiny_site import TinyNews

from newsarchive.cli import cli
from newsarchive.discover import discover
from newsarchive.discover.detect import SourceGuess, detect_source
from newsarchive.parse import parse_html, registry
from newsarchive.parse.registry import parser_for, supported_sites_markdown
from newsarchive.parse.site import Tag, Text
from newsarchive.parse.sites.blogger import Blogger
from newsarchive.sources import builtin_sources_toml, parse_config

CUSTOM = "https://notes.fixture-domain.example/2021/03/spring-notes.html"
ORIGIN = "https://notes.fixture-domain.example"
POST = (
    "<div class='blog-posts hfeed'><div class='post-outer'><div class='post hentry'>"
    "<h3 class='post-title entry-title'>Spring notes</h3>"
    "<div class='post-body entry-content' id='post-body-3022211100099988877'>"
    "<p>The almond trees flowered a week early this year.</p></div>"
    "<div class='post-footer'><span class='post-author vcard'>Posted by <span class='fn'>Mariam Haddad</span>"
    "</span></div></div></div></div>"
)
FEED = "https://www.blogger.com/feeds/4417283950126783341/posts/default"

BLOGGER_MARKUP = {
    "generator, content first": "<meta content='blogger' name='generator'/>",
    "generator, name first": '<meta name="generator" content="blogger">',
    "generator, upper case, unquoted": "<META NAME=generator CONTENT=Blogger>",
    "service.post, rel first": f'<link rel="service.post" type="application/atom+xml" href="{FEED}" />',
    "service.post, href first": f'<link href="{FEED}" rel="service.post" type="application/atom+xml" />',
    "service.post, rel last": f"<link type='application/atom+xml' title='Notes' href='{FEED}' rel='service.post'/>",
    "openid server": "<link href='https://www.blogger.com/openid-server.g' rel='openid.server'/>",
    "posts feed link": f"<link href='{ORIGIN}/feeds/posts/default?alt=rss' rel='alternate' type='application/rss+xml'>",
    "widgets CDN css": "<link type='text/css' rel='stylesheet' "
    "href='https://www.blogger.com/static/v1/widgets/2975350028-css_bundle_v2.css' />",
    "template namespace": "</head><html xmlns:b='http://www.google.com/2005/gml/b'><head>",
    "widget manager": "<script>_WidgetManager._Init('//www.blogger.com/rearrange?blogID\\x3d44172839','//x');</script>",
}  # fmt: skip


def _page(head: str) -> str:
    return f"<!DOCTYPE html><html><head><title>Notes: Spring notes</title>{head}</head><body>{POST}</body></html>"


@pytest.mark.parametrize("markup", BLOGGER_MARKUP.values(), ids=BLOGGER_MARKUP.keys())
def test_each_blogger_marker_makes_detection_and_parsing_agree_on_a_custom_domain(markup: str) -> None:
    html = _page(markup)
    assert parser_for(CUSTOM, html) is Blogger
    article = parse_html(html, CUSTOM)
    assert article.parser is not None and article.parser.name == "blogger"
    assert article.byline == ("Mariam Haddad",)
    guess = detect_source(html.encode(), CUSTOM, "text/html")
    assert guess == SourceGuess(
        "blogger",
        "notes.fixture-domain.example",
        (f"{ORIGIN}/feeds/posts/default?orderby=published", f"{ORIGIN}/sitemap.xml"),
        "blogger",
    )


NOT_BLOGGER = {
    "other generator": "<meta name='generator' content='WordPress 6.4.2'/>",
    "generator value merely starting with blogger": "<meta name='generator' content='bloggerific 1.0'/>",
    "blogger as another meta's value": "<meta name='description' content='blogger'/>",
    "service.post on a link to elsewhere": f"<link rel='service.post' href='https://api.example.org/{FEED[8:]}'/>",
    "service.post in an anchor": f"<a rel='service.post' href='{FEED}'>feed</a>",
    "text about blogger.com": "<p>Write to a blogger on www.blogger.com/feeds/1/posts/default.</p>",
}


@pytest.mark.parametrize("markup", NOT_BLOGGER.values(), ids=NOT_BLOGGER.keys())
def test_pages_without_a_blogger_marker_are_not_claimed(markup: str) -> None:
    html = _page(markup).replace("post-body entry-content", "entry").replace("hentry", "x")
    assert not Blogger.site.claims_page(html)
    assert parser_for(CUSTOM, html) is not Blogger


def test_tag_marker_matches_attributes_in_any_order_and_any_quoting() -> None:
    marker = Tag("link", {"rel": r"service\.post", "href": r"https://x\.example/f"})
    for html in (
        '<link rel="service.post" href="https://x.example/f">',
        "<link href='https://x.example/f' rel='service.post'>",
        "<LINK title=a HREF=https://x.example/f type=t REL=service.post/>",
    ):
        assert marker.regex.search(html), html
    for html in ('<link rel="service.post">', '<link rel="service.postx" href="https://x.example/f">'):
        assert not marker.regex.search(html), html
    assert Text(r"_WidgetManager\._Init").regex.search("_WidgetManager._Init(")


def test_discovery_modules_declare_no_site_of_their_own() -> None:
    """Hosts and markers of sites live in their declarations, not in the stages that read them."""
    site_words = re.compile(r"almayadeen\.net|blogspot\.|blogger\.com|tawsiyat|service\\?\.post|generator")
    for path in ("discover/detect.py", "discover/listings.py", "parse/registry.py"):
        text = (ROOT / "newsarchive" / path).read_text("utf-8")
        code = text.split("ADDING_A_SITE = ")[0]  # the registry's worked example may name a made-up site
        assert not site_words.findall(code), path


# -- a third site is one module and one registry line -----------------------------------------


@pytest.fixture
def with_tiny_site(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "SITE_PARSERS", (*registry.SITE_PARSERS, TinyNews))


TINY = FIXTURES / "sites" / "tinynews"
TINY_URL = "https://news.tiny.example/2024/first-story"


def test_unregistered_site_is_used_nowhere() -> None:
    html = (TINY / "story.html").read_text("utf-8")
    assert parser_for(TINY_URL, html).name == "generic"
    assert "tinynews" not in builtin_sources_toml()


@pytest.mark.usefixtures("with_tiny_site")
def test_registered_site_parses_its_urls_and_its_marked_pages_on_any_host() -> None:
    html = (TINY / "story.html").read_text("utf-8")
    assert parser_for(TINY_URL, "") is TinyNews
    assert parser_for("https://mirror.example.net/copy", html) is TinyNews
    article = parse_html(html, "https://mirror.example.net/copy")
    assert article.parser is not None and article.parser.name == "tinynews"
    assert (article.headline, article.body) == (
        "First story",
        "The first paragraph of the first story.\n\nA second one.",
    )
    assert registry.parser_by_name("tinynews") is TinyNews


@pytest.mark.usefixtures("with_tiny_site")
def test_registered_site_is_detected_by_host_page_and_feed_with_its_declared_start_urls() -> None:
    page = (TINY / "story.html").read_bytes()
    declared = ("https://news.tiny.example/feed.xml", "https://news.tiny.example/sitemap.xml",
                "https://news.tiny.example/latest")  # fmt: skip
    assert detect_source(page, "https://www.news.tiny.example/", "text/html") == SourceGuess(
        "tinynews", "tinynews", declared, "tinynews"
    )
    assert detect_source(page, "http://mirror.example.net:8080/copy", "text/html") == SourceGuess(
        "tinynews",
        "mirror.example.net",
        ("http://mirror.example.net:8080/feed.xml", "http://mirror.example.net:8080/sitemap.xml",
         "http://mirror.example.net:8080/latest"),
        "tinynews",
    )  # fmt: skip
    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><generator>TinyCMS</generator>'
    feed += (
        b"<item><title>First story</title><link>https://other.example/2024/first-story</link></item></channel></rss>"
    )
    assert detect_source(feed, "https://other.example/rss", "application/rss+xml") == SourceGuess(
        "tinynews", "other.example", ("https://other.example/rss", "https://other.example/sitemap.xml"), "tinynews"
    )


@pytest.mark.usefixtures("with_tiny_site")
def test_registered_site_gives_listing_pages_of_its_hosts_their_link_patterns() -> None:
    found = discover((TINY / "latest.html").read_bytes(), "https://news.tiny.example/latest", "text/html")
    assert [c.url for c in found.candidates] == [
        "https://news.tiny.example/2024/first-story",
        "https://news.tiny.example/2024/second-story",
    ]
    other = discover((TINY / "latest.html").read_bytes(), "https://other.example/latest", "text/html")
    assert other.candidates == []


@pytest.mark.usefixtures("with_tiny_site")
def test_registered_site_brings_its_default_source_feed_merge_and_doc_section() -> None:
    config = parse_config(builtin_sources_toml(), None)
    assert [(s.name, s.start, s.parser) for s in config.sources][-1] == (
        "tinynews",
        ("https://news.tiny.example/feed.xml",),
        "tinynews",
    )
    feed = b'<feed><generator>TinyCMS</generator><entry id="42" author="Nour Example"/></feed>'
    kept = dict(registry.feed_entries(feed))
    assert list(kept) == ["tinynews:42"]
    article = parse_html((TINY / "story.html").read_text("utf-8"), TINY_URL)
    assert registry.merge_feed_metadata(article, kept.get).byline == ("Nour Example",)
    doc = supported_sites_markdown()
    assert "### `tinynews`" in doc and '`<meta name="generator" content="TinyCMS(?: [\\d.]+)?">`' in doc
    assert "| `tinynews` | 1 |" in doc


def test_blogger_feed_merge_through_the_registry_keeps_the_store_keys() -> None:
    """Kept under "blogger:<post id>" as before, merged into the page of that post."""
    from newsarchive.parse import parse_page
    from newsarchive.parse.sites.blogger_feed import merge_feed, parse_feed

    feed = (FIXTURES / "sites" / "blogger" / "feed-posts-default.atom.xml").read_bytes()
    kept = dict(registry.feed_entries(feed))
    assert "blogger:7305518724931260419" in kept
    url = "https://min-menu-news.blogspot.com/2023/04/white-house-we-dont-encourage-ukraine.html?m=1"
    article = parse_page((FIXTURES / "sites" / "blogger" / "white-house-arabic-theme-min.html").read_bytes(), url)
    assert registry.merge_feed_metadata(article, kept.get) == merge_feed(article, parse_feed(feed).entries)
    assert registry.feed_entries(b"<rss><channel><title>other</title></channel></rss>") == []


def _run(archive: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--archive", str(archive), *args])
    assert result.exit_code == 0 and result.exception is None, (result.stderr, result.exception)
    return result.stdout


def _bylines(archive: Path) -> dict[str, list[str]]:
    rows = [json.loads(line) for line in _run(archive, "export", "--jsonl").splitlines()]
    return {str(row["headline"]): row["byline"] for row in rows}


@pytest.mark.usefixtures("with_tiny_site")
def test_registered_site_feed_fields_are_merged_on_ingest_and_on_store_rebuild_from_warc(
    tmp_path: Path, archive_dir: Path
) -> None:
    """Nothing in ingest or the pipeline is one site's: a new site's declared feed merge runs at both stages."""
    site = tmp_path / "tiny"
    (site / "2024").mkdir(parents=True)
    (site / "2024" / "first-story.html").write_bytes((TINY / "story.html").read_bytes())  # no byline on the page
    (site / "feed.xml").write_text(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Tiny</title>'
        "<generator>TinyCMS</generator><id>https://news.tiny.example/</id>"
        '<entry id="42" author="Nour Example"><title>First story</title><id>tiny-42</id>'
        '<link rel="alternate" type="text/html" href="{{BASE}}/2024/first-story.html"/>'
        "<updated>2024-05-01T10:00:00Z</updated></entry></feed>",
        "utf-8",
    )
    server = FixtureServer(site).start()
    try:
        archive_dir.mkdir(parents=True, exist_ok=True)
        (archive_dir / "sources.toml").write_text(
            f'[settings]\ndelay = 0.0\n\n[[source]]\nname = "tiny"\nstart = ["{server.url("/feed.xml")}"]\n',
            "utf-8",
        )
        report = json.loads(_run(archive_dir, "ingest", "--since", "2024-01-01", "--json"))
    finally:
        server.stop()
    assert report["new"] == 1
    assert _bylines(archive_dir) == {"First story": ["Nour Example"]}  # from the feed, merged on ingest
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm"):
        (archive_dir / name).unlink(missing_ok=True)
    _run(archive_dir, "store", "rebuild", "--json")
    assert _bylines(archive_dir) == {"First story": ["Nour Example"]}  # from the feed archived in warc/


def test_pipeline_ingest_and_discovery_name_no_site() -> None:
    """Each site is named in its declaration only: the stages ask the registry (comments included)."""
    words = {cls.name for cls in registry.SITE_PARSERS}  # blogger, almayadeen
    for cls in registry.SITE_PARSERS:  # and their hosts' names: blogspot, ...
        words |= {host.split(".")[-2] for host in (*cls.example_sites, *cls.site.platform_hosts)}
    assert {"blogger", "blogspot", "almayadeen"} <= words
    pattern = re.compile("|".join(sorted(map(re.escape, words - {"python"}))), re.I)  # blog.python.org's
    paths = [ROOT / "newsarchive" / "pipeline.py", ROOT / "newsarchive" / "ingest.py"]
    paths += sorted((ROOT / "newsarchive" / "discover").glob("*.py"))
    for path in paths:
        found = pattern.findall(path.read_text("utf-8"))
        assert not found, f"{path.name} names a site: {sorted(set(found))}"


def test_sites_doc_shows_how_to_add_a_site() -> None:
    doc = supported_sites_markdown()
    assert "## Adding a site" in doc and "site = Site(" in doc


# -- `sources add` on the Blogger platform's own addresses ------------------------------------------

DISCOVER = FIXTURES / "discover"


def test_blogger_platform_feed_is_named_after_its_posts_blog() -> None:
    url = "https://www.blogger.com/feeds/1234567890123456789/posts/default"
    guess = detect_source((DISCOVER / "blogger-page1.atom.xml").read_bytes(), url, "application/atom+xml")
    assert guess == SourceGuess("blogger", "fixture-blog", (url,), "blogger")


def test_sitemap_on_a_blogspot_host_is_a_blogger_source_starting_there() -> None:
    url = "https://fixture-blog.blogspot.com/sitemap.xml"
    guess = detect_source((DISCOVER / "blogger-sitemapindex.xml").read_bytes(), url, "application/xml")
    assert guess == SourceGuess("blogger", "fixture-blog", (url,), "blogger")


def test_almayadeen_sitemap_url_keeps_the_edition_source_and_parser() -> None:
    url = "https://english.almayadeen.net/sitemaps/all.xml"
    guess = detect_source((DISCOVER / "almayadeen-index.xml").read_bytes(), url, "application/xml")
    assert guess == SourceGuess("almayadeen", "almayadeen-en", (url,), "almayadeen")
