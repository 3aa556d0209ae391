"""Room: workflows (deterministic). Ticket: the light P2-P4 workflow (SPEC section 2).

Response and resolve timers, update reminders at the priority's cadence; raised to P1/P0
it continues-as-new as IncidentResponse under the same workflow id, carrying its state and
timeline, so the incident keeps its id and history.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import (
        FULL_RESPONSE_PRIORITIES,
        INCIDENT_WORKFLOW,
        TICKET_WORKFLOW,
        IncidentInput,
        IncidentState,
    )
    from workflows.actions import EngineerActions


@workflow.defn(name=TICKET_WORKFLOW)
class Ticket(EngineerActions):
    KIND = TICKET_WORKFLOW
    STAKEHOLDER_UPDATES = False  # tickets remind the assignee; they do not brief stakeholders
    PROGRESS_LADDER = False

    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self._setup(inp)

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentState:
        self._start_background()
        if inp.resume is None:
            self.s.phase = ""
            self._enter("open")
            # inside a maintenance window: nobody paged until it ends (resolved in it: never)
            if not await self._while_held():
                key = self._page("INITIAL", f"oncall:L{self.s.escalation_level}", self._subject("new ticket"),
                                 self._brief())
                self._told_of([f"oncall:L{self.s.escalation_level}"])
                await self._sent([key])
        while True:
            await self.waits.wait(
                lambda: bool(self.b.resolve_requested_by) or self._handover_to is not None or self._can_due())
            if self._handover_to is not None:
                self._event("handed_over", to=self._handover_to, priority=self.s.priority)
                await self._continue_as_new(self._handover_to)
            if self.b.resolve_requested_by:
                break
            await self._continue_as_new()
        self._record_resolved()
        self._close()
        await self._drained()
        return self._view()

    def _on_priority_changed(self, old: str, new: str) -> None:
        if new in FULL_RESPONSE_PRIORITIES:
            self._handover_to = INCIDENT_WORKFLOW
