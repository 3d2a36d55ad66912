"""Fetcher: one polite HTTP GET -> RawPage (User-Agent, timeouts, size limit, retries, safety)."""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from newsarchive.archive.rawpage import RawPage
from newsarchive.config import FETCH_TIMEOUT, MAX_BODY_BYTES, USER_AGENT, allow_private_addresses
from newsarchive.errors import FetchError, RefusedURL

LOGGER = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 10


def check_url(url: str, *, allow_private: bool | None = None) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to private/loopback/link-local addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedURL(f"refused {url!r}: only http and https URLs are fetched")
    if not parts.hostname:
        raise RefusedURL(f"refused {url!r}: no host name")
    if allow_private if allow_private is not None else allow_private_addresses():
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"{url}: cannot resolve host {parts.hostname!r} ({exc.strerror})") from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved or addr.is_multicast:
            raise RefusedURL(
                f"refused {url}: {parts.hostname} resolves to the non-public address {addr}",
                hint="set NEWSARCHIVE_ALLOW_PRIVATE=1 to archive a local mirror on purpose",
            )


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
    ) -> None:
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"})
        self.session.max_redirects = MAX_REDIRECTS
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    def close(self) -> None:
        self.session.close()

    def fetch(self, url: str, *, headers: dict[str, str] | None = None) -> RawPage:
        """GET ``url`` following redirects (each hop checked), retrying 429/5xx with backoff.

        ``headers`` adds request headers (e.g. If-None-Match for a conditional GET).
        """
        attempt = 0
        while True:
            raw = self._get_once(url, headers or {})
            if raw.status not in RETRY_STATUSES or attempt >= self.retries:
                return raw
            attempt += 1
            delay = _retry_after(raw.header("Retry-After"))
            if delay is None:
                delay = self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 2)
            delay = min(delay, 120.0)
            LOGGER.info("%s: HTTP %d, retry %d in %.1fs", url, raw.status, attempt, delay)
            self.sleep(delay)

    def _get_once(self, url: str, headers: dict[str, str]) -> RawPage:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            check_url(current)
            try:
                resp = self.session.get(
                    current, headers=headers, timeout=self.timeout, stream=True, allow_redirects=False
                )
            except requests.exceptions.Timeout as exc:
                raise FetchError(f"{current}: timed out after {self.timeout:.0f}s") from exc
            except requests.exceptions.ConnectionError as exc:
                raise FetchError(f"{current}: connection failed ({_reason(exc)})") from exc
            except requests.exceptions.RequestException as exc:
                raise FetchError(f"{current}: request failed ({exc})") from exc
            with resp:
                if resp.is_redirect and resp.headers.get("Location"):
                    current = requests.compat.urljoin(current, resp.headers["Location"])
                    continue
                body, truncated = self._read_body(resp, current)
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
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects", hint="the site has a redirect loop")

    def _read_body(self, resp: requests.Response, url: str) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(64 * 1024):
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_bytes:
                    LOGGER.warning("%s: body larger than %d bytes, cut", url, self.max_bytes)
                    return b"".join(chunks)[: self.max_bytes], True
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise FetchError(f"{url}: broken response body ({_reason(exc)})") from exc
        except requests.exceptions.ConnectionError as exc:
            raise FetchError(f"{url}: connection lost while reading ({_reason(exc)})") from exc
        body = b"".join(chunks)
        expected = resp.headers.get("Content-Length")
        if expected and expected.isdigit() and "Content-Encoding" not in resp.headers and len(body) < int(expected):
            raise FetchError(f"{url}: truncated download ({len(body)} of {expected} bytes)")
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


def _reason(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return text[:200]
