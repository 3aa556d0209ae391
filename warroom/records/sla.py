"""The SLA rules of the records: when each service level was met, judged against the priority
in force at that moment.

Room: records (warroom/records), pure: no database. Used by reports.py for one incident's
report and for the figures over many.

Each SLA is judged against the priority in force at the moment it is judged
(the `triggered` event's priority, then each `priority.changed`), with the numbers the
incident ran with: the engine writes its service levels on those events (`sla`); records from
before that, and events without them, take the numbers of `policy` (default_policy() unless a
ResponsePolicy is passed).

- time to acknowledge (TTA) = acknowledged_at - created_at; MTTA is over acknowledged
  incidents only.
- time to resolve (TTR) = resolved_at - created_at (the last resolution, for a reopened
  incident); MTTR is over resolved incidents only.
- response-SLA attainment: the ack is due the ack SLA of the priority in force when it was
  made after the start of its window: created_at, or the last priority change before the
  acknowledgement (a change gives an unacknowledged incident a fresh window, as the engine does).
  Met: acknowledged by then, and not recorded as having overtaken its deadline (a
  `deadline.missed` of the ack: the acknowledgement and the overdue deadline were handled
  together after an outage, docs/engine.md). Counted over the incidents whose outcome is
  decided: every acknowledged incident, plus each unacknowledged one that stayed open past its
  ack deadline (missed). An unacknowledged incident resolved before it, or still inside it, is
  left out.
- resolve-target attainment: resolved incidents with TTR <= the resolve target of the priority
  in force at the resolution, over every resolved incident plus each unresolved one already
  open past the target of its current priority (missed).
- update-cadence attainment: stakeholder updates are due from created_at while the incident is
  open, each one interval (of the priority in force) after the one before: d_0 = created_at,
  d_k = d_(k-1) + interval; a priority change between two dues moves the next one to the last
  due + the new interval, or to the change itself when that is already past (as the engine
  does). Slots are the d_k (k >= 1) before resolved_at (or before the as-of time while open).
  Slot k is on time when an engineer posted a status update (`status_update.posted`) in
  (d_(k-1), d_k], i.e. the scheduled stakeholder update carried fresh news. Attainment =
  on-time slots over due slots, summed over the incidents (slot-weighted).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from warroom.timeparse import utc
from workflows.contracts import ResponsePolicy


def _secs(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds()


@dataclass
class Event:
    seq: int
    at: datetime
    type: str
    actor: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SlaResult:
    ack_sla_seconds: int  # of the priority in force at the acknowledgement (or now, unacknowledged)
    ack_seconds: float | None  # None: not acknowledged
    ack_on_time: bool | None  # None: not decided yet (unacknowledged, inside the SLA)
    update_interval_seconds: int
    updates_due: int
    updates_on_time: int
    stakeholder_updates_sent: int
    resolve_target_seconds: int  # of the priority in force at the resolution (or now)
    resolve_seconds: float | None
    resolve_met: bool | None
    ack_due: datetime | None = None  # the acknowledgement's deadline in force
    ack_priority: str = ""  # the priority the acknowledgement was judged as
    resolve_priority: str = ""  # the priority the resolution was judged as


# ------------------------------------------------------------------ the rules


def events_of(raw: Iterable[Mapping[str, Any] | Any]) -> list[Event]:
    out = []
    for i, e in enumerate(raw):
        get = e.get if isinstance(e, Mapping) else (lambda k, d=None, _e=e: getattr(_e, k, d))
        at = utc(get("at"))
        assert at is not None
        out.append(Event(seq=int(get("seq") or i + 1), at=at, type=str(get("type")),
                         actor=str(get("actor") or "system"), details=dict(get("details") or {})))
    out.sort(key=lambda e: e.at)  # stable: same-moment events keep their recorded order
    return out


@dataclass(frozen=True)
class _Levels:
    """From `at` on, the incident was `priority`, with these service levels (seconds)."""

    at: datetime
    priority: str
    ack: int
    update: int
    resolve: int


class _PriorityHistory:
    """The priority in force at any moment, and its numbers (module docstring)."""

    def __init__(self, priority: str, created: datetime | None, events: list[Event], policy: ResponsePolicy) -> None:
        def levels(at: datetime, prio: str, recorded: Any) -> _Levels:
            pp = policy.priorities.get(prio) or policy.priorities.get(priority) or policy.priorities["P3"]
            sla = recorded if isinstance(recorded, Mapping) else {}
            return _Levels(at, prio, int(sla.get("ack", pp.ack_seconds)), int(sla.get("update", pp.update_seconds)),
                           int(sla.get("resolve", pp.resolve_seconds)))

        self.periods: list[_Levels] = []
        for e in events:
            if e.type == "triggered" and not self.periods:
                self.periods.append(levels(e.at, str(e.details.get("priority") or priority), e.details.get("sla")))
            elif e.type == "priority.changed" and e.details.get("to"):
                self.periods.append(levels(e.at, str(e.details["to"]), e.details.get("sla")))
        if not self.periods or (created is not None and self.periods[0].at > created):
            first = self.periods[0].priority if self.periods else priority
            self.periods.insert(0, levels(created or datetime.min.replace(tzinfo=UTC), first, None))

    def at(self, moment: datetime) -> _Levels:
        return [p for p in self.periods if p.at <= moment][-1] if moment >= self.periods[0].at else self.periods[0]

    def changes(self) -> list[_Levels]:
        return self.periods[1:]


def _update_slots(created: datetime, until: datetime, levels: _PriorityHistory, events: list[Event]
                  ) -> tuple[int, int]:
    """(due, on time) per the module docstring."""
    if until <= created:
        return 0, 0
    posts = [e.at for e in events if e.type == "status_update.posted"]
    due = on_time = 0
    prev = created
    while True:
        interval = levels.at(prev).update
        if interval <= 0:
            break
        d_k = prev + timedelta(seconds=interval)
        for change in levels.changes():  # a change before the next due re-plans it
            if prev < change.at < d_k:
                d_k = max(prev + timedelta(seconds=change.update), change.at)
        if d_k >= until:
            break
        due += 1
        if any(prev < p <= d_k for p in posts):
            on_time += 1
        prev = d_k
    return due, on_time


def judge(priority: str, created: datetime | None, acked: datetime | None, resolved: datetime | None,
         events: list[Event], policy: ResponsePolicy, now: datetime) -> SlaResult:
    levels = _PriorityHistory(priority, created, events, policy)
    tta, ttr = _secs(created, acked), _secs(created, resolved)
    ack_moment = acked or resolved or now
    at_ack = levels.at(ack_moment)
    window = max([created, *(c.at for c in levels.changes() if c.at <= ack_moment)], default=None) \
        if created is not None else None
    ack_due = window + timedelta(seconds=at_ack.ack) if window is not None else None
    overtaken = any(e.type == "deadline.missed" and e.details.get("deadline") == "ack" for e in events)
    ack_ok: bool | None
    if acked is not None and ack_due is not None:
        ack_ok = acked <= ack_due and not overtaken
    else:
        ack_ok = False if overtaken or (ack_due is not None and (resolved or now) > ack_due) else None
    at_resolve = levels.at(resolved or now)
    res_ok: bool | None
    if ttr is not None:
        res_ok = ttr <= at_resolve.resolve
    else:
        age = _secs(created, now)
        res_ok = False if age is not None and age > at_resolve.resolve else None
    due = on_time = 0
    if created is not None:
        due, on_time = _update_slots(created, resolved or now, levels, events)
    final = levels.at(resolved or now)
    return SlaResult(
        ack_sla_seconds=at_ack.ack, ack_seconds=tta, ack_on_time=ack_ok,
        update_interval_seconds=final.update, updates_due=due, updates_on_time=on_time,
        stakeholder_updates_sent=sum(1 for e in events if e.type == "stakeholder_update.sent"),
        resolve_target_seconds=at_resolve.resolve, resolve_seconds=ttr, resolve_met=res_ok,
        ack_due=ack_due, ack_priority=at_ack.priority, resolve_priority=at_resolve.priority,
    )
