"""The command line: the only place that prints or exits."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from newsarchive import __version__
from newsarchive.cli._context import Context
from newsarchive.config import ENV_HOME
from newsarchive.errors import EXIT_USAGE, LockedError, NewsArchiveError


class _Group(click.Group):
    """Turns expected errors into one-line messages and exit codes; bugs show a traceback only with -v."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except NewsArchiveError as exc:
            quiet = bool(ctx.obj and ctx.obj.quiet)
            if not (quiet and isinstance(exc, LockedError)):  # overlapping cron runs are normal
                _print_error(exc.message, exc.hint)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            sys.exit(0)
        except Exception as exc:
            verbose = bool(ctx.obj and ctx.obj.verbose)
            if verbose:
                raise
            _print_error(f"unexpected {type(exc).__name__}: {exc}", "run again with -v for a traceback and report it")
            sys.exit(70)

    def list_commands(self, ctx: click.Context) -> list[str]:
        # The pipeline's order in --help, not the alphabet's.
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(self.commands, key=lambda n: (rank.get(n, len(rank)), n))


COMMAND_ORDER = (
    "ingest", "sources", "fetch", "import-warc", "parse", "reparse", "reindex", "search", "show", "export", "stats",
)  # fmt: skip


def _print_error(message: str, hint: str | None) -> None:
    from newsarchive.cli._context import safe  # messages may quote scraped text

    click.echo(f"Error: {safe(message)}", err=True)
    if hint:
        click.echo(f"Hint: {safe(hint)}", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=ENV_HOME,
    help=f"Archive directory (default: ${ENV_HOME}, else your user data dir).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress and show tracebacks of unexpected errors.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (for cron).")
@click.version_option(__version__, "-V", "--version", prog_name="newsarchive")
@click.pass_context
def cli(ctx: click.Context, archive_dir: Path | None, verbose: bool, quiet: bool) -> None:
    """Keep your own searchable, offline archive of news sites.

    \b
    Fetch articles (raw pages are kept as WARC files), parse them into
    clean records, search them by keyword and date, export them as JSON.

    \b
    Quick start:
      newsarchive fetch https://english.almayadeen.net/news/politics/us-not-actively-encouraging-ukraine-to-retake-crimea:-report
      newsarchive search "crimea blinken" --from 2023-02 --to 2023-02
      newsarchive export --jsonl > all.jsonl

    Exit status: 0 ok, 1 some inputs failed, 2 usage error, 3 not an article
    (parse), 75 another run holds the archive.
    """
    level = logging.DEBUG if verbose else logging.WARNING if not quiet else logging.ERROR
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        # A file handler added later (ingest.log) may lower a logger's level: the terminal keeps its own.
        handler.setLevel(level)
    ctx.obj = Context(archive_dir=archive_dir, verbose=verbose, quiet=quiet)


def main() -> None:
    try:
        cli(prog_name="newsarchive")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


# Commands register themselves on import, in pipeline order.
from newsarchive.cli import archive_cmds, ingest_cmds, parse_cmd, read_cmds, stats_cmd  # noqa: E402,F401

__all__ = ["EXIT_USAGE", "cli", "main"]
