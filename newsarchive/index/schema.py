"""The one Whoosh schema, its version, and Article -> index document."""

from __future__ import annotations

from typing import Any

from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema

from newsarchive.article import Article
from newsarchive.parse.dates import to_utc_naive

#: Bump when the schema or the analysis changes: an index of another version is rebuilt.
INDEX_VERSION = 1


def make_schema() -> Schema:
    text = StemmingAnalyzer()
    return Schema(
        id=ID(unique=True, stored=True),
        url=ID(stored=True),
        site=ID(stored=True),
        lang=ID(stored=True),
        section=ID(stored=True),
        headline=TEXT(analyzer=text, stored=True, field_boost=2.0),
        description=TEXT(analyzer=text, stored=True),
        body=TEXT(analyzer=text, stored=True, chars=True),
        byline=KEYWORD(commas=True, lowercase=True, scorable=True, stored=True),
        tags=KEYWORD(commas=True, lowercase=True, scorable=True, stored=True),
        # Whoosh ignores tzinfo: published is indexed as naive UTC (STYLE.md, Whoosh traps).
        published=DATETIME(stored=True, sortable=True),
    )


def _commas(values: tuple[str, ...]) -> str:
    return ",".join(v.replace(",", " ") for v in values)


def article_to_doc(article: Article) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": article.id,
        "url": article.canonical_url,
        "site": article.site,
        "lang": article.lang or "",
        "section": article.section or "",
        "headline": article.headline,
        "description": article.description or "",
        "body": article.body,
        "byline": _commas(article.byline),
        "tags": _commas(article.tags),
    }
    if article.published is not None:
        doc["published"] = to_utc_naive(article.published)
    return doc
