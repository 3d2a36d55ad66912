"""Every example in every --help, in README.md and in docs/*.md runs as written against the tour archive.

The examples are extracted, not copied: a new or changed example is tested as soon as it is written.
The tour archive (README, "A five-minute tour") is built once for the module; each example then runs
in bash, in a scratch directory where ``fixtures/`` is the repository's, with ``NEWSARCHIVE_HOME``
set to the tour archive and ``newsarchive`` on the PATH as this checkout's code. Examples that need the
web are listed in NETWORK_ONLY with the reason; proxies to a closed port make sure nothing else can
reach it. Each must exit 0 unless EXPECTED_STATUS documents otherwise.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT

from newsarchive.cli import cli

TOUR_WARC = FIXTURES / "tour" / "example-news.warc.gz"

#: Subcommands whose examples fetch from the web, and why they are not run here.
NETWORK_ONLY = {
    "ingest": "reads the configured sources (english.almayadeen.net's sitemap) from the web",
    "fetch": "downloads the page from english.almayadeen.net",
    "sources add": "fetches the URL to detect whether it is a site, a blog, a feed or a sitemap",
    "wget": "wget downloads a site from the web before import-warc reads its WARC file",
    "pip install": "installs from the package index",
    "postgresql://": "needs a PostgreSQL server (tests/test_store_migrate.py runs them on a throwaway one)",
    "s3://": "needs object storage (tests/test_warc_location.py runs against moto's S3 server on 127.0.0.1)",
}

#: Examples documented to end with another status than 0 (none today).
EXPECTED_STATUS: dict[str, int] = {}


@dataclass(frozen=True)
class Example:
    origin: str  # where it was written: "search --help", "README.md", ...
    command: str  # the shell command, continuation lines joined

    @property
    def network_reason(self) -> str | None:
        words = self.command.split("#", 1)[0]
        for key, reason in NETWORK_ONLY.items():
            if re.search(rf"(^|&&\s*|\s)(newsarchive\s+(-\w+\s+)*)?{re.escape(key)}\b", words) and (
                key in ("wget", "pip install") or "newsarchive" in words
            ):
                return reason
        return None


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    yield prefix.strip() or "newsarchive", group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}".strip(), command


def _help_examples() -> list[Example]:
    """The lines of the Example(s)/Quick start blocks of every --help (click's raw help text)."""
    out = []
    for name, command in _commands(cli):
        lines = (command.help or "").splitlines()
        inside = False
        for line in lines:
            text = line.strip()
            if re.match(r"^(Examples?|Quick start):$", text):
                inside = True
                continue
            if inside and not text:
                inside = False
            if inside and "newsarchive" in text and text != "\b":
                out.append(Example(f"{name} --help", text))
    return out


def _doc_examples() -> list[Example]:
    """Lines of fenced code blocks in README.md and docs/*.md that run newsarchive (cron lines and
    ExecStart= included); ``export NEWSARCHIVE_HOME=...`` is the fixture's business."""
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text("utf-8")
        for block in re.findall(r"^```[\w-]*\n(.*?)^```", text, re.M | re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip()
                line = re.sub(r"^(\S+\s+){5}(?=newsarchive )", "", line)  # a crontab line: its command
                line = re.sub(r"^ExecStart=\S*?newsarchive ", "newsarchive ", line)
                line = re.sub(r"^\$\s+", "", line)
                if re.search(r"(^|&&\s*)newsarchive\s", line):
                    out.append(Example(path.relative_to(ROOT).as_posix(), " ".join(line.split())))
    return out


EXAMPLES = _help_examples() + _doc_examples()


def _id(example: Example) -> str:
    return f"{example.origin}: {example.command[:70]}"


#: What an example assumes that the tour archive lacks: a file of your own, a source you added.
def _page_html(work: Path, env: dict[str, str]) -> None:
    (work / "page.html").write_bytes((FIXTURES / "sites" / "almayadeen" / "crimea.html").read_bytes())


def _example_source(work: Path, env: dict[str, str]) -> None:
    config = Path(env["NEWSARCHIVE_HOME"]) / "sources.toml"
    text = config.read_text("utf-8") if config.exists() else ""
    if 'name = "example"' not in text:
        if not text:
            text = (
                '[[source]]\nname = "almayadeen-en"\n'
                'start = ["https://english.almayadeen.net/sitemaps/all.xml"]\nparser = "almayadeen"\n'
            )
        config.write_text(text + '\n[[source]]\nname = "example"\nstart = ["https://example.com/feed.xml"]\n', "utf-8")


SETUP: dict[str, Callable[[Path, dict[str, str]], None]] = {
    "newsarchive parse page.html": _page_html,  # "a saved HTML page": the user's own file
    "newsarchive sources remove example": _example_source,  # what `sources add ... --name example` adds
}


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The README's tour archive, built once; a scratch working directory; ``newsarchive`` on the PATH."""
    base = tmp_path_factory.mktemp("help-examples")
    work, bindir, home = base / "work", base / "bin", base / "tour-archive"
    work.mkdir()
    bindir.mkdir()
    (work / "fixtures").symlink_to(FIXTURES)
    shim = bindir / "newsarchive"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m newsarchive "$@"\n', "utf-8")
    shim.chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")},
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "NEWSARCHIVE_HOME": str(home),
        "NO_COLOR": "1",
        # Nothing here may reach the web: a request would fail at once on a closed port.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        ["newsarchive", "import-warc", "fixtures/tour/example-news.warc.gz"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return work, env


def test_examples_are_found_in_every_place_that_has_them() -> None:
    origins = {e.origin for e in EXAMPLES}
    for place in ("newsarchive --help", "search --help", "export --help", "show --help", "stats --help",
                  "sources --help", "parse --help", "README.md", "docs/search.md"):  # fmt: skip
        assert place in origins, place
    assert not [e for e in EXAMPLES if "..." in e.command], "an example must run as written, not elide"


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.network_reason], ids=_id)
def test_network_examples_are_listed_with_a_reason(example: Example) -> None:
    assert example.network_reason


def _argv(command: str) -> list[str] | None:
    """The words of a plain ``newsarchive ...`` command (a comment and one ``> FILE`` allowed); None: needs bash."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    if words[:1] != ["newsarchive"] or any(w in ("&&", "||", "|", ";", "<", ">>") for w in words):
        return None
    return words


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not e.network_reason], ids=_id)
def test_the_example_runs_as_written(
    tour: tuple[Path, dict[str, str]], example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, env = tour
    for prefix, setup in SETUP.items():
        if example.command.startswith(prefix):
            setup(work, env)
    expected = EXPECTED_STATUS.get(example.command, 0)
    words = _argv(example.command)
    if words is None:  # shell syntax: bash runs it
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", example.command],
            cwd=work, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == expected, f"{example.origin}: {example.command}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr
        return
    # In this process (a second per example saved): the same words bash would pass, stdout to the > file.
    target = None
    if ">" in words:
        at = words.index(">")
        words, target = words[:at] + words[at + 2 :], words[at + 1]
    monkeypatch.chdir(work)
    result = CliRunner().invoke(cli, words[1:], env={k: env[k] for k in ("NEWSARCHIVE_HOME", "NO_COLOR")})
    assert result.exception is None or isinstance(result.exception, SystemExit), (example.command, result.exception)
    assert result.exit_code == expected, f"{example.origin}: {example.command}\n{result.stderr[-2000:]}"
    if target is not None:
        (work / target).write_bytes(result.stdout_bytes)


@pytest.mark.parametrize("name", [name for name, _ in _commands(cli)])
def test_every_help_prints_and_exits_0(name: str) -> None:
    words = [] if name == "newsarchive" else name.split()
    result = CliRunner().invoke(cli, [*words, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.stdout
