"""CLI conventions people know from git, sqlite-utils and ripgrep: global options anywhere,
one --wait form, exit statuses (130 on Ctrl-C), progress only on a terminal, fast --help."""

from __future__ import annotations

import os
import pty
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT
from server import FixtureServer, write_sitemap

from newsarchive import errors
from newsarchive.cli import COMMANDS, cli, normalize_wait
from newsarchive.runlock import RunLock

TOUR = FIXTURES / "tour" / "example-news.warc.gz"
CRIMEA = "https://english.almayadeen.net/news/politics/us-not-actively-encouraging-ukraine-to-retake-crimea:-report"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def tour(tmp_path: Path) -> Path:
    archive = tmp_path / "tour"
    code, _, err = invoke("--archive", str(archive), "import-warc", str(TOUR))
    assert code == 0, err
    return archive


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "NEWSARCHIVE_ALLOW_PRIVATE": "1"}


# --- 1. global options before or after the command ------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_archive_option_works_before_and_after_the_command(tour: Path, where: str) -> None:
    args = ["search", "crimea"]
    args = ["--archive", str(tour), *args] if where == "before" else [*args, "--archive", str(tour)]
    code, out, _ = invoke(*args)
    assert code == 0
    assert "retake Crimea" in out


@pytest.mark.parametrize("args", [["-q", "reindex"], ["reindex", "-q"], ["reindex", "--quiet"]])
def test_quiet_works_before_and_after_the_command(tour: Path, args: list[str]) -> None:
    code, _, err = invoke("--archive", str(tour), *args)
    assert code == 0
    assert err == ""


def test_without_quiet_the_summary_is_printed(tour: Path) -> None:
    code, _, err = invoke("--archive", str(tour), "reindex")
    assert code == 0
    assert err.strip() == "reindex: 4 articles indexed"


def test_quiet_after_a_subcommand_of_a_group_works(tour: Path) -> None:
    (tour / "sources.toml").write_text('[[source]]\nname = "x"\nstart = ["https://example.com/feed.xml"]\n')
    code, _, err = invoke("sources", "remove", "x", "--archive", str(tour), "-q")
    assert code == 0
    assert err == ""
    assert 'name = "x"' not in (tour / "sources.toml").read_text()


@pytest.mark.parametrize("args", [["-v", "stats"], ["stats", "-v"], ["stats", "--verbose"]])
def test_verbose_before_or_after_the_command_shows_the_traceback_of_a_bug(
    tour: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    import newsarchive.cli.stats_cmd as stats_cmd

    monkeypatch.setattr(stats_cmd, "_human", lambda n: 1 / 0)
    result = CliRunner().invoke(cli, ["--archive", str(tour), *args])
    assert isinstance(result.exception, ZeroDivisionError)  # raised, so Python prints the traceback


def test_wait_alone_does_not_take_the_file_name_as_its_value(tour: Path) -> None:
    code, _, err = invoke("import-warc", "--wait", str(TOUR), "--archive", str(tour))
    assert code == 0, err
    assert "4 unchanged" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ingest", "--wait"], ["ingest", "--wait=3600"]),
        (["ingest", "--wait", "600"], ["ingest", "--wait=600"]),
        (["--wait", "ingest"], ["--wait=3600", "ingest"]),
        (["--wait", "2.5", "reindex"], ["--wait=2.5", "reindex"]),
        (["import-warc", "--wait", "a.warc.gz"], ["import-warc", "--wait=3600", "a.warc.gz"]),
        (["--wait=10", "reindex"], ["--wait=10", "reindex"]),
        (["search", "--", "--wait", "x"], ["search", "--", "--wait", "x"]),
    ],
)
def test_wait_has_one_form_everywhere(args: list[str], expected: list[str]) -> None:
    assert normalize_wait(args) == expected


@pytest.mark.parametrize(
    "args", [["--wait", "0.3", "reindex"], ["reindex", "--wait", "0.3"], ["reindex", "--wait=0.3"]]
)
def test_wait_before_or_after_the_command_waits_then_exits_75(tour: Path, args: list[str]) -> None:
    with RunLock(tour / "lock"):
        code, _, err = invoke("--archive", str(tour), *args)
    assert code == errors.EXIT_LOCKED
    assert "waiting up to 0.3 s for the run holding" in err
    assert "another newsarchive run is using" in err


def test_a_negative_wait_is_a_usage_error(tour: Path) -> None:
    code, _, err = invoke("--archive", str(tour), "reindex", "--wait", "-1")
    assert code == 2
    assert "--wait" in err


# --- 2. exit statuses -------------------------------------------------------------------


def test_readme_exit_status_table_lists_exactly_the_statuses_of_errors_py() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Exit status", 1)[1].split("\n#", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| `(\d+)` \|", section, re.M)}
    defined = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    assert documented == defined
    assert {0, 1, 2, 3, 70, 75, 130} <= defined


def test_search_without_hits_exits_1_like_grep(tour: Path) -> None:
    code, out, err = invoke("--archive", str(tour), "search", "zzyzzx")
    assert code == 1
    assert out == ""
    assert "No articles match." in err


def test_ctrl_c_exits_130_with_one_line_and_no_traceback(tour: Path) -> None:
    with RunLock(tour / "lock"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsarchive", "--archive", str(tour), "reindex", "--wait", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the process is in its wait loop: Python's SIGINT handler is set
        assert "waiting up to 60 s" in first
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert rest == "Interrupted.\n"
    assert "Traceback" not in rest and out == ""


def test_an_unexpected_error_exits_70_without_a_traceback(tour: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import newsarchive.cli.stats_cmd as stats_cmd

    monkeypatch.setattr(stats_cmd, "_human", lambda n: 1 / 0)
    code, _, err = invoke("--archive", str(tour), "stats")
    assert code == 70
    assert err.startswith("Error: unexpected ZeroDivisionError")
    assert "Traceback" not in err


# --- 5. --help and --version load no heavy module ----------------------------------------


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["-h"], *([name, "--help"] for name in COMMANDS), ["store", "rebuild", "-h"]]
)
def test_help_and_version_import_neither_numpy_nor_whoosh_nor_the_parsers(args: list[str]) -> None:
    """Every --help too: `search --help` loaded numpy and Whoosh (about 0.3 s against 0.1 s for the others)."""
    code = (
        "import sys\n"
        f"sys.argv = ['newsarchive', *{args!r}]\n"
        "from newsarchive.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = {'numpy', 'whoosh', 'trafilatura', 'lxml', 'tqdm', 'newsarchive.search', 'newsarchive.pipeline'}\n"
        "print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
    assert result.stderr.strip().splitlines()[-1] == "[]"
    assert "newsarchive" in result.stdout


def test_lazy_help_shows_each_command_s_own_first_line() -> None:
    for name, (module, short) in COMMANDS.items():
        command = cli.commands[name]
        assert command.callback is not None
        assert command.callback.__module__ == f"newsarchive.cli.{module}"
        assert short == command.get_short_help_str(limit=1000)
    assert list(cli.commands) and set(cli.commands) == set(COMMANDS)


# --- 3. progress: on a terminal only -----------------------------------------------------


def run_on_a_terminal(args: list[str]) -> tuple[int, bytes]:
    """Run newsarchive with stderr on a pseudo-terminal; returns the status and what the terminal got."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsarchive", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, env=_env(),
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks)


@pytest.mark.parametrize(
    ("args", "label", "unit"),
    [
        (["reindex"], b"reindex:", b"article"),
        (["reparse"], b"reparsing:", b"page"),
        (["export", "-o", "{tmp}/all.json"], b"export:", b"article"),
    ],
)
def test_progress_on_a_terminal_shows_counts_and_a_rate(
    tour: Path, tmp_path: Path, args: list[str], label: bytes, unit: bytes
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, screen = run_on_a_terminal(["--archive", str(tour), *args])
    assert code == 0, screen
    assert label in screen
    assert re.search(rb"\b4" + unit + rb"|/4 \[", screen), screen  # the count reached
    assert unit + b"/s]" in screen  # a rate


@pytest.mark.parametrize("command", ["import-warc", "store rebuild"])
def test_import_warc_progress_shows_the_bytes_read_a_rate_and_an_estimate(tour: Path, command: str) -> None:
    """The pages of a WARC file are not known before it is read, its size is: the progress is in bytes."""
    args = ["import-warc", str(TOUR)] if command == "import-warc" else ["store", "rebuild"]
    code, screen = run_on_a_terminal(["--archive", str(tour), *args])
    assert code == 0, screen
    size = rb"\d+(\.\d+)?k"  # the tour's WARC files are about 21 KiB
    # name: done% count/total [elapsed<estimate, rate, pages], e.g. 100% 20.7k/20.7kB [00:00<00:00, 220kB/s, 4 pages]
    line = rb"\S+\.warc\.gz: 100% " + size + b"/" + size + rb"B \[\d\d:\d\d<\d\d:\d\d, [\d.]+[kM]?B/s, 4 pages\]"
    assert re.search(line, screen), screen
    bars = [part for part in re.split(rb"[\r\n]", screen) if b"%" in part]
    assert bars and max(len(bar.decode().strip()) for bar in bars) <= 80  # fits a classic terminal


def test_progress_is_silent_under_quiet_on_a_terminal(tour: Path) -> None:
    code, screen = run_on_a_terminal(["--archive", str(tour), "-q", "reindex"])
    assert code == 0
    assert screen == b""


def test_progress_is_silent_in_a_pipe(tour: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsarchive", "--archive", str(tour), "export", "-o", str(tmp_path / "x.json")],
        capture_output=True, env=_env(), check=True,
    )  # fmt: skip
    assert result.stderr == b"4 articles written\n"


@pytest.fixture
def small_site(tmp_path: Path) -> Iterator[FixtureServer]:
    root = tmp_path / "site"
    (root / "news").mkdir(parents=True)
    for n in range(3):
        (root / "news" / f"s{n}.html").write_text(
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Story {n}</title>'
            '<meta property="article:published_time" content="2024-03-01T10:00:00+02:00"></head>'
            f"<body><article><h1>Story {n} about the harbour</h1>"
            + f"<p>Paragraph {n}: the harbour authority said ships would be delayed by the storm.</p>" * 5
            + "</article></body></html>",
            "utf-8",
        )
    write_sitemap(root, (f"/news/s{n}.html" for n in range(3)))
    server = FixtureServer(root).start()
    yield server
    server.stop()


def test_ingest_progress_on_a_terminal_counts_per_source(small_site: FixtureServer, tmp_path: Path) -> None:
    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_text(
        f'[settings]\ndelay = 0.01\n\n[[source]]\nname = "harbour"\nstart = ["{small_site.url("/sitemap.xml")}"]\n'
    )
    code, screen = run_on_a_terminal(["--archive", str(archive), "ingest"])
    assert code == 0, screen
    assert b"harbour: 3 discovered, 3 fetched, 3 new" in screen
    assert b"page/s" in screen


# --- 4. export -o: nothing left behind, clear errors --------------------------------------


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


def test_export_to_a_directory_is_a_usage_error_and_leaves_nothing(tour: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for _ in range(2):
        code, _, err = invoke("--archive", str(tour), "export", "-o", str(out_dir))
        assert code == 2
        assert err.splitlines()[0] == f"Error: -o {out_dir}: is a directory"
        assert "articles written" not in err
    assert list(out_dir.iterdir()) == []
    assert _leftovers(tmp_path) == []


def test_export_onto_a_symlink_writes_its_target_and_keeps_the_link(tour: Path, tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    (real_dir / "all.json").write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real_dir / "all.json")
    code, _, err = invoke("--archive", str(tour), "export", "-o", str(link))
    assert code == 0, err
    assert link.is_symlink()
    assert (real_dir / "all.json").read_text().startswith("[\n{")
    assert _leftovers(tmp_path) == [] and _leftovers(real_dir) == []


def test_export_failing_midway_leaves_no_temporary_file(tour: Path, tmp_path: Path) -> None:
    code, _, err = invoke("--archive", str(tour), "export", "-o", str(tmp_path / "x.json"), "--tag", "grain")
    assert code == 0, err
    shutil.rmtree(tour / "index")  # the next export needs the index: it fails after the file is opened
    code, _, err = invoke("--archive", str(tour), "export", "crimea", "-o", str(tmp_path / "y.json"))
    assert code != 0 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["x.json"]
    assert _leftovers(tmp_path) == []


def test_export_into_a_fifo_writes_it_directly(tour: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    code, _, err = invoke("--archive", str(tour), "export", "--jsonl", "-o", str(fifo))
    out, _ = reader.communicate(timeout=30)
    assert code == 0, err
    assert len(out.splitlines()) == 4
    assert fifo.exists() and not fifo.is_file()  # still the FIFO, not replaced by a file
    assert _leftovers(tmp_path) == []


needs_mount = pytest.mark.skipif(
    shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0,
    reason="needs `unshare -m` (a private mount namespace) for a real bind mount",
)


@needs_mount
def test_export_onto_a_bind_mounted_file_copies_across_and_leaves_nothing(tour: Path, tmp_path: Path) -> None:
    """A file that is itself a mount point cannot be renamed over (EBUSY/EXDEV): its content is replaced."""
    outside = tmp_path / "other-fs.json"
    outside.write_text("old")
    target_dir = tmp_path / "exports"
    target_dir.mkdir()
    target = target_dir / "all.json"
    target.write_text("")
    script = (
        f"mount --bind {outside} {target} && "
        f"{sys.executable} -m newsarchive --archive {tour} export --jsonl -o {target}"
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=_env())
    assert result.returncode == 0, result.stderr
    assert len(outside.read_text().splitlines()) == 4  # written through the mount
    assert _leftovers(target_dir) == []


# --- 7. library log lines only with -v ---------------------------------------------------


def test_library_log_lines_reach_the_terminal_only_with_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from newsarchive.cli._context import configure_logging

    configure_logging(verbose=False, quiet=False)
    for name in ("trafilatura.utils", "htmldate.core", "readability.readability", "urllib3.connectionpool"):
        logging.getLogger(name).error("library noise from %s", name)
    logging.getLogger("newsarchive.ingest").warning("our own warning")
    err = capsys.readouterr().err
    assert "library noise" not in err
    assert "WARNING newsarchive.ingest: our own warning" in err

    configure_logging(verbose=True, quiet=False)
    logging.getLogger("trafilatura.utils").error("now shown")
    assert "ERROR trafilatura.utils: now shown" in capsys.readouterr().err

    configure_logging(verbose=False, quiet=True)
    logging.getLogger("newsarchive.ingest").warning("hidden under -q")
    assert capsys.readouterr().err == ""
    configure_logging(verbose=False, quiet=False)


@needs_mount
def test_export_onto_a_full_disk_exits_1_and_leaves_nothing(tour: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    script = (
        f"mount -t tmpfs -o size=8k tmpfs {small} && "
        f"{sys.executable} -m newsarchive --archive {tour} export -o {small}/all.json; "
        f"echo status=$?; ls -A {small}"
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=_env())
    assert result.stdout.strip() == "status=1"  # and the (private) tmpfs holds no file at all
    assert result.stderr.splitlines()[0] == f"Error: -o {small}/all.json: cannot write it: No space left on device"


@pytest.mark.parametrize("verbose", [False, True])
def test_a_library_error_logged_during_a_command_shows_only_with_verbose(
    monkeypatch: pytest.MonkeyPatch, verbose: bool
) -> None:
    import logging

    import newsarchive.parse as parse

    real = parse.parse_page

    def noisy(*args: object, **kwargs: object) -> object:
        logging.getLogger("trafilatura.utils").error("parsed tree length: 1, wrong data type or not valid HTML")
        logging.getLogger("htmldate.core").warning("no date found")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parse, "parse_page", noisy)
    page = FIXTURES / "e2e" / "news" / "crimea-red-line.html"
    args = ["parse", str(page), "--url", "https://news.example.com/news/crimea-red-line.html", "--json"]
    code, out, err = invoke(*args, *(["-v"] if verbose else []))
    assert code == 0 and out.startswith("{")
    assert ("ERROR trafilatura.utils: parsed tree length" in err) is verbose
    assert ("htmldate.core" in err) is verbose
