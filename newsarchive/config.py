"""Where the archive lives and the defaults every command shares; no I/O at import."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from newsarchive import __version__

ENV_HOME = "NEWSARCHIVE_HOME"
ENV_ALLOW_PRIVATE = "NEWSARCHIVE_ALLOW_PRIVATE"

PROJECT_URL = "https://github.com/newsarchive/newsarchive"
USER_AGENT = f"newsarchive/{__version__} (+{PROJECT_URL})"

#: A WARC file is closed and a new one started past this size.
WARC_MAX_BYTES = 1024 * 1024 * 1024
#: Responses larger than this are cut and recorded as truncated.
MAX_BODY_BYTES = 20 * 1024 * 1024
FETCH_TIMEOUT = 30.0
#: A whole response (headers and body) must arrive within this many seconds (slow-loris servers).
FETCH_DEADLINE = 300.0


def default_archive_dir() -> Path:
    """``$NEWSARCHIVE_HOME`` if set, else the per-user data directory (platformdirs)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("newsarchive", appauthor=False))


def allow_private_addresses() -> bool:
    return os.environ.get(ENV_ALLOW_PRIVATE, "") in {"1", "true", "yes"}


def allowed_private_networks(setting: bool | str | None = None) -> bool | tuple[str, ...]:
    """Which non-public addresses may be fetched: True (all), False (none) or networks (CIDR).

    ``setting`` comes from the config (``allow_private = true`` or ``"192.168.1.0/24, 10.0.0.7"``);
    ``$NEWSARCHIVE_ALLOW_PRIVATE`` (``1`` or such a list) wins when set.
    """
    env = os.environ.get(ENV_ALLOW_PRIVATE, "").strip()
    value: bool | str | None = env if env else setting
    if value is None or value is False:
        return False
    if value is True or str(value).lower() in {"1", "true", "yes"}:
        return True
    if str(value).lower() in {"0", "false", "no"}:
        return False
    return tuple(part.strip() for part in str(value).split(",") if part.strip())
