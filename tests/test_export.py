"""Export: JSON array, JSON Lines and CSV, every Article field, query and filters as in search."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner
from conftest import FIXTURES

from newsarchive.article import ARTICLE_JSON_KEYS, Article, Image
from newsarchive.cli import cli
from newsarchive.export import csv_row, write_records

TOUR = FIXTURES / "tour" / "example-news.warc.gz"


def _run(archive: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--archive", str(archive), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_csv_has_every_field_and_flattens_lists() -> None:
    art = Article(url="https://x.example/a", headline="H", body="B", tags=("A", "B; C"), byline=("Jo",),
                  images=(Image("https://x.example/i.jpg", "cap"),))  # fmt: skip
    out = io.StringIO()
    assert write_records([art.to_dict()], out, "csv") == 1
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == ARTICLE_JSON_KEYS
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["tags"] == "A; B, C"
    assert json.loads(record["images"]) == [{"caption": "cap", "url": "https://x.example/i.jpg"}]
    assert record["published"] == ""
    assert len(csv_row(art.to_dict())) == len(ARTICLE_JSON_KEYS)


def test_json_array_of_nothing_is_valid_json() -> None:
    out = io.StringIO()
    assert write_records([], out, "json") == 0
    assert json.loads(out.getvalue()) == []


def test_export_takes_the_query_and_filters_of_search(tmp_path: Path) -> None:
    _run(tmp_path, "import-warc", str(TOUR))
    code, out, _ = _run(tmp_path, "export", "grain", "--jsonl")
    assert code == 0
    assert [json.loads(line)["headline"] for line in out.splitlines()] == [
        "Black Sea grain corridor talks resume in Istanbul"
    ]
    code, out, _ = _run(tmp_path, "export", "--from", "2023", "--to", "2023", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    _, everything, _ = _run(tmp_path, "export", "--jsonl")
    of_2023 = [line for line in everything.splitlines() if json.loads(line)["published"].startswith("2023")]
    assert len(rows) == len(of_2023) >= 2
    assert all(r["published"].startswith("2023") for r in rows)


def test_export_csv_to_a_file(tmp_path: Path) -> None:
    _run(tmp_path, "import-warc", str(TOUR))
    target = tmp_path / "all.csv"
    code, _, err = _run(tmp_path, "export", "--csv", "-o", str(target))
    assert code == 0
    _, everything, _ = _run(tmp_path, "export", "--jsonl")
    total = len(everything.splitlines())
    assert f"{total} articles written" in err
    assert len(list(csv.DictReader(target.open(encoding="utf-8")))) == total
