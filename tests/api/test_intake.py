"""Alert intake (api/intake.py): concurrent alerts of one dedup key share a signal-with-start,
every sender is answered with its incident, and re-sends are counted apart from new alerts.

What a user sees: every sender's 202 names the one incident, exactly one of them says it
opened it, the incident counts each distinct alert once, and its history holds fewer alert
signals than there were alerts (they were carried together).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from temporalio.api.enums.v1 import EventType

from tests.helpers import api

SENDERS = 60
DISTINCT = 20  # each sent three times


async def _signals(env, workflow_id: str) -> Counter[str]:
    handle = env.client.get_workflow_handle(workflow_id)
    return Counter([e.workflow_execution_signaled_event_attributes.signal_name
                    async for e in handle.fetch_history_events()
                    if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED])


async def test_concurrent_alerts_of_one_key_share_signals_and_count_distinct_alerts(env, engine, task_queue):
    k = f"intake-{uuid.uuid4().hex[:10]}"
    bodies = [{"title": "Queue depth high", "service": "orders", "severity": "warning", "dedup_key": k,
               "fingerprint": f"shard-{i % DISTINCT}"} for i in range(SENDERS)]
    async with api(env, engine, task_queue) as http:
        answers = await asyncio.gather(*(http.post("/api/v1/alerts/generic", json=b) for b in bodies))
        assert [r.status_code for r in answers] == [202] * SENDERS, [r.text for r in answers if r.status_code != 202]
        refs = [r.json()["incidents"][0] for r in answers]
        assert {x["id"] for x in refs} == {f"incident-{k}"}
        assert sum(not x["deduplicated"] for x in refs) == 1  # one opened it, the others joined
        state = (await http.get(f"/api/v1/incidents/incident-{k}")).json()
        signals = await _signals(env, f"incident-{k}")
    assert (state["alert_count"], state["resent_count"]) == (DISTINCT, SENDERS - DISTINCT)
    assert [e["type"] for e in state["timeline"]].count("triggered") == 1
    # one timeline event per signal that brought new alerts, not one per alert
    received = [e for e in state["timeline"] if e["type"] == "alert.received"]
    assert len(received) <= signals["alerts_received"] and received[-1]["details"]["count"] == DISTINCT
    assert set(signals) == {"alerts_received"} and signals["alerts_received"] < SENDERS // 2, signals


async def test_alerts_after_the_incident_closed_open_the_next_one(env, engine, task_queue):
    """What the intake remembers of a key's run only predicts the next incident's id: the
    alert after a close opens `~2`, and the one after that joins it."""
    k = f"intake-{uuid.uuid4().hex[:10]}"
    body = {"title": "Disk almost full", "service": "logs", "severity": "info", "dedup_key": k}
    async with api(env, engine, task_queue) as http:
        first = (await http.post("/api/v1/alerts/generic", json=body)).json()["incidents"][0]
        assert (first["id"], first["deduplicated"]) == (f"incident-{k}", False)
        await env.client.get_workflow_handle(first["id"]).terminate("test: the incident ended")
        second = (await http.post("/api/v1/alerts/generic", json=body)).json()["incidents"][0]
        third = (await http.post("/api/v1/alerts/generic", json={**body, "fingerprint": "another"})).json()
    assert (second["id"], second["deduplicated"]) == (f"incident-{k}~2", False)
    assert [(x["id"], x["deduplicated"]) for x in third["incidents"]] == [(f"incident-{k}~2", True)]
