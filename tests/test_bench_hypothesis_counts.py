"""bench/hypothesis_counts.py: the pytest plugin behind the fault matrix's hypothesis figures."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st


def _plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hypothesis_counts", ROOT / "bench" / "hypothesis_counts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_every_test_case_of_every_property_by_status() -> None:
    plugin = _plugin()

    @settings(max_examples=7, database=None)
    @given(st.integers())
    def seven(n: int) -> None:
        assert isinstance(n, int)

    @settings(max_examples=5, database=None)
    @given(st.text())
    def five(s: str) -> None:
        assert isinstance(s, str)

    @settings(max_examples=50, database=None)
    @given(st.integers(min_value=0, max_value=100))
    def small(n: int) -> None:
        assert n < 10

    counter = plugin.CaseCounter()
    unregister = plugin._register(counter)
    try:
        seven()
        five()
        with pytest.raises(AssertionError):
            small()
    finally:
        unregister()
    counts = {name.rsplit(".", 1)[-1]: per for name, per in counter.counts.items()}
    assert counts["seven"] == {"passed": 7, "failed": 0, "gave_up": 0}
    assert counts["five"] == {"passed": 5, "failed": 0, "gave_up": 0}
    assert counts["small"]["failed"] >= 1
    seven()  # unregistered: counted no more
    assert counter.counts[next(n for n in counter.counts if n.endswith("seven"))]["passed"] == 7
