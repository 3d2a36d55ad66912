"""Sources to ingest: the TOML config (in the archive or --config), built-in defaults, validation."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from newsarchive.config import PROJECT_URL, USER_AGENT
from newsarchive.errors import UsageError

CONFIG_NAME = "sources.toml"

#: The head of the built-in sources (used when the archive has no sources.toml and no --config is given);
#: the sources themselves are the default sources the sites declare (parse/registry.py).
_BUILTIN_SETTINGS_TOML = """\
# newsarchive sources: edit freely, or use `newsarchive sources add URL`.
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


def __getattr__(name: str) -> str:
    if name == "BUILTIN_SOURCES_TOML":  # built on first use (it reads the parsers' declarations)
        return builtin_sources_toml()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Settings:
    """Run-wide settings; every source may override delay and max_pages."""

    delay: float = 1.0
    max_pages: int = 200
    user_agent: str = USER_AGENT
    contact: str = PROJECT_URL
    timeout: float = 30.0
    retries: int = 3
    max_discovery_docs: int = 200
    #: Fetch from private/loopback addresses too: true, or a list of networks (e.g. ["10.0.0.0/8"]) for a local mirror.
    allow_private: bool | list[str] | None = None


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


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def parse_config(text: str, path: Path | None) -> SourceConfig:
    """Validate a sources TOML document; every mistake is a UsageError naming the file and key."""
    where = str(path) if path else "built-in sources"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where}: not valid TOML ({exc})") from exc
    raw_settings = data.get("settings", {})
    if not isinstance(raw_settings, dict):
        raise UsageError(f"{where}: [settings] must be a table")
    allowed = set(Settings.__dataclass_fields__)
    unknown = set(raw_settings) - allowed
    if unknown:
        raise UsageError(
            f"{where}: unknown setting {sorted(unknown)[0]!r}", hint=f"known: {', '.join(sorted(allowed))}"
        )
    try:
        settings = replace(Settings(), **raw_settings)
    except TypeError as exc:
        raise UsageError(f"{where}: bad [settings]: {exc}") from exc
    if settings.delay < 0 or settings.max_pages < 0:
        raise UsageError(f"{where}: delay and max_pages must not be negative")
    if isinstance(settings.allow_private, list):
        try:
            for net in settings.allow_private:
                ipaddress.ip_network(net, strict=False)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{where}: allow_private holds a bad network: {exc}", hint='e.g. ["10.0.0.0/8"]') from exc
    sources = []
    for i, item in enumerate(data.get("source", [])):
        if not isinstance(item, dict):
            raise UsageError(f"{where}: [[source]] #{i + 1} must be a table")
        name = item.get("name")
        start = item.get("start")
        if not isinstance(name, str) or not _NAME.match(name):
            raise UsageError(f"{where}: [[source]] #{i + 1} needs a name of letters, digits, '.', '_' or '-'")
        if isinstance(start, str):
            start = [start]
        if not isinstance(start, list) or not start or not all(isinstance(u, str) and "://" in u for u in start):
            raise UsageError(f"{where}: source {name!r} needs start = [absolute URLs of feeds, sitemaps or pages]")
        extra = {k: v for k, v in item.items() if k not in Source.__dataclass_fields__}
        sources.append(
            Source(
                name=name,
                start=tuple(start),
                parser=item.get("parser"),
                delay=item.get("delay"),
                max_pages=item.get("max_pages"),
                link_patterns=tuple(item.get("link_patterns", ())),
                extra=extra,
            )
        )
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise UsageError(f"{where}: two sources share a name")
    return SourceConfig(settings, tuple(sources), path)


def load_config(archive_root: Path, config: Path | None = None) -> SourceConfig:
    """--config FILE, else <archive>/sources.toml, else the built-in defaults."""
    path = config or archive_root / CONFIG_NAME
    if config is None and not path.exists():
        return parse_config(builtin_sources_toml(), None)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the config {path}: {exc.strerror}") from exc
    return parse_config(text, path)


def save_sources(path: Path, settings: Settings, sources: tuple[Source, ...]) -> None:
    """Write the config atomically (temp file + rename)."""
    defaults = Settings()
    data: dict[str, Any] = {
        "settings": {
            k: v for k, v in vars(settings).items() if getattr(defaults, k) != v or k in ("delay", "max_pages")
        },
        "source": [s.to_toml() for s in sources],
    }
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("# newsarchive sources (see docs/cron.md)\n" + tomli_w.dumps(data), "utf-8")
    tmp.replace(path)
