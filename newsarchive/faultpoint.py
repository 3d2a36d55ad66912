"""Named fault-injection points for the crash tests: a no-op unless ``NEWSARCHIVE_FAULTPOINT`` names one.

``NEWSARCHIVE_FAULTPOINT=NAME`` makes the process SIGKILL itself the first time it reaches
``faultpoint("NAME")``; ``NAME:N`` the N-th time (counted over all threads). The variable is read
once, at import; without it, a point costs one comparison.

The points, in the order an ingest run reaches them (``tests/test_crash_safety.py`` kills
ingest at each of them, at several hit counts):

==========================  ==================================================================
``after-discovery``         the frontier holds the discovered URLs, nothing fetched yet (ingest.py)
``mid-warc-record``         a response record written, not flushed or fsynced (archive/warc.py)
``after-warc-fsync``        the records are durable; the store does not know them yet (archive/warc.py)
``after-capture-commit``    the capture row and the file's committed size committed (pipeline.py)
``after-article-commit``    the article stored and queued for the index (pipeline.py)
``after-frontier-done``     the URL marked done in the frontier (ingest.py)
``before-index-commit``     index segment files written, the commit not done (index/writer.py)
``after-index-commit``      the index committed; its queue entries not yet dropped (pipeline.py)
==========================  ==================================================================
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "NEWSARCHIVE_FAULTPOINT"

#: Every point placed in the code (a test checks each one is reached by the crash test).
POINTS = (
    "after-discovery",
    "mid-warc-record",
    "after-warc-fsync",
    "after-capture-commit",
    "after-article-commit",
    "after-frontier-done",
    "before-index-commit",
    "after-index-commit",
)


def _parse(spec: str) -> tuple[str | None, int]:
    """'NAME' or 'NAME:N' -> (NAME, N); anything else arms nothing (a test that expects the kill sees it missing)."""
    name, _, count = spec.strip().partition(":")
    if not name or not (count.isdigit() or not count):
        return None, 0
    return name, int(count) if count else 1


_ARMED, _AT = _parse(os.environ.get(ENV, ""))
_hits = 0
_lock = threading.Lock()


def faultpoint(name: str) -> None:
    """Kill this process on the spot (SIGKILL: no cleanup, no flush) if ``NEWSARCHIVE_FAULTPOINT`` says so."""
    if name != _ARMED:
        return
    global _hits
    with _lock:
        _hits += 1
        if _hits == _AT:
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
