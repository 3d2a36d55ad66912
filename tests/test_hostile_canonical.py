"""Issue 12, class 3: one source never rewrites another's article.

Two sites on real servers: ``127.0.0.1`` and ``localhost`` (two registrable "sites": an IP and an
unknown host are each their own). A page on one names the other's archived URL as its canonical
URL (``<link rel=canonical>``, ``og:url``), by ``fetch``, ``import-warc`` and ``reparse``, in either order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_kit import body, page, run, warc
from server import FixtureServer

ORIGINAL = "The harbour authority reopened the port on Monday after the storm. " * 8
EVIL = "This page says something else entirely and wants the other site's place. " * 8


@pytest.fixture
def site(empty_site: FixtureServer) -> FixtureServer:
    return empty_site


def two_sites(site: FixtureServer) -> tuple[str, str]:
    """The original's base URL and the other site's (same server, another host name)."""
    return site.base, site.base.replace("127.0.0.1", "localhost")


def serve(site: FixtureServer, path: str, title: str, text: str, head: str = "") -> None:
    site.routes[path] = body(page(title, head, text))


def articles(archive: Path) -> dict[str, dict[str, object]]:
    out = run(archive, "export", "--jsonl").out
    return {a["url"]: a for a in map(json.loads, out.splitlines())}


@pytest.mark.parametrize("tag", ["link", "og"])
@pytest.mark.parametrize("order", ["original-first", "copy-first"])
def test_a_page_naming_another_sites_url_as_canonical_never_replaces_its_article(
    site: FixtureServer, tmp_path: Path, tag: str, order: str
) -> None:
    a, b = two_sites(site)
    original = f"{a}/news/harbour.html"
    head = (
        f'<link rel="canonical" href="{original}">'
        if tag == "link"
        else f'<meta property="og:url" content="{original}">'
    )
    serve(site, "/news/harbour.html", "Harbour reopens", ORIGINAL)
    serve(site, "/evil.html", "Evil replacement", EVIL, head)
    archive = tmp_path / "a"
    urls = [original, f"{b}/evil.html"]
    for url in urls if order == "original-first" else urls[::-1]:
        assert run(archive, "fetch", url).code == 0
    stored = articles(archive)
    assert stored[original]["headline"] == "Harbour reopens"
    assert stored[original]["canonical_url"] == original
    assert stored[f"{b}/evil.html"]["canonical_url"] == f"{b}/evil.html"
    assert stored[f"{b}/evil.html"]["site"] == "localhost"
    assert run(archive, "reparse").code == 0
    again = articles(archive)
    assert again[original]["headline"] == "Harbour reopens" and len(again) == 2


def test_an_honest_copy_on_another_site_adds_nothing_and_keeps_the_original(
    site: FixtureServer, tmp_path: Path
) -> None:
    a, b = two_sites(site)
    original = f"{a}/news/harbour.html"
    serve(site, "/news/harbour.html", "Harbour reopens", ORIGINAL)
    serve(site, "/copy.html", "Harbour reopens", ORIGINAL, f'<link rel="canonical" href="{original}">')
    archive = tmp_path / "a"
    assert run(archive, "fetch", original).code == 0
    assert run(archive, "fetch", f"{b}/copy.html").code == 0
    stored = articles(archive)
    assert list(stored) == [original]
    assert stored[original]["headline"] == "Harbour reopens"


def test_a_canonical_to_an_url_not_archived_yet_does_not_take_it_later(site: FixtureServer, tmp_path: Path) -> None:
    a, b = two_sites(site)
    original = f"{a}/news/harbour.html"
    serve(site, "/news/harbour.html", "Harbour reopens", ORIGINAL)
    serve(site, "/evil.html", "Evil replacement", EVIL, f'<link rel="canonical" href="{original}">')
    archive = tmp_path / "a"
    assert run(archive, "fetch", f"{b}/evil.html").code == 0
    assert original not in articles(archive)
    assert run(archive, "fetch", original).code == 0
    shown = json.loads(run(archive, "show", original, "--json").out)
    assert shown["headline"] == "Harbour reopens"


def test_a_warc_from_another_site_naming_an_archived_url_as_canonical_is_kept_apart(
    site: FixtureServer, tmp_path: Path
) -> None:
    a, _ = two_sites(site)
    original = f"{a}/news/harbour.html"
    serve(site, "/news/harbour.html", "Harbour reopens", ORIGINAL)
    archive = tmp_path / "a"
    assert run(archive, "fetch", original).code == 0
    evil = page("Evil from a WARC", f'<link rel="canonical" href="{original}">', EVIL)
    path = warc(tmp_path / "evil.warc.gz", [("http://evil.example/x.html", evil, None)])
    assert run(archive, "import-warc", str(path)).code == 0
    stored = articles(archive)
    assert stored[original]["headline"] == "Harbour reopens"
    assert stored["http://evil.example/x.html"]["canonical_url"] == "http://evil.example/x.html"
    assert run(archive, "store", "rebuild").code == 0
    assert articles(archive)[original]["headline"] == "Harbour reopens"


def test_a_canonical_on_the_same_site_is_still_followed(site: FixtureServer, tmp_path: Path) -> None:
    a, _ = two_sites(site)
    serve(site, "/news/harbour.html", "Harbour reopens", ORIGINAL, f'<link rel="canonical" href="{a}/news/h">')
    archive = tmp_path / "a"
    assert run(archive, "fetch", f"{a}/news/harbour.html?utm_source=x").code == 0
    assert json.loads(run(archive, "show", f"{a}/news/h", "--json").out)["headline"] == "Harbour reopens"
