"""'Did you mean' gives the same suggestion on both backends and however many segments the Whoosh index has.

One rule (search.suggestion): each unknown plain word is replaced by the indexed term of the same first letter
within two Damerau-Levenshtein edits (a swap of two neighbouring letters is one edit) that is the closest, then
in the most documents (summed over the languages it is a candidate in), then first in code point order. The
archive below is built so that each misspelling tells the rule apart from what either backend did before:
Whoosh's own suggester counted a swap as two edits on an index of one segment and compared frequencies field
by field, looked for known words in headlines and bodies only, and counted deleted documents; PostgreSQL
compared (edits, frequency) per language.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsarchive.article import Article
from newsarchive.index.backend import WhooshBackend
from newsarchive.index.schema import article_to_doc
from newsarchive.index.writer import IndexWriter
from newsarchive.search import MAX_SUGGEST_WORDS, SearchRequest, suggest

FILLER = "lorem ipsum dolor sit amet"


def _article(i: int, lang: str, body: str, *, description: str = "", tags: tuple[str, ...] = ()) -> Article:
    return Article(
        url=f"https://s.example/{lang}/{i}",
        headline=f"{FILLER} {i}",
        body=f"{FILLER}. {body}",
        description=description or None,
        site="s.example",
        lang=lang,
        tags=tags,
        published=datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=i),
    )


#: (articles, the article replaced later: its old text keeps "gazza" and "gala" only in a deleted document)
ARTICLES = [
    _article(1, "en", "gaza"),
    _article(2, "en", "gaza"),
    _article(3, "fr", "gaza"),  # the same term in another language's text: counted with the English ones
    _article(4, "fr", "gaza"),
    _article(5, "en", "gala"),
    _article(6, "en", "gala"),
    _article(7, "en", "gala"),
    _article(8, "en", "corridor"),
    _article(9, "en", "tunnel"),
    _article(10, "en", "rafah"),
    _article(11, "en", "rafal"),
    _article(12, "en", "convey", description="The convoys waited."),  # convoy: in a description only
    _article(13, "en", "blinked", tags=("Blinken",)),  # blinken: a tag only
    _article(14, "ar", "معبر"),
    _article(15, "ar", "مصدر"),
    _article(16, "ar", "مصدر"),
    _article(17, "ar", "مصدر"),
    _article(18, "ar", "الاحتلال"),
]
REPLACED = _article(19, "en", "gazza gala")
REPLACEMENT = replace(REPLACED, body=f"{FILLER}. nothing else")

#: Misspelling -> the suggestion (None: no suggestion), with what it tells apart.
CASES = [
    ("gzaa", "gaza"),  # a swap: one edit (a Levenshtein automaton on one segment counted two: "gala", commoner)
    ("gaya", "gaza"),  # one edit each: gaza in 4 documents (2 English, 2 French), gala in 3 live ones (and 1 deleted)
    ("gazza", "gaza"),  # its only article was replaced: no longer a known word
    ("corrdor", "corridor"),  # a letter left out
    ("tunnnel", "tunnel"),  # a letter too many
    ("rafax", "rafah"),  # two candidates one edit away in one document each: code point order
    ("مبعر", "معبر"),  # an Arabic swap (مصدر, two substitutions away, is commoner)
    ("احتلل", "احتلال"),  # an Arabic letter left out
    ("corrdor tunnnel", "corridor tunnel"),
    ("the gzaa", "the gaza"),  # a stop word stays
    ("convoys gzaa", "convoys gaza"),  # a word found in a description is known ("convey" is not its correction)
    ("blinken gzaa", "blinken gaza"),  # a tag is known too
    ("gzaa AND corrdor", "gaza AND corridor"),  # operators stay
    ("gaza corridor", None),  # both known: they only never meet
    ("qqzx wwzx eezx rrzx ttzx", None),  # more unknown words than MAX_SUGGEST_WORDS: not a misspelling
]


def _commit_unmerged(backend: WhooshBackend, articles: list[Article]) -> None:
    """``write_articles``' commit, without Whoosh's merge of small segments: a segment per commit."""
    writer = IndexWriter(backend.ix)
    with writer.searcher() as searcher:
        for article in articles:
            writer.delete_by_term("id", article.id, searcher=searcher)
    writer.add_documents([article_to_doc(a) for a in articles])
    writer.commit(merge=False)


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Any) -> Iterator[dict[str, Any]]:
    """The archive in PostgreSQL search tables, a Whoosh index of one segment and one of several segments whose
    replaced article stays in its segment as a deleted document."""
    from newsarchive.index.pg_search import PgSearch, connect

    root = tmp_path_factory.mktemp("suggest")
    final = [*ARTICLES, REPLACEMENT]
    one = WhooshBackend(root / "one", create=True)
    one.add(final)
    several = WhooshBackend(root / "several", create=True)
    for i in range(0, len(ARTICLES), 5):
        _commit_unmerged(several, ARTICLES[i : i + 5])
    _commit_unmerged(several, [REPLACED])
    _commit_unmerged(several, [REPLACEMENT])
    pg = PgSearch(connect(pg_cluster.new_database()))
    pg.add([*ARTICLES, REPLACED])
    pg.add([REPLACEMENT])
    yield {"one": one, "several": several, "pg": pg}
    pg.close()
    one.close()
    several.close()


def test_the_whoosh_indexes_differ_in_segments_and_deletions(backends: dict[str, Any]) -> None:
    with backends["one"].ix.searcher() as s:
        assert len(s.reader().leaf_readers()) == 1 and not s.reader().has_deletions()
    with backends["several"].ix.searcher() as s:
        assert len(s.reader().leaf_readers()) > 2 and s.reader().has_deletions()


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
def test_the_same_suggestion_on_both_backends_and_any_segments(
    backends: dict[str, Any], text: str, expected: str | None
) -> None:
    got = {name: backend.search(SearchRequest(text)) for name, backend in backends.items()}
    assert {name: r.total for name, r in got.items()} == dict.fromkeys(backends, 0)
    assert {name: r.suggestion for name, r in got.items()} == dict.fromkeys(backends, expected)


def test_more_unknown_words_than_the_limit_get_no_suggestion(backends: dict[str, Any]) -> None:
    words = ["gzaa", "corrdor", "tunnnel", "rafax", "gaya"]
    with backends["several"].ix.searcher() as searcher:
        assert suggest(searcher, " ".join(words[:MAX_SUGGEST_WORDS])) is not None
        assert suggest(searcher, " ".join(words[: MAX_SUGGEST_WORDS + 1])) is None
    assert backends["pg"].suggest(" ".join(words[:MAX_SUGGEST_WORDS])) is not None
    assert backends["pg"].suggest(" ".join(words[: MAX_SUGGEST_WORDS + 1])) is None


def test_the_whoosh_suggester_reads_one_letter_s_terms(backends: dict[str, Any], monkeypatch: Any) -> None:
    """The work is bounded: the terms looked at are those of the word's first letter, never a field's whole list."""
    from newsarchive.index.whoosh_internals import prefix_terms

    asked: list[str] = []

    def spy(reader: Any, fieldname: str, prefix: str) -> list[str]:
        asked.append(prefix)
        return prefix_terms(reader, fieldname, prefix)

    monkeypatch.setattr("newsarchive.search.prefix_terms", spy)
    with backends["several"].ix.searcher() as searcher:
        assert suggest(searcher, "gzaa") == "gaza"
    assert asked and set(asked) == {"g"}


def test_prefix_terms_reads_the_terms_whoosh_expands(backends: dict[str, Any]) -> None:
    from newsarchive.index.whoosh_internals import prefix_terms

    for name in ("one", "several"):
        with backends[name].ix.searcher() as searcher:
            for reader, _ in searcher.reader().leaf_readers():
                for field in ("body_en", "body_ar", "headline_en", "description_en", "body_xx"):
                    for prefix in ("", "g", "ga", "gaz", "م", "zz"):
                        expected = [
                            t.decode("utf-8") if isinstance(t, bytes) else t
                            for t in reader.expand_prefix(field, prefix)
                        ]
                        assert prefix_terms(reader, field, prefix) == expected, (name, field, prefix)


def test_near_terms_finds_what_measuring_every_term_finds() -> None:
    """The automaton's walk over a sorted list (did-you-mean on both backends, ``word~`` on PostgreSQL) keeps
    exactly the terms sharing the prefix within the edits, as measuring every term would: generated words of a
    small alphabet (many near neighbours, swaps, repeated letters) and Arabic ones."""
    import random

    from newsarchive.index.whoosh_internals import edit_distance, near_terms

    rng = random.Random(4)
    for alphabet in ("abc", "abcdez", "غزةاحتلم"):
        terms = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(300)})
        for _ in range(60):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
            for maxdist in (1, 2):
                for prefix in (0, 1, 2):
                    expected = [
                        t for t in terms if t.startswith(text[:prefix]) and edit_distance(t, text, maxdist) <= maxdist
                    ]
                    assert near_terms(terms, text, maxdist, prefix) == expected, (text, maxdist, prefix)
