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


def test_migrate_to_sqlite_in_a_missing_directory_is_a_usage_error(tour: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(tour, "store", "migrate", "--to", f"sqlite:{tmp_path / 'no' / 'such' / 'store.sqlite'}")
    assert code == 2
    assert f"the directory {tmp_path / 'no' / 'such'} does not exist" in err
    assert "mkdir -p" in err


def test_migrating_back_to_sqlite_reports_only_what_is_lost_and_as_a_warning_line(
    tour: Path, pg_url: str, tmp_path: Path
) -> None:
    import psycopg

    code, _, err = run_cli(tour, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO runs (started_at, finished_at, counts, worker) VALUES ('a', 'b', '{}', 'vm/1')")
    code, _, err = run_cli(tour, "--store", pg_url, "store", "migrate", "--to", f"sqlite:{tmp_path / 'back.sqlite'}")
    assert code == 0, err
    # a claim and its lease only matter to running PostgreSQL workers: not reported; the run's machine is
    assert "claimed_by" not in err and "lease_until" not in err
    assert "WARNING newsarchive" not in err
    assert "warning: runs: worker not copied" in err
