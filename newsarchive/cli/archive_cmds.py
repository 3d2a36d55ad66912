"""Commands that write the archive: fetch, import-warc, reparse, reindex."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsarchive.cli import cli
from newsarchive.cli._context import Context, progress, safe, use_color
from newsarchive.cli.ingest_cmds import finite
from newsarchive.errors import EXIT_OK, EXIT_PARTIAL, FetchError, ParseError, UsageError

if TYPE_CHECKING:  # the pipeline loads every parser: imported inside the commands that need it
    from newsarchive.pipeline import Archive, PageResult, RunCounts


def _finish(ctx: Context, counts: RunCounts, as_json: bool, label: str, hints: list[str] | None = None) -> None:
    """Print the one-line summary (or JSON) and exit 0, or 1 when something failed."""
    if as_json:
        click.echo(json.dumps({**counts.as_dict(), "errors": counts.errors}, ensure_ascii=False))
    else:
        for error in counts.errors:
            click.echo(f"warning: {safe(error)}", err=True)
        for hint in hints or ():
            click.echo(f"Hint: {safe(hint)}", err=True)
        if not ctx.quiet:
            parts = ", ".join(f"{v} {k.replace('_', '-')}" for k, v in counts.as_dict().items())
            click.echo(f"{label}: {parts}", err=True)
    raise SystemExit(EXIT_PARTIAL if counts.failed else EXIT_OK)


def _report(ctx: Context, result: PageResult) -> None:
    if ctx.verbose and result.article is not None:
        click.echo(f"{result.outcome:9} {safe(result.article.headline)}  <{result.url}>", err=True)


@cli.command("fetch")
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--parser", "parser_name", metavar="NAME", help="Force a parser by name instead of choosing by page.")
@click.option(
    "--delay", type=click.FloatRange(0, 3600), default=None, metavar="SECONDS", callback=finite,
    help="Pause between two requests to the same host (default: delay in sources.toml, 1 s).",
)  # fmt: skip
@click.option("--ignore-robots", is_flag=True, help="Fetch even what robots.txt disallows (pages you may archive).")
@click.option("--wait", type=click.FloatRange(0, 86_400), default=0.0, metavar="SECONDS", callback=finite,
              help="Wait this long for a running job to end.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_obj
def fetch_command(
    ctx: Context,
    urls: tuple[str, ...],
    parser_name: str | None,
    delay: float | None,
    ignore_robots: bool,
    wait: float,
    as_json: bool,
) -> None:
    """Fetch article pages, keep them as WARC, parse, store and index them.

    \b
    Example:
      newsarchive fetch https://english.almayadeen.net/news/politics/some-story

    Pages are fetched one at a time, as `ingest` fetches them: robots.txt is
    obeyed, the User-Agent, delay, timeout and retries are those of
    sources.toml (docs/sources.md). A URL archived before is fetched again: a
    changed article keeps its history.
    """
    from dataclasses import replace

    from newsarchive.fetch.polite import PoliteFetcher
    from newsarchive.fetch.urls import InvalidURL, to_uri
    from newsarchive.pipeline import RunCounts
    from newsarchive.sources import load_config

    try:
        targets = [to_uri(url) for url in urls]
    except InvalidURL as exc:
        raise UsageError(str(exc), hint="give absolute http(s) URLs") from None
    archive = ctx.archive()
    settings = load_config(archive.root).settings
    if delay is not None:
        settings = replace(settings, delay=delay)
    counts = RunCounts()
    hints: list[str] = []
    fetcher = PoliteFetcher(settings, obey_robots=not ignore_robots)
    with archive.lock(wait=wait), archive, progress(targets, label="fetching", quiet=ctx.quiet) as bar:
        for url in bar:
            try:
                raw = fetcher.fetch(url)
            except FetchError as exc:
                counts.failed += 1
                counts.errors.append(exc.message)
                if exc.hint and exc.hint not in hints:
                    hints.append(exc.hint)
                continue
            counts.fetched += 1
            result = archive.add_raw(raw, parser=parser_name)
            counts.add(result)
            _report(ctx, result)
        archive.sync_index()
    fetcher.close()
    _finish(ctx, counts, as_json, "fetch", hints=hints)


@cli.command("import-warc")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE...")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS", help="Wait this long for a running job to end.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_obj
def import_warc_command(ctx: Context, files: tuple[Path, ...], wait: float, as_json: bool) -> None:
    """Ingest the HTML pages of any WARC file (wget --warc-file, Common Crawl, ...).

    \b
    Example:
      wget --warc-file=site -r -l1 https://example.com/news/ && newsarchive import-warc site.warc.gz

    Every response is copied into the archive's own WARC files (so the archive
    stays self-contained), then parsed, stored and indexed. Pages captured
    before, byte for byte, are skipped.
    """
    from newsarchive.archive.warc import iter_responses
    from newsarchive.pipeline import RunCounts

    for path in files:
        if not path.exists():
            raise UsageError(f"no such file: {path}")
    archive = ctx.archive()
    counts = RunCounts()
    with archive.lock(wait=wait), archive:
        for path in files:
            with progress(iter_responses(path), label=path.name, quiet=ctx.quiet) as entries:
                for entry in entries:
                    raw = entry.raw
                    if archive.store.has_digest(raw.digest, raw.final_url):
                        counts.unchanged += 1
                        continue
                    counts.fetched += 1
                    result = archive.add_raw(raw)
                    counts.add(result)
                    _report(ctx, result)
        archive.sync_index()
    _finish(ctx, counts, as_json, "import-warc")


@cli.command("reparse")
@click.option("--diff", "show_diff", is_flag=True, help="Only show, field by field, what would change; write nothing.")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS", help="Wait this long for a running job to end.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts (or, with --diff, the changes) as JSON.")
@click.pass_obj
def reparse_command(ctx: Context, show_diff: bool, wait: float, as_json: bool) -> None:
    """Run the parsers again over every archived page (offline), then update the index.

    \b
    Examples:
      newsarchive reparse --diff        # what would a parser upgrade change?
      newsarchive reparse               # do it

    Use it after upgrading newsarchive: nothing is fetched, the WARC files are
    the only input. Changed articles keep their previous version.
    """
    from newsarchive.archive.rawpage import RawPage
    from newsarchive.pipeline import RunCounts

    archive = ctx.archive()
    if show_diff:
        with archive:
            _reparse_diff(archive, as_json)
        return
    counts = RunCounts()
    with archive.lock(wait=wait), archive:
        total = archive.store.capture_count()
        with progress(archive.iter_captured_pages(), label="reparsing", quiet=ctx.quiet, length=total) as pages:
            for row, raw in pages:
                if not isinstance(raw, RawPage):
                    counts.failed += 1
                    counts.errors.append(raw.message)
                    continue
                result = archive.reparse_capture(row, raw)
                if result.outcome in ("failed", "skipped") and not 200 <= row.status < 300:
                    continue  # an error page archived as such: nothing to reparse
                counts.add(result)
        archive.sync_index()
    _finish(ctx, counts, as_json, "reparse")


_VOLATILE = ("fetched_at", "capture", "parser", "id")


def _reparse_diff(archive: Archive, as_json: bool) -> None:
    """Print, per stored article, the fields a re-parse would change (nothing is written)."""
    from newsarchive.archive.rawpage import RawPage
    from newsarchive.parse import parse_page

    changes: list[dict[str, object]] = []
    for row, raw in archive.iter_captured_pages():
        stored = archive.store.get_by_capture(row.id)
        if stored is None or not isinstance(raw, RawPage):
            continue
        try:
            fresh = parse_page(raw.body, raw.final_url, content_type=raw.content_type).to_dict()
        except ParseError as exc:
            fresh = {"error": exc.message}
        old = stored.to_dict()
        fields = {k: (old.get(k), fresh.get(k)) for k in {*old, *fresh} if k not in _VOLATILE}
        changed = {k: {"old": a, "new": b} for k, (a, b) in sorted(fields.items()) if a != b}
        parser_change = (old.get("parser"), fresh.get("parser"))
        if changed:
            changes.append({"id": stored.id, "url": stored.canonical_url, "parser": parser_change, "changes": changed})
    if as_json:
        click.echo(json.dumps(changes, ensure_ascii=False, indent=2))
        return
    for item in changes:
        click.echo(click.style(f"{item['id']} {safe(str(item['url']))}", bold=use_color()))
        for key, pair in item["changes"].items():  # type: ignore[attr-defined]
            click.echo(f"  {key}:")
            click.echo(f"    - {safe(_short(pair['old']))}")
            click.echo(f"    + {safe(_short(pair['new']))}")
    click.echo(f"reparse --diff: {len(changes)} articles would change", err=True)


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    text = text.replace("\n", " ⏎ ")
    return text if len(text) <= 300 else text[:297] + "..."


@cli.command("reindex")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS", help="Wait this long for a running job to end.")
@click.pass_obj
def reindex_command(ctx: Context, wait: float) -> None:
    """Rebuild the search index from the article store.

    Needed only when the index is missing, damaged or from another version;
    searches keep working on the old index until the new one is swapped in.
    """
    archive = ctx.archive()
    with archive.lock(wait=wait), archive:
        count = archive.reindex()
    if not ctx.quiet:
        click.echo(f"reindex: {count} articles indexed", err=True)
