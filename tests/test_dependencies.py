"""pyproject's dependencies match what newsarchive/ imports: nothing undeclared, nothing declared and unused."""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from importlib import metadata

from conftest import ROOT

PACKAGE = ROOT / "newsarchive"


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them (PyStemmer = pystemmer, readability_lxml = readability-lxml)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    """The dependencies, and the extras newsarchive/ imports lazily (postgres, s3); not test/dev/bench tools."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    extras = [d for name, deps in optional.items() if name not in ("test", "dev", "bench") for d in deps]
    return {_canonical(re.match(r"[A-Za-z0-9._-]+", dep).group(0)) for dep in [*project["dependencies"], *extras]}  # type: ignore[union-attr]


@functools.cache
def _imported_modules() -> dict[str, set[str]]:
    """Top-level module imported -> the files importing it (absolute imports only; every import, lazy ones too)."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


@functools.cache
def _third_party() -> dict[str, set[str]]:
    """Imported module -> the distributions that provide it, for every module outside the stdlib and ours."""
    providers = metadata.packages_distributions()
    out: dict[str, set[str]] = {}
    for module in _imported_modules():
        if module in sys.stdlib_module_names or module in ("newsarchive", "__future__"):
            continue
        out[module] = {_canonical(d) for d in providers.get(module, [])}
    return out


def test_every_imported_package_is_declared_in_pyproject() -> None:
    declared = _declared()
    imported = _imported_modules()
    undeclared = {
        module: sorted(imported[module])
        for module, dists in _third_party().items()
        if not dists & declared
    }  # fmt: skip
    assert not undeclared, f"imported by newsarchive/ but not in pyproject's dependencies: {undeclared}"


def test_every_declared_dependency_is_imported() -> None:
    used = set().union(*_third_party().values())
    unused = sorted(_declared() - used)
    assert not unused, f"declared in pyproject but never imported by newsarchive/: {unused}"


def test_the_check_sees_lazy_imports_and_maps_import_names_to_distributions() -> None:
    third = _third_party()
    # Import name and distribution name differ for these: the mapping must come from the installed metadata.
    assert "pystemmer" in third["Stemmer"]
    assert "python-dateutil" in third["dateutil"]
    assert "readability-lxml" in third["readability"]
    assert "bs4" not in third  # beautifulsoup4 left the dependencies: nothing imports it


def test_the_license_is_an_spdx_expression_with_a_setuptools_that_reads_it() -> None:
    """PEP 639: ``license = "MIT"`` (the ``{ text = ... }`` table is deprecated); setuptools < 77 rejects it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert pyproject["project"]["license"] == "MIT"
    setuptools = [r for r in pyproject["build-system"]["requires"] if _canonical(r).startswith("setuptools")]
    assert setuptools == ["setuptools>=77"]
