"""Room: workflows (deterministic). IncidentResponse: the full P0/P1 response, assess ->
notify -> war_room -> recover -> verify -> review -> closed (SPEC section 3).

Every phase function is re-entrant from the state it left behind, so a continue-as-new in
the middle of a long incident resumes where it was. Activities are called through calls.py,
behaviour changes read from patches.py, timers are core.py's and deadlines.py's.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import (
        INCIDENT_WORKFLOW, ActionSpec, CheckSpec, IncidentInput, IncidentState, RunbookSpec, StepState,
    )
    from workflows.contracts_activities import ActionRequest, AssessRequest, AssessResult, CheckRequest, WarRoomRequest
    from workflows import calls
    from workflows.actions import EngineerActions
    from workflows.deadlines import auto_level, secs
    from workflows.patches import LOCAL_ASSESS, ONCALL_LEVEL_WAITS, RUNBOOK_V1
    from workflows.waits import WAKE_WAR_ROOM


@workflow.defn(name=INCIDENT_WORKFLOW)
class IncidentResponse(EngineerActions):
    KIND = INCIDENT_WORKFLOW
    STAKEHOLDER_UPDATES = True

    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self._setup(inp)

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentState:
        self._start_background()
        asyncio.get_running_loop().create_task(self._war_room_keeper())
        if inp.resume is None:
            self._event("phase.started", phase="assess")
        elif self._resumed_from != self.KIND:
            # Handed over from a Ticket raised to P0/P1: the full response starts at assess.
            self._enter("assess", handed_over_from=self._resumed_from)
        self.s.workflow = self.KIND
        phases = {
            "assess": self._assess, "notify": self._notify, "war_room": self._war_room,
            "recover": self._recover, "verify": self._verify, "review": self._review,
        }
        while self.s.phase != "closed":
            await phases[self.s.phase]()
            if self.s.phase != "closed" and self._can_due():
                await self._continue_as_new()
        await self._drained()
        return self._view()

    # ------------------------------------------------------------------ phases

    async def _assess(self) -> None:
        try:
            res = await calls.assess_incident(
                AssessRequest(incident_id=self.s.incident_id, alert=self.inp.alert,
                              priority=self.s.priority, runbook=self.runbook),
                local=LOCAL_ASSESS in self.patches)
        except ActivityError as err:
            # Never lose an incident to a broken assess: go on with what the input has.
            self._event("assess.failed", error=str(err.cause or err))
            res = AssessResult(category=self.s.category or "SYSTEM_UNAVAILABLE",
                               runbook=self.runbook or RunbookSpec(name="builtin", version="0"))
        self.runbook = res.runbook
        self.s.category = res.category
        self.s.runbook, self.s.runbook_version = res.runbook.name, res.runbook.version
        self.s.known_issues = res.known_issues
        if ONCALL_LEVEL_WAITS in self.patches:
            self.b.level_wait_seconds = list(res.level_wait_seconds)
        self.s.steps = [StepState(id=a.id, kind=a.kind, title=a.title) for a in res.runbook.recover]
        self.s.steps += [StepState(id=c.id, kind=c.kind, title=c.title, stage="verify") for c in res.runbook.verify]
        self.b.initial_targets = self._initial_targets(res)
        self._enter("notify", category=res.category,
                    **({"classified_by": res.classified_by} if res.classified_by else {}), runbook=res.runbook.name,
                    runbook_version=res.runbook.version, known_issues=len(res.known_issues),
                    route_to=res.route_to, impact=res.impact or None,
                    **({"escalation_policy": res.escalation_policy} if res.escalation_policy else {}))

    def _initial_targets(self, res: AssessResult) -> list[str]:
        targets = self._stakeholders()
        if res.route_to == "senior" and "senior_engineer" not in targets:
            targets.append("senior_engineer")
        for t in self.runbook.notify if self.runbook else []:
            if t not in targets:
                targets.append(t)
        return targets

    async def _notify(self) -> None:
        if await self._while_held():  # resolved inside a maintenance window: closed, nobody paged
            self._record_resolved()
            self._close()
            return
        keys = [
            self._page("INITIAL", t, self._subject("new incident"), self._brief())
            for t in self.b.initial_targets
        ]
        self._told_of(self.b.initial_targets)
        self.b.initial_targets = []
        await self._sent(keys)
        self._enter("war_room", pages=len(keys))

    async def _war_room(self) -> None:
        wanted = self.runbook.war_room if self.runbook and self.runbook.war_room is not None else (
            self._pp().war_room or not self.s.known_issues or self.s.escalation_level >= 2)
        if wanted:
            self.b.war_room_wanted = True
            await self.waits.wait(lambda: self.s.war_room is not None)
        self._enter("recover", war_room=bool(self.s.war_room))

    async def _war_room_keeper(self) -> None:
        """Opens the war room once wanted (at its phase, or later on escalation/upgrade)."""
        await self.waits.wait(
            lambda: self.b.war_room_wanted and self.s.war_room is None
            and self.s.phase not in ("assess", "notify") and not self._ending_now(), WAKE_WAR_ROOM)
        key = calls.war_room_key(self.run_id)
        self._busy += 1
        try:
            res = await calls.open_war_room(
                WarRoomRequest(key=key, incident_id=self.s.incident_id, title=self.s.title,
                               priority=self.s.priority, commander=self.s.commander, brief=self._brief(),
                               service=self.s.service, level=self.s.escalation_level))
            room = {"channel": res.channel, "bridge": res.bridge}
            if res.url:
                room.update(url=res.url, provider=res.provider)
        except ActivityError as err:
            room = {"channel": "", "bridge": "", "error": str(err.cause or err)}
        self._busy -= 1
        self.s.war_room = room
        self._event("war_room.opened", channel=room["channel"], bridge=room["bridge"] or None,
                    commander=self.s.commander or "first acknowledger", error=room.get("error"),
                    **({"url": room["url"]} if room.get("url") else {}))

    def _actions_for_round(self) -> list[ActionSpec]:
        if not self.runbook:
            return []
        return self.runbook.recover if self.b.recover_round == 0 else self.runbook.on_verify_failure

    def _step(self, step_id: str, kind: str, title: str, stage: str) -> StepState:
        for st in self.s.steps:
            if st.id == step_id and st.stage == stage:
                return st
        st = StepState(id=step_id, kind=kind, title=title, stage=stage)
        self.s.steps.append(st)
        return st

    async def _recover(self) -> None:
        actions = self._actions_for_round()
        while self.b.action_index < len(actions) and not self.b.resolve_requested_by:
            if self._can_due():
                return
            await self._run_action(actions[self.b.action_index])
            self.b.action_index += 1
        await self.waits.wait(lambda: bool(self.b.resolve_requested_by) or self._can_due())
        if not self.b.resolve_requested_by:
            return  # continue-as-new first; recover resumes after
        for a in actions[self.b.action_index:]:
            self._step(a.id, a.kind, a.title, "recover").status = "skipped"
        self._enter("verify", requested_by=self.b.resolve_requested_by)

    async def _run_action(self, a: ActionSpec) -> None:
        st = self._step(a.id, a.kind, a.title, "recover")
        self._event("action.started", step=a.id, kind=a.kind, title=a.title or None)
        if a.kind == "manual" or (a.kind == "approval" and RUNBOOK_V1 in self.patches):
            st.status = "waiting"
            self.b.step_reminders[a.id] = workflow.now() + secs(
                self.policy.escalation.manual_step_reminder_seconds)
            self._plan += 1
            await self.waits.wait(lambda: a.id in self.b.completed_steps or bool(self.b.resolve_requested_by))
            self.b.step_reminders.pop(a.id, None)
            if a.id not in self.b.completed_steps:
                st.status = "skipped"
                return
            ok = self.b.completed_steps[a.id] not in ("failed", "rejected")
            detail = f"completed: {self.b.completed_steps[a.id]}"
        elif a.kind == "wait":
            st.status = "running"
            await workflow.sleep(secs(int(a.params.get("seconds", 60))))
            ok, detail = True, "waited"
        else:
            st.status = "running"
            ok, detail = await self._execute(a, calls.action_key(self.run_id, a.id, self.b.recover_round))
        st.status, st.detail = ("succeeded" if ok else "failed"), detail
        if ok:
            self._progress()
            if a.rollback is not None and RUNBOOK_V1 in self.patches:
                self.b.rollbacks.append(a.id)
        self._event("action.succeeded" if ok else "action.failed", step=a.id, kind=a.kind, detail=detail)

    async def _execute(self, a: ActionSpec, key: str) -> tuple[bool, str]:
        """Run an action in the run_action activity: (ok, detail). Retries with backoff."""
        try:
            res = await calls.run_action(ActionRequest(key=key, incident_id=self.s.incident_id, action=a),
                                         backoff=RUNBOOK_V1 in self.patches)
            return res.ok, res.detail
        except ActivityError as err:
            return False, str(err.cause or err)

    async def _roll_back(self) -> None:
        """Verification failed: undo this round's actions that say how, last first."""
        by_id = {a.id: a for a in self._actions_for_round()}
        for action_id in reversed(self.b.rollbacks):
            undo = by_id[action_id].rollback if action_id in by_id else None
            if undo is None:
                continue
            st = self._step(undo.id, undo.kind, undo.title, "rollback")
            self._event("rollback.started", step=undo.id, of=action_id, kind=undo.kind)
            ok, detail = await self._execute(undo, calls.rollback_key(self.run_id, undo.id, self.b.recover_round))
            st.status, st.detail = ("succeeded" if ok else "failed"), detail
            self._event("rollback.succeeded" if ok else "rollback.failed", step=undo.id, of=action_id, detail=detail)
        self.b.rollbacks.clear()

    async def _verify(self) -> None:
        checks = self.runbook.verify if self.runbook else []
        failed: list[str] = []
        for c in checks:
            ok, detail = await self._run_check(c)
            self._event("check.passed" if ok else "check.failed", step=c.id, kind=c.kind, detail=detail)
            if not ok:
                failed.append(c.id)
                break
        if failed:
            self._event("verification.failed", failed=failed)
            if RUNBOOK_V1 in self.patches:
                await self._roll_back()
            if RUNBOOK_V1 not in self.patches or self.runbook is None or self.runbook.escalate_on_verify_failure:
                self._escalate_to(auto_level(self, self.s.escalation_level + 1), "verification_failed", "system",
                                  note=f"verification failed: {', '.join(failed)}")
            self.b.resolve_requested_by = ""
            self.b.recover_round += 1
            self.b.action_index = 0
            for c in checks:  # the checks run again after the next recovery round
                self._step(c.id, c.kind, c.title, "verify").status = "pending"
                self.b.completed_steps.pop(c.id, None)
            self._enter("recover", round=self.b.recover_round)
            return
        self._event("verification.passed", checks=[c.id for c in checks])
        self._mark_resolved()

    async def _run_check(self, c: CheckSpec) -> tuple[bool, str]:
        st = self._step(c.id, c.kind, c.title, "verify")
        deadline = workflow.now() + secs(c.timeout_seconds)
        if c.kind == "manual":
            st.status = "waiting"
            self._plan += 1
            if not await self.waits.wait_until(lambda: c.id in self.b.completed_steps, c.timeout_seconds):
                st.status, st.detail = "failed", "not confirmed in time"
                return False, st.detail
            ok = self.b.completed_steps[c.id] != "failed"
            st.status, st.detail = ("succeeded" if ok else "failed"), f"confirmed: {self.b.completed_steps[c.id]}"
            return ok, st.detail
        st.status = "running"
        attempt = 0
        while True:
            attempt += 1
            try:
                res = await calls.run_check(CheckRequest(key=calls.check_key(self.run_id, c.id, attempt),
                                                         incident_id=self.s.incident_id, check=c))
                ok, detail = res.ok, res.detail
            except ActivityError as err:
                ok, detail = False, str(err.cause or err)
            if ok or workflow.now() + secs(c.interval_seconds) > deadline:
                st.status, st.detail = ("succeeded" if ok else "failed"), f"{detail} (attempt {attempt})"
                return ok, st.detail
            await workflow.sleep(secs(c.interval_seconds))

    def _mark_resolved(self) -> None:
        s, b = self.s, self.b
        now = workflow.now()
        b.step_reminders.clear()
        self._record_resolved()
        resolution = f"Resolved by {b.resolve_requested_by}. {b.resolve_details.get('resolution') or ''}"
        for t in self._stakeholders():
            self._page("RESOLUTION", t, self._subject("resolved"), resolution)
        self._post_to_war_room(self._subject("resolved"), resolution)
        if self._pp().review_seconds:
            self._enter("review")
            s.review_owner = s.commander or s.acknowledged_by or "oncall:L1"
            b.next_review_reminder = now + secs(self.policy.escalation.review_reminder_seconds)
            b.review_overdue_fired = False
            self._event("review.assigned", owner=s.review_owner, due=now + secs(self._pp().review_seconds))
        else:
            self._close()

    async def _review(self) -> None:
        await self.waits.wait(lambda: self.s.review is not None or self.s.status != "resolved" or self._can_due())
        if self.s.review is not None:
            self._close()
        elif self.s.status != "resolved":  # reopened
            self._enter("recover", reopened=True)
