"""warroom/oncall/rotation.py: the shift math on plain values (hand-overs across DST, windows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from warroom.oncall.rotation import in_window, nth_handover, period, shift_index

BERLIN = ZoneInfo("Europe/Berlin")


def test_periods() -> None:
    assert period("weekly") == timedelta(days=7) and period("daily") == timedelta(days=1)


def test_a_weekly_hand_over_stays_at_nine_on_the_wall_when_the_clocks_go_forward() -> None:
    start = datetime(2026, 3, 23, 9, 0)  # a Monday, CET; clocks go forward on Sunday 29 March
    assert nth_handover(start, "weekly", 0, BERLIN) == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    assert nth_handover(start, "weekly", 1, BERLIN) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert nth_handover(start, "weekly", 1, BERLIN).astimezone(BERLIN).hour == 9


def test_the_shift_holding_a_moment_changes_exactly_at_the_hand_over() -> None:
    start = datetime(2026, 3, 23, 9, 0)
    second = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert shift_index(start, "weekly", second - timedelta(minutes=1), BERLIN) == 0
    assert shift_index(start, "weekly", second, BERLIN) == 1
    assert shift_index(start, "weekly", datetime(2026, 3, 23, 7, 59, tzinfo=UTC), BERLIN) < 0  # before the start


def test_the_hour_the_clocks_go_back_is_counted_by_the_real_hand_over_not_the_wall_clock() -> None:
    start = datetime(2026, 10, 24, 2, 30)  # daily; on 25 October 02:00-03:00 happens twice
    handover = nth_handover(start, "daily", 1, BERLIN)
    assert handover == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 02:30 (CEST)
    repeated = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 02:00 again (CET): the wall says before 02:30
    assert repeated.astimezone(BERLIN).hour == 2
    assert shift_index(start, "daily", repeated, BERLIN) == 1
    assert shift_index(start, "daily", handover - timedelta(minutes=1), BERLIN) == 0


def test_a_window_within_a_day() -> None:
    weekdays = (0, 1, 2, 3, 4)
    assert in_window(weekdays, 9 * 60, 17 * 60, datetime(2026, 3, 11, 9, 0))  # Wednesday 09:00
    assert not in_window(weekdays, 9 * 60, 17 * 60, datetime(2026, 3, 11, 17, 0))  # the end is outside
    assert not in_window(weekdays, 9 * 60, 17 * 60, datetime(2026, 3, 14, 10, 0))  # Saturday
    assert in_window((4,), 18 * 60, 1440, datetime(2026, 3, 13, 23, 59))  # until midnight ("24:00")


def test_an_overnight_window_covers_the_next_morning() -> None:
    friday_night = ((4,), 18 * 60, 9 * 60)
    assert in_window(*friday_night, datetime(2026, 3, 13, 20, 0))  # Friday 20:00
    assert in_window(*friday_night, datetime(2026, 3, 14, 8, 59))  # Saturday morning
    assert not in_window(*friday_night, datetime(2026, 3, 14, 9, 0))
    assert not in_window(*friday_night, datetime(2026, 3, 12, 20, 0))  # Thursday
    assert in_window((6,), 18 * 60, 9 * 60, datetime(2026, 3, 16, 8, 0))  # Sunday night runs into Monday
