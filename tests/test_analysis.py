"""Language-aware analysis: Snowball stemming for English and Spanish, Arabic normalisation and light stemming."""

from __future__ import annotations

import pickle

import pytest

from newsarchive.analysis import analyze, analyzer_for, lang_key, normalize_arabic


@pytest.mark.parametrize(
    ("lang", "expected"), [("en-GB", "en"), ("ES", "es"), ("ar", "ar"), ("fr", "xx"), (None, "xx")]
)
def test_language_keys_pick_an_analysis(lang: str | None, expected: str) -> None:
    assert lang_key(lang) == expected


def test_english_words_are_stemmed_and_stopwords_dropped() -> None:
    assert analyze("The officials were running", "en") == ["offici", "run"]


def test_spanish_words_are_stemmed_with_or_without_accents() -> None:
    assert analyze("políticas", "es") == analyze("politicas", "es") == analyze("política", "es")


@pytest.mark.parametrize("variant", ["الحكومة", "الحكومه", "الحُكُومَة", "الحــكومة", "حكومة", "بالحكومة"])
def test_arabic_spelling_variants_share_one_term(variant: str) -> None:
    assert analyze(variant, "ar") == analyze("حكومة", "ar")


def test_arabic_normalisation_folds_alef_forms_ya_and_removes_tatweel_and_diacritics() -> None:
    assert normalize_arabic("أإآٱ") == "اااا"
    assert normalize_arabic("على") == "علي"
    assert normalize_arabic("كـــتَبَ") == "كتب"


def test_analyzers_pickle_with_the_index_schema() -> None:
    analyzer = analyzer_for("en")
    assert [t.text for t in analyzer("running")] == ["run"]
    clone = pickle.loads(pickle.dumps(analyzer))
    assert [t.text for t in clone("running")] == ["run"]
