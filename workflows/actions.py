"""Room: workflows (deterministic). The engineers' actions on an incident: one Temporal update
each (acknowledge, assign a commander, post an update, escalate, change the priority, complete
a step, resolve, submit the review, reopen), its validator refusing with a reason the caller
sees (core.refuse) and leaving the workflow untouched. IncidentResponse and Ticket are built on
EngineerActions, which is IncidentCore with these handlers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import upgrades
    from workflows.contracts import (
        MAX_LEVEL, PRIORITIES, Acknowledge, ActionItem, ActionSpec, AssignCommander, ChangePriority, CompleteStep,
        EngineerUpdate, Escalate, IncidentState, PostUpdate, Reopen, Resolve, Review, SubmitReview,
    )
    from workflows.core import IncidentCore, refuse
    from workflows.deadlines import overtaken
    from workflows.patches import RUNBOOK_V1, UPGRADE_TRIGGERS


class EngineerActions(IncidentCore):
    @workflow.update(name="acknowledge")
    def acknowledge(self, a: Acknowledge) -> IncidentState:
        s = self.s
        now = workflow.now()
        with overtaken(self, "acknowledge", a.by):
            s.status = "acknowledged"
            s.acknowledged_by, s.acknowledged_at = a.by, now
            self._event("acknowledged", actor=a.by, note=a.note or None,
                        seconds_to_ack=int((now - s.created_at).total_seconds()) if s.created_at else None)
            if s.commander is None:
                s.commander = a.for_person or a.by
                self._event("commander.assigned", actor="system", commander=s.commander,
                            reason="first acknowledgement")
            self._progress()
        return self._view()

    @acknowledge.validator
    def _v_acknowledge(self, a: Acknowledge) -> None:
        self._require_open(a.by, "acknowledge")
        if self.s.acknowledged_by:
            raise refuse(f"already acknowledged by {self.s.acknowledged_by}")

    @workflow.update(name="assign_commander")
    def assign_commander(self, a: AssignCommander) -> IncidentState:
        previous = self.s.commander
        self.s.commander = a.commander
        self._event("commander.assigned", actor=a.by, commander=a.commander, previous=previous)
        self._page("FOLLOW_UP", self._person(a.commander), self._subject("you are incident commander"),
                   self._brief())
        return self._view()

    @assign_commander.validator
    def _v_assign_commander(self, a: AssignCommander) -> None:
        self._require_actor(a.by)
        if self.s.status == "closed":
            raise refuse(f"cannot assign a commander: incident {self.s.incident_id} is closed")
        if not a.commander or not a.commander.strip():
            raise refuse("commander must name a person")
        if a.commander == self.s.commander:
            raise refuse(f"{a.commander} is already the commander")

    @workflow.update(name="post_update")
    def post_update(self, u: PostUpdate) -> IncidentState:
        now = workflow.now()
        with overtaken(self, "post_update", u.by):
            self.s.latest_update = EngineerUpdate(by=u.by, message=u.message, at=now)
            self.b.updated_since_tick = True
            self._progress()
            self._event("status_update.posted", actor=u.by, message=u.message)
            if UPGRADE_TRIGGERS in self.patches:
                reported = upgrades.from_fields(u)
                if reported:
                    self._report_impact(reported, u.by, via="update")
                self._suggest(u)
        self._post_to_war_room(self._subject(f"update from {u.by}"), u.message)
        return self._view()

    @post_update.validator
    def _v_post_update(self, u: PostUpdate) -> None:
        self._require_actor(u.by)
        if self.s.status == "closed":
            raise refuse(f"cannot post an update: incident {self.s.incident_id} is closed")
        if not u.message or not u.message.strip():
            raise refuse("message must not be empty")
        if u.expected_recovery_minutes is not None and (
                not isinstance(u.expected_recovery_minutes, int) or u.expected_recovery_minutes < 0):
            raise refuse("expected_recovery_minutes must be a whole number of minutes, 0 or more")

    @workflow.update(name="escalate")
    def escalate(self, e: Escalate) -> IncidentState:
        with overtaken(self, "escalate", e.by):
            self._escalate_to(e.to_level or self.s.escalation_level + 1, "manual", e.by, note=e.reason)
        return self._view()

    @escalate.validator
    def _v_escalate(self, e: Escalate) -> None:
        self._require_open(e.by, "escalate")
        if self.s.escalation_level >= MAX_LEVEL:
            raise refuse("already at the highest escalation level (external/vendor support)")
        if e.to_level is not None and not (self.s.escalation_level < e.to_level <= MAX_LEVEL):
            raise refuse(f"to_level must be between {self.s.escalation_level + 1} and {MAX_LEVEL}")

    @workflow.update(name="change_priority")
    def change_priority(self, c: ChangePriority) -> IncidentState:
        with overtaken(self, "change_priority", c.by):
            self._change_priority(c.by, c.priority, c.reason)
        return self._view()

    @change_priority.validator
    def _v_change_priority(self, c: ChangePriority) -> None:
        self._require_open(c.by, "change the priority")
        if c.priority not in PRIORITIES:
            raise refuse(f"priority must be one of {', '.join(PRIORITIES)}, not {c.priority!r}")
        if c.priority == self.s.priority:
            raise refuse(f"priority is already {c.priority}")
        if not c.reason or not c.reason.strip():
            raise refuse("reason must say why the priority changes")

    def _change_priority(self, by: str, to: str, reason: str, **automatic: Any) -> None:
        """`automatic`: what decided a change nobody asked for (the triggers, who reported them),
        written on the event with `automatic: true` (patch upgrade-triggers)."""
        s, b = self.s, self.b
        old = s.priority
        s.priority = to
        if s.status == "triggered":
            b.ack_window_start = workflow.now()  # the new priority's page gives a fresh ack window
        self._event("priority.changed", actor=by, **{"from": old, "to": to, "reason": reason,
                                                      "direction": "upgrade" if to < old else "downgrade"},
                    sla=self.policy.sla(to), **({"automatic": True, **automatic} if automatic else {}))
        if to < old:
            told = self._stakeholders()
            for t in told:
                self._page("UPDATE", t, self._subject(f"upgraded from {old}"), f"Reason: {reason}\n{self._brief()}")
            self._told_of(told, afresh=True)
            if self._pp().war_room:
                b.war_room_wanted = True
        elif UPGRADE_TRIGGERS in self.patches:
            # A downgrade is news to everyone who was told of the higher priority (SPEC 3).
            told = self._announce_to(b.told_of_priority)
            for t in told:
                self._page("UPDATE", t, self._subject(f"downgraded from {old}"), f"Reason: {reason}\n{self._brief()}")
            self._told_of(told, afresh=True)
        self._on_priority_changed(old, to)

    def _on_priority_changed(self, old: str, new: str) -> None:
        """Hook: the ticket hands over to a full response here."""

    @workflow.update(name="complete_step")
    def complete_step(self, c: CompleteStep) -> IncidentState:
        with overtaken(self, "complete_step", c.by):
            self.b.completed_steps[c.step] = c.result or "done"
            self.b.step_reminders.pop(c.step, None)
            self._progress()
            for st in self.s.steps:
                if st.id == c.step and st.status == "waiting":
                    st.status = "succeeded" if c.result not in ("failed", "rejected") else "failed"
            self._event("step.completed", actor=c.by, step=c.step, result=c.result, note=c.note or None)
        return self._view()

    @complete_step.validator
    def _v_complete_step(self, c: CompleteStep) -> None:
        self._require_open(c.by, "complete a step")
        waiting = [st.id for st in self.s.steps if st.status == "waiting"]
        if c.step not in waiting:
            raise refuse(f"step {c.step!r} is not waiting for completion"
                         + (f"; waiting: {', '.join(waiting)}" if waiting else "; no step is waiting"))
        approval = self._approval(c.step)
        if approval is not None:
            approvers = [str(a) for a in approval.params.get("approvers") or []]
            if c.result not in ("approved", "rejected"):
                raise refuse(f"step {c.step!r} is an approval: result must be approved or rejected")
            if not approvers and approval.params.get("role"):
                raise refuse(f"step {c.step!r} needs the approval of a {approval.params['role']}, and no one "
                             "holds that role (WARROOM_APPROVERS on the worker)")
            if approvers and c.by not in approvers:
                raise refuse(f"step {c.step!r} needs the approval of {' or '.join(approvers)}"
                             + (f" ({approval.params['role']})" if approval.params.get("role") else ""))
        elif c.result not in ("done", "passed", "failed"):
            raise refuse("result must be done, passed or failed")

    def _approval(self, step: str) -> ActionSpec | None:
        """The waiting approval step of that id, if it is one."""
        if RUNBOOK_V1 not in self.patches or self.runbook is None:
            return None
        for a in [*self.runbook.recover, *self.runbook.on_verify_failure]:
            if a.id == step and a.kind == "approval":
                return a
        return None

    @workflow.update(name="resolve")
    def resolve(self, r: Resolve) -> IncidentState:
        with overtaken(self, "resolve", r.by):
            self.b.resolve_requested_by = r.by
            self.b.resolve_details = {"resolution": r.resolution, "root_cause": r.root_cause}
            self._progress()
            self._event("resolve.requested", actor=r.by, resolution=r.resolution or None,
                        root_cause=r.root_cause or None)
        return self._view()

    @resolve.validator
    def _v_resolve(self, r: Resolve) -> None:
        self._require_open(r.by, "resolve")
        if self.b.resolve_requested_by:
            raise refuse(f"resolution already requested by {self.b.resolve_requested_by}; verification is running")

    @workflow.update(name="submit_review")
    def submit_review(self, r: SubmitReview) -> IncidentState:
        with overtaken(self, "submit_review", r.by):
            self.s.review = Review(by=r.by, root_cause=r.root_cause, contributing_factors=r.contributing_factors,
                                   lessons=r.lessons, action_items=r.action_items, submitted_at=workflow.now())
            items = [dataclasses.asdict(i) if isinstance(i, ActionItem) else i for i in r.action_items]
            self._event("review.submitted", actor=r.by, root_cause=r.root_cause, action_items=items)
        return self._view()

    @submit_review.validator
    def _v_submit_review(self, r: SubmitReview) -> None:
        self._require_actor(r.by)
        if self.s.phase != "review":
            raise refuse(f"no review is open: the incident is in phase {self.s.phase}")
        if self.s.review is not None:
            raise refuse(f"review already submitted by {self.s.review.by}")
        if not r.root_cause or not r.root_cause.strip():
            raise refuse("root_cause must not be empty")

    @workflow.update(name="reopen")
    def reopen(self, r: Reopen) -> IncidentState:
        with overtaken(self, "reopen", r.by):
            self._reopen(r.by, r.reason)
        return self._view()

    @reopen.validator
    def _v_reopen(self, r: Reopen) -> None:
        self._require_actor(r.by)
        if self.s.status != "resolved":
            raise refuse(f"only a resolved incident can be reopened; this one is {self.s.status}")

    def _reopen(self, by: str, reason: str) -> None:
        s, b = self.s, self.b
        s.status = "acknowledged" if s.acknowledged_by else "triggered"
        s.resolved_at = None
        s.reopen_count += 1
        b.resolve_requested_by = ""
        b.next_review_reminder = None
        b.last_update_tick = b.last_progress_at = b.ack_window_start = workflow.now()
        self._event("reopened", actor=by, reason=reason or None, count=s.reopen_count)
