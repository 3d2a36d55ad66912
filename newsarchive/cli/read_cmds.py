"""Commands that read the archive: search, show, export, stats."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from newsarchive.article import Article
from newsarchive.cli import cli
from newsarchive.cli._context import Context, render_marks, safe, stream_json_array, stream_jsonl, use_color
from newsarchive.cli._options import date_range_options
from newsarchive.errors import UsageError
from newsarchive.index.writer import open_index
from newsarchive.search import SearchHit, SearchRequest, search


def print_article(article: Article) -> None:
    """The article as readable text: headline, byline, date, tags, body, related links."""
    color = use_color()
    title = safe(article.headline)
    click.echo(click.style(title, bold=True) if color else title)
    facts = [
        ", ".join(article.byline),
        article.source and f"({article.source})",
        article.published and article.published.isoformat(),
        article.section,
        article.series,
    ]
    click.echo(safe(" · ".join(f for f in facts if f)))
    click.echo(safe(article.canonical_url))
    if article.tags:
        click.echo(safe("Tags: " + ", ".join(article.tags)))
    if article.description:
        click.echo("\n" + safe(article.description))
    click.echo("\n" + safe(article.body))
    if article.related:
        click.echo("\nRelated:")
        for link in article.related:
            click.echo(safe(f"  - {link.title} <{link.url}>"))


def _hit_dict(hit: SearchHit, article: Article | None) -> dict[str, Any]:
    data: dict[str, Any] = article.to_dict() if article else {"id": hit.id, "url": hit.url, "headline": hit.headline}
    data["score"] = hit.score
    data["snippet"] = render_marks(hit.snippet, color=False)
    return data


@cli.command("search")
@click.argument("query", required=False, default="")
@date_range_options
@click.option(
    "--sort", type=click.Choice(["relevance", "newest", "oldest"]), help="Default: relevance, or newest with no query."
)
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Hits per page.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True, help="Which page of hits.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as one JSON array of full articles.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON article per line.")
@click.pass_obj
def search_command(
    ctx: Context,
    query: str,
    date_from: datetime | None,
    date_to: datetime | None,
    sort: str | None,
    limit: int,
    page: int,
    as_json: bool,
    as_jsonl: bool,
) -> None:
    """Search the archive by keyword and publication date.

    \b
    Examples:
      newsarchive search "crimea blinken" --from 2023-02 --to 2023-02
      newsarchive search 'tags:"antony blinken"' --sort newest --json
      newsarchive search --from 2024 --to 2024 -n 50     (everything of 2024)

    Every word must match (in headline, description, body, byline or tags);
    use OR, NOT, "phrases" and field:value as in Whoosh's query language.
    Dates are inclusive and in UTC.
    """
    if as_json and as_jsonl:
        raise UsageError("use just one of --json or --jsonl")
    if date_from and date_to and date_from > date_to:
        raise UsageError("--from is after --to", hint="swap the two dates")
    archive = ctx.archive()
    if not archive.exists():
        raise UsageError(f"no archive at {archive.root}", hint="fetch or import something first (see --help)")
    ix = open_index(archive.index_dir)
    try:
        results = search(
            ix, SearchRequest(text=query, date_from=date_from, date_to=date_to, sort=sort, limit=limit, page=page)  # type: ignore[arg-type]
        )
    finally:
        ix.close()
    if as_json or as_jsonl:
        with archive:
            articles = archive.store.get_many([h.id for h in results.hits])
            items = (_hit_dict(h, articles.get(h.id)) for h in results.hits)
            (stream_json_array if as_json else stream_jsonl)(items)
        return
    if not results.hits:
        click.echo("No articles match." if results.total == 0 else f"No hits on page {page}.", err=True)
        raise SystemExit(1)
    color = use_color()
    for hit in results.hits:
        date = hit.published.strftime("%Y-%m-%d") if hit.published else "----------"
        title = safe(hit.headline)
        click.echo(f"{date}  {click.style(title, bold=True) if color else title}  [{safe(hit.site)}]")
        click.echo(f"    {safe(hit.url)}")
        click.echo(f"    {render_marks(hit.snippet, color=color)}\n")
    shown = f"{(results.page - 1) * limit + 1}-{(results.page - 1) * limit + len(results.hits)}"
    if not ctx.quiet:
        click.echo(f"{shown} of {results.total} articles (page {results.page} of {results.pages})", err=True)


@cli.command("show")
@click.argument("key", metavar="URL-OR-ID")
@click.option("--json", "as_json", is_flag=True, help="Print the full Article JSON.")
@click.option("--raw", "as_raw", is_flag=True, help="Print the archived page, byte for byte, from its WARC file.")
@click.option("--history", is_flag=True, help="With --json: include earlier versions of the article.")
@click.pass_obj
def show_command(ctx: Context, key: str, as_json: bool, as_raw: bool, history: bool) -> None:
    """Show one archived article, by its id or any of its URLs.

    \b
    Examples:
      newsarchive show 3f1c2a9b0d4e5f67
      newsarchive show https://english.almayadeen.net/news/politics/... --json
    """
    archive = ctx.archive()
    if not archive.exists():
        raise UsageError(f"no archive at {archive.root}", hint="fetch or import something first")
    with archive:
        article = archive.store.get(key.strip())
        if article is None:
            raise UsageError(f"no article {key!r} in the archive", hint="find it with: newsarchive search WORDS")
        if as_raw:
            row = archive.store.capture_for_article(article.id)
            if row is None:
                raise UsageError(f"no archived page for {key!r}")
            sys.stdout.buffer.write(archive.raw_for(row).body)
            return
        if as_json:
            data = article.to_dict()
            if history:
                data["history"] = [v.to_dict() for v in archive.store.versions(article.id)]
            click.echo(__import__("json").dumps(data, ensure_ascii=False, indent=2))
            return
    print_article(article)


@cli.command("export")
@click.option("--json", "fmt", flag_value="json", default=True, help="One JSON array (the default).")
@click.option("--jsonl", "fmt", flag_value="jsonl", help="One JSON article per line (best for big archives).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", atomic=True), default="-", help="File to write.")
@click.pass_obj
def export_command(ctx: Context, fmt: str, output: Any) -> None:
    """Export every stored article as JSON (docs/article-json.md), newest first.

    \b
    Examples:
      newsarchive export --jsonl > all.jsonl
      newsarchive export -o archive.json

    Streams: memory stays flat however large the archive.
    """
    archive = ctx.archive()
    if not archive.exists():
        raise UsageError(f"no archive at {archive.root}", hint="fetch or import something first")
    with archive:
        items = (a.to_dict() for a in archive.store.iter_articles())
        stdout = sys.stdout
        sys.stdout = output
        try:
            (stream_json_array if fmt == "json" else stream_jsonl)(items)
        finally:
            sys.stdout = stdout
