"""docs/scale-out.md followed as a new user would: what the page says about settings and errors holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import export_jsonl, run_cli

from newsarchive.store.backend import mask_url


def test_a_sqlite_store_setting_that_names_a_missing_file_says_the_store_is_missing_not_the_archive(
    tour: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "elsewhere" / "store.sqlite"
    code, _, err = run_cli(tour, "--store", f"sqlite:{missing}", "stats")
    assert code == 2
    assert f"no article store at {missing}" in err
    assert f"no archive at {tour}" not in err


def test_a_relative_sqlite_store_in_sources_toml_is_read_from_the_archive_directory(
    tour: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(tour, archive)
    (archive / "store.sqlite").rename(archive / "kept.sqlite")
    for suffix in ("-wal", "-shm"):
        if (archive / f"store.sqlite{suffix}").exists():
            (archive / f"store.sqlite{suffix}").rename(archive / f"kept.sqlite{suffix}")
    (archive / "sources.toml").write_text('[settings]\nstore = "sqlite:kept.sqlite"\n')
    monkeypatch.chdir(tmp_path)  # not the archive directory
    code, out, err = run_cli(archive, "stats")
    assert code == 0, err
    assert f"store: {archive / 'kept.sqlite'} (sqlite)" in out
    assert export_jsonl(archive) == export_jsonl(tour)


def test_a_relative_sqlite_store_on_the_command_line_is_read_from_the_working_directory(
    tour: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tour)
    code, out, err = run_cli(tmp_path / "other", "--store", "sqlite:store.sqlite", "stats")
    assert code == 0, err
    assert f"store: {tour / 'store.sqlite'} (sqlite)" in out


def test_a_url_with_no_host_keeps_its_slashes_when_its_password_is_masked() -> None:
    url = "postgresql:///news?host=db.example.org&user=news&password=s3cret"
    assert mask_url(url) == "postgresql:///news?host=db.example.org&user=news&password=***"
