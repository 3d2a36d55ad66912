"""STAGE 7a: the best passages of a text with the matched words marked (a search hit's snippet).

The passages are the ones Whoosh's highlighter picks with ``ContextFragmenter(maxchars=200,
surround=60)`` and ``BasicFragmentScorer`` (test_search_speedups checks the two agree), computed on
plain tuples: Whoosh's version builds a Token object per word of the article and costs about 2 ms per
hit, most of a search's time at 100,000 articles.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

from newsarchive.analysis import WORD_RE, index_terms_of_word
from newsarchive.archive_dir import MARK_END, MARK_START

MAXCHARS, SURROUND = 200, 60
CHARLIMIT = 2**15  # Whoosh's DEFAULT_CHARLIMIT: text past this is never highlighted
BETWEEN = " … "

#: Tokens this far before and after a matched word are enough for the fragmenter (60 chars of context,
#: 200 at most per passage); the rest of a long article is never walked token by token.
_BEFORE, _AFTER = 240, 480

_WORDCHAR = re.compile(r"[\w\u0300-\u036f\u0610-\u061a\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
Verdicts = dict[str, tuple[str, bool]]
_Token = tuple[int, int, bool, str]  # start, end, matched, index term
_Fragment = tuple[int, int, list[tuple[int, int, str]]]  # start, end, matches


def snippet(text: str, lang: str, words: frozenset[str], *, top: int = 3, cache: Verdicts | None = None) -> str:
    """The ``top`` best passages of ``text`` in text order, ``words`` (index terms) marked; "" if none match.

    ``cache``: word -> (index term, matched), shared by the snippets of one search in one language.
    """
    if not words or not text:
        return ""
    verdicts: Verdicts = {} if cache is None else cache
    scored = []
    for start, end, matches in _fragments(_tokens(text, lang, words, verdicts)):
        score = len(matches) * (len({term for _, _, term in matches}) * 100 or 1)
        scored.append((-score, start, end, matches))
    scored.sort(key=lambda item: item[:2])  # best first; equal scores: the earliest
    best = sorted((item for item in scored[:top] if -item[0] >= 1), key=lambda item: item[1])
    return BETWEEN.join(_format(text, start, end, matches) for _, start, end, matches in best)


def _tokens(text: str, lang: str, words: frozenset[str], verdicts: Verdicts) -> Iterator[_Token]:
    """The words of ``text`` near a matched word, as (start, end, matched, index term)."""

    def judge(word: str) -> tuple[str, bool]:
        found = verdicts.get(word)
        if found is None:
            terms = index_terms_of_word(word, lang)
            found = verdicts[word] = (terms[0] if len(terms) == 1 else word, any(t in words for t in terms))
        return found

    # Where the matched words are: the distinct words (one C-level findall), then str.find for the few
    # that match. A hit that is not a whole word only widens a window; the words in windows are then
    # tokenized and judged one by one.
    forms = [w for w in set(WORD_RE.findall(text, 0, CHARLIMIT)) if judge(w)[1]]
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
    for lo, hi in windows:
        if lo:
            lo = max(text.rfind(" ", 0, lo) + 1, 0)  # never start inside a word
        hi = text.find(" ", hi)  # nor end inside one
        for m in WORD_RE.finditer(text, lo, hi if hi >= 0 else len(text)):
            end = m.end()
            if end > CHARLIMIT:
                return
            term, matched = judge(m.group())
            yield m.start(), end, matched, term


def _fragments(tokens: Iterator[_Token]) -> Iterator[_Fragment]:
    """Whoosh's ContextFragmenter.fragment_tokens, on tuples.

    (Whoosh first merges matched tokens that overlap; word tokens never do.)
    """
    first: int | None = None
    firsts: deque[int] = deque()
    countdown = -1
    matches: list[tuple[int, int, str]] = []
    endchar = 0
    currentlen = 0
    for startchar, endchar, matched, term in tokens:
        tlength = endchar - startchar
        if countdown < 0 and not matched:
            firsts.append(startchar)
            while firsts and endchar - firsts[0] > SURROUND:
                firsts.popleft()
        elif currentlen + tlength > MAXCHARS:
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
                yield _fragment(matches, first, endchar)
                matches = []
                firsts = deque()
                first = None
                currentlen = 0
    if matches:
        yield _fragment(matches, first, endchar)


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
