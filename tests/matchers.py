"""yt-dlp-style expected-value matchers for declared site tests, with their own tests."""

from __future__ import annotations

import re
from typing import Any


def mismatch(field: str, expected: Any, got: Any) -> str | None:
    """None when ``got`` satisfies ``expected``; else a one-line explanation.

    Matchers (strings only): ``re:PATTERN`` (re.search), ``count:N`` (len),
    ``startswith:TEXT``, ``endswith:TEXT``, ``contains:TEXT`` (TEXT in got).
    Anything else is compared for equality (lists and tuples alike).
    """
    if isinstance(expected, str):
        kind, sep, arg = expected.partition(":")
        if sep and kind in {"re", "count", "startswith", "endswith", "contains"}:
            text = got if isinstance(got, str) else ("" if got is None else str(got))
            if kind == "re":
                ok = re.search(arg, text, re.S) is not None
            elif kind == "count":
                ok = got is not None and len(got) == int(arg)
            elif kind == "startswith":
                ok = text.startswith(arg)
            elif kind == "endswith":
                ok = text.endswith(arg)
            else:
                ok = arg in text
            return None if ok else f"{field}: expected {expected!r}, got {_short(got)}"
    if isinstance(expected, list | tuple) and isinstance(got, list | tuple):
        return None if list(expected) == list(got) else f"{field}: expected {expected!r}, got {got!r}"
    return None if expected == got else f"{field}: expected {expected!r}, got {_short(got)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "..."


def all_strings(value: Any) -> list[str]:
    """Every string inside a JSON-like value (for `never` checks across all fields)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in all_strings(v)]
    return []
