"""The markup-variant harness: hundreds of renditions of every site fixture, checked against the original.

For each fixture page declared by a site parser (fixtures/sites/almayadeen, fixtures/sites/blogger) and
each transform family, fixed seeds make renditions (:mod:`transforms`); each rendition is parsed and held
to the original's parse:

- same headline, published and updated dates, body paragraphs (white space normalised), tags, related
  links, byline and source;
- nothing from the ticker, the navigation, the recirculation boxes or the footer in any field;
- a page that is not an article (listing, video, 404) stays not an article.

``run()`` returns one :class:`Outcome` per rendition; ``bench/variants.py`` prints the counts and
``tests/test_variants_markup.py`` asserts a threshold per family.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsarchive.errors import NewsArchiveError, NotAnArticle
from newsarchive.parse import parse_html
from newsarchive.parse.decode import decode_html
from newsarchive.parse.registry import SITE_PARSERS
from variants import transforms as tf

ROOT = Path(__file__).resolve().parent.parent.parent
SITES = ROOT / "fixtures" / "sites"
#: Sites whose fixtures the harness renders.
HARNESS_SITES = ("almayadeen", "blogger")

#: Families, in report order. ``structure-preserving`` ones change no element's role: every rendition must hold.
FAMILIES: dict[str, str] = {
    "class-tokens": "extra class tokens, token order shuffled",
    "wrappers": "extra wrapper elements; runs of paragraphs grouped",
    "minified": "inter-block white space dropped, runs collapsed",
    "pretty": "pretty-printed block structure, CRLF on some seeds",
    "attributes": "attribute order shuffled; single, double or no quotes",
    "sidebar-first": "sidebars moved before the article",
    "ticker-script": "ticker injected by script, with a <noscript> copy",
    "ticker-repeat": "ticker repeated after the footer (and above the headline)",
    "recirculation": "recirculation boxes as lists, bare links or <p> inside <a>",
    "tags-markup": "tags as plain links, paragraphs or buttons",
    "read-more": '"Read more:" lines wholly linked, label in <b>, in a <div>, or <p> inside <a>',
    "rename-one": "one class token renamed everywhere (each token in turn)",
    "rename-all": "every class token renamed (a redesign keeping the structure)",
    "mixed": "three of the above at once, random serialisation",
}
STRUCTURE_PRESERVING = ("class-tokens", "wrappers", "minified", "pretty", "attributes", "sidebar-first",
                        "ticker-script", "ticker-repeat", "recirculation", "tags-markup", "read-more")  # fmt: skip
#: Strings shorter than this are checked against whole field values only (a nav label "News" may be a word).
LONG_NOISE = 16


@dataclass(frozen=True)
class Fixture:
    site: str
    name: str
    url: str
    not_article: bool


@dataclass
class Outcome:
    fixture: Fixture
    family: str
    seed: int
    problems: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.problems


def fixtures(sites: tuple[str, ...] = HARNESS_SITES) -> list[Fixture]:
    out = []
    for cls in SITE_PARSERS:
        for t in cls.tests:
            if t.fixture and t.fixture.split("/")[0] in sites and t.fixture.endswith(".html"):
                site, name = t.fixture.split("/", 1)
                if all((f.site, f.name) != (site, name) for f in out):  # one fixture may back several tests
                    out.append(Fixture(site, name, t.url, t.not_article))
    return out


def _norm(text: str) -> str:
    return " ".join(text.split())


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    """The fields held to the original, normalised."""
    return {
        "headline": _norm(data.get("headline") or ""),
        "published": data.get("published"),
        "updated": data.get("updated"),
        "body": [_norm(p) for p in (data.get("body") or "").split("\n\n") if p.strip()],
        "tags": list(data.get("tags") or []),
        "related": [(_norm(r["title"]), r["url"]) for r in data.get("related") or []],
        "byline": list(data.get("byline") or []),
        "source": data.get("source"),
    }


def _values(data: dict[str, Any]) -> list[str]:
    """Every string value of an article, body split into paragraphs (for the noise check)."""
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    walk({k: v for k, v in data.items() if k not in {"url", "canonical_url", "id", "site", "parser", "capture"}})
    body = data.get("body") or ""
    return out + [_norm(p) for p in body.split("\n\n")]


NOISE_XPATH = (
    "//nav | //header[not(.//h1)] | //footer"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' sidebar ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' sidebar-container ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' blog-pager ')]"
    " | //*[@id='comments'] | //aside[not(.//h1)]"
)


def noise_strings(tree: tf.HtmlElement, original: dict[str, Any], never: tuple[str, ...]) -> list[str]:
    """Texts of the ticker, navigation, recirculation and footer of the original page (and the fixture's
    declared never-strings) that the original parse does not hold anywhere."""
    texts: set[str] = set(tf.ticker_items(tree)) | set(never)
    regions = tree.xpath(NOISE_XPATH) + tf.recirculation_boxes(tree) + tree.xpath(tf.TICKER_XPATH)
    for region in regions:
        for el in region.iter():
            if not isinstance(el.tag, str) or el.tag in {"script", "style"}:
                continue
            for piece in (el.text, el.tail if el is not region else None):
                if piece and _norm(piece):
                    texts.add(_norm(piece))
            if el.tag in {"a", "li", "h2", "h3", "h4", "p"}:
                texts.add(_norm(el.text_content()))
    held = _values(original)
    joined = "\n".join(held)
    return sorted(t for t in texts if t and len(t) >= 2 and t not in held and not (len(t) >= LONG_NOISE and t in joined)
                  and not any(t in h for h in held if len(t) >= LONG_NOISE))  # fmt: skip


def _noise_found(data: dict[str, Any], noise: list[str]) -> list[str]:
    values = _values(data)
    joined = "\n".join(values)
    found = []
    for t in noise:
        if (len(t) >= LONG_NOISE and t in joined) or t in values:
            found.append(t)
    return found


def _parse(html: str, url: str) -> dict[str, Any] | str:
    try:
        return parse_html(html, url).to_dict()
    except NotAnArticle:
        return "not-an-article"
    except NewsArchiveError as exc:
        return f"error: {type(exc).__name__}: {exc}"


@dataclass
class Page:
    fixture: Fixture
    html: str
    original: dict[str, Any] | str
    noise: list[str]
    tokens: list[str]


def load(fx: Fixture) -> Page:
    raw = (SITES / fx.site / fx.name).read_bytes()
    html = decode_html(raw)
    original = _parse(html, fx.url)
    never = next((t.never for cls in SITE_PARSERS for t in cls.tests if t.fixture == f"{fx.site}/{fx.name}"), ())
    tree = tf.parse_fixture(html)
    noise = noise_strings(tree, original, never) if isinstance(original, dict) else []
    return Page(fx, html, original, noise, tf.class_tokens(tree))


def _tree_transforms(page: Page) -> dict[str, tf.Transform]:
    tags = tuple(page.original.get("tags") or ()) if isinstance(page.original, dict) else ()
    return {
        "class-tokens": tf.extra_class_tokens,
        "wrappers": tf.wrappers,
        "sidebar-first": tf.sidebar_first,
        "ticker-script": tf.ticker_script,
        "ticker-repeat": tf.ticker_repeat,
        "recirculation": tf.recirculation_markup,
        "tags-markup": lambda tree, rng: tf.tags_markup(tree, rng, tags),
        "read-more": tf.read_more_markup,
        "rename-all": tf.rename_all,
    }


SERIAL_STYLES: dict[str, Callable[[random.Random], tf.Style]] = {
    "minified": lambda rng: tf.Style(minify=True, quotes=rng.choice(["double", "single"])),
    "pretty": lambda rng: tf.Style(pretty=True, crlf=rng.random() < 0.5),
    "attributes": lambda rng: tf.Style(shuffle_attrs=True, quotes="mixed"),
}


def renditions(page: Page, family: str, seeds: int) -> Iterator[tuple[int, str]]:
    """``(seed, html)`` of each applicable rendition of ``page`` in ``family``."""
    trees = _tree_transforms(page)
    n = len(page.tokens) if family == "rename-one" else seeds
    for seed in range(n):
        rng = random.Random(f"{page.fixture.site}/{page.fixture.name}/{family}/{seed}")
        tree = tf.parse_fixture(page.html)
        style = tf.Style()
        if family in SERIAL_STYLES:
            style = SERIAL_STYLES[family](rng)
        elif family == "rename-one":
            tf.rename_tokens(tree, {page.tokens[seed]}, rng)
        elif family == "mixed":
            names = [*trees, "rename-one"]
            applied = 0
            for name in rng.sample(names, len(names)):
                if applied == 3:
                    break
                if name == "rename-one":
                    tf.rename_tokens(tree, {rng.choice(page.tokens)}, rng)
                    applied += 1
                elif trees[name](tree, rng):
                    applied += 1
            style = rng.choice(list(SERIAL_STYLES.values()))(rng)
        elif not trees[family](tree, rng):
            return
        yield seed, tf.serialize(tree, style, rng)


def check(page: Page, html: str) -> list[str]:
    """What differs between the rendition's parse and the original's (empty: the rendition holds)."""
    got = _parse(html, page.fixture.url)
    if not isinstance(page.original, dict):
        return [] if got == page.original else [f"expected {page.original}, got an article" if isinstance(
            got, dict) else f"expected {page.original}, got {got}"]  # fmt: skip
    if not isinstance(got, dict):
        return [got]
    problems = []
    want, have = _fields(page.original), _fields(got)
    for key, value in want.items():
        if have[key] != value:
            problems.append(f"{key}: {_difference(have[key], value)}")
    problems += [f"noise: {t[:80]!r}" for t in _noise_found(got, page.noise)]
    return problems


def _difference(got: Any, want: Any) -> str:
    """Where a field differs: the first differing item of a list, else both values."""
    if isinstance(got, list) and isinstance(want, list):
        for i, (g, w) in enumerate(zip(got, want, strict=False)):
            if g != w:
                return f"item {i}: {_short(g)} != {_short(w)}"
        extra = got[len(want) :] or want[len(got) :]
        return f"{len(got)} items != {len(want)}: {'extra' if len(got) > len(want) else 'missing'} {_short(extra)}"
    return f"{_short(got)} != {_short(want)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 160 else text[:160] + "..."


def run(seeds: int = 20, families: tuple[str, ...] | None = None, sites: tuple[str, ...] = HARNESS_SITES,
        only: str | None = None) -> list[Outcome]:  # fmt: skip
    outcomes = []
    for fx in fixtures(sites):
        if only and only not in fx.name:
            continue
        page = load(fx)
        for family in families or tuple(FAMILIES):
            for seed, html in renditions(page, family, seeds):
                outcomes.append(Outcome(fx, family, seed, check(page, html)))
    return outcomes


def tally(outcomes: list[Outcome], key: Callable[[Outcome], Any]) -> dict[Any, tuple[int, int]]:
    held: Counter[Any] = Counter()
    total: Counter[Any] = Counter()
    for o in outcomes:
        k = key(o)
        total[k] += 1
        held[k] += o.held
    return {k: (held[k], total[k]) for k in total}


def first_problem(outcomes: list[Outcome]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for o in outcomes:
        if o.problems:
            out.setdefault((o.fixture.name, o.family), f"seed {o.seed}: " + "; ".join(o.problems)[:400])
    return out
