"""Progress on a terminal: counts, rate and an estimate, on stderr; nothing in a pipe or under -q.

The one progress helper of the CLI. Commands either wrap an iterable (:meth:`Progress.wrap`)
or hand :meth:`Progress.event` to the pipeline as a callback (``ingest``), so that the
pipeline and ingest code never print.

Drawn by tqdm (a well-kept, dependency-free library): it gives a rate and an estimate with or
without a known total and redraws one line at a bounded rate, which click.progressbar does
not (no rate; an estimate only with a known length).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from newsarchive.cli._context import safe

#: Per-source counters of `ingest`, in the order they are shown.
INGEST_EVENTS = ("discovered", "fetched", "new", "updated", "unchanged", "failed", "refused")
#: Events that do not finish a page (the bar counts finished pages).
_NOT_DONE = frozenset({"discovered", "fetched"})


#: ``site.warc.gz: 40% 1.2M/3.0MB [00:04<00:06, 310kB/s, 52 pages]``
_BYTES_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt}B [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


def wanted(*, quiet: bool, stream: TextIO | None = None) -> bool:
    """Progress only on a terminal, never under -q (cron), in a pipe or a file."""
    stream = stream or sys.stderr
    try:
        return not quiet and stream.isatty()
    except (AttributeError, ValueError):
        return False


def _columns() -> int:
    import os

    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


class Progress:
    """One progress line: ``label: 120/400 [00:04<00:09, 29.8 pages/s] source: 3 new, 1 failed``."""

    def __init__(
        self, label: str, *, total: int | None = None, quiet: bool, unit: str = "page", scaled: bool = False
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.scaled = scaled  # a byte count: shown as 1.2M/5.0M, rate in MB/s
        self.enabled = wanted(quiet=quiet)
        self._bar: Any = None
        self._counts: dict[str, dict[str, int]] = {}

    def __enter__(self) -> Progress:
        if self.enabled:
            from tqdm import tqdm  # type: ignore[import-untyped]

            sized = _columns() > 0  # a terminal that reports no size (some ptys) gets 100 columns
            self._bar = tqdm(
                total=self.total, desc=safe(self.label, one_line=True), unit=self.unit, file=sys.stderr,
                dynamic_ncols=sized, ncols=None if sized else 100, nrows=None if sized else 24,
                leave=False, mininterval=0.2, unit_scale=self.scaled, unit_divisor=1024 if self.scaled else 1000,
                # bytes: no bar, so that the counts, rate and estimate fit 80 columns
                bar_format=_BYTES_FORMAT if self.scaled and self.total else None,
            )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.refresh()  # the final counts, however short the run (then the line is cleared)
            self._bar.close()
            self._bar = None

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def advance_to(self, position: int) -> None:
        """The count is now ``position`` (bytes of a file read so far); never goes back."""
        if self._bar is not None and position > self._bar.n:
            self._bar.update(position - self._bar.n)

    def note(self, text: str) -> None:
        """Text after the rate: ``[00:04<00:09, 2.1MB/s, 40 new, 3 skipped]``."""
        if self._bar is not None:
            self._bar.set_postfix_str(safe(text, one_line=True), refresh=False)

    def event(self, group: str, name: str, n: int = 1) -> None:
        """A callback for the pipeline: ``n`` more ``name`` (discovered, new, failed...) in ``group``."""
        if self._bar is None:
            return
        counts = self._counts.setdefault(group, {})
        counts[name] = counts.get(name, 0) + n
        if name not in _NOT_DONE:
            self._bar.update(n)  # one page done (new, updated, unchanged, failed, refused...)
        self._bar.set_postfix_str(self._describe(), refresh=False)

    def _describe(self) -> str:
        parts = []
        for group, counts in self._counts.items():
            shown = ", ".join(f"{counts[k]} {k}" for k in INGEST_EVENTS if counts.get(k))
            parts.append(f"{safe(group, one_line=True)}: {shown}")
        return "; ".join(parts)

    def wrap(self, iterable: Iterable[Any]) -> _Wrapped:
        return _Wrapped(self, iterable)


class _Wrapped:
    """``with progress(items, ...) as items: for item in items:`` -- one step per item."""

    def __init__(self, progress: Progress, iterable: Iterable[Any]) -> None:
        self.progress = progress
        self.iterable = iterable

    def __enter__(self) -> Iterator[Any]:
        self.progress.__enter__()
        return self._iter()

    def _iter(self) -> Iterator[Any]:
        for item in self.iterable:
            yield item
            self.progress.advance()

    def __exit__(self, *exc: object) -> None:
        self.progress.close()
