"""trafilatura's cascade as the generic path runs it (parse/trafilatura_text.py) gives trafilatura.extract's text."""

from __future__ import annotations

import gzip
import json

import pytest
import trafilatura
from conftest import FIXTURES, SHARED
from trafilatura.settings import BASIC_CLEAN_XPATH
from trafilatura.xpaths import RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH

from newsarchive.parse import trafilatura_text
from newsarchive.parse.dom import build_tree
from newsarchive.parse.trafilatura_text import TrafilaturaRun, _basic_clean_matches, _raw_prune_matches

PAGES = sorted((FIXTURES / "sites").glob("*/*.html"))
ZYTE = SHARED / "realpages" / "zyte-dev"


def _extract(tree, url: str, fast: bool) -> str:
    out = trafilatura.extract(tree, url=url, include_comments=False, include_tables=True, deduplicate=False, fast=fast)
    return out or ""


def test_the_installed_trafilatura_selects_with_the_expressions_written_here() -> None:
    # When this fails, trafilatura changed its XPaths: update the walks in trafilatura_text.py (until then,
    # its XPaths run as they are, correct but slower).
    assert trafilatura_text._INTERNALS
    assert trafilatura_text._WALK_RAW and trafilatura_text._WALK_COMMENTS and trafilatura_text._WALK_BASIC


@pytest.mark.parametrize("fast", [True, False], ids=["main-extractor", "whole-cascade"])
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_text_is_trafilatura_extracts_on_fixture_pages(page, fast: bool) -> None:
    tree = build_tree(page.read_text(encoding="utf-8", errors="replace"))
    url = f"https://{page.parent.name}.example/{page.stem}"
    run = TrafilaturaRun(tree, url)
    if not fast:
        run.text(fast=True)  # as the generic path runs it: the whole cascade after the main extractor
    assert run.text(fast=fast) == _extract(tree, url, fast)


def test_text_is_trafilatura_extracts_on_real_pages() -> None:
    if not (ZYTE / "ground-truth.json").exists():
        pytest.skip("shared/realpages/zyte-dev is not present")
    truth = json.loads((ZYTE / "ground-truth.json").read_text(encoding="utf-8"))
    for key in sorted(truth)[:30]:
        html = gzip.decompress((ZYTE / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
        tree = build_tree(html)
        run = TrafilaturaRun(tree, truth[key]["url"])  # one run, both modes: the shared raw tree stays intact
        for fast in (True, False):
            assert run.text(fast=fast) == _extract(tree, truth[key]["url"], fast), (key, fast)


def test_the_tree_given_is_not_changed() -> None:
    html = (FIXTURES / "sites" / "generic" / "wordpress-graph.html").read_text(encoding="utf-8")
    tree = build_tree(html)
    before = len(list(tree.iter()))
    TrafilaturaRun(tree, "https://example.com/a").text(fast=False)
    assert len(list(tree.iter())) == before


RAW_PRUNE_CASES = """<html><body>
<div id="infinite-scroll"><h1>Kept: holds the page's h1</h1><p>a</p></div>
<div class="infinitescroll"><p>gone</p></div>
<section class="mvp-post-add-box"><h1>gone although it holds an h1</h1></section>
<aside id="mvp-post-add-wrap">gone</aside>
<span class="infinite-scroll">kept: not a container tag</span>
<div class="x elementor-share-buttons y">gone</div>
<div id="comments">gone</div><div id="Comment-12">gone</div><div id="commentary">kept</div>
<div id="comol">gone</div><section id="disqus_thread">gone</section><details id="dsq-comments">gone</details>
<ul id="disqus_thread">kept: a list needs a comment id or class</ul><ol class="comment-list">gone</ol>
<ul class="post-comments">gone</ul><div class="the article-comments">gone</div><div class="xcomments">kept</div>
<div class="Commentary">kept</div><p id="comments">kept: a paragraph</p>
</body></html>"""

BASIC_CLEAN_CASES = """<html><body><div>
<aside>a</aside><footer>f</footer><script>s</script><style>s</style><svg><g/></svg><template>t</template>
<div id="x" class="site-footer">kept: id comes first</div><div class="site-footer" id="x">gone: class first</div>
<div id="footer" class="x">gone</div><div class="x" id="footer">kept: class first</div>
<section class="footer">kept: not a div</section>
<p class="Cookie-Banner">gone (any case)</p><span id="onetrust-consent-sdk">gone</span>
<p class="cookies">kept</p><div class="notice__cookie">gone</div>
</div></body></html>"""


def test_the_raw_prune_walk_selects_what_trafilaturas_xpaths_select() -> None:
    tree = build_tree(RAW_PRUNE_CASES)
    expected = [el for x in (*RAW_TREE_PRUNE_XPATH, *REMOVE_COMMENTS_AND_LISTS_XPATH) for el in x(tree)]
    found = _raw_prune_matches(tree, comments=True)
    assert sorted(map(id, found)) == sorted(map(id, expected))
    assert len(found) == 12
    only_raw = [el for x in RAW_TREE_PRUNE_XPATH for el in x(tree)]
    assert sorted(map(id, _raw_prune_matches(tree, comments=False))) == sorted(map(id, only_raw))


def test_the_page_text_walk_selects_what_trafilaturas_cleaning_xpath_selects() -> None:
    body = build_tree(BASIC_CLEAN_CASES).find(".//body")
    found = _basic_clean_matches(body)
    assert found == BASIC_CLEAN_XPATH(body)
    assert len(found) == 11


PAGE_TEXT_CASES = (
    "<html><body><p>a<span>b</span>c</p><div>d<aside>gone</aside>e</div>f<footer>x</footer>g</body></html>",
    "<html><body><div><p>one</p><script>x</script>two<p>three</p></div><br>four\u200bfive<b>six</b></body></html>",
    "<html><body>lead<aside>x</aside><aside>y</aside>tail<ul><li>a\u00adb</li><li>c</li></ul></body></html>",
    "<html><head><title>t</title></head><p>no body element</p><div class='cookie-banner'>x</div>after</html>",
)


@pytest.mark.parametrize("html", [*PAGE_TEXT_CASES, *(p.read_text("utf-8", "replace") for p in PAGES[:12])])
def test_page_text_length_is_that_of_trafilaturas_html2txt(html: str) -> None:
    from trafilatura.baseline import html2txt

    tree = build_tree(html)
    assert trafilatura_text._html2txt_length(tree) == len(html2txt(tree))
