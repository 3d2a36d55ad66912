"""`newsarchive sources`: the config file, built-in defaults, and add/list/remove with detection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from server import FixtureServer

from newsarchive.cli import cli
from newsarchive.errors import UsageError
from newsarchive.sources import builtin_sources_toml, load_config, parse_config


@pytest.fixture
def news_site() -> Iterator[FixtureServer]:
    server = FixtureServer(FIXTURES / "ingest-site").start()
    yield server
    server.stop()


def run(archive: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--archive", str(archive), "sources", *args])
    return result.exit_code, result.stdout, result.stderr


def test_builtin_defaults_include_al_mayadeen_english(tmp_path: Path) -> None:
    cfg = load_config(tmp_path)
    assert cfg.path is None
    assert [s.name for s in cfg.sources] == ["almayadeen-en"]
    assert cfg.sources[0].parser == "almayadeen"
    assert parse_config(builtin_sources_toml(), None).settings.delay >= 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[source]]\nname = 'x'\n", "needs start = "),
        ("[[source]]\nname = 'bad name!'\nstart = ['https://a.example/']\n", "line 2: .* is not a source name"),
        ("[settings]\ndelai = 2\n", "line 2: .*unknown key 'delai'"),
        ("[settings\n", "not valid TOML"),
        ("[[source]]\nname='a'\nstart=['https://a.example/']\n[[source]]\nname='a'\nstart=['https://b.example/']\n",
         "share the name 'a'"),
    ],
)  # fmt: skip
def test_config_mistakes_are_usage_errors_that_name_the_problem(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=message):
        parse_config(text, tmp_path / "sources.toml")


def test_add_detects_a_feed_and_writes_the_config(news_site: FixtureServer, tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "add", news_site.url("/feed.xml"), "--name", "fixture-feed")
    assert code == 0, err
    assert "added fixture-feed (feed)" in err
    code, out, _ = run(tmp_path, "list", "--json")
    sources = json.loads(out)
    assert [s["name"] for s in sources] == ["almayadeen-en", "fixture-feed"]
    assert sources[1]["start"] == [news_site.url("/feed.xml")]


def test_add_detects_a_blogger_blog_on_its_own_domain(tmp_path: Path) -> None:
    site = tmp_path / "blog"
    site.mkdir()
    (site / "index.html").write_bytes((FIXTURES / "sites/blogger/white-house-arabic-theme.html").read_bytes())
    server = FixtureServer(site).start()
    try:
        code, _, err = run(tmp_path / "archive", "add", server.url("/index.html"), "--name", "blog")
    finally:
        server.stop()
    assert code == 0, err
    _, out, _ = run(tmp_path / "archive", "list", "--json")
    blog = json.loads(out)[-1]
    assert blog["parser"] == "blogger"
    assert any("/feeds/posts/default" in u for u in blog["start"])


def test_remove_drops_a_source_and_unknown_names_are_usage_errors(news_site: FixtureServer, tmp_path: Path) -> None:
    run(tmp_path, "add", news_site.url("/feed.xml"), "--name", "fixture-feed")
    assert run(tmp_path, "remove", "fixture-feed")[0] == 0
    _, out, _ = run(tmp_path, "list", "--json")
    assert [s["name"] for s in json.loads(out)] == ["almayadeen-en"]
    code, _, err = run(tmp_path, "remove", "nope")
    assert code == 2
    assert "no source named 'nope'" in err


def test_add_of_an_unreachable_url_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "add", "http://127.0.0.1:9/feed.xml")
    assert code == 2
    assert err.startswith("Error: cannot read")


def test_allow_private_networks_are_validated(tmp_path: Path) -> None:
    cfg = parse_config('[settings]\nallow_private = ["10.0.0.0/8"]\n', None)
    assert cfg.settings.allow_private == ["10.0.0.0/8"]
    with pytest.raises(UsageError, match="bad network"):
        parse_config('[settings]\nallow_private = ["not-a-net"]\n', tmp_path / "sources.toml")


def test_config_allow_private_false_refuses_a_local_source(news_site: FixtureServer, tmp_path: Path) -> None:
    """The config wins over NEWSARCHIVE_ALLOW_PRIVATE=1 (set for every test): the local site is refused."""
    archive = tmp_path / "a"
    archive.mkdir()
    (archive / "sources.toml").write_text(
        "[settings]\ndelay = 0.0\nallow_private = false\n\n"
        f'[[source]]\nname = "f"\nstart = ["{news_site.url("/feed.xml")}"]\n'
    )
    result = CliRunner().invoke(cli, ["--archive", str(archive), "ingest"])
    assert result.exit_code == 1
    assert "non-public address" in result.stderr
    assert news_site.requests == []


def test_a_source_naming_no_parser_is_refused_by_sources_list_as_by_ingest(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text('[[source]]\nname = "x"\nstart = ["https://x.example/"]\nparser = "nope"\n')
    code, out, err = run(tmp_path, "list")
    assert code == 2 and "source 'x'" in err and "nope" in err and "x\t" not in out
    result = CliRunner().invoke(cli, ["--archive", str(tmp_path), "ingest"])
    assert result.exit_code == 2 and "source 'x'" in result.stderr


@pytest.mark.parametrize("key", ["warc", "store", "delay"])
def test_a_settings_key_at_the_top_of_the_file_says_it_belongs_under_settings(key: str) -> None:
    with pytest.raises(UsageError, match=rf"line 1: unknown table or key '{key}'; {key} is a \[settings\] key"):
        parse_config(f'{key} = "x"\n\n[[source]]\nname = "a"\nstart = "https://a.example/feed"\n', Path("s.toml"))


def test_warc_and_store_are_settings_kept_when_sources_add_rewrites_the_file(tmp_path: Path) -> None:
    from newsarchive.sources import save_sources

    path = tmp_path / "sources.toml"
    path.write_text('[settings]\nwarc = "/mnt/warc"\nstore = "postgresql://u@db/news"\n')
    save_sources(path, load_config(tmp_path).settings, ())
    settings = load_config(tmp_path).settings
    assert (settings.warc, settings.store) == ("/mnt/warc", "postgresql://u@db/news")
