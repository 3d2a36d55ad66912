"""STAGE 7b: stream articles as a JSON array, JSON Lines or CSV, in constant memory."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal, TextIO

from whoosh.index import Index

from newsarchive.article import ARTICLE_JSON_KEYS, Article
from newsarchive.search import SearchRequest, iter_matching_ids
from newsarchive.store.articles import ArticleStore

Format = Literal["json", "jsonl", "csv"]

#: CSV: lists of strings are joined with this separator; nested records are JSON text.
CSV_LIST_SEPARATOR = "; "
_CSV_STRING_LISTS = ("byline", "tags")
_CSV_JSON = ("images", "related", "parser", "capture", "extra")


def csv_row(record: dict[str, Any]) -> list[str]:
    """One article record as CSV cells, in ARTICLE_JSON_KEYS order (see docs/search.md, "CSV")."""
    cells: list[str] = []
    for key in ARTICLE_JSON_KEYS:
        value = record.get(key)
        if value is None:
            cells.append("")
        elif key in _CSV_STRING_LISTS:
            cells.append(CSV_LIST_SEPARATOR.join(v.replace(CSV_LIST_SEPARATOR, ", ") for v in value))
        elif key in _CSV_JSON:
            cells.append(json.dumps(value, ensure_ascii=False, sort_keys=True) if value else "")
        else:
            cells.append(str(value))
    return cells


def write_records(records: Iterable[dict[str, Any]], out: TextIO, fmt: Format) -> int:
    """Write records one at a time; returns how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ARTICLE_JSON_KEYS)
        for record in records:
            writer.writerow(csv_row(record))
            count += 1
        return count
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count
    out.write("[")
    for record in records:
        out.write(("\n" if count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def needs_index(req: SearchRequest) -> bool:
    """Whether the request needs the text index (else the store answers it alone, in date order)."""
    return req.has_text or bool(req.tags or req.authors or req.sections)


def iter_export(store: ArticleStore, req: SearchRequest, ix: Index | None = None) -> Iterator[Article]:
    """The articles a search would find (all of them, not a page), streamed.

    Without query text or index-only filters: newest first from the store. Otherwise the index's
    matches, in index order, fetched from the store 1,000 at a time.
    """
    if not needs_index(req):
        yield from store.iter_articles_where(
            date_from=req.date_from,
            date_to=req.date_to,
            sites=req.sites,
            langs=req.langs,
            newest=req.sort != "oldest",
        )
        return
    if ix is None:
        raise ValueError("a text query or tag/author/section filter needs the search index")
    for ids in iter_matching_ids(ix, req):
        found = store.get_many(ids)
        for article_id in ids:
            if article_id in found:
                yield found[article_id]
