"""Shared fixtures: temporary archives, a real HTTP server on 127.0.0.1, golden-file flag."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# CI runs the property tests with a fixed seed: a failure there is reproducible, never luck.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
#: The project's shared material (seeds, real pages), a sibling of the repository on every machine and in CI.
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_shared(*parts: str) -> Path:
    """``SHARED / parts``; when it is missing, skip the test, or fail it under CI (where shared/ is always laid)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is missing (shared/ is expected beside the repository)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


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
    os.environ.pop("NO_COLOR", None)


@pytest.fixture
def site_server() -> object:
    """The e2e fixture site (fixtures/e2e) on a real 127.0.0.1 server; stopped after the test."""
    from server import FixtureServer

    server = FixtureServer(FIXTURES / "e2e").start()
    yield server
    server.stop()


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"
