"""`newsarchive parse`: a saved page -> Article, no archive needed."""

from __future__ import annotations

from pathlib import Path

import click

from newsarchive.cli import cli
from newsarchive.cli._context import safe
from newsarchive.cli.read_cmds import print_article
from newsarchive.errors import UsageError


@cli.command("parse")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@click.option("--url", required=True, help="The URL the page was saved from (chooses the parser, resolves links).")
@click.option("--parser", "parser_name", metavar="NAME", help="Force a parser by name (see docs/sites.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the Article JSON (docs/article-json.md).")
def parse_command(file: Path, url: str, parser_name: str | None, as_json: bool) -> None:
    """Parse a saved HTML page and print the article, without touching the archive.

    \b
    Example:
      newsarchive parse page.html --url https://example.com/news/x --json

    Exits with status 3 when the page is not an article (a listing, a
    video page, an error page) and 1 when no article could be read from it.
    """
    from newsarchive.parse import parse_page

    body: bytes
    if str(file) == "-":
        # open_file's "-" is get_binary_stream("stdin") (deprecated in click 8.5), kept open as a standard stream.
        with click.open_file("-", "rb") as stdin:
            body = stdin.read()
    else:
        try:
            body = file.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror}") from exc
    if "://" not in url:
        raise UsageError(f"--url must be an absolute URL, got {url!r}", hint="e.g. --url https://example.com/a")
    article = parse_page(body, url, parser=parser_name)
    if as_json:
        click.echo(article.to_json(indent=2))
    else:
        print_article(article)
        click.echo(safe(f"\n[parser {article.parser.name} {article.parser.version}]") if article.parser else "")
