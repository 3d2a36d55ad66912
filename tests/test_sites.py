"""Runs every parser's declared SiteTests: routing, spot checks, never-lists, golden files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES
from matchers import all_strings, mismatch

from newsarchive.errors import NotAnArticle
from newsarchive.parse import parse_page
from newsarchive.parse.registry import PARSERS, SITE_PARSERS, parser_for
from newsarchive.parse.site import SiteParser, SiteTest

CASES = [(cls, t) for cls in PARSERS for t in cls.tests]


def _case_id(case: tuple[type[SiteParser], SiteTest]) -> str:
    cls, t = case
    return f"{cls.name}:{t.fixture or t.url}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_declared_url_is_claimed_by_its_own_parser(case: tuple[type[SiteParser], SiteTest]) -> None:
    cls, t = case
    html = (FIXTURES / "sites" / t.fixture).read_text("utf-8", "replace") if t.fixture else ""
    assert parser_for(t.url, html) is cls


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_declared_url_is_claimed_by_no_other_site_parser(case: tuple[type[SiteParser], SiteTest]) -> None:
    cls, t = case
    others = [o.name for o in SITE_PARSERS if o is not cls and o.claims_url(t.url)]
    assert others == []


FIXTURE_CASES = [c for c in CASES if c[1].fixture]


@pytest.mark.parametrize("case", FIXTURE_CASES, ids=[_case_id(c) for c in FIXTURE_CASES])
def test_fixture_page_parses_to_its_golden_article(
    case: tuple[type[SiteParser], SiteTest], update_golden: bool
) -> None:
    _, t = case
    assert t.fixture is not None
    page = FIXTURES / "sites" / t.fixture
    if t.not_article:
        with pytest.raises(NotAnArticle):
            parse_page(page.read_bytes(), t.url)
        return
    data = parse_page(page.read_bytes(), t.url).to_dict()
    problems = [p for f, exp in t.expect.items() if (p := mismatch(f, exp, data.get(f)))]
    for needle in t.never:
        problems += [f"never-string {needle!r} found in {s[:120]!r}" for s in all_strings(data) if needle in s]
    assert not problems, "\n".join(problems)
    golden = page.with_suffix(".article.json")
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if update_golden or not golden.exists():
        if not update_golden:
            pytest.fail(f"no golden file {golden.name}; run pytest --update-golden and review it")
        golden.write_text(text, "utf-8")
    assert json.loads(golden.read_text("utf-8")) == data, f"{golden.name} differs; review, then --update-golden"


def test_generic_parser_is_last() -> None:
    assert PARSERS[-1].name == "generic"


@pytest.mark.parametrize("cls", SITE_PARSERS, ids=[c.name for c in SITE_PARSERS])
def test_every_site_parser_has_a_fixture_test(cls: type[SiteParser]) -> None:
    assert any(t.fixture for t in cls.tests), f"{cls.name} declares no fixture test"


def test_parser_names_are_unique() -> None:
    names = [c.name for c in PARSERS]
    assert len(names) == len(set(names))


def test_fixture_paths_exist() -> None:
    missing = [t.fixture for _, t in FIXTURE_CASES if t.fixture and not Path(FIXTURES / "sites" / t.fixture).exists()]
    assert missing == []
