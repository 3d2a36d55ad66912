"""Fetcher: one polite HTTP GET -> RawPage (User-Agent, timeouts, size limit, retries, safety)."""

from __future__ import annotations

import http.client
import ipaddress
import logging
import random
import socket
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import urllib3

from newsarchive.archive.rawpage import RawPage
from newsarchive.config import FETCH_DEADLINE, FETCH_TIMEOUT, MAX_BODY_BYTES, USER_AGENT, allowed_private_networks
from newsarchive.errors import FetchError, RefusedURL
from newsarchive.fetch.urls import InvalidURL, to_uri, without_userinfo

LOGGER = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 10
#: Longest wait a Retry-After header may impose: a longer one is not waited for (the page is retried
#: on a later run); ``max_retry_after`` in sources.toml.
MAX_RETRY_AFTER = 120.0
_DECODABLE = {"identity", "gzip", "x-gzip", "deflate"}


class Unreachable(FetchError):
    """The host could not be reached at all: name resolution or connection failed (offline?)."""

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


def _resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a seam for tests)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


def _public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address):
        inner = addr.ipv4_mapped or addr.sixtofour
        if inner is not None:
            return _public(inner)
    return addr.is_global and not addr.is_multicast


def _printable(url: str) -> str:
    """A URL fit for a one-line message: control characters escaped, length bounded."""
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in url)
    return text if len(text) <= 300 else text[:297] + "..."


def check_url(url: str, *, allow_private: bool | Collection[str] | None = None) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to a non-public address.

    Private, loopback, link-local, reserved, shared and multicast addresses are refused
    unless ``allow_private`` is True or holds a network (CIDR) containing them; None
    reads ``$NEWSARCHIVE_ALLOW_PRIVATE``.
    """
    shown = _printable(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedURL(f"refused {shown}: not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise RefusedURL(f"refused {shown}: only http and https URLs are fetched")
    if not parts.hostname:
        raise RefusedURL(f"refused {shown}: no host name")
    allowed = allowed_private_networks() if allow_private is None else allow_private
    if allowed is True:
        return
    try:
        addresses = _resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "invalid host name"
        raise Unreachable(
            f"{shown}: cannot resolve host {parts.hostname!r} ({reason})",
            reason=f"cannot resolve host {parts.hostname!r}: {reason}",
        ) from exc
    for text in addresses:
        if not address_allowed(text, allow_private):
            raise RefusedURL(
                f"refused {shown}: {parts.hostname} resolves to the non-public address {text}",
                hint=_PRIVATE_HINT,
            )


_PRIVATE_HINT = "set NEWSARCHIVE_ALLOW_PRIVATE=1 (or a list of networks) to archive a local mirror on purpose"


def address_allowed(address: str, allow_private: bool | Collection[str] | None = None) -> bool:
    """May newsarchive talk to this IP address? Public ones always; others only when allowed."""
    allowed = allowed_private_networks() if allow_private is None else allow_private
    if allowed is True:
        return True
    addr = ipaddress.ip_address(address.split("%", 1)[0])
    networks = [] if allowed is False else [ipaddress.ip_network(n, strict=False) for n in allowed]
    return _public(addr) or any(addr in net for net in networks)


def _peer_address(resp: requests.Response) -> str | None:
    """The IP address the response really came from (None when the transport hides it)."""
    try:
        sock = resp.raw.connection.sock  # type: ignore[union-attr]
        return str(sock.getpeername()[0]) if sock is not None else None
    except (AttributeError, OSError):
        return None


class Fetcher:
    """Downloads pages with one requests.Session; never parses them."""

    def __init__(
        self,
        *,
        user_agent: str = USER_AGENT,
        timeout: float = FETCH_TIMEOUT,
        max_bytes: int = MAX_BODY_BYTES,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float = FETCH_DEADLINE,
        allow_private: bool | Collection[str] | None = None,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        self.session = requests.Session()
        self.session.get_redirect_target = _redirect_target  # type: ignore[method-assign]
        self.session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"})
        self.session.max_redirects = MAX_REDIRECTS
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.deadline = deadline
        # Resolved once: a bad $NEWSARCHIVE_ALLOW_PRIVATE is a UsageError here, not in a worker thread.
        self.allow_private: bool | Collection[str] = allowed_private_networks(
            allow_private if allow_private is None or isinstance(allow_private, bool) else list(allow_private)
        )
        self.max_retry_after = max_retry_after

    def close(self) -> None:
        self.session.close()

    def fetch(
        self, url: str, *, headers: dict[str, str] | None = None, check_hop: Callable[[str], None] | None = None
    ) -> RawPage:
        """GET ``url`` following redirects (each hop checked), retrying 429/5xx with backoff.

        ``headers`` adds request headers (e.g. If-None-Match for a conditional GET). ``check_hop`` is called
        with every redirect target before it is requested, and may wait (the turn of the target's host:
        PoliteFetcher; not counted in ``deadline``) or raise to refuse it (robots.txt of the target). An IRI is
        encoded as an RFC 3986 URI first; a malformed URL is a RefusedURL. A Retry-After longer
        than ``max_retry_after`` is not waited for: that response is returned as it is.
        """
        try:
            url = to_uri(url)
        except InvalidURL as exc:
            raise RefusedURL(f"refused {exc}") from None
        attempt = 0
        while True:
            raw = self._get_once(url, headers or {}, check_hop)
            if raw.status not in RETRY_STATUSES or attempt >= self.retries:
                return raw
            attempt += 1
            delay = _retry_after(raw.header("Retry-After"))
            if delay is not None and not delay <= self.max_retry_after:
                LOGGER.warning(
                    "%s: HTTP %d asks to retry after %.0f s, more than max_retry_after (%g s): not retried this run",
                    _printable(url), raw.status, delay, self.max_retry_after,
                )  # fmt: skip
                return raw
            if delay is None:
                delay = min(self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 2), self.max_retry_after)
            LOGGER.info("%s: HTTP %d, retry %d in %.1fs", url, raw.status, attempt, delay)
            self.sleep(delay)

    def _get_once(self, url: str, headers: dict[str, str], check_hop: Callable[[str], None] | None = None) -> RawPage:
        current = url
        started = time.monotonic()
        for hop in range(MAX_REDIRECTS + 1):
            check_url(current, allow_private=self.allow_private)
            if hop and check_hop is not None:
                asked = time.monotonic()
                check_hop(current)
                started += time.monotonic() - asked  # a wait for the host's turn: not the server being slow
            shown = _printable(current)
            try:
                try:
                    resp = self.session.get(
                        current, headers=headers, timeout=self.timeout, stream=True, allow_redirects=False
                    )
                except requests.exceptions.ConnectionError as exc:
                    if not _dropped_before_answer(exc):
                        raise
                    # A kept-alive connection the server had closed (no "Connection: close" sent): the
                    # request went out on it and met a reset. Browsers and curl send it again once, on a
                    # new connection (urllib3 dropped the dead one from its pool).
                    resp = self.session.get(
                        current, headers=headers, timeout=self.timeout, stream=True, allow_redirects=False
                    )
            except requests.exceptions.ConnectTimeout as exc:
                reason = f"no connection within {self.timeout:g}s"
                raise Unreachable(f"{shown}: {reason}", reason=reason) from exc
            except requests.exceptions.Timeout as exc:
                raise FetchError(f"{shown}: timed out after {self.timeout:g}s") from exc
            except requests.exceptions.ConnectionError as exc:
                reason = _reason(exc)
                raise Unreachable(f"{shown}: connection failed ({reason})", reason=reason) from exc
            except requests.exceptions.RequestException as exc:
                raise FetchError(f"{shown}: request failed ({_reason(exc)})") from exc
            except ValueError as exc:
                # requests parses a redirect's Location before returning the response (``r._next``)
                # and urllib3 the host: a malformed one (``http://[oops/``) raises ValueError.
                raise FetchError(f"{shown}: malformed URL or redirect target ({exc})") from None
            with resp:
                peer = _peer_address(resp)
                if peer is not None and not address_allowed(peer, self.allow_private):
                    # The name resolved to a public address for check_url and to another one for the
                    # connection (DNS rebinding): refuse before reading anything.
                    raise RefusedURL(f"refused {shown}: connected to the non-public address {peer}", hint=_PRIVATE_HINT)
                location = self.session.get_redirect_target(resp) if resp.is_redirect else None
                if location:
                    # get_redirect_target undoes http.client's latin-1 reading of UTF-8 bytes; the
                    # target is then encoded as an RFC 3986 URI like any other URL.
                    target = requests.compat.urljoin(current, location)
                    try:
                        current = without_userinfo(to_uri(target))
                    except (InvalidURL, ValueError) as exc:
                        check_url(target, allow_private=self.allow_private)  # file:, ftp: ... are refused
                        raise FetchError(f"{shown}: redirects to a malformed URL ({exc})") from None
                    continue
                body, truncated = self._read_body(resp, current, started)
                fetched_at = datetime.now(UTC).replace(microsecond=0)  # WARC-Date precision
                version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(getattr(resp.raw, "version", 11), "HTTP/1.1")
                return RawPage(
                    url=url,
                    final_url=current,
                    status=resp.status_code,
                    headers=tuple(resp.raw.headers.items()),
                    body=body,
                    fetched_at=fetched_at,
                    request_headers=(("Host", urlsplit(current).netloc), *resp.request.headers.items()),
                    http_version=version,
                    reason=resp.reason or "",
                    truncated=truncated,
                )
        raise FetchError(f"{_printable(url)}: more than {MAX_REDIRECTS} redirects", hint="the site has a redirect loop")

    def _read_body(self, resp: requests.Response, url: str, started: float) -> tuple[bytes, bool]:
        """The decoded body, cut at ``max_bytes``; a body still arriving at the deadline is refused.

        ``read1`` returns whatever has arrived, so a server trickling bytes (slow loris)
        meets the deadline check, and inflation is bounded per read (gzip bombs).
        """
        shown = _printable(url)
        encodings = {e.strip().lower() for e in resp.headers.get("Content-Encoding", "").split(",") if e.strip()}
        if encodings - _DECODABLE:
            raise FetchError(f"{shown}: unsupported Content-Encoding {resp.headers['Content-Encoding']!r}")
        raw = resp.raw
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                chunk = raw.read1(64 * 1024, decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_bytes:
                    LOGGER.warning("%s: body larger than %d bytes, cut", shown, self.max_bytes)
                    return b"".join(chunks)[: self.max_bytes], True
                if time.monotonic() - started > self.deadline:
                    raise FetchError(
                        f"{shown}: too slow: response not complete after {self.deadline:g}s",
                        hint="the server sends its page too slowly; try again later",
                    )
        except urllib3.exceptions.DecodeError as exc:
            raise FetchError(f"{shown}: broken response body (Content-Encoding does not decode)") from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise FetchError(f"{shown}: timed out after {self.timeout:g}s while reading") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchError(f"{shown}: connection lost while reading ({_reason(exc)})") from exc
        body = b"".join(chunks)
        expected = resp.headers.get("Content-Length")
        if expected and expected.isdigit() and not encodings - {"identity"} and len(body) < int(expected):
            raise FetchError(f"{shown}: truncated download ({len(body)} of {expected} bytes)")
        return body, False


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it wraps (args, reason, cause, context), outermost first."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        cur = todo.pop(0)
        seen.append(cur)
        todo.extend(a for a in getattr(cur, "args", ()) if isinstance(a, BaseException))
        for nxt in (getattr(cur, "reason", None), cur.__cause__, cur.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return seen


def _dropped_before_answer(exc: BaseException) -> bool:
    """The connection was reset or closed before any answer: not a refused or failed new connection."""
    causes = _causes(exc)
    new_connection = urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
    if any(isinstance(c, new_connection) for c in causes):
        return False
    return any(isinstance(c, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected) for c in causes)


def _reason(exc: BaseException) -> str:
    """A short, human reason for a low-level network error (the innermost cause that says something)."""
    for cur in _causes(exc):
        if isinstance(cur, ConnectionResetError):
            return "connection reset by peer"
        if isinstance(cur, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cur, urllib3.exceptions.IncompleteRead | http.client.IncompleteRead):
            partial = getattr(cur, "partial", 0)
            got = partial if isinstance(partial, int) else len(partial)
            expected = getattr(cur, "expected", None)
            return f"body cut short after {got} bytes" + (f", {expected} more expected" if expected else "")
        if isinstance(cur, socket.gaierror):
            return f"cannot resolve host: {cur.strerror}"
    text = " ".join(str(exc.args[0] if exc.args else exc).split())
    return _printable(text[:200])


def _redirect_target(resp: requests.Response) -> str | None:
    """A redirect's Location, its raw bytes read as UTF-8, or percent-encoded when they are not UTF-8.

    requests reads them as UTF-8 and raised UnicodeDecodeError on a Latin-1 ``Location: /caf\xe9``
    before the response was returned; browsers follow such a Location with the bytes percent-encoded.
    """
    if not resp.is_redirect:
        return None
    location = resp.headers["location"]
    raw = location.encode("latin1", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in raw)
