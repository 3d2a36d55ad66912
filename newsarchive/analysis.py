"""Language-aware analyzers: English and Spanish Snowball stemming, Arabic normalisation and light stemming."""

from __future__ import annotations

import itertools
import re
import struct
import sys
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import Any

import Stemmer
from whoosh.analysis import Analyzer, Filter, LowercaseFilter, RegexTokenizer, StopFilter, Token
from whoosh.fields import ID, TEXT
from whoosh.formats import Format, Positions
from whoosh.lang.stopwords import stoplists

#: Languages with their own analysis; every other language uses ``OTHER`` (lowercase, no stemming).
LANGS = ("en", "es", "ar")
OTHER = "xx"
ALL_LANGS = (*LANGS, OTHER)

# Words, keeping combining marks (Arabic harakat, decomposed Latin accents) and tatweel inside the token.
#: A character a word starts with and runs through; a word then continues past a WORD_JOINERS character
#: followed by \w characters (``U.S``, ``don't``). ``bulk._tokens`` tokenizes with these classes too.
WORD_CHARS = r"[\w\u0300-\u036f\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06ed]"
WORD_JOINERS = "'’."
_WORD = WORD_CHARS + r"+(?:['’.][\w]+)*"

WORD_RE = re.compile(_WORD)

_AR_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")  # harakat, Quranic marks, tatweel
_AR_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ؤ": "و", "ئ": "ي"})
_AR_FINAL_HA = re.compile(r"(?<=\w\w\w)[هة]$")
_LATIN_MARKS = re.compile(r"[\u0300-\u036f]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")


def lang_key(lang: str | None) -> str:
    """'en-GB' -> 'en'; a language without its own analysis -> 'xx'."""
    primary = lang_primary(lang)
    return primary if primary in LANGS else OTHER


def lang_primary(lang: str | None) -> str:
    """'en-GB', 'EN_gb' -> 'en': what --lang compares and facets count, whichever path answers."""
    return (lang or "").split("-")[0].split("_")[0].strip().lower()


def tag_key(value: str) -> str:
    """A tag or author as searched, filtered and counted: lower case, runs of spaces as one, commas kept.

    "Gaza, Israel" is ``gaza, israel`` in the index, in --tag, in ``tags:"..."`` and in every facet. A NUL (in an
    article stored by a version before the parsers removed them) is U+FFFD, as the PostgreSQL store holds it and as
    a command line can give it.
    """
    key = " ".join(value.lower().split())
    return key.replace("\x00", "\ufffd") if "\x00" in key else key


def normalize_arabic(text: str) -> str:
    """Drop diacritics and tatweel; fold alef (أ إ آ ٱ), alef maqsura (ى) and hamza seats.

    Ta marbuta (ة) is left to the stemmer, which removes it as a suffix; ArabicStemFilter folds what is left.
    """
    return _AR_DIACRITICS.sub("", text).translate(_AR_FOLD)


def normalize_word(text: str, lang: str) -> str:
    """The normalisation of a token before stemming (also used for wildcard and prefix patterns)."""
    if text.isascii():  # nothing to fold in any language
        return text.lower()
    text = unicodedata.normalize("NFC", text).lower()
    if lang == "ar" or _ARABIC.search(text):
        text = normalize_arabic(text)
    if lang == "es":
        # Accents are optional in queries typed on an English keyboard: "politica" finds "política".
        text = _LATIN_MARKS.sub("", unicodedata.normalize("NFD", text)).replace("n\u0303", "ñ")
        text = unicodedata.normalize("NFC", text)
    return text


class NormalizeFilter(Filter):  # type: ignore[misc]
    """NFC, lowercase and the language's character folding (Arabic forms, Spanish accents)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NormalizeFilter) and other.lang == self.lang

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        lang = self.lang
        for t in tokens:
            t.text = normalize_word(t.text, lang)
            if t.text:
                yield t


class SnowballFilter(Filter):  # type: ignore[misc]
    """Stem with PyStemmer's Snowball stemmer (C, cached); pickles without the stemmer object."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._stem: Any = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SnowballFilter) and other.algorithm == self.algorithm

    def __getstate__(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.algorithm = state["algorithm"]
        self._stem = None

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        if self._stem is None:
            self._stem = Stemmer.Stemmer(self.algorithm, 50_000).stemWord
        stem = self._stem
        arabic = self.algorithm == "arabic"
        for t in tokens:
            if not t.stopped:
                t.text = stem(t.text)
                if arabic:
                    # ة and ه spellings of one word: Snowball strips the suffix only after some prefixes.
                    t.text = _AR_FINAL_HA.sub("", t.text)
            yield t


_STEMMERS = {"en": "english", "es": "spanish", "ar": "arabic"}
_STOPS = {"en": "en", "es": "es"}
#: Languages whose analysis drops stop words (a dropped word takes no position).
STOP_LANGS = frozenset(_STOPS)


def analyzer_for(lang: str) -> Analyzer:
    """The analyzer of one language key (see LANGS; anything else: lowercase and folding only)."""
    chain = RegexTokenizer(_WORD) | NormalizeFilter(lang)
    if lang in _STOPS:
        chain = chain | StopFilter(stoplist=stoplists[_STOPS[lang]], minsize=1)
    if lang in _STEMMERS:
        chain = chain | SnowballFilter(_STEMMERS[lang])
    return chain


def plain_analyzer() -> Analyzer:
    """Tokenize and lowercase only: what the query parser uses before each language analyses the words."""
    return RegexTokenizer(_WORD) | LowercaseFilter()


def analyze(text: str, lang: str) -> list[str]:
    """The index terms of ``text`` for one language (handy in tests and for did-you-mean)."""
    return [t.text for t in analyzer_for(lang)(text)]


@lru_cache(maxsize=1 << 18)
def index_terms_of_word(word: str, lang: str) -> tuple[str, ...]:
    """The index terms of one token (usually one; none for a stop word), cached: words repeat a lot.

    The analyzer chain of ``analyzer_for`` applied to one word, without building Whoosh tokens (a
    test checks the two agree): normalise, drop a stop word, stem.
    """
    text = normalize_word(word, lang)
    if not text or text in _stopset(lang):
        return ()
    stem = _stemmer(lang)
    if stem is not None:
        text = stem(text)
        if lang == "ar":
            text = _AR_FINAL_HA.sub("", text)
    return (text,)


_AR_FINAL_HA_LINES = re.compile(r"(?<=\w\w\w)[هة]$", re.MULTILINE)


def index_terms_of_words(words: list[str], lang: str) -> list[str]:
    """``index_terms_of_word`` for many words at once ('' for a word without a term).

    The words are normalised joined by newlines, in one pass per step (NFC, lowercasing and the
    Arabic and Spanish foldings act within a word; a newline composes with nothing and is no letter),
    and stemmed in one call: a few C calls instead of a dozen Python calls per word.
    """
    if not words:
        return []
    text = "\n".join(words)
    if text.isascii():
        text = text.lower()
    else:
        text = unicodedata.normalize("NFC", text).lower()
        if lang == "ar" or _ARABIC.search(text):
            text = normalize_arabic(text)  # a no-op on words without Arabic letters
        if lang == "es":
            text = _LATIN_MARKS.sub("", unicodedata.normalize("NFD", text)).replace("n\u0303", "ñ")
            text = unicodedata.normalize("NFC", text)
    normalized = text.split("\n")
    if len(normalized) != len(words):  # a word that lowercases to something with a line break: one by one
        return [next(iter(index_terms_of_word(w, lang)), "") for w in words]
    stops = _stopset(lang)
    kept = [w if w and w not in stops else "" for w in normalized]
    stem = _stemmers(lang)
    if stem is None:
        return kept
    stemmed = stem([w for w in kept if w])
    if lang == "ar":
        stemmed = _AR_FINAL_HA_LINES.sub("", "\n".join(stemmed)).split("\n") if stemmed else []
    found = iter(stemmed)
    return [next(found) if w else "" for w in kept]


def terms_of_words(words: list[str], lang: str, *, skip: Callable[[str], bool] | None = None) -> list[str]:
    """The index term of each word ('' for none), from a per-language dict of the words this process met.

    A dict lookup per word through one C-level ``map``; the words seen for the first time are analysed
    together (``index_terms_of_words``). Indexing and snippets share the dict (at most _TERMS_MAX words).
    ``skip``: new words the caller has no use for (it knows they cannot be what it looks for): answered
    '' without being analysed or remembered, when more than _SKIP_BELOW words are new (a fresh process);
    a few new words are analysed and remembered, as a skipped word would be asked about again.
    """
    known = _TERMS.setdefault(lang, {})
    terms = list(map(known.get, words))
    if None in terms:
        new = set(words).difference(known)
        if len(known) + len(new) > _TERMS_MAX:
            known.clear()
            new = set(words)
        fresh = list(new) if skip is None or len(new) <= _SKIP_BELOW else list(itertools.filterfalse(skip, new))
        known.update(zip(fresh, index_terms_of_words(fresh, lang), strict=True))
        terms = list(map(known.get, words, itertools.repeat("")))
    return terms  # type: ignore[return-value]  # every None was filled


@cache
def _stemmers(lang: str) -> Any:
    return Stemmer.Stemmer(_STEMMERS[lang], 0).stemWords if lang in _STEMMERS else None


@cache
def _stopset(lang: str) -> frozenset[str]:
    return frozenset(stoplists[_STOPS[lang]]) if lang in _STOPS else frozenset()


@cache
def _stemmer(lang: str) -> Any:
    return Stemmer.Stemmer(_STEMMERS[lang], 50_000).stemWord if lang in _STEMMERS else None


_LITTLE = sys.byteorder == "little"
#: word -> its one index term ("" for none) per language: what index_terms_of_word gives (one term at most)
_TERMS: dict[str, dict[str, str]] = {lang: {} for lang in ALL_LANGS}
_TERMS_MAX = 1 << 20
_SKIP_BELOW = 32


def encode_positions(poslist: list[int]) -> bytes:
    """Ascending token positions as a flat array: b'H' + uint16s, or b'I' + uint32s for long texts."""
    code = "H" if poslist[-1] < 0x10000 else "I"
    values = array(code, poslist)
    if not _LITTLE:  # pragma: no cover
        values.byteswap()
    return code.encode() + values.tobytes()


def decode_positions(value: bytes) -> array[int]:
    out: array[int] = array(chr(value[0]))  # 'H' or 'I'
    out.frombytes(value[1:])
    if not _LITTLE:  # pragma: no cover
        out.byteswap()
    return out


class LangPositions(Positions):  # type: ignore[misc]
    """Whoosh's Positions format, stored as arrays, with a fast indexing path for one language's text fields.

    Indexing runs the analyzer once per distinct word (cached) instead of once per token through a
    generator chain. Terms and positions are the analyzer's (give or take a constant offset: StopFilter
    keeps the position of the first word it lets through). Queries and highlighting still use the
    field's analyzer. Positions are encoded as arrays (``encode_positions``): a phrase check decodes
    them in C instead of unpickling deltas.
    """

    def __init__(self, lang: str, field_boost: float = 1.0, **options: Any) -> None:
        super().__init__(field_boost=field_boost, **options)
        self.lang = lang

    def encode(self, poslist: list[int]) -> bytes:
        return encode_positions(poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return decode_positions(valuestring).tolist()

    def decode_frequency(self, valuestring: bytes) -> int:
        return (len(valuestring) - 1) // (2 if valuestring[:1] == b"H" else 4)

    def decode_weight(self, valuestring: bytes) -> float:
        return self.decode_frequency(valuestring) * self.field_boost  # type: ignore[no-any-return]

    def token_terms(self, value: str) -> list[str]:
        """The index term of each token of ``value``, in order ('' for a token without one; ``terms_of_words``).

        A stop word of a language with a StopFilter is left out (it takes no position).
        """
        lang = self.lang
        terms = terms_of_words(WORD_RE.findall(value), lang)
        if lang in _STOPS:  # a StopFilter: dropped words take no position
            terms = list(filter(None, terms))
        return terms

    def term_positions(self, value: str) -> dict[str, list[int]]:
        """Index term -> its positions in ``value``, grouped by one sort of the token numbers by term."""
        terms = self.token_terms(value)
        term_at: Callable[[int], str] = terms.__getitem__
        order = sorted(range(len(terms)), key=term_at)
        return {term: list(group) for term, group in itertools.groupby(order, term_at) if term}

    def index_items(self, value: str) -> list[tuple[bytes, int, float, bytes]]:
        """What ``TEXT.index`` yields for ``value`` (term bytes, frequency, weight, encoded positions)."""
        boost = self.field_boost
        return [
            (term.encode("utf-8"), len(poslist), len(poslist) * boost, encode_positions(poslist))
            for term, poslist in self.term_positions(value).items()
        ]

    def word_values(self, value: Any, analyzer: Any, **kwargs: Any) -> Iterator[tuple[str, int, float, bytes]]:
        if kwargs.get("mode") != "index" or not isinstance(value, str) or kwargs.get("start_pos"):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        boost = self.field_boost
        for term, poslist in self.term_positions(value).items():
            yield term, len(poslist), len(poslist) * boost, encode_positions(poslist)


class LangText(TEXT):  # type: ignore[misc]
    """A TEXT field of one language whose indexing skips Whoosh's per-token generator layers."""

    def __init__(self, lang: str, field_boost: float = 1.0) -> None:
        super().__init__(analyzer=analyzer_for(lang), field_boost=field_boost)
        self.format = LangPositions(lang, field_boost=field_boost)

    def index(self, value: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not kwargs:
            return self.format.index_items(value)
        return super().index(value, **kwargs)


#: Words so frequent in a language that a phrase holding one is found from a list of its pairs. A phrase
#: is checked on positions: the positions of these words fill most of a field's (في, من, على, إلى and أن
#: are 11% of the words of real Arabic news and in over 90% of its articles, 7 to 18 times in each; the
#: next word, عن, is 0.6%), so each pair "word + the next word" is also indexed as a term of
#: ``PAIRS_FIELD`` (Lucene's common grams, one way): "في غزة" is then one list of documents, no position
#: read. A language that drops its stop words (English, Spanish) has no such words left.
PAIR_WORDS = {"ar": ("في", "من", "على", "إلى", "أن")}
#: The index field holding the pairs: one term ``pair_term(field, word, next word)`` per document.
PAIRS_FIELD = "phrase_pairs"


@cache
def pair_words(lang: str) -> frozenset[str]:
    """The index terms of ``PAIR_WORDS[lang]`` (empty for a language without)."""
    return frozenset(filter(None, index_terms_of_words(list(PAIR_WORDS.get(lang, ())), lang)))


def field_lang(fieldname: str) -> str:
    """The language key of a text field (``body_ar`` -> ``ar``)."""
    return fieldname.rsplit("_", 1)[-1]


def pair_term(fieldname: str, first: str, second: str) -> str:
    """The term of ``PAIRS_FIELD`` for the index terms ``first`` then ``second`` at the next position of a field."""
    return f"{fieldname} {first} {second}"


def text_pairs(fieldname: str, terms: list[str]) -> dict[str, bytes]:
    """The pair terms of one field's value from its tokens' terms in order (``LangPositions.token_terms``: ''
    for a token without a term, which holds its position): a pair word and the term at the next position,
    each with its value (``PairsFormat``: the two terms' frequencies in the value)."""
    common = pair_words(field_lang(fieldname))
    if not common:
        return {}
    counts = Counter(terms)
    return {
        pair_term(fieldname, a, b): PairsFormat.pack(counts[a], counts[b])
        for a, b in itertools.pairwise(terms)
        if b and a in common
    }


class PairsFormat(Format):  # type: ignore[misc]
    """A pair's posting value: how many times each of its two terms is in the document's field (two uint32,
    little-endian), so that a phrase of the two words is scored from the pair's list alone (BM25 needs each
    word's frequency; the field's length and the words' idf come from elsewhere)."""

    posting_size = 8
    _PAIR = struct.Struct("<II")

    @classmethod
    def pack(cls, first: int, second: int) -> bytes:
        return cls._PAIR.pack(first, second)

    def decode_frequency(self, valuestring: bytes) -> int:
        return 1

    def decode_weight(self, valuestring: bytes) -> float:
        return float(self.field_boost)


class PairsField(ID):  # type: ignore[misc]
    """``PAIRS_FIELD``: its value is ``{text field: the text indexed there}`` (``schema.article_to_doc``); its
    terms are the pairs of those texts (``text_pairs``), one posting per document with the two words'
    frequencies, no positions. Searches never name it: a phrase reads it (``evaluate.Evaluator._phrase``)."""

    def __init__(self) -> None:
        super().__init__(stored=False)
        self.format = PairsFormat()

    def index(self, value: Any, **kwargs: Any) -> list[tuple[bytes, int, float, bytes]]:
        found: dict[str, bytes] = {}
        for fieldname, text in value.items():
            found.update(text_pairs(fieldname, LangPositions(field_lang(fieldname)).token_terms(text)))
        return [(term.encode("utf-8"), 1, 1.0, found[term]) for term in sorted(found)]
