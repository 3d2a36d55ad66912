"""Feeds: RSS 0.9x/1.0/2.0 and Atom (feedparser, after the safexml entity check), JSON Feed, GData JSON; paging.

What a feed's ids mean for a site (its post ids, that join feed and page) is the site's declaration
(``Site.feed_ids``, read through parse/registry.py): nothing here names a site.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.sax import SAXParseException

import feedparser  # type: ignore[import-untyped]

from newsarchive.discover.safexml import honoured_encoding, refuse_entities
from newsarchive.discover.types import Candidate, Discovery, Followup, absolute_url, parse_datetime
from newsarchive.errors import ParseError

_CALLBACK = re.compile(r"^[\w.$]+\s*\((?P<body>.*)\)\s*;?\s*$", re.S)
LOGGER = logging.getLogger(__name__)
MAX_JSON = 50 * 1024 * 1024
#: Items read from one feed document; the rest is ignored (feedparser needs ~0.5 ms per item: a
#: 200,000-item feed took 95 s). Real feeds hold 10 to 500; GData feeds page at most 500 (max-results).
MAX_FEED_ITEMS = 2000
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> Discovery:
    """Any feed: JSON (JSON Feed, GData ``alt=json`` / ``json-in-script``) or XML (RSS, RDF, Atom)."""
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start in (b"{", b"[") or (start and start != b"<" and _CALLBACK.match(_text(body[:200]) + ")")):
        return parse_json(body, url)
    return parse_xml_feed(body, url, content_type)


# --- XML feeds -------------------------------------------------------------------------------------


def parse_xml_feed(body: bytes, url: str, content_type: str | None = None) -> Discovery:
    """RSS 0.9x/2.0, RSS 1.0 (RDF) or Atom via feedparser; entities are refused before it sees the bytes."""
    refuse_entities(body, "feed")
    body = _first_items(body, url)
    body, content_type = honoured_encoding(body, content_type)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    except (UnicodeError, LookupError) as exc:  # a codec feedparser trusted and that failed anyway
        raise ParseError(f"not a readable feed: its encoding does not decode ({exc})") from None
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        detail = str(reason).splitlines()[0] if reason else "no RSS, RDF or Atom root element"
        raise ParseError(f"not a readable feed: {detail}")
    feed = parsed.feed
    feed_ids = _site_ids(str(feed.get("id", "")))
    is_atom = str(parsed.get("version", "")).startswith("atom")
    candidates: list[Candidate] = []
    for entry in parsed.entries:
        cand = _xml_candidate(entry, url, feed_ids=feed_ids, is_atom=is_atom)
        if cand is not None:
            candidates.append(cand)
    broken = parsed.get("bozo_exception")
    if not candidates and isinstance(broken, SAXParseException) and not feed.get("title"):
        raise ParseError(f"feed is not well-formed XML: {str(broken).splitlines()[0]}")
    links = feed.get("links", [])
    next_url = next((str(link.get("href")) for link in links if link.get("rel") == "next" and link.get("href")), None)
    if next_url is not None:
        next_url = absolute_url(url, next_url)
    elif feed_ids or "opensearch_totalresults" in feed:
        next_url = _next_by_index(
            url, len(parsed.entries), _int(feed.get("opensearch_startindex")), _int(feed.get("opensearch_totalresults"))
        )
    followups = _next_followup(next_url, url, candidates, len(parsed.entries))
    return Discovery(kind="feed", candidates=candidates, followups=followups, feed_entries=list(parsed.entries))


def _first_items(body: bytes, url: str) -> bytes:
    """The document cut just before its item number MAX_FEED_ITEMS + 1 (feedparser reads the cut rest leniently)."""
    for number, match in enumerate(_ITEM_START.finditer(body), 1):
        if number > MAX_FEED_ITEMS:
            LOGGER.warning("%s: more than %d feed items, the rest ignored", url, MAX_FEED_ITEMS)
            return body[: match.start()]
    return body


def _entry_date(entry: Any, key: str) -> datetime | None:
    """An entry date by its own key only (dict.get skips feedparser's updated->published fallback)."""
    return parse_datetime(dict.get(entry, key)) or _from_struct(dict.get(entry, f"{key}_parsed"))


def _xml_candidate(entry: Any, base: str, *, feed_ids: dict[str, str], is_atom: bool) -> Candidate | None:
    link = _entry_link(entry)
    if link is None:
        return None
    link = absolute_url(base, link)
    if link is None:
        return None
    published = _entry_date(entry, "published") or _entry_date(entry, "created")
    updated = _entry_date(entry, "updated")
    if published is None and not is_atom:
        published = updated  # RSS <dc:date>/<pubDate> variants: the one date an item has is its publication
    extra = _entry_extra(str(entry.get("id") or ""), feed_ids)
    title = _clean(entry.get("title"))
    return Candidate(url=link, lastmod=updated, published=published, title=title, via="feed", extra=extra)


def _entry_link(entry: Any) -> str | None:
    """The entry's article URL: rel=alternate text/html first (GData feeds list replies/edit/self too)."""
    links = entry.get("links") or []
    for link in links:
        if link.get("rel") == "alternate" and link.get("href") and "html" in str(link.get("type") or "text/html"):
            return str(link["href"]).strip()
    if entry.get("link"):
        return str(entry["link"]).strip()
    guid = str(entry.get("id") or "")
    if entry.get("guidislink") and guid.startswith(("http://", "https://")):
        return guid.strip()
    return None


def _site_ids(feed_id: str) -> dict[str, str]:
    """What a feed's or entry's id says in its site's terms (``Site.feed_ids``); {} for other ids."""
    if not feed_id:
        return {}
    from newsarchive.parse import registry  # here: reading sources.toml never loads the parsers

    return registry.feed_id_extras(feed_id)


def _entry_extra(entry_id: str, feed_ids: dict[str, str]) -> dict[str, str]:
    """An entry's id, and what it (else its feed's id) says in its site's terms (the key that joins feed and page)."""
    extra: dict[str, str] = {"entry_id": entry_id} if entry_id else {}
    return extra | feed_ids | _site_ids(entry_id)


def _from_struct(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(
            f"{value.tm_year:04d}-{value.tm_mon:02d}-{value.tm_mday:02d}T"
            f"{value.tm_hour:02d}:{value.tm_min:02d}:{min(value.tm_sec, 59):02d}+00:00"
        )
    except AttributeError:
        return None


# --- JSON feeds ------------------------------------------------------------------------------------


def parse_json(body: bytes, url: str) -> Discovery:
    """JSON Feed 1.x or a GData ``alt=json`` / ``alt=json-in-script`` page."""
    if len(body) > MAX_JSON:
        raise ParseError(f"JSON feed larger than {MAX_JSON // (1024 * 1024)} MiB: refused")
    text = _text(body).strip().lstrip("\ufeff")
    match = _CALLBACK.match(text)
    if match and not text.startswith(("{", "[")):
        text = match["body"]
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not a readable JSON feed: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict) and isinstance(data.get("feed"), dict):
        return _gdata_json(data["feed"], url)
    if isinstance(data, dict) and str(data.get("version", "")).startswith("https://jsonfeed.org/version/"):
        return _json_feed(data, url)
    raise ParseError("JSON document is neither a JSON Feed nor a GData feed (alt=json)")


def _capped(items: list[Any], url: str) -> list[Any]:
    """The first MAX_FEED_ITEMS items of a JSON feed, with the warning an XML feed gives when cut."""
    if len(items) > MAX_FEED_ITEMS:
        LOGGER.warning("%s: more than %d feed items, the rest ignored", url, MAX_FEED_ITEMS)
    return items[:MAX_FEED_ITEMS]


def _json_feed(data: dict[str, Any], url: str) -> Discovery:
    items = data.get("items")
    if not isinstance(items, list):
        raise ParseError("JSON Feed has no items list")
    items = _capped(items, url)
    candidates = []
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        entries.append(item)
        link = item.get("url") or item.get("external_url")
        if not isinstance(link, str) or not link.strip():
            item_id = item.get("id")
            link = item_id if isinstance(item_id, str) and item_id.startswith(("http://", "https://")) else None
        if link is None:
            continue
        link = absolute_url(url, link)
        if link is None:
            continue
        extra = {"entry_id": str(item["id"])} if item.get("id") is not None else {}
        candidates.append(
            Candidate(
                url=link,
                lastmod=parse_datetime(item.get("date_modified")),
                published=parse_datetime(item.get("date_published")),
                title=_clean(item.get("title")),
                via="feed",
                extra=extra,
            )
        )
    next_url = data.get("next_url")
    nxt = absolute_url(url, next_url)
    return Discovery(
        kind="feed",
        candidates=candidates,
        followups=_next_followup(nxt, url, candidates, len(entries)),
        feed_entries=entries,
    )


def _t(value: Any) -> str | None:
    """GData JSON text value: ``{"$t": "..."}`` -> str."""
    if isinstance(value, dict):
        value = value.get("$t")
    return str(value) if value is not None else None


def _gdata_json(feed: dict[str, Any], url: str) -> Discovery:
    entries = feed.get("entry") or []
    if not isinstance(entries, list):
        entries = [entries]
    entries = _capped(entries, url)
    feed_ids = _site_ids(_t(feed.get("id")) or "")
    candidates = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        links: list[Any] = entry["link"] if isinstance(entry.get("link"), list) else []
        link = next(
            (
                str(lk["href"])
                for lk in links
                if isinstance(lk, dict) and lk.get("rel") == "alternate" and lk.get("href")
            ),
            None,
        )
        if link is None:
            continue
        link = absolute_url(url, link)
        if link is None:
            continue
        extra = _entry_extra(_t(entry.get("id")) or "", feed_ids)
        candidates.append(
            Candidate(
                url=link,
                lastmod=parse_datetime(_t(entry.get("updated"))),
                published=parse_datetime(_t(entry.get("published"))),
                title=_clean(_t(entry.get("title"))),
                via="feed",
                extra=extra,
            )
        )
    feed_links: list[Any] = feed["link"] if isinstance(feed.get("link"), list) else []
    next_url = next(
        (str(lk["href"]) for lk in feed_links if isinstance(lk, dict) and lk.get("rel") == "next" and lk.get("href")),
        None,
    )
    if next_url is not None:
        next_url = absolute_url(url, next_url)
    else:
        next_url = _next_by_index(
            url,
            len(entries),
            _int(_t(feed.get("openSearch$startIndex"))),
            _int(_t(feed.get("openSearch$totalResults"))),
        )
    return Discovery(
        kind="feed",
        candidates=candidates,
        followups=_next_followup(next_url, url, candidates, len(entries)),
        feed_entries=[e for e in entries if isinstance(e, dict)],
    )


# --- paging ----------------------------------------------------------------------------------------


def _next_by_index(url: str, returned: int, start_index: int | None, total: int | None) -> str | None:
    """GData/OpenSearch paging: start-index += entries returned; stop on an empty page or past the total."""
    if returned <= 0:
        return None
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    current = start_index
    if current is None:
        current = next((_int(v) for k, v in query if k == "start-index"), None) or 1
    nxt = current + returned
    if total is not None and nxt > total:
        return None
    query = [(k, v) for k, v in query if k != "start-index"] + [("start-index", str(nxt))]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _next_followup(next_url: str | None, url: str, candidates: list[Candidate], returned: int) -> list[Followup]:
    """The next page as a feed followup; its period ends at this page's oldest date when pages go newest first."""
    if not next_url or returned == 0 or next_url == url:
        return []
    dates = [c.published or c.lastmod for c in candidates]
    period: tuple[date, date] | None = None
    known = [d for d in dates if d is not None]
    if known and len(known) == len(dates) and all(a >= b for a, b in pairwise(known)):
        period = (date(1970, 1, 1), known[-1].date())
    return [Followup(url=next_url, kind="feed", period=period)]


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None


def _text(body: bytes) -> str:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body.decode("utf-16", "replace")
    return body.decode("utf-8", "replace")
