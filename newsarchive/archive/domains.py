"""Which site an URL belongs to, by registrable domain (the Public Suffix List, bundled: no network).

``news.example.co.uk`` and ``www.example.co.uk`` are one site (``example.co.uk``);
``a.blogspot.com`` and ``b.blogspot.com`` are two (``blogspot.com`` is a public suffix).
An IP address, or a host the list does not know as a domain (``localhost``), is its own site.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

_PSL: PublicSuffixList | None = None


@lru_cache(maxsize=4096)
def registrable_domain(url: str) -> str:
    """The registrable domain of an URL's host (the host itself for IPs and unknown hosts), lower-case."""
    global _PSL
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    if not host:
        return ""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if _PSL is None:
        _PSL = PublicSuffixList()
    return str(_PSL.privatesuffix(host) or host)


def same_site(a: str, b: str) -> bool:
    """True when two URLs have one registrable domain."""
    site = registrable_domain(a)
    return bool(site) and site == registrable_domain(b)
