"""Room: workflows (deterministic). Every timer of an incident as one table: when it is due
and what it does when it fires.

When a timer is due is a pure function of the incident's state (`Facts`: state, bookkeeping,
the priority's numbers in force, the escalation timers), so changing the state — an
acknowledgement, a priority change, a posted update — re-plans every timer at once; the
timer loop (core.py) sleeps until the earliest `pending` deadline and fires, in (time, name)
order, every one that is due. What a timer does is a function of the running incident
(core.IncidentCore): escalate, page, record. The table is docs/engine.md's "Timers and
escalation"; tests/workflows/test_deadlines.py asserts the due times.

Every number comes from the run's input (PriorityPolicy: the service levels, docs/
service-levels.md). A timer that repeats (the ack window, the update cadence, the review and
step reminders) is next due one interval after it was *due*, not after it was handled, so a
loaded worker never drifts it late; one that came due during an outage longer than its
interval fires once on recovery and starts again from then (`repeat_from`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import (
        LEVEL_NAMES,
        MAX_LEVEL,
        OPEN_STATUSES,
        Bookkeeping,
        Deadlines,
        IncidentState,
        PriorityPolicy,
        ResponsePolicy,
        RunbookSpec,
    )
    from workflows.patches import ANCHORED_UPDATE_CADENCE, DEADLINES_FROM_DUE

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
    def _facts(self) -> Facts: ...
    def _told_of(self, targets: list[str]) -> None: ...


def secs(n: float) -> timedelta:
    return timedelta(seconds=n)


def span(seconds: float) -> str:
    """A service level as people say it: 15 min, 2 h, 1 h 30 min, 5 s."""
    n = int(seconds)
    if n % 60:
        return f"{n // 60} min {n % 60} s" if n > 60 else f"{n} s"
    h, m = divmod(n // 60, 60)
    return " ".join(part for part in (f"{h} h" if h else "", f"{m} min" if m else "") if part) or "0 min"


def repeat_from(due: datetime, now: datetime, interval: timedelta) -> datetime:
    """When a repeating deadline that was due at `due` and is handled at `now` counts as having
    happened: at `due` (so the next one is due one interval after it, however late this one was
    handled), unless it was handled a whole interval or more late (the worker or the server was
    down): then at `now`, so the deadlines missed in the outage fire once, never in a burst."""
    return due if due <= now < due + interval else now


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
        for i, after in enumerate(f.pp.ladder(f.escalation)):
            rung = min(i + 2, MAX_LEVEL)
            if s.escalation_level < rung:  # the first rung above the current level, up to the top level
                return b.last_progress_at + secs(after) if rung <= f.pp.top_level else None
    return None


def _origin(f: Facts) -> datetime:
    """What the trigger-relative deadlines count from: the trigger, or the end of the
    maintenance window that held the incident (nobody was paged before it; held.py)."""
    assert f.s.created_at is not None
    return f.b.released_at or f.s.created_at


def _resolve_due(f: Facts) -> datetime | None:
    s = f.s
    if _open(f) and s.created_at and f.b.resolve_target_fired_for != s.priority:
        return _origin(f) + secs(f.pp.resolve_seconds)
    return None


def _management_due(f: Facts) -> datetime | None:
    s = f.s
    if (_open(f) and f.pp.briefings is None and s.priority == "P0" and not f.b.management_notified
            and s.created_at):
        return _origin(f) + secs(f.escalation.management_notify_seconds)
    return None


def _briefings_due(f: Facts) -> Mapping[str, datetime]:
    s = f.s
    if not _open(f) or f.pp.briefings is None or not s.created_at:
        return {}
    return {target: _origin(f) + secs(after) for target, after in f.pp.briefings.items()
            if target not in f.b.briefed}


def _nudge_due(f: Facts) -> datetime | None:
    b, pp = f.b, f.pp
    if f.s.status == "triggered" and b.ack_window_start and pp.nudge_percent and b.nudged_window != b.ack_window_start:
        return b.ack_window_start + secs(pp.ack_seconds * pp.nudge_percent / 100)
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
    return repeat_from((last or now) + interval, now, interval) if anchored else now


def auto_level(wf: IncidentCore, level: int) -> int:
    """An automatic escalation's level: `level`, but no higher than the priority's top level
    (or the level the incident is at, when a person took it higher): there it pages again."""
    return min(level, max(wf._pp().top_level, wf.s.escalation_level))


def _from_due(wf: IncidentCore, d: Due, now: datetime, interval: timedelta) -> datetime:
    """repeat_from for the run's patches: before deadlines-from-due, a repeat counted from `now`."""
    return repeat_from(d.at, now, interval) if DEADLINES_FROM_DUE in wf.patches else now


def _escalate_unacknowledged(wf: IncidentCore, d: Due, now: datetime) -> None:
    pp = wf._pp()
    wf._escalate_to(auto_level(wf, wf.s.escalation_level + 1), "ack_timeout", "system",
                    note=f"not acknowledged within {span(pp.ack_seconds)}")
    # the new level gets a full window; nobody acking climbs on
    wf.b.ack_window_start = _from_due(wf, d, now, secs(pp.ack_seconds))


def _nudge(wf: IncidentCore, d: Due, now: datetime) -> None:
    s, b, pp = wf.s, wf.b, wf._pp()
    b.nudged_window = b.ack_window_start
    due = (b.ack_window_start or now) + secs(pp.ack_seconds)
    if now >= due:
        return  # handled after an outage: the ack deadline is past too, and escalates now
    target = f"oncall:L{s.escalation_level}"
    nxt = auto_level(wf, s.escalation_level + 1)
    then = f"escalates to {LEVEL_NAMES[nxt]}" if nxt > s.escalation_level else "pages your level again"
    wf._event("ack.nudge", to=target, ack_due=due)
    wf._page("REMINDER", target, wf._subject("acknowledge now"),
             f"Nobody has acknowledged this {s.priority} incident yet: it {then} in "
             f"{span((due - now).total_seconds())} (acknowledge SLA {span(pp.ack_seconds)}).")


def _escalate_without_progress(wf: IncidentCore, _: Due, now: datetime) -> None:
    b = wf.b
    silent = int((now - b.last_progress_at).total_seconds()) if b.last_progress_at else 0
    target = no_progress_level(wf.s.escalation_level, silent, wf._pp().ladder(wf.policy.escalation))
    wf._escalate_to(auto_level(wf, target), "no_progress", "system", note=f"no progress for {span(silent // 60 * 60)}")


def _escalate_unresolved(wf: IncidentCore, _: Due, now: datetime) -> None:
    s, pp = wf.s, wf._pp()
    wf.b.resolve_target_fired_for = s.priority  # once per priority
    wf._escalate_to(auto_level(wf, s.escalation_level + 1), "resolve_target", "system",
                    note=f"not resolved within {span(pp.resolve_seconds)}")
    for target in pp.resolve_notify:
        wf._page("FOLLOW_UP", target, wf._subject("resolve target missed"),
                 f"{s.priority} incident open for {span(pp.resolve_seconds)} without resolution.")


def _brief_management(wf: IncidentCore, _: Due, now: datetime) -> None:
    wf.b.management_notified = True
    wf._page("FOLLOW_UP", "management", wf._subject("management briefing"), wf._brief())
    wf._told_of(["management"])


def _send_briefing(wf: IncidentCore, d: Due, now: datetime) -> None:
    wf.b.briefed.append(d.key)
    wf._page("FOLLOW_UP", d.key, wf._subject(f"{d.key.replace('_', ' ')} briefing"), wf._brief())
    wf._told_of([d.key])


def _send_status_update(wf: IncidentCore, _: Due, now: datetime) -> None:
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
    pp = wf._pp()
    if wf.STAKEHOLDER_UPDATES and pp.silence_intervals and s.status == "acknowledged":
        # Silence escalates, whatever else the incident is doing (completed steps, actions).
        b.silent_intervals = 0 if fresh else b.silent_intervals + 1
        if b.silent_intervals >= pp.silence_intervals:
            b.silent_intervals = 0
            wf._escalate_to(auto_level(wf, s.escalation_level + 1), "silence", "system",
                            note=f"no engineer update for {pp.silence_intervals} stakeholder updates in a row "
                                 f"({span(pp.silence_intervals * pp.update_seconds)})")
    b.last_update_tick = next_update_tick(b.last_update_tick, now, secs(pp.update_seconds),
                                          anchored=ANCHORED_UPDATE_CADENCE in wf.patches)
    b.updated_since_tick = False


def _remind_review(wf: IncidentCore, d: Due, now: datetime) -> None:
    s = wf.s
    every = secs(wf.policy.escalation.review_reminder_seconds)
    wf.b.next_review_reminder = _from_due(wf, d, now, every) + every
    owner = s.review_owner or "oncall:L1"
    wf._event("review.reminder", to=owner, due=wf._deadlines().review_due)
    wf._page("REMINDER", wf._person(owner), wf._subject("post-incident review pending"),
             "The post-incident review has not been submitted yet.", template="review_request")


def _escalate_overdue_review(wf: IncidentCore, _: Due, now: datetime) -> None:
    s = wf.s
    wf.b.review_overdue_fired = True
    wf._event("review.overdue", owner=s.review_owner, escalated_to="technical_manager")
    wf._page("ESCALATION", "technical_manager", wf._subject("post-incident review overdue"),
             f"Review owner {s.review_owner} has not submitted the review in time.")


def _remind_step(wf: IncidentCore, d: Due, now: datetime) -> None:
    step = d.key
    every = secs(wf.policy.escalation.manual_step_reminder_seconds)
    wf.b.step_reminders[step] = _from_due(wf, d, now, every) + every
    who = wf.s.commander or "oncall:L1"
    wf._event("step.reminder", step=step, to=who)
    wf._page("REMINDER", wf._person(who), wf._subject(f"step '{step}' is waiting"),
             f"Runbook step '{step}' is waiting for an engineer to complete it.")


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Timer:
    name: str
    # A time, None (not due in this state), or one time per key (a step id, a briefing's
    # target: name "<name>:<key>").
    due: Callable[[Facts], datetime | Mapping[str, datetime] | None]
    # (the incident, the deadline that is due, now): what happens when it is due.
    fire: Callable[[IncidentCore, Due, datetime], None]


TIMERS: tuple[Timer, ...] = (
    # the acknowledge SLA: unacknowledged -> one level up, the window starts again
    Timer("ack", _ack_due, _escalate_unacknowledged),
    # acknowledged and silent: L2 / L3 / external after the no-progress numbers
    Timer("progress", _progress_due, _escalate_without_progress),
    # open past the resolve target: one level up and management told, once per priority
    Timer("resolve", _resolve_due, _escalate_unresolved),
    # P0 open 30 min: management briefed (runs from before the service-levels file)
    Timer("management", _management_due, _brief_management),
    # the priority's briefings: each target briefed once, so long after the trigger
    Timer("brief", _briefings_due, _send_briefing),
    # unacknowledged at the priority's share of the ack SLA: the level being waited on nudged
    Timer("nudge", _nudge_due, _nudge),
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
    key: str = ""  # the step id of a step reminder, the target of a briefing

    def fire(self, wf: IncidentCore, now: datetime) -> None:
        self.timer.fire(wf, self, now)


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


# --------------------------------------------------------------------------- overtaken by an action

# The deadlines that escalate or page up when they pass: an action that makes one moot after it
# fell due (both handled in one activation) leaves it on the timeline as `deadline.missed`.
MISSABLE = frozenset({"ack", "progress", "resolve", "review_overdue"})


@contextmanager
def overtaken(wf: IncidentCore, action: str, by: str) -> Iterator[None]:
    """Around a handler that changes the state (patch deadlines-from-due): an escalating
    deadline that was already due when the action was handled, and is no longer due after it,
    was overtaken by the action in one activation (the worker or the server was down or busy
    when it fell due). It is recorded as `deadline.missed`, and not paged: the action made it
    moot, as an acknowledgement stops PagerDuty's and Grafana OnCall's escalations
    (docs/engine.md, "A deadline and an action in one activation")."""
    if DEADLINES_FROM_DUE not in wf.patches or wf._held():  # held: no deadline runs (held.py)
        yield
        return
    now = workflow.now()
    passed = [d for d in pending(wf._facts()) if d.at <= now and d.timer.name in MISSABLE]
    yield
    if passed:
        still = {d.name for d in pending(wf._facts()) if d.at <= now}
        for d in passed:
            if d.name not in still:
                wf._event("deadline.missed", deadline=d.name, due=d.at, overtaken_by=action, by=by,
                          late_seconds=int((now - d.at).total_seconds()))
