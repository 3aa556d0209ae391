"""record_events: write timeline events and the incident snapshot to the records.

Room: activities. Idempotent on (run id, event seq): a retried or replayed call never
writes a row twice. One transaction per batch (warroom/records/incidents.py). A connection the
server dropped is tried again at once (activities/common.py); any other database error
propagates so Temporal retries with backoff.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from temporalio import activity

from activities.common import records_call
from workflows.contracts import Recorded, RecordEvents

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class StoreActivities:
    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine  # None: a worker that keeps no records (a rehearsal)

    @activity.defn(name="record_events")
    def record_events(self, req: RecordEvents) -> Recorded:
        if self.engine is None:
            return Recorded(written=0)
        snap = dataclasses.asdict(req.snapshot)
        snap.pop("timeline", None)
        events = [dataclasses.asdict(e) for e in req.events]
        written = records_call(self.engine, "record_events", run_id=req.run_id, incident_id=req.incident_id,
                               snapshot=snap, events=events)
        return Recorded(written=written)
