"""heartbeat_missed / heartbeat_recovered: a heartbeat monitor's outage as an incident.

Room: activities. A miss becomes an alert (priority and service from the monitor) and takes
the path every alert takes: `warroom.client.trigger`, a signal-with-start of
`incident-<dedup key>` with the service levels of the monitor's service. The dedup key and
the alert's fingerprint are the miss's own (workflows/heartbeat.py `miss_key`), so a retried
call, or one made again after the worker died, joins the incident it opened (counted as a
re-send, not a second alert) and pages nobody twice. A recovery is the source's resolve
(`alert_resolved`), sent only while the incident is still open, so a retry adds nothing.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from temporalio import activity

from warroom import client as temporal
from warroom.classify import incident_workflow_id
from workflows.contracts import OPEN_STATUSES, AlertInfo
from workflows.heartbeat import (
    HEARTBEAT_MISSED,
    HEARTBEAT_RECOVERED,
    HeartbeatMissed,
    HeartbeatOpened,
    HeartbeatRecord,
    HeartbeatRecovered,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from warroom.levels import ServiceLevels
    from warroom.settings import Settings


def _ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    seconds = int((now - at).total_seconds())
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def miss_alert(m: HeartbeatMissed) -> AlertInfo:
    """What a miss says, as an alert from the source `heartbeat:<name>`."""
    from warroom.records.heartbeats import human

    return AlertInfo(
        title=m.title or f"Heartbeat {m.name} missed",
        description=(f"No ping from heartbeat {m.name}: one was due every {human(m.interval_seconds)}, by "
                     f"{m.due_at.isoformat()}; the last came {_ago(m.last_ping_at, m.due_at)} "
                     f"({m.last_ping_at.isoformat() if m.last_ping_at else 'none'})."),
        service=m.service, priority=m.priority, labels={"heartbeat": m.name, "alertname": "HeartbeatMissed"},
        dedup_key=m.dedup_key, source=f"heartbeat:{m.name}", fingerprint=m.dedup_key, received_at=m.due_at,
    )


class HeartbeatActivities:
    def __init__(self, engine: Engine | None, settings: Settings) -> None:
        self.engine = engine  # None: no records (a rehearsal never runs a heartbeat)
        self.settings = settings
        self._levels: ServiceLevels | None = None

    def levels(self) -> ServiceLevels:
        if self._levels is None:  # loaded on first use: a rehearsal's worker never pays for it
            from warroom.levels import load_levels

            self._levels = load_levels(self.settings.service_levels)
        return self._levels

    @activity.defn(name=HEARTBEAT_MISSED)
    async def heartbeat_missed(self, m: HeartbeatMissed) -> HeartbeatOpened:
        from warroom.records import heartbeats

        if self.engine is not None and not await asyncio.to_thread(heartbeats.alive, self.engine, m.monitor_id):
            return HeartbeatOpened(gone=True)  # deleted while its timer ran: nothing to open
        t = await temporal.trigger(activity.client(), miss_alert(m), task_queue=self.settings.task_queue,
                                   policy=self.levels().policy_for(m.service),
                                   tier1_services=self.settings.tier1_services)
        if self.engine is not None:
            await asyncio.to_thread(heartbeats.went_down, self.engine, m.monitor_id, incident_id=t.incident_id,
                                    since=m.due_at, last_ping_at=m.last_ping_at)
        activity.logger.info("heartbeat %s missed (due %s): incident %s", m.name, m.due_at.isoformat(),
                             t.incident_id)
        return HeartbeatOpened(incident_id=t.incident_id)

    @activity.defn(name=HEARTBEAT_RECOVERED)
    async def heartbeat_recovered(self, r: HeartbeatRecovered) -> HeartbeatRecord:
        from warroom.records import heartbeats

        client = activity.client()
        wf_id = incident_workflow_id(r.dedup_key)
        resolved = False
        try:
            st = await temporal.current(client, wf_id)
            if st.incident_id == r.incident_id and st.status in OPEN_STATUSES:
                await temporal.source_resolved(client, wf_id, source=f"heartbeat:{r.name}",
                                               summary=f"heartbeat {r.name} pinged again"
                                                       + (f" ({r.source})" if r.source else ""))
                resolved = True
        except temporal.UnknownIncident:
            pass  # gone from Temporal (retention): nothing to resolve
        if self.engine is not None:
            await asyncio.to_thread(heartbeats.came_up, self.engine, r.monitor_id)
        return HeartbeatRecord(details={"incident_id": r.incident_id, "resolved": str(resolved).lower()})
