"""The one Whoosh schema, its version, and Article -> index document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from whoosh.analysis import RegexTokenizer
from whoosh.columns import FixedBytesColumn, VarBytesColumn
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, STORED, Schema

from newsarchive.analysis import (
    ALL_LANGS,
    PAIRS_FIELD,
    LangText,
    PairsField,
    lang_key,
    lang_primary,
    pair_words,
    tag_key,
)
from newsarchive.article import Article

if TYPE_CHECKING:
    from newsarchive.store.articles import HitText

#: Bump when the schema or the analysis changes: an index of another version is rebuilt.
INDEX_VERSION = 6  # 5: tags and bylines keep their commas (one key per value, see KeyList); 6: PAIRS_FIELD

#: The searchable text fields; each exists once per language key (``body_en``, ``body_ar``, ...).
#: Article ids are 16 hex digits (article.article_id); another id is left out of ``idcol`` (zero bytes).
ID_WIDTH = 16
TEXT_FIELDS = ("headline", "description", "body")
BOOSTS = {"headline": 2.0, "description": 1.0, "body": 1.0}


#: Separates the values of a tags or byline field (and of ``tagcol``); no value holds one (tag_key).
KEY_SEPARATOR = "\n"
KEY_PATTERN = r"[^\n]+"  # a KeyList's values


class KeyList(KEYWORD):  # type: ignore[misc]
    """A list of values, each one term as ``analysis.tag_key`` makes it: commas inside a value stay."""

    def __init__(self) -> None:
        super().__init__(scorable=True)
        self.analyzer = RegexTokenizer(KEY_PATTERN)


def key_list(values: tuple[str, ...]) -> str:
    """The values' keys, each once (a tag given twice, or spelled two ways, is one facet count), in order."""
    return KEY_SEPARATOR.join(dict.fromkeys(k for k in map(tag_key, values) if k))


def month_key(value: datetime) -> str:
    """A publication time's month, ``YYYY-MM`` with four digits of year (strftime drops the zero before 1000)."""
    return f"{value.year:04d}-{value.month:02d}"


def lang_field(name: str, lang: str) -> str:
    return f"{name}_{lang}"


def make_schema() -> Schema:
    fields: dict[str, Any] = {
        "id": ID(unique=True, stored=True),
        "url": ID(stored=True),
        "site": ID(stored=True, sortable=True),
        "lang": ID(stored=True, sortable=True),
        "section": ID(sortable=True),
        "month": ID(sortable=True),
        "title": STORED(),
        # Article ids by document number, read without loading the stored-fields table (see ID_WIDTH).
        "idcol": COLUMN(FixedBytesColumn(ID_WIDTH)),
        "byline": KeyList(),
        "tags": KeyList(),
        # Facet counts read this column instead of stored fields (the tags field's value: KEY_SEPARATOR-joined).
        "tagcol": COLUMN(VarBytesColumn()),
        # Whoosh ignores tzinfo: published is indexed as naive UTC (STYLE.md, Whoosh traps).
        "published": DATETIME(stored=True, sortable=True),
    }
    for lang in ALL_LANGS:
        for name in TEXT_FIELDS:
            fields[lang_field(name, lang)] = LangText(lang, field_boost=BOOSTS[name])
    fields[PAIRS_FIELD] = PairsField()
    return Schema(**fields)


def to_utc_naive(value: datetime) -> datetime:
    """Aware datetime -> naive UTC (not imported from parse.dates: that would load every parser)."""
    return value.astimezone(UTC).replace(tzinfo=None)


def id_bytes(article_id: str) -> bytes:
    raw = article_id.encode("ascii", "replace")
    return raw if len(raw) == ID_WIDTH and b"\0" not in raw else b"\0" * ID_WIDTH


def stored_fields(article: Article | HitText) -> dict[str, Any]:
    """What the index stores of an article (a search hit shows these)."""
    fields: dict[str, Any] = {
        "id": article.id,
        "url": article.canonical_url,
        "site": article.site,
        "lang": lang_primary(article.lang),
        "title": article.headline,
    }
    if article.published is not None:
        fields["published"] = to_utc_naive(article.published)
    return fields


def article_to_doc(article: Article) -> dict[str, Any]:
    """The index document: text goes to the fields of the article's language; the text itself stays in the store."""
    lang = lang_key(article.lang)
    tags = key_list(article.tags)
    doc = stored_fields(article)
    doc.update(
        {
            "section": (article.section or "").lower(),
            "idcol": id_bytes(article.id),
            lang_field("headline", lang): article.headline,
            lang_field("description", lang): article.description or "",
            lang_field("body", lang): article.body,
            "byline": key_list(article.byline),
            "tags": tags,
            "tagcol": tags.encode("utf-8"),
        }
    )
    if "published" in doc:
        doc["month"] = month_key(doc["published"])
    if pair_words(lang):  # the same string objects: the rebuild finds the pairs as it analyses the texts (bulk.py)
        texts = {name: doc[name] for name in (lang_field(n, lang) for n in TEXT_FIELDS) if doc[name]}
        if texts:
            doc[PAIRS_FIELD] = texts
    return doc
