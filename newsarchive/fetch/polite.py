"""The one polite fetcher every command uses: robots.txt, per-host delay, User-Agent, retries, safety checks.

:class:`HostGate` holds what is shared by all the fetchers of a run (robots.txt policies per origin, the
time of the last request per host); :class:`PoliteFetcher` is one HTTP session (not thread-safe: one per
thread) that asks the gate before every request. ``ingest``, ``fetch`` and ``sources add`` all build
theirs from the same :class:`~newsarchive.sources.Settings`, so the configured User-Agent, delay,
timeout, retries and caps apply everywhere.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from newsarchive.discover.robots import RobotsPolicy
from newsarchive.errors import FetchError, RefusedURL
from newsarchive.fetch.client import Fetcher, Unreachable
from newsarchive.fetch.urls import InvalidURL, host_of, origin_of, to_uri

if TYPE_CHECKING:
    from newsarchive.archive.rawpage import RawPage
    from newsarchive.sources import Settings

LOGGER = logging.getLogger(__name__)


class RobotsRefused(RefusedURL):
    """robots.txt disallows this URL for our User-Agent."""


class HostSkipped(FetchError):
    """The host is left alone for the rest of this run (robots.txt unreadable, Crawl-delay above the cap)."""


class HostBusy(FetchError):
    """A redirect's host is not free within the hop's bounded wait (another worker holds it for its batch, or
    threads of this run have queued for its turns): the page is not fetched now and goes back to the frontier,
    due again ``retry_after`` seconds on. A deferral, not a failure: no attempt counted, no error reported."""

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


#: How long a redirect hop waits for its host's turn at most: HOP_WAIT_DELAYS of that host's delays (its
#: Crawl-delay when larger, itself capped by max_crawl_delay), plus HOP_WAIT_SLACK seconds. A request's own host
#: waits as long as it must (its turn is the request's); a hop's host may be another worker's for a whole batch,
#: or be what that worker is waiting for: unbounded, two workers redirected into each other's hosts waited for
#: each other until a lease ran out.
HOP_WAIT_DELAYS = 2.0
HOP_WAIT_SLACK = 1.0


def hop_wait(delay: float) -> float:
    """The longest a redirect hop waits for the turn of a host whose delay is ``delay`` seconds."""
    return HOP_WAIT_DELAYS * delay + HOP_WAIT_SLACK


def user_agent(settings: Settings) -> str:
    """The User-Agent header: the configured one, plus the contact when it is not already in it."""
    ua = settings.user_agent
    if settings.contact and settings.contact not in ua:
        ua = f"{ua} contact: {settings.contact}"
    return ua


class HostGate:
    """Per-origin robots.txt and per-host request spacing; thread-safe, shared by a run's fetchers."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.sleep = sleep
        self._robots: dict[str, RobotsPolicy | FetchError | None] = {}
        self._last: dict[str, float] = {}
        #: robots.txt answers (2xx, 4xx) read here this run, by origin, until a fetch of that very URL takes one.
        self._robots_pages: dict[str, RawPage] = {}
        self._lock = threading.Lock()

    def robots(self, url: str, fetcher: Fetcher, *, within: float | None = None) -> RobotsPolicy | None:
        """The origin's robots.txt policy (None: there is none, all allowed), fetched once per run.

        RFC 9309: a robots.txt that cannot be read (network failure, 5xx) means "disallow everything
        for now". That is raised as a HostSkipped error every time the origin is asked about in this
        run, so that it is reported as a failure rather than as a refusal. ``within``: the longest the
        host's turn is waited for, when robots.txt must be read (a redirect hop's: HostBusy past it, nothing kept).
        """
        origin = origin_of(url)
        with self._lock:
            if origin in self._robots:
                cached = self._robots[origin]
                if isinstance(cached, FetchError):
                    raise cached
                return cached
        result = self._load_robots(url, fetcher, within)
        with self._lock:
            self._robots[origin] = result
        if isinstance(result, FetchError):
            raise result
        return result

    def _load_robots(self, url: str, fetcher: Fetcher, within: float | None = None) -> RobotsPolicy | FetchError | None:
        """Read the origin's robots.txt: its policy, None (none: all allowed), or the HostSkipped to raise."""
        origin = origin_of(url)
        host = origin.split("://", 1)[1]  # named with its port when it has one: robots.txt is per origin
        result: RobotsPolicy | FetchError | None
        try:
            self.wait_turn(url, None, check_cap=False, within=within)
            try:
                raw = fetcher.fetch(origin + "/robots.txt")
            finally:
                self.fetch_ended(url, None)
            if raw.status < 500:
                self._robots_read(url, raw)
                with self._lock:
                    self._robots_pages[origin] = raw
            if raw.status >= 500:
                result = HostSkipped(f"{host}: robots.txt answered HTTP {raw.status}; the host is skipped this run")
            elif raw.status >= 400:
                result = None  # no robots.txt: everything is allowed
            else:
                result = RobotsPolicy.from_bytes(raw.body, self.settings.user_agent)
        except (RefusedURL, HostBusy):
            raise  # HostBusy: not read yet, asked again the next time
        except Unreachable as exc:
            result = HostSkipped(
                f"cannot reach {host}: no network? ({exc.reason}); the host is skipped this run",
                hint="check the connection (or the host name), then run again",
            )
        except FetchError as exc:
            result = HostSkipped(f"{host}: robots.txt unreadable ({exc.message}); the host is skipped this run")
        return result

    def robots_page(self, uri: str) -> RawPage | None:
        """The answer of ``uri`` when it is an origin's robots.txt this gate has just read (once: then None)."""
        origin = origin_of(uri)
        if uri != origin + "/robots.txt":
            return None
        with self._lock:
            return self._robots_pages.pop(origin, None)

    def _robots_read(self, url: str, raw: RawPage) -> None:
        """A robots.txt was read (2xx or 4xx): a gate that shares it with other workers keeps it (pg_frontier.py)."""

    def allowed(self, url: str, fetcher: Fetcher, *, within: float | None = None) -> bool:
        policy = self.robots(url, fetcher, within=within)
        return policy is None or policy.allowed(url)

    def delay(self, url: str, source_delay: float | None, *, check_cap: bool = True) -> float:
        """Seconds between two requests to this host: the configured delay or a larger Crawl-delay.

        A Crawl-delay (or Request-rate) above ``settings.max_crawl_delay`` raises HostSkipped: honouring
        it would sleep through this run and the next ones; ignoring it would be rude.
        """
        with self._lock:
            policy = self._robots.get(origin_of(url))
        base = self.settings.delay if source_delay is None else source_delay
        crawl_delay = policy.crawl_delay if isinstance(policy, RobotsPolicy) else None
        if crawl_delay is None:
            return base
        if check_cap and (not math.isfinite(crawl_delay) or crawl_delay > self.settings.max_crawl_delay):
            raise HostSkipped(
                f"{host_of(url)}: robots.txt asks for {crawl_delay:g} s between requests, more than "
                f"max_crawl_delay ({self.settings.max_crawl_delay:g} s); the host is skipped this run",
                hint="raise max_crawl_delay in sources.toml to archive it at that pace (docs/sources.md)",
            )
        return max(base, min(float(crawl_delay), self.settings.max_crawl_delay))

    def wait_turn(
        self, url: str, source_delay: float | None, *, check_cap: bool = True, within: float | None = None
    ) -> None:
        """Take this host's next turn, its delay after the last one taken, and sleep until it comes.

        The turn is reserved under the lock before the sleep: threads waiting for one host each get a turn
        of their own, a delay apart (reading the last request, then marking one after the sleep, let two of
        them see the same last request and go together). ``within`` (a redirect hop's bound, see hop_wait): a
        turn further away than that many seconds is not taken, HostBusy is raised at once.
        """
        host = host_of(url)
        delay = self.delay(url, source_delay, check_cap=check_cap)
        with self._lock:
            now = time.monotonic()
            last = self._last.get(host)
            turn = now if last is None else max(now, last + delay)
            if within is not None and turn - now > within:
                raise HostBusy(
                    f"{host}: its next turn is {turn - now:.1f} s away (other requests of this run queued for "
                    f"it), more than a redirect waits ({within:g} s)",
                    retry_after=turn - now,
                )
            self._last[host] = turn
        if turn > now:
            self.sleep(turn - now)

    def has_turn(self, url: str) -> bool:
        """Whether this thread's request still has the turn it took of ``url``'s host. Always here: a turn is a
        time, nothing is held; a gate shared by workers may have given the host back during a hop (pg_frontier.py)."""
        return True

    def fetch_ended(self, url: str, source_delay: float | None) -> None:
        """A request to ``url``'s host has ended (its answer read or failed). Here the delay counts from the
        request's start (wait_turn); a gate shared by several workers counts it from here (pg_frontier.py)."""


class PoliteFetcher:
    """A Fetcher that asks a HostGate first: robots.txt, then the host's turn, then the request."""

    def __init__(
        self,
        settings: Settings,
        *,
        gate: HostGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
        obey_robots: bool = True,
        hop_wait: float | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate or HostGate(settings, sleep=sleep)
        self.obey_robots = obey_robots
        #: The longest a redirect hop waits for its host's turn (seconds); None: hop_wait(that host's delay).
        self.hop_wait = hop_wait
        self.http = Fetcher(
            user_agent=user_agent(settings),
            timeout=settings.timeout,
            retries=settings.retries,
            sleep=sleep,
            allow_private=settings.allow_private,
            max_retry_after=settings.max_retry_after,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PoliteFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def allowed(self, url: str) -> bool:
        """May robots.txt be obeyed by fetching this URL? (Always True with ``obey_robots=False``.)"""
        return not self.obey_robots or self.gate.allowed(url, self.http)

    def fetch(self, url: str, *, headers: dict[str, str] | None = None, source_delay: float | None = None) -> RawPage:
        """GET ``url`` politely. RobotsRefused when robots.txt says no; HostSkipped, FetchError as they come;
        HostBusy when a redirect's host is not free within the hop's bounded wait (the page is to be retried)."""
        try:
            uri = to_uri(url)
        except InvalidURL as exc:
            raise RefusedURL(f"refused {exc}") from None
        if not self.allowed(uri):
            raise RobotsRefused(
                f"{uri}: disallowed by robots.txt for {self.settings.user_agent.split('/')[0]}",
                hint="the site asks robots not to fetch it; `fetch --ignore-robots` overrides (docs/sources.md)",
            )
        if self.obey_robots and (read := self.gate.robots_page(uri)) is not None:
            return read  # a source that starts at robots.txt: read for the rules a moment ago, not asked twice
        self.gate.wait_turn(uri, source_delay)
        turns = [uri]  # one URL of each host whose turn this request took (its redirects' hosts too)
        try:
            return self.http.fetch(uri, headers=headers, check_hop=self._redirect_checker(uri, source_delay, turns))
        finally:
            for taken in turns:
                self.gate.fetch_ended(taken, source_delay)

    def _redirect_checker(self, uri: str, source_delay: float | None, turns: list[str]) -> Callable[[str], None]:
        """What every redirect target is asked before it is requested: its origin's robots.txt (a redirect is
        no way around a Disallow, on the same origin or another one), then, the first time the request goes
        to its host, that host's turn (nor around another host's delay). A host whose turn is taken is added
        to ``turns``, which the caller ends (``HostGate.fetch_ended``) with the request.

        Both waits are bounded (``hop_wait``): a request's first host is its own turn, but a hop's host may be
        held by another worker for its whole batch, or by one waiting for this request's host. Past the bound
        HostBusy is raised: the page is not fetched now (the caller puts it back in the frontier)."""

        def check(target: str) -> None:
            try:
                within = self._hop_wait(target, source_delay)
                if self.obey_robots:
                    self._hop_allowed(uri, target, within)
                if all(host_of(target) != host_of(taken) for taken in turns):
                    self.gate.wait_turn(target, source_delay, within=within)
                    turns.append(target)
                elif not self.gate.has_turn(target):  # given back while an earlier hop of this request waited
                    self.gate.wait_turn(target, source_delay, within=within)
            except HostSkipped as exc:
                # The target's origin is unreadable or asks too long a delay, not the origin of ``uri``: only
                # this page fails.
                raise FetchError(f"{uri}: redirects to {target}: {exc.message}", hint=exc.hint) from None
            except HostBusy as exc:
                raise HostBusy(
                    f"{uri}: redirects to {target}: {exc.message}; the page waits for a later turn",
                    retry_after=exc.retry_after,
                ) from None

        return check

    def _hop_wait(self, target: str, source_delay: float | None) -> float:
        if self.hop_wait is not None:
            return self.hop_wait
        return hop_wait(self.gate.delay(target, source_delay, check_cap=False))

    def _hop_allowed(self, uri: str, target: str, within: float | None = None) -> None:
        """RobotsRefused when the redirect target's robots.txt disallows it; HostSkipped when it is unreadable."""
        if not self.gate.allowed(target, self.http, within=within):
            raise RobotsRefused(
                f"{uri}: redirects to {target}, disallowed by robots.txt for {self.settings.user_agent.split('/')[0]}",
                hint="the site asks robots not to fetch it; `fetch --ignore-robots` overrides (docs/sources.md)",
            )
