"""docs/cron.md's crontab line and systemd ExecStart, run as written against a local fixture site."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT
from server import FixtureServer

DOC = (ROOT / "docs" / "cron.md").read_text("utf-8")


@pytest.fixture
def cron_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    server = FixtureServer(FIXTURES / "ingest-site").start()
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "sources.toml").write_text(
        f'[settings]\ndelay = 0.0\n\n[[source]]\nname = "fixture"\nstart = ["{server.url("/feed.xml")}"]\n'
    )
    bindir = Path(sys.executable).parent
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "NEWSARCHIVE_HOME": str(archive),
        "NEWSARCHIVE_ALLOW_PRIVATE": "1",
    }
    yield env
    server.stop()


def _newsarchive_on_path(env: dict[str, str]) -> str:
    found = shutil.which("newsarchive", path=env["PATH"])
    if found is None:
        pytest.skip("the newsarchive console script is not installed (pip install -e .)")
    return found


def test_crontab_line_runs_quietly_and_archives(cron_env: dict[str, str]) -> None:
    _newsarchive_on_path(cron_env)
    line = re.search(r"```cron\n(.+?)\n```", DOC, re.S)
    assert line is not None
    command = line.group(1).split(None, 5)[5]  # drop the five schedule fields
    first = subprocess.run(["/bin/sh", "-c", command], env=cron_env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "" and first.stderr == ""  # cron would mail nothing
    assert (Path(cron_env["NEWSARCHIVE_HOME"]) / "ingest.log").read_text().count("run finished") == 1


def test_systemd_execstart_runs_as_written(cron_env: dict[str, str]) -> None:
    exe = _newsarchive_on_path(cron_env)
    m = re.search(r"^ExecStart=(.+)$", DOC, re.M)
    assert m is not None
    command = m.group(1).replace("%h/.local/bin/newsarchive", exe)
    done = subprocess.run(command.split(), env=cron_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    success = re.search(r"^SuccessExitStatus=(\d+)$", DOC, re.M)
    assert success is not None and success.group(1) == "75"
