"""Issue 12, class 4: nothing from a page reaches a terminal or a spreadsheet as control.

One page on a real 127.0.0.1 server carries OSC/CSI escapes, BEL, C1 CSI and NEL and bidi overrides
in every field (lang, canonical URL, image URL, author, section, tags, headline, body) and formula
starters in the cells a spreadsheet reads; every output is checked. Then ``export -o`` onto a symlink
into another file system, a dangling one, a full device.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_kit import CONTROLS, body, run
from server import FixtureServer

EVIL = "\x1b]0;pwn\x07\u202eevil\u2066\x9b31m\x85"


def evil_page(url: str) -> bytes:
    return f"""<html lang="en{EVIL}"><head><title>Title {EVIL}</title>
<link rel="canonical" href="{url}?x={EVIL}"><meta property="og:image" content="/img{EVIL}.png">
<meta name="author" content="Auth {EVIL}"><meta property="article:section" content="Sec {EVIL}">
<meta property="article:tag" content="Tag {EVIL}"><meta property="article:tag" content="=HYPERLINK(&quot;http://x&quot;)">
<meta name="description" content="+cmd|' /C calc'!A0">
<meta property="article:published_time" content="2024-03-05T07:15:00Z">
</head><body><article><h1>Head {EVIL}</h1><p>{"Body text about fuel prices. " * 20}{EVIL}</p>
<p>@SUM(1+1) -2+3</p></article></body></html>""".encode()


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    tmp = tmp_path_factory.mktemp("hostile-output")
    server = FixtureServer(tmp).start()
    url = server.url("/evil.html")
    server.routes["/evil.html"] = body(evil_page(url))
    archive = tmp / "a"
    env = {"NEWSARCHIVE_ALLOW_PRIVATE": "1"}
    result = run(archive, "fetch", url, env=env)
    server.stop()
    assert result.code == 0, result.err
    yield archive, url


@pytest.mark.parametrize(
    "args",
    [
        ["search", "fuel"],
        ["search", "fuel", "--json"],
        ["search", "fuel", "--jsonl"],
        ["search", "fuel", "--facets"],
        ["search", "fuel", "--json", "--facets"],
        ["search", "--histogram"],
        ["search", "fuel", "--tag", "Tag evil"],
        ["search", "fuel", "--tag", f"Tag {EVIL}"],
        ["search", f"evil{EVIL}"],
        ["show", "URL"],
        ["show", "URL", "--json"],
        ["show", "URL", "--json", "--history"],
        ["show", f"nothing{EVIL}"],
        ["stats"],
        ["stats", "--json"],
        ["export", "--jsonl"],
        ["export", "--csv"],
        ["reparse", "--diff"],
        ["sources", "list"],
    ],
)
def test_no_control_character_from_a_page_reaches_any_output(evil: tuple[Path, str], args: list[str]) -> None:
    archive, url = evil
    result = run(archive, *[url if a == "URL" else a for a in args])
    assert not result.crashed, result.err
    assert not CONTROLS & set(result.out), sorted(CONTROLS & set(result.out))
    assert not CONTROLS & set(result.err), sorted(CONTROLS & set(result.err))


def test_every_field_that_carried_controls_is_stored_clean(evil: tuple[Path, str]) -> None:
    archive, url = evil
    data = json.loads(run(archive, "show", url, "--json").out)
    for field in ("lang", "canonical_url", "headline", "section", "body", "description"):
        assert not CONTROLS & set(str(data[field] or "")), field
    for listed in ("byline", "tags"):
        assert all(not CONTROLS & set(v) for v in data[listed]), listed
    assert all(not CONTROLS & set(i["url"]) for i in data["images"])


def test_json_output_escapes_what_it_cannot_drop(evil: tuple[Path, str]) -> None:
    archive, _ = evil
    out = run(archive, "export", "--jsonl").out
    assert all(ord(ch) < 0x80 or ch.isprintable() for ch in out.replace("\n", ""))


def test_no_csv_cell_starts_a_formula(evil: tuple[Path, str]) -> None:
    archive, _ = evil
    rows = list(csv.reader(io.StringIO(run(archive, "export", "--csv").out)))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'+cmd|' /C calc'!A0" in cells  # the description, neutralised
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_csv_formulas_flag_keeps_them_as_written(evil: tuple[Path, str]) -> None:
    archive, _ = evil
    out = run(archive, "export", "--csv", "--csv-formulas").out
    assert "+cmd|" in out and "'+cmd|" not in out


# --- export -o ------------------------------------------------------------------------------------


def leftovers(*dirs: Path) -> list[str]:
    return [p.name for d in dirs for p in d.iterdir() if "atomic" in p.name or p.name.startswith(".")]


def test_export_onto_a_symlink_into_another_file_system_writes_its_target(
    evil: tuple[Path, str], tmp_path: Path, other_fs: Path
) -> None:
    archive, _ = evil
    target = other_fs / "out.jsonl"
    target.write_text("old", "utf-8")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    result = run(archive, "export", "--jsonl", "-o", str(link))
    assert result.code == 0, result.err
    assert link.is_symlink() and json.loads(target.read_text("utf-8").splitlines()[0])["headline"]
    assert leftovers(tmp_path, other_fs) == []


def test_export_onto_a_dangling_symlink_into_another_file_system_leaves_no_temporary_file(
    evil: tuple[Path, str], tmp_path: Path, other_fs: Path
) -> None:
    archive, _ = evil
    link = tmp_path / "link.jsonl"
    link.symlink_to(other_fs / "new.jsonl")
    result = run(archive, "export", "--jsonl", "-o", str(link))
    assert result.code in (0, 2) and not result.crashed, result.err
    assert leftovers(tmp_path, other_fs) == []


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_export_onto_a_device_writes_or_fails_in_one_line(evil: tuple[Path, str], device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    archive, _ = evil
    result = run(archive, "export", "--jsonl", "-o", device)
    assert not result.crashed, result.err
    assert result.code == (0 if device == "/dev/null" else result.code)
    if device == "/dev/full":
        assert result.code in (1, 2) and "No space" in result.err
    assert leftovers(Path("/dev")) == [] or all(not n.startswith(".__atomic") for n in leftovers(Path("/dev")))
