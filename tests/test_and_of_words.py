"""An AND of words is scored in the documents holding all of them only (evaluate.Evaluator._and_of_words): the
general path's documents and scores, and Whoosh's, over several segments with deleted and updated articles."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from whoosh.index import Index

from newsarchive.article import Article
from newsarchive.index.evaluate import Evaluator
from newsarchive.index.writer import create_index, write_articles
from newsarchive.search import build_query

_AR = ["في", "غزة", "الحكومة", "قال", "الوزير", "الأمن", "المقاومة", "الاحتلال"]
_EN = ["grain", "deal", "sea", "port", "ship", "talks", "crimea", "minister"]
_WEIGHTS = [30, 20, 12, 8, 6, 4, 3, 2]


def _index(tmp_path: Path, seed: int) -> Index:
    rng = random.Random(seed)

    def text(vocab: list[str], k: int) -> str:
        return " ".join(rng.choices(vocab, _WEIGHTS, k=k))

    articles = []
    for i in range(90):
        lang, vocab = rng.choice((("ar", _AR), ("en", _EN), ("en", _EN)))
        articles.append(
            Article(url=f"https://a.example/{seed}/{i}", headline=text(vocab, rng.randint(1, 6)), lang=lang,
                    description=text(vocab, rng.randint(0, 10)), body=text(vocab, rng.randint(1, 200)))
        )  # fmt: skip
    index = create_index(tmp_path / "ix")
    write_articles(index, articles[:40])
    write_articles(index, articles[40:80])
    write_articles(index, [*articles[80:], articles[3].replace(body="grain deal في غزة")], delete_ids=[articles[9].id])
    return index


def _queries(rng: random.Random) -> list[str]:
    out = []
    for vocab in (_AR, _EN, _AR + _EN):
        for _ in range(12):
            words = rng.sample(vocab, rng.randint(2, 4))
            if rng.random() < 0.3:
                words[0] += "^2"
            if rng.random() < 0.3:
                words[-1] = "headline:" + words[-1]
            if rng.random() < 0.3:
                words.append("NOT " + rng.choice(vocab))
            out.append(" ".join(words))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_ands_of_words_score_as_the_general_path_and_whoosh_do(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same documents and the same floats as the general path (every document of each word scored, then
    intersected), and Whoosh's documents and scores (Whoosh adds a word's fields and the words in the order of
    its matcher trees, the evaluator in the query's: the last bit of a sum of three may differ, as before)."""
    index = _index(tmp_path, seed)
    queries = _queries(random.Random(seed))
    with index.searcher() as searcher:
        ours = {text: Evaluator(searcher).scores(build_query(index, text)) for text in queries}
    with monkeypatch.context() as patch:
        patch.setattr(Evaluator, "_and_of_words", lambda self, positive, negative: None)
        with index.searcher() as searcher:
            general = {text: Evaluator(searcher).scores(build_query(index, text)) for text in queries}
    assert ours == general
    found = 0
    with index.searcher() as searcher:
        for text in queries:
            q = build_query(index, text)
            expected = {h.docnum: h.score for h in searcher.search(q, limit=None, optimize=False)}
            assert Evaluator(searcher).docs(q) == set(expected), text
            assert ours[text] == pytest.approx(expected, rel=1e-12), text
            found += bool(expected)
    assert found > 20
