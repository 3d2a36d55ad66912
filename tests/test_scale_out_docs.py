"""docs/scale-out.md followed as a new user would: what the page says about settings and errors holds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, TOUR, export_jsonl, run_cli

from newsarchive.index.writer import index_state
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


_SYNC = """
import sys, time
from pathlib import Path
from newsarchive.pipeline import Archive
root, go = Path(sys.argv[1]), Path(sys.argv[2])
archive = Archive(root)
Path(sys.argv[3]).touch()  # ready: imports done
while not go.exists():
    time.sleep(0.001)
with archive:
    archive.sync_index()
"""


@pytest.mark.slow
def test_several_processes_of_one_archive_directory_create_the_missing_index_together(
    tour: Path, tmp_path: Path
) -> None:
    """Ingest workers on a PostgreSQL store take no run lock: those of one machine met in a fresh index
    (Whoosh: "File '_MAIN_0.toc' exists", exit 70). Started together, every one ends well."""
    import os
    import subprocess
    import sys
    import time

    from conftest import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for trial in range(3):
        archive = tmp_path / f"archive{trial}"
        shutil.copytree(tour, archive)
        shutil.rmtree(archive / "index")
        go = tmp_path / f"go{trial}"
        ready = [tmp_path / f"ready{trial}-{n}" for n in range(6)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _SYNC, str(archive), str(go), str(r)], env=env, stderr=subprocess.PIPE
            )
            for r in ready
        ]
        while not all(r.exists() for r in ready):
            time.sleep(0.01)
        go.touch()
        errors = [p.communicate(timeout=120)[1].decode() for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, errors
        assert index_state(archive / "index") == "ok"


def test_an_ingest_run_that_fails_says_so_in_ingest_log_without_the_password(tmp_path: Path) -> None:
    """docs/cron.md: every run appends to ingest.log; a run stopped by its store (server down) wrote nothing."""
    pytest.importorskip("psycopg")
    archive = tmp_path / "archive"
    code, _, err = run_cli(archive, "--store", "postgresql://news:hunter2@127.0.0.1:1/news", "ingest")
    assert code == 2 and "cannot connect to the store" in err
    log = (archive / "ingest.log").read_text("utf-8")
    assert (
        "ERROR newsarchive.ingest: run failed: cannot connect to the store postgresql://news:***@127.0.0.1:1/news"
        in log
    )
    assert "hunter2" not in log


def test_migrating_back_to_sqlite_a_store_without_runs_warns_of_nothing_lost(
    tour: Path, pg_url: str, tmp_path: Path
) -> None:
    """The worker column of `runs` is lost only when there are runs: a store no worker has used loses nothing."""
    code, _, err = run_cli(tour, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    code, _, err = run_cli(tour, "--store", pg_url, "store", "migrate", "--to", f"sqlite:{tmp_path / 'back.sqlite'}")
    assert code == 0, err
    assert "warning" not in err
    assert export_jsonl(tour) == export_jsonl_of(tmp_path / "elsewhere", f"sqlite:{tmp_path / 'back.sqlite'}")


def export_jsonl_of(archive: Path, store: str) -> list[dict[str, object]]:
    import json

    code, out, err = run_cli(archive, "--store", store, "export", "--jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_stats_on_postgresql_search_counts_the_search_tables_in_the_store_not_a_missing_index(
    tour: Path, pg_url: str, tmp_path: Path
) -> None:
    """With PostgreSQL search the local index/ is not used: stats said `index 0 B; index missing`, as if
    something were broken."""
    code, _, err = run_cli(tour, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    code, out, err = run_cli(tmp_path / "machine2", "--store", pg_url, "stats")
    assert code == 0, err
    size = next(line for line in out.splitlines() if line.startswith("size:"))
    assert "with its search tables" in size and "missing" not in size and "index/" not in size
    code, out, err = run_cli(tour, "--store", pg_url, "stats")  # an archive directory with an index/ of its own
    size = next(line for line in out.splitlines() if line.startswith("size:"))
    assert "a local index/ of" in size and "not used" in size


def _login_role(pg_url: str, name: str, grant: str | None) -> str:
    """A login role of the test cluster (which trusts everyone), with ``grant`` on every table; its URL."""
    import os

    import psycopg

    role = f"{name}_{os.getpid()}_{pg_url.rsplit('/', 1)[1]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        if grant:
            admin.execute(f'GRANT {grant} ON ALL TABLES IN SCHEMA public TO "{role}"')
    return pg_url.replace("postgres@", f"{role}@", 1)


def test_a_writing_command_refused_a_right_on_the_store_is_exit_2_saying_what_to_grant(
    tour: Path, pg_url: str, tmp_path: Path
) -> None:
    """docs/scale-out.md: a missing right is one line naming the store and what to grant, exit 2, for every
    command. `ingest` and `reindex` as a read-only user ended in `unexpected InsufficientPrivilege` (exit 70)."""
    code, _, err = run_cli(tour, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    reader = _login_role(pg_url, "reader", "SELECT")
    code, _, err = run_cli(tmp_path / "m", "--store", reader, "search", "crimea")
    assert code == 0, err  # reading is all a reader needs
    for args in (("ingest",), ("reindex",)):
        code, _, err = run_cli(tmp_path / "m", "--store", reader, *args)
        assert code == 2, (args, err)
        assert "refused access: permission denied" in err and "Hint: grant" in err, args
        assert "unexpected" not in err and "LINE " not in err


def test_show_raw_from_a_warc_location_that_is_not_there_says_so_not_that_a_file_is_missing(
    tour: Path, tmp_path: Path
) -> None:
    """A shared WARC mount not mounted: `show --raw` said `WARC file missing ... restore it from a backup`."""
    archive = tmp_path / "archive"
    shutil.copytree(tour, archive)
    shared = tmp_path / "shared-warc"
    (archive / "warc").rename(shared)  # the files live on the share now
    code, out, err = run_cli(archive, "--warc", str(shared), "search", "crimea", "--json")
    assert code == 0, err
    url = json.loads(out)[0]["url"]
    code, out, err = run_cli(archive, "--warc", str(shared), "show", url, "--raw")
    assert code == 0 and "<html" in out.lower()
    code, _, err = run_cli(archive, "--warc", str(tmp_path / "not-mounted"), "show", url, "--raw")
    assert code == 2, err
    assert f"the WARC location {tmp_path / 'not-mounted'} is not a directory" in err and "Hint: mount" in err


def test_show_raw_still_reads_the_archives_own_warc_when_the_location_is_not_there(tour: Path, tmp_path: Path) -> None:
    """docs/scale-out.md: a name not found in the location is looked for in the archive's own warc/."""
    code, out, _ = run_cli(tour, "search", "crimea", "--json")
    url = json.loads(out)[0]["url"]
    code, out, err = run_cli(tour, "--warc", str(tmp_path / "not-mounted"), "show", url, "--raw")
    assert code == 0, err


def test_a_sqlite_store_setting_naming_a_directory_is_a_usage_error_with_the_file_to_name(
    tour: Path, tmp_path: Path
) -> None:
    """`--store sqlite:DIR` was `cannot open the article store DIR: disk I/O error`, exit 1, no hint."""
    code, _, err = run_cli(tour, "--store", f"sqlite:{tmp_path}", "stats")
    assert code == 2, err
    assert f"sqlite:{tmp_path} is a directory" in err and f"sqlite:{tmp_path / 'store.sqlite'}" in err
    code, _, err = run_cli(tour, "store", "migrate", "--to", f"sqlite:{tmp_path}")
    assert code == 2, err
    assert f"--to: {tmp_path} is a directory" in err


def test_a_store_url_with_its_scheme_in_capitals_is_read_as_written_in_lower_case() -> None:
    """libpq knows `postgresql://` only: `POSTGRESQL://...` was accepted, then refused by libpq with
    `missing "=" after ... in connection info string`."""
    from newsarchive.store.backend import parse_store_spec

    assert parse_store_spec("POSTGRESQL://news@db.example.org/news").url == "postgresql://news@db.example.org/news"
    assert parse_store_spec("Postgres://news@db/news").url == "postgres://news@db/news"


def test_a_worker_refused_the_change_sequence_is_told_to_grant_the_sequences(
    tour: Path, pg_url: str, tmp_path: Path
) -> None:
    """docs/scale-out.md: workers need USAGE on the sequences (search_change_seq), which a grant on all
    tables does not give; the message of that refusal says which grant is missing."""
    import click
    import psycopg

    from newsarchive.cli import _store_denied
    from newsarchive.cli._context import Context

    code, _, err = run_cli(tour, "store", "migrate", "--to", pg_url)
    assert code == 0, err
    worker = _login_role(pg_url, "worker", "SELECT, INSERT, UPDATE, DELETE")
    with psycopg.connect(worker, autocommit=True) as conn, pytest.raises(psycopg.Error) as info:
        conn.execute("SELECT nextval('search_change_seq')")
    ctx = click.Context(click.Command("x"), obj=Context(tmp_path / "m", verbose=False, quiet=False, store=worker))
    denied = _store_denied(ctx, info.value)
    assert denied is not None and denied.exit_code == 2
    assert "permission denied for sequence search_change_seq" in denied.message
    assert denied.hint and "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public" in denied.hint


def test_a_worker_granted_row_rights_and_the_sequences_writes_into_tables_it_does_not_own(
    pg_url: str, tmp_path: Path
) -> None:
    """docs/scale-out.md: a worker with the row rights and USAGE on the sequences writes articles and their search
    rows into the tables the owner made. Opening the search tables ran their set-up statements (CREATE ... IF NOT
    EXISTS), which only the owner may run: every writing command of such a worker was refused."""
    import psycopg
    from test_ingest_archive import write_warc

    code, _, err = run_cli(tmp_path / "o", "--store", pg_url, "import-warc", str(TOUR))  # the owner: every table
    assert code == 0, err
    worker = _login_role(pg_url, "writer", "SELECT, INSERT, UPDATE, DELETE")
    role = worker.split("//", 1)[1].split("@", 1)[0]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    page = FIXTURES / "sites" / "almayadeen" / "opinion-named-author.html"
    url = "https://english.almayadeen.net/articles/opinion/why-sanctions-keep-failing--a-view-from-the-global-south"
    write_warc(tmp_path / "new.warc.gz", [(url, page.read_bytes())])
    code, out, err = run_cli(tmp_path / "w", "--store", worker, "import-warc", "--json", str(tmp_path / "new.warc.gz"))
    assert code == 0, err
    assert json.loads(out)["new"] == 1
    code, out, err = run_cli(tmp_path / "w", "--store", worker, "search", "sanctions global south", "--json")
    assert code == 0, err
    assert [hit["url"] for hit in json.loads(out)] == [url]  # its search rows, written by the worker
