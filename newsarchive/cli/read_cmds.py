"""Commands that read the archive: search, show, export, stats."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsarchive.archive_dir import ArchiveDir
from newsarchive.article import Article, without_surrogates
from newsarchive.cli import cli
from newsarchive.cli._context import (
    Context,
    render_marks,
    safe,
    stream_json_array,
    stream_jsonl,
    to_json,
    use_color,
)
from newsarchive.cli._options import filter_options, request_from, resolve_sites
from newsarchive.errors import ArchiveError, UsageError

if TYPE_CHECKING:
    from newsarchive.search import SearchHit, SearchResults
    from newsarchive.store.articles import ArticleStore


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


def _open_for_reading(ctx: Context) -> ArchiveDir:
    archive = ctx.reader()
    archive.require(hint="fetch or import something first (see --help)")
    return archive


#: --page and --offset bounds: far past any archive, and (page - 1) * limit stays a 64-bit SQLite integer
#: (--page 99999999999999999999 was an OverflowError, exit 70).
MAX_PAGE = 1_000_000_000
MAX_OFFSET = MAX_PAGE * 10_000


@cli.command("search")
@click.argument("query", required=False, default="")
@filter_options
@click.option(
    "--sort", type=click.Choice(["relevance", "newest", "oldest"]), help="Default: relevance, or newest with no query."
)
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Hits per page.")
@click.option("--page", type=click.IntRange(1, MAX_PAGE), default=1, show_default=True, help="Which page of hits.")
@click.option("--offset", type=click.IntRange(0, MAX_OFFSET), help="Skip this many hits (instead of --page).")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as one JSON array of full articles.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON article per line.")
@click.option("--facets", is_flag=True, help="Also count the matches by site, tag, language and month.")
@click.option("--histogram", is_flag=True, help="Print a per-month bar chart of the matching articles.")
@click.pass_obj
def search_command(
    ctx: Context, /, as_json: bool, as_jsonl: bool, facets: bool, histogram: bool, **params: Any
) -> None:
    """Search the archive by keyword, publication date, site, tag, author, language and section.

    \b
    Examples:
      newsarchive search "crimea blinken" --from 2023-02 --to 2023-02
      newsarchive search 'ukraine published:[2023-03 TO]' --source almayadeen-en
      newsarchive search 'tags:"antony blinken"' --sort newest --json
      newsarchive search 'headline:grain OR "black sea"' --site news.example.com --lang en
      newsarchive search 'ukrain* NOT crimea' --tag Nato --facets
      newsarchive search 'blinkin~ OR "black sea"' -n 5
      newsarchive search --from 2024 --to 2024 -n 50 --histogram   # everything of 2024

    \b
    Every word must match (in headline, description, body, byline or tags;
    the headline counts double). Query language (Whoosh): AND, OR, NOT,
    "exact phrases", field:value (headline: description: body: byline:
    tags: site: lang: section:), published:2023-02 or
    published:[2023-02-01 TO 2023-03] (the dates --from/--to take; open
    ends allowed), wildcards (crim*), fuzzy terms (kiev~).
    English and Spanish words are stemmed and their stop words ignored
    (in articles of that language); Arabic spelling variants match.
    --site takes a host as hits show it, --source a name of `sources list`.
    Dates are inclusive, in UTC unless --tz says otherwise.
    At most 100 words per query.
    Exit status: 0 hits found, 1 no hits, 2 usage error.
    """
    _refuse_together(
        ("--json", as_json, "--jsonl", as_jsonl, "they are two output formats: pick one"),
        ("--jsonl", as_jsonl, "--facets", facets, "JSON Lines has no place for counts: use --json --facets"),
        ("--jsonl", as_jsonl, "--histogram", histogram, "the histogram is text: use --json --facets for the counts"),
        ("--json", as_json, "--histogram", histogram, "the histogram is text: use --json --facets for the counts"),
        ("--page", _given("page"), "--offset", _given("offset"), "--offset replaces --page: give one"),
    )
    req = request_from(
        params,
        sort=params["sort"],
        limit=params["limit"],
        page=params["page"],
        offset=params["offset"],
        facets=facets or histogram,
    )
    if params["sort"] == "relevance" and not req.has_text:  # no query, or one that writes nothing ("()")
        raise UsageError("--sort relevance needs a query", hint="without one, sort by --sort newest or oldest")
    from newsarchive.index.backend import open_backend

    archive = _open_for_reading(ctx)
    with archive:
        req = resolve_sites(req, archive, params["sources"])
    backend = open_backend(archive)  # the Whoosh index, or PostgreSQL search on a PostgreSQL store
    try:
        with archive:
            results = backend.search(req, store=archive.store)
            if as_json or as_jsonl:
                articles = archive.store.get_many([h.id for h in results.hits])
                items = (_hit_dict(h, articles.get(h.id)) for h in results.hits)
                if as_json and facets:
                    data = {"total": results.total, "hits": list(items), "facets": _facet_json(results.facets)}
                    click.echo(to_json(data))
                else:
                    (stream_json_array if as_json else stream_jsonl)(items)
                if not results.hits:
                    _say_no_hits(results, req.start)
                    raise SystemExit(1)
                return
    finally:
        backend.close()
    if not results.hits:
        _say_no_hits(results, req.start)
        raise SystemExit(1)
    color = use_color()
    for hit in results.hits:
        # The day in the --tz zone the dates were read in (an article found by --from 2024-01-01 --tz
        # Europe/Moscow is shown on that day, not on the UTC one); JSON keeps the UTC time.
        date = hit.published.astimezone(req.tz).strftime("%Y-%m-%d") if hit.published else "----------"
        title = safe(hit.headline)
        click.echo(f"{date}  {click.style(title, bold=True) if color else title}  [{safe(hit.site)}]")
        click.echo(f"    {safe(hit.url)}")
        click.echo(f"    {render_marks(hit.snippet, color=color)}\n")
    if facets:
        _print_facets(results.facets)
    if histogram:
        _print_histogram(dict(results.facets.get("month", [])), color=color)
    shown = f"{results.offset + 1}-{results.offset + len(results.hits)}"
    if not ctx.quiet:
        click.echo(f"{shown} of {results.total} articles (page {results.page} of {results.pages})", err=True)


def _given(name: str) -> bool:
    """Whether the user wrote this option (not just its default)."""
    source = click.get_current_context().get_parameter_source(name)
    return source is not None and source != click.core.ParameterSource.DEFAULT


def _refuse_together(*pairs: tuple[str, bool, str, bool, str]) -> None:
    """Options that do nothing together are a usage error (exit 2), not one of them silently ignored."""
    for first, has_first, second, has_second, why in pairs:
        if has_first and has_second:
            raise UsageError(f"{first} and {second} do not work together: use just one of them", hint=why)


def _say_no_hits(results: SearchResults, start: int) -> None:
    click.echo("No articles match." if results.total == 0 else f"No hits past hit {start}.", err=True)
    if results.suggestion:
        click.echo(f"Did you mean: {safe(results.suggestion)}", err=True)


def _facet_json(facets: dict[str, list[tuple[str, int]]]) -> dict[str, dict[str, int]]:
    return {name: dict(counts) for name, counts in facets.items()}


def _print_facets(facets: dict[str, list[tuple[str, int]]], *, top: int = 10) -> None:
    for name in ("site", "tag", "lang", "month"):
        counts = facets.get(name, [])
        counts = counts[-top:] if name == "month" else counts[:top]
        if counts:
            click.echo(f"{name}: " + ", ".join(f"{safe(k)} ({n})" for k, n in counts))


def months_between(first: str, last: str) -> list[str]:
    """Every 'YYYY-MM' from first to last, inclusive (empty months appear in the histogram)."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _print_histogram(by_month: dict[str, int], *, color: bool, width: int = 50) -> None:
    if not by_month:
        return
    months = months_between(min(by_month), max(by_month))
    peak = max(by_month.values())
    for m in months:
        n = by_month.get(m, 0)
        bar = "█" * (round(n * width / peak) if n else 0)
        if n and not bar:
            bar = "▏"
        click.echo(f"{m} {click.style(bar, fg='cyan') if color else bar} {n}")


def _get_as_fetched(store: ArticleStore, key: str) -> Article | None:
    """The article of a URL typed as an IRI (raw non-ASCII, a fragment): it is archived under its URI form."""
    from newsarchive.fetch.urls import InvalidURL, fetch_form

    if "://" not in key:
        return None
    try:
        uri = fetch_form(key)
    except InvalidURL:
        return None
    return store.get(uri) if uri != key.strip() else None


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
      newsarchive show 9570016f3b8ebc3c
      newsarchive show https://news.example.com/news/grain-deal.html --json
      newsarchive show 9570016f3b8ebc3c --raw > page.html
      newsarchive --warc s3://news-warc/archive show 9570016f3b8ebc3c --raw > page.html   # WARC files in object storage
    """
    _refuse_together(
        ("--raw", as_raw, "--json", as_json, "--raw prints the archived page, --json the article: pick one"),
        ("--raw", as_raw, "--history", history, "the earlier versions are in the article's JSON: --json --history"),
    )
    if history and not as_json:
        raise UsageError(
            "--history needs --json", hint="the earlier versions are in the JSON: show KEY --json --history"
        )
    archive = ctx.archive(writing=False)
    archive.require()
    # A command-line byte that is not UTF-8 reaches Python as a lone surrogate, which no stored id or URL holds
    # and SQLite cannot encode: looked up as U+FFFD, as on PostgreSQL and in search (never found: exit 2).
    lookup = without_surrogates(key)
    with archive:
        article = archive.store.get(lookup.strip()) or _get_as_fetched(archive.store, lookup)
        if article is None:
            shown = key if len(key) <= 200 else key[:197] + "..."  # a megabyte key is not echoed back whole
            raise UsageError(f"no article {shown!r} in the archive", hint="find it with: newsarchive search WORDS")
        if as_raw:
            row = archive.store.capture_for_article(article.id)
            if row is None:
                raise UsageError(f"no archived page for {key!r}")
            try:
                raw = archive.raw_for(row)
            except ArchiveError:
                warcs = archive.warcs
                if not warcs.remote and warcs.write_dir != warcs.legacy:
                    warcs.prepare()  # a location not there (a mount not mounted) is said so, not "WARC file missing"
                raise
            sys.stdout.buffer.write(raw.body)
            return
        if as_json:
            data = article.to_dict()
            if history:
                data["history"] = [v.to_dict() for v in archive.store.versions(article.id)]
            click.echo(to_json(data, indent=2))
            return
    print_article(article)


_FORMAT_OF_SUFFIX = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def _export_format(fmt: str, flags: dict[str, bool], output: str = "-") -> str:
    """The export's format: --json/--jsonl/--csv or --format; else the -o file's extension; else JSON."""
    chosen = [name for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise UsageError(
            f"--{chosen[0]} and --{chosen[1]} do not work together: use just one of them", hint="pick one output format"
        )
    if chosen and _given("fmt") and fmt != chosen[0]:
        raise UsageError(
            f"--format {fmt} and --{chosen[0]} do not work together: use just one of them",
            hint="pick one output format",
        )
    if chosen:
        return chosen[0]
    if not _given("fmt") and output != "-":
        return _FORMAT_OF_SUFFIX.get(Path(output).suffix.lower(), fmt)
    return fmt


@cli.command("export")
@click.argument("query", required=False, default="")
@filter_options
@click.option("--sort", type=click.Choice(["newest", "oldest"]), help="Without a query: date order (default newest).")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "jsonl", "csv"]), default="json",
    help="JSON array, JSON Lines, or CSV (lists flattened, see docs/search.md). Default: from the -o file's"
    " extension (.json, .jsonl or .ndjson, .csv), else json.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Shorthand for --format json.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Shorthand for --format jsonl (best for big archives).")
@click.option("--csv", "as_csv", is_flag=True, help="Shorthand for --format csv.")
@click.option(
    "-o", "--output", type=click.Path(allow_dash=True), default="-", metavar="FILE",
    help="File to write, whole or not at all (default: standard output).",
)  # fmt: skip
@click.option(
    "--csv-formulas", is_flag=True,
    help="CSV: keep cells that start with = + - @ as they are (by default they get a leading ' so that"
    " a spreadsheet shows them as text instead of running them).",
)  # fmt: skip
@click.pass_obj
def export_command(
    ctx: Context,
    /,
    fmt: str,
    as_json: bool,
    as_jsonl: bool,
    as_csv: bool,
    output: str,
    csv_formulas: bool,
    **params: Any,
) -> None:
    """Export articles with every field: all of them, or those a search would find.

    \b
    Examples:
      newsarchive export --jsonl > all.jsonl
      newsarchive export -o archive.json
      newsarchive export crimea --from 2023 --to 2023 --source almayadeen-en --format csv -o crimea.csv
      newsarchive export --site english.almayadeen.net --sort oldest --csv -o almayadeen.csv

    Takes the same query and filters as search. Streams: memory stays flat
    however large the archive. Without a query (and without --tag, --author
    or --section): newest first, or --sort oldest; with one: index order.
    """
    from newsarchive.cli._progress import Progress
    from newsarchive.export import atomic_output, iter_export, needs_index, write_records
    from newsarchive.index.backend import open_backend

    fmt = _export_format(fmt, {"json": as_json, "jsonl": as_jsonl, "csv": as_csv}, output)
    if csv_formulas and fmt != "csv":
        raise UsageError(
            f"--csv-formulas does nothing in a {fmt.upper()} export: it is for CSV",
            hint="JSON keeps every value as it is; for a spreadsheet add --csv",
        )
    req = request_from(params, sort=params["sort"])
    if params["sort"] and needs_index(req):
        raise UsageError(
            "--sort only orders an export without a query or --tag/--author/--section",
            hint="with them the export comes in index order: drop --sort",
        )
    archive = _open_for_reading(ctx)
    to_file = output != "-"
    with archive:
        req = resolve_sites(req, archive, params["sources"])
        ix = open_backend(archive) if needs_index(req) else None
        try:
            everything = ix is None and not (req.date_from or req.date_to or req.sites or req.langs)
            total = archive.store.count() if to_file and everything else None
            with (
                atomic_output(output) as out,
                Progress("export", total=total, quiet=ctx.quiet or not to_file, unit="article") as bar,
            ):
                records = (_tap(a.to_dict(), bar.advance) for a in iter_export(archive.store, req, ix))
                count = write_records(records, out, fmt, csv_formulas=csv_formulas)  # type: ignore[arg-type]
        finally:
            if ix is not None:
                ix.close()
    if not ctx.quiet and to_file:
        click.echo(f"{count} articles written", err=True)


def _tap(record: dict[str, Any], step: Any) -> dict[str, Any]:
    step()
    return record
