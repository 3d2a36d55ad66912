"""Snippets judge only the words of the chunks where a key of a query term occurs (snippet._keys): the
keys hold for every word of a term, the suspect characters cover every character whose analysis makes
a key's letters, and the snippets equal the snippets that judge every word."""

from __future__ import annotations

import random
import re

import pytest

from newsarchive.analysis import WORD_RE, index_terms_of_word, index_terms_of_words, normalize_word
from newsarchive.snippet import _AR_FOLD_KEYS, _SUSPECT, _key, _keys, snippet
from tests.test_snippet_judging import TRICKY, _one_by_one

EN_STEMS = "govern talk run ceasefir crimea grain corridor minist agre polici nation relat probabl happi hop "
EN_SUFFIXES = [
    "", "s", "es", "ed", "ing", "ly", "ies", "ied", "ness", "ful", "ational", "ization", "iveness", "bility",
    "ability", "ibly", "ably", "ement", "ments", "ences", "ancy", "ously", "alism", "ality", "'s", "’s", "y",
    "ying", "lli", "ogy", "logies", "lessly", "fully", "icate", "icity", "ative", "ize", "izer", "ate", "ator",
]  # fmt: skip
EN_WORDS = [
    "dying", "lying", "tying", "skies", "skis", "idly", "gently", "ugly", "early", "only", "singly", "news",
    "proceed", "exceed", "succeed", "inning", "outing", "canning", "herring", "earring", "U.S.", "don't",
]  # fmt: skip
ES_WORDS = ["política", "políticas", "independencia", "independiente", "negociación", "niño", "años", "según"]
AR_PREFIXES = ["", "ال", "وال", "بال", "كال", "فال", "لل", "و", "ف", "ب", "ك", "ل", "س"]
AR_PREFIXES += ["سي", "ست", "سن", "يست", "نست"]
AR_SUFFIXES = ["", "ة", "ه", "ها", "ك", "ي", "هما", "كما", "هم", "هن", "كم", "نا", "ات", "ون", "ين"]
AR_SUFFIXES += ["ان", "ت", "وا", "ى"]
AR_STEMS = ["حكوم", "وزير", "خارج", "مفاوض", "اوكراني", "روسي", "كرملين", "تعد", "ستخدم", "ستقبل", "عمل"]
AR_NOISE = ["ـ", "\u064e", "\u0650", "\u0651", "\u0670", "ٱ", "أ", "إ", "آ", "ؤ", "ئ", "\u0654", "٣", "ﻻ", "ﺍ"]


def _words(rng: random.Random, lang: str, n: int) -> list[str]:
    if lang in ("en", "xx"):
        stems = EN_STEMS.split()
        out = [rng.choice(stems) + rng.choice(EN_SUFFIXES) for _ in range(n)] + EN_WORDS
        letters = "abcdefghilnorstuyeeiK"
        cyrillic = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяЙЁ"  # real pages in Russian are labelled English
        for _ in range(n):
            out.append("".join(rng.choice(letters) for _ in range(rng.randint(1, 10))) + rng.choice(EN_SUFFIXES))
            out.append("".join(rng.choice(cyrillic) for _ in range(rng.randint(1, 10))) + rng.choice(("", "ов", "s")))
        return [w.upper() if rng.random() < 0.1 else w.title() if rng.random() < 0.2 else w for w in out]
    if lang == "es":
        return ES_WORDS + [w.upper() for w in ES_WORDS] + _words(rng, "en", n // 4)
    out = []
    for _ in range(n):
        stem = list(rng.choice(AR_STEMS))
        if rng.random() < 0.3:  # a mark, tatweel or another form of a letter inside the word
            stem.insert(rng.randint(0, len(stem)), rng.choice(AR_NOISE))
        out.append(rng.choice(AR_PREFIXES) + "".join(stem) + rng.choice(AR_SUFFIXES))
    return [*out, "Kremlinالكرملين", "OIL", "oil"]


@pytest.mark.parametrize("lang", ["en", "es", "ar", "xx"])
def test_every_word_of_a_term_holds_the_term_s_key(lang: str) -> None:
    """The key of a term is in the normalised form of every word analysed to it, at its start in English and
    Spanish (what the finder relies on)."""
    rng = random.Random(f"keys-{lang}")
    words = _words(rng, lang, 3000)
    suspect = re.compile(_SUSPECT[lang])
    checked = 0
    for word, term in zip(words, index_terms_of_words(words, lang), strict=True):
        key = _key(term, lang) if term else None
        if key is None or suspect.search(word):  # a word with a suspect character is always judged
            continue
        norm = normalize_word(word, lang)
        assert key in norm, (word, term, key)
        if lang in ("en", "es"):  # where the finder takes only a key at a word's start
            assert norm.startswith(key), (word, term, key)
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize("lang", ["en", "es", "ar", "xx"])
def test_only_suspect_characters_normalise_into_the_letters_of_a_key(lang: str) -> None:
    """Every character (of the basic plane) whose analysis in a word makes a character a key may hold (an
    ASCII letter or digit; in Arabic, an Arabic letter too) that it is not, is one the finder treats as
    suspect."""
    key_chars = re.compile(
        {"ar": r"[a-z0-9\u0621-\u063a\u0641-\u064a]", "es": "[a-z0-9]"}.get(lang, r"[a-z0-9\u0430-\u045f]")
    )
    suspect = re.compile(_SUSPECT[lang])
    chars = [chr(c) for c in range(0x80, 0x10000) if not 0xD800 <= c < 0xE000 and not key_chars.match(chr(c))]
    if lang == "ar":
        # The Arabic folds (alef, ya and waw forms) are what the key pattern allows for.
        chars = [c for c in chars if c not in dict(_AR_FOLD_KEYS)]
    words = [f"كتب{c}درس" if lang == "ar" else f"x{c}x" for c in chars]
    for c, word, term in zip(chars, words, index_terms_of_words(words, lang), strict=True):
        lower = c.lower() if len(c.lower()) == 1 else ""  # a text lowercased longer is judged word by word
        made = set(key_chars.findall(normalize_word(c, lang))) - {lower}
        made |= set(key_chars.findall(term)) - set(word.lower())
        assert not made or suspect.match(c), (hex(ord(c)), made)


def _text(rng: random.Random, lang: str, n: int) -> str:
    words = _words(rng, lang, 60) + TRICKY + ["K", "İ", "cafe\u0301", "٢٠٢٣", "ﻻ", "ﺍﻟﺤﻜﻮﻣﺔ", "мои\u0306", "мой", "Мой"]
    seps = (" ", " ", " ", ", ", ". ", "\n", " (", ") ", " - ", "; ", "«", "»", "\u00a0", "\t", "’")
    return "".join(rng.choice(words) + rng.choice(seps) for _ in range(n))


@pytest.mark.parametrize("lang", ["en", "es", "ar", "xx"])
def test_snippets_of_prefiltered_words_equal_the_snippets_of_every_word_judged(lang: str) -> None:
    rng = random.Random(f"prefilter-{lang}")
    used = shown = 0
    for _ in range(80):
        text = _text(rng, lang, rng.choice((20, 150, 600)))
        words = WORD_RE.findall(text)
        terms = sorted({t for w in words for t in index_terms_of_word(w, lang)})
        query = frozenset(rng.sample(terms, min(len(terms), rng.choice((1, 1, 2, 3)))))
        used += _keys(lang, query) is not None
        for top in (1, 2):
            reference = snippet(text, lang, query, top=top, cache=_one_by_one(sorted(set(words)), lang, query))
            assert snippet(text, lang, query, top=top) == reference, (query, text)
            shown += bool(reference)
    assert used > 20 and shown > 80
