"""Room: workflows (deterministic). Every timer of an incident as one table: when it is due
and what it does when it fires.

When a timer is due is a pure function of the incident's state (`Facts`: state, bookkeeping,
the priority's numbers in force, the escalation timers), so changing the state — an
acknowledgement, a priority change, a posted update — re-plans every timer at once; the
timer loop (core.py) sleeps until the earliest `pending` deadline and fires, in (time, name)
order, every one that is due. What a timer does is a function of the running incident
(core.IncidentCore): escalate, page, record. The table is docs/engine.md's "Timers and
escalation"; tests/workflows/test_deadlines.py asserts the due times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import (
        MAX_LEVEL,
        OPEN_STATUSES,
        Bookkeeping,
        Deadlines,
        IncidentState,
        PriorityPolicy,
        ResponsePolicy,
        RunbookSpec,
    )
    from workflows.patches import ANCHORED_UPDATE_CADENCE

if TYPE_CHECKING:
    from workflows.contracts import EscalationTimers


class IncidentCore(Protocol):
    """What a firing timer may use of the running incident (workflows/core.py IncidentCore);
    a Protocol, so this table needs nothing from core and core imports the table."""

    STAKEHOLDER_UPDATES: bool
    s: IncidentState
    b: Bookkeeping
    policy: ResponsePolicy
    patches: Any

    def _event(self, type: str, actor: str = "system", **details: Any) -> Any: ...
    def _pp(self) -> PriorityPolicy: ...
    def _page(self, kind: str, target: str, subject: str, body: str, template: str = "") -> str: ...
    def _post_to_war_room(self, subject: str, body: str) -> None: ...
    def _subject(self, what: str) -> str: ...
    def _deadlines(self) -> Deadlines: ...
    def _person(self, who: str) -> str: ...
    def _stakeholders(self) -> list[str]: ...
    def _brief(self) -> str: ...
    def _escalate_to(self, level: int, reason: str, actor: str, note: str = "") -> None: ...


def secs(n: float) -> timedelta:
    return timedelta(seconds=n)


@dataclass(frozen=True)
class Facts:
    """What the deadlines are computed from."""

    s: IncidentState
    b: Bookkeeping
    pp: PriorityPolicy  # the current priority's numbers in force (`numbers`)
    escalation: EscalationTimers
    ladder: bool = True  # the no-progress ladder applies (not to tickets, patch ticket-without-progress-ladder)


def numbers(policy: ResponsePolicy, priority: str, level: int, *, level_waits: list[int] | None = None,
            runbook: RunbookSpec | None = None) -> PriorityPolicy:
    """The priority's numbers, tightened by the on-call escalation policy's wait at `level`
    (level_waits, patch oncall-level-waits) and by the runbook (patch runbook-v1); either
    only ever tightens, never loosens."""
    pp = policy.of(priority)
    if level_waits:
        pp = dataclasses.replace(pp, ack_seconds=min(
            pp.ack_seconds, level_waits[min(level, len(level_waits)) - 1] or pp.ack_seconds))
    if runbook is None or (runbook.update_minutes is None and runbook.ack_minutes is None):
        return pp
    return dataclasses.replace(
        pp, update_seconds=min(pp.update_seconds, (runbook.update_minutes or 10**6) * 60),
        ack_seconds=min(pp.ack_seconds, (runbook.ack_minutes or 10**6) * 60))


def _open(f: Facts) -> bool:
    return f.s.status in OPEN_STATUSES


# --------------------------------------------------------------------------- when each is due


def _ack_due(f: Facts) -> datetime | None:
    if f.s.status == "triggered" and f.b.ack_window_start:
        return f.b.ack_window_start + secs(f.pp.ack_seconds)
    return None


def _progress_due(f: Facts) -> datetime | None:
    s, b = f.s, f.b
    if s.status == "acknowledged" and not b.resolve_requested_by and b.last_progress_at and f.ladder:
        for i, after in enumerate(f.escalation.no_progress_seconds):
            if s.escalation_level < min(i + 2, MAX_LEVEL):  # the first rung above the current level
                return b.last_progress_at + secs(after)
    return None


def _resolve_due(f: Facts) -> datetime | None:
    s = f.s
    if _open(f) and s.created_at and f.b.resolve_target_fired_for != s.priority:
        return s.created_at + secs(f.pp.resolve_seconds)
    return None


def _management_due(f: Facts) -> datetime | None:
    s = f.s
    if _open(f) and s.priority == "P0" and not f.b.management_notified and s.created_at:
        return s.created_at + secs(f.escalation.management_notify_seconds)
    return None


def _update_due(f: Facts) -> datetime | None:
    if _open(f) and f.b.last_update_tick:
        return f.b.last_update_tick + secs(f.pp.update_seconds)
    return None


def _review_reminder_due(f: Facts) -> datetime | None:
    if f.s.phase == "review" and f.s.review is None and f.b.next_review_reminder:
        return f.b.next_review_reminder
    return None


def _review_overdue_due(f: Facts) -> datetime | None:
    s, b = f.s, f.b
    if (s.phase == "review" and s.review is None and not b.review_overdue_fired and s.resolved_at
            and f.pp.review_seconds):
        return s.resolved_at + secs(f.pp.review_seconds)
    return None


def _step_reminders_due(f: Facts) -> Mapping[str, datetime]:
    return dict(f.b.step_reminders) if _open(f) else {}


# --------------------------------------------------------------------------- what each does


def no_progress_level(level: int, silent_seconds: int, ladder: list[int]) -> int:
    """The level a no-progress escalation lifts to: one up, or the highest rung the silence
    has reached (L2 after the first number, L3 after the second, ...)."""
    target = level + 1
    for i, after in enumerate(ladder):
        if silent_seconds >= after:
            target = max(target, min(i + 2, MAX_LEVEL))
    return target


def next_update_tick(last: datetime | None, now: datetime, interval: timedelta, *, anchored: bool) -> datetime:
    """When the status update that fires at `now` counts as sent. Anchored (patch
    anchored-update-cadence): one interval after the previous one was due, so late timers,
    retried workflow tasks and continue-as-new never push the cadence back; after an outage
    longer than an interval the cadence restarts from now rather than sending a burst."""
    due = (last or now) + interval
    return due if anchored and due <= now < due + interval else now


def _escalate_unacknowledged(wf: IncidentCore, _: str, now: datetime) -> None:
    pp = wf._pp()
    wf._escalate_to(wf.s.escalation_level + 1, "ack_timeout", "system",
                    note=f"not acknowledged within {pp.ack_seconds // 60} min")
    wf.b.ack_window_start = now  # the new level gets a full window; nobody acking climbs on


def _escalate_without_progress(wf: IncidentCore, _: str, now: datetime) -> None:
    b = wf.b
    silent = int((now - b.last_progress_at).total_seconds()) if b.last_progress_at else 0
    target = no_progress_level(wf.s.escalation_level, silent, wf.policy.escalation.no_progress_seconds)
    wf._escalate_to(target, "no_progress", "system", note=f"no progress for {silent // 60} min")


def _escalate_unresolved(wf: IncidentCore, _: str, now: datetime) -> None:
    s, pp = wf.s, wf._pp()
    wf.b.resolve_target_fired_for = s.priority  # once per priority
    wf._escalate_to(s.escalation_level + 1, "resolve_target", "system",
                    note=f"not resolved within {pp.resolve_seconds // 60} min")
    wf._page("FOLLOW_UP", "management", wf._subject("resolve target missed"),
             f"{s.priority} incident open for {pp.resolve_seconds // 60} min without resolution.")


def _brief_management(wf: IncidentCore, _: str, now: datetime) -> None:
    wf.b.management_notified = True
    wf._page("FOLLOW_UP", "management", wf._subject("management briefing"), wf._brief())


def _send_status_update(wf: IncidentCore, _: str, now: datetime) -> None:
    s, b = wf.s, wf.b
    fresh = b.updated_since_tick
    if wf.STAKEHOLDER_UPDATES:
        if s.latest_update and fresh:
            msg = f"{s.latest_update.message} ({s.latest_update.by})"
        elif s.latest_update:
            msg = f"No new update since: {s.latest_update.message} ({s.latest_update.by})"
        else:
            msg = "Responders are investigating; no engineer update yet."
        targets = wf._stakeholders()
        for t in targets:
            wf._page("UPDATE", t, wf._subject("status update"), msg)
        wf._post_to_war_room(wf._subject("status update"), msg)
        wf._event("stakeholder_update.sent", message=msg, fresh=fresh, targets=targets)
    if not fresh:
        who = s.commander or "oncall:L1"
        since = s.latest_update.at if s.latest_update else s.created_at
        wf._event("update.reminder", to=who, silent_since=since)
        wf._page("REMINDER", wf._person(who), wf._subject("status update due"),
                 "Post a status update: stakeholders are waiting for news.")
    b.last_update_tick = next_update_tick(b.last_update_tick, now, secs(wf._pp().update_seconds),
                                          anchored=ANCHORED_UPDATE_CADENCE in wf.patches)
    b.updated_since_tick = False


def _remind_review(wf: IncidentCore, _: str, now: datetime) -> None:
    s = wf.s
    wf.b.next_review_reminder = now + secs(wf.policy.escalation.review_reminder_seconds)
    owner = s.review_owner or "oncall:L1"
    wf._event("review.reminder", to=owner, due=wf._deadlines().review_due)
    wf._page("REMINDER", wf._person(owner), wf._subject("post-incident review pending"),
             "The post-incident review has not been submitted yet.", template="review_request")


def _escalate_overdue_review(wf: IncidentCore, _: str, now: datetime) -> None:
    s = wf.s
    wf.b.review_overdue_fired = True
    wf._event("review.overdue", owner=s.review_owner, escalated_to="technical_manager")
    wf._page("ESCALATION", "technical_manager", wf._subject("post-incident review overdue"),
             f"Review owner {s.review_owner} has not submitted the review in time.")


def _remind_step(wf: IncidentCore, step: str, now: datetime) -> None:
    wf.b.step_reminders[step] = now + secs(wf.policy.escalation.manual_step_reminder_seconds)
    who = wf.s.commander or "oncall:L1"
    wf._event("step.reminder", step=step, to=who)
    wf._page("REMINDER", wf._person(who), wf._subject(f"step '{step}' is waiting"),
             f"Runbook step '{step}' is waiting for an engineer to complete it.")


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Timer:
    name: str
    # A time, None (not due in this state), or one time per step id (name "<name>:<step>").
    due: Callable[[Facts], datetime | Mapping[str, datetime] | None]
    # (the incident, the step id or "", now): what happens when it is due.
    fire: Callable[[IncidentCore, str, datetime], None]


TIMERS: tuple[Timer, ...] = (
    # the acknowledge SLA: unacknowledged -> one level up, the window starts again
    Timer("ack", _ack_due, _escalate_unacknowledged),
    # acknowledged and silent: L2 / L3 / external after the no-progress numbers
    Timer("progress", _progress_due, _escalate_without_progress),
    # open past the resolve target: one level up and management told, once per priority
    Timer("resolve", _resolve_due, _escalate_unresolved),
    # P0 open 30 min: management briefed
    Timer("management", _management_due, _brief_management),
    # status update cadence while open: stakeholders updated, the commander reminded when silent
    Timer("update", _update_due, _send_status_update),
    # review open: its owner reminded every few hours
    Timer("review_reminder", _review_reminder_due, _remind_review),
    # review past due: the technical manager paged
    Timer("review_overdue", _review_overdue_due, _escalate_overdue_review),
    # a manual step waiting: the commander reminded
    Timer("step", _step_reminders_due, _remind_step),
)


@dataclass(frozen=True)
class Due:
    name: str  # "ack", "update", "step:<step id>", ...; ties at the same instant fire in name order
    at: datetime
    timer: Timer
    key: str = ""  # the step id of a step reminder

    def fire(self, wf: IncidentCore, now: datetime) -> None:
        self.timer.fire(wf, self.key, now)


def pending(f: Facts) -> list[Due]:
    """Every deadline the incident has in this state, in (time, name) order: the order they fire."""
    out: list[Due] = []
    for t in TIMERS:
        due: Any = t.due(f)
        if isinstance(due, Mapping):
            out += [Due(f"{t.name}:{key}", at, t, key) for key, at in due.items()]
        elif due is not None:
            out.append(Due(t.name, due, t))
    return sorted(out, key=lambda d: (d.at, d.name))


def due_times(f: Facts) -> dict[str, datetime]:
    """{timer name: when it is due} for this state."""
    return {d.name: d.at for d in pending(f)}


def view(f: Facts) -> Deadlines:
    """The deadlines shown on the incident's state (and stored in its record)."""
    d = due_times(f)
    s, pp = f.s, f.pp
    review_due = s.resolved_at + secs(pp.review_seconds) if (
        s.resolved_at and pp.review_seconds and s.review is None) else None
    return Deadlines(ack_due=d.get("ack"), next_update_due=d.get("update"),
                     resolve_due=d.get("resolve"), review_due=review_due)
