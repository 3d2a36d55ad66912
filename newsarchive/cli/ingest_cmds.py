"""`newsarchive ingest` (what cron runs) and `newsarchive sources` (what it runs over)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from logging.handlers import RotatingFileHandler
from pathlib import Path

import click

from newsarchive.cli import cli
from newsarchive.cli._context import Context, safe, to_json
from newsarchive.cli._progress import Progress
from newsarchive.errors import EXIT_OK, EXIT_PARTIAL, FetchError, NewsArchiveError, UsageError
from newsarchive.sources import CONFIG_NAME, check_parsers, load_config, save_sources


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2023-01-01") from None


@contextmanager
def _run_log(path: Path) -> Iterator[None]:
    """Append the run's INFO-level log to <archive>/ingest.log (rotated at 5 MB), whatever -q says."""
    handler = RotatingFileHandler(path, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("newsarchive")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    except BaseException as exc:
        # A run that fails (the store's server gone, a full disk) or is interrupted says so in the log too,
        # not only on stderr; into the file alone (stderr gets the error line from the command).
        if isinstance(exc, KeyboardInterrupt):
            what = "interrupted"
        elif isinstance(exc, NewsArchiveError):
            what = f"failed: {exc.message}"
        else:
            what = f"failed: internal error ({type(exc).__name__})"
        handler.handle(logger.makeRecord("newsarchive.ingest", logging.ERROR, __file__, 0, "run %s", (what,), None))
        raise
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()


@cli.command("ingest")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Sources file (default: <archive>/{CONFIG_NAME}, else built-in).",
)
@click.option("--source", "source_names", multiple=True, metavar="NAME", help="Only this source (repeatable).")
@click.option(
    "--since", callback=_day, metavar="YYYY-MM-DD", help="Backfill: archive articles published since this day."
)
@click.option("--until", callback=_day, metavar="YYYY-MM-DD", help="Backfill: ... and up to this day.")
@click.option("--max-pages", type=click.IntRange(0, 1_000_000), help="At most this many article pages per source.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's counts as one JSON object.")
@click.pass_obj
def ingest_command(
    ctx: Context,
    config: Path | None,
    source_names: tuple[str, ...],
    since: date | None,
    until: date | None,
    max_pages: int | None,
    as_json: bool,
) -> None:
    """Find and archive the new articles of every configured source (run it from cron).

    \b
    Examples:
      newsarchive ingest                          # all sources, new articles only
      newsarchive ingest -q --wait                # cron: silent unless something failed
      newsarchive ingest --since 2023-01-01 --until 2023-12-31   # backfill a year
      newsarchive ingest --source almayadeen-en --json
      newsarchive --store postgresql://news@db.example.org/news --warc s3://news-warc/archive ingest -q

    Sources come from <archive>/sources.toml (see `newsarchive sources`), else
    the built-in defaults (Al Mayadeen English). Feeds and sitemaps are read with
    conditional GETs; an archived, unchanged article is not fetched again.
    robots.txt is obeyed and one host gets one request at a time, spaced by the
    configured delay. A killed run is resumed by the next one.

    Exit status: 0 all ok, 1 some pages or sources failed, 2 usage error,
    75 another run holds the archive. On a PostgreSQL store (--store) several
    ingest runs, on one machine or many, share the work instead
    (docs/scale-out.md).
    """
    from newsarchive.ingest import Ingest, IngestOptions

    if since and until and since > until:
        raise UsageError("--since is after --until", hint="swap the two dates")
    archive = ctx.archive()
    archive.ensure()
    cfg = load_config(archive.root, config)
    # On a PostgreSQL store, several workers (on one machine or many) cooperate through the database
    # (store/pg_frontier.py): no run lock, where SQLite lets one run at a time write the archive.
    with (
        nullcontext() if archive.store_spec.is_postgres else archive.lock(wait=ctx.wait),
        archive,
        _run_log(archive.root / "ingest.log"),
        Progress("ingest", quiet=ctx.quiet or as_json) as bar,
    ):
        report = Ingest(archive, cfg, on_progress=bar.event).run(
            IngestOptions(since=since, until=until, sources=source_names, max_pages=max_pages)
        )
        logging.getLogger("newsarchive.ingest").info("run finished: %s", json.dumps(report.as_dict()))
    if as_json:
        extra = {"sources": report.sources_dict(), "errors": report.errors}
        extra |= {"hints": report.hints, "notes": report.notes}
        click.echo(to_json({**report.as_dict(), **extra}))
    else:
        failed = report.failed or report.errors
        for error in report.errors[:50]:
            click.echo(f"warning: {safe(error)}", err=True)
        if len(report.errors) > 50:
            click.echo(f"warning: ... and {len(report.errors) - 50} more (see the log with -v)", err=True)
        if not ctx.quiet or failed:
            # A hint can come with no error (a listed URL on a non-public address, refused: exit 0): under -q
            # (cron, which mails any output) it is said only when something is wrong too.
            for hint in report.hints:
                click.echo(f"Hint: {safe(hint)}", err=True)
        if not ctx.quiet:
            for note in report.notes:
                click.echo(f"note: {safe(note)}", err=True)
        if not ctx.quiet or failed:
            parts = ", ".join(f"{v} {k.replace('_', '-')}" for k, v in report.as_dict().items())
            click.echo(f"ingest: {parts}", err=True)
            for line in report.source_lines():  # per source: pages not articles, articles lacking a field
                click.echo(f"ingest: {safe(line)}", err=True)
    raise SystemExit(EXIT_PARTIAL if report.failed or report.errors else EXIT_OK)


@cli.group("sources")
def sources_group() -> None:
    """List, add and remove the sources `newsarchive ingest` reads.

    \b
    Examples:
      newsarchive sources list
      newsarchive sources add https://someblog.blogspot.com/
      newsarchive sources add https://example.com/feed.xml --name example
      newsarchive sources remove example
    """


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the sources as JSON.")
@click.pass_obj
def sources_list(ctx: Context, as_json: bool) -> None:
    """List the configured sources."""
    archive = ctx.reader()
    cfg = load_config(archive.root)
    check_parsers(cfg.sources)  # a source ingest would refuse is not listed as if it were fine
    if as_json:
        click.echo(to_json([s.to_toml() for s in cfg.sources], indent=2))
        return
    where = cfg.path or "built-in defaults (no sources.toml yet)"
    click.echo(f"# {where}")
    for s in cfg.sources:
        click.echo(f"{s.name}\t{s.parser or 'auto'}\t{' '.join(s.start)}")
    if not cfg.sources:
        click.echo(f"no sources in {where}: add one with `newsarchive sources add URL`", err=True)


@sources_group.command("add")
@click.argument("url")
@click.option("--name", help="Name of the source (default: derived from the site).")
@click.option("--parser", "parser_name", metavar="NAME", help="Force a parser by name.")
@click.pass_obj
def sources_add(ctx: Context, url: str, name: str | None, parser_name: str | None) -> None:
    """Add a source: a site, a Blogger blog, a feed or a sitemap; its kind is detected.

    The URL is read politely (robots.txt, the configured User-Agent and delay).
    A new source never replaces another: a derived name that is taken gets the
    site section or a number (example.com-sport, example.com-2); a --name that
    is taken is refused.
    """
    from newsarchive.discover.detect import detect_source
    from newsarchive.fetch.polite import PoliteFetcher, RobotsRefused
    from newsarchive.fetch.urls import InvalidURL, to_uri
    from newsarchive.parse.registry import parser_by_name
    from newsarchive.sources import Source, unique_name, validate_name

    if "://" not in url:
        url = "https://" + url
    try:
        url = to_uri(url)
    except InvalidURL as exc:
        raise UsageError(str(exc), hint="give an http(s) address of a site, feed or sitemap") from None
    if name is not None and (problem := validate_name(name)):
        raise UsageError(f"--name: {problem}")
    if parser_name is not None:
        parser_by_name(parser_name)
    archive = ctx.archive()
    archive.ensure()
    cfg = load_config(archive.root)
    taken = {s.name for s in cfg.sources}
    if name is not None and name in taken:
        raise UsageError(f"a source named {name!r} exists", hint="choose another --name, or `sources remove` it first")
    with PoliteFetcher(cfg.settings) as fetcher:
        try:
            raw = fetcher.fetch(url)
        except RobotsRefused as exc:
            raise UsageError(exc.message, hint="the site asks robots not to read this address") from None
        except FetchError as exc:
            raise UsageError(
                f"cannot read {url}: {exc.message}", hint=exc.hint or "check the address, or try again later"
            ) from exc
    if raw.status >= 400:
        raise UsageError(f"{url} answered HTTP {raw.status}", hint="check the address")
    guess = detect_source(raw.body, raw.final_url, raw.content_type)
    start = tuple(guess.start_urls)
    same = next((s for s in cfg.sources if s.start == start), None)
    if same is not None and name is None:
        if not ctx.quiet:
            click.echo(f"already a source: {same.name} ({' '.join(same.start)}); nothing changed", err=True)
        return
    source = Source(
        name=name or unique_name(guess.name, raw.final_url, taken),
        start=start,
        parser=parser_name or guess.parser,
    )
    save_sources(archive.root / CONFIG_NAME, cfg.settings, (*cfg.sources, source))
    if not ctx.quiet:
        renamed = f" (the name {guess.name!r} is taken)" if name is None and source.name != guess.name else ""
        click.echo(f"added {source.name} ({guess.kind}): {' '.join(source.start)}{renamed}", err=True)


@sources_group.command("remove")
@click.argument("name")
@click.pass_obj
def sources_remove(ctx: Context, name: str) -> None:
    """Remove a source by name (its archived articles stay)."""
    archive = ctx.archive()
    cfg = load_config(archive.root)
    cfg.named((name,))
    save_sources(archive.root / CONFIG_NAME, cfg.settings, tuple(s for s in cfg.sources if s.name != name))
    if not ctx.quiet:
        click.echo(f"removed {name}", err=True)
