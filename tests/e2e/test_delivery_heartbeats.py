"""A dead worker's deliveries retry within seconds (issue 14): the sending activities heartbeat
(activities/common.py `heartbeats`), so the server notices the dead attempt after the short
heartbeat timeout (workflows/calls.py SEND_HEARTBEAT_TIMEOUT, 10 s), not after the 30 s
start-to-close timeout, and another worker sends the page again with the same Idempotency-Key.

On the real dev server with `python worker.py` processes (the durability tests' crew).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from sqlalchemy.engine import Engine
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.testing import WorkflowEnvironment

from tests.e2e.test_durability import (  # noqa: F401 - crew is a fixture
    Crew,
    assert_no_task_failure,
    crew,
    notify_done,
    oncall_files,
    p0_policy,
    state_when,
    wait_polling,
)
from tests.helpers import alert, until
from warroom import client as temporal
from warroom import records
from workflows import calls

# Between the kill and the page arriving again: the heartbeat timeout counted from the last
# heartbeat before the kill (at most HEARTBEAT_EVERY + the worker's throttle earlier), the first
# retry interval (1 s), the restarted worker taking the task, and a loaded 2-core machine.
RETRY_TOLERANCE = 8.0


def assert_retried_after_a_heartbeat_timeout(history: list, what: str) -> None:
    """The killed attempt of `what` was retried, and the server ended it by its heartbeat timeout."""
    retried = [e for e in history if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
               and e.activity_task_started_event_attributes.attempt > 1]
    assert retried, f"the killed {what} should have been retried"
    cause = retried[0].activity_task_started_event_attributes.last_failure.timeout_failure_info.timeout_type
    assert cause == TimeoutType.TIMEOUT_TYPE_HEARTBEAT, f"the dead attempt ended by {TimeoutType.Name(cause)}"


async def test_a_dead_workers_delivery_is_sent_again_within_the_heartbeat_timeout(
        dev_env: WorkflowEnvironment, engine: Engine, task_queue: str, crew: Crew, tmp_path: Path):
    from tests.receivers import Receiver

    client = dev_env.client
    with Receiver() as fast, Receiver(delay=60) as slow:
        crew.env["WARROOM_ONCALL_DIR"] = str(oncall_files(tmp_path, fast, slow))
        first = crew.start()
        await wait_polling(client, task_queue, first)
        t = await temporal.trigger(client, alert(priority="P0", title="Ledger is down (heartbeats)"),
                                   task_queue=task_queue, policy=p0_policy(update_seconds=3600))
        h = crew.watch(t.handle)

        async def others_recorded_tm2_in_flight() -> bool:
            rows = await asyncio.to_thread(records.deliveries, engine, incident_id=t.incident_id)
            sent = {r.person for r in rows if r.status == "SENT"}
            return sent >= {"l1", "tm1", "csm", "sen"} and any(r.path == "/tm2" for r in slow.requests)

        await until(others_recorded_tm2_in_flight, "the other pages recorded and tm2 in flight", timeout=30,
                    interval=0.05)
        killed_at = time.monotonic()
        first.kill()
        slow.program(delay=0)
        second = crew.start()  # at once: the retry waits for the server, not for a worker
        await wait_polling(client, task_queue, second)

        await until(lambda: len([r for r in slow.requests if r.path == "/tm2"]) >= 2,
                    "tm2's page to be sent again", timeout=calls.NOTIFY_TIMEOUT.total_seconds() + 30, interval=0.05)
        again = [r for r in slow.requests if r.path == "/tm2"][1]
        waited = again.at - killed_at
        limit = calls.SEND_HEARTBEAT_TIMEOUT.total_seconds() + RETRY_TOLERANCE
        assert waited <= limit, f"the page came again {waited:.1f}s after the kill (limit {limit:.0f}s)"
        assert waited < calls.NOTIFY_TIMEOUT.total_seconds()
        s = await state_when(h, notify_done, "notify to finish after the restart")
        history = await assert_no_task_failure(h)

    assert_retried_after_a_heartbeat_timeout(history, "send_notifications")
    # What the people saw: everyone once, tm2 twice with the same key (the documented window).
    assert Counter(r.path for r in fast.requests) == Counter({"/l1": 1, "/tm1": 1, "/csm": 1, "/sen": 1})
    tm2 = [r for r in slow.requests if r.path == "/tm2"]
    assert len(tm2) == 2 and len({r.header("Idempotency-Key") for r in tm2}) == 1
    assert {p.details["status"] for p in s.timeline if p.type == "notification.sent"} == {"SENT"}


async def test_a_dead_workers_long_recovery_step_runs_again_within_the_heartbeat_timeout(
        dev_env: WorkflowEnvironment, engine: Engine, task_queue: str, crew: Crew, tmp_path: Path):
    """A runbook's http step that takes a minute (a rolling restart) heartbeats like a delivery:
    the worker running it is SIGKILLed mid-step and the step's next attempt reaches the service
    within the heartbeat timeout (calls.HEARTBEAT_TIMEOUT, 10 s), not after the step's 120 s,
    with the same Idempotency-Key, and the step succeeds on the timeline."""
    from tests.receivers import Receiver
    from workflows.contracts import ActionSpec, RunbookSpec

    client = dev_env.client
    with Receiver() as pages_to, Receiver(delay=60) as service:
        crew.env["WARROOM_ONCALL_DIR"] = str(oncall_files(tmp_path, pages_to, pages_to))
        runbook = RunbookSpec(name="rolling-restart", version="1", war_room=False, recover=[ActionSpec(
            id="restart", kind="http", title="Rolling restart", timeout_seconds=120, max_attempts=3,
            params={"url": f"{service.url}/restart", "method": "POST"})])
        first = crew.start()
        await wait_polling(client, task_queue, first)
        t = await temporal.trigger(client, alert(priority="P0", title="Ledger is down (long step)"),
                                   task_queue=task_queue, policy=p0_policy(update_seconds=3600), runbook=runbook)
        h = crew.watch(t.handle)
        await state_when(h, lambda s: s.phase == "recover", "the response at recover")
        await temporal.act(client, t.incident_id, "acknowledge", {"by": "alice"})
        await until(lambda: [r for r in service.requests if r.path == "/restart"], "the restart under way",
                    timeout=60, interval=0.05)
        killed_at = time.monotonic()
        first.kill()
        service.program(delay=0)
        second = crew.start()
        await wait_polling(client, task_queue, second)
        await until(lambda: len([r for r in service.requests if r.path == "/restart"]) >= 2,
                    "the restart to run again", timeout=120, interval=0.05)
        again = [r for r in service.requests if r.path == "/restart"][1]
        waited = again.at - killed_at
        limit = calls.HEARTBEAT_TIMEOUT.total_seconds() + RETRY_TOLERANCE
        assert waited <= limit, f"the step ran again {waited:.1f}s after the kill (limit {limit:.0f}s)"
        s = await state_when(h, lambda s: any(e.type == "action.succeeded" for e in s.timeline),
                             "the step to succeed")
        history = await assert_no_task_failure(h)

    assert_retried_after_a_heartbeat_timeout(history, "run_action")
    restarts = [r for r in service.requests if r.path == "/restart"]
    assert len(restarts) == 2 and len({r.header("Idempotency-Key") for r in restarts}) == 1
    assert [e.details["step"] for e in s.timeline if e.type == "action.succeeded"] == ["restart"]
