"""maintenance_started / maintenance_ended: a maintenance window's workflow asks the records
which open incidents it affects, and records its end.

Room: activities. Both are idempotent: the first only reads, the second records an end once
(a retry, or an end already recorded by the API's early end, leaves it as it was).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from warroom.maintenance import Window
from workflows.contracts_maintenance import AffectedIncidents, WindowEvent, WindowSpec

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def window_of(spec: WindowSpec) -> Window:
    return Window(id=spec.window_id, starts_at=spec.starts_at, ends_at=spec.ends_at, reason=spec.reason,
                  created_by=spec.created_by, service=spec.service, matchers=list(spec.matchers),
                  integration=spec.integration)


class MaintenanceActivities:
    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine  # None: a worker that keeps no records (a rehearsal)

    @activity.defn(name="maintenance_started")
    def maintenance_started(self, ev: WindowEvent) -> AffectedIncidents:
        if self.engine is None:
            return AffectedIncidents()
        from warroom.records import maintenance

        return AffectedIncidents(workflow_ids=maintenance.affected_open_incidents(self.engine, window_of(ev.window)))

    @activity.defn(name="maintenance_ended")
    def maintenance_ended(self, ev: WindowEvent) -> None:
        if self.engine is None:
            return
        from warroom.records import maintenance

        # when the workflow handled the end (its scheduled time: a retry records the same moment)
        maintenance.end_window(self.engine, ev.window.window_id, at=activity.info().scheduled_time, by=ev.by)
