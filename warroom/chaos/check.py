"""The chaos checker: what a round's incidents should show after every kill, counted from three
witnesses that do not share a fate: Temporal's histories, the records, and the receiver that
stands for every person's phone (docs/chaos.md says what each figure means).

Room: shared library (warroom/chaos). Every incident is read once it finished (the round closes
them all), so its timeline and history are final. The figures whose name is in MUST_BE_ZERO fail
the run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from warroom.chaos.drive import ACTION_EVENTS, Incident, RoundLog
from warroom.chaos.receiver import Delivery
from warroom.chaos.stack import Outage

# Once per incident, whatever happened: a second one is an event recorded twice. Resolved and
# acknowledged once more per `reopened` (an alert that fired again after the resolution).
ONCE = ("triggered", "acknowledged", "resolved", "review.submitted", "closed")
AGAIN_AFTER_REOPEN = ("acknowledged", "resolved")
# How much later than due (plus the outages around it) a timer may be handled: a loaded
# 2-core machine's workflow task latency.
LATE_TOLERANCE = 5.0
# What a kill adds beyond its own length: a killed worker's workflow tasks wait for the sticky
# queue's schedule-to-start timeout or the workflow task timeout (10 s each) before another
# worker takes them; a restarted server or database needs its clients to reconnect.
OUTAGE_GRACE = 12.0
EARLY_TOLERANCE = 0.5


@dataclass
class Figures:
    incidents: int = 0  # attempted (alerts sent)
    accepted: int = 0  # answered 202
    in_temporal: int = 0  # accepted and found in Temporal
    in_records: int = 0  # accepted and found in the records
    lost: int = 0  # accepted and missing from Temporal or the records
    not_closed: int = 0  # not finished after the round closed it
    state_mismatch: int = 0  # state reached != what its timeline implies, or records disagree
    actions_answered: int = 0
    actions_lost: int = 0  # answered 2xx, not on the timeline
    pages_expected: int = 0  # (page, person) deliveries the timelines say were sent
    delivered_once: int = 0
    repeated_same_key: int = 0  # extra copies with the same Idempotency-Key
    repeated_other_key: int = 0  # deliveries no page of any timeline accounts for
    repeat_gap: float = 0.0  # seconds, the longest wait from a delivery to its same-key repeat
    missing: int = 0  # expected, never received
    pages_failed: int = 0  # notification.failed on a timeline (the receiver never fails: someone not paged)
    timeline_doubles: int = 0  # events recorded twice (records or timeline)
    records_behind: int = 0  # timeline events missing from the records
    timers: int = 0  # timers started in the histories
    timers_not_fired: int = 0  # due before the run ended, neither fired nor cancelled
    timers_early: int = 0
    timers_late: int = 0  # handled later than due + overlapping outages + grace + tolerance
    max_late: float = 0.0  # seconds, the latest handling beyond due (outages not subtracted)
    not_replayable: int = 0  # runs whose history the current code cannot replay (a stuck incident
    # the next time a worker without it in its cache takes it)
    deadlines_missed: int = 0  # deadline.missed events (an action overtook a due deadline)
    kills: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, other: Figures) -> None:
        for f in fields(self):
            if f.name == "notes":
                self.notes += other.notes
            elif f.name in ("max_late", "repeat_gap"):
                setattr(self, f.name, max(getattr(self, f.name), getattr(other, f.name)))
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


MUST_BE_ZERO = ("lost", "not_closed", "state_mismatch", "actions_lost", "repeated_other_key", "missing", "pages_failed",
                "timeline_doubles", "records_behind", "timers_not_fired", "timers_early", "timers_late",
                "not_replayable")


def failures(f: Figures) -> list[str]:
    return [name for name in MUST_BE_ZERO if getattr(f, name)]


def _ts(e: Any) -> float:
    return e.event_time.ToDatetime(tzinfo=UTC).timestamp()


def _overlap(a: float, b: float, outages: list[Outage], now: float) -> float:
    """Seconds of [a, b] inside an outage (from the kill to OUTAGE_GRACE after it ended)."""
    total = 0.0
    for o in outages:
        lo, hi = max(a, o.start), min(b, (o.end or now) + OUTAGE_GRACE)
        total += max(0.0, hi - lo)
    return total


class Checker:
    def __init__(self, client: Any, engine: Any, outages: list[Outage]) -> None:
        self.client = client
        self.engine = engine
        self.outages = outages  # every outage of the run (a round's timer may overlap an earlier one)
        self.page_keys: set[str] = set()  # every page key of every incident checked
        self._replayer: Any = None  # one for every history checked (replays)

    async def read(self, fn: Any, **kw: Any) -> Any:
        """A records read; again on an error (the harness's own pooled connections die with a
        killed database, like anyone's, and are replaced on the next try)."""
        from sqlalchemy.exc import DBAPIError

        for attempt in range(10):
            try:
                return await asyncio.to_thread(fn, self.engine, **kw)
            except DBAPIError:
                if attempt == 9:
                    raise
                await asyncio.sleep(1)

    async def round(self, log: RoundLog, deliveries: list[Delivery]) -> Figures:
        f = Figures(kills=len(log.kills))
        f.notes += log.closing_errors
        by_page: dict[str, list[Delivery]] = {}
        for d in deliveries:
            by_page.setdefault(d.key.rsplit(":", 2)[0], []).append(d)
        for inc in log.incidents:
            try:
                await self.incident(inc, f, by_page)
            except Exception as err:  # noqa: BLE001 - one broken incident is a finding, not a crash
                f.not_closed += 1
                f.notes.append(f"{inc.workflow_id}: could not be checked: {err!r}")
        other = [d for d in deliveries if log.started <= d.at <= log.ended
                 and d.key.rsplit(":", 2)[0] not in self.page_keys]
        f.repeated_other_key = len(other)
        f.notes += [f"a delivery no page accounts for: {d.key or '(no key)'} to {d.person}" for d in other[:5]]
        return f

    async def incident(self, inc: Incident, f: Figures, by_page: dict[str, list[Delivery]]) -> None:
        from temporalio.client import WorkflowExecutionStatus
        from temporalio.service import RPCError

        from warroom import records
        from workflows.contracts import IncidentState

        f.incidents += 1
        f.accepted += inc.accepted
        handle = self.client.get_workflow_handle(inc.workflow_id)
        try:
            desc = await handle.describe()
        except RPCError:
            desc = None
        if desc is not None and desc.status != WorkflowExecutionStatus.COMPLETED:
            try:
                await asyncio.wait_for(handle.result(), 60)
            except Exception as err:  # noqa: BLE001
                f.not_closed += 1
                f.notes.append(f"{inc.incident_id}: workflow {desc.status.name if desc.status else '?'}: {err!r}")
        # Read once the workflow finished: it finishes only when the records have everything.
        row = await self.read(records.incident, incident_id=inc.incident_id)
        if inc.accepted:
            f.in_temporal += desc is not None
            f.in_records += row is not None
            if desc is None or row is None:
                f.lost += 1
                f.notes.append(f"{inc.incident_id}: accepted, missing from "
                               f"{'Temporal' if desc is None else 'the records'}")
        if desc is None or (await handle.describe()).status != WorkflowExecutionStatus.COMPLETED:
            return
        state: IncidentState = await self.client.get_workflow_handle(
            inc.workflow_id, result_type=IncidentState).result()
        self.states(inc, state, row, f)
        await self.timeline(state, f)
        self.pages(state, f, by_page)
        for history in await self.runs(inc.workflow_id):
            self.timers(history, f)
            await self.replays(inc.workflow_id, history, f)

    async def replays(self, workflow_id: str, events: list[Any], f: Figures) -> None:
        """Replay the run from scratch on the code under test, as a worker without it in its
        cache would: a nondeterminism there is an incident that stops at its next task."""
        from temporalio.client import WorkflowHistory

        if self._replayer is None:
            from temporalio.worker import Replayer

            from workflows.converter import DATA_CONVERTER
            from workflows.incident import IncidentResponse
            from workflows.ticket import Ticket

            self._replayer = Replayer(workflows=[IncidentResponse, Ticket], data_converter=DATA_CONVERTER)
        result = await self._replayer.replay_workflow(WorkflowHistory(workflow_id, events), raise_on_replay_failure=False)
        if result.replay_failure is not None:
            f.not_replayable += 1
            f.notes.append(f"{workflow_id}: its history does not replay: {str(result.replay_failure)[:300]}")

    async def runs(self, workflow_id: str) -> list[list[Any]]:
        """The history of every run of the incident, the latest first: a run that continued as
        new carried its deadlines to the next, and each run's timers are checked in that run."""
        out: list[list[Any]] = []
        run_id = ""
        while True:
            history = [e async for e in self.client.get_workflow_handle(workflow_id, run_id=run_id or None)
                       .fetch_history_events()]
            out.append(history)
            run_id = history[0].workflow_execution_started_event_attributes.continued_execution_run_id \
                if history else ""
            if not run_id:
                return out

    # ------------------------------------------------------------------ state and actions

    def states(self, inc: Incident, s: Any, row: Any, f: Figures) -> None:
        types = [e.type for e in s.timeline]
        implied = ("closed" if "closed" in types else "resolved" if "resolved" in types
                   else "acknowledged" if "acknowledged" in types else "triggered")
        bad = []
        if s.status != "closed":
            bad.append(f"status {s.status}, closed by the round")
        if implied != s.status:
            bad.append(f"status {s.status}, its events imply {implied}")
        if row is None or row.status != s.status:
            bad.append(f"records say {row.status if row else None}, Temporal {s.status}")
        if inc.source_resolved and "alert.resolved" not in types:
            bad.append("a source resolve answered 202 is not on the timeline")
        if bad:
            f.state_mismatch += 1
            f.notes.append(f"{s.incident_id}: " + "; ".join(bad))
        for a in inc.actions:
            event, field_ = ACTION_EVENTS[a.name]
            n = sum(1 for e in s.timeline if e.type == event and e.details.get(field_) == a.marker)
            answered = a.answer is not None and 200 <= a.answer < 300
            f.actions_answered += answered
            if answered and n == 0:
                f.actions_lost += 1
                f.notes.append(f"{s.incident_id}: {a.name} {a.marker} answered {a.answer}, not on the timeline")
            if n > 1:
                f.timeline_doubles += n - 1
                f.notes.append(f"{s.incident_id}: {a.name} {a.marker} on the timeline {n} times")
            if n and a.answer is not None and 400 <= a.answer < 500:
                f.state_mismatch += 1
                f.notes.append(f"{s.incident_id}: {a.name} {a.marker} refused ({a.answer}) but on the timeline")
        f.deadlines_missed += types.count("deadline.missed")

    async def timeline(self, s: Any, f: Figures) -> None:
        from warroom import records

        rows = await self.read(records.timeline, incident_id=s.incident_id)
        seqs = [e.seq for e in s.timeline]
        doubles = sum(n - 1 for n in Counter(seqs).values())
        doubles += sum(n - 1 for n in Counter((r.run_id, r.seq) for r in rows).values())
        once = Counter(e.type for e in s.timeline if e.type in ONCE)
        reopened = sum(1 for e in s.timeline if e.type == "reopened")
        twice = {t: n - 1 - (reopened if t in AGAIN_AFTER_REOPEN else 0) for t, n in once.items()}
        twice = {t: n for t, n in twice.items() if n > 0}
        doubles += sum(twice.values())
        keys = Counter(e.details.get("key") for e in s.timeline if e.type in ("notification.sent",
                                                                              "notification.failed"))
        doubles += sum(n - 1 for n in keys.values())
        if doubles:
            f.notes.append(f"{s.incident_id}: {doubles} event(s) recorded twice "
                           f"({', '.join(twice) or 'seq, records row or page key'})")
        f.timeline_doubles += doubles
        stored = {(r.seq, r.type) for r in rows}
        behind = [e.seq for e in s.timeline if (e.seq, e.type) not in stored]
        if behind:
            f.records_behind += len(behind)
            f.notes.append(f"{s.incident_id}: events {behind[:10]} not in the records")

    # ------------------------------------------------------------------ pages

    def pages(self, s: Any, f: Figures, by_page: dict[str, list[Delivery]]) -> None:
        """Each page's own deliveries (a person the same moment's earlier page reached is that
        page's delivery: activities/notify.py `_shared`), against what the receiver got."""
        sent = [e for e in s.timeline if e.type == "notification.sent"]
        failed = [e for e in s.timeline if e.type == "notification.failed"]
        f.pages_failed += len(failed)
        f.notes += [f"{s.incident_id}: page {e.details.get('key')} to {e.details.get('target')} FAILED: "
                    f"{(e.details.get('error') or '')[:200]}" for e in failed]
        recipients = {e.details["key"]: set(e.details.get("recipients") or []) for e in sent}
        self.page_keys |= {e.details["key"] for e in s.timeline if e.details.get("key")}
        for e in sent:
            key, target = e.details["key"], e.details.get("target")
            if target == "war_room":
                continue  # the war room is the log provider here: nothing reaches the receiver
            via = e.details.get("via") or ""
            covered: set[str] = set()
            if "one page with " in via:
                for other in via.split("one page with ", 1)[1].rstrip(")").split(", "):
                    covered |= recipients.get(other.strip(), set())
            for person in recipients[key] - covered:
                got = [d for d in by_page.get(key, []) if d.person == person]
                f.pages_expected += 1
                if not got:
                    f.missing += 1
                    f.notes.append(f"{s.incident_id}: page {key} to {person} never arrived")
                    continue
                f.delivered_once += len(got) == 1
                f.repeated_same_key += len(got) - 1
                if len(got) > 1:
                    f.repeat_gap = max(f.repeat_gap, max(d.at for d in got) - min(d.at for d in got))

    # ------------------------------------------------------------------ timers

    def timers(self, history: list[Any], f: Figures) -> None:
        from temporalio.api.enums.v1 import EventType as T

        now = datetime.now(UTC).timestamp()
        started: dict[int, float] = {}  # event id -> due
        ended: set[int] = set()
        closed_at = _ts(history[-1]) if history else now
        for i, e in enumerate(history):
            if e.event_type == T.EVENT_TYPE_TIMER_STARTED:
                a = e.timer_started_event_attributes
                started[e.event_id] = _ts(e) + a.start_to_fire_timeout.ToTimedelta().total_seconds()
            elif e.event_type == T.EVENT_TYPE_TIMER_CANCELED:
                ended.add(e.timer_canceled_event_attributes.started_event_id)
            elif e.event_type == T.EVENT_TYPE_TIMER_FIRED:
                sid = e.timer_fired_event_attributes.started_event_id
                ended.add(sid)
                due, fired = started.get(sid, _ts(e)), _ts(e)
                if fired < due - EARLY_TOLERANCE:
                    f.timers_early += 1
                    f.notes.append(f"timer {sid} fired {due - fired:.1f}s early")
                handled = next((_ts(x) for x in history[i + 1:]
                                if x.event_type == T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED), closed_at)
                f.max_late = max(f.max_late, handled - due)
                late = handled - due - _overlap(due, handled, self.outages, now)
                if late > LATE_TOLERANCE:
                    f.timers_late += 1
                    f.notes.append(f"timer {sid} handled {handled - due:.1f}s after due "
                                   f"({late:.1f}s beyond outages)")
        f.timers += len(started)
        for sid, due in started.items():
            if sid not in ended and due < closed_at - LATE_TOLERANCE - _overlap(due, closed_at, self.outages, now):
                f.timers_not_fired += 1
                f.notes.append(f"timer {sid} due {closed_at - due:.1f}s before the run closed, never fired")
