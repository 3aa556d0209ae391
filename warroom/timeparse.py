"""The one timestamp parser: ISO 8601 as senders, people and databases write it, to aware UTC;
and the one duration parser (`20m`, `1h30m`, `90s`) of the files people write (scenarios,
service levels).

Room: shared library (pure, no I/O). Used by the alert sources, the API's query parameters,
the CLI's options, the on-call files and the records readers.

One rule for a time without an offset: it is in the zone the caller names (`naive=`, UTC
unless said: alert senders, SQLite columns and report filters mean UTC), and where the caller
names none (`naive=None`: a moment a person asks about, an override in an on-call file) it
is refused, because guessing a zone at 3 a.m. pages the wrong person.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

__all__ = ["NaiveTimeError", "TimeFormatError", "parse_duration", "parse_time", "relative", "span", "utc"]


_DATE_THEN_SIGN = re.compile(r"^\d{4}-\d{2}-\d{2}[+-]")


class TimeFormatError(ValueError):
    """Not an ISO 8601 date-time."""


class NaiveTimeError(ValueError):
    """A date-time without an offset where the caller named no zone for it."""


def parse_time(value: str | datetime, *, naive: tzinfo | None = UTC, keep_offset: bool = False) -> datetime:
    """`value` (ISO 8601 text with `Z`, `+0000`, `+00:00` or no offset; or a datetime) as an
    aware datetime in UTC. A value without an offset is in `naive`; with `naive=None` it
    raises NaiveTimeError. Text that is no date-time raises TimeFormatError. `keep_offset`
    returns the same moment in the offset it was written with (or in `naive`), for a moment
    a person asked about that is shown back to them as they wrote it; the rules are the same."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        if _DATE_THEN_SIGN.match(text):  # Python reads "2026-03-16+08:00" as 08:00 without a zone
            raise TimeFormatError(f"{value!r} is a date with an offset but no time of day")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise TimeFormatError(f"{value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        if naive is None:
            raise NaiveTimeError(f"{value!r} has no offset")
        moment = moment.replace(tzinfo=naive)
    try:
        in_utc = moment.astimezone(UTC)  # also for keep_offset: the moment must exist in UTC
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable UTC moment
        raise TimeFormatError(f"{value!r} is outside the range of representable times") from None
    return moment if keep_offset else in_utc


def utc(value: str | datetime | None) -> datetime | None:
    """parse_time for optional values (None or "" stay None), naive meaning UTC."""
    if value is None or value == "":
        return None
    return parse_time(value)


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*"
                       r"(?:(\d+(?:\.\d+)?)s)?\s*$")


def parse_duration(raw: Any) -> timedelta:
    """'20m', '1h30m', '26h', '2d', '90s' or a number of seconds; ValueError otherwise."""
    if isinstance(raw, bool):
        raise ValueError("not a duration")
    if isinstance(raw, int | float):
        return timedelta(seconds=raw)
    m = _DURATION.match(str(raw))
    if not m or not any(m.groups()):
        raise ValueError(f"{raw!r} is not a duration like 20m, 1h30m, 26h or 90s")
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


def span(seconds: float) -> str:
    """A duration as people read a countdown or an age, exact to the minute (to the second under
    an hour): `45s`, `14m 30s`, `1h 59m`, `2d 4h 05m`. Never rounded to a whole larger unit
    ("in 1h" for 1 h 59 min was wrong by an hour). The console's script (console.js) says the same."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s" if s % 60 else f"{s // 60}m"
    d, rest = divmod(s, 86400)
    h, m = rest // 3600, rest % 3600 // 60
    return f"{d}d {h}h {m:02d}m" if d else f"{h}h {m:02d}m"


def relative(seconds: float) -> str:
    """`in 1h 59m` for a time ahead, `1h 59m ago` for one past (seconds = then - now)."""
    return f"in {span(seconds)}" if seconds >= 0 else f"{span(seconds)} ago"
