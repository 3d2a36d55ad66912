"""Wildcards on stemmed fields: which stored terms (stems) a pattern such as ``election*`` stands for.

The language fields of English, Spanish and Arabic store a word's term (``election`` -> ``elect``,
``الحكومة`` -> ``حكوم``), so a pattern compared with the terms alone misses most words it matches
(``election*`` found the 42 articles with a term starting with "election", not the 10,018 with "election").
The rule (docs/search.md, "Wildcards"): a pattern finds an article when a word of it matches the pattern,
as far as the terms can tell. For the literal prefix ``P`` of a pattern (its letters before the first ``*``
or ``?``, normalised as a word is):

- ``starts``: the terms starting with ``P`` (a word's end past ``P`` only is changed by the stemmer), and in
  Arabic with ``P`` less a prefix the stemmer removes (``AR_PREFIXES``: ال, و, بال, لل...; ``يست`` is
  written ``است``);
- ``exact``: the term of ``P + e`` for each ending ``e`` a stemmer takes off together with letters of ``P``
  (``ENDINGS``: ``electi`` + ``on`` -> ``elect``; ``e`` = "" is ``P``'s own term: ``talks`` -> ``talk``). Never
  a prefix match on a stem: ``elect*`` would find "electr" (electric).

``P*`` finds exactly those terms. A pattern with a ``?`` or a ``*`` before its end finds those of them that
match it, or whose word made of the term (less up to two rewritten last letters, with a removed Arabic prefix
put back) and an ending matches it and is analysed to the term (``elect*on`` finds "elect" through
"election"). Other languages (``xx``) and tags/byline keep the plain comparison with their terms.

Whoosh (``StemPattern._btexts``) and PostgreSQL (``pg_search.Translation``) expand a pattern with the same
``plan``.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from whoosh import query

from newsarchive.analysis import index_terms_of_words

#: Languages whose fields hold stems: patterns on them follow ``plan``.
STEMMED = ("en", "es", "ar")
#: The letters at a term's end a stemmer may have rewritten ("happy" -> "happi", "dying" -> "die").
REWRITTEN = 2
_WILD = re.compile(r"[*?]")


def literal_prefix(pattern: str) -> str:
    """The letters of a pattern before its first ``*`` or ``?``."""
    m = _WILD.search(pattern)
    return pattern if m is None else pattern[: m.start()]


def is_prefix_pattern(pattern: str) -> bool:
    """``P*`` (one or more stars, nothing after them, no ``?``)."""
    rest = pattern[len(literal_prefix(pattern)) :]
    return bool(rest) and not rest.strip("*")


@functools.cache
def _ar_letter(char: str) -> str:
    """What the Arabic stemmer writes for one character (Arabic-Indic digits, presentation forms)."""
    found = index_terms_of_words([char], "ar")[0]
    return found or char


def _ar_fold(text: str) -> str:
    return "".join(map(_ar_letter, text))


def starts_of(prefix: str, lang: str, rules: Iterable[tuple[str, str]] | None = None) -> tuple[str, ...]:
    """The beginnings of the terms of the words starting with ``prefix`` whose end past it is all the stemmer
    changes: ``prefix`` itself, and in Arabic ``prefix`` less a removed prefix (``rules``, default
    AR_PREFIXES) and what is written instead."""
    if lang != "ar":
        return (prefix,)
    if rules is None:
        from newsarchive.wildcard_data import AR_PREFIXES

        rules = AR_PREFIXES
    out = [_ar_fold(prefix)]
    for removed, written in rules:
        if not removed or not prefix.startswith(removed) or len(prefix) <= len(removed):
            continue
        rest = prefix[len(removed) :]
        if written and not (rest.startswith("ست") or "ست".startswith(rest)):
            continue  # يست, تست, نست -> است only
        out.append(_ar_fold(written + rest))
    return tuple(dict.fromkeys(out))


def _tokens(pattern: str) -> tuple[str, ...]:
    return tuple(pattern)


def _strip_end(tokens: tuple[str, ...], text: str) -> set[tuple[str, ...]]:
    """The patterns ``q`` such that ``q + text`` matches ``tokens`` wherever a word matching ``q`` ends in
    ``text``: the glob's right quotient by a literal text."""
    if not text:
        return {tokens}
    if not tokens:
        return set()
    last, char = tokens[-1], text[-1]
    if last == "*":
        return _strip_end(tokens, text[:-1]) | _strip_end(tokens[:-1], text)
    if last == "?" or last == char:
        return _strip_end(tokens[:-1], text[:-1])
    return set()


def _strip_start(tokens: tuple[str, ...], text: str) -> set[tuple[str, ...]]:
    """The glob's left quotient by a literal text."""
    return {tuple(reversed(t)) for t in _strip_end(tuple(reversed(tokens)), text[::-1])}


def _regex(tokens: tuple[str, ...]) -> str:
    return "".join(".*" if t == "*" else "." if t == "?" else re.escape(t) for t in tokens)


@dataclass(frozen=True)
class _Forms:
    """The words a term may be the analysis of, for one (removed prefix, written) rule: ``removed`` + the
    term's letters after ``written`` (less up to REWRITTEN at its end) + an ending, matching the pattern."""

    removed: str
    written: str
    quick: re.Pattern[str]  # the term's part (``base``) for which some ending can complete a matching word
    endings: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]  # base pattern -> the endings it takes


@dataclass(frozen=True)
class Plan:
    """What a pattern stands for in one language: the terms starting with one of ``starts``, the terms
    ``exact``; with ``forms`` (a ``?`` or an inner ``*``) only those the pattern or a word of theirs matches."""

    lang: str
    pattern: str
    starts: tuple[str, ...]
    exact: tuple[str, ...]
    forms: tuple[_Forms, ...] | None

    def select(self, candidates: Iterable[str]) -> list[str]:
        """The candidate terms (from ``starts`` and ``exact``) the pattern stands for, sorted, distinct."""
        terms = sorted(set(candidates))
        if self.forms is None:
            return terms
        direct = re.compile(fnmatch.translate(self.pattern))
        return [t for t in terms if direct.match(t) or self._by_word(t)]

    def _by_word(self, term: str) -> bool:
        assert self.forms is not None
        for forms in self.forms:
            if not term.startswith(forms.written):
                continue
            body = term[len(forms.written) :]
            for cut in range(min(REWRITTEN, len(body) - 1) + 1):
                base = body[: len(body) - cut]
                if not forms.quick.fullmatch(base):
                    continue
                for regex, endings in forms.endings:
                    if not regex.fullmatch(base):
                        continue
                    words = [forms.removed + base + e for e in endings]
                    if term in index_terms_of_words(words, self.lang):
                        return True
        return False


@functools.lru_cache(maxsize=256)
def plan(pattern: str, lang: str) -> Plan:
    """The plan of a pattern (normalised as the field's words are) in a field of ``lang`` (one of STEMMED)."""
    # The learnt lists (80 KB of literals) load with the first pattern: not in every search process.
    from newsarchive.wildcard_data import AR_PREFIXES, ENDINGS

    prefix = literal_prefix(pattern)
    if not prefix:
        starts: tuple[str, ...] = ("",)
        exact: tuple[str, ...] = ()
    else:
        starts = starts_of(prefix, lang)
        endings = sorted(ENDINGS[lang])
        made = index_terms_of_words([prefix + e for e in endings], lang)
        exact = tuple(sorted({t for t in made if t and not t.startswith(starts)}))
    if is_prefix_pattern(pattern):
        return Plan(lang, pattern, starts, exact, None)
    rules = [("", "")] + (list(AR_PREFIXES) if lang == "ar" else [])
    forms = []
    tokens = _tokens(pattern)
    for removed, written in dict.fromkeys(rules):
        for rest in _strip_start(tokens, removed):
            by_base: dict[tuple[str, ...], list[str]] = {}
            for e in sorted(ENDINGS[lang]):
                for base in _strip_end(rest, e):
                    by_base.setdefault(base, []).append(e)
            if not by_base:
                continue
            alternatives = sorted(_regex(b) for b in by_base)
            quick = re.compile("(?:" + "|".join(alternatives) + ")", re.DOTALL)
            endings_of = tuple((re.compile(_regex(b), re.DOTALL), tuple(es)) for b, es in sorted(by_base.items()))
            forms.append(_Forms(removed, written, quick, endings_of))
    return Plan(lang, pattern, starts, exact, tuple(forms))


def pattern_lang(fieldname: str) -> str | None:
    """The stemmed language of a language field (``body_en`` -> ``en``), else None."""
    lang = fieldname.rsplit("_", 1)[-1] if "_" in fieldname else ""
    return lang if lang in STEMMED else None


class StemPattern(query.Wildcard):  # type: ignore[misc]
    """A wildcard on a stemmed language field (``body_en:election*``), expanded by ``plan``: every stored term
    the pattern stands for, each scored as a pattern's terms are (a constant)."""

    def normalize(self) -> Any:
        return self  # never Whoosh's Prefix or Term: those compare the pattern with the stems alone

    def plan(self) -> Plan:
        lang = pattern_lang(self.fieldname)
        assert lang is not None, self.fieldname
        return plan(self.text, lang)

    def _btexts(self, ixreader: Any) -> list[bytes]:
        fieldname = self.fieldname
        if fieldname not in ixreader.schema:
            return []
        p = self.plan()
        found: set[str] = set()
        for start in p.starts:
            if start:
                found.update(t.decode("utf-8") for t in ixreader.expand_prefix(fieldname, start))
            else:
                found.update(t.decode("utf-8") for t in ixreader.lexicon(fieldname))
        found.update(t for t in p.exact if (fieldname, t) in ixreader)
        return [t.encode("utf-8") for t in p.select(found)]
