"""pytest plugin: count the test cases hypothesis runs for each property, from hypothesis's own observations.

``pytest -p hypothesis_counts --hypothesis-counts=FILE`` (with bench/ on sys.path) writes
``{property: {"passed": n, "failed": n, "gave_up": n}}`` as JSON to FILE when the session ends.

The counts come from hypothesis's observability callbacks (one observation per test case, with its
status), not from the text of ``--hypothesis-show-statistics``, whose wording changes between
hypothesis releases. Before Python 3.12, set ``HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY_NOCOVER=1`` in the
environment of the run: with observability on, hypothesis otherwise traces the line coverage of every
test case, which is slow there (that variable also makes hypothesis write its observations under
its storage directory: point ``HYPOTHESIS_STORAGE_DIRECTORY`` somewhere disposable).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

STATUSES = ("passed", "failed", "gave_up")


class CaseCounter:
    """An observability callback: test-case observations counted by property and status."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}

    def __call__(self, observation: Any) -> None:
        # A dataclass in current hypothesis, a dict in older releases.
        get: Callable[[str], Any] = (
            observation.get if isinstance(observation, dict) else lambda key: getattr(observation, key, None)
        )
        if get("type") != "test_case":
            return
        per = self.counts.setdefault(str(get("property")), dict.fromkeys(STATUSES, 0))
        status = str(get("status"))
        per[status] = per.get(status, 0) + 1


def _register(callback: CaseCounter) -> Callable[[], None]:
    """Register ``callback`` with hypothesis; returns the function that removes it."""
    from hypothesis.internal import observability

    add = getattr(observability, "add_observability_callback", None)
    if add is not None:  # current hypothesis
        add(callback)
        return lambda: observability.remove_observability_callback(callback)
    callbacks: Any = observability.TESTCASE_CALLBACKS  # older releases: a plain list
    callbacks.append(callback)
    return lambda: callbacks.remove(callback)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--hypothesis-counts", default=None, help="write hypothesis test-case counts (JSON) here")


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--hypothesis-counts")
    if target:
        counter = CaseCounter()
        config.stash[_KEY] = (Path(target), counter, _register(counter))


def pytest_unconfigure(config: pytest.Config) -> None:
    found = config.stash.get(_KEY, None)
    if found is None:
        return
    target, counter, unregister = found
    unregister()
    target.write_text(json.dumps(counter.counts, indent=1, sort_keys=True))


_KEY = pytest.StashKey[tuple[Path, CaseCounter, Callable[[], None]]]()
