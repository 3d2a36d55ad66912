"""URLs: the form that is fetched (RFC 3986, as discovered) and the key that de-duplicates (canonical).

Two different jobs, kept apart on purpose:

* :func:`to_uri` turns what a user typed or a document listed into what goes on the wire and into the
  WARC: raw non-ASCII characters (an IRI, RFC 3987) are percent-encoded as UTF-8 and the host is
  IDNA-encoded (RFC 3986), and *nothing else changes*: ``%2F`` stays ``%2F``, ``a=1;b=2`` stays as it is.
  Servers may tell these spellings apart, so the page is fetched exactly as it was discovered.
  :func:`fetch_form` also drops the fragment (never sent) and tracking parameters (``utm_*``...),
  as whole ``name=value`` pairs, so that an archived article does not carry a newsletter's tag.
* :func:`normalize_url` is only the de-duplication key of the crawl frontier: w3lib's
  ``canonicalize_url`` (Scrapy's, the well-kept one: sorted query, fragment dropped, percent-encoding
  case fixed) plus what it leaves alone: tracking parameters, default ports, host case.

A malformed URL (``http://[::1/x``, a port out of range, no host) raises :class:`InvalidURL`.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "_hs")
_TRACKING = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mkt_tok", "ref_src",
    "_ga", "_gl", "cmpid", "ocid", "spm", "twclid", "ttclid", "s_cid",
})  # fmt: skip
#: WHATWG URL's forbidden host code points: a host holding one is no host ('http://ex.com ?q').
_HOST_FORBIDDEN = frozenset(" \t\n\r#/<>?@\\^|")
#: Longer URLs are refused: no news site needs them, and they bloat the frontier and the WARC.
MAX_URL_LENGTH = 8192


class InvalidURL(ValueError):
    """A URL that cannot be fetched as written (bad IPv6 literal, bad port, no host, not http/https)."""


def _shown(url: str) -> str:
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in url)
    return text if len(text) <= 200 else text[:197] + "..."


def to_uri(url: str) -> str:
    """The http(s) URL to request and record: an IRI encoded as RFC 3986, otherwise unchanged.

    Leading and trailing whitespace is dropped, tabs and newlines inside are removed (as browsers do).
    Raises InvalidURL for anything that is not a well-formed absolute http(s) URL.
    """
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise InvalidURL(f"{_shown(text)}: longer than {MAX_URL_LENGTH} characters")
    try:
        uri = safe_url_string(text, encoding="utf-8")
        if not text.isascii():
            # A host that NFKC maps to ASCII ('𝑨' -> 'A') comes out unfolded; a second pass gives what
            # the first gives for that ASCII form ('a'), so the URL is the same when given back.
            uri = safe_url_string(uri, encoding="utf-8")
        parts = urlsplit(uri)
        if parts.port == 0:  # (raises ValueError for a port out of range)
            # No server listens on port 0: such a URL could only fail, and its robots.txt failing
            # took every other page of the host out of the run.
            raise ValueError("port 0")
    except (ValueError, UnicodeError) as exc:
        raise InvalidURL(f"{_shown(text)}: not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"{_shown(text)}: not an http or https URL")
    if not parts.hostname:
        raise InvalidURL(f"{_shown(text)}: no host name")
    if any(ch in _HOST_FORBIDDEN or not ch.isprintable() for ch in parts.hostname):
        raise InvalidURL(f"{_shown(text)}: not a valid host name")
    if not _host_ok(parts.hostname):
        raise InvalidURL(f"{_shown(text)}: not a valid host name (an empty label or one over 63 characters)")
    if not uri.isascii():  # safe_url_string encodes every non-ASCII character; this is a guard
        raise InvalidURL(f"{_shown(text)}: cannot be encoded as an ASCII URL")
    return uri


def without_userinfo(uri: str) -> str:
    """The URI without ``user:password@``: what a server or a document names is fetched and archived without it.

    A redirect to ``http://u:secret@host/page`` (or a sitemap listing one) sent the credentials as Basic
    auth and stored them in the WARC, the store, search and export. A URL the user typed keeps its own.
    """
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _host_ok(host: str) -> bool:
    """DNS limits (RFC 1035): labels of 1 to 63 characters, 253 in all; IP literals pass as they are."""
    if ":" in host:  # an IPv6 literal, already checked by urlsplit
        return True
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(0 < len(label) <= 63 for label in name.split("."))


def fetch_form(url: str) -> str:
    """The URL to fetch for a discovered or typed one: :func:`to_uri`, less the fragment and tracking parameters.

    Only whole ``name=value`` pairs whose name is a known tracking parameter (``utm_*``, ``fbclid``...)
    are cut out, and the fragment (never sent over HTTP); every other byte stays as it was written:
    no re-encoding, no re-ordering, ``%2F`` and ``;`` untouched.
    """
    uri = to_uri(url).split("#", 1)[0]
    if "?" not in uri:
        return uri
    base, query = uri.split("?", 1)
    kept = [pair for pair in query.split("&") if not _tracking(pair)]
    if len(kept) == len(query.split("&")):
        return uri
    kept = [pair for pair in kept if pair]
    return f"{base}?{'&'.join(kept)}" if kept else base


def is_valid(url: str) -> bool:
    try:
        to_uri(url)
    except InvalidURL:
        return False
    return True


def normalize_url(url: str) -> str:
    """The de-duplication key: one spelling per page. Never fetch this form; fetch :func:`to_uri`'s.

    Lower-case scheme and host, no default port, no fragment, no tracking parameters, the remaining
    query parameters sorted, percent-encoding made uniform. Raises InvalidURL like :func:`to_uri`.
    """
    uri = to_uri(url)
    parts = urlsplit(canonicalize_url(uri, keep_blank_values=True, keep_fragments=False))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    if parts.username:
        host = f"{parts.username}{':' + parts.password if parts.password else ''}@{host}"
    query = "&".join(pair for pair in parts.query.split("&") if pair and not _tracking(pair))
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def _tracking(pair: str) -> bool:
    """Is this ``name=value`` query pair a tracking parameter (``utm_*``, ``fbclid``...)?"""
    name = unquote(pair.split("=", 1)[0]).lower()
    return name in _TRACKING or name.startswith(_TRACKING_PREFIXES)


def host_of(url: str) -> str:
    """The lower-case host name (no port): the unit of politeness (one request at a time, the delay)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def site_of(url: str) -> str:
    """The site an URL belongs to: its host, lower-case, without a leading ``www.`` ("" for a malformed URL)."""
    return host_of(url).removeprefix("www.")


def origin_of(url: str) -> str:
    """``scheme://host[:port]``: the unit robots.txt applies to (RFC 9309 section 2.3)."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower().rsplit('@', 1)[-1]}"
