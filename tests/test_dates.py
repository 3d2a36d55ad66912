"""Date strings from metadata: zones, sentinels, zone-less values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsarchive.parse.dates import locale_dayfirst, numeric_orders, parse_date, parse_offset, to_utc_naive


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00+00:00", "9999-12-31T23:59:59Z"])
def test_cms_sentinel_dates_become_none(text: str) -> None:
    assert parse_date(text) is None


def test_zulu_time_with_milliseconds_is_utc() -> None:
    assert parse_date("2019-11-19T11:51:32.556Z") == datetime(2019, 11, 19, 11, 51, 32, 556000, tzinfo=UTC)


def test_offset_without_colon_is_understood() -> None:
    value = parse_date("2019-11-19T04:58:46+0000")
    assert value == datetime(2019, 11, 19, 4, 58, 46, tzinfo=UTC)


def test_zone_less_time_is_none_rather_than_a_guess() -> None:
    assert parse_date("2019-11-20T01:53:14.418") is None


def test_zone_less_time_takes_the_zone_the_caller_knows() -> None:
    value = parse_date("2023-02-16T06:35:00.0000000", default_tz=UTC)
    assert value == datetime(2023, 2, 16, 6, 35, tzinfo=UTC)


def test_bare_calendar_date_is_midnight_utc() -> None:
    assert parse_date("2023-02-16") == datetime(2023, 2, 16, tzinfo=UTC)


def test_us_zone_abbreviation_gives_its_offset() -> None:
    value = parse_date("Tue, 19 Nov 2019 08:00:00 EST")
    assert value is not None and to_utc_naive(value) == datetime(2019, 11, 19, 13, 0)


def test_ambiguous_zone_abbreviation_is_not_guessed() -> None:
    """Regression: IST (India, Israel or Ireland) used to leak a dateutil warning and a naive value."""
    assert parse_date("Tue, 19 Nov 2019 08:00:00 IST") is None


@pytest.mark.parametrize("text", ["", "   ", "not a date", None])
def test_garbage_is_none(text: str | None) -> None:
    assert parse_date(text) is None


def test_offset_strings_give_fixed_zones() -> None:
    assert parse_offset("+02:00") == timezone(timedelta(hours=2))
    assert parse_offset("-0530") == timezone(-timedelta(hours=5, minutes=30))
    assert parse_offset("+15:00") is None
    assert parse_offset("Europe/Paris") is None


def test_to_utc_naive_drops_the_offset_after_converting() -> None:
    value = datetime(2024, 3, 16, 8, 51, tzinfo=timezone(timedelta(hours=2)))
    assert to_utc_naive(value) == datetime(2024, 3, 16, 6, 51)


@pytest.mark.parametrize("sep", ["/", ".", "-"])
def test_an_ambiguous_numeric_date_is_read_in_the_order_given(sep: str) -> None:
    text = f"02{sep}03{sep}2023"
    assert parse_date(text) == datetime(2023, 2, 3, tzinfo=UTC)  # month first unless told otherwise
    assert parse_date(text, dayfirst=False) == datetime(2023, 2, 3, tzinfo=UTC)
    assert parse_date(text, dayfirst=True) == datetime(2023, 3, 2, tzinfo=UTC)


def test_a_numeric_date_with_time_and_offset_takes_the_order_too() -> None:
    value = parse_date("02/03/2023 10:15 +01:00", dayfirst=True)
    assert value == datetime(2023, 3, 2, 10, 15, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize("dayfirst", [False, True])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13/02/2023", datetime(2023, 2, 13, tzinfo=UTC)),  # 13 is no month: the order is in the date
        ("02/13/2023", datetime(2023, 2, 13, tzinfo=UTC)),
        ("03/03/2023", datetime(2023, 3, 3, tzinfo=UTC)),
        ("2023/02/03", datetime(2023, 2, 3, tzinfo=UTC)),  # year first: always year-month-day
        ("2023.02.03", datetime(2023, 2, 3, tzinfo=UTC)),
        ("2023-02-03", datetime(2023, 2, 3, tzinfo=UTC)),
        ("2023-02-03T10:00:00+03:00", datetime(2023, 2, 3, 10, tzinfo=timezone(timedelta(hours=3)))),
        ("2023-02-03 10:00:00 +0300", datetime(2023, 2, 3, 10, tzinfo=timezone(timedelta(hours=3)))),
        ("Fri, 03 Feb 2023 10:00:00 GMT", datetime(2023, 2, 3, 10, tzinfo=UTC)),
        ("3 Feb 2023", datetime(2023, 2, 3, tzinfo=UTC)),
    ],
)
def test_a_date_that_says_its_order_ignores_the_order_given(text: str, expected: datetime, dayfirst: bool) -> None:
    assert parse_date(text, dayfirst=dayfirst) == expected


@pytest.mark.parametrize(
    ("tag", "dayfirst"),
    [
        ("en-US", False), ("en_US", False), ("EN-us", False), ("es-US", False), ("en-PH", False),
        ("en-GB", True), ("en_GB", True), ("en-AU", True), ("en-IN", True), ("en-NZ", True), ("en-IE", True),
        ("ar", True), ("ar-LB", True), ("es", True), ("es-419", True), ("fr", True), ("fr-FR", True), ("de", True),
        ("fr-CA", True), ("zh-Hant-TW", True),
        ("en", None), ("EN", None), ("en-CA", None), ("", None), ("   ", None), ("English", None), ("x", None),
        ("*", None),
    ],
)  # fmt: skip
def test_a_language_tag_says_which_comes_first_in_its_numeric_dates(tag: str, dayfirst: bool | None) -> None:
    assert locale_dayfirst(tag) is dayfirst


@pytest.mark.parametrize(
    ("text", "orders"),
    [
        ("25/03/2023", [True]), ("03/25/2023", [False]), ("25.3.23", [True]), ("3-25-2023 10:00", [False]),
        ("02/03/2023", []), ("03/03/2023", []), ("2023/03/25", []), ("2023-03-25", []), ("10.1.2.3", []),
        ("Posted 25/03/2023, updated 26/03/2023 and 03/27/2023", [True, True, False]), ("40/50/2023", []),
    ],
)  # fmt: skip
def test_numeric_dates_that_give_away_their_order(text: str, orders: list[bool]) -> None:
    assert list(numeric_orders(text)) == orders
