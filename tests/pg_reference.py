"""The PostgreSQL search's analysis written lexeme by lexeme: the reference the bulk load's fused analysis
(pg_search._analysis, doc_row) is checked against (tests/test_pg_analysis_equivalence.py), and the terms
checked against the Whoosh fields' (tests/test_search_postgres.py)."""

from __future__ import annotations

from newsarchive.analysis import lang_key, tag_key
from newsarchive.article import Article
from newsarchive.index.pg_search import (
    _POSITIONS,
    _WEIGHT_OF,
    FIELD_GAP,
    MAX_LEXEME_BYTES,
    _lexeme_literal,
    _positions_text,
)


def field_terms(article: Article) -> tuple[dict[str, list[tuple[list[int], str]]], int]:
    """An article's lexemes -> [(positions, weight letter)] per field, in position order; its length in terms.

    What doc_row computes, lexeme by lexeme (doc_row's _analysis gives the same with C-level passes: the
    reference of tests/test_pg_analysis_equivalence.py)."""
    lang = lang_key(article.lang)
    out: dict[str, list[tuple[list[int], str]]] = {}
    start, length = 1, 0
    prefix = lang + ":"
    for name, value in (("headline", article.headline), ("description", article.description), ("body", article.body)):
        letter = _WEIGHT_OF[name]
        last = -1
        # LangPositions.term_positions, with the positions counted from ``start``: each term's positions, rising.
        grouped: dict[str, list[int]] = {}
        for i, term in enumerate(_POSITIONS[lang][name].token_terms(value or ""), start):
            if term:
                found = grouped.get(term)
                if found is None:
                    grouped[term] = [i]
                else:
                    found.append(i)
        if grouped:
            for term, poses in grouped.items():
                lex = prefix + term
                if len(lex) * 4 >= MAX_LEXEME_BYTES and len(lex.encode("utf-8")) >= MAX_LEXEME_BYTES:
                    continue
                entry = out.get(lex)
                if entry is None:
                    out[lex] = [(poses, letter)]
                else:
                    entry.append((poses, letter))
                length += len(poses)
                if poses[-1] > last:
                    last = poses[-1]
        start = (last - start + 1 if last >= 0 else 0) + start + FIELD_GAP
    for prefix, values in (("tag:", article.tags), ("by:", article.byline)):
        for key in {tag_key(v) for v in values}:
            lex = prefix + key
            if key and len(lex.encode("utf-8")) < MAX_LEXEME_BYTES:
                out.setdefault(lex, []).append(([1], "C"))
    return out, length


def doc_terms(article: Article) -> tuple[dict[str, list[tuple[int, str]]], int]:
    """An article's lexemes -> [(position, weight letter)], and its length in terms (the text fields')."""
    terms, length = field_terms(article)
    return {lex: [(p, w) for poses, w in parts for p in poses] for lex, parts in terms.items()}, length


def tsvector_text(terms: dict[str, list[tuple[list[int], str]]]) -> str:
    """The tsvector input text of field_terms' lexemes (at most MAX_POSITIONS positions a lexeme; PostgreSQL
    itself sets a position past MAX_POSITION to MAX_POSITION)."""
    parts = []
    for lex, fields in terms.items():
        if len(fields) == 1 and len(fields[0][0]) == 1 and "'" not in lex and "\\" not in lex:  # most lexemes
            poses, letter = fields[0]
            parts.append(f"'{lex}':{poses[0]}{letter}")
            continue
        parts.append(_lexeme_literal(lex) + ":" + _positions_text(fields))
    return " ".join(parts)
