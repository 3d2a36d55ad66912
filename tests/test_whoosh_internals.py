"""Whoosh's internals are used through newsarchive/index/whoosh_internals.py only, and it lists all of them."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import whoosh
from conftest import ROOT
from whoosh import query
from whoosh.columns import VarBytesColumn
from whoosh.fields import COLUMN, ID, NUMERIC, TEXT, Schema
from whoosh.index import create_in

from newsarchive.index import whoosh_internals
from newsarchive.index.whoosh_internals import (
    INHERITED,
    PUBLIC_MODULES,
    deleted_docs,
    expanded_terms,
    numeric_column_values,
    numeric_range_terms,
    posting_bytes,
    segment_terms,
    term_info,
    terms_postfile,
    varbytes_column_arrays,
)

PACKAGE = ROOT / "newsarchive"
HOME = "newsarchive/index/whoosh_internals.py"
NOT_SELF = "obj._name on a Whoosh object"


@functools.cache
def _sources() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text("utf-8"), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
        if str(path.relative_to(ROOT)) != HOME
    }


@functools.cache
def _whoosh_private_names() -> frozenset[str]:
    """Every underscore name (not a dunder) that Whoosh's own source uses."""
    names: set[str] = set()
    for path in Path(whoosh.__file__).parent.rglob("*.py"):
        names.update(re.findall(r"(?<![\w.])_[A-Za-z]\w*|(?<=\.)_[A-Za-z]\w*", path.read_text("utf-8", "replace")))
    return frozenset(n for n in names if not n.endswith("__"))


def _is_self(node: ast.expr) -> bool:
    if isinstance(node, ast.Name) and node.id in ("self", "cls"):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def test_whoosh_is_pinned_to_the_version_the_internals_were_written_for() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    pinned = [d for d in deps if d.lower().startswith("whoosh")]
    version = ".".join(map(str, whoosh_internals.WHOOSH_VERSION))
    assert pinned == [f"whoosh=={version}"]
    assert whoosh_internals.INSTALLED_VERSION == whoosh_internals.WHOOSH_VERSION


def _import_problems(path: str, tree: ast.Module) -> list[str]:
    """Imports of an internal Whoosh module or of a private name from Whoosh."""
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported = [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported = [(node.module, alias.name) for alias in node.names]
        else:
            continue
        for module, name in imported:
            if module != "whoosh" and not module.startswith("whoosh."):
                continue
            message = f"{path}:{node.lineno}: imports the internal module {module}"
            if module not in PUBLIC_MODULES and message not in problems:
                problems.append(message)
            if name.startswith("_"):
                problems.append(f"{path}:{node.lineno}: imports the private name {module}.{name}")
    return problems


def test_only_whoosh_internals_imports_whoosh_internal_modules_or_private_names() -> None:
    problems = [p for path, tree in _sources().items() for p in _import_problems(path, tree)]
    assert not problems, "use newsarchive.index.whoosh_internals instead:\n" + "\n".join(problems)


def _private_problems(path: str, tree: ast.Module) -> list[str]:
    """``obj._name`` or ``getattr(obj, "_name")`` with a name Whoosh uses, on anything but self; ``f(_name=)``."""
    private = _whoosh_private_names()
    problems: list[str] = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute) and not _is_self(node.value):
            name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and not _is_self(node.args[0])
        ):
            name = str(node.args[1].value)
        if name in private:
            problems.append(f"{path}:{node.lineno}: .{name}")
        if isinstance(node, ast.Call) and not _is_super_call(node):  # private keywords: f(_lk=False)
            for keyword in node.keywords:
                if keyword.arg in private:
                    problems.append(f"{path}:{node.lineno}: {keyword.arg}=")
    return problems


def test_private_attributes_of_whoosh_objects_are_reached_only_through_whoosh_internals() -> None:
    """No module but HOME reaches a private name of a Whoosh object."""
    problems = [p for path, tree in _sources().items() for p in _private_problems(path, tree)]
    assert not problems, (
        "private Whoosh names used outside whoosh_internals (add a function there, or, for a private name of "
        "our own that Whoosh happens to use too, rename it):\n" + "\n".join(problems)
    )


@functools.cache
def _module_text(path: str) -> str:
    return Path(path).read_text("utf-8", "replace")


def _source(cls: type) -> str:
    """The source of the module defining ``cls`` (a name Whoosh's class uses is in its module's text)."""
    return _module_text(inspect.getsourcefile(cls) or "")


def _whoosh_bases(cls: type) -> list[type]:
    return [c for c in cls.__mro__ if c.__module__.split(".")[0] == "whoosh"]


def _subclasses_of_whoosh() -> list[tuple[type, ast.ClassDef, str]]:
    found = []
    for path, tree in _sources().items():
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                cls = getattr(module, node.name, None)
                if isinstance(cls, type) and _whoosh_bases(cls):
                    found.append((cls, node, path))
    return found


def _private_names_on_self(node: ast.ClassDef) -> set[str]:
    """self._x read or set, _x methods defined, and _x= keywords passed to the base class (super().__init__)."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and _is_self(sub.value):
            names.add(sub.attr)
        elif isinstance(sub, ast.FunctionDef) and sub in node.body:
            names.add(sub.name)
        elif _is_super_call(sub):
            names.update(k.arg for k in sub.keywords if k.arg)  # type: ignore[attr-defined]
    return {n for n in names if n.startswith("_") and not n.endswith("__")}


def _is_super_call(node: ast.AST) -> bool:
    """``super().anything(...)``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Call)
        and _is_self(node.func.value)
    )


def test_subclasses_use_only_the_inherited_private_names_listed_in_whoosh_internals() -> None:
    problems = []
    used: dict[str, set[str]] = {}
    subclasses = _subclasses_of_whoosh()
    assert {cls.__name__ for cls, _, _ in subclasses} >= {
        "NewsCodec", "ArrayPostingsWriter", "ArrayLeafMatcher", "BulkSegmentWriter", "IndexWriter"
    }  # fmt: skip
    for cls, node, path in subclasses:
        bases = _whoosh_bases(cls)
        sources = [_source(base) for base in bases]
        keys = [f"{base.__module__}.{base.__qualname__}" for base in bases]
        allowed = set().union(*(INHERITED.get(key, {}) for key in keys))
        for name in sorted(_private_names_on_self(node)):
            if not any(re.search(rf"\b{re.escape(name)}\b", src) for src in sources):
                continue  # our own attribute, unknown to Whoosh
            if name not in allowed:
                problems.append(f"{path}: {cls.__name__} uses {name}, inherited from {keys[0]}")
            for key in keys:
                if name in INHERITED.get(key, {}):
                    used.setdefault(key, set()).add(name)
    assert not problems, "list these in whoosh_internals.INHERITED, with why:\n" + "\n".join(problems)
    stale = {key: sorted(set(names) - used.get(key, set())) for key, names in INHERITED.items()}
    assert not any(stale.values()), f"INHERITED lists names no subclass uses any more: {stale}"


def test_no_module_is_exempt_from_the_checks_any_more() -> None:
    """The search evaluator's uses moved behind functions here: no exception list is left to grow."""
    assert not hasattr(whoosh_internals, "ELSEWHERE")
    assert "newsarchive/index/evaluate.py" in _sources()  # checked like every other module


#: Uses the evaluator made before they moved into whoosh_internals: the checks must see each one.
OLD_EVALUATOR_USES = """
from whoosh.util.numeric import byte_to_length
segment = getattr(reader, "_segment", None)
perdoc = getattr(reader, "_perdoc", None)
perdoc._colfiles[column] = perdoc._get_column_file(column)
width, stored = col._fixedlen, min(col._count, count)
values = col._dbfile.get(col._basepos, stored * width) + [col._default] + [getattr(col, "_typecode", None)]
expanded = q._compile_query(reader), q._btexts(reader)
"""


def test_the_checks_catch_each_use_the_evaluator_made_directly_before() -> None:
    tree = ast.parse(OLD_EVALUATOR_USES)
    assert _import_problems("old.py", tree) == ["old.py:2: imports the internal module whoosh.util.numeric"]
    found = {p.split(": ")[1].strip(".") for p in _private_problems("old.py", tree)}
    assert found == {
        "_segment", "_perdoc", "_colfiles", "_get_column_file", "_fixedlen", "_count", "_dbfile", "_basepos",
        "_default", "_typecode", "_compile_query", "_btexts",
    }  # fmt: skip


def _columns_index(tmp_path: Path, *, delete: bool = False) -> Any:
    """A one-segment stock Whoosh index with a numeric and two variable-width columns, some values missing."""
    schema = Schema(
        key=ID(stored=True),
        body=TEXT,
        num=NUMERIC(int, bits=64, sortable=True),
        plain=COLUMN(VarBytesColumn()),  # 2.7.4 stores no offsets below 2**15 documents
        offs=COLUMN(VarBytesColumn(write_offsets_cutoff=2)),  # ... and stores them above the cutoff
    )
    ix = create_in(str(tmp_path), schema)
    with ix.writer() as w:
        for i in range(40):
            doc: dict[str, Any] = {"key": str(i), "body": "abacus abbey zebra" if i % 3 else "abbot"}
            if i < 30 and i % 4:  # the last ten without a value: the column file stops before them
                doc["num"] = -(10**12) + i * 7
            if i % 5:
                doc["plain"] = doc["offs"] = f"value-{i}-".encode() * (i % 7)
            w.add_document(**doc)
    if delete:
        with ix.writer() as w:
            w.delete_by_term("key", "3")
            w.delete_by_term("key", "17")
    return ix


def test_numeric_column_values_equal_whooshs_reader_document_by_document(tmp_path: Path) -> None:
    ix = _columns_index(tmp_path)
    with ix.reader() as reader:
        col = reader.column_reader("num", translate=False)
        values = numeric_column_values(col, reader.doc_count_all())
        assert values is not None
        assert list(values) == [col[d] for d in range(reader.doc_count_all())]
        assert len(set(values[:30])) > 20 and set(values[30:]) == {values[0]}  # the default past the file's end
        assert numeric_column_values(reader.column_reader("plain", translate=False), 40) is None


@pytest.mark.parametrize("column", ["plain", "offs"])
def test_varbytes_column_arrays_give_whooshs_values_with_and_without_stored_offsets(
    tmp_path: Path, column: str
) -> None:
    ix = _columns_index(tmp_path)
    with ix.reader() as reader:
        arrays = varbytes_column_arrays(reader, column)
        assert arrays is not None
        data, offsets, lengths = arrays
        col = reader.column_reader(column, translate=False)
        assert col.had_stored_offsets is (column == "offs")
        read = [data[offsets[d] : offsets[d] + lengths[d]] for d in range(reader.doc_count_all())]
        assert read == [bytes(col[d]) for d in range(reader.doc_count_all())]
        assert read[6] == b"value-6-" * 6 and read[5] == b""
        assert varbytes_column_arrays(reader, "num") is None  # not a VarBytesColumn


def test_deleted_docs_is_the_set_whoosh_reports_document_by_document(tmp_path: Path) -> None:
    ix = _columns_index(tmp_path, delete=True)
    with ix.reader() as reader:
        expected = {d for d in range(reader.doc_count_all()) if reader.is_deleted(d)}
        assert len(expected) == 2
        assert deleted_docs(reader) == expected
    (tmp_path / "fresh").mkdir()
    assert deleted_docs(_columns_index(tmp_path / "fresh").reader()) == frozenset()


def test_query_expansions_are_the_terms_whoosh_expands_to(tmp_path: Path) -> None:
    ix = _columns_index(tmp_path)
    with ix.reader() as reader:
        assert sorted(expanded_terms(query.Prefix("body", "abb"), reader)) == [b"abbey", b"abbot"]
        assert sorted(expanded_terms(query.Wildcard("body", "*ba*"), reader)) == [b"abacus"]
        rng = query.NumericRange("num", -(10**12), -(10**12) + 50)
        with ix.searcher() as searcher:
            assert (
                set(searcher.docs_for_query(numeric_range_terms(rng, reader)))
                == set(searcher.docs_for_query(rng))
                == {1, 2, 3, 5, 6, 7}
            )


PATCH_CHECK = """
import importlib, pkgutil, sys, whoosh

def snapshot():
    seen = {}
    for name, module in sorted(sys.modules.items()):
        if name == "whoosh" or name.startswith("whoosh."):
            for attr, value in sorted(vars(module).items()):
                seen[f"{name}.{attr}"] = id(value)
                if isinstance(value, type) and value.__module__ == name:
                    for cattr, cvalue in vars(value).items():
                        seen[f"{name}.{attr}.{cattr}"] = id(cvalue)
    return seen

for info in pkgutil.walk_packages(whoosh.__path__, "whoosh."):
    try:
        importlib.import_module(info.name)
    except Exception:
        pass
before = snapshot()
import newsarchive
for info in pkgutil.walk_packages(newsarchive.__path__, "newsarchive."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
after = snapshot()
changed = sorted(k for k in before if after.get(k) != before[k])
print("\\n".join(changed))
"""


@pytest.mark.slow
def test_newsarchive_monkeypatches_nothing_in_whoosh() -> None:
    """Importing every newsarchive module leaves every attribute of every Whoosh module and class as it was."""
    proc = subprocess.run(
        [sys.executable, "-c", PATCH_CHECK], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"changed by importing newsarchive:\n{proc.stdout}"


def test_posting_bytes_are_the_bytes_whoosh_reads_from_one_map_per_segment(tmp_path: Path) -> None:
    """A posting list taken from the memory map of its segment's postings file is the bytes Whoosh's file read
    gives, every list of a segment sliced from one map; a file that cannot be mapped is read as Whoosh does."""
    from whoosh.filedb.structfile import BufferFile

    from newsarchive.article import Article
    from newsarchive.index.writer import create_index, write_articles

    ix = create_index(tmp_path / "ix")
    write_articles(
        ix,
        [
            Article(url=f"https://m.example/{i}", headline=f"grain {i}", body="grain sea " * (i + 1), lang="en")
            for i in range(300)
        ],
    )
    with ix.reader() as reader:
        terms = segment_terms(reader)
        maps = set()
        for text in ("grain", "sea"):
            info = term_info(reader, "body_en", text)
            assert info is not None
            offset, length = info.extent()
            length = length[0] if isinstance(length, tuple) else length  # W3TermInfo.from_bytes keeps a tuple
            got = posting_bytes(terms, offset, length)
            assert isinstance(got, memoryview) and length > 1000
            assert bytes(got) == bytes(terms_postfile(terms).get(offset, length))
            maps.add(id(got.obj))
        assert len(maps) == 1

    class InMemory:  # a terms reader whose postings are no real file (no descriptor to map): read through it
        _postfile = BufferFile(b"0123456789")

    found = posting_bytes(InMemory(), 2, 5)
    assert found == b"23456" and isinstance(found, bytes)
