"""A throwaway PostgreSQL cluster for the test session, from the machine's own PostgreSQL binaries.

``initdb`` in a temporary directory, ``pg_ctl start`` on a free port of 127.0.0.1 with durability off
(a test cluster never outlives the session), one fresh database per test. When the binaries are
missing, PostgreSQL tests are skipped with a message saying how to run them; when
``NEWSARCHIVE_REQUIRE_POSTGRES`` is set (``.ci/run`` sets it), they fail instead, so CI never passes
by skipping them. Likewise the tests of a RUM index skip on a server without the ``rum`` extension, and
fail under ``NEWSARCHIVE_REQUIRE_RUM`` (``.ci/run`` sets it where the extension's package is installed).

As root (CI containers), the server runs as the ``postgres`` system user (PostgreSQL refuses root),
through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

ENV_REQUIRE = "NEWSARCHIVE_REQUIRE_POSTGRES"
HOW_TO = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them (Debian: apt-get install postgresql) "
    "or put their directory on PATH (or in NEWSARCHIVE_PG_BIN), then run pytest again"
)

ENV_REQUIRE_RUM = "NEWSARCHIVE_REQUIRE_RUM"
HOW_TO_RUM = (
    "this PostgreSQL server has no RUM extension: install it (Debian: apt-get install postgresql-MAJOR-rum, the"
    " server's major version), then run pytest again"
)


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: $NEWSARCHIVE_PG_BIN, PATH, then Debian's layout."""
    explicit = os.environ.get("NEWSARCHIVE_PG_BIN")
    candidates: list[Path] = [Path(explicit)] if explicit else []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One running PostgreSQL server; :meth:`new_database` gives each test its own database URL."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="newsarchive-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o700)
        self._count = 0

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> Cluster:
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database's URL (``CREATE DATABASE`` from template0, a few tens of ms)."""
        import psycopg

        self._count += 1
        name = f"t{os.getpid()}_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        return self.url(name)

    def has_rum(self) -> bool:
        """Whether the server offers the ``rum`` extension (its package is installed)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'").fetchone() is not None

    def drop_database(self, url: str) -> None:
        """Drop a test's database when the test is done: its files are removed while they are still in the
        page cache, instead of 1.3 GB of them read back and removed at the end of the session (60 s of a
        loaded machine's full run went to that). Connections a test left open are closed (FORCE)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
