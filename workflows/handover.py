"""Room: workflows (deterministic). OncallHandover: one per on-call schedule, for as long as the
schedule exists. At every rotation change it sends the incoming person a hand-over record: the
open incidents of the schedule's team and the notes the outgoing person left (docs/oncall.md,
"Hand-over"; from the seeds, issue 15).

The schedule's next change is asked of an activity (plan_handover reads the on-call files), the
wait until it is a durable timer, the record is built and kept by record_handover, and the page
goes out through the same notify activity as every page (keyed, so a retry is not a second page).
A `replan` signal (the on-call files changed) asks again before the timer fires. Long-lived:
continues-as-new every 50 hand-overs or when Temporal suggests it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import calls
    from workflows.contracts import Notification
    from workflows.contracts_activities import NotificationBatch
    from workflows.contracts_links import HANDOVER_WORKFLOW, HandoverInput, HandoverPlanRequest, HandoverRecordRequest

HANDOVERS_PER_RUN = 50


@workflow.defn(name=HANDOVER_WORKFLOW)
class OncallHandover:
    def __init__(self) -> None:
        self._replan = False

    @workflow.signal(name="replan")
    def replan(self) -> None:
        """The on-call files changed: ask for the next change again."""
        self._replan = True

    @workflow.run
    async def run(self, inp: HandoverInput) -> int:
        after = inp.after or workflow.now()
        done = inp.done
        run_id = workflow.info().first_execution_run_id
        while True:
            self._replan = False
            plan = await calls.plan_handover(HandoverPlanRequest(schedule=inp.schedule, after=after))
            if plan.at is None:
                return done  # the schedule is gone, or nobody is ever on call again
            wait = (plan.at - workflow.now()).total_seconds()
            if wait > 0:
                try:
                    await workflow.wait_condition(lambda: self._replan, timeout=timedelta(seconds=wait))
                    continue  # replanned before the change: ask again
                except asyncio.TimeoutError:
                    pass
            at = plan.at.isoformat()
            record = await calls.record_handover(HandoverRecordRequest(key=calls.handover_key(run_id, at),
                                                                       plan=plan))
            pages = [Notification(key=calls.handover_key(run_id, at, person), incident_id=f"handover:{inp.schedule}",
                                  kind="FOLLOW_UP", target=f"person:{person}", subject=record.subject,
                                  body=record.body, title=record.subject, template="handover")
                     for person in plan.incoming]
            if pages:
                await calls.send_notifications(NotificationBatch(notifications=pages))
            done += 1
            after = plan.at
            if (done - inp.done) >= HANDOVERS_PER_RUN or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(HandoverInput(schedule=inp.schedule, after=after, done=done))
