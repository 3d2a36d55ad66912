"""tantivy (Rust, through its Python binding) as a second peer of the search benchmark, beside FTS5.

The same corpus (read from the store as reindex reads it) and the same queries: fields ``headline``,
``body`` (stored, for the snippet), ``tags`` (text), ``tag`` (one raw term per tag key, for exact tag
filters) and ``published`` (an integer, indexed and fast, for ranges and the newest-first listing), with
tantivy's default tokenizer (split on non-alphanumerics, lowercase). A text query is parsed over the
three text fields with every word required and the headline boosted 2x; it returns the 10 best by
BM25 with the exact total (``count=True``, as newsarchive counts), the headline and a snippet of the
body. Installed with ``pip install .[bench]``; the benchmark runs without it when it is missing.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import tantivy


def tag_key(value: str) -> str:
    """newsarchive.analysis.tag_key (not imported: a search process of this peer loads tantivy only)."""
    return " ".join(value.lower().split())


FIELDS = ["headline", "body", "tags"]
BOOSTS = {"headline": 2.0}


def schema() -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("headline", stored=True)
    builder.add_text_field("body", stored=True)
    builder.add_text_field("tags")
    builder.add_text_field("tag", tokenizer_name="raw")
    builder.add_integer_field("published", indexed=True, fast=True)
    builder.add_integer_field("rowid", stored=True)
    return builder.build()


def _doc(rowid: int, a: dict[str, Any]) -> Any:
    tags = a.get("tags") or []
    fields: dict[str, Any] = {
        "rowid": rowid,
        "headline": a.get("headline") or "",
        "body": a.get("body") or "",
        "tags": " ; ".join(tags),
    }
    if tags:
        fields["tag"] = [tag_key(t) for t in tags]
    published = a.get("published")
    if published:
        fields["published"] = int(datetime.fromisoformat(published).timestamp())
    return tantivy.Document(**fields)


def build(store_path: Path, path: Path) -> int:
    """Index every article of the store into a new tantivy index in ``path``."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    index = tantivy.Index(schema(), path=str(path))
    writer = index.writer()
    db = sqlite3.connect(store_path)
    n = 0
    for rowid, text in db.execute("SELECT rowid, json FROM articles ORDER BY rowid"):
        writer.add_document(_doc(rowid, json.loads(text)))
        n += 1
    db.close()
    writer.commit()
    writer.wait_merging_threads()
    return n


def add(path: Path, articles: list[tuple[int, dict[str, Any]]]) -> None:
    """Add articles and commit (what a 100-article ingest costs)."""
    index = tantivy.Index.open(str(path))
    writer = index.writer()
    for rowid, a in articles:
        writer.add_document(_doc(rowid, a))
    writer.commit()
    writer.wait_merging_threads()


def query_text(words: list[str], *, phrase: bool = False) -> str:
    clean = [w.replace('"', " ") for w in words]
    return '"' + " ".join(clean) + '"' if phrase else " ".join(f'"{w}"' for w in clean)


class Peer:
    def __init__(self, path: Path) -> None:
        self.index = tantivy.Index.open(str(path))
        self.index.reload()
        self.schema = self.index.schema
        self.searcher = self.index.searcher()

    def query(self, words: list[str], *, phrase: bool = False) -> Any:
        return self.index.parse_query(
            query_text(words, phrase=phrase), FIELDS, field_boosts=BOOSTS, conjunction_by_default=True
        )

    def text(self, q: Any, *, span: tuple[int, int] | None = None, tag: str | None = None) -> list[Any]:
        full = q
        if span is not None:
            rng = tantivy.Query.range_query(self.schema, "published", tantivy.FieldType.Integer, span[0], span[1])
            full = tantivy.Query.boolean_query([(tantivy.Occur.Must, q), (tantivy.Occur.Must, rng)])
        elif tag is not None:
            term = tantivy.Query.term_query(self.schema, "tag", tag_key(tag))
            full = tantivy.Query.boolean_query([(tantivy.Occur.Must, q), (tantivy.Occur.Must, term)])
        result = self.searcher.search(full, 10, count=True)
        snippets = tantivy.SnippetGenerator.create(self.searcher, q, self.schema, "body")
        out = []
        for _, address in result.hits:
            doc = self.searcher.doc(address)
            out.append((doc["rowid"][0], doc["headline"][0], snippets.snippet_from_doc(doc).to_html()))
        return [result.count, out]

    def listing(self, span: tuple[int, int]) -> list[Any]:
        rng = tantivy.Query.range_query(self.schema, "published", tantivy.FieldType.Integer, span[0], span[1])
        result = self.searcher.search(rng, 10, count=True, order_by_field="published")
        return [(self.searcher.doc(a)["headline"][0]) for _, a in result.hits]

    def close(self) -> None:
        del self.searcher, self.index


def process_code(path: Path, words: list[str]) -> str:
    """Python code for a fresh process that runs one tantivy search and prints the hits (the CLI's peer)."""
    return (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
        "from pathlib import Path\n"
        "import tantivy_peer\n"
        f"p = tantivy_peer.Peer(Path({str(path)!r}))\n"
        f"for row in p.text(p.query({words!r}))[1]:\n"
        "    print(*row)\n"
    )
