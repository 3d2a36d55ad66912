"""A `newsarchive search` process loads what a search needs and nothing else (speed: bench/search_startup.py)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT

from newsarchive.cli import cli

#: Modules a search has no use for: the network stack (Whoosh's compat module imports urlretrieve),
#: WARC reading, the parsers, the ingest pipeline, the per-user directory lookup (--archive is given),
#: the index rebuild's process pool, time zones (no --tz).
NOT_NEEDED = (
    "urllib.request", "http.client", "email", "ssl", "socket", "warcio", "newsarchive.archive.warc",
    "trafilatura", "lxml", "newsarchive.pipeline", "platformdirs", "multiprocessing", "zoneinfo",
)  # fmt: skip

REPORT = (
    "import os, sys\n"
    "sys.argv = ['newsarchive', *sys.argv[1:]]\n"
    "from newsarchive.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print(repr((sorted(sys.modules), os.environ.get('OPENBLAS_NUM_THREADS'))), file=sys.stderr)\n"
)


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = tmp_path_factory.mktemp("tour")
    warc = FIXTURES / "tour" / "example-news.warc.gz"
    result = CliRunner().invoke(cli, ["--archive", str(archive), "import-warc", str(warc)])
    assert result.exit_code == 0, result.output
    return archive


def _search_process(archive: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, list[str], str | None]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    if env is None:
        environ.pop("OPENBLAS_NUM_THREADS", None)
    result = subprocess.run(
        [sys.executable, "-c", REPORT, "--archive", str(archive), "search", *args],
        capture_output=True, text=True, env=environ, check=True,
    )  # fmt: skip
    modules, threads = ast.literal_eval(result.stderr.strip().splitlines()[-1])
    return result.stdout, modules, threads


def test_a_search_process_loads_none_of_the_modules_a_search_does_not_need(tour: Path) -> None:
    out, modules, _ = _search_process(tour, "crimea")
    assert "Crimea" in out
    assert {"numpy", "whoosh.query", "newsarchive.search", "newsarchive.snippet"} <= set(modules)
    loaded = [m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_NEEDED)]
    assert loaded == []


def test_a_search_process_starts_one_blas_thread_unless_the_user_chose(tour: Path) -> None:
    assert _search_process(tour, "crimea")[2] == "1"
    assert _search_process(tour, "crimea", env={"OPENBLAS_NUM_THREADS": "3"})[2] == "3"


def test_whoosh_s_urlretrieve_is_the_real_one_when_called(tmp_path: Path) -> None:
    source = tmp_path / "page.html"
    source.write_text("<p>hello</p>", encoding="utf-8")
    code = (
        "import sys, pathlib\n"
        "import newsarchive.cli._startup\n"
        "assert 'urllib.request' not in sys.modules\n"
        "import whoosh.compat\n"
        f"whoosh.compat.urlretrieve(pathlib.Path({str(source)!r}).as_uri(), {str(tmp_path / 'copy.html')!r})\n"
        "import urllib.request\n"
        "print(urllib.request.Request.__name__, urllib.request.__file__ is not None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split() == ["Request", "True"]
    assert (tmp_path / "copy.html").read_text(encoding="utf-8") == "<p>hello</p>"


def test_time_zones_and_close_site_names_still_work_though_imported_late(tour: Path) -> None:
    out, modules, _ = _search_process(tour, "crimea", "--from", "2023", "--tz", "Asia/Beirut")
    assert "Crimea" in out and "zoneinfo" in modules
    runner = CliRunner()
    result = runner.invoke(cli, ["--archive", str(tour), "search", "crimea", "--site", "english.almayadeen.ne"])
    assert result.exit_code == 2
    assert "did you mean: english.almayadeen.net" in result.stderr
