"""Service levels in real seconds on the Temporal dev server (issue 14): the timers a
service-levels file sets in seconds fire in real time, through the API as in production; a
deadline that came due while no worker was alive fires once on recovery and the next repeats
from then; an acknowledgement posted during the outage, after its deadline, is recorded as
having overtaken it (not paged) and counted as a breach in the SLA figures.

Times read from the dev server are compared with TOLERANCE: the server fires a timer on time,
and the worker on a loaded 2-core machine may take a few seconds to handle it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from api.app import create_app
from tests.helpers import alert, events, get_state, new_key, pages, running_worker, until
from warroom import client as temporal
from warroom import records
from warroom.levels import check_text, load_levels
from warroom.records import reports
from warroom.settings import Settings
from workflows.contracts import Acknowledge, IncidentState, ResponsePolicy

pytestmark = pytest.mark.devserver

REPO = Path(__file__).resolve().parents[2]
SECONDS_FILE = REPO / "levels" / "seconds.yaml"
TOLERANCE = timedelta(seconds=5)
WAIT = 60.0
SECOND = timedelta(seconds=1)


def levels(text: str) -> ResponsePolicy:
    found, problems = check_text("version: 1\n" + text)
    assert problems == [] and found is not None
    return found.policy


def at(e: dict[str, Any] | Any) -> datetime:
    return datetime.fromisoformat(e["at"]) if isinstance(e, dict) else e.at


async def settled(client: Client, handle: WorkflowHandle) -> IncidentState:
    """The response is in recover with nothing in flight: a worker stopped now leaves no work behind."""

    async def probe() -> IncidentState | None:
        s = await get_state(handle)
        if s.phase != "recover" or s.war_room is None:
            return None
        return None if (await handle.describe()).raw_description.pending_activities else s

    return await until(probe, "the incident to settle in recover", timeout=WAIT, interval=0.1)


async def timer_fired(handle: WorkflowHandle, at_or_after: datetime) -> bool:
    """The server fired a timer at or after this time (it does with no worker alive)."""
    history = await handle.fetch_history()
    return any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED and e.event_time.ToDatetime(tzinfo=UTC) >= at_or_after
               for e in history.events)


async def test_an_ack_escalation_and_an_update_reminder_happen_in_real_seconds(dev_env, engine, task_queue):
    """levels/seconds.yaml through the API, as `WARROOM_SERVICE_LEVELS` sets it in production."""
    p1 = load_levels(SECONDS_FILE).policy.of("P1")
    app = create_app(Settings(task_queue=task_queue, service_levels=SECONDS_FILE), client=dev_env.client,
                     engine=engine)
    headers = {"Authorization": f"Bearer {new_key(engine, 'admin')}"}
    async with running_worker(dev_env.client, task_queue, engine, service_levels=SECONDS_FILE), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom", headers=headers,
                              timeout=30) as http:
        r = await http.post("/api/v1/alerts/generic", json={
            "title": "Checkout is down (seconds)", "priority": "P1", "service": f"checkout-{uuid.uuid4().hex[:6]}",
            "dedup_key": f"seconds-{uuid.uuid4().hex[:10]}"})
        assert r.status_code == 202, r.text
        iid = r.json()["incidents"][0]["id"]

        async def state() -> dict[str, Any]:
            got = await http.get(f"/api/v1/incidents/{iid}")
            assert got.status_code == 200, got.text
            return got.json()

        def both(s: dict[str, Any]) -> bool:
            kinds = {(e["type"], e["details"].get("reason")) for e in s["timeline"]}
            return ("escalated", "ack_timeout") in kinds and ("update.reminder", None) in kinds

        s = await until(state, "an ack-timeout escalation and a status-update reminder", ok=both, timeout=WAIT,
                        interval=0.2)
        await dev_env.client.get_workflow_handle(iid).terminate(reason="test over")
    created = datetime.fromisoformat(s["created_at"])
    assert s["timeline"][0]["details"]["sla"]["ack"] == p1.ack_seconds == 5
    escalated = [e for e in s["timeline"] if e["type"] == "escalated"][0]
    reminder = [e for e in s["timeline"] if e["type"] == "update.reminder"][0]
    ack_due, update_due = created + p1.ack_seconds * SECOND, created + p1.update_seconds * SECOND
    assert ack_due <= at(escalated) <= ack_due + TOLERANCE, (at(escalated) - created)
    assert update_due <= at(reminder) <= update_due + TOLERANCE, (at(reminder) - created)
    assert escalated["details"]["level"] == 2 and escalated["details"]["note"] == "not acknowledged within 5 s"


P1_ACK_8S = "priorities:\n  P1: {ack: 8s, update: 1h, resolve: 2h, nudge: 0, silence: 0}\n"


async def test_an_ack_deadline_missed_in_an_outage_fires_once_and_repeats_from_the_recovery(
        dev_env, engine, task_queue):
    client = dev_env.client
    window = 8 * SECOND
    async with running_worker(client, task_queue, engine):
        t = await temporal.trigger(client, alert(priority="P1", title="Search is down (outage)"),
                                   task_queue=task_queue, policy=levels(P1_ACK_8S))
        s = await settled(client, t.handle)
    assert s.created_at is not None and not events(s, "escalated")
    assert datetime.now(UTC) < s.created_at + window, "setup too slow: the ack deadline passed before the outage"
    # No worker for two windows and more: the deadlines at 8 s and 16 s pass in the outage.
    await until(lambda: datetime.now(UTC) >= s.created_at + 2.5 * window, "two ack windows to pass", timeout=WAIT)
    assert await timer_fired(t.handle, s.created_at + window)
    recovered = datetime.now(UTC)
    async with running_worker(client, task_queue, engine):
        first = await until(lambda: get_state(t.handle), "the overdue escalation after the recovery",
                            ok=lambda s: events(s, "escalated"), timeout=WAIT, interval=0.1)
        esc = events(first, "escalated")
        # once, not a burst of the two windows missed; the next window starts at the recovery
        assert [(e.details["reason"], e.details["level"]) for e in esc] == [("ack_timeout", 2)]
        assert esc[0].at >= recovered
        assert first.deadlines.ack_due == esc[0].at + window
        second = await until(lambda: get_state(t.handle), "the next window's escalation, paged",
                             ok=lambda s: len(pages(s, kind="ESCALATION")) >= 2, timeout=WAIT, interval=0.1)
        await t.handle.terminate(reason="test over")
    nxt = events(second, "escalated")[1]
    assert esc[0].at + window <= nxt.at <= esc[0].at + window + TOLERANCE
    assert [p.details["target"] for p in pages(second, kind="ESCALATION")][:2] == ["oncall:L2", "oncall:L3"]


async def admitted(client: Client, workflow_id: str, update_id: str) -> bool:
    """The server holds the update (it waits for a worker to take it)."""
    try:
        resp = await client.workflow_service.poll_workflow_execution_update(PollWorkflowExecutionUpdateRequest(
            namespace=client.namespace, update_ref=UpdateRef(
                workflow_execution=WorkflowExecution(workflow_id=workflow_id), update_id=update_id),
            wait_policy=WaitPolicy(
                lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED)),
            timeout=timedelta(seconds=2))
    except RPCError:  # not there yet
        return False
    return resp.stage >= UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED


async def test_an_ack_posted_in_an_outage_after_its_deadline_is_recorded_as_a_breach(dev_env, engine, task_queue):
    """The rule (docs/engine.md): the escalation that was due before the acknowledgement is not
    paged (the incident has an owner by the time anyone could be paged), it is recorded as
    `deadline.missed`, and the SLA figures count the breach."""
    client = dev_env.client
    window = 8 * SECOND
    service = f"search-{uuid.uuid4().hex[:6]}"
    async with running_worker(client, task_queue, engine):
        t = await temporal.trigger(client, alert(priority="P1", title="Search is down (late ack)", service=service),
                                   task_queue=task_queue, policy=levels(P1_ACK_8S))
        s = await settled(client, t.handle)
    assert s.created_at is not None
    assert datetime.now(UTC) < s.created_at + window, "setup too slow: the ack deadline passed before the outage"
    await until(lambda: timer_fired(t.handle, s.created_at + window), "the ack deadline to pass in the outage",
                timeout=WAIT, interval=0.2)
    # Alice acknowledges while no worker is alive: the server holds her update.
    ack = asyncio.create_task(t.handle.execute_update("acknowledge", Acknowledge(by="alice"), id="ack-alice",
                                                      result_type=IncidentState))
    await until(lambda: admitted(client, t.workflow_id, "ack-alice"), "the server to hold the acknowledgement",
                timeout=WAIT, interval=0.2)
    async with running_worker(client, task_queue, engine):
        acked = await asyncio.wait_for(ack, WAIT)
        final = await until(lambda: get_state(t.handle), "the records to be written",
                            ok=lambda s: len(records.timeline(engine, incident_id=s.incident_id)) == len(s.timeline),
                            timeout=WAIT, interval=0.2)
        await t.handle.terminate(reason="test over")
    assert acked.status == "acknowledged" and acked.acknowledged_by == "alice"
    missed = events(final, "deadline.missed")
    assert [(e.details["deadline"], e.details["overtaken_by"], e.details["by"]) for e in missed] == [
        ("ack", "acknowledge", "alice")]
    assert datetime.fromisoformat(missed[0].details["due"]) == s.created_at + window
    assert events(final, "escalated") == [] and pages(final, kind="ESCALATION") == []
    report = reports.incident_report(engine, final.incident_id)
    assert report is not None and report.sla.ack_on_time is False
    figures = reports.sla_figures(engine, service=service)["by_priority"]["P1"]
    assert figures["response_sla"] == {"met": 0, "total": 1, "rate": 0.0}
