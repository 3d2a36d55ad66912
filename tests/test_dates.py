"""Date strings from metadata: zones, sentinels, zone-less values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsarchive.parse.dates import parse_date, parse_offset, to_utc_naive


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
