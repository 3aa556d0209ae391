"""Room: workflows (deterministic). What an incident does about maintenance windows
(docs/maintenance.md), as a part of IncidentCore.

Only with the patch `maintenance-windows` (patches.py); a run without it never holds and
ignores the `maintenance` signal, as it did.

  - An incident that starts inside a window (`IncidentInput.maintenance`, set by the API's
    intake) is held: it records everything (assess, alerts, resolves) and pages nobody. Its
    phases wait in `_while_held` before the first page; its timers wait too.
  - It ends the hold itself at the window's end (a durable timer), or earlier when the window's
    workflow signals `maintenance` (ended early). Released with the problem still firing, the
    response starts then: the first pages go out and every clock counts from the release.
  - Resolved by its source (or a person) while held: resolved and closed, nobody paged.
  - An incident open when a window starts is told (`maintenance.started`) and keeps paging.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import OPEN_STATUSES, AlertInfo, MaintenanceNotice
    from workflows.contracts_maintenance import HeldIncident
    from workflows.patches import MAINTENANCE_WINDOWS

if TYPE_CHECKING:
    from workflows.contracts import Bookkeeping, IncidentInput, IncidentState, TimelineEvent
    from workflows.patches import InForce
    from workflows.waits import Waits

INCIDENT_HELD_SIGNAL = "incident_held"  # the window's workflow (workflows/maintenance.py)


class MaintenanceHolds:
    """Mixed into IncidentCore: the maintenance parts of an incident."""

    if TYPE_CHECKING:
        s: IncidentState
        b: Bookkeeping
        inp: IncidentInput
        patches: InForce
        waits: Waits

        def _event(self, type: str, actor: str = "system", **details: Any) -> TimelineEvent: ...

    def _trigger_details(self, a: AlertInfo) -> dict[str, Any]:
        """What a window can match later, on the `triggered` event (the records keep it)."""
        if MAINTENANCE_WINDOWS not in self.patches:
            return {}
        return {"labels": dict(a.labels) or None, "integration": a.integration or None}

    def _hold_at_start(self) -> None:
        m = self.inp.maintenance
        if MAINTENANCE_WINDOWS not in self.patches or m is None:
            return
        self.s.maintenance = {"window": m.window_id, "reason": m.reason, "until": m.ends_at.isoformat(),
                              "created_by": m.created_by, "held": True}
        self._event("maintenance.held", window=m.window_id, reason=m.reason, until=m.ends_at,
                    created_by=m.created_by or None, paging="nobody until the window ends")

    def _held(self) -> bool:
        m = self.s.maintenance
        return MAINTENANCE_WINDOWS in self.patches and bool(m and m.get("held"))

    async def _while_held(self) -> bool:
        """Before the first page: wait while the incident is held. True when it was resolved
        inside the window (the caller closes it without a page); False when paging may start."""
        m, state = self.inp.maintenance, self.s.maintenance
        if not self._held() or m is None or state is None:
            return False
        if not state.get("registered"):
            state["registered"] = True
            try:  # so that ending the window early releases this incident too
                await workflow.get_external_workflow_handle(m.workflow_id).signal(
                    INCIDENT_HELD_SIGNAL, HeldIncident(workflow_id=workflow.info().workflow_id,
                                                       incident_id=self.s.incident_id))
            except FailureError:  # the window's workflow is over: the window ended meanwhile
                self._release("", "the window had ended before the incident could join it")
                return False
        seconds = (m.ends_at - workflow.now()).total_seconds()
        if seconds > 0:
            await self.waits.wait_until(lambda: not self._held() or bool(self.b.resolve_requested_by), seconds)
        if self._held() and self.b.resolve_requested_by:
            state.update(held=False, resolved_in_window=True)
            self._event("maintenance.resolved", window=m.window_id, reason=m.reason,
                        paged="nobody: resolved inside the maintenance window")
            return True
        if self._held():
            self._release("", "")
        return False

    def _release(self, by: str, note: str) -> None:
        """The window is over and the problem still fires: the response starts now."""
        m, b = self.s.maintenance, self.b
        assert m is not None
        now = workflow.now()
        m.update(held=False, released_at=now.isoformat(), ended_by=by or None)
        b.released_at = now
        b.ack_window_start = b.last_update_tick = b.last_progress_at = now
        self._event("maintenance.ended", window=m["window"], reason=m["reason"], held=True,
                    ended_by=by or None, early=bool(by) or None, note=note or None,
                    paging="starts now: the problem is still firing")

    @workflow.signal(name="maintenance")
    def maintenance(self, n: MaintenanceNotice) -> None:
        """From a window's workflow: the window started (this incident was open: it keeps
        paging) or ended (a held incident's response starts)."""
        if MAINTENANCE_WINDOWS not in self.patches:
            return
        m = self.s.maintenance
        now = workflow.now()
        if n.event == "ended":
            if not m or m.get("window") != n.window_id:
                return
            if m.get("held"):
                self._release(n.by, f"ended early by {n.by}" if n.by else "")
            elif not m.get("held") and "released_at" not in m and not m.get("resolved_in_window") \
                    and not m.get("ended_at"):
                m["ended_at"] = now.isoformat()
                self._event("maintenance.ended", window=n.window_id, reason=n.reason or m.get("reason"),
                            held=False, ended_by=n.by or None, early=bool(n.by) or None)
        elif n.event == "started" and self.s.status in OPEN_STATUSES and not self._held():
            if m and m.get("window") == n.window_id:
                return  # told twice (a retried signal)
            self.s.maintenance = {"window": n.window_id, "reason": n.reason,
                                  "until": n.ends_at.isoformat() if n.ends_at else None, "held": False}
            self._event("maintenance.started", window=n.window_id, reason=n.reason, until=n.ends_at,
                        held=False, paging="keeps paging: the incident was open before the window")
