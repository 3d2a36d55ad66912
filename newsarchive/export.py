"""STAGE 7b: stream articles as a JSON array, JSON Lines or CSV, in constant memory.

Also the one JSON encoder of everything newsarchive prints (:func:`to_json`), and the
atomic writing of ``export -o FILE`` (:func:`atomic_output`).
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from newsarchive.article import ARTICLE_JSON_KEYS, BIDI_CONTROLS, Article
from newsarchive.errors import NewsArchiveError, UsageError

if TYPE_CHECKING:  # Whoosh and numpy load only when an export runs, not with the CLI
    from whoosh.index import Index

    from newsarchive.index.backend import SearchBackend
    from newsarchive.search import SearchRequest
    from newsarchive.store.articles import ArticleStore

Format = Literal["json", "jsonl", "csv"]

#: CSV: lists of strings are joined with this separator; nested records are JSON text.
CSV_LIST_SEPARATOR = "; "
_CSV_STRING_LISTS = ("byline", "tags")
_CSV_JSON = ("images", "related", "parser", "capture", "extra")

#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP "CSV injection").
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: Characters JSON may carry raw but a terminal or an editor would obey: C1 controls, bidi overrides, U+2028/9.
_JSON_UNSAFE = re.compile("[\u0080-\u009f\u2028\u2029" + BIDI_CONTROLS + "]")


def to_json(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """JSON text with UTF-8 kept readable but C1 controls and bidi overrides escaped as \\uXXXX.

    Such characters can only occur inside JSON strings, where the escape means the same character:
    a JSON reader sees the same data, a terminal or an editor shows six harmless characters.
    """
    text = json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sort_keys)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def neutralise_formula(cell: str) -> str:
    """A cell a spreadsheet would run as a formula, prefixed with ' so that it shows as text."""
    return "'" + cell if cell.startswith(CSV_FORMULA_STARTS) else cell


def csv_row(record: dict[str, Any], *, formulas: bool = False) -> list[str]:
    """One article record as CSV cells, in ARTICLE_JSON_KEYS order (see docs/search.md, "CSV").

    Cells that a spreadsheet would read as a formula get a leading ``'`` unless ``formulas``.
    """
    cells: list[str] = []
    for key in ARTICLE_JSON_KEYS:
        value = record.get(key)
        if value is None:
            cells.append("")
        elif key in _CSV_STRING_LISTS:
            cells.append(CSV_LIST_SEPARATOR.join(v.replace(CSV_LIST_SEPARATOR, ", ") for v in value))
        elif key in _CSV_JSON:
            cells.append(to_json(value, sort_keys=True) if value else "")
        else:
            cells.append(str(value))
    return cells if formulas else [neutralise_formula(c) for c in cells]


def write_records(records: Iterable[dict[str, Any]], out: TextIO, fmt: Format, *, csv_formulas: bool = False) -> int:
    """Write records one at a time; returns how many were written.

    CSV cells that would run as spreadsheet formulas are neutralised unless ``csv_formulas``.
    """
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ARTICLE_JSON_KEYS)
        for record in records:
            writer.writerow(csv_row(record, formulas=csv_formulas))
            count += 1
        return count
    if fmt == "jsonl":
        for record in records:
            out.write(to_json(record) + "\n")
            count += 1
        return count
    out.write("[")
    for record in records:
        out.write(("\n" if count == 0 else ",\n") + to_json(record))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def needs_index(req: SearchRequest) -> bool:
    """Whether the request needs the text index (else the store answers it alone, in date order)."""
    return req.has_text or bool(req.tags or req.authors or req.sections)


def iter_export(store: ArticleStore, req: SearchRequest, ix: Index | SearchBackend | None = None) -> Iterator[Article]:
    """The articles a search would find (all of them, not a page), streamed.

    Without query text or index-only filters: newest first from the store. Otherwise the index's
    matches, in index order, fetched from the store 1,000 at a time.
    """
    if not needs_index(req):
        yield from store.iter_articles_where(
            date_from=req.date_from,
            date_to=req.date_to,
            sites=req.sites,
            langs=req.langs,
            newest=req.sort != "oldest",
        )
        return
    from newsarchive.search import iter_matching_ids

    if ix is None:
        raise ValueError("a text query or tag/author/section filter needs the search index")
    # A search backend (index/backend.py) gives the ids itself; a Whoosh index through search.py.
    batches = ix.iter_ids(req) if hasattr(ix, "iter_ids") else iter_matching_ids(ix, req)
    for ids in batches:
        found = store.get_many(ids)
        for article_id in ids:
            if article_id in found:
                yield found[article_id]


@contextmanager
def atomic_output(target: str | Path) -> Iterator[TextIO]:
    """Open ``export -o`` targets: a file written whole or not at all; ``-`` is standard output.

    * the temporary file sits next to the *real* file (a symlink is followed, and kept), so the
      final rename never crosses file systems; should it still fail (the target is itself a mount
      point, EXDEV/EBUSY), the content is copied over the target instead;
    * a device or FIFO (``/dev/stdout``, ``/dev/null``, a named pipe) is written directly, never replaced;
    * a directory, a missing parent directory or an unwritable place is a UsageError (exit 2),
      found before anything is written; and the temporary file is removed whatever happens.
    """
    import sys

    if str(target) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(target).expanduser()
    try:
        os.path.realpath(path, strict=True)
    except OSError as exc:  # a missing file (or a dangling link's target) is created; a loop cannot be
        if exc.errno == errno.ELOOP:
            raise UsageError(f"-o {target}: a loop of symbolic links", hint="point the link at a file") from exc
    real = Path(os.path.realpath(path))
    if real.is_dir():
        raise UsageError(f"-o {target}: is a directory", hint="give a file name, e.g. -o export.json")
    if real.exists() and not stat.S_ISREG(real.stat().st_mode):
        with _write_errors(target), _open_or_usage_error(real, target) as direct:  # a device or a FIFO: no temp file
            yield direct
        return
    parent = real.parent
    if not parent.is_dir():
        raise UsageError(f"-o {target}: no such directory {parent}", hint="create it first, or write elsewhere")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".part", dir=parent)
    except OSError as exc:
        raise UsageError(f"-o {target}: cannot write in {parent}: {exc.strerror}") from exc
    tmp = Path(tmp_name)
    try:
        with _write_errors(target), os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if real.exists():
            os.chmod(tmp, stat.S_IMODE(real.stat().st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        try:
            os.replace(tmp, real)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EBUSY):
                raise UsageError(f"-o {target}: cannot write it: {exc.strerror}") from exc
            with open(tmp, "rb") as src, _open_or_usage_error(real, target, binary=True) as dst:
                shutil.copyfileobj(src, dst)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _open_or_usage_error(path: Path, shown: str | Path, *, binary: bool = False) -> Iterator[Any]:
    try:
        handle = open(path, "wb") if binary else open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"-o {shown}: cannot write it: {exc.strerror}") from exc
    with handle:
        yield handle


@contextmanager
def _write_errors(shown: str | Path) -> Iterator[None]:
    """A full disk or an I/O error while writing: one line and exit 1, not an internal error."""
    try:
        yield
    except BrokenPipeError:
        raise  # the reader went away: the CLI ends quietly
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS):
            raise
        raise NewsArchiveError(f"-o {shown}: cannot write it: {exc.strerror}", hint="nothing was written") from exc
