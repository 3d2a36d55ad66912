"""A negated date finds the articles without a date on PostgreSQL as in Whoosh: ``NOT published:2023`` is every
article not published in 2023, the undated ones included. SQL's NULL made ``NOT (published >= ...)`` unknown for
an article without a date, and the row was left out (Whoosh, and a brute-force reading of the articles, keep it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsarchive.article import Article
from newsarchive.index.backend import WhooshBackend
from newsarchive.index.pg_search import PgSearch, connect
from newsarchive.index.writer import rebuild
from newsarchive.search import SearchRequest


def _corpus() -> list[Article]:
    out = []
    for i in range(40):
        out.append(
            Article(
                url=f"https://x.example/{i}",
                headline=f"Item {i}",
                body="alpha beta" if i % 2 else "alpha gamma",
                site="x.example",
                lang="en",
                section="World" if i % 3 else "",
                published=None if i % 5 == 0 else datetime(2022 + i % 3, 1 + i % 12, 1 + i % 28, 12, tzinfo=UTC),
            )
        )
    return out


def _in(a: Article, lo: datetime, hi: datetime) -> bool:
    return a.published is not None and lo <= a.published < hi


Y2023 = (datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
FEB23 = (datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 3, 1, tzinfo=UTC))
FROM_MAR23 = (datetime(2023, 3, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
TO_JUN22 = (datetime(1000, 1, 1, tzinfo=UTC), datetime(2022, 7, 1, tzinfo=UTC))
_CASES: list[tuple[str, Callable[[Article], bool]]] = [
    ("NOT published:2023", lambda a: not _in(a, *Y2023)),
    ("alpha NOT published:[2023-03 TO]", lambda a: not _in(a, *FROM_MAR23)),
    ("beta AND NOT published:[TO 2022-06]", lambda a: "beta" in a.body and not _in(a, *TO_JUN22)),
    ("NOT (published:2023 OR gamma)", lambda a: not _in(a, *Y2023) and "gamma" not in a.body),
    ("NOT month:2023-02", lambda a: not _in(a, *FEB23)),
    ("NOT (published:2023 AND beta)", lambda a: not (_in(a, *Y2023) and "beta" in a.body)),
]  # fmt: skip


@pytest.mark.parametrize(("text", "matches"), _CASES, ids=[t for t, _ in _CASES])
def test_a_negated_date_keeps_the_undated_articles_on_postgresql_as_in_whoosh(
    text: str, matches: Callable[[Article], bool], pg_url: str, tmp_path: Path
) -> None:
    articles = _corpus()
    expected = {a.id for a in articles if matches(a)}
    assert any(a.published is None and a.id in expected for a in articles), text
    rebuild(tmp_path / "index", articles)
    whoosh = WhooshBackend(tmp_path / "index")
    pg = PgSearch(connect(pg_url))
    try:
        pg.add(articles)
        for sort in ("relevance", "newest", "oldest"):
            req = SearchRequest(text, limit=len(articles), sort=sort, facets=True)  # type: ignore[arg-type]
            got: dict[str, Any] = {}
            for name, backend in (("whoosh", whoosh), ("pg", pg)):
                results = backend.search(req)
                ids = {i for batch in backend.iter_ids(req) for i in batch}
                got[name] = (results.total, {h.id for h in results.hits}, ids, results.facets)
            assert got["whoosh"][:3] == (len(expected), expected, expected), text
            assert got["pg"] == got["whoosh"], (text, sort)
    finally:
        pg.close()
        whoosh.close()
