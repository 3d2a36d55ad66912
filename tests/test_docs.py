"""The documentation matches the code it describes."""

from __future__ import annotations

import dataclasses
import re

import pytest
from conftest import ROOT

from newsarchive.article import ARTICLE_JSON_KEYS, Article
from newsarchive.cli import cli


def _documented_keys() -> list[str]:
    text = (ROOT / "docs" / "article-json.md").read_text("utf-8")
    section = text.split("## Keys", 1)[1].split("## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, re.M)


def test_article_json_doc_lists_exactly_the_dataclass_fields_in_order() -> None:
    fields = [f.name for f in dataclasses.fields(Article)]
    assert sorted(_documented_keys()) == sorted(fields)
    assert _documented_keys() == list(ARTICLE_JSON_KEYS)


def test_to_dict_emits_exactly_the_documented_keys() -> None:
    article = Article(url="https://example.com/a", headline="H", body="B")
    assert list(article.to_dict()) == _documented_keys()


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_text_and_is_in_the_readme(name: str) -> None:
    command = cli.commands[name]
    assert command.help and len(command.help) > 40
    assert f"newsarchive {name}" in (ROOT / "README.md").read_text("utf-8")


def test_sites_doc_is_generated_from_the_registry() -> None:
    from newsarchive.parse.registry import supported_sites_markdown

    current = (ROOT / "docs" / "sites.md").read_text("utf-8")
    assert current == supported_sites_markdown(), "regenerate: python -m newsarchive.parse.registry > docs/sites.md"
