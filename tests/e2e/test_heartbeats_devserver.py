"""Heartbeats on the real Temporal dev server with the worker as a process that is SIGKILLed:
the miss timer comes due while no worker is alive, and the next worker opens exactly one
incident for it; killed again and replaced, nothing fires twice, and a ping resolves it.
(The time-skipping server holds its clock while a task waits for a worker, so this part of
"a crashed worker never misses or double-fires" is shown here, in real time.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from tests.e2e.test_durability import crew, timer_fired, wait_polling  # noqa: F401 - crew is a fixture
from tests.helpers import until
from warroom import client as temporal
from warroom import heartbeats as beats
from warroom import records
from warroom.records import heartbeats as monitors
from workflows.heartbeat import HeartbeatState, workflow_id

pytestmark = pytest.mark.devserver
WAIT = 60.0


async def test_a_miss_that_comes_due_with_no_worker_alive_opens_one_incident(dev_env, engine, task_queue,
                                                                           crew):  # noqa: F811
    client = dev_env.client
    m = monitors.create_monitor(engine, name=f"cron-{uuid.uuid4().hex[:8]}", interval="4s", priority="P2",
                                service=f"cron-{uuid.uuid4().hex[:6]}")
    handle = client.get_workflow_handle(workflow_id(m.name))

    async def live() -> HeartbeatState | None:
        try:
            return await asyncio.wait_for(handle.query("get_state", result_type=HeartbeatState), 10)
        except Exception:  # no worker to answer yet
            return None

    def incidents() -> list:
        return records.list_incidents(engine, service=[m.service])[0]

    first = crew.start()
    await wait_polling(client, task_queue, first)
    await beats.ping(client, m, task_queue=task_queue, source="cron")
    up = await until(live, "the first ping handled", ok=lambda s: s is not None and s.state == "up", timeout=WAIT)
    first.kill()
    # the 4 s timer fires on the server with no worker alive
    assert up.last_ping_at is not None
    await until(lambda: timer_fired(handle, up.last_ping_at), "the miss timer to fire with no worker",
                timeout=WAIT, interval=0.2)
    assert incidents() == []

    second = crew.start()
    await wait_polling(client, task_queue, second)
    down = await until(live, "the miss handled by the next worker",
                       ok=lambda s: s is not None and s.state == "down" and s.incident_id, timeout=WAIT)
    assert abs(down.down_since - (up.last_ping_at + timedelta(seconds=4))) <= timedelta(seconds=1)
    await until(incidents, "the incident recorded", ok=lambda r: len(r) == 1, timeout=WAIT)
    second.kill()

    third = crew.start()
    await wait_polling(client, task_queue, third)
    await beats.ping(client, m, task_queue=task_queue, source="cron")
    again = await until(live, "up again", ok=lambda s: s is not None and s.state == "up", timeout=WAIT)
    assert (again.misses, again.incident_id) == (1, down.incident_id)
    wf = temporal.split_incident_id(down.incident_id)[0]
    await until(lambda: temporal.current(client, wf), "the source resolve",
                ok=lambda s: any(e.type == "alert.resolved" for e in s.timeline), timeout=WAIT)
    await handle.terminate(reason="test over")  # its 4 s timer would open the next outage's incident
    # the outage of the killed workers opened exactly one incident, from one alert
    rows = [r for r in incidents() if r.dedup_key == down.dedup_key]
    assert [(r.incident_id, r.alert_count) for r in rows] == [(down.incident_id, 1)]
