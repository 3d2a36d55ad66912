"""bench/hypothesis_counts.py: the pytest plugin behind the fault matrix's hypothesis figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PROPERTIES = """
from hypothesis import given, settings, strategies as st

@settings(max_examples=7, database=None)
@given(st.integers())
def test_seven(n):
    assert isinstance(n, int)

@settings(max_examples=5, database=None)
@given(st.text())
def test_five(s):
    assert isinstance(s, str)
"""


@pytest.mark.slow
def test_counts_every_passing_test_case_of_every_property(tmp_path: Path) -> None:
    (tmp_path / "test_props.py").write_text(PROPERTIES)
    counts = tmp_path / "counts.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "bench"),
        "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hyp"),
        "HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY_NOCOVER": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "hypothesis_counts",
         f"--hypothesis-counts={counts}", "test_props.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = json.loads(counts.read_text())
    assert {name.split("::")[-1]: per["passed"] for name, per in found.items()} == {"test_seven": 7, "test_five": 5}
    assert all(per["failed"] == 0 for per in found.values())
