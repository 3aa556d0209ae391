"""Room: on-call (warroom/oncall), the shift math: hand-overs, which shift holds a moment, weekly windows.

Pure functions of plain values (a wall-clock start, a rotation name, a zone, a moment), so
the DST rules can be read and tested apart from the files and the model. model.py's Layer
and Restriction answer with them; nothing here knows a person, a schedule or a file.

Two kinds of question, two tools. "Which shift holds this moment" is arithmetic on the
period (O(1), however old the rotation). "Every hand-over and window edge in a range" (a
calendar feed, the next hand-over) is a recurrence: python-dateutil's rrule expands it on
wall time, and each wall time is then put in the zone like a single hand-over.

A rotation hands over at the same wall-clock time every period in the schedule's zone: a
DST change moves the hand-over in UTC, never on the clock on the wall. That is why a start
is kept naive (wall time) and only turned into a UTC moment per hand-over.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, WEEKLY, rrule, weekday


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


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _utc(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone).astimezone(UTC)


def handovers_between(start: datetime, rotation: str, zone: ZoneInfo, after: datetime,
                      before: datetime) -> list[datetime]:
    """The hand-overs (UTC) in [after, before): the rotation's recurrence on wall time from
    `start`, each put in `zone` as nth_handover does. The recurrence starts at the last
    hand-over before the range, so an old rotation is not expanded from its beginning."""
    first = max(0, shift_index(start, rotation, after, zone))
    rule = rrule(WEEKLY if rotation == "weekly" else DAILY, dtstart=start + first * period(rotation))
    # a zone's offset is under a day: a day of margin each side, then the exact cut in UTC
    walls = rule.between(_wall(after, zone) - timedelta(days=1), _wall(before, zone) + timedelta(days=1), inc=True)
    return [moment for moment in (_utc(w, zone) for w in walls) if after <= moment < before]


def window_edges(days: Collection[int], start_minute: int, end_minute: int, zone: ZoneInfo,
                 after: datetime, before: datetime) -> list[datetime]:
    """Where a weekly window (in_window's terms) opens or closes in [after, before), UTC. A
    close at "24:00" or after an overnight start falls on the next day."""
    next_days = [(d + 1) % 7 for d in days]
    closes_next_day = start_minute >= end_minute or end_minute == 1440
    edges = [(list(days), start_minute), (next_days if closes_next_day else list(days), end_minute % 1440)]
    lo, hi = _wall(after, zone) - timedelta(days=1), _wall(before, zone) + timedelta(days=1)
    out: set[datetime] = set()
    for on, minute in edges:
        rule = rrule(WEEKLY, byweekday=[weekday(d) for d in on], byhour=minute // 60, byminute=minute % 60,
                     bysecond=0, dtstart=lo.replace(hour=0, minute=0, second=0, microsecond=0))
        out.update(m for m in (_utc(w, zone) for w in rule.between(lo, hi, inc=True)) if after <= m < before)
    return sorted(out)
