"""Room: workflows (deterministic). What IncidentResponse and Ticket share: state, timeline,
paging, the background loops and the sources' handlers (the engineers' are in actions.py).

Only the standard library, temporalio and the workflows modules. The data path of a run:
  - state (contracts.IncidentState + Bookkeeping) changes only in the handlers and phases;
  - deadlines.py computes every timer from that state (one table of when and what), and
    _timer_loop sleeps until the earliest, fires what is due, and plans again on any change;
  - pages and records leave through calls.py (activity names, timeouts, retries, keys):
    _pager sends queued notifications (idempotent on their key, so a retry is never a second
    page), _flusher writes new timeline events, retrying without limit, so a database outage
    delays the record but never blocks the response;
  - every wait goes through waits.py (wake order), every behaviour change through patches.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import calls
    from workflows.contracts import (
        FULL_RESPONSE_PRIORITIES, LEVEL_NAMES, MAX_LEVEL, OPEN_STATUSES, PRIORITIES, AlertInfo, AlertReceived,
        AlertResolved, AlertsReceived, Bookkeeping, Deadlines, IncidentInput, IncidentState, Notification,
        PriorityPolicy, Resume, RunbookSpec, TimelineEvent,
    )
    from workflows.contracts_activities import NotificationBatch, NotificationResult, RecordEvents
    from workflows.held import MaintenanceHolds
    from workflows import upgrades
    from workflows.deadlines import Facts, auto_level, numbers, overtaken, pending, view
    from workflows.patches import (
        BATCHED_PAGES,
        ONCALL_LEVEL_WAITS,
        ORDERED_WAKEUPS,
        PAGE_DETAILS,
        QUIET_RUN_END,
        RUNBOOK_V1,
        SETTLED_RECORDS,
        TICKET_WITHOUT_PROGRESS_LADDER,
        UPGRADE_TRIGGERS,
        WAR_ROOM_POSTS,
        InForce,
    )
    from workflows.triggers import UpgradeTriggers
    from workflows.waits import WAKE_PAGER, WAKE_RECORDS, WAKE_TIMERS, Waits

# The pages that bring a person to the incident carry the alert's description and links (patch
# page-details), cut to these sizes.
DETAILED_KINDS = frozenset({"INITIAL", "ESCALATION"})
PAGE_DESCRIPTION_CHARS = 1000
PAGE_LINKS = 6

# Events that change no deadline: recording them must not re-plan the timers.
_NO_REPLAN = frozenset({"alert.received", "notification.sent", "notification.failed", "delivery.failed",
                        "records.failed"})


def refuse(reason: str) -> ApplicationError:
    """A validator's refusal: the caller sees the reason, the workflow is untouched."""
    return ApplicationError(reason, type="ActionRefused", non_retryable=True)


class IncidentCore(MaintenanceHolds, UpgradeTriggers):
    KIND = ""
    STAKEHOLDER_UPDATES = True
    # The no-progress ladder (L2 after 30 min, L3 after 1 h, ...) is part of the P0/P1
    # response (SPEC 3); a ticket has response and resolve timers and update reminders.
    PROGRESS_LADDER = True

    # ------------------------------------------------------------------ setup

    def _setup(self, inp: IncidentInput) -> None:
        info = workflow.info()
        self.inp = inp
        self.policy = inp.policy
        self.run_id = info.first_execution_run_id
        self.runbook: RunbookSpec | None = inp.runbook
        self._resumed_from = inp.resume.state.workflow if inp.resume is not None else None
        if inp.resume is not None:
            self.s: IncidentState = inp.resume.state
            self.b: Bookkeeping = inp.resume.book
            self.runbook = inp.resume.runbook or inp.runbook
        else:
            now = workflow.now()
            a = inp.alert
            self.s = IncidentState(
                incident_id=inp.incident_id or info.workflow_id,
                workflow=self.KIND,
                title=a.title,
                service=a.service,
                priority=inp.priority,
                created_at=now,
            )
            self.b = Bookkeeping(
                ack_window_start=now, last_update_tick=now, last_progress_at=now,
                max_affected_users=a.affected_users or 0,
            )
        self.s.workflow = self.KIND
        self._plan = 0  # bumped whenever a deadline may have moved
        self._handover_to: str | None = None
        self._seen: set[str] | None = None  # b.fingerprints as a set, built on the first batch
        self._busy = 0  # background activities in flight besides pages and records (war room)
        self._finishing = False  # the run is draining to end (continue-as-new or close)
        # Behaviour changes for running incidents (STYLE.md 7), asked here, once, in table order.
        self.patches = InForce(self.KIND)
        self._ladder = self.PROGRESS_LADDER or TICKET_WITHOUT_PROGRESS_LADDER not in self.patches
        self.waits = Waits(ordered=ORDERED_WAKEUPS in self.patches, on_alarm=self._replan)
        if inp.resume is None:
            # Recorded here, not in run(): the starting alert's signal is handled before run().
            a = inp.alert
            self._event("triggered", actor=a.source or "system", title=a.title, priority=self.s.priority,
                        priority_reason=inp.priority_reason or None, service=a.service or None,
                        dedup_key=a.dedup_key or None, description=a.description or None,
                        sla=self.policy.sla(self.s.priority), **self._trigger_details(a))
            self._hold_at_start()
            if UPGRADE_TRIGGERS in self.patches:
                self._starting_impact(a)

    def _replan(self) -> None:
        self._plan += 1

    # ------------------------------------------------------------------ timeline

    def _event(self, type: str, actor: str = "system", **details: Any) -> TimelineEvent:
        ev = TimelineEvent(
            seq=len(self.s.timeline) + 1, at=workflow.now(), type=type, actor=actor,
            details={k: (v.isoformat() if isinstance(v, datetime) else v)
                     for k, v in details.items() if v is not None},
        )
        self.s.timeline.append(ev)
        if type not in _NO_REPLAN:
            self._plan += 1
        return ev

    def _enter(self, phase: str, **details: Any) -> None:
        old = self.s.phase
        if old and old != phase:
            self._event("phase.completed", phase=old, **details)
        self.s.phase = phase
        if phase != "closed":
            self._event("phase.started", phase=phase)

    def _pp(self) -> PriorityPolicy:
        """The current priority's numbers in force (deadlines.numbers)."""
        return numbers(self.policy, self.s.priority, self.s.escalation_level,
                       level_waits=self.b.level_wait_seconds if ONCALL_LEVEL_WAITS in self.patches else None,
                       runbook=self.runbook if RUNBOOK_V1 in self.patches else None)

    # ------------------------------------------------------------------ paging

    def _page(self, kind: str, target: str, subject: str, body: str, template: str = "") -> str:
        s = self.s
        if self._held():  # inside a maintenance window: recorded, nobody paged (held.py)
            self._event("notification.held", kind=kind, target=target, subject=subject,
                        window=s.maintenance["window"] if s.maintenance else None)
            return ""
        self.b.notification_seq += 1
        key = calls.page_key(self.run_id, self.b.notification_seq)
        n = Notification(key=key, incident_id=s.incident_id, kind=kind, target=target,
                         subject=subject, body=body, priority=s.priority, title=s.title, service=s.service,
                         category=s.category, status=s.status, phase=s.phase, level=s.escalation_level,
                         commander=s.commander, template=template)
        if kind in DETAILED_KINDS and target != "war_room" and PAGE_DETAILS in self.patches:
            # What the alert said and where its source points (runbook, dashboard...): the page
            # is where the person decides what to do. Cut to keep every page's input small.
            a = self.inp.alert
            n.description = a.description[:PAGE_DESCRIPTION_CHARS]
            n.links = a.links[:PAGE_LINKS]
            n.link_texts = {u: t for u, t in a.link_texts.items() if u in n.links}
        self.b.outbox.append(n)
        return key

    def _post_to_war_room(self, subject: str, body: str) -> None:
        """Status updates go into the war room as well, once it is open."""
        if WAR_ROOM_POSTS in self.patches and self.s.war_room and self.s.war_room.get("channel"):
            self._page("UPDATE", "war_room", subject, body)

    def _subject(self, what: str) -> str:
        return f"[{self.s.priority}] {self.s.title} — {what}"

    async def _pager(self) -> None:
        # Everything queued by the same moment goes out together (one page does not wait
        # for another); results are recorded in queue order, so the timeline is stable.
        while True:
            await self.waits.wait(lambda: bool(self.b.outbox), WAKE_PAGER)
            batch = list(self.b.outbox)
            if BATCHED_PAGES in self.patches:
                results = await self._deliver_all(batch)
            else:
                results = await asyncio.gather(*(self._deliver(n) for n in batch))
            del self.b.outbox[: len(batch)]
            for n, res in zip(batch, results):
                for d in res.deliveries:  # a contact point that failed (the next one was tried)
                    if d.get("status") == "FAILED":
                        self._event("delivery.failed", key=n.key, target=n.target, person=d.get("person"),
                                    contact_kind=d.get("contact_kind"), contact=d.get("contact"),
                                    error=d.get("error") or None)
                self._event(
                    "notification.sent" if res.status != "FAILED" else "notification.failed",
                    key=n.key, kind=n.kind, target=n.target, channel=res.channel,
                    recipients=res.recipients, status=res.status, subject=n.subject,
                    error=res.error or None, **({"via": res.via} if res.via else {}),
                )

    async def _deliver(self, n: Notification) -> NotificationResult:
        try:
            return await calls.send_notification(n)
        except ActivityError as err:
            return NotificationResult(key=n.key, channel="", status="FAILED", error=str(err.cause or err))

    async def _deliver_all(self, batch: list[Notification]) -> list[NotificationResult]:
        try:
            res = await calls.send_notifications(NotificationBatch(notifications=batch))
        except ActivityError as err:  # out of time on every attempt (a page's failure comes back as FAILED)
            return [NotificationResult(key=n.key, channel="", status="FAILED", error=str(err.cause or err))
                    for n in batch]
        return res.results

    async def _sent(self, keys: list[str]) -> None:
        await self.waits.wait(lambda: not any(n.key in keys for n in self.b.outbox))

    # ------------------------------------------------------------------ records

    async def _flusher(self) -> None:
        settled = SETTLED_RECORDS in self.patches
        while True:
            await self.waits.wait(
                (lambda: self.b.flushed < len(self.s.timeline) and self._settled()) if settled
                else (lambda: self.b.flushed < len(self.s.timeline)), WAKE_RECORDS)
            upto = len(self.s.timeline)
            batch = self.s.timeline[self.b.flushed:upto]
            try:
                await calls.record_events(
                    RecordEvents(incident_id=self.s.incident_id, run_id=self.run_id,
                                 snapshot=self._view(with_timeline=False), events=batch))
            except ActivityError as err:
                # Only a write that can never succeed gets here (activities/store.py makes it
                # non-retryable; calls.RECORD_RETRY retries every other failure without limit).
                # The batch is given up and said so on the timeline; that event is not sent to
                # the records itself (it would fail again), so the incident still closes. No
                # history recorded before this reached here (the old code retried for ever).
                cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err.cause or err)
                workflow.logger.warning("records refused events %s-%s of %s: %s", batch[0].seq, batch[-1].seq,
                                        self.s.incident_id, cause)
                self._event("records.failed", error=cause[:300], first_seq=batch[0].seq, last_seq=batch[-1].seq)
                upto = len(self.s.timeline)
            self.b.flushed = upto

    def _settled(self) -> bool:
        """The timeline may go to the records now (patch settled-records): no page and no war room
        in flight, so their outcome goes in the same write; and once at the very start (the
        incident's row at once), after assess. A page or a war room still retrying holds the write
        back for its retries at most (calls.NOTIFY_RETRY, WAR_ROOM_RETRY): the records lag, the
        incident never waits on them."""
        if not self.b.outbox and self._busy == 0:
            return True
        return self.b.flushed == 0 and self.s.phase != "assess"

    def _quiet(self) -> bool:
        return (not self.b.outbox and self.b.flushed >= len(self.s.timeline)
                and (self._busy == 0 or QUIET_RUN_END not in self.patches) and workflow.all_handlers_finished())

    def _ending_now(self) -> bool:
        """The run ends (continue-as-new or close) in this very activation: the background
        loops must start nothing now. Anything due is left in the state, and the next run
        fires it at once; work started now would be abandoned with the run (and the
        time-skipping test server never releases the time lock of an abandoned activity)."""
        return QUIET_RUN_END in self.patches and self._finishing and self._quiet()

    async def _drained(self) -> None:
        self._finishing = True
        await self.waits.wait(self._quiet)

    # ------------------------------------------------------------------ deadlines (deadlines.py)

    def _facts(self) -> Facts:
        return Facts(self.s, self.b, self._pp(), self.policy.escalation, ladder=self._ladder)

    def _deadlines(self) -> Deadlines:
        return Deadlines() if self._held() else view(self._facts())

    async def _timer_loop(self) -> None:
        # Alarms are never cancelled (waits.Waits.alarm): one no longer needed rings, finds
        # nothing due and the loop plans again.
        while True:
            if self._held():  # no deadline runs inside a maintenance window; they start at its end
                await self.waits.wait(lambda: not self._held(), WAKE_TIMERS)
                continue
            due = pending(self._facts())
            seen = self._plan
            if due:
                when = due[0].at
                if when > workflow.now():
                    self.waits.alarm(when)
                    await self.waits.wait(lambda: self._plan != seen or workflow.now() >= when, WAKE_TIMERS)
                    if workflow.now() < when:
                        continue  # something changed: plan again
                if self._ending_now():
                    await self.waits.wait(lambda: not self._ending_now(), WAKE_TIMERS)
                    continue
                now = workflow.now()
                if ORDERED_WAKEUPS in self.patches:  # what changed in the same activation (an update) counts
                    due = pending(self._facts())
                for d in due:
                    if d.at <= now:
                        d.fire(self, now)
            else:
                await self.waits.wait(lambda: self._plan != seen, WAKE_TIMERS)

    # ------------------------------------------------------------------ helpers

    def _person(self, who: str) -> str:
        return who if ":" in who or who in ("management", "technical_manager") else f"person:{who}"

    def _stakeholders(self) -> list[str]:
        out: list[str] = []
        for t in [f"oncall:L{self.s.escalation_level}", *self._pp().stakeholders]:
            if t not in out:
                out.append(t)
        return out

    def _brief(self) -> str:
        s = self.s
        lines = [
            f"{s.priority} {s.title}",
            f"service: {s.service or '-'}  category: {s.category or '-'}  runbook: {s.runbook or '-'}",
            f"status: {s.status}  phase: {s.phase}  level: {LEVEL_NAMES.get(s.escalation_level)}",
            f"commander: {s.commander or 'not yet assigned'}",
        ]
        if s.latest_update:
            lines.append(f"latest update: {s.latest_update.message} ({s.latest_update.by})")
        return "\n".join(lines)

    def _escalate_to(self, level: int, reason: str, actor: str, note: str = "") -> None:
        s = self.s
        level = min(level, MAX_LEVEL)
        previous = s.escalation_level
        repeated = level <= previous
        s.escalation_level = max(level, previous)
        self._event("escalated", actor=actor, level=s.escalation_level, reason=reason,
                    previous_level=previous, note=note or None, repeated=repeated or None)
        target = f"oncall:L{s.escalation_level}"
        self._page("ESCALATION", target, self._subject(f"escalated to {LEVEL_NAMES[s.escalation_level]}"),
                   f"Escalated ({reason}). {note}\n{self._brief()}")
        if s.priority in FULL_RESPONSE_PRIORITIES:
            self.b.war_room_wanted = True

    def _record_resolved(self) -> None:
        s, b = self.s, self.b
        now = workflow.now()
        s.status, s.resolved_at = "resolved", now
        self._event("resolved", actor=b.resolve_requested_by or "system",
                    seconds_to_resolve=int((now - s.created_at).total_seconds()) if s.created_at else None,
                    **{k: v for k, v in b.resolve_details.items() if v})

    def _close(self) -> None:
        self.s.status, self.s.closed_at = "closed", workflow.now()
        self._enter("closed")
        self._event("closed", review_by=self.s.review.by if self.s.review else None)

    def _progress(self) -> None:
        self.b.last_progress_at = workflow.now()

    def _view(self, with_timeline: bool = True) -> IncidentState:
        return dataclasses.replace(
            self.s, deadlines=self._deadlines(),
            timeline=list(self.s.timeline) if with_timeline else [],
        )

    def _resume_input(self, workflow_kind_priority: str | None = None) -> IncidentInput:
        return dataclasses.replace(
            self.inp, priority=workflow_kind_priority or self.s.priority,
            resume=Resume(state=self.s, book=self.b, runbook=self.runbook),
        )

    def _can_due(self) -> bool:
        info = workflow.info()
        limit = self.policy.escalation.continue_as_new_after_events
        if limit and info.get_current_history_length() > limit:
            return True
        return info.is_continue_as_new_suggested()

    async def _continue_as_new(self, workflow_name: str | None = None) -> None:
        await self._drained()
        workflow.continue_as_new(self._resume_input(), workflow=workflow_name)

    def _start_background(self) -> None:
        loops: tuple[Any, ...] = (self._timer_loop(), self._pager(), self._flusher())
        if UPGRADE_TRIGGERS in self.patches:
            loops = (*loops, self._cascade())
        for loop in ((self.waits.dispatcher(), *loops) if self.waits.ordered else loops):
            asyncio.get_running_loop().create_task(loop)

    # ------------------------------------------------------------------ validation

    def _require_actor(self, by: str) -> None:
        if not by or not by.strip():
            raise refuse("actor ('by') must name a person")

    def _require_open(self, by: str, action: str) -> None:
        self._require_actor(by)
        if self.s.status == "closed":
            raise refuse(f"cannot {action}: incident {self.s.incident_id} is closed")
        if self.s.status == "resolved":
            raise refuse(f"cannot {action}: incident {self.s.incident_id} is resolved (reopen it first)")

    # ------------------------------------------------------------------ queries

    @workflow.query(name="get_state")
    def get_state(self) -> IncidentState:
        return self._view()

    # ------------------------------------------------------------------ signals (sources)

    @workflow.signal(name="alert_received")
    def alert_received(self, sig: AlertReceived) -> None:
        """One alert (API processes before alerts_received, and histories of then)."""
        s, a = self.s, sig.alert
        s.alert_count += 1
        self._event("alert.received", actor=a.source or "source", count=s.alert_count,
                    title=a.title, severity=a.severity or None, affected_users=a.affected_users)
        if s.status == "closed":
            return
        if s.status == "resolved" and s.alert_count > 1:
            self._reopen(a.source or "source", "alert fired again after resolution")
            return
        with overtaken(self, "alert_received", a.source or "source"):
            self._alert_impact(a, starting=s.alert_count <= 1)

    @workflow.signal(name="alerts_received")
    def alerts_received(self, sig: AlertsReceived) -> None:
        """Alerts that arrived together (api/intake.py coalesces them): one timeline event for
        the batch's new alerts, re-sends (a fingerprint already counted) counted apart."""
        s, b = self.s, self.b
        if self._seen is None:
            self._seen = set(b.fingerprints)
        first = s.alert_count == 0  # the batch that started the run: its first alert is the input's
        new: list[AlertInfo] = []
        for a in sig.alerts:
            if a.fingerprint and a.fingerprint in self._seen:
                s.resent_count += 1
                continue
            if a.fingerprint:
                self._seen.add(a.fingerprint)
                b.fingerprints.append(a.fingerprint)
            new.append(a)
        s.alert_count += len(new)
        if new:
            a = new[-1]
            self._event("alert.received", actor=a.source or "source", count=s.alert_count,
                        new=len(new) if len(new) > 1 else None, title=a.title, severity=a.severity or None,
                        affected_users=max((x.affected_users for x in new if x.affected_users is not None),
                                           default=None))
        if s.status == "closed" or not sig.alerts:
            return
        if s.status == "resolved" and not first:
            last = sig.alerts[-1]
            self._reopen(last.source or "source", "alert fired again after resolution")
            return
        with overtaken(self, "alerts_received", sig.alerts[-1].source or "source"):
            for i, a in enumerate(sig.alerts):
                self._alert_impact(a, starting=first and i == 0)

    def _alert_impact(self, a: AlertInfo, *, starting: bool) -> None:
        """What an alert's figures change: spreading impact escalates, a higher priority raises it."""
        s, b = self.s, self.b
        if a.affected_users is not None:
            if b.max_affected_users and a.affected_users > b.max_affected_users:
                b.spreading_reports += 1
                architect = auto_level(self, 3)  # the on-call architect, or the priority's top level
                if (b.spreading_reports >= self.policy.escalation.spreading_reports
                        and s.priority in FULL_RESPONSE_PRIORITIES and s.escalation_level < architect):
                    self._escalate_to(architect, "impact_spreading", a.source or "system",
                                      note=f"affected users now {a.affected_users}")
            b.max_affected_users = max(b.max_affected_users, a.affected_users)
        if not starting and UPGRADE_TRIGGERS in self.patches:
            # First: the edge classified an alert with these labels P0 already, and the change
            # should say which trigger raised it, not only "a higher impact".
            impact = upgrades.from_labels(a.labels)
            if impact:
                self._report_impact(impact, a.source or "source", via="alert labels")
        if not starting and a.priority in PRIORITIES and a.priority < s.priority:
            self._change_priority(a.source or "system", a.priority, "alert reports a higher impact")

    @workflow.signal(name="alert_resolved")
    def alert_resolved(self, sig: AlertResolved) -> None:
        source = sig.source or "source"
        with overtaken(self, "alert_resolved", source):
            self._event("alert.resolved", actor=source, summary=sig.summary or None)
            if self.s.status in OPEN_STATUSES and not self.b.resolve_requested_by:
                self.b.resolve_requested_by = source
                self.b.resolve_details = {"resolution": sig.summary or "resolved by the alert source"}
