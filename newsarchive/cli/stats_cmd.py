"""The stats command: articles by site, language and month, archive size, last ingest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from newsarchive.cli import cli
from newsarchive.cli._context import Context, safe, to_json


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _last_ingest(store: Any) -> dict[str, Any] | None:
    finished, counts = store.last_run()
    if finished is None:
        return None
    try:
        parsed = json.loads(counts or "{}")
    except ValueError:
        parsed = {}
    return {"finished": finished.isoformat(), "counts": parsed if isinstance(parsed, dict) else {}}


def _store_size(archive: Any) -> int:
    """The SQLite file with its -wal and -shm files; a PostgreSQL store's database size."""
    spec = archive.store_spec
    if spec.path is not None:
        return sum(_size(p) for p in spec.path.parent.glob(spec.path.name + "*"))
    return int(archive.store.size_bytes())


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.pass_obj
def stats_command(ctx: Context, as_json: bool) -> None:
    """Articles by site, language and month; archive size; last ingest.

    \b
    Examples:
      newsarchive stats
      newsarchive stats --json
      newsarchive --store postgresql://news@db.example.org/news stats   # says which store and WARC location are used
    """
    from newsarchive.index.backend import describe_search, search_stats
    from newsarchive.index.writer import index_state

    archive = ctx.reader()
    archive.require()
    with archive:
        store = archive.store
        data: dict[str, Any] = {
            "articles": store.count(),
            "captures": store.capture_count(),
            "by_site": dict(store.stats_by("site")),
            "by_lang": dict(store.stats_by("lang")),
            "by_month": dict(store.stats_by("month")),
            "last_change": store.last_changed(),
            "last_ingest": _last_ingest(store),
            "store": {"kind": store.kind, "location": store.location},
            "warc": {
                "kind": "object storage" if archive.warcs.remote else "directory",
                "location": archive.warcs.label,
            },
            "index": index_state(archive.index_dir),
            "search": search_stats(archive),
            "size_bytes": {
                "warc": archive.warcs.size() if archive.warcs.remote else _size(archive.warc_dir),
                "store": _store_size(archive),
                "index": _size(archive.index_dir),
            },
        }
    if as_json:
        click.echo(to_json(data, indent=2))
        return
    sizes = data["size_bytes"]
    click.echo(f"{data['articles']} articles from {data['captures']} captured pages")
    click.echo(f"store: {safe(data['store']['location'])} ({data['store']['kind']})")
    click.echo(f"WARC files: {safe(data['warc']['location'])} ({data['warc']['kind']})")
    click.echo(describe_search(data["search"]))
    click.echo(f"last article added or changed: {data['last_change'] or 'never'} (UTC)")
    last = data["last_ingest"]
    if last:
        counts = ", ".join(f"{n} {k}" for k, n in last["counts"].items() if n)
        click.echo(f"last ingest run finished: {last['finished']} (UTC){': ' + safe(counts) if counts else ''}")
    else:
        click.echo("last ingest run finished: never")
    if data["search"].get("backend") == "postgresql":  # the search tables are in the store's database
        unused = f"; a local index/ of {_human(sizes['index'])}, not used" if sizes["index"] else ""
        click.echo(
            f"size: {_human(sizes['warc'] + sizes['store'])} (WARC {_human(sizes['warc'])},"
            f" store {_human(sizes['store'])} with its search tables{unused})"
        )
    else:
        click.echo(
            f"size: {_human(sum(sizes.values()))} (WARC {_human(sizes['warc'])}, store {_human(sizes['store'])},"
            f" index {_human(sizes['index'])}; index {data['index']})"
        )
    for title, key in (("site", "by_site"), ("language", "by_lang")):
        click.echo(f"\nby {title}:")
        for k, n in sorted(data[key].items(), key=lambda kv: -kv[1]):
            click.echo(f"  {safe(k, one_line=True) or '(none)':<30} {n:>8}")
    click.echo("\nby month:")
    for k, n in data["by_month"].items():
        click.echo(f"  {safe(k, one_line=True) or '(no date)':<10} {n:>8}")
