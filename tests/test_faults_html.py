"""Bad HTML: every page gives an Article or a one-line ParseError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsarchive.article import Article
from newsarchive.errors import ParseError
from newsarchive.parse import MAX_TAGS, parse_page

URL = "https://news.example.com/news/2024/harbour-story"
TEXT = "The harbour authority said on Monday that ships would be delayed by the storm. " * 6


def page(head: str = "", body: str = "", title: str = "Harbour delays expected") -> bytes:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
        f"<body><article><h1>{title}</h1><p>{TEXT}</p><p>{TEXT}</p>{body}</article></body></html>"
    ).encode()


def outcome(body: bytes, content_type: str | None = None) -> Article | ParseError:
    try:
        return parse_page(body, URL, content_type=content_type)
    except ParseError as exc:
        assert "\n" not in exc.message and len(exc.message) < 500
        return exc


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "empty page"),
        (b" \n\t ", "empty page"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n" * 40, "the body is a PDF document"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "the body is a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(500), "the body is a JPEG image"),
        (b"GIF89a" + bytes(200), "the body is a GIF image"),
        (b'{"headline": "x", "body": "y"}', "the body is JSON"),
        (b"PK\x03\x04" + bytes(100), "the body is a ZIP archive"),
        (b"\x1f\x8b\x08\x00" + bytes(100), "the body is gzip-compressed data"),
        (b"<html><head><title>Only a title</title></head><body></body></html>", "no article text found"),
        # a title of control characters only is no title once they are removed (found by the markup soup test)
        (
            b"<html><head><title>\xc2\x80\x1b</title></head><body><p>" + b"Some text. " * 30 + b"</p></body></html>",
            "no headline found",
        ),
    ],
    ids=["empty", "blank", "pdf", "png", "jpeg", "gif", "json", "zip", "gzip", "no-body", "control-title"],
)
def test_not_an_article_is_a_one_line_parse_error(body: bytes, says: str) -> None:
    result = outcome(body)
    assert isinstance(result, ParseError)
    assert says in result.message


def test_megabytes_of_nesting_fail_cleanly() -> None:
    deep = b"<html><body><h1>Deep</h1>" + b"<div>" * 300_000 + TEXT.encode() + b"</div>" * 300_000 + b"</body></html>"
    assert len(deep) > 3_000_000
    assert isinstance(outcome(deep), ParseError | Article)


def test_unclosed_nesting_fails_cleanly() -> None:
    assert isinstance(outcome(b"<html><body><h1>Deep</h1>" + b"<div><span><b>" * 150_000), ParseError | Article)


def test_truncated_page_keeps_what_arrived() -> None:
    body = page()[:-60]
    article = outcome(body)
    assert isinstance(article, Article)
    assert article.headline == "Harbour delays expected"
    assert article.body.startswith("The harbour authority said")


def test_nul_bytes_are_dropped_not_fatal() -> None:
    article = outcome(page().replace(b"Harbour delays", b"Harbour\x00 delays").replace(b"storm", b"st\x00orm"))
    assert isinstance(article, Article)
    assert article.headline == "Harbour delays expected"
    assert "\x00" not in article.body and "storm" in article.body


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    article = outcome(page(body="<p>broken \xff\xfe bytes \xc3\x28 here</p>".encode("latin-1")))
    assert isinstance(article, Article)
    assert article.headline == "Harbour delays expected"


@pytest.mark.parametrize(
    ("encoding", "declared", "content_type"),
    [
        ("cp1252", "utf-8", None),  # meta says utf-8, bytes are windows-1252
        ("utf-8", "iso-8859-1", None),  # the commonest mislabel
        ("cp1251", None, "text/html"),  # nothing declared
        ("cp1251", "no-such-charset", None),  # a charset Python does not know
        ("utf-8", "utf-8", "text/html; charset=windows-1252"),  # header disagrees with meta and bytes
    ],
)
def test_wrongly_declared_or_undeclared_charset_decodes(
    encoding: str, declared: str | None, content_type: str | None
) -> None:
    title = "Новости порта" if encoding == "cp1251" else "Café déjà vu à Noël"
    text = "Порт закрыт из-за шторма. " * 30 if encoding == "cp1251" else "Le café a fermé à cause de la tempête. " * 30
    meta = f"<meta charset='{declared}'>" if declared else ""
    html = f"<html><head>{meta}<title>{title}</title></head><body><article><h1>{title}</h1><p>{text}</p></article>"
    article = outcome((html + "</body></html>").encode(encoding), content_type)
    assert isinstance(article, Article)
    assert article.headline == title


def test_ten_thousand_tags_are_capped_and_deduplicated() -> None:
    keywords = ",".join(f"tag{i % 5000}" for i in range(10_000))
    links = "".join(f"<a rel='tag' href='/t/{i}'>tag{i}</a>" for i in range(10_000))
    article = outcome(page(head=f"<meta name='keywords' content='{keywords}'>", body=links))
    assert isinstance(article, Article)
    assert 0 < len(article.tags) <= MAX_TAGS
    assert len({t.casefold() for t in article.tags}) == len(article.tags)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59+14:00",
        "9999-12-31T23:59:59-12:00",
        "9999-12-31",
        "2024-03-16T08:00:00",  # no zone: unknown, not guessed
        "not a date at all",
        "2024-02-30T10:00:00Z",
    ],
)
def test_impossible_sentinel_or_zoneless_dates_become_none(value: str) -> None:
    article = outcome(page(head=f"<meta property='article:published_time' content='{value}'>"))
    assert isinstance(article, Article)
    assert article.published is None


def test_a_plain_date_with_a_zone_is_kept() -> None:
    article = outcome(page(head="<meta property='article:published_time' content='2024-03-16T08:00:00+02:00'>"))
    assert isinstance(article, Article)
    assert article.published is not None and article.published.isoformat() == "2024-03-16T08:00:00+02:00"


def test_control_character_references_do_not_cost_the_body() -> None:
    article = outcome(page(body="<p>A bell &#7; an escape &#x1b;[2J and a NUL &#0; inside.</p>"))
    assert isinstance(article, Article)
    assert "A bell an escape [2J and a NUL inside." in article.body
    assert not any(ch in article.body for ch in "\x07\x1b\x00")


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_give_an_article_or_a_parse_error(body: bytes) -> None:
    assert isinstance(outcome(body), Article | ParseError)


TAGS = st.sampled_from([
    "<html>", "<head>", "<title>", "</title>", "<body>", "<article>", "<h1>", "</h1>", "<p>", "</p>", "<div>",
    "</div>", "<script type='application/ld+json'>", "</script>", "<meta ", "'>", "&#7;", "&#x1b;", "&amp;",
    "property='article:published_time' content='", "<!--", "-->", "<![CDATA[", "]]>", "<?xml version='1.0'?>",
    "\x00", "\ufeff", "{", "}", '"',
])  # fmt: skip
WORDS = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(TAGS, WORDS), max_size=60), st.sampled_from([None, "text/html", "text/html; charset=koi8-r"]))
def test_arbitrary_markup_soup_gives_an_article_or_a_parse_error(parts: list[str], content_type: str | None) -> None:
    result = outcome("".join(parts).encode("utf-8", "surrogatepass"), content_type)
    assert isinstance(result, Article | ParseError)
    if isinstance(result, Article):
        assert result.headline.strip() and result.body.strip()
        assert "\x00" not in result.body and "\x1b" not in result.headline + result.body
