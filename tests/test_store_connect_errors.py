"""A PostgreSQL store that cannot be reached or logged into is told the same way by every command:
one line naming the store (password masked), a hint, exit 2. `search`, `export QUERY` and `fetch`
connect for PostgreSQL search before (or without) opening the store: they used to exit 1 with
`cannot connect to PostgreSQL for search: ...` and no hint (docs/scale-out.md, Choosing the store)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import run_cli

pytest.importorskip("psycopg")

#: Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
DOWN = "postgresql://news:hunter2@127.0.0.1:9/news"


@pytest.mark.parametrize(
    "args",
    [
        ("search", "gaza"),
        ("search", "gaza", "--json"),
        ("export", "gaza", "--jsonl"),
        ("fetch", "http://127.0.0.1:9/a.html"),
    ],
)
def test_a_server_that_is_down_is_exit_2_with_a_hint_for_search_export_and_fetch(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, out, err = run_cli(tmp_path / "a", "--store", DOWN, *args)
    assert code == 2, err
    assert "cannot connect to the store postgresql://news:***@127.0.0.1:9/news" in err
    assert "Hint: is the PostgreSQL server running" in err
    assert "hunter2" not in out + err
    assert len(err.strip().splitlines()) == 2


def test_a_database_that_does_not_exist_is_exit_2_saying_to_create_it_for_search(pg_url: str, tmp_path: Path) -> None:
    from urllib.parse import urlsplit, urlunsplit

    missing = urlunsplit(urlsplit(pg_url)._replace(path="/no_such_db"))
    for args in (("search", "gaza"), ("export", "gaza", "--jsonl")):
        code, _, err = run_cli(tmp_path / "a", "--store", missing, *args)
        assert code == 2, err
        assert 'database "no_such_db" does not exist' in err
        assert "Hint: create the database first" in err


def test_missing_psycopg_is_a_clear_error_for_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    code, _, err = run_cli(tmp_path / "a", "--store", "postgresql://u@127.0.0.1/x", "search", "gaza")
    assert code == 2, err
    assert "needs psycopg" in err and "newsarchive[postgres]" in err
