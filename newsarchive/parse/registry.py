"""The explicit, ordered list of site parsers (generic last), and every question asked of the sites' declarations.

Parsing, discovery (``sources add``, listing pages), the built-in sources and the feed merge all read the
sites from here, so a site is declared once: in its module's ``site = Site(...)``.
"""

from __future__ import annotations

from collections.abc import Callable

from newsarchive.article import Article
from newsarchive.errors import UsageError
from newsarchive.parse.generic import GenericParser
from newsarchive.parse.site import DefaultSource, Host, Marker, Site, SiteParser, Tag
from newsarchive.parse.sites.almayadeen import AlMayadeen
from newsarchive.parse.sites.blogger import Blogger

# One import line per site, like yt-dlp's _extractors.py: a new site shows up in the diff.
SITE_PARSERS: tuple[type[SiteParser], ...] = (AlMayadeen, Blogger)

PARSERS: tuple[type[SiteParser], ...] = (*SITE_PARSERS, GenericParser)


def sites() -> tuple[Site, ...]:
    """The site declarations, in parser order (read at call time: the list is one place)."""
    return tuple(cls.site for cls in SITE_PARSERS)


def parsers() -> tuple[type[SiteParser], ...]:
    """Every parser, generic last, read at call time like sites() (PARSERS is the list as imported)."""
    return (*SITE_PARSERS, GenericParser)


def parser_by_name(name: str) -> type[SiteParser]:
    every = parsers()
    for cls in every:
        if cls.name == name:
            return cls
    known = ", ".join(cls.name for cls in every)
    raise UsageError(f"no parser named {name!r}", hint=f"known parsers: {known}")


def parser_for(url: str, html: str) -> type[SiteParser]:
    """Pick the parser: a site parser claiming the URL, then one claiming the page, then generic."""
    for cls in SITE_PARSERS:
        if cls.site.claims_url(url):
            return cls
    for cls in SITE_PARSERS:
        if cls.site.claims_page(html):
            return cls
    return GenericParser


def site_for_host(host: str) -> tuple[Site, Host, dict[str, str]] | None:
    """The site owning ``host`` (lower-case, no port), the declared host and its named groups."""
    for site in sites():
        found = site.host(host)
        if found:
            return site, found[0], found[1].groupdict()
    return None


def site_for_page(html: str) -> Site | None:
    """The first site whose page markers ``html`` carries."""
    return next((site for site in sites() if site.claims_page(html)), None)


def site_for_feed(body: bytes) -> Site | None:
    """The first site whose feed markers the start of a feed document carries."""
    return next((site for site in sites() if site.owns_feed(body)), None)


def feed_id_extras(feed_id: str) -> dict[str, str]:
    """What a feed's or entry's id says in its site's terms (``{"<site>_post_id": ...}``); {} for other ids."""
    for site in sites():
        found = site.feed_id_extras(feed_id)
        if found:
            return found
    return {}


def link_patterns_for(host: str) -> tuple[str, ...]:
    """The article-link patterns of the site owning ``host``, for its listing pages; () for other hosts."""
    found = site_for_host(host)
    return found[0].link_patterns if found else ()


def default_sources() -> list[tuple[Site, DefaultSource]]:
    """The sources a new archive reads, with the site whose parser reads each."""
    return [(site, site.default_source) for site in sites() if site.default_source]


def feed_entries(body: bytes) -> list[tuple[str, str]]:
    """(store key, JSON) for each post of a site's feed whose entries the site merges into its pages; [].

    Raises ParseError (or ValueError) for a feed of the site that cannot be read.
    """
    for site in sites():
        if site.feed_merge and site.owns_feed(body):
            return [(f"{site.name}:{key}", data) for key, data in site.feed_merge.entries(body)]
    return []


def merge_feed_metadata(article: Article, lookup: Callable[[str], str | None]) -> Article:
    """Fill what the page hides from what its site's feed said (``lookup`` reads a key kept by feed_entries)."""
    if article.parser is None:
        return article
    for site in sites():
        if site.feed_merge and site.name == article.parser.name:
            key = site.feed_merge.key(article)
            data = lookup(f"{site.name}:{key}") if key else None
            return site.feed_merge.merge(article, data) if data else article
    return article


ADDING_A_SITE = """\
## Adding a site

A site is one module in `newsarchive/parse/sites/`, its fixture pages in `fixtures/sites/<name>/`, and one
line in `SITE_PARSERS` (`newsarchive/parse/registry.py`). The module's parser class carries the site's one
declaration, `site = Site(...)`: parsing, `sources add`, listing pages, the built-in sources and the feed merge
(`FeedMerge`: what the site's feeds say of each post, filled into its parsed page) all read it from the registry.

```python
from newsarchive.parse.site import DefaultSource, Host, Site, SiteParser, SiteTest, Tag


class ExampleNews(SiteParser):
    name = "examplenews"
    description = "Example News articles."
    site = Site(
        url_patterns=(r"https?://news\\.example\\.org/\\d{4}/[^/?#]+$",),
        page_markers=(Tag("meta", {"name": "generator", "content": "ExampleCMS"}),),
        hosts=(Host(r"news\\.example\\.org", "examplenews", "https://news.example.org"),),
        sitemaps=("/sitemap.xml",),
        listings=("/",),
        link_patterns=(r"^https?://news\\.example\\.org/\\d{4}/[^/?#]+$",),
        default_source=None,  # or DefaultSource("examplenews", ("https://news.example.org/sitemap.xml",))
    )
    tests = (SiteTest(url="https://news.example.org/2024/a-story", fixture="examplenews/a-story.html"),)

    def parse(self, html: str, url: str) -> Article: ...
```

and in `newsarchive/parse/registry.py`:

```python
from newsarchive.parse.sites.examplenews import ExampleNews

SITE_PARSERS: tuple[type[SiteParser], ...] = (AlMayadeen, Blogger, ExampleNews)
```

Then `newsarchive sources add https://news.example.org/` gives the source `examplenews` starting at its sitemap
and home page, a page marked `<meta name="generator" content="ExampleCMS">` on any host is parsed by it, and
`python -m newsarchive.parse.registry > docs/sites.md` lists it here. `tests/test_site_registry.py` registers
such a module (`tests/tiny_site.py`) and checks each of these.
"""


def supported_sites_markdown() -> str:
    """docs/sites.md, generated from the registry (tests/test_docs.py checks it is current)."""
    lines = [
        "# Supported sites",
        "",
        "Generated from `newsarchive/parse/registry.py` by `python -m newsarchive.parse.registry > docs/sites.md`;",
        "do not edit by hand. Parsers are tried in this order: a site parser whose URL patterns match, then one",
        "whose page markers match (e.g. a Blogger blog on its own domain), then the generic parser.",
        "",
        "| parser | version | sites | what it handles | fixture pages |",
        "|---|---|---|---|---|",
    ]
    for cls in parsers():
        examples = ", ".join(f"`{s}`" for s in cls.example_sites) or "any"
        fixtures = sum(1 for t in cls.tests if t.fixture)
        lines.append(f"| `{cls.name}` | {cls.version} | {examples} | {cls.description} | {fixtures} |")
    lines += ["", "## Declarations", "", "Each site's `site = Site(...)` record, as every stage reads it.", ""]
    for cls in SITE_PARSERS:
        site = cls.site
        lines += [f"### `{cls.name}`", ""]
        lines += [f"- URL: `{p}`" for p in site.url_patterns]
        lines += [f"- page marker: {_page_marker(m)}" for m in site.page_markers]
        for host in site.hosts:
            where = f", starts at `{host.origin}`" if host.origin else ""
            lines.append(f"- host: `{host.pattern}` -> source `{host.source}`{where}")
        lines += [f"- feed: `{p}`" for p in site.feeds]
        lines += [f"- sitemap: `{p}`" for p in site.sitemaps]
        lines += [f"- listing page: `{p}`" for p in site.listings]
        lines += [f"- article links on listing pages: `{p}`" for p in site.link_patterns]
        lines += [f"- feed marker: `{p.decode()}`" for p in site.feed_markers]
        lines += [f"- feed entry ids: `{site.feed_ids}`"] if site.feed_ids else []
        lines += [f"- platform host (feeds of many blogs): `{h}`" for h in site.platform_hosts]
        if site.default_source:
            start = ", ".join(f"`{u}`" for u in site.default_source.start)
            lines.append(f"- built-in source: `{site.default_source.name}` at {start}")
        if site.feed_merge:
            lines.append("- feed merge: what its feeds say of each post fills the post's parsed page")
        lines.append("")
    lines.append(ADDING_A_SITE)
    return "\n".join(lines).rstrip() + "\n"


def _page_marker(marker: Marker) -> str:
    if isinstance(marker, Tag):
        attrs = " ".join(f'{name}="{value}"' for name, value in marker.attrs.items())
        return f"`<{marker.tag} {attrs}>` (attributes in any order)"
    return f"text `{marker.pattern}`"


if __name__ == "__main__":
    import sys

    sys.stdout.write(supported_sites_markdown())
