"""Real saved Blogger pages (shared/realpages/blogger) against their expected values."""

from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED, require_shared
from matchers import all_strings

from newsarchive.parse import parse_page
from newsarchive.parse.registry import parser_for

REALPAGES = SHARED / "realpages" / "blogger"
CASES = sorted(REALPAGES.glob("*.expected.json")) if REALPAGES.is_dir() else []


def test_the_real_blogger_pages_are_there() -> None:
    """Without them the cases below vanish from the run: a skip here, a failure under CI."""
    require_shared("realpages", "blogger")
    assert CASES, f"no *.expected.json in {REALPAGES}"


def _ws(text: str) -> str:
    """Whitespace-insensitive form: <br> line breaks and NBSPs count as one space."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


def _load(case: Path) -> tuple[dict[str, Any], bytes]:
    expected = json.loads(case.read_text("utf-8"))
    return expected, (case.parent / expected["page_file"]).read_bytes()


@pytest.mark.skipif(not CASES, reason="shared/realpages/blogger is not present")
@pytest.mark.parametrize("case", CASES, ids=[c.name.removesuffix(".expected.json") for c in CASES])
def test_real_blogger_page_matches_expected_values(case: Path) -> None:
    expected, raw = _load(case)
    url = expected["url"]
    assert parser_for(url, raw.decode("utf-8", "replace")).name == ("blogger" if expected["is_blogger"] else "generic")
    article = parse_page(raw, url)
    data = article.to_dict()
    problems: list[str] = []

    if article.headline != expected["headline"]:
        problems.append(f"headline {article.headline!r}")
    if list(article.byline[:1]) != ([expected["author"]] if expected.get("author") else []):
        problems.append(f"byline {article.byline!r}")
    if list(article.tags) != expected["labels"]:
        problems.append(f"labels {article.tags!r}")
    if article.lang != expected["lang"]:
        problems.append(f"lang {article.lang!r}")

    if expected["published_utc"] is None:
        # No zone on the page: no aware timestamp may be guessed; the visible date is kept aside.
        if article.published is not None:
            problems.append(f"published {article.published!r} though the page gives no zone")
        if expected.get("published_date") and article.extra.get("blogger_published_date") != expected["published_date"]:
            problems.append(f"published_date {article.extra.get('blogger_published_date')!r}")
    else:
        got = article.published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if article.published else None
        if got != expected["published_utc"]:
            problems.append(f"published_utc {got!r}")
        if article.published and article.published.date().isoformat() != expected["published_date"]:
            problems.append(f"published_date {article.published.date()!r}")

    body = _ws(article.body)
    first = body.find(_ws(expected["body_first"]))
    if not 0 <= first <= expected["body_first_max_lead_chars"]:
        problems.append(f"body_first at {first}: {body[:160]!r}")
    last = _ws(expected["body_last"])
    end = body.rfind(last)
    tail = len(body) - (end + len(last)) if end >= 0 else -1
    if not 0 <= tail <= expected["body_last_max_tail_chars"]:
        problems.append(f"body_last tail {tail}: {body[-200:]!r}")
    for phrase in expected["body_must_contain"]:
        n = body.count(_ws(phrase))
        if n != 1:
            problems.append(f"{phrase!r} occurs {n} times in the body")
    for needle in expected["never"]:
        problems += [f"never-string {needle!r} in {s[:100]!r}" for s in all_strings(data) if needle in s]
    assert not problems, "\n".join(problems)
