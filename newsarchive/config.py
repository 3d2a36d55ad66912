"""Where the archive lives and the defaults every command shares; no I/O at import."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from newsarchive import __version__

ENV_HOME = "NEWSARCHIVE_HOME"
#: Chooses the article store as --store does (store/backend.py).
ENV_STORE = "NEWSARCHIVE_STORE"
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
    import platformdirs  # only without $NEWSARCHIVE_HOME or --archive (~10 ms to import)

    return Path(platformdirs.user_data_dir("newsarchive", appauthor=False))


_YES = frozenset({"1", "true", "yes", "on"})
_NO = frozenset({"", "0", "false", "no", "off"})


def parse_private_networks(value: str, *, what: str = ENV_ALLOW_PRIVATE) -> bool | tuple[str, ...]:
    """Read an allow-private text: ``1/true/yes/on`` (all), ``0/false/no/off`` or empty (none), or networks.

    Networks are a comma-separated list of IP addresses or CIDR networks (``127.0.0.0/8, 192.168.1.7``).
    Anything else (a host name such as ``localhost``) is a UsageError naming ``what``.
    """
    from newsarchive.errors import UsageError  # errors imports nothing from here, but keep import time low

    text = value.strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    networks = tuple(part.strip() for part in text.split(",") if part.strip())
    for net in networks:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise UsageError(
                f"{what}={value.strip()!r}: {net!r} is not an IP address or network",
                hint="use 1 (allow every private address), 0 (none) or networks such as 127.0.0.0/8,192.168.1.7",
            ) from None
    return networks


def allowed_private_networks(setting: bool | str | list[str] | tuple[str, ...] | None = None) -> bool | tuple[str, ...]:
    """Which non-public addresses may be fetched: True (all), False (none) or networks (CIDR).

    ``setting`` comes from the config (``allow_private = true`` or ``["192.168.1.0/24", "10.0.0.7"]``) and
    wins when given; otherwise ``$NEWSARCHIVE_ALLOW_PRIVATE`` decides (see :func:`parse_private_networks`).
    A bad value is a UsageError (exit 2), never a silent "no".
    """
    if setting is True or setting is False:
        return setting
    if isinstance(setting, list | tuple):
        return parse_private_networks(",".join(setting), what="allow_private") if setting else False
    if isinstance(setting, str):
        return parse_private_networks(setting, what="allow_private")
    return parse_private_networks(os.environ.get(ENV_ALLOW_PRIVATE, ""))
