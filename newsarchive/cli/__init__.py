"""The command line: the only place that prints or exits.

Commands live in submodules that are imported only when their command runs (``--help``
and ``--version`` load neither numpy nor Whoosh nor the parsers): ``COMMANDS`` maps each
name to its module and the one-line help that ``newsarchive --help`` shows.

The global options (``--archive``, ``--store``, ``--warc``, ``-v``, ``-q``, ``--wait``) are accepted before or after
the command name, with the same meaning (``newsarchive -q ingest`` = ``newsarchive ingest -q``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from newsarchive import __version__
from newsarchive.cli._context import Context, configure_logging
from newsarchive.config import ENV_HOME, ENV_STORE
from newsarchive.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    LockedError,
    NewsArchiveError,
)

#: command -> (module that defines it, the one-line help `newsarchive --help` shows), in pipeline order.
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("ingest_cmds", "Find and archive the new articles of every configured source (run it from cron)."),
    "sources": ("ingest_cmds", "List, add and remove the sources `newsarchive ingest` reads."),
    "fetch": ("archive_cmds", "Fetch article pages, keep them as WARC, parse, store and index them."),
    "import-warc": ("archive_cmds", "Ingest the HTML pages of any WARC file (wget --warc-file, Common Crawl, ...)."),
    "store": ("archive_cmds", "Look after the article store: rebuild it from WARC files, copy it to PostgreSQL."),
    "parse": ("parse_cmd", "Parse a saved HTML page and print the article, without touching the archive."),
    "reparse": ("archive_cmds", "Run the parsers again over every archived page (offline), then update the index."),
    "reindex": ("archive_cmds", "Rebuild the search index from the article store."),
    "search": (
        "read_cmds",
        "Search the archive by keyword, publication date, site, tag, author, language and section.",
    ),
    "show": ("read_cmds", "Show one archived article, by its id or any of its URLs."),
    "export": ("read_cmds", "Export articles with every field: all of them, or those a search would find."),
    "stats": ("stats_cmd", "Articles by site, language and month; archive size; last ingest."),
}
COMMAND_ORDER = tuple(COMMANDS)

#: `--wait` with no number: wait up to an hour for the run that holds the archive.
DEFAULT_WAIT = 3600.0


class _LazyCommands(dict[str, click.Command]):
    """``cli.commands`` for callers outside click: loads every command module on first look."""

    def _load_all(self) -> None:
        for module in dict.fromkeys(m for m, _ in COMMANDS.values()):
            _import_commands(module)

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return super().__iter__()

    def __len__(self) -> int:
        self._load_all()
        return super().__len__()

    def __contains__(self, key: object) -> bool:
        self._load_all()
        return super().__contains__(key)

    def __getitem__(self, key: str) -> click.Command:
        self._load_all()
        return super().__getitem__(key)

    def keys(self) -> Any:
        self._load_all()
        return super().keys()

    def values(self) -> Any:
        self._load_all()
        return super().values()

    def items(self) -> Any:
        self._load_all()
        return super().items()

    def peek(self, name: str) -> click.Command | None:
        """The command if its module is loaded, without loading anything."""
        return dict.get(self, name)

    def loaded(self) -> list[str]:
        return list(dict.keys(self))


def _import_commands(module: str) -> None:
    importlib.import_module(f"newsarchive.cli.{module}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def normalize_wait(args: Sequence[str]) -> list[str]:
    """``--wait`` alone means ``--wait=3600``; ``--wait N`` (a number) means ``--wait=N``.

    So ``import-warc --wait FILE`` never reads FILE as the number of seconds, and
    ``--wait 600`` works as it always did. Arguments after ``--`` are left alone.
    """
    out: list[str] = []
    i = 0
    args = list(args)
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        if arg == "--wait":
            if i + 1 < len(args) and _is_number(args[i + 1]):
                out.append(f"--wait={args[i + 1]}")
                i += 2
                continue
            out.append(f"--wait={DEFAULT_WAIT:g}")
        else:
            out.append(arg)
        i += 1
    return out


def _set_global(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return  # not given here: what was given before the command (or the default) stays
        obj = ctx.find_object(Context)
        if obj is None:
            return
        setattr(obj, name, value)
        configure_logging(verbose=obj.verbose, quiet=obj.quiet)

    return callback


_WAIT_HELP = (
    "If another run holds the archive, wait for it instead of exiting 75: "
    f"--wait waits up to {DEFAULT_WAIT / 3600:g} hour, --wait SECONDS (or --wait=SECONDS) that long."
)


class _ArchivePath(click.Path):
    """click's directory check, which lets a FIFO, a device or a loop of links through (``is a file`` only
    for regular files): those reached ``mkdir`` and were exit 1, ``cannot create the archive: File exists``."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        if os.path.lexists(path) and not os.path.isdir(path):
            self.fail(f"{click.format_filename(path)!r} is not a directory", param, ctx)
        return path


def _global_options(*, root: bool) -> list[click.Option]:
    """--archive, --store, --warc, -v, -q, --wait: on the group (root) and again on every command."""
    archive_kwargs: dict[str, Any] = {"envvar": ENV_HOME} if root else {}
    store_kwargs: dict[str, Any] = {"envvar": ENV_STORE} if root else {}
    options = [
        click.Option(
            ["--archive", "archive_dir"],
            type=_ArchivePath(file_okay=False, path_type=Path),
            help=f"Archive directory (default: ${ENV_HOME}, else your user data dir).",
            **archive_kwargs,
        ),
        click.Option(
            ["--store"],
            metavar="URL",
            help=f"Article store: postgresql://USER@HOST/DB or sqlite:PATH (default: ${ENV_STORE}, else the"
            " archive's sources.toml [settings] store, else store.sqlite in the archive).",
            **store_kwargs,
        ),
        click.Option(
            ["--warc"],
            metavar="DIR|URL",
            help="Where WARC files go: a directory (a shared mount) or s3://bucket/prefix "
            "(default: $NEWSARCHIVE_WARC, else the archive's sources.toml [settings] warc, else warc/ in the archive).",
        ),
        click.Option(["-v", "--verbose"], is_flag=True, help="Log progress and show tracebacks of unexpected errors."),
        click.Option(["-q", "--quiet"], is_flag=True, help="Print nothing but errors (for cron)."),
        click.Option(["--wait"], type=click.FloatRange(0), metavar="[SECONDS]", help=_WAIT_HELP),
    ]
    if not root:
        for option in options:
            option.expose_value = False
            option.callback = _set_global(option.name or "")
            option.hidden = False
    return options


def _add_global_options(command: click.Command) -> None:
    if getattr(command, "_newsarchive_globals", False):
        return
    taken = {opt for p in command.params for opt in getattr(p, "opts", ())}
    # Before the command's own --help, which click appends last.
    command.params.extend(o for o in _global_options(root=False) if not taken & set(o.opts))
    command._newsarchive_globals = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_global_options(sub)


class _Group(click.Group):
    """Lazy commands; expected errors as one-line messages and exit codes; tracebacks only with -v."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = _LazyCommands()
        self.commands = self.lazy

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, normalize_wait(args))

    def list_commands(self, ctx: click.Context) -> list[str]:
        # The pipeline's order in --help, not the alphabet's.
        extra = sorted(n for n in self.lazy.loaded() if n not in COMMANDS)
        return [*COMMANDS, *extra]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.lazy.peek(cmd_name)
        if command is None and cmd_name in COMMANDS:
            _import_commands(COMMANDS[cmd_name][0])
            command = self.lazy.peek(cmd_name)
        if command is not None:
            _add_global_options(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from COMMANDS, so that --help imports no command module."""
        rows = []
        width = formatter.width - 6 - max(len(n) for n in COMMANDS)
        for name, (_, short) in COMMANDS.items():
            rows.append((name, _shorten(short, width)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except NewsArchiveError as exc:
            quiet = bool(ctx.obj and ctx.obj.quiet)
            if not (quiet and isinstance(exc, LockedError)):  # overlapping cron runs are normal
                _print_error(exc.message, exc.hint)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _interrupted()
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            _broken_pipe()
        except Exception as exc:
            verbose = bool(ctx.obj and ctx.obj.verbose)
            if verbose:
                raise
            denied = _store_denied(ctx, exc)
            if denied is not None:  # a right missing on the PostgreSQL store: a set-up mistake, not a bug
                _print_error(denied.message, denied.hint)
                sys.exit(denied.exit_code)
            _print_error(f"unexpected {type(exc).__name__}: {exc}", "run again with -v for a traceback and report it")
            sys.exit(EXIT_INTERNAL)
        raise AssertionError("unreachable")


def _store_denied(ctx: click.Context, exc: Exception) -> NewsArchiveError | None:
    """PostgreSQL refused the store's user a right (``InsufficientPrivilege``) where no layer below said so:
    the store's one-line message with what to grant (exit 2), as docs/scale-out.md promises for every command."""
    if type(exc).__name__ != "InsufficientPrivilege" or not type(exc).__module__.startswith("psycopg"):
        return None
    from newsarchive.archive_dir import ArchiveDir
    from newsarchive.store.pg import refused_error

    try:
        obj = ctx.obj
        spec = ArchiveDir(obj.archive_dir, read_only=True, store=obj.store, warc=obj.warc).store_spec
    except Exception:  # the setting was read before; this is only for the message
        return None
    return None if spec.url is None else refused_error(spec.url, exc)


def _shorten(text: str, width: int) -> str:
    """Cut at a word boundary with "..." as click does for a command's short help."""
    if len(text) <= width:
        return text
    cut = text[: width - 3].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "..."


def _print_error(message: str, hint: str | None) -> None:
    from newsarchive.cli._context import safe  # messages may quote scraped text

    click.echo(f"Error: {safe(message)}", err=True)
    if hint:
        click.echo(f"Hint: {safe(hint)}", err=True)


def _interrupted() -> None:
    """Ctrl-C: one line, no traceback, status 130 (128 + SIGINT) as shells report it."""
    try:
        click.echo("Interrupted.", err=True)
    finally:
        sys.exit(EXIT_INTERRUPTED)


def _broken_pipe() -> None:
    """The reader went away (``| head``): stop quietly, and keep Python from complaining at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(EXIT_OK)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="newsarchive")
@click.pass_context
def cli(
    ctx: click.Context,
    archive_dir: Path | None,
    store: str | None,
    warc: str | None,
    verbose: bool,
    quiet: bool,
    wait: float | None,
) -> None:
    """Keep your own searchable, offline archive of news sites.

    \b
    Fetch articles (raw pages are kept as WARC files), parse them into
    clean records, search them by keyword and date, export them as JSON.

    \b
    Quick start:
      newsarchive fetch https://english.almayadeen.net/news/politics/us-not-actively-encouraging-ukraine-to-retake-crimea:-report
      newsarchive search "crimea blinken" --from 2023-02 --to 2023-02
      newsarchive export --jsonl > all.jsonl
      newsarchive --store postgresql://news@db.example.org/news --warc /mnt/archive/warc ingest -q   # docs/scale-out.md

    The options below also work after the command (newsarchive ingest -q).

    Exit status: 0 ok, 1 some inputs failed or no search hits, 2 usage error,
    3 not an article (parse), 70 internal error (a bug), 75 another run holds
    the archive, 130 interrupted (Ctrl-C).
    """
    configure_logging(verbose=verbose, quiet=quiet)
    ctx.obj = Context(
        archive_dir=archive_dir, verbose=verbose, quiet=quiet, wait=wait or 0.0, store=store or None, warc=warc or None
    )


cli.params[:0] = _global_options(root=True)


def main() -> None:
    try:
        cli(prog_name="newsarchive")
    except KeyboardInterrupt:
        _interrupted()


__all__ = ["COMMANDS", "EXIT_USAGE", "cli", "main", "normalize_wait"]
