"""What a reading command's process skips while loading numpy and Whoosh (imported for its effect).

``cli/_options.py`` imports this module just before it first imports ``newsarchive.search`` (when an
option is checked or a request built: never for --help), before anything loads numpy or Whoosh. Two
costs of every ``newsarchive search`` process go away, neither of which changes a result:

- OpenBLAS's thread pool. numpy starts it on import (one thread per core, each with its own
  buffers): tens of milliseconds of CPU, more on a busy machine. newsarchive never calls BLAS (its
  numpy work is masks, sums and sorts), so one thread is enough. An ``OPENBLAS_NUM_THREADS`` the
  user set is kept, and nothing changes once numpy is loaded.
- ``urllib.request``, with http.client, email, ssl and socket under it: Whoosh's (internal)
  ``whoosh.compat`` imports ``urlretrieve`` from it and Whoosh never calls it. While
  ``whoosh.query`` (which a search loads anyway, and ``whoosh.compat`` under it) is imported, a
  stand-in module gives Whoosh an ``urlretrieve`` that imports the real one on its first call; the
  stand-in leaves ``sys.modules`` at once, so any later ``import urllib.request`` gets the real one.

bench/search_startup.py measures both (import time and the whole search process, old and new).
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

#: numpy's BLAS libraries read these when they load (the wheels bundle OpenBLAS).
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS",)


def _one_blas_thread() -> None:
    if "numpy" in sys.modules:
        return
    for name in _BLAS_THREADS:
        os.environ.setdefault(name, "1")


def _urlretrieve(*args: Any, **kwargs: Any) -> Any:
    """urllib.request.urlretrieve, imported when first called (Whoosh keeps a reference it never calls)."""
    from urllib.request import urlretrieve

    return urlretrieve(*args, **kwargs)


def _whoosh_without_urllib_request() -> None:
    if "whoosh.compat" in sys.modules or "urllib.request" in sys.modules:
        return
    stand_in = types.ModuleType("urllib.request", "Stand-in while whoosh.compat loads (see newsarchive.cli._startup).")
    stand_in.urlretrieve = _urlretrieve  # type: ignore[attr-defined]
    sys.modules["urllib.request"] = stand_in
    try:
        import whoosh.query  # noqa: F401  (loads whoosh.compat)
    finally:
        if sys.modules.get("urllib.request") is stand_in:
            del sys.modules["urllib.request"]


_one_blas_thread()
_whoosh_without_urllib_request()
