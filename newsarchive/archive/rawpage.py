"""RawPage: one HTTP exchange as fetched, before any parsing."""

from __future__ import annotations

import hashlib
from base64 import b32encode
from dataclasses import dataclass, field
from datetime import datetime


def payload_digest(body: bytes) -> str:
    """WARC-style payload digest: ``sha1:`` + base32 of the SHA-1 of the body."""
    return "sha1:" + b32encode(hashlib.sha1(body).digest()).decode("ascii")


@dataclass(frozen=True)
class RawPage:
    """What came back for one URL: final URL after redirects, status, headers, body bytes."""

    url: str
    final_url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    fetched_at: datetime
    request_headers: tuple[tuple[str, str], ...] = ()
    http_version: str = "HTTP/1.1"
    reason: str = "OK"
    truncated: bool = False
    digest: str = field(default="")

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", payload_digest(self.body))

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")
