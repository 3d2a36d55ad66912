"""Snippets judge a text's words all at once (one normalisation pass, one stemmer call) with the
same result as judging them one by one with ``index_terms_of_word``: same verdicts, same snippets."""

from __future__ import annotations

import random

import pytest

from newsarchive.analysis import _TERMS, WORD_RE, index_terms_of_word, normalize_word
from newsarchive.snippet import Verdicts, _judge, _judge_all, _normalize_all, snippet

VOCABULARY = {
    "en": "the government's talks running ran runs ceasefire Crimea U.S. don’t skies dying early only news "
    "Ukraine's grain corridor Black Sea ministers agreed said policies policy it's a y café naïve 2023 1,200",
    "es": "el gobierno anunció las políticas del gobierno Politica política niño NIÑO cañón año n\u0303o "
    "acuerdo negociaciones Kiev según dijo también está están más años corredor",
    "ar": "الحُكُومَة تعلن ـ أعلنت الحكومة اليوم عن خطة الحكومه بالحكومة والحكومة وزير الخارجية "
    "مفاوضات أوكرانيا روسيا ﺍﻟﺤﻜﻮﻣﺔ ﻻ ٣٤ ٢٠٢٣ إعلان آخر ى ؤ ئ قالت",
}
#: Words that exercise every step: Greek final sigma, composed and decomposed accents, a leading
#: combining mark, dotted capital I, Arabic presentation forms, tatweel, mixed scripts.
TRICKY = [
    "ΣΟΦΟΣ", "σοφοσ", "Σ", "ΌΣΟΣ", "ΑΣ\u0301", "İstanbul", "Straße", "ﬁn", "Ǆemal", "\u0301abc", "A\u030a",
    "e\u0301\u0327", "ñandú", "n\u0303", "Ωμέγα\u0308", "東京", "الكرملين", "Kremlinالكرملين", "ـــ",
]  # fmt: skip


def _text(rng: random.Random, lang: str, n: int) -> str:
    words = VOCABULARY[lang].split() + TRICKY
    out = []
    for _ in range(n):
        out.append(rng.choice(words))
        out.append(rng.choice((" ", " ", " ", ", ", ". ", "\n", " (", ") ", " - ", "; ")))
    return "".join(out)


def _one_by_one(words: list[str], lang: str, query: frozenset[str]) -> Verdicts:
    verdicts: Verdicts = {}
    for word in words:
        _judge(word, lang, query, verdicts)
    return verdicts


@pytest.mark.parametrize("lang", ["en", "es", "ar", "xx"])
def test_normalising_words_together_equals_normalising_each(lang: str) -> None:
    rng = random.Random(lang)
    words = [w for text in VOCABULARY.values() for w in WORD_RE.findall(text)] + TRICKY
    for _ in range(40):
        sample = rng.sample(words, rng.randint(1, len(words)))
        assert _normalize_all(sample, lang) == [normalize_word(w, lang) for w in sample]


@pytest.mark.parametrize("lang", ["en", "es", "ar", "xx"])
def test_judging_a_text_s_words_at_once_equals_judging_each(lang: str) -> None:
    rng = random.Random(f"judge-{lang}")
    for _ in range(30):
        words = sorted(set(WORD_RE.findall(_text(rng, "en" if lang == "xx" else lang, 200))))
        terms = sorted({t for w in words for t in index_terms_of_word(w, lang)})
        query = frozenset(rng.sample(terms, min(len(terms), rng.choice((1, 2, 3)))))
        verdicts: Verdicts = {}
        _judge_all(words, lang, query, verdicts)
        assert verdicts == _one_by_one(words, lang, query)
        assert any(matched for _, matched in verdicts.values())


@pytest.mark.parametrize("lang", ["en", "es", "ar"])
def test_snippets_of_generated_texts_equal_the_snippets_of_word_by_word_judging(lang: str) -> None:
    rng = random.Random(f"snippet-{lang}")
    shown = 0
    for _ in range(60):
        text = _text(rng, lang, rng.choice((20, 150, 600)))
        words = WORD_RE.findall(text)
        terms = sorted({t for w in words for t in index_terms_of_word(w, lang)})
        query = frozenset(rng.sample(terms, min(len(terms), rng.choice((1, 1, 2, 3)))))
        for top in (1, 2, 3):
            reference = snippet(text, lang, query, top=top, cache=_one_by_one(sorted(set(words)), lang, query))
            assert snippet(text, lang, query, top=top) == reference
            shown += bool(reference)
    assert shown > 100


def test_a_snippet_of_a_text_past_the_highlight_limit_is_unchanged() -> None:
    rng = random.Random(3)
    text = _text(rng, "en", 9000)  # well past the 32 KiB Whoosh highlights
    query = frozenset({"ceasefir"})
    reference = snippet(text, "en", query, cache=_one_by_one(sorted(set(WORD_RE.findall(text))), "en", query))
    assert reference and snippet(text, "en", query) == reference


@pytest.mark.parametrize("lang", ["en", "es", "ar", "xx"])
def test_no_analysis_changes_the_first_letter_of_an_ascii_word(lang: str) -> None:
    """Snippets leave unanalysed a new ASCII word whose first letter starts no query term: that is right
    only while every language's analysis (lowercasing, stop words, stemming) keeps an ASCII word's first
    letter, as suffix-stripping stemmers do. Checked on the real vocabulary, the stemmers' exceptions and
    random letter strings."""
    rng = random.Random(f"first-{lang}")
    words = [w for text in VOCABULARY.values() for w in WORD_RE.findall(text) if w.isascii()]
    words += ["skis", "skies", "dying", "lying", "tying", "idly", "gently", "ugly", "early", "only", "singly"]
    words += ["news", "yes", "Youth", "y", "ys", "ied", "ies", "ing", "Ying", "aying"]
    letters = "abcdefghijklmnopqrstuvwxyzyyeeiiABCYZ0123456789_"
    words += ["".join(rng.choice(letters) for _ in range(rng.randint(1, 14))) for _ in range(20000)]
    for word in words:
        terms = index_terms_of_word(word, lang)
        assert not terms or terms[0][0] == word[0].lower(), (word, terms)


def test_snippets_that_skip_words_equal_snippets_that_judge_every_word() -> None:
    rng = random.Random("skip")
    for lang in ("en", "es", "ar"):
        for _ in range(60):
            text = _text(rng, lang, rng.choice((20, 150, 600)))
            words = WORD_RE.findall(text)
            terms = sorted({t for w in words for t in index_terms_of_word(w, lang)})
            query = frozenset(rng.sample(terms, min(len(terms), rng.choice((1, 2, 3)))))
            expected = snippet(text, lang, query, cache=_one_by_one(sorted(set(words)), lang, query))
            _TERMS[lang].clear()  # every word new: the skipping path
            assert snippet(text, lang, query) == expected
