"""STAGE 7a: the best passages of a text with the matched words marked (a search hit's snippet).

The passages are the ones Whoosh's highlighter picks with ``ContextFragmenter(maxchars=200,
surround=60)`` and ``BasicFragmentScorer`` (test_search_speedups checks the two agree), computed on
plain tuples: Whoosh's version builds a Token object per word of the article and costs about 2 ms per
hit, most of a search's time at 100,000 articles.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterable
from itertools import compress

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

#: Tokens this far before and after a matched word are enough for the fragmenter (60 chars of context,
#: 200 at most per passage); the rest of a long article is never walked token by token.
_BEFORE, _AFTER = 240, 480

_WORDCHAR = re.compile(r"[\w\u0300-\u036f\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
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
    if cache is None:
        terms = _terms(text, lang)
    else:
        distinct = set(WORD_RE.findall(text, 0, CHARLIMIT))
        _judge_all(distinct, lang, words, cache)
        terms = {w: term if matched else "" for w, (term, matched) in cache.items()}
    scored = []
    for start, end, matches in _fragments(text, _windows(text, terms, words), lang, words, terms):
        score = len(matches) * (len({term for _, _, term in matches}) * 100 or 1)
        scored.append((-score, start, end, matches))
    scored.sort(key=lambda item: item[:2])  # best first; equal scores: the earliest
    best = sorted((item for item in scored[:top] if -item[0] >= 1), key=lambda item: item[1])
    return BETWEEN.join(_format(text, start, end, matches) for _, start, end, matches in best)


def _terms(text: str, lang: str) -> dict[str, str]:
    """Each distinct word of ``text`` (up to CHARLIMIT) -> its index term ('' for none).

    No word holds white space, so the words of a text are the words of its distinct white-space
    separated chunks: a repeated chunk ("the", "في") is tokenized once. The terms come from the
    process's dict through C-level maps (``analysis.terms_of_words``).
    """
    head = text[:CHARLIMIT] if len(text) > CHARLIMIT else text
    distinct = list(set(WORD_RE.findall("\n".join(set(head.split())))))
    return dict(zip(distinct, terms_of_words(distinct, lang), strict=True))


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


def _windows(text: str, terms: dict[str, str], words: frozenset[str]) -> list[list[int]]:
    """The stretches of ``text`` around its matched words that the fragmenter needs to see.

    The matched forms are picked from the text's distinct words in C (``compress``); str.find
    locates them. A find that is not a whole word only widens a window: the words in windows are
    tokenized and judged one by one afterwards.
    """
    if words.isdisjoint(terms.values()):
        return []
    forms = list(compress(terms.keys(), map(words.__contains__, terms.values())))
    hits: list[int] = []
    for form in forms:
        i = text.find(form)
        while 0 <= i < CHARLIMIT:
            j = i + len(form)
            if not (i and _WORDCHAR.match(text, i - 1)) and not _WORDCHAR.match(text, j):
                hits.append(i)
            i = text.find(form, j)
    windows: list[list[int]] = []
    for i in sorted(hits):
        lo, hi = max(0, i - _BEFORE), i + _AFTER
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = hi
        else:
            windows.append([lo, hi])
    return windows


def _fragments(
    text: str, windows: list[list[int]], lang: str, words: frozenset[str], terms: dict[str, str]
) -> list[_Fragment]:
    """Whoosh's ContextFragmenter.fragment_tokens over the words in ``windows``, in one loop.

    (Whoosh first merges matched tokens that overlap; word tokens never do.)
    """
    out: list[_Fragment] = []
    get = terms.get
    finditer = WORD_RE.finditer
    first: int | None = None
    firsts: deque[int] = deque()
    countdown = -1
    matches: list[tuple[int, int, str]] = []
    endchar = 0
    currentlen = 0
    for lo, hi in windows:
        if lo:
            lo = max(text.rfind(" ", 0, lo) + 1, 0)  # never start inside a word
        hi = text.find(" ", hi)  # nor end inside one
        for m in finditer(text, lo, hi if hi >= 0 else len(text)):
            startchar, endchar = m.span()
            if endchar > CHARLIMIT:
                break
            term = get(m.group())
            if term is None:  # not met by _terms (a window's word always is): judge it
                term = terms[m.group()] = next(iter(index_terms_of_word(m.group(), lang)), "")
            matched = term in words
            tlength = endchar - startchar
            if countdown < 0 and not matched:
                firsts.append(startchar)
                while endchar - firsts[0] > SURROUND:
                    firsts.popleft()
                    if not firsts:
                        break
                continue  # not in a fragment (countdown < 0): nothing more to do for this word
            if currentlen + tlength > MAXCHARS:
                countdown = 0
            elif matched:
                countdown = SURROUND
                if first is None:
                    if firsts:
                        first = firsts[0]
                    else:
                        first = startchar
                        countdown += SURROUND
                matches.append((startchar, endchar, term))
            if countdown >= 0:
                currentlen += tlength
                countdown -= tlength
                if countdown <= 0:
                    out.append(_fragment(matches, first, endchar))
                    matches = []
                    firsts = deque()
                    first = None
                    currentlen = 0
        else:
            continue
        break  # past CHARLIMIT
    if matches:
        out.append(_fragment(matches, first, endchar))
    return out


def _fragment(matches: list[tuple[int, int, str]], first: int | None, endchar: int) -> _Fragment:
    return (matches[0][0] if first is None and matches else first or 0), endchar, matches


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
