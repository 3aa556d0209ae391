"""Room: on-call (warroom/oncall), the model: people, teams, schedules and escalation policies.

Frozen dataclasses, built by files.py from checked on-call files and asked by resolve.py
(who is on call at a moment, who a page target reaches). No I/O, no Temporal, no database.
Contact URLs keep their `${ENV}` placeholders as text: only the sending activity expands
them, so secrets never sit in this configuration, a workflow's input or its history. The
shift math (hand-overs across DST, overnight windows) is rotation.py's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from warroom.oncall.rotation import handovers_between, in_window, nth_handover, shift_index, window_edges


@dataclass(frozen=True)
class ContactPoint:
    kind: str  # sms | phone | email | chat | webhook
    url: str  # an Apprise URL; may contain ${ENV} placeholders, expanded only when sending


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    timezone: str
    language: str = "en"
    contacts: tuple[ContactPoint, ...] = ()  # fallback order
    chat_handles: tuple[tuple[str, str], ...] = ()  # (workspace kind, user), e.g. ("slack", "U024BE7LH")

    def handle(self, kind: str) -> str:
        return dict(self.chat_handles).get(kind, "")


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    members: tuple[str, ...]
    schedules: tuple[str, ...] = ()  # the first is the team's primary (what `team:<id>` pages)
    chat: str = ""


@dataclass(frozen=True)
class Restriction:
    """A weekly window in the schedule's time zone; `from` after `to` runs overnight."""
    days: tuple[int, ...]  # 0 = Monday
    start_minute: int
    end_minute: int  # 1440 = midnight at the end of the day

    def covers(self, local: datetime) -> bool:
        return in_window(self.days, self.start_minute, self.end_minute, local)

    def edges(self, zone: ZoneInfo, after: datetime, before: datetime) -> list[datetime]:
        return window_edges(self.days, self.start_minute, self.end_minute, zone, after, before)


@dataclass(frozen=True)
class Layer:
    name: str
    rotation: str  # weekly | daily
    start: datetime | None  # naive: wall time in the schedule's zone, the first hand-over (on demand: optional)
    users: tuple[str, ...]
    restrict: Restriction | None = None
    on_demand: bool = False

    def handover(self, index: int, zone: ZoneInfo) -> datetime:
        """The index-th hand-over in UTC: the same wall time every period, so a DST change
        moves it in UTC and never on the clock on the wall."""
        assert self.start is not None
        return nth_handover(self.start, self.rotation, index, zone)

    def user_at(self, at: datetime, zone: ZoneInfo) -> str | None:
        """Who this rotation puts on call at `at` (None before its start or outside `restrict`)."""
        if self.start is None or (self.restrict and not self.restrict.covers(at.astimezone(zone))):
            return None
        index = shift_index(self.start, self.rotation, at, zone)
        return None if index < 0 else self.users[index % len(self.users)]

    def changes(self, zone: ZoneInfo, after: datetime, before: datetime) -> list[datetime]:
        """Moments in [after, before) where this layer may put someone else on call: its
        hand-overs and the edges of its weekly window."""
        out = [] if self.restrict is None else self.restrict.edges(zone, after, before)
        if self.start is not None:
            out += handovers_between(self.start, self.rotation, zone, after, before)
        return out

    def active(self, at: datetime, zone: ZoneInfo) -> bool:
        return (self.start is None or at.astimezone(UTC) >= self.handover(0, zone)) and \
            (self.restrict is None or self.restrict.covers(at.astimezone(zone)))


@dataclass(frozen=True)
class Override:
    start: datetime  # aware
    end: datetime
    user: str
    reason: str = ""


@dataclass(frozen=True)
class Swap:
    start: datetime  # aware
    end: datetime
    from_user: str
    to_user: str
    reason: str = ""


@dataclass(frozen=True)
class Shift:
    """One person a schedule puts on call: from which layer and why."""
    person: str
    layer: str
    source: str  # rotation | override | on demand
    swapped_from: str = ""  # the person the rotation named, when a swap replaced them


@dataclass(frozen=True)
class Span:
    """Who a schedule puts on call from `start` to `end` (one or more people: an on-demand
    layer lists everyone); `start` and `end` are UTC."""
    start: datetime
    end: datetime
    shifts: tuple[Shift, ...]


@dataclass(frozen=True)
class Schedule:
    id: str
    team: str
    timezone: str
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()
    swaps: tuple[Swap, ...] = ()
    name: str = ""

    def shifts(self, at: datetime) -> list[Shift]:
        """Who is on call at `at`: the last override covering it, else the highest layer with
        someone on call (swaps applied), else every user of the highest active on-demand layer."""
        for o in reversed(self.overrides):
            if o.start <= at < o.end:
                return [Shift(o.user, "override", "override")]
        zone = ZoneInfo(self.timezone)
        for layer in reversed(self.layers):
            if layer.on_demand:
                continue
            user = layer.user_at(at, zone)
            if user:
                return [self._swapped(Shift(user, layer.name, "rotation"), at)]
        for layer in reversed(self.layers):
            if layer.on_demand and layer.active(at, zone):
                return _unique_shifts(self._swapped(Shift(u, layer.name, "on demand"), at) for u in layer.users)
        return []

    def spans(self, after: datetime, before: datetime) -> list[Span]:
        """Who is on call over [after, before), as the shifts() of each stretch between the
        moments anything can change (hand-overs, window edges, override and swap edges);
        neighbouring stretches with the same people are one span."""
        after, before = after.astimezone(UTC), before.astimezone(UTC)
        zone = ZoneInfo(self.timezone)
        cuts = {after, before}
        for layer in self.layers:
            cuts.update(layer.changes(zone, after, before))
        for edge in [w for o in self.overrides for w in (o.start, o.end)] + \
                [w for s in self.swaps for w in (s.start, s.end)]:
            if after < edge < before:
                cuts.add(edge.astimezone(UTC))
        moments = sorted(cuts)
        out: list[Span] = []
        for start, end in zip(moments, moments[1:]):
            shifts = tuple(self.shifts(start))
            if out and out[-1].shifts == shifts and out[-1].end == start:
                out[-1] = Span(out[-1].start, end, shifts)
            else:
                out.append(Span(start, end, shifts))
        return [s for s in out if s.shifts]

    def _swapped(self, shift: Shift, at: datetime) -> Shift:
        for s in self.swaps:
            if s.start <= at < s.end and shift.person == s.from_user:
                shift = Shift(s.to_user, shift.layer, shift.source, swapped_from=shift.swapped_from or s.from_user)
        return shift


def _unique_shifts(shifts: Iterable[Shift]) -> list[Shift]:
    seen: set[str] = set()
    out = []
    for s in shifts:
        if s.person not in seen:
            seen.add(s.person)
            out.append(s)
    return out


@dataclass(frozen=True)
class EscalationLevel:
    targets: tuple[str, ...]
    wait_minutes: int = 15  # before the next level (after the last: before the next repeat)


@dataclass(frozen=True)
class EscalationPolicy:
    id: str
    levels: tuple[EscalationLevel, ...]
    repeat: int = 1  # how many times to run through the levels while nobody acknowledges
    services: tuple[str, ...] = ()  # empty: any service
    priorities: tuple[str, ...] = ()  # empty: any priority
    name: str = ""

    @property
    def specificity(self) -> int:
        """A service match outranks a priority match; both outrank either; none is the default."""
        return 2 * bool(self.services) + bool(self.priorities)

    def matches(self, *, service: str, priority: str) -> bool:
        return (not self.services or service in self.services) and \
            (not self.priorities or priority in self.priorities)

    def level_for(self, engine_level: int) -> tuple[int, int, bool]:
        """(policy level, pass, beyond) for the engine's escalation level (L1, L2, ...): the
        levels run `repeat` times in a row (L3 of a two-level policy repeated twice is its
        level 1 again, second pass); past the last pass it stays at the last level."""
        n = len(self.levels)
        step = max(1, engine_level) - 1
        if step < n * max(1, self.repeat):
            return step % n + 1, step // n + 1, False
        return n, max(1, self.repeat), True

    def wait_seconds(self, engine_levels: int) -> list[int]:
        """Each engine level's wait before the next, for levels 1..engine_levels."""
        return [self.levels[self.level_for(k)[0] - 1].wait_minutes * 60 for k in range(1, engine_levels + 1)]


@dataclass(frozen=True)
class Resolution:
    target: str
    people: tuple[Person, ...]  # in page order, de-duplicated; may be empty
    via: str  # e.g. "policy critical L2 → schedule platform-l2 → Bob Li (override)"
    chat: tuple[str, ...] = ()  # team chat URLs reached through team targets


@dataclass(frozen=True)
class OnCallEntry:
    """One line of `warroom oncall now`: a schedule and one person it puts on call (or nobody)."""
    schedule: str
    team: str
    layer: str
    person: Person | None
    source: str  # rotation | override | swap | on demand | nobody
    local_time: str  # the person's wall clock at `at` (ISO), "" for nobody
    levels: tuple[str, ...] = ()  # policy levels that page this schedule, e.g. ("critical L1",)
    swapped_from: str = ""

    def as_dict(self) -> dict[str, Any]:
        p = self.person
        return {"schedule": self.schedule, "team": self.team, "layer": self.layer, "source": self.source,
                "person": None if p is None else {"id": p.id, "name": p.name, "timezone": p.timezone,
                                                  "language": p.language},
                "local_time": self.local_time, "levels": list(self.levels), "swapped_from": self.swapped_from}



@dataclass(frozen=True)
class OnCallShift:
    """One person on call for one schedule from `start` to `end` (UTC): an event of a calendar feed."""
    schedule: str
    team: str
    layer: str
    person: Person
    source: str  # rotation | override | swap | on demand
    start: datetime
    end: datetime
    levels: tuple[str, ...] = ()
    swapped_from: str = ""
