"""Sources to ingest: the TOML config (in the archive or --config), built-in defaults, validation."""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from newsarchive.config import PROJECT_URL, USER_AGENT
from newsarchive.errors import UsageError
from newsarchive.fetch.urls import InvalidURL, to_uri

CONFIG_NAME = "sources.toml"

#: Where every key of sources.toml is explained.
DOCS_URL = f"{PROJECT_URL}/blob/main/docs/sources.md"
#: The head of the built-in sources (used when the archive has no sources.toml and no --config is given);
#: the sources themselves are the default sources the sites declare (parse/registry.py).
_BUILTIN_SETTINGS_TOML = f"""\
# newsarchive sources: edit freely, or use `newsarchive sources add URL`. Every key: {DOCS_URL}
[settings]
delay = 1.0            # seconds between two requests to one host (robots.txt Crawl-delay wins if larger)
max_pages = 200        # article pages fetched per source per run (backfill with --since ignores it)
"""


def builtin_sources_toml() -> str:
    """The built-in sources.toml: the settings above and every site's declared default source."""
    from newsarchive.parse import registry  # here: every command imports this module, few need the parsers

    blocks = [
        "\n[[source]]\n" + tomli_w.dumps({"name": d.name, "start": list(d.start), "parser": site.name})
        for site, d in registry.default_sources()
    ]
    return _BUILTIN_SETTINGS_TOML + "".join(blocks)


@dataclass(frozen=True)
class Settings:
    """Run-wide settings; every source may override delay and max_pages. Keys, types, ranges: docs/sources.md."""

    delay: float = 1.0
    max_pages: int = 200
    user_agent: str = USER_AGENT
    contact: str = PROJECT_URL
    timeout: float = 30.0
    retries: int = 3
    max_discovery_docs: int = 200
    #: Fetch from private/loopback addresses too: true, or a list of networks (e.g. ["10.0.0.0/8"]) for a local mirror.
    allow_private: bool | list[str] | None = None
    #: A robots.txt Crawl-delay above this many seconds skips the host for the run (with a warning).
    max_crawl_delay: float = 60.0
    #: A Retry-After above this many seconds is not waited for: the page is retried on a later run.
    max_retry_after: float = 120.0
    #: The article store (store/backend.py): None is the archive's store.sqlite; --store and $NEWSARCHIVE_STORE win.
    store: str | None = None
    #: Where WARC files go (archive/warcfs.py): None is the archive's warc/; --warc and $NEWSARCHIVE_WARC win.
    warc: str | None = None
    #: Which search answers (index/backend.py): None is "auto"; $NEWSARCHIVE_SEARCH wins.
    search: str | None = None


@dataclass(frozen=True)
class Source:
    name: str
    start: tuple[str, ...]
    parser: str | None = None
    delay: float | None = None
    max_pages: int | None = None
    link_patterns: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_toml(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "start": list(self.start)}
        if self.parser:
            data["parser"] = self.parser
        if self.delay is not None:
            data["delay"] = self.delay
        if self.max_pages is not None:
            data["max_pages"] = self.max_pages
        if self.link_patterns:
            data["link_patterns"] = list(self.link_patterns)
        return data


@dataclass(frozen=True)
class SourceConfig:
    settings: Settings
    sources: tuple[Source, ...]
    path: Path | None  # None: the built-in defaults

    def named(self, names: tuple[str, ...]) -> tuple[Source, ...]:
        if not names:
            return self.sources
        known = {s.name: s for s in self.sources}
        missing = [n for n in names if n not in known]
        if missing:
            raise UsageError(f"no source named {missing[0]!r}", hint=f"known sources: {', '.join(known) or 'none'}")
        return tuple(known[n] for n in names)


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # fullmatch: "$" would let "name\n" through
_TEXT = re.compile(r"[\x20-\x7e]*")  # a header value: printable ASCII, no CR/LF


@dataclass(frozen=True)
class Key:
    """One key of sources.toml: its type, default and allowed range (docs/sources.md is checked against these)."""

    kind: str  # "number" | "integer" | "text" | "networks" | "name" | "urls" | "patterns" | "parser" | "location"
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is not allowed (timeout > 0)
    help: str = ""


SETTING_KEYS: dict[str, Key] = {
    "delay": Key("number", 0, 3600, help="seconds between two requests to one host (a larger Crawl-delay wins)"),
    "max_pages": Key("integer", 0, 1_000_000, help="article pages fetched per source per run"),
    "user_agent": Key("text", 1, 512, help="the User-Agent header of every request and the robots.txt agent"),
    "contact": Key("text", 0, 512, help="appended to the User-Agent (a URL or e-mail address)"),
    "timeout": Key("number", 0, 600, low_open=True, help="seconds to wait for a connection or for data"),
    "retries": Key("integer", 0, 10, help="retries of a 429/5xx answer, with growing backoff"),
    "max_discovery_docs": Key("integer", 1, 100_000, help="feeds, sitemaps and listings read per source per run"),
    "allow_private": Key("networks", help="true, false, or a list of IP networks that may be fetched"),
    "max_crawl_delay": Key("number", 0, 86_400, help="a larger robots.txt Crawl-delay skips the host this run"),
    "max_retry_after": Key("number", 0, 86_400, help="a larger Retry-After is not waited for this run"),
    "store": Key("store", help='the article store: "postgresql://..." or "sqlite:PATH" (docs/scale-out.md)'),
    "warc": Key("location", help='where WARC files go: a directory or "s3://bucket/prefix" (default: warc/)'),
    "search": Key("search", help='which search answers: "auto", "whoosh" or "postgresql" (docs/scale-out.md)'),
}
SOURCE_KEYS: dict[str, Key] = {
    "name": Key("name", help="letters, digits, '.', '_', '-'; at most 64; unique"),
    "start": Key("urls", help="feeds, sitemaps, robots.txt or listing pages the source is read from"),
    "parser": Key("parser", help="force a parser by name (default: chosen per page)"),
    "delay": SETTING_KEYS["delay"],
    "max_pages": SETTING_KEYS["max_pages"],
    "link_patterns": Key("patterns", help="regular expressions of article URLs on listing pages"),
}
#: At most this many start URLs per source.
MAX_START_URLS = 100


def validate_name(name: object) -> str | None:
    """Why ``name`` cannot name a source (None: it can). The one rule for load, ``add --name`` and renames."""
    if not isinstance(name, str):
        return "a source name must be a text"
    if not _NAME.fullmatch(name):
        return (
            f"{name!r} is not a source name: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return None


class _Lines:
    """Where a key is assigned in the TOML text, so that a mistake names its line."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(?:#.*)?$")
    _ASSIGN = re.compile(r"^\s*([\"']?)([A-Za-z0-9_-]+)\1\s*=")

    def __init__(self, text: str) -> None:
        self.where: dict[tuple[str, int, str], int] = {}
        self.tables: dict[tuple[str, int], int] = {}
        section, index = "", 0
        counts: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            header = self._HEADER.match(line)
            if header:
                section = header[2].strip("\"' ")
                if header[1] == "[[":
                    counts[section] = counts.get(section, 0) + 1
                index = counts.get(section, 0)
                self.tables.setdefault((section, index), number)
                continue
            assign = self._ASSIGN.match(line)
            if assign:
                self.where.setdefault((section, index, assign[2]), number)

    def key(self, section: str, index: int, key: str) -> str:
        number = self.where.get((section, index, key))
        return f"line {number}: " if number else ""

    def table(self, section: str, index: int) -> str:
        number = self.tables.get((section, index))
        return f"line {number}: " if number else ""


def _check(value: Any, key: str, spec: Key, say: str) -> Any:
    """The value of one key, checked against its spec; a UsageError that says what is wrong otherwise."""
    if spec.kind in ("number", "integer"):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (spec.kind == "integer" and not isinstance(value, int))
        ):
            want = "a whole number" if spec.kind == "integer" else "a number"
            raise UsageError(f"{say}{key} = {_shown(value)}: must be {want}", hint=_range_hint(key, spec))
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{say}{key} = {value}: must be a finite number", hint=_range_hint(key, spec))
        assert spec.low is not None and spec.high is not None
        if value < spec.low or (spec.low_open and value == spec.low) or value > spec.high:
            raise UsageError(f"{say}{key} = {value}: out of range", hint=_range_hint(key, spec))
        return float(value) if spec.kind == "number" else value
    if spec.kind == "text":
        if not isinstance(value, str):
            raise UsageError(f"{say}{key} = {_shown(value)}: must be a text in quotes")
        assert spec.low is not None and spec.high is not None
        if not _TEXT.fullmatch(value) or not spec.low <= len(value) <= spec.high:
            raise UsageError(
                f"{say}{key}: must be {int(spec.low)} to {int(spec.high)} printable ASCII characters (an HTTP header)"
            )
        return value
    if spec.kind == "location":
        if not isinstance(value, str) or not value.strip() or len(value) > 4096 or not value.isprintable():
            raise UsageError(
                f"{say}{key} = {_shown(value)}: must be a directory or an s3://bucket/prefix URL in quotes",
                hint=f'e.g. {key} = "/mnt/shared/warc" or {key} = "s3://news-warc/archive" (docs/sources.md)',
            )
        from newsarchive.archive.warcfs import parse_location

        parse_location(value, base=Path("."), what=f"{say}{key}")
        return value
    if spec.kind == "networks":
        if isinstance(value, bool):
            return value
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            raise UsageError(f"{say}{key}: must be true, false or a list of networks", hint='e.g. ["10.0.0.0/8"]')
        for net in value:
            try:
                ipaddress.ip_network(net.strip(), strict=False)
            except ValueError as exc:
                raise UsageError(f"{say}{key} holds a bad network: {exc}", hint='e.g. ["10.0.0.0/8"]') from exc
        return value
    if spec.kind == "store":
        from newsarchive.store.backend import parse_store_spec

        if not isinstance(value, str):
            raise UsageError(f'{say}{key} = {_shown(value)}: must be a text in quotes, e.g. "postgresql://host/news"')
        parse_store_spec(value, what=f"{say}{key}")
        return value
    if spec.kind == "search":
        from newsarchive.index.backend import search_setting

        if not isinstance(value, str):
            raise UsageError(f'{say}{key} = {_shown(value)}: must be a text in quotes, e.g. "whoosh"')
        search_setting(value, what=f"{say}{key}")
        return value
    if spec.kind == "name":
        problem = validate_name(value)
        if problem:
            raise UsageError(f"{say}name: {problem}")
        return value
    if spec.kind == "urls":
        urls = [value] if isinstance(value, str) else value
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise UsageError(f"{say}start: must be a list of absolute URLs of feeds, sitemaps or pages")
        if len(urls) > MAX_START_URLS:
            raise UsageError(f"{say}start: more than {MAX_START_URLS} URLs")
        for url in urls:
            try:
                to_uri(url)
            except InvalidURL as exc:
                raise UsageError(f"{say}start: {exc}", hint="start URLs are absolute http(s) URLs") from None
        return tuple(urls)
    if spec.kind == "parser":
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise UsageError(f'{say}parser = {_shown(value)}: must be a parser name such as "blogger"')
        return value
    if spec.kind == "patterns":
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise UsageError(f"{say}link_patterns: must be a list of regular expressions in quotes")
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise UsageError(f"{say}link_patterns: {pattern!r} is not a regular expression ({exc})") from None
        return tuple(value)
    raise AssertionError(spec.kind)


def _shown(value: Any) -> str:
    """The value as TOML writes it (true, "text", ["a"]), not as Python prints it (True, 'text', ['a'])."""
    if isinstance(value, bool | str | list | dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _num(value: float | None) -> str:
    assert value is not None
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _range_hint(key: str, spec: Key) -> str:
    if spec.low_open:
        return f"{key} must be above {_num(spec.low)} and at most {_num(spec.high)} (docs/sources.md)"
    return f"{key} must be from {_num(spec.low)} to {_num(spec.high)} (docs/sources.md)"


def _unknown(key: str, known: dict[str, Key], say: str) -> UsageError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return UsageError(f"{say}unknown key {key!r}", hint=f"{hint} (docs/sources.md)")


def _known_value(key: str, value: Any, known: dict[str, Key], say: str) -> Any:
    """The value of a key of a [settings] or [[source]] table, checked; an unknown key is an error too."""
    if key not in known:
        raise _unknown(key, known, say)
    return _check(value, key, known[key], say)


def parse_config(text: str, path: Path | None) -> SourceConfig:
    """Validate a whole sources TOML document; every mistake is a UsageError naming the file, line and key."""
    where = str(path) if path else "built-in sources"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where}: not valid TOML ({exc})", hint="see docs/sources.md for the format") from exc
    lines = _Lines(text)
    for key in data:
        if key not in ("settings", "source"):
            moved = f"; {key} is a [settings] key" if key in SETTING_KEYS else ""
            raise UsageError(
                f"{where}: {lines.key('', 0, key) or lines.table(key, 0)}unknown table or key {key!r}{moved}",
                hint="sources.toml holds a [settings] table and [[source]] tables (docs/sources.md)",
            )
    raw_settings = data.get("settings", {})
    if not isinstance(raw_settings, dict):
        raise UsageError(f"{where}: {lines.key('', 0, 'settings')}settings must be a [settings] table")
    values = {
        key: _known_value(key, value, SETTING_KEYS, f"{where}: {lines.key('settings', 0, key)}[settings] ")
        for key, value in raw_settings.items()
    }
    settings = replace(Settings(), **values)
    raw_sources = data.get("source", [])
    if not isinstance(raw_sources, list):
        raise UsageError(f"{where}: {lines.key('', 0, 'source')}sources must be [[source]] tables")
    sources = []
    for i, item in enumerate(raw_sources):
        label = f"[[source]] #{i + 1}"
        if not isinstance(item, dict):
            raise UsageError(f"{where}: {label} must be a table")
        if validate_name(item.get("name")) is None:
            label = f"[[source]] {item['name']!r}"
        at = lines.table("source", i + 1)  # the [[source]] header line
        fields = {
            key: _known_value(key, value, SOURCE_KEYS, f"{where}: {lines.key('source', i + 1, key) or at}{label} ")
            for key, value in item.items()
        }
        for required in ("name", "start"):
            if required not in fields:
                raise UsageError(
                    f"{where}: {at}{label} needs {required} = ...",
                    hint='e.g. name = "example" and start = ["https://example.com/feed.xml"]',
                )
        sources.append(Source(**fields))
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise UsageError(f"{where}: two sources share the name {source.name!r}", hint="names must be unique")
        seen.add(source.name)
    return SourceConfig(settings, tuple(sources), path)


_WARC_KEY = re.compile(rb"(?m)^\s*[\"']?warc[\"']?\s*=")


def configured_warc(archive_root: Path) -> str | None:
    """The ``warc`` setting of the archive's own sources.toml, or None (checked as the whole file is)."""
    try:
        data = (archive_root / CONFIG_NAME).read_bytes()
    except OSError:
        return None
    if not _WARC_KEY.search(data):
        return None  # the common case: no TOML parsed, no parser loaded
    return load_config(archive_root).settings.warc


def load_config(archive_root: Path, config: Path | None = None) -> SourceConfig:
    """--config FILE, else <archive>/sources.toml, else the built-in defaults."""
    path = config or archive_root / CONFIG_NAME
    if config is None and not path.exists():
        return parse_config(builtin_sources_toml(), None)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise UsageError(f"cannot read the config {path}: it is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read the config {path}: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(
            f"{path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x})",
            hint="TOML files are UTF-8; save the file as UTF-8",
        ) from None
    return parse_config(text.removeprefix("\ufeff"), path)


#: The first line of a written sources.toml: where every key is explained.
HEADER = f"# newsarchive sources: every key, its type, default and range: {DOCS_URL}\n"


def save_sources(path: Path, settings: Settings, sources: tuple[Source, ...]) -> None:
    """Write the config atomically (temp file + rename)."""
    defaults = Settings()
    data: dict[str, Any] = {
        "settings": {
            k: v
            for k, v in vars(settings).items()
            if v is not None and (getattr(defaults, k) != v or k in ("delay", "max_pages"))
        },
        "source": [s.to_toml() for s in sources],
    }
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(HEADER + tomli_w.dumps(data), "utf-8")
    tmp.replace(path)


def unique_name(base: str, url: str, taken: set[str]) -> str:
    """A name for a new source that no other source has: ``base``, else ``base-<first path part>``, else
    ``base-2``, ``base-3``... (two sections or two ports of one site both start from the host's name)."""
    if base not in taken:
        return base
    from urllib.parse import urlsplit

    parts = [p for p in urlsplit(url).path.split("/") if p]
    if parts:
        stem = re.sub(r"\.(xml|rss|atom|json|html?|php|gz)$", "", parts[0].lower())
        section = re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-._")
        if section:
            candidate = f"{base[: 63 - len(section)]}-{section}"[:64]
            if validate_name(candidate) is None and candidate not in taken:
                return candidate
    for n in range(2, 10_000):
        candidate = f"{base[: 64 - len(str(n)) - 1]}-{n}"
        if candidate not in taken:
            return candidate
    raise UsageError(f"no free name for a source from {base!r}", hint="pass --name")


def check_parsers(sources: tuple[Source, ...]) -> None:
    """Each source's ``parser`` names a parser, or UsageError: ingest and `sources list` refuse alike."""
    from newsarchive.parse.registry import parser_by_name

    for source in sources:
        if source.parser:
            try:
                parser_by_name(source.parser)
            except UsageError as exc:
                raise UsageError(f"source {source.name!r}: {exc.message}", hint=exc.hint) from None
