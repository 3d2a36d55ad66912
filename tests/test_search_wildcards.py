"""Wildcards on stemmed fields (newsarchive.wildcard): ``P*`` finds every article holding a word that starts with
``P``, although the index stores stems (``election`` -> ``elect``, ``الحكومة`` -> ``حكوم``).

Checked on the real vocabulary (shared/corpus-stats: 34,050 English and 60,000 Arabic words), on generated
words (stems with every suffix and Arabic prefix of tests/test_snippet_prefilter.py, Spanish verbs and nouns)
and through the index: for every word and every prefix of it (three letters or more; two in Arabic, a prefix the
stemmer removes, ال or وبال, being no pattern of its own), the plan of ``P*`` holds the word's term, and an index
of those words answers ``P*`` with the word's article.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from conftest import require_shared
from whoosh import query

from newsarchive.analysis import WORD_RE, index_terms_of_word, normalize_word
from newsarchive.article import Article
from newsarchive.index.writer import create_index, write_articles
from newsarchive.search import SearchRequest, build_query, search
from newsarchive.wildcard import StemPattern, plan, starts_of
from newsarchive.wildcard_data import AR_PREFIXES
from tests.test_snippet_prefilter import AR_PREFIXES as AR_AFFIXES
from tests.test_snippet_prefilter import AR_STEMS, AR_SUFFIXES, EN_STEMS, EN_SUFFIXES, EN_WORDS

ES_WORDS = [
    "política",
    "políticas",
    "políticamente",
    "gobierno",
    "gobiernos",
    "gobernar",
    "gobernando",
    "elección",
    "elecciones",
    "electoral",
    "negociación",
    "negociaciones",
    "independencia",
    "independiente",
    "presidente",
    "presidenta",
    "ministro",
    "ministerio",
    "nacionales",
    "guerra",
    "acuerdos",
    "trabajadores",
    "económico",
    "económicamente",
    "internacionales",
    "desarrollar",
    "desarrollando",
    "comunicación",
    "dándole",
    "diciéndoselo",
    "ponerlos",
    "constitucional",
    "democracia",
    "democráticas",
    "ciudadanos",
    "fronteras",
    "seguridad",
    "libertades",
    "violencia",
    "rápidamente",
    "lógicamente",
    "capitalismo",
    "nacionalismo",
    "autoridades",
    "posibilidad",
    "crecimiento",
    "conocimiento",
    "importancia",
    "hablaríamos",
    "comeremos",
    "viviríamos",
    "anunció",
    "anunciaron",
    "afirmó",
    "declararon",
    "según",
    "países",
    "niños",
    "años",
]


def _vocabulary(lang: str, n: int) -> list[str]:
    rng = random.Random(f"wildcards-{lang}")
    if lang == "es":
        return ES_WORDS
    stats = json.loads(require_shared("corpus-stats", "stats.json").read_text("utf-8"))
    words = [w for w, *_ in stats["languages"][lang]["words"] if WORD_RE.fullmatch(w) and w.isalpha()]
    return rng.sample(words, min(n, len(words)))


def _generated(lang: str) -> list[str]:
    rng = random.Random(f"generated-{lang}")
    if lang == "en":
        stems = EN_STEMS.split()
        return EN_WORDS + [rng.choice(stems) + rng.choice(EN_SUFFIXES) + rng.choice(EN_SUFFIXES) for _ in range(150)]
    if lang == "ar":
        return [rng.choice(AR_AFFIXES) + rng.choice(AR_STEMS) + rng.choice(AR_SUFFIXES) for _ in range(150)]
    return []


def _removed_prefix(word: str, term: str) -> int:
    """How many letters the Arabic stemmer took off the start of ``word`` (0 if none it could vouch for)."""
    best = 0
    for removed, written in AR_PREFIXES:
        if removed and word.startswith(removed) and term.startswith(written + word[len(removed) : len(removed) + 2]):
            best = max(best, len(removed))
    return best


def _pairs(lang: str, words: list[str]) -> list[tuple[str, str, str]]:
    """(word, prefix, the word's term) for every prefix a pattern may be made of."""
    out = []
    for word in dict.fromkeys(words):
        terms = index_terms_of_word(word, lang)
        if not terms:
            continue  # a stop word: no term to find
        norm = normalize_word(word, lang)
        least = 2 if lang == "ar" else 3
        if lang == "ar":
            least = max(least, _removed_prefix(norm, terms[0]) + 1)
        out += [(word, norm[:k], terms[0]) for k in range(least, len(norm) + 1)]
    return out


def _found_by(pattern: str, lang: str, term: str) -> bool:
    p = plan(pattern, lang)
    return term in p.exact or any(term.startswith(s) for s in p.starts)


@pytest.mark.parametrize(("lang", "n"), [("en", 800), ("ar", 800), ("es", 0)])
def test_every_prefix_of_a_word_finds_its_term(lang: str, n: int) -> None:
    missed = [
        (word, prefix, term)
        for word, prefix, term in _pairs(lang, _vocabulary(lang, n) + _generated(lang))
        if not _found_by(prefix + "*", lang, term)
    ]
    assert not missed, missed[:20]


def test_the_examples_of_the_review() -> None:
    assert plan("election*", "en").exact == ("elect", "electio")  # election, elections; and "electio" + "n"
    assert "elect" in plan("electi*", "en").exact  # "electi" + "on"
    assert plan("elect*", "en").exact == ()  # never a prefix match on a stem: "electr" is no word of "elect*"
    assert plan("talks*", "en").exact == ("talk",)
    assert plan("running*", "en").exact == ("run",)
    assert "حكو" in plan("الحكو*", "ar").starts  # ال is taken off by the stemmer
    assert starts_of("يستخ", "ar") == ("يستخ", "استخ")  # يست is written است
    assert "polit" in plan("politic*", "es").exact  # política -> polit


def test_patterns_with_a_question_mark_or_an_inner_star_match_a_word_of_the_term() -> None:
    assert plan("gov?rnment", "en").select(["govern", "governor", "gover", "gold"]) == ["govern"]
    assert "elect" in plan("elect*on", "en").select(["elect", "electron", "elector"])
    assert plan("elect*on", "en").select(["gold"]) == []
    assert "حكوم" in plan("الحك?مة", "ar").select(["حكوم", "حكم"])


ARTICLES = [
    Article(url="https://a.example/1", headline="Election day", body="Officials talked about electioneering.",
            site="alpha", lang="en", tags=("Elections",), published=datetime(2023, 2, 16, tzinfo=UTC)),
    Article(url="https://a.example/2", headline="Electric cars", body="An electrician was running late.",
            site="alpha", lang="en", published=datetime(2023, 2, 17, tzinfo=UTC)),
    Article(url="https://b.example/3", headline="Las políticas del gobierno", body="Elecciones y negociaciones.",
            site="beta", lang="es", published=datetime(2024, 3, 16, tzinfo=UTC)),
    Article(url="https://c.example/4", headline="الحُكُومَة تعلن", body="أعلنت الحكومة اليوم عن خطة وسيستخدمون المدارس.",
            site="gamma", lang="ar", published=datetime(2024, 5, 1, tzinfo=UTC)),
    Article(url="https://d.example/5", headline="Le gouvernement", body="Les élections du gouvernement.",
            site="delta", lang="fr", tags=("Gouvernement",), published=datetime(2024, 5, 2, tzinfo=UTC)),
]  # fmt: skip


@pytest.fixture(scope="module")
def ix(tmp_path_factory: pytest.TempPathFactory) -> object:
    index = create_index(tmp_path_factory.mktemp("wildcards") / "ix")
    write_articles(index, ARTICLES)
    return index


def _urls(ix: object, text: str) -> set[str]:
    return {h.url[-1] for h in search(ix, SearchRequest(text=text, limit=50)).hits}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("election", {"1"}),
        ("election*", {"1"}),  # election, electioneering (and Elections, the tag)
        ("elections*", {"1"}),  # Elections (a tag) and election, stored as "elect"
        ("electi*", {"1"}),
        ("elect*", {"1", "2"}),  # electric, electrician: words starting with "elect"
        ("electric*", {"2"}),
        ("talke*", {"1"}),  # talked -> talk
        ("running*", {"2"}),
        ("runn*", {"2"}),
        ("elect*on", {"1", "2"}),  # election (elect); electric too: "electr" is the term of "electrization"
        ("el?ction", {"1"}),
        ("politic*", {"3"}),  # políticas -> polit
        ("eleccion*", {"3"}),
        ("negociacion*", {"3"}),
        ("الحكو*", {"4"}),  # الحكومة -> حكوم
        ("حكو*", {"4"}),
        ("يستخدم*", {"4"}),  # وسيستخدمون -> استخدم
        ("gouvern*", {"5"}),  # other languages: lowercased words, compared as they are
        ("gouvernements*", set()),
        ("élection*", {"5"}),
        ("tags:elect*", {"1"}),  # tags and bylines: keys, compared as they are
        ("tags:gouv*", {"5"}),
    ],
)
def test_patterns_through_the_index(ix: object, text: str, expected: set[str]) -> None:
    assert _urls(ix, text) == expected


def test_every_prefix_of_every_word_of_the_index_finds_its_article(ix: object) -> None:
    for article in ARTICLES:
        lang = article.lang if article.lang in ("en", "es", "ar") else "xx"
        for word in WORD_RE.findall(article.headline + " " + article.body):
            if not index_terms_of_word(word, lang):
                continue
            norm = normalize_word(word, lang)
            least = 2 if lang == "ar" else 3
            if lang == "ar":
                least = max(least, _removed_prefix(norm, index_terms_of_word(word, lang)[0]) + 1)
            for k in range(least, len(norm) + 1):
                assert article.url[-1] in _urls(ix, norm[:k] + "*"), (word, norm[:k])


def test_the_pattern_leaves_and_what_is_left_alone(ix: object) -> None:
    q = build_query(ix, "election*")  # type: ignore[arg-type]
    leaves = {(type(leaf).__name__, leaf.fieldname) for leaf in q.leaves()}
    assert ("StemPattern", "body_en") in leaves and ("StemPattern", "body_ar") in leaves
    assert ("Prefix", "body_xx") in leaves and ("Prefix", "tags") in leaves
    assert not any(isinstance(leaf, StemPattern) and leaf.fieldname.endswith("_xx") for leaf in q.leaves())
    every = build_query(ix, "?*")  # type: ignore[arg-type]
    assert not any(isinstance(leaf, StemPattern) for leaf in every.leaves())
    assert isinstance(StemPattern("body_en", "election*").normalize(), StemPattern)  # never Whoosh's Prefix
    assert not isinstance(StemPattern("body_en", "election*").normalize(), query.Term)


def test_no_suggestion_for_a_pattern(ix: object) -> None:
    assert search(ix, SearchRequest(text="zzqx*")).suggestion is None  # type: ignore[arg-type]
    assert search(ix, SearchRequest(text="electoin")).suggestion == "election"  # type: ignore[arg-type]


def test_whoosh_s_own_searcher_finds_what_the_evaluator_finds(ix: object) -> None:
    from newsarchive.index.evaluate import Evaluator

    for text in ("election*", "electi*", "elect*on", "el?ction", "الحكو*", "politic*", "runn*"):
        q = build_query(ix, text)  # type: ignore[arg-type]
        with ix.searcher() as searcher:  # type: ignore[attr-defined]
            assert Evaluator(searcher).docs(q) == set(searcher.docs_for_query(q)), text
