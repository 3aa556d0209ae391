"""record_events: write timeline events and the incident snapshot to the records.

Room: activities. Idempotent on (run id, event seq): a retried or replayed call never
writes a row twice. One transaction per batch (warroom/records/incidents.py). A connection the
server dropped is tried again at once (activities/common.py); any other database error
propagates so Temporal retries with backoff, except a write the database refuses for its data
(sqlalchemy DataError: a value too long for its column, a character it cannot store), which can
never succeed, nor a text the driver cannot encode (a lone surrogate: UnicodeError, raised
before any SQL): that one fails at once, non-retryable, with a short message (the statement and
its parameters would exceed Temporal's failure size), and the workflow records
`records.failed` and goes on (workflows/core.py, _flusher).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import records_call
from workflows.contracts_activities import Recorded, RecordEvents

log = logging.getLogger("warroom.records")

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
        from sqlalchemy.exc import DataError

        try:
            written = records_call(self.engine, "record_events", run_id=req.run_id, incident_id=req.incident_id,
                                   snapshot=snap, events=events)
        except (DataError, UnicodeError) as err:
            orig = getattr(err, "orig", None) or err
            reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:300]
            log.error("records refused the events of %s for good (%s): %s", req.incident_id, type(orig).__name__,
                      reason)
            raise ApplicationError(f"the records database refused this write: {reason}", type="RecordsRefused",
                                   non_retryable=True) from None
        return Recorded(written=written)
