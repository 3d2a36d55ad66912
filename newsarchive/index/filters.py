"""DocsFilter: a filter (dates, site, language...) inside a Whoosh query tree, scored as one constant.

Its own module so that code which only builds or reads query trees (the PostgreSQL translation in
pg_search.py, an ingest worker of a PostgreSQL store) does not load the numpy evaluator.
"""

from __future__ import annotations

from typing import Any

from whoosh import query


class DocsFilter(query.ConstantScoreQuery):  # type: ignore[misc]
    """A filter inside a query tree: its documents, each with one constant score (0.0 scores as 1.0)."""

    #: Whoosh's And/Or.normalize() flattens nested compounds by multiplying every child's boost:
    #: ConstantScoreQuery has no ``boost`` of its own, so `crimea AND published:2023-02` failed there.
    boost = 1.0

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        from whoosh.matching import ListMatcher, NullMatcher

        from newsarchive.index.evaluate import Evaluator

        docs = sorted(Evaluator(searcher).docs(self.child))
        if not docs:
            return NullMatcher()
        return ListMatcher(docs, all_weights=self.score)


class Fuzzy(query.FuzzyTerm):  # type: ignore[misc]
    """``word~``: the terms within the edit distance (two swapped neighbouring letters: one edit), the same however
    many segments the index has (``whoosh_internals.fuzzy_terms``; Whoosh's reader of one segment counted a swap
    as two edits, its reader of several as one)."""

    def _btexts(self, ixreader: Any) -> list[str]:
        from newsarchive.index.whoosh_internals import fuzzy_terms

        return fuzzy_terms(ixreader, self.fieldname, self.text, self.maxdist, self.prefixlength)
