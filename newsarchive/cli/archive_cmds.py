"""Commands that write the archive: fetch, import-warc, reparse, reindex."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsarchive.cli import cli
from newsarchive.cli._context import Context, progress, safe, to_json, use_color
from newsarchive.errors import EXIT_OK, EXIT_PARTIAL, FetchError, UsageError

if TYPE_CHECKING:  # the pipeline loads every parser: imported inside the commands that need it
    from contextlib import AbstractContextManager

    from newsarchive.archive.rawpage import RawPage
    from newsarchive.archive_dir import ArchiveDir
    from newsarchive.article import Article, Capture
    from newsarchive.errors import NewsArchiveError
    from newsarchive.pipeline import Archive, PageResult, ReparseRun, RunCounts
    from newsarchive.store.articles import CaptureRow


def finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Option callback: click's FloatRange lets nan through (every comparison with nan is false)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value!r} is not a finite number")
    return value


def _finish(ctx: Context, counts: RunCounts, as_json: bool, label: str, hints: list[str] | None = None) -> None:
    """Print the one-line summary (or JSON) and exit 0, or 1 when something failed."""
    if as_json:
        click.echo(to_json({**counts.as_dict(), "errors": counts.errors}))
    else:
        for line in counts.source_lines():
            click.echo(f"{label}: {safe(line)}", err=True)
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
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_obj
def fetch_command(
    ctx: Context,
    urls: tuple[str, ...],
    parser_name: str | None,
    delay: float | None,
    ignore_robots: bool,
    as_json: bool,
) -> None:
    """Fetch article pages, keep them as WARC, parse, store and index them.

    \b
    Examples:
      newsarchive fetch https://english.almayadeen.net/news/politics/us-not-actively-encouraging-ukraine-to-retake-crimea:-report
      newsarchive --store postgresql://news@db.example.org/news --warc /mnt/archive/warc fetch https://example.com/a.html

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
    if parser_name is not None:
        from newsarchive.parse.registry import parser_by_name

        parser_by_name(parser_name)  # a mistyped name is a usage error before anything is fetched or archived
    archive = ctx.archive()
    settings = load_config(archive.root).settings
    if delay is not None:
        settings = replace(settings, delay=delay)
    counts = RunCounts()
    hints: list[str] = []
    fetcher = PoliteFetcher(settings, obey_robots=not ignore_robots)
    with archive.lock(wait=ctx.wait), archive, progress(targets, label="fetching", quiet=ctx.quiet) as bar:
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


def _size(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """A byte count: 64M, 512K, 2G or plain bytes."""
    text = value.strip().upper().removesuffix("B")
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
    try:
        number = float(text[:-1] if scale > 1 else text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size; use e.g. 64M, 512K or 2G") from None
    if number <= 0:
        raise click.BadParameter("the size must be positive")
    return int(number * scale)


_max_record_size = click.option(
    "--max-record-size", default="64M", show_default=True, callback=_size, metavar="SIZE",
    help="Refuse a WARC record whose payload inflates past this (a bomb guard); e.g. 256M.",
)  # fmt: skip


def _import_files(
    ctx: Context,
    archive: Archive,
    files: list[Path],
    counts: RunCounts,
    max_record_size: int,
    remote: Sequence[str] = (),
) -> None:
    """Two passes: Blogger feed entries first (they fill what themes hide), then the pages.

    ``remote``: files of the archive's object storage, downloaded one at a time for each pass.
    """
    archive.keep_feed_metadata(files, max_record_bytes=max_record_size)
    for name in remote:
        with archive.warcs.fetched(name) as path:
            archive.keep_feed_metadata([path], max_record_bytes=max_record_size)
    for path in files:
        _import_one(ctx, archive, path, counts, max_record_size)
    for name in remote:
        with archive.warcs.fetched(name) as path:
            _import_one(ctx, archive, path, counts, max_record_size, own_name=name)
    archive.sync_index()


def _import_one(
    ctx: Context, archive: Archive, path: Path, counts: RunCounts, max_record_size: int, own_name: str | None = None
) -> None:
    from newsarchive.cli._progress import Progress

    # Progress in bytes of the file (its size is known, the number of pages is not): a rate and an estimate.
    size = path.stat().st_size or None
    name = own_name or path.name
    if len(name) > 24:  # the counts, rate and estimate must fit an 80-column line
        name = name[:10] + "…" + name[-13:]
    before = counts.fetched + counts.unchanged  # the pages of the files before this one
    with Progress(name, total=size, quiet=ctx.quiet, unit="B", scaled=True) as bar:
        results = archive.import_warc(
            path, counts, max_record_bytes=max_record_size, own_name=own_name, on_position=bar.advance_to
        )
        for result in results:
            if result is not None:
                _report(ctx, result)
            pages = counts.fetched + counts.unchanged - before
            bar.note(f"{pages} page{'s' * (pages != 1)}" + f", {counts.failed} failed" * bool(counts.failed))
        bar.advance_to(size or 0)


@cli.command("import-warc")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE...")
@_max_record_size
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_obj
def import_warc_command(ctx: Context, files: tuple[Path, ...], max_record_size: int, as_json: bool) -> None:
    """Ingest the HTML pages of any WARC file (wget --warc-file, Common Crawl, ...).

    \b
    Examples:
      wget --warc-file=site -r -l1 https://example.com/news/ && newsarchive import-warc site.warc.gz
      newsarchive --warc s3://news-warc/archive import-warc site.warc.gz   # the pages go to object storage

    Only HTML responses are pages: 2xx, typed text/html or application/xhtml+xml
    (or untyped and looking like HTML). Everything else (warcinfo, request,
    metadata and log records, images, CSS, redirects, errors) is counted as
    skipped. Pages are copied into the archive's own WARC files, then parsed,
    stored and indexed; pages captured before, byte for byte, are left out.
    The archive's own warc/ files are indexed in place (see: store rebuild).
    A damaged or cut-short record is reported and counted as failed.
    """
    from newsarchive.archive.warc import iter_records
    from newsarchive.errors import ArchiveError
    from newsarchive.pipeline import RunCounts

    for path in files:
        if not path.exists():
            raise UsageError(f"no such file: {path}")
    archive = ctx.archive()
    counts = RunCounts()
    readable: list[Path] = []
    for path in files:
        try:
            next(iter_records(path), None)  # refuses what is not WARC at all, before anything is written
        except ArchiveError as exc:
            counts.failed += 1
            counts.errors.append(exc.message)
            continue
        readable.append(path)
    if counts.failed and not readable:
        raise ArchiveError(counts.errors[0])
    with archive.lock(wait=ctx.wait), archive:
        _import_files(ctx, archive, readable, counts, max_record_size)
    _finish(ctx, counts, as_json, "import-warc")


@cli.group("store")
def store_group() -> None:
    """Look after the article store: rebuild it from WARC files, copy it to PostgreSQL.

    \b
    Examples:
      newsarchive store rebuild      # store.sqlite lost or damaged: rebuild it from warc/
      newsarchive store migrate --to postgresql://news@db.example.org/news
    """


@store_group.command("rebuild")
@_max_record_size
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_obj
def store_rebuild_command(ctx: Context, max_record_size: int, as_json: bool) -> None:
    """Rebuild the article store from the archive's own WARC files, in place.

    \b
    Example:
      newsarchive store rebuild && newsarchive reindex   # after moving a damaged store.sqlite away
      newsarchive --warc s3://news-warc/archive store rebuild   # from the WARC files in object storage

    Every record of the WARC location (warc/, another directory, or object
    storage, whose files are downloaded one at a time) is read where it is:
    captures point at the existing files and offsets, nothing is copied or
    appended, and the files are not changed. Archived Blogger feeds fill the dates, labels and authors their
    themes hide, as ingest did. Records already in the store are left as they
    are, so running it on a store that is still there adds only what it lacks.
    The crawl state (what ingest already fetched) is not in the WARC files:
    the next ingest reads feeds and sitemaps in full once.
    """
    from newsarchive.pipeline import RunCounts

    archive = ctx.archive()
    counts = RunCounts()
    with archive.lock(wait=ctx.wait), archive:
        remote = archive.remote_warc_names()
        _import_files(ctx, archive, archive.own_warc_files(), counts, max_record_size, remote)
    _finish(ctx, counts, as_json, "store rebuild")


@store_group.command("migrate")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The store to copy into: postgresql://USER@HOST/DB or sqlite:PATH.",
)
@click.option("--force", is_flag=True, help="Replace what the target store holds (refused by default).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows copied per table as JSON.")
@click.pass_obj
def store_migrate_command(ctx: Context, target: str, force: bool, as_json: bool) -> None:
    """Copy the whole article store to another store: SQLite to PostgreSQL, or back.

    \b
    Examples:
      newsarchive store migrate --to postgresql://news@db.example.org/news
      newsarchive --store postgresql://news@db.example.org/news store migrate --to sqlite:/backup/store.sqlite
      newsarchive store migrate --to sqlite:copy.sqlite     # a copy in one file

    Copies every table, row for row: captures, articles and their earlier
    versions, not-article verdicts, the per-source run log, the index queue,
    and the crawl state (frontier, feed and sitemap validators, feed
    metadata, ingest runs). The source is the archive's store (--store,
    $NEWSARCHIVE_STORE, or [settings] store in sources.toml; else its
    store.sqlite) and is only read. The target is written in one
    transaction (rows go to PostgreSQL with COPY), so a failure leaves it
    as it was; a target that already holds rows is refused unless --force
    is given, which replaces them. Runs writing to the archive on this
    machine wait (or are refused, exit 75) until the copy is done; stop
    ingest on other machines first.

    WARC files and the Whoosh index stay where they are; a postgresql://
    target gets its search tables built from the articles. To use the new
    store from then on, pass it as --store, set $NEWSARCHIVE_STORE, or put
    store = "URL" under [settings] in the archive's sources.toml
    (docs/scale-out.md). A database for a postgresql:// target must exist
    (createdb NAME); the tables are created.
    """
    from newsarchive.store.backend import parse_store_spec
    from newsarchive.store.migrate import Snapshot, migrate, open_target, same_database, source_side, store_errors

    spec = parse_store_spec(target, what="--to")
    if spec.path is not None and not spec.path.parent.is_dir():
        raise UsageError(
            f"--to: the directory {spec.path.parent} does not exist",
            hint=f"create it first: mkdir -p {spec.path.parent}",
        )
    if spec.path is not None and spec.path.is_dir():
        raise UsageError(f"--to: {spec.path} is a directory", hint=f"name a file: sqlite:{spec.path / 'store.sqlite'}")
    if spec.path is not None and not _is_sqlite_or_empty(spec.path):
        # Not "the article store is damaged" (the archive's own store's message): a wrong file was named.
        raise UsageError(
            f"--to: {spec.path} is not a SQLite database", hint="name a new file, or a store made by newsarchive"
        )
    archive = ctx.reader()
    archive.require(hint="fetch, ingest or import something first")
    source_spec = archive.store_spec
    if spec == source_spec or (
        spec.path is not None and source_spec.path is not None and spec.path.resolve() == source_spec.path.resolve()
    ):
        raise UsageError(f"--to names the archive's own store ({spec.describe()})", hint="choose another store")
    with _writers_held_off(ctx, archive), archive, store_errors(spec, source_spec):
        source = source_side(archive.store)
        side, close = open_target(spec)
        try:
            if same_database(source, side):
                raise UsageError(
                    f"--to names the archive's own store ({spec.describe()}, the database of {source_spec.describe()})",
                    hint="choose another database",
                )
            with Snapshot(source):
                result = migrate(source, side, force=force)
        finally:
            close()
        if spec.is_postgres:  # search answers from the new store at once (docs/scale-out.md, search)
            from newsarchive.index.pg_search import load_search_tables

            assert spec.url is not None
            load_search_tables(spec.url, archive.store.iter_articles(order="id"))
    if as_json:
        click.echo(to_json({"to": spec.describe(), "rows": result.rows, "dropped_columns": result.dropped}))
        return
    for table, columns in result.dropped.items():
        if not result.rows.get(table):
            continue  # no row of that table, nothing lost (a store no worker has used)
        click.echo(f"warning: {table}: {', '.join(columns)} not copied (the target store has no such column)", err=True)
    if not ctx.quiet:
        rows = result.rows
        click.echo(
            f"store migrate: {rows.get('articles', 0)} articles, {rows.get('article_versions', 0)} earlier versions,"
            f" {rows.get('captures', 0)} captures, {rows.get('frontier', 0)} frontier URLs copied to"
            f" {safe(spec.describe())} ({sum(rows.values())} rows in {len(rows)} tables)",
            err=True,
        )
        shown = target.strip() if spec.path is not None else spec.describe()
        click.echo(f"Hint: use it with --store {safe(shown)} (or $NEWSARCHIVE_STORE)", err=True)


def _writers_held_off(ctx: Context, archive: ArchiveDir) -> AbstractContextManager[object]:
    """The archive's run lock while the store is copied (no ingest on this machine meanwhile); none on a
    read-only archive, which nothing writes."""
    from contextlib import nullcontext

    from newsarchive.cli._context import archive_is_read_only
    from newsarchive.runlock import RunLock

    if not archive.root.is_dir() or archive_is_read_only(archive.root):
        return nullcontext()
    return RunLock(archive.root / "lock", wait=ctx.wait)


@cli.command("reparse")
@click.option("--diff", "show_diff", is_flag=True, help="Only show, field by field, what would change; write nothing.")
@click.option(
    "--changed", "only_changed", is_flag=True,
    help="Only pages whose parser (of the article, or of the not-an-article verdict) has a new version.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the counts (or, with --diff, the changes) as JSON.")
@click.pass_obj
def reparse_command(ctx: Context, show_diff: bool, only_changed: bool, as_json: bool) -> None:
    """Run the parsers again over every archived page (offline), then update the index.

    \b
    Examples:
      newsarchive reparse --diff        # what would a parser upgrade change?
      newsarchive reparse               # do it
      newsarchive reparse --changed     # only pages whose parser has a new version
      newsarchive --store postgresql://news@db.example.org/news --warc s3://news-warc/archive reparse

    Pages judged not to be articles stay in the WARC files with the parser
    (name and version) that judged them, so --changed parses them again once
    that parser has a new version.

    Use it after upgrading newsarchive: nothing is fetched, the WARC files are
    the only input. Changed articles keep their previous version.

    Afterwards the store holds what parsing each page afresh gives. When a
    page's canonical URL (its article's key) is now another, its article is
    stored under the new URL and the one under the old URL is removed from the
    store, the search index and exports, once every page is stored (a run
    killed before that leaves it; the next reparse removes it). Its text and
    earlier versions become earlier versions of the new article (show --json
    --history). Where another page still gives the old URL, the newest such
    page's article takes the old one's place instead (with --changed, pages
    whose parse is on record nowhere are parsed to find it); where such a page
    cannot be read, the old article stays, with a warning.

    --diff writes nothing: each page goes through the very steps reparse takes
    before it stores (so an untrusted canonical URL is dropped there too), and
    its article is matched by key (canonical URL) as reparse matches it. The
    report lists each article reparse would change, field by field:

    \b
      ID URL                      its fields would change
      moved OLD-URL -> URL (ID)   the page's article gets another key (URL): it is
                                  stored there and OLD-URL's is removed (or, with
                                  "; OLD-URL stays ...", another page gives it)
      added URL (ID)              a page stored with no article (an older parser
                                  failed on it or declined it) would give one
      removed URL (ID): ...       an article removed that no "moved" names (its
                                  page's article goes to a key that has one)

    A page the parser now fails on or declines keeps its stored article, as in
    reparse. A page reparse could not read or parse is warned of, with exit
    status 1, as reparse does; otherwise the status is 0, changes or not.
    Under -q the report and the warnings are printed, the summary line is not.
    """
    from newsarchive.pipeline import ReparseCounts, ReparseRun

    archive = ctx.archive(writing=not show_diff)
    archive.require(hint="check --archive (or $NEWSARCHIVE_HOME); fetch or import something first")
    counts = ReparseCounts()
    run = ReparseRun(every_page=not only_changed)
    if show_diff:
        with archive:
            changes = _reparse_diff(archive, counts, run)
        _finish_diff(ctx, changes, counts, as_json)
    with archive.lock(wait=ctx.wait), archive:
        total = archive.store.capture_count()
        pages_iter = archive.iter_captured_pages(only_changed=only_changed)
        with progress(pages_iter, label="reparsing", quiet=ctx.quiet, length=total) as pages:
            for _, result in _reparsed(archive, pages, counts, run, store=True):
                counts.add(result)
        # Only once every page's article is stored: a run killed before leaves the old article, never none.
        counts.removed, kept = archive.settle_stale(run)
        counts.errors.extend(kept)
        archive.sync_index()
    _finish(ctx, counts, as_json, "reparse")


def _reparsed(
    archive: Archive,
    pages: Iterable[tuple[CaptureRow, RawPage | NewsArchiveError]],
    counts: RunCounts,
    run: ReparseRun,
    *,
    store: bool,
) -> Iterator[tuple[CaptureRow, PageResult]]:
    """Each captured page re-parsed (``store``: and stored, as reparse does; else only parsed, for --diff).

    A capture whose page cannot be read (its WARC file missing or damaged) is counted as failed, with its error;
    an error page archived as such has nothing to reparse and is left out. ``run`` notes the pages read and not
    read (and, with ``store``, what each gives).
    """
    from newsarchive.archive.rawpage import RawPage

    for row, raw in pages:
        if not isinstance(raw, RawPage):
            run.unread.add(row.id)
            counts.failed += 1
            counts.errors.append(raw.message)
            continue
        run.parsed(row.id)
        result = archive.reparse_capture(row, raw, run) if store else archive.parse_capture(raw, row).result
        if result.outcome in ("failed", "skipped") and not 200 <= row.status < 300:
            continue  # an error page archived as such: nothing to reparse
        yield row, result


_VOLATILE = ("fetched_at", "capture", "parser", "id")


def _reparse_diff(archive: Archive, counts: RunCounts, run: ReparseRun) -> list[dict[str, object]]:
    """What reparse would do to the stored articles, page by page (nothing is written); ``counts``: its failures.

    Each page goes through the very steps reparse takes before it writes (Archive.parse_capture), and its
    article is matched as the store's upsert matches it, by its key (canonical URL): under a key no article
    has, reparse adds one (``added``, or ``moved`` when the page's article was stored under another key);
    under a key an article has, reparse replaces that article's fields (``changed``, or ``moved`` when that
    article came from another page), unless the page was captured before it (its history only). A page the
    parser now fails on or declines keeps its stored article (a warning, as reparse gives). What reparse writes
    for one page is what the next one is matched against (two pages of one canonical URL), so the report is
    reparse's, page by page. Then the articles reparse leaves stale, their page giving another key now, are
    settled as reparse settles them (``_settle_diff``).
    """
    from newsarchive.store.articles import capture_of

    entries: dict[str, dict[str, object]] = {}
    olds: dict[str, dict[str, object]] = {}  # by article id: the fields each entry's changes are against
    written: dict[str, Article] = {}  # by article id: what reparse would have stored so far
    written_capture: dict[str, int] = {}  # by article id: the page of what reparse would have stored
    stored_capture: dict[str, Capture | None] = {}  # by article id: its stored article's page, before the run
    shared = archive.store.shared_captures()
    pages = archive.iter_captured_pages(only_changed=not run.every_page)
    for row, result in _reparsed(archive, pages, counts, run, store=False):
        counts.add(result)  # failed and not-article pages: the warnings reparse gives
        fresh = result.article if result.outcome == "parsed" else None
        if fresh is None:
            continue  # failed, not an article, an agreeing copy of another site's article: nothing stored
        stored = None
        if fresh.id not in written:
            stored = archive.store.get_many([fresh.id]).get(fresh.id)
            stored_capture[fresh.id] = stored.capture if stored is not None else None
        current = written.get(fresh.id) or stored
        older = current is not None and _captured_before(fresh, current)
        # The other articles this page is the current page of (reparse asks the store after it wrote the page's).
        if row.id not in shared and stored_capture[fresh.id] == capture_of(row):
            others: list[str] = []  # the key's stored article is this page's, and no other is: no look-up
        else:
            others = [i for i, _ in archive.store.articles_of_capture(row.id) if i != fresh.id]
        others = [i for i in others if written_capture.get(i, row.id) == row.id]  # not replaced by a page before
        run.gives(row, fresh, others if older else [fresh.id, *others])
        if older:
            continue  # reparse files it in the article's history; the article stays as it is
        entry = entries.get(fresh.id)
        if entry is None:
            action = "added" if stored is None else "changed"
            entry = entries[fresh.id] = {"action": action, "id": fresh.id, "url": fresh.canonical_url}
            olds[fresh.id] = stored.to_dict() if stored is not None else {}
        if others and "from" not in entry and (current is None or current.capture != fresh.capture):
            before = archive.store.get_many(others[:1])[others[0]]  # the page's article until now
            entry["action"] = "moved"
            entry["from"] = {"id": before.id, "url": before.canonical_url, "removed": False}
            if not olds[fresh.id]:  # nothing under the new key: compared with the page's article until now
                olds[fresh.id] = before.to_dict()
        written[fresh.id] = fresh
        written_capture[fresh.id] = row.id
        new = fresh.to_dict()
        entry["parser"] = (olds[fresh.id].get("parser"), new["parser"])
        entry["changes"] = _field_changes(olds[fresh.id], new)
    _settle_diff(archive, run, entries, written_capture, counts)
    return [e for e in entries.values() if e["action"] != "changed" or e["changes"]]


def _settle_diff(
    archive: Archive,
    run: ReparseRun,
    entries: dict[str, dict[str, object]],
    written_capture: dict[str, int],
    counts: RunCounts,
) -> None:
    """The end of the report: what reparse does to the articles it leaves stale (Archive.stale_articles). One it
    takes away is ``removed``: in the ``moved`` entry that names it (its ``from``), else an entry of its own; one
    another page's article replaces is ``changed``; one kept (pages that could not be read) gives reparse's warning.
    """

    def current_capture(article_id: str) -> int | None:
        return written_capture.get(article_id, run.moved[article_id][0])  # else its stored page: the moved one

    for item in archive.stale_articles(run, current_capture):
        old, was = item.old, item.old.to_dict()
        if item.kept is not None:
            counts.errors.append(item.kept)
        elif item.successor is not None:
            new = item.successor[1].to_dict()
            entries[old.id] = {
                "action": "changed", "id": old.id, "url": old.canonical_url, "parser": (was["parser"], new["parser"]),
                "changes": _field_changes(was, new),
            }  # fmt: skip
        else:
            named: list[dict[str, object]] = [
                e["from"]  # type: ignore[misc]
                for e in entries.values()
                if e["action"] == "moved" and e["from"]["id"] == old.id  # type: ignore[index]
            ]
            for source in named:
                source["removed"] = True
            if not named:
                entries[old.id] = {
                    "action": "removed", "id": old.id, "url": old.canonical_url,
                    "to": {"id": item.new_id, "url": item.new_url}, "parser": (was["parser"], None), "changes": {},
                }  # fmt: skip


def _captured_before(fresh: Article, current: Article) -> bool:
    """True when the store's upsert files ``fresh`` in the history of ``current`` (an older capture)."""
    return fresh.fetched_at is not None and current.fetched_at is not None and fresh.fetched_at < current.fetched_at


def _field_changes(old: dict[str, object], new: dict[str, object]) -> dict[str, dict[str, object]]:
    """The article fields that differ, old and new (``old`` empty, an added article: the fields it fills)."""
    keys = sorted(k for k in {*old, *new} if k not in _VOLATILE)
    if not old:
        keys = [k for k in keys if new.get(k) not in (None, "", [], {})]
    return {k: {"old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)}


def _finish_diff(ctx: Context, changes: list[dict[str, object]], counts: RunCounts, as_json: bool) -> None:
    """Print the report, then reparse's warnings; exit 1 when reparse would have failed pages, as it does.

    Under -q the summary line is left out: only the warnings go to stderr.
    """
    if as_json:
        click.echo(to_json(changes, indent=2))
    else:
        for item in changes:
            click.echo(click.style(_diff_heading(item), bold=use_color()))
            for key, pair in item["changes"].items():  # type: ignore[attr-defined]
                click.echo(f"  {key}:")
                if item["action"] != "added":
                    click.echo(f"    - {safe(_short(pair['old']))}")
                click.echo(f"    + {safe(_short(pair['new']))}")
    for error in counts.errors:
        click.echo(f"warning: {safe(error)}", err=True)
    if not ctx.quiet:
        actions = [item["action"] for item in changes]
        removed = sum(1 for item in changes if _removes(item))
        failed = f", {counts.failed} failed" if counts.failed else ""
        click.echo(
            f"reparse --diff: {actions.count('changed')} articles would change, {actions.count('moved')} would move,"
            f" {actions.count('added')} would be added, {removed} would be removed{failed}",
            err=True,
        )
    raise SystemExit(EXIT_PARTIAL if counts.failed else EXIT_OK)


def _removes(item: dict[str, object]) -> bool:
    """Whether reparse takes an article away in this entry: a ``removed`` one, or a ``moved`` one's old article."""
    source = item.get("from")
    return item["action"] == "removed" or (isinstance(source, dict) and bool(source.get("removed")))


def _diff_heading(item: dict[str, object]) -> str:
    """``ID URL`` of a changed article; ``moved OLD-URL -> URL (ID)``, with ``; OLD-URL stays ...`` where another
    page still gives the old one; ``added URL (ID)``; ``removed URL (ID) ...``."""
    if item["action"] == "moved":
        source: dict[str, str] = item["from"]  # type: ignore[assignment]
        heading = f"moved {safe(source['url'])} -> {safe(str(item['url']))} ({item['id']})"
        return heading if _removes(item) else f"{heading}; {safe(source['url'])} stays: another page gives it"
    if item["action"] == "added":
        return f"added {safe(str(item['url']))} ({item['id']})"
    if item["action"] == "removed":
        target: dict[str, str] = item["to"]  # type: ignore[assignment]
        return f"removed {safe(str(item['url']))} ({item['id']}): its page gives {safe(target['url'])} now"
    return f"{item['id']} {safe(str(item['url']))}"


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    text = text.replace("\n", " ⏎ ")
    return text if len(text) <= 300 else text[:297] + "..."


@cli.command("reindex")
@click.pass_obj
def reindex_command(ctx: Context) -> None:
    """Rebuild the search index from the article store.

    \b
    Examples:
      newsarchive reindex
      newsarchive --store postgresql://news@db.example.org/news reindex   # this machine's index of a shared store

    Needed only when the index is missing, damaged or from another version;
    searches keep working on the old index until the new one is swapped in.
    """
    from newsarchive.cli._progress import Progress

    archive = ctx.archive()
    archive.require(hint="check --archive (or $NEWSARCHIVE_HOME); fetch or import something first")
    with archive.lock(wait=ctx.wait), archive:
        bar = Progress("reindex", total=archive.store.count(), quiet=ctx.quiet, unit="article")
        with bar:
            count = archive.reindex(on_article=bar.advance)
    if not ctx.quiet:
        click.echo(f"reindex: {count} articles indexed", err=True)


def _is_sqlite_or_empty(path: Path) -> bool:
    """Whether a --to file is missing, empty or a SQLite database (its 16-byte header), without opening it."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return True  # missing (a new store), or unreadable: opening it says why
    return not head or head == b"SQLite format 3\x00"
