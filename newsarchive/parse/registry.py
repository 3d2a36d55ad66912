"""The explicit, ordered list of parsers; the generic parser is always last."""

from __future__ import annotations

from newsarchive.errors import UsageError
from newsarchive.parse.generic import GenericParser
from newsarchive.parse.site import SiteParser
from newsarchive.parse.sites.almayadeen import AlMayadeen
from newsarchive.parse.sites.blogger import Blogger

# One import line per site, like yt-dlp's _extractors.py: a new site shows up in the diff.
SITE_PARSERS: tuple[type[SiteParser], ...] = (AlMayadeen, Blogger)

PARSERS: tuple[type[SiteParser], ...] = (*SITE_PARSERS, GenericParser)


def parser_by_name(name: str) -> type[SiteParser]:
    for cls in PARSERS:
        if cls.name == name:
            return cls
    known = ", ".join(cls.name for cls in PARSERS)
    raise UsageError(f"no parser named {name!r}", hint=f"known parsers: {known}")


def parser_for(url: str, html: str) -> type[SiteParser]:
    """Pick the parser: a site parser claiming the URL, then one claiming the page, then generic."""
    for cls in SITE_PARSERS:
        if cls.claims_url(url):
            return cls
    for cls in SITE_PARSERS:
        if cls.claims_page(html, url):
            return cls
    return GenericParser


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
    for cls in PARSERS:
        sites = ", ".join(f"`{s}`" for s in cls.example_sites) or "any"
        fixtures = sum(1 for t in cls.tests if t.fixture)
        lines.append(f"| `{cls.name}` | {cls.version} | {sites} | {cls.description} | {fixtures} |")
    lines += ["", "## URL patterns and page markers", ""]
    for cls in SITE_PARSERS:
        lines.append(f"### `{cls.name}`")
        lines.append("")
        lines += [f"- URL: `{p}`" for p in cls.url_patterns]
        lines += [f"- page marker: `{m}`" for m in cls.page_markers]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(supported_sites_markdown())
