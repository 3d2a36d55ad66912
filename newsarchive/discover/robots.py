"""robots.txt via protego: allowed(url), Crawl-delay and Sitemap lines for one user agent.

HTTP status handling is the orchestrator's (newsarchive/ingest.py): a 4xx robots.txt (e.g. 404) means
"allow all" (:meth:`RobotsPolicy.allow_all`); a 5xx or an unreachable host means "disallow all for now"
as RFC 9309 section 2.3.1.3 says (:meth:`RobotsPolicy.disallow_all`), retried on a later run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from protego import Protego

from newsarchive.discover.types import Discovery, Followup, absolute_url

#: RFC 9309: crawlers must parse at least 500 KiB; the rest is ignored.
MAX_ROBOTS = 512 * 1024


@dataclass
class RobotsPolicy:
    """The rules of one robots.txt for one user agent."""

    user_agent: str
    _rules: Protego | None = field(repr=False, default=None)  # None: allow everything
    _disallow_all: bool = False

    @classmethod
    def from_bytes(cls, body: bytes, user_agent: str) -> RobotsPolicy:
        """Parse a robots.txt body (any encoding errors replaced; only the first 500 KiB read)."""
        text = body[:MAX_ROBOTS].decode("utf-8", "replace").lstrip("\ufeff")
        return cls(user_agent=user_agent, _rules=Protego.parse(text))

    @classmethod
    def allow_all(cls, user_agent: str) -> RobotsPolicy:
        """No robots.txt (HTTP 4xx): everything is allowed."""
        return cls(user_agent=user_agent)

    @classmethod
    def disallow_all(cls, user_agent: str) -> RobotsPolicy:
        """robots.txt unreachable (HTTP 5xx, network error): nothing is allowed for now."""
        return cls(user_agent=user_agent, _disallow_all=True)

    def allowed(self, url: str) -> bool:
        """May this URL be fetched? (/robots.txt itself always may.)"""
        if self._disallow_all:
            return False
        if self._rules is None or urlsplit(url).path == "/robots.txt":
            return True
        return bool(self._rules.can_fetch(url, self.user_agent))

    @property
    def crawl_delay(self) -> float | None:
        """Seconds between requests asked for by Crawl-delay (or Request-rate), if any."""
        if self._rules is None:
            return None
        delay = self._rules.crawl_delay(self.user_agent)
        rate = self._rules.request_rate(self.user_agent)
        values = [float(delay)] if delay is not None else []
        if rate is not None and rate.requests:
            values.append(rate.seconds / rate.requests)
        values = [v for v in values if v >= 0]
        return max(values) if values else None

    @property
    def sitemaps(self) -> list[str]:
        """Sitemap URLs named by ``Sitemap:`` lines, in file order, de-duplicated."""
        if self._rules is None:
            return []
        return list(dict.fromkeys(str(s).strip() for s in self._rules.sitemaps if str(s).strip()))


def parse_robots(body: bytes, url: str, user_agent: str = "*") -> Discovery:
    """A robots.txt as a discovery document: its ``Sitemap:`` lines become sitemap followups."""
    policy = RobotsPolicy.from_bytes(body, user_agent)
    followups = []
    for sitemap in policy.sitemaps:
        absolute = absolute_url(url, sitemap)
        if absolute is not None:
            followups.append(Followup(url=absolute, kind="sitemap"))
    return Discovery(kind="robots", candidates=[], followups=followups)
