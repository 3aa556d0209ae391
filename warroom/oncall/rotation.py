"""Room: on-call (warroom/oncall), the shift math: hand-overs, which shift holds a moment, weekly windows.

Pure functions of plain values (a wall-clock start, a rotation name, a zone, a moment), so
the DST rules can be read and tested apart from the files and the model. model.py's Layer
and Restriction answer with them; nothing here knows a person, a schedule or a file.

A rotation hands over at the same wall-clock time every period in the schedule's zone: a
DST change moves the hand-over in UTC, never on the clock on the wall. That is why a start
is kept naive (wall time) and only turned into a UTC moment per hand-over.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def period(rotation: str) -> timedelta:
    """How long one shift lasts: a week for `weekly`, a day for `daily`."""
    return timedelta(days=7 if rotation == "weekly" else 1)


def nth_handover(start: datetime, rotation: str, index: int, zone: ZoneInfo) -> datetime:
    """The index-th hand-over in UTC (0 = `start`, a naive wall-clock time in `zone`)."""
    return (start + index * period(rotation)).replace(tzinfo=zone).astimezone(UTC)


def shift_index(start: datetime, rotation: str, at: datetime, zone: ZoneInfo) -> int:
    """Which shift holds the aware moment `at`: 0 from `start` to the next hand-over, 1 after
    it, ...; negative before `start`. The wall-clock guess is corrected against the real
    hand-overs, which a DST change moves by an hour in UTC."""
    at_utc = at.astimezone(UTC)
    index = (at.astimezone(zone).replace(tzinfo=None) - start) // period(rotation)
    while nth_handover(start, rotation, index + 1, zone) <= at_utc:
        index += 1
    while index >= 0 and nth_handover(start, rotation, index, zone) > at_utc:
        index -= 1
    return index


def in_window(days: Collection[int], start_minute: int, end_minute: int, local: datetime) -> bool:
    """Whether the wall-clock time `local` falls in a weekly window: on `days` (0 = Monday)
    from `start_minute` to `end_minute` after midnight (1440 = the midnight ending the day).
    A start after the end runs overnight: 18:00-09:00 on fri covers Friday evening and
    Saturday morning."""
    minute, day = local.hour * 60 + local.minute, local.weekday()
    if start_minute < end_minute:
        return day in days and start_minute <= minute < end_minute
    return (day in days and minute >= start_minute) or ((day - 1) % 7 in days and minute < end_minute)
