"""Shared fixtures: temporary archives, a real HTTP server on 127.0.0.1, golden-file flag."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings as hypothesis_settings

from newsarchive.cli import cli

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# CI runs the property tests with a fixed seed: a failure there is reproducible, never luck.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
#: The project's shared material (seeds, real pages), a sibling of the repository on every machine and in CI.
SHARED = ROOT.parent / "shared"
#: The tour's WARC file (4 articles), as ``newsarchive import-warc`` takes it.
TOUR = FIXTURES / "tour" / "example-news.warc.gz"


def require_shared(*parts: str) -> Path:
    """``SHARED / parts``; when it is missing, skip the test, or fail it under CI (where shared/ is always laid)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is missing (shared/ is expected beside the repository)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_cli(archive: Path, *args: str) -> tuple[int, str, str]:
    """``newsarchive --archive ARCHIVE ARGS`` in-process: (exit code, stdout, stderr).

    Any exception but an exit fails the test, and so does a traceback on stderr.
    """
    result = CliRunner().invoke(cli, ["--archive", str(archive), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def export_jsonl(archive: Path) -> list[dict[str, object]]:
    """The archive's articles as ``export --jsonl`` gives them, in its order."""
    code, out, _ = run_cli(archive, "export", "--jsonl")
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden *.article.json files from the current parser output (review the diff!)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever touches the user's real archive."""
    monkeypatch.setenv("NEWSARCHIVE_HOME", str(tmp_path / "default-archive"))
    monkeypatch.setenv("NEWSARCHIVE_ALLOW_PRIVATE", "1")
    monkeypatch.delenv("NEWSARCHIVE_WARC", raising=False)  # the WARC location: warc/ unless a test sets one
    os.environ.pop("NO_COLOR", None)


@pytest.fixture(autouse=True)
def _root_log_level() -> Iterator[None]:
    """A command run in the test process sets the root logger's level (ERROR under -q): the next test's
    caplog would see none of its warnings. Each test starts from the level the session began with."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


@pytest.fixture
def site_server() -> object:
    """The e2e fixture site (fixtures/e2e) on a real 127.0.0.1 server; stopped after the test."""
    from server import FixtureServer

    server = FixtureServer(FIXTURES / "e2e").start()
    yield server
    server.stop()


@pytest.fixture
def empty_site(tmp_path: Path) -> Iterator[object]:
    """A real 127.0.0.1 server with no pages: each test adds the routes it needs; stopped after the test."""
    from server import FixtureServer

    root = tmp_path / "site-root"
    root.mkdir()
    server = FixtureServer(root).start()
    yield server
    server.stop()


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive with the tour imported, built once per test module: only for tests that leave it as it is."""
    root = tmp_path_factory.mktemp("tour")
    code, _, err = run_cli(root, "import-warc", str(TOUR))
    assert code == 0, err
    return root


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """A throwaway PostgreSQL server for the session (tests/pg_cluster.py); skipped (failed under
    $NEWSARCHIVE_REQUIRE_POSTGRES, as in CI) where the machine has no PostgreSQL binaries."""
    from pg_cluster import ENV_REQUIRE, HOW_TO, Cluster, find_bin_dir

    bin_dir = find_bin_dir()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        bin_dir = None
    if bin_dir is None:
        _skip_unless_required(ENV_REQUIRE, HOW_TO + " (and pip install -e '.[postgres]')")
    cluster = Cluster(bin_dir).start()
    yield cluster
    cluster.stop()


@contextmanager
def pg_index_kind(kind: str) -> Iterator[None]:
    """NEWSARCHIVE_PG_INDEX=kind while search tables are made (module fixtures cannot monkeypatch)."""
    from newsarchive.index.pg_search import INDEX_ENV

    before = os.environ.get(INDEX_ENV)
    os.environ[INDEX_ENV] = kind
    try:
        yield
    finally:
        if before is None:
            del os.environ[INDEX_ENV]
        else:
            os.environ[INDEX_ENV] = before


def _skip_unless_required(env: str, how_to: str) -> None:
    """Skip the test, or fail it where ``env`` says the machine must have what it needs (as in CI)."""
    if os.environ.get(env, "") not in ("", "0"):
        pytest.fail(f"{env} is set but: {how_to}")
    pytest.skip(how_to)


def _fresh_database(cluster: object) -> Iterator[str]:
    """A new empty database on ``cluster``: its URL, dropped after the test."""
    from pg_cluster import Cluster

    assert isinstance(cluster, Cluster)
    url = cluster.new_database()
    yield url
    cluster.drop_database(url)


@pytest.fixture
def pg_url(pg_cluster: object) -> Iterator[str]:
    """A new empty PostgreSQL database on the session's throwaway server: its URL (dropped after the test)."""
    yield from _fresh_database(pg_cluster)


@pytest.fixture(scope="session")
def rum_cluster(pg_cluster: object) -> object:
    """The session's PostgreSQL server when it offers the RUM extension; skipped otherwise (failed under
    $NEWSARCHIVE_REQUIRE_RUM, which .ci/run sets where the extension's package is installed)."""
    from pg_cluster import ENV_REQUIRE_RUM, HOW_TO_RUM, Cluster

    assert isinstance(pg_cluster, Cluster)
    if not pg_cluster.has_rum():
        _skip_unless_required(ENV_REQUIRE_RUM, HOW_TO_RUM)
    return pg_cluster


@pytest.fixture
def rum_url(rum_cluster: object) -> Iterator[str]:
    """A new empty database on a PostgreSQL server that offers the RUM extension (see rum_cluster)."""
    yield from _fresh_database(rum_cluster)


@pytest.fixture
def other_fs() -> Iterator[Path]:
    """A directory on another file system (tmpfs) than the test's tmp_path, when the machine has one."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or os.stat(shm).st_dev == os.stat("/tmp").st_dev:
        pytest.skip("no second writable file system (/dev/shm)")
    path = shm / f"newsarchive-other-fs-{os.getpid()}"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)
