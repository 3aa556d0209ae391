"""Room: on-call (warroom/oncall), calendars: shifts as an iCalendar feed any calendar app subscribes to.

Pure: OnCallConfig.shifts_between gives the shifts, this turns them into RFC 5545 text with
the icalendar library; the API serves it (api/routes/calendars.py) behind a feed token.
Each shift is one VEVENT in UTC with a UID that stays the same while the shift does (schedule,
person, start), so a calendar app updates an event in place when the files change, and a
removed shift disappears at the next refresh. The calendar asks to be refreshed hourly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from icalendar import Calendar, Event, vDuration

from warroom.oncall.model import OnCallShift

PRODID = "-//warroom//on-call//EN"
REFRESH = timedelta(hours=1)
# What a feed covers around the moment it is read: a week back, eight weeks ahead.
PAST = timedelta(days=7)
AHEAD = timedelta(days=56)


def summary(shift: OnCallShift) -> str:
    """`On call: Alice Wang (l1)`, saying an override or swap: `(l1, swap for bob)`."""
    why = f"swap for {shift.swapped_from}" if shift.swapped_from else \
        shift.source if shift.source in ("override", "on demand") else ""
    return f"On call: {shift.person.name} ({shift.schedule}{', ' + why if why else ''})"


def description(shift: OnCallShift) -> str:
    lines = [f"schedule {shift.schedule} of team {shift.team}", f"layer: {shift.layer}",
             f"from: {shift.source}" + (f" (for {shift.swapped_from})" if shift.swapped_from else "")]
    if shift.levels:
        lines.append("paged as: " + ", ".join(shift.levels))
    return "\n".join(lines)


def uid(shift: OnCallShift) -> str:
    return f"{shift.schedule}.{shift.person.id}.{shift.start:%Y%m%dT%H%M%SZ}@warroom"


def feed(name: str, ident: str, shifts: Iterable[OnCallShift], *, stamp: datetime) -> bytes:
    """The iCalendar text of `shifts`, named `name` (what the app shows for the subscription);
    `ident` (team:sre, person:alice) makes the calendar's own UID."""
    cal = Calendar.new(prodid=PRODID, name=name, refresh_interval=REFRESH, uid=f"{ident}@warroom")
    cal.add("x-published-ttl", vDuration(REFRESH))  # the older spelling of the refresh interval (Outlook)
    for shift in shifts:
        cal.add_component(Event.new(uid=uid(shift), start=shift.start, end=shift.end, summary=summary(shift),
                                    description=description(shift), stamp=stamp,
                                    categories=["on-call", shift.team]))
    return cal.to_ical()
