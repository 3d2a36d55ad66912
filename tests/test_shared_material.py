"""Tests that read ../shared (seeds, real pages) find it beside the repository, and CI never lets them pass silently."""

from __future__ import annotations

import re

import conftest
import pytest
from conftest import ROOT, SHARED


def test_shared_is_found_beside_the_repository_not_through_an_absolute_path() -> None:
    assert ROOT.parent / "shared" == SHARED
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        assert not re.search(r"""["']/work/shared""", path.read_text("utf-8")), path.name


def test_missing_shared_material_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        conftest.require_shared("no-such-dir", "x.txt")


def test_missing_shared_material_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="shared/ is expected beside the repository"):
        conftest.require_shared("no-such-dir", "x.txt")


def test_the_ci_script_runs_the_tests_as_ci() -> None:
    """.ci/run sets CI=1 when the service has not, so that ``require_shared`` fails there instead of skipping."""
    script = (ROOT / ".ci" / "run").read_text("utf-8")
    pytest_line = next(i for i, line in enumerate(script.splitlines()) if line.startswith("pytest"))
    exports = [i for i, line in enumerate(script.splitlines()) if re.match(r'export CI="?\$\{CI:-1\}"?$', line)]
    assert exports and exports[0] < pytest_line
