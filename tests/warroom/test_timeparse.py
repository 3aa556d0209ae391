"""warroom/timeparse.py: the one timestamp parser (plain unit tests, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from warroom.timeparse import NaiveTimeError, TimeFormatError, parse_time, relative, span, utc

NINE_UTC = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-03-10T09:00:00Z", "2026-03-10T09:00:00z", "2026-03-10T09:00:00+0000",
                                  "2026-03-10T09:00:00+00:00", "2026-03-10T17:00:00+08:00",
                                  "2026-03-10T04:00-05:00", "  2026-03-10T09:00Z  "])
def test_every_way_of_writing_an_offset_gives_the_same_moment_in_utc(text: str) -> None:
    moment = parse_time(text)
    assert moment == NINE_UTC
    assert moment.utcoffset() == timedelta(0)


def test_a_time_without_offset_is_utc_unless_the_caller_names_a_zone() -> None:
    assert parse_time("2026-03-10T09:00:00") == NINE_UTC
    assert parse_time("2026-03-10T17:00", naive=timezone(timedelta(hours=8))) == NINE_UTC


def test_a_time_without_offset_is_refused_where_the_caller_names_no_zone() -> None:
    with pytest.raises(NaiveTimeError, match="has no offset"):
        parse_time("2026-03-10T09:00", naive=None)
    with pytest.raises(NaiveTimeError):
        parse_time(datetime(2026, 3, 10, 9, 0), naive=None)
    assert parse_time("2026-03-10T09:00Z", naive=None) == NINE_UTC


@pytest.mark.parametrize("text", ["", "soon", "2026-13-01T09:00Z", "2026-02-30", "09:00", "2026-03-10T25:00Z",
                                  "1741597200"])
def test_text_that_is_no_date_time_is_a_format_error(text: str) -> None:
    with pytest.raises(TimeFormatError, match="is not an ISO 8601 date-time"):
        parse_time(text)


def test_both_errors_are_value_errors_for_callers_that_catch_those() -> None:
    assert issubclass(TimeFormatError, ValueError) and issubclass(NaiveTimeError, ValueError)


def test_a_datetime_goes_through_the_same_rules() -> None:
    shanghai = datetime(2026, 3, 10, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert parse_time(shanghai) == NINE_UTC and parse_time(shanghai).tzinfo is UTC
    assert parse_time(datetime(2026, 3, 10, 9, 0)) == NINE_UTC  # naive: UTC by default


def test_a_naive_time_in_a_dst_zone_takes_that_day_s_offset() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_time("2026-01-15T09:00", naive=berlin) == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # CET, +01:00
    assert parse_time("2026-07-15T09:00", naive=berlin) == datetime(2026, 7, 15, 7, 0, tzinfo=UTC)  # CEST, +02:00
    # the night clocks go forward (29 March 2026, 02:00 -> 03:00): either side of it
    assert parse_time("2026-03-29T01:30", naive=berlin) == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert parse_time("2026-03-29T03:30", naive=berlin) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_keep_offset_gives_the_same_moment_as_it_was_written() -> None:
    moment = parse_time("2026-03-10T17:00:00+08:00", keep_offset=True)
    assert moment == NINE_UTC and moment.isoformat() == "2026-03-10T17:00:00+08:00"
    assert parse_time("2026-03-10T09:00Z", keep_offset=True).isoformat() == "2026-03-10T09:00:00+00:00"
    with pytest.raises(NaiveTimeError):
        parse_time("2026-03-10T17:00", naive=None, keep_offset=True)


def test_utc_leaves_missing_values_missing() -> None:
    assert utc(None) is None and utc("") is None
    assert utc("2026-03-10T09:00") == NINE_UTC


def test_a_date_with_an_offset_but_no_time_is_refused() -> None:
    # fromisoformat would read the "+" as the date/time separator: 08:00 with no zone, 8 h off
    with pytest.raises(TimeFormatError):
        parse_time("2026-03-16+08:00")


def test_a_moment_outside_utc_range_is_a_format_error_not_a_crash() -> None:
    with pytest.raises(TimeFormatError):
        parse_time("0001-01-01T00:00:00+01:00")


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (45, "45s"), (60, "1m"), (90, "1m 30s"), (14 * 60 + 5, "14m 05s"), (3600, "1h 00m"),
    (3600 + 59 * 60, "1h 59m"), (3600 + 59 * 60 + 59, "1h 59m"), (23 * 3600 + 59 * 60, "23h 59m"),
    (86400, "1d 0h 00m"), (2 * 86400 + 4 * 3600 + 5 * 60, "2d 4h 05m"), (-(3600 + 59 * 60), "1h 59m"),
])
def test_a_span_is_exact_never_rounded_to_a_whole_hour(seconds: int, text: str) -> None:
    assert span(seconds) == text


def test_relative_says_which_way() -> None:
    assert relative(3600 + 59 * 60) == "in 1h 59m"
    assert relative(-(3600 + 59 * 60)) == "1h 59m ago"
    assert relative(0) == "in 0s"
