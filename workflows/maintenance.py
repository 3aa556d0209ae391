"""Room: workflows (deterministic). MaintenanceWindow: one workflow per maintenance window,
workflow id `maintenance-<window id>` (docs/maintenance.md).

It sleeps until the window starts, tells the open incidents the window matches (from the
records, activity maintenance_started) that it started, sleeps until it ends (a durable
timer: a worker killed meanwhile changes nothing, the next one picks the timer up) or until
someone ends it early (signal `end`), records the end (activity maintenance_ended) and tells
every incident it affected, those open at its start and those held by it (they announce
themselves with `incident_held`), that it ended. A held incident also ends its hold by its own
timer at the window's end, so a late or lost signal never keeps it silent.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from workflows import calls
    from workflows.contracts import MaintenanceNotice
    from workflows.contracts_maintenance import (
        MAINTENANCE_WORKFLOW, EndWindow, HeldIncident, WindowEvent, WindowSpec, WindowState,
    )

MAINTENANCE_SIGNAL = "maintenance"  # the incidents' handler (workflows/held.py)


def window_workflow_id(window_id: str) -> str:
    return f"maintenance-{window_id}"


@workflow.defn(name=MAINTENANCE_WORKFLOW)
class MaintenanceWindow:
    @workflow.init
    def __init__(self, spec: WindowSpec) -> None:
        self.spec = spec
        self.status = "scheduled"
        self.ended_by = ""
        self.ended_at: datetime | None = None
        self.end_note = ""
        self.early = False
        self.incidents: list[str] = []  # workflow ids to tell of the end, in the order they came
        self.told_end: set[str] = set()

    @workflow.run
    async def run(self, spec: WindowSpec) -> WindowState:
        if await self._until(spec.starts_at):
            self.status = "active"
            found = await calls.maintenance_started(WindowEvent(window=spec, event="started"))
            for wf_id in found.workflow_ids:
                if wf_id not in self.incidents:
                    self.incidents.append(wf_id)
                    await self._tell(wf_id, "started")
            await self._until(spec.ends_at)
        self.status = "ended"
        self.ended_at = workflow.now()
        await calls.maintenance_ended(WindowEvent(window=spec, event="ended", by=self.ended_by))
        # An incident that announced itself while the ones before were being told is told too.
        while len(self.told_end) < len(self.incidents):
            for wf_id in list(self.incidents):
                if wf_id not in self.told_end:
                    self.told_end.add(wf_id)
                    await self._tell(wf_id, "ended")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state()

    async def _until(self, when: datetime) -> bool:
        """Sleep until `when` unless the window is ended first: True when the time came. The
        timer is never cancelled (the time-skipping server refuses a task that cancels a timer in
        the instant it fires; docs/engine.md), it just rings for nobody."""
        seconds = (when - workflow.now()).total_seconds()
        if seconds > 0 and not self.early:
            rang = asyncio.Event()

            async def ring() -> None:
                await workflow.sleep(seconds)
                rang.set()

            asyncio.get_running_loop().create_task(ring())
            await workflow.wait_condition(lambda: rang.is_set() or self.early)
        return not self.early

    async def _tell(self, wf_id: str, event: str) -> None:
        s = self.spec
        try:
            await workflow.get_external_workflow_handle(wf_id).signal(
                MAINTENANCE_SIGNAL, MaintenanceNotice(window_id=s.window_id, event=event, reason=s.reason,
                                                      by=self.ended_by, starts_at=s.starts_at, ends_at=s.ends_at))
        except FailureError:
            pass  # that incident closed meanwhile: nothing to tell

    def _state(self) -> WindowState:
        return WindowState(window_id=self.spec.window_id, status=self.status, ended_by=self.ended_by,
                           ended_at=self.ended_at, incidents=list(self.incidents))

    @workflow.signal(name="end")
    def end(self, e: EndWindow) -> None:
        """End the window now (the API's DELETE, `warroom maintenance end`)."""
        if self.status != "ended" and not self.early:
            self.early = True
            self.ended_by, self.end_note = e.by, e.note

    @workflow.signal(name="incident_held")
    def incident_held(self, h: HeldIncident) -> None:
        if h.workflow_id not in self.incidents:
            self.incidents.append(h.workflow_id)

    @workflow.query(name="get_window")
    def get_window(self) -> WindowState:
        return self._state()
