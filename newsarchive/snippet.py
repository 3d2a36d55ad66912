"""STAGE 7a: the best passages of a text with the matched words marked (a search hit's snippet).

The passages are the ones Whoosh's highlighter picks with ``ContextFragmenter(maxchars=200,
surround=60)`` and ``BasicFragmentScorer`` (test_search_speedups checks the two agree), computed on
plain tuples: Whoosh's version builds a Token object per word of the article and costs about 2 ms per
hit, most of a search's time at 100,000 articles.

Only the words that can match are judged: those of the runs between spaces where a key of a query
term occurs (a part every word analysed to the term holds, ``_key``; found with ``str.find`` in the
lowercased text) or a character whose analysis could make one (``_SUSPECT``). The rest of a text is
neither tokenized nor looked up (tests/test_snippet_prefilter.py: same snippets as judging every word).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from itertools import accumulate, compress, repeat

from newsarchive.analysis import (
    _ARABIC,
    _LATIN_MARKS,
    WORD_RE,
    index_terms_of_word,
    normalize_arabic,
    terms_of_words,
)
from newsarchive.archive_dir import MARK_END, MARK_START

MAXCHARS, SURROUND = 200, 60
CHARLIMIT = 2**15  # Whoosh's DEFAULT_CHARLIMIT: text past this is never highlighted
BETWEEN = " … "

Verdicts = dict[str, tuple[str, bool]]
_Fragment = tuple[int, int, list[tuple[int, int, str]]]  # start, end, matches


def snippet(text: str, lang: str, words: frozenset[str], *, top: int = 3, cache: Verdicts | None = None) -> str:
    """The ``top`` best passages of ``text`` in text order, ``words`` (index terms) marked; "" if none match.

    ``cache``: word -> (index term, matched) verdicts to use (the ones it lacks are added to it); without
    it, the words' terms come from the process's word -> term dict (``analysis.terms_of_words``) with no
    Python step per distinct word.
    """
    if not words or not text:
        return ""
    head = text[:CHARLIMIT]
    keys = _keys(lang, words) if cache is None else None
    chunks = _chunks(head, lang, keys) if keys is not None else None
    if chunks is not None:
        # Only the words of the chunks (runs between spaces) where a key of the query's terms occurs can
        # match: the others are neither tokenized nor looked up (see _chunks).
        distinct = list(set(WORD_RE.findall(chunks)))
    else:
        # No word holds white space: the distinct words of a text are those of its distinct chunks.
        distinct = list(set(WORD_RE.findall("\n".join(set(head.split())))))
    if cache is None:
        # No analysis changes the first letter of an ASCII word (suffixes only: tests/test_snippet_judging.py):
        # a new ASCII word whose first letter starts no query term cannot match, and is not analysed.
        firsts = frozenset(term[:1] for term in words)
        found = terms_of_words(distinct, lang, skip=lambda w: w.isascii() and w[:1].lower() not in firsts)
    else:
        _judge_all(distinct, lang, words, cache)
        found = [term if matched else "" for term, matched in map(cache.__getitem__, distinct)]
    if words.isdisjoint(found):
        return ""
    terms = dict(zip(distinct, found, strict=True))
    forms = list(compress(distinct, map(words.__contains__, found)))
    scored = []
    for start, end, matches in _fragments_of(_Tokens(text, _windows(text, forms)), terms, words):
        score = len(matches) * (len({term for _, _, term in matches}) * 100 or 1)
        scored.append((-score, start, end, matches))
    scored.sort(key=lambda item: item[:2])  # best first; equal scores: the earliest
    best = sorted((item for item in scored[:top] if -item[0] >= 1), key=lambda item: item[1])
    return BETWEEN.join(_format(text, start, end, matches) for _, start, end, matches in best)


#: normalize_arabic's folding of letters, one character for one: a lowercased Arabic text folded so is
#: searched for the keys as they are (a ``str.replace`` each: ``str.translate`` takes 40 times as long).
_AR_FOLD_KEYS = (("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ٱ", "ا"), ("ى", "ي"), ("ئ", "ي"), ("ؤ", "و"))
#: Per language, the raw characters whose analysis may make characters of a key that the raw text does not
#: show there (tests/test_snippet_prefilter.py checks every code point): a chunk holding one is always
#: judged. NFC and lowercasing make ASCII letters of only İ (U+0130) and the Kelvin sign (U+212A), and
#: compose Cyrillic letters with combining marks; Spanish strips accents (any non-ASCII character); Arabic
#: deletes marks and tatweel between letters, and its stemmer turns Arabic-Indic digits and presentation
#: forms into digits and letters.
_SUSPECT = {
    "en": "[\u0130\u212a\u0300-\u036f]",
    "xx": "[\u0130\u212a\u0300-\u036f]",
    "es": "[^\x00-\x7f]",
    "ar": "[\u0130\u212a\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
    "\u0660-\u0669\u06f0-\u06f9\ufb50-\ufdff\ufe70-\ufeff]",
}
#: The characters a key may hold: ASCII letters and digits; Arabic letters in Arabic; Cyrillic letters in
#: English (real pages in Russian are labelled English) and the other languages. NFC composes a Cyrillic
#: letter from a base and a combining mark (U+0300-U+036F: suspect), never from anything else.
_KEY_CHARS = {
    "ar": re.compile(r"[a-z0-9\u0621-\u063a\u0641-\u064a]+"),
    "en": re.compile(r"[a-z0-9\u0430-\u045f]+"),
    "es": re.compile(r"[a-z0-9]+"),
    "xx": re.compile(r"[a-z0-9\u0430-\u045f]+"),
}
#: At most this many terms make one prefilter (a wildcard's expansion may have hundreds).
_MAX_KEYS = 64


def _key(term: str, lang: str) -> str | None:
    """A part of ``term`` that every word analysed to it holds (lowercased; in Arabic, with folded letters),
    or None when there is no such part this module can vouch for.

    English and Spanish Snowball stemmers rewrite the end of a word only, and never more than its last two
    letters' worth ("dying" -> "die", "probability" -> "probabl"): a word of a term of four letters or
    more starts with the term minus its last two, of a shorter term with its first letter. The Arabic
    stemmer removes prefixes and suffixes and writes one letter: "يست", "تست" and "نست" become "است",
    maybe after a kept letter ("سييستعد" -> "ياستعد"); the rest of the term is in the word. Other
    languages: the term is the lowercased word. tests/test_snippet_prefilter.py checks these on the
    words of the real-statistics vocabulary with every affix.
    """
    if lang in ("en", "es"):
        key = term[: len(term) - 2] if len(term) >= 4 else term[:1]
    elif lang == "ar":
        at = term.find("است")
        key = term[at + 1 :] if at >= 0 else term
    else:
        key = term
    chars = _KEY_CHARS.get(lang)
    return key if key and chars is not None and chars.fullmatch(key) else None


@functools.lru_cache(maxsize=256)
def _keys(lang: str, words: frozenset[str]) -> tuple[str, ...] | None:
    """The keys (_key) of ``words``, or None when some term has none (judge every word)."""
    if len(words) > _MAX_KEYS:
        return None
    keys = set()
    for term in words:
        key = _key(term, lang)
        if key is None:
            return None
        keys.add(key)
    return tuple(sorted(keys))


@functools.cache
def _suspects(lang: str) -> re.Pattern[str]:
    return re.compile(_SUSPECT[lang])  # compiled once: a class of non-Latin characters takes a millisecond


def _chunks(head: str, lang: str, keys: tuple[str, ...]) -> str | None:
    """The runs of ``head`` between spaces and line breaks where a word analysed to a term of the keys can
    be: the runs that hold a key (in the lowercased text, Arabic letters folded) or a suspect character
    (_SUSPECT), joined by line breaks (a run between two characters no word holds is tokenized as in the
    whole text). None when lowercasing changes the text's length (its positions would not be the
    text's): judge every word. The keys are found with ``str.find``: nothing to compile per query.
    """
    text = head.lower()
    size = len(text)
    if size != len(head):
        return None
    text = text.replace("\n", " ")  # one separator to look for (a run between spaces only: a longer run)
    if lang == "ar":
        for form, letter in _AR_FOLD_KEYS:
            text = text.replace(form, letter)
    spans = set()
    # In English and Spanish a word of a term starts with its key: a key after a word character (inside
    # a word, as "ti" in "still") says nothing. ("ti", the key of "time", is in a tenth of English words.)
    starts = lang in ("en", "es")
    for key in keys:
        at = text.find(key)
        while at >= 0:
            if starts and at and _WORDCHAR.match(text, at - 1):
                at = text.find(key, at + 1)
                continue
            end = text.find(" ", at)
            if end < 0:
                end = size
            spans.add((text.rfind(" ", 0, at) + 1, end))
            at = text.find(key, end)
    end = -1
    for m in _suspects(lang).finditer(head):
        at = m.start()
        if at >= end:
            end = text.find(" ", at)
            if end < 0:
                end = size
            spans.add((text.rfind(" ", 0, at) + 1, end))
    return "\n".join(head[start:end] for start, end in spans)


def _windows(text: str, forms: list[str]) -> list[tuple[int, int]]:
    """The stretches of ``text`` the fragmenter needs to see: _BEFORE characters before each matched word
    and _AFTER after it (a passage runs at most SURROUND word characters past its last match and MAXCHARS
    in all), widened to white space and merged. ``str.find`` locates the matched forms; a find that is
    not a whole word only widens a window (the words in windows are judged one by one afterwards)."""
    hits: list[int] = []
    for form in forms:
        i = text.find(form)
        while 0 <= i < CHARLIMIT:
            j = i + len(form)
            if not (i and _WORDCHAR.match(text, i - 1)) and not _WORDCHAR.match(text, j):
                hits.append(i)
            i = text.find(form, j)
    windows: list[tuple[int, int]] = []
    for i in sorted(hits):
        lo = text.rfind(" ", 0, i - _BEFORE) + 1 if i > _BEFORE else 0  # never start inside a word
        hi = text.find(" ", i + _AFTER)  # nor end inside one
        hi = len(text) if hi < 0 else hi
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(hi, windows[-1][1]))
        else:
            windows.append((lo, hi))
    return windows


#: Words this far before and after a matched word are enough for the fragmenter (60 chars of context,
#: 200 at most per passage); the rest of a long article is never tokenized.
_BEFORE, _AFTER = 240, 480
_WORDCHAR = re.compile(r"[\w\u0300-\u036f\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
_SPLIT = re.compile(f"({WORD_RE.pattern})")


class _Tokens:
    """The words of some stretches of a text, up to CHARLIMIT (Whoosh's highlighter stops at the first word
    ending past it), with their spans, found in C: one ``re.split`` per stretch (separators and words
    alternate) and running sums of the parts' lengths; no Python step per word."""

    __slots__ = ("ends", "lengths", "starts", "tail_end", "words")

    def __init__(self, text: str, windows: list[tuple[int, int]]) -> None:
        words: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        for lo, hi in windows:
            parts = _SPLIT.split(text[lo:hi])
            offsets = list(accumulate(map(len, parts), initial=lo))
            words += parts[1::2]
            starts += offsets[1:-1:2]
            ends += offsets[2::2]
        n = bisect_right(ends, CHARLIMIT)  # ends ascend: the words Whoosh sees
        # The last passage ends with the last word Whoosh saw: the first one past the limit, if any.
        self.tail_end = ends[n] if n < len(ends) else ends[-1] if ends else 0
        if n < len(words):
            del words[n:], starts[n:], ends[n:]
        self.words, self.starts, self.ends = words, starts, ends
        #: lengths[i]: the length of the first i words together (what the fragmenter counts).
        self.lengths = list(accumulate(map(len, words), initial=0))


def _fragments_of(tokens: _Tokens, terms: dict[str, str], words: frozenset[str]) -> list[_Fragment]:
    """Whoosh's ContextFragmenter.fragment_tokens(maxchars=200, surround=60), stepping from matched word to
    matched word instead of word by word: where a passage starts and ends follows from the running sums
    of word lengths (binary searches), so a text's unmatched words cost no Python step.

    Whoosh's state per word: outside a passage, an unmatched word only updates the starts of the words
    within SURROUND characters before the next one; a matched word opens a passage there (or at itself,
    with SURROUND more to go); inside one, every word counts towards MAXCHARS, a matched word resets
    the countdown to SURROUND, and the passage ends at the word where the countdown runs out or
    MAXCHARS would be passed (that word included, and not counted as a match). A passage without a match
    (a matched word longer than MAXCHARS alone; an unmatched word after a countdown that stopped at
    exactly 0) scores 0 and is never shown: only its effect on where the next passage starts is kept.
    """
    found = list(map(terms.get, tokens.words, repeat("")))  # a word past the limit: no term
    if words.isdisjoint(found):
        return []
    matched = list(compress(range(len(found)), map(words.__contains__, found)))
    starts, ends, lengths = tokens.starts, tokens.ends, tokens.lengths
    n = len(starts)
    out: list[_Fragment] = []
    reset = 0  # the first word after the last passage
    k = 0
    count = len(matched)
    while k < count:
        j = matched[k]
        if ends[j] - starts[j] > MAXCHARS:  # a passage of this word alone, without it as a match: scores 0
            reset = j + 1
            k += 1
            continue
        first = starts[j]
        countdown = 2 * SURROUND
        if j > reset:
            f = bisect_left(starts, ends[j - 1] - SURROUND, reset, j)
            if f < j:
                first, countdown = starts[f], SURROUND
        matches = [(starts[j], ends[j], found[j])]
        # The word where MAXCHARS would be passed.
        over = bisect_right(lengths, lengths[j] + MAXCHARS, j + 1) - 1
        m = j
        while True:
            # The word where the countdown from the last match runs out, were no other word matched.
            out_at = bisect_left(lengths, lengths[m] + countdown, m + 1) - 1
            k += 1
            nxt = matched[k] if k < count else n
            if nxt <= out_at and nxt < over:
                m, countdown = nxt, SURROUND
                matches.append((starts[m], ends[m], found[m]))
                continue
            end = min(out_at, over)
            break
        if end >= n:  # the text ends first: the passage ends with the last word Whoosh saw
            out.append((first, tokens.tail_end, matches))
            break
        out.append((first, ends[end], matches))
        reset = end + 1
        if end < over and lengths[end + 1] == lengths[m] + countdown and reset < n and found[reset] not in words:
            # The countdown ran out at exactly 0, which Whoosh still counts as inside a passage: the next
            # word, unmatched, closes an empty passage (it never becomes a word before the next one).
            reset += 1
        while k < count and matched[k] <= end:
            k += 1
    return out


def _judge(word: str, lang: str, words: frozenset[str], verdicts: Verdicts) -> tuple[str, bool]:
    """(index term, matched) of a word, remembered in ``verdicts``."""
    terms = index_terms_of_word(word, lang)
    found = verdicts[word] = (terms[0] if len(terms) == 1 else word, any(t in words for t in terms))
    return found


def _judge_all(forms: Iterable[str], lang: str, words: frozenset[str], verdicts: Verdicts) -> None:
    """``_judge`` of every word in ``forms`` that ``verdicts`` lacks, without a Python call per word.

    The terms come from ``analysis.terms_of_words`` (the process's word -> term dict, which the words
    it has not met yet are analysed into together: normalise, drop a stop word, stem, Arabic final
    ha; a test checks it agrees with ``index_terms_of_word``): a process that searches many times
    judges each word once, not once per search.
    """
    new = [w for w in forms if w not in verdicts]
    if not new:
        return
    for word, term in zip(new, terms_of_words(new, lang), strict=True):
        verdicts[word] = (term, term in words) if term else (word, False)


def _normalize_all(words: list[str], lang: str) -> list[str]:
    """``analysis.normalize_word`` of each word, with each step run once over all of them.

    The words that are not ASCII are joined by newlines and normalised together: NFC, NFD,
    lowercasing (Greek final sigma included), the Arabic and the Spanish foldings all act within a
    word, and a newline (in no word) neither combines with nor is skipped over by any of them.
    """
    out = [w.lower() if w.isascii() else "" for w in words]
    others = [i for i, w in enumerate(words) if not w.isascii()]
    if not others:
        return out
    text = unicodedata.normalize("NFC", "\n".join(words[i] for i in others)).lower()
    if lang == "ar":
        text = normalize_arabic(text)
    elif _ARABIC.search(text):  # Arabic words in another language's text: fold those words only
        text = "\n".join(normalize_arabic(w) if _ARABIC.search(w) else w for w in text.split("\n"))
    if lang == "es":
        text = _LATIN_MARKS.sub("", unicodedata.normalize("NFD", text)).replace("n\u0303", "ñ")
        text = unicodedata.normalize("NFC", text)
    for i, norm in zip(others, text.split("\n"), strict=True):
        out[i] = norm
    return out


def _format(text: str, start: int, end: int, matches: list[tuple[int, int, str]]) -> str:
    out = []
    index = start
    for mstart, mend, _ in matches:
        if mstart < index:
            continue
        if mstart > index:
            out.append(text[index:mstart])
        out.append(f"{MARK_START}{text[mstart:mend]}{MARK_END}")
        index = mend
    out.append(text[index:end])
    return "".join(out)
