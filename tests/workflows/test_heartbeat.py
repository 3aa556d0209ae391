"""Heartbeat monitors in virtual time (the time-skipping server): a ping keeps a monitor up, a
missed ping opens one incident of the monitor's priority through the alert path (it pages), the
next ping resolves it as its source; a worker stopped mid-interval and started again loses no
miss and fires none twice; a retried miss activity joins its incident; history stays bounded."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from activities.heartbeat import HeartbeatActivities
from tests.helpers import TIMER_TOLERANCE, pages, running_worker, until, worker_settings
from warroom import client as temporal
from warroom import heartbeats as beats
from warroom import records
from warroom.records import heartbeats as monitors
from workflows.heartbeat import Heartbeat, HeartbeatMissed, HeartbeatState, miss_key, workflow_id

INTERVAL = timedelta(minutes=5)


def monitor(engine, **kw) -> monitors.Monitor:
    kw.setdefault("name", f"backup-{uuid.uuid4().hex[:8]}")
    kw.setdefault("interval", "5m")
    kw.setdefault("priority", "P2")
    kw.setdefault("service", f"backups-{uuid.uuid4().hex[:6]}")
    return monitors.create_monitor(engine, **kw)


async def live(env, m) -> HeartbeatState:
    return await env.client.get_workflow_handle(workflow_id(m.name)).query("get_state", result_type=HeartbeatState)


async def ping(env, m, task_queue, **kw) -> HeartbeatState:
    """Ping and wait until the workflow has handled it (its due time moved past now)."""
    before = await env.get_current_time()
    await beats.ping(env.client, m, task_queue=task_queue, source="cron", **kw)
    return await until(lambda: live(env, m), "the ping to be handled",
                       ok=lambda s: s.state == "up" and s.due_at is not None and s.due_at >= before + INTERVAL)


def incidents_of(engine, m) -> list:
    rows, _ = records.list_incidents(engine, service=[m.service])
    return rows


async def test_pings_keep_it_up_a_miss_opens_one_incident_that_pages_and_the_next_ping_resolves_it(
        env, engine, task_queue):
    m = monitor(engine)
    async with running_worker(env.client, task_queue, engine):
        first = await ping(env, m, task_queue)
        assert (first.state, first.pings) == ("up", 1)
        # pinged every 4 min for 20 min: never down
        for _ in range(5):
            await env.sleep(timedelta(minutes=4))
            st = await ping(env, m, task_queue)
        assert (st.state, st.pings, st.misses) == ("up", 6, 0)
        assert incidents_of(engine, m) == []
        last_ping = st.last_ping_at

        await env.sleep(INTERVAL + timedelta(seconds=30))  # the next ping never comes
        down = await until(lambda: live(env, m), "the miss", ok=lambda s: s.state == "down" and s.incident_id)
        assert down.down_since is not None and abs(down.down_since - (last_ping + INTERVAL)) <= TIMER_TOLERANCE
        assert down.dedup_key == miss_key(m.name, down.down_since)
        inc = await until(lambda: temporal.state(env.client, down.incident_id), "the incident to answer")
        assert (inc.priority, inc.service, inc.title) == ("P2", m.service, f"Heartbeat {m.name} missed")
        assert [e.actor for e in inc.timeline if e.type == "triggered"] == [f"heartbeat:{m.name}"]
        opened_at = inc.created_at
        assert opened_at is not None and abs(opened_at - (last_ping + INTERVAL)) <= TIMER_TOLERANCE
        # it pages like any alert: the ticket's first page to the on-call engineer
        inc = await until(lambda: temporal.state(env.client, down.incident_id), "the first page",
                          ok=lambda s: pages(s))
        row = await until(lambda: monitors.find(engine, m.name), "the records to say down",
                          ok=lambda r: r.state == "down")
        assert row.incident_id == down.incident_id
        # the records learn the last ping from the workflow too (these pings bypassed the API)
        assert row.last_ping_at is not None and abs(row.last_ping_at - last_ping) < timedelta(milliseconds=1)

        # still down an hour later: no second incident (a miss is one outage, not one per interval)
        await env.sleep(timedelta(hours=1))
        assert (await live(env, m)).misses == 1 and len(incidents_of(engine, m)) == 1

        await beats.ping(env.client, m, task_queue=task_queue, source="cron")
        up = await until(lambda: live(env, m), "the recovery", ok=lambda s: s.state == "up")
        assert up.incident_id == down.incident_id
        done = await until(lambda: temporal.current(env.client, temporal.split_incident_id(down.incident_id)[0]),
                           "the source resolve", ok=lambda s: s.status in ("resolved", "closed"))
        resolved = [e for e in done.timeline if e.type == "alert.resolved"]
        assert [e.actor for e in resolved] == [f"heartbeat:{m.name}"]
        await until(lambda: monitors.find(engine, m.name), "the records to say up", ok=lambda r: r.state == "up")

        # the next outage is an incident of its own
        await env.sleep(INTERVAL + timedelta(seconds=30))
        again = await until(lambda: live(env, m), "the second miss", ok=lambda s: s.misses == 2 and s.state == "down")
        assert again.incident_id and again.incident_id != down.incident_id
        await until(lambda: incidents_of(engine, m), "two incidents recorded", ok=lambda r: len(r) == 2)


async def test_a_worker_stopped_mid_interval_loses_no_miss_and_fires_none_twice(env, engine, task_queue):
    """The time-skipping server holds its clock while a workflow task waits for a worker, so here
    the worker is away for part of the interval (the timer is Temporal's, not the worker's);
    tests/e2e/test_heartbeats_devserver.py lets the timer fire with no worker at all."""
    m = monitor(engine)
    async with running_worker(env.client, task_queue, engine):
        st = await ping(env, m, task_queue)
        await env.sleep(timedelta(minutes=2))
    await env.sleep(timedelta(minutes=2, seconds=30))  # no worker: 4.5 min into the 5 min interval
    assert incidents_of(engine, m) == []
    async with running_worker(env.client, task_queue, engine):
        await env.sleep(timedelta(minutes=1))
        down = await until(lambda: live(env, m), "the miss, handled by the new worker",
                           ok=lambda s: s.state == "down" and s.incident_id)
        assert abs(down.down_since - (st.last_ping_at + INTERVAL)) <= TIMER_TOLERANCE
        await until(lambda: incidents_of(engine, m), "the incident recorded", ok=lambda r: len(r) == 1)
    # another worker, half an hour later: nothing fires again
    async with running_worker(env.client, task_queue, engine):
        await env.sleep(timedelta(minutes=30))
        st = await live(env, m)
        assert (st.state, st.misses, st.incident_id) == ("down", 1, down.incident_id)
        rows = await until(lambda: incidents_of(engine, m), "the incident", ok=lambda r: len(r) == 1)
        assert rows[0].alert_count == 1
    # a ping sent while no worker runs is kept by Temporal and resolves on the next worker
    await beats.ping(env.client, m, task_queue=task_queue, source="cron")
    async with running_worker(env.client, task_queue, engine):
        up = await until(lambda: live(env, m), "the recovery", ok=lambda s: s.state == "up")
        assert up.misses == 1
        await until(lambda: temporal.current(env.client, temporal.split_incident_id(down.incident_id)[0]),
                    "the source resolve", ok=lambda s: s.status in ("resolved", "closed"))
        assert len(incidents_of(engine, m)) == 1


async def test_a_retried_miss_joins_the_incident_it_opened(env, engine, task_queue):
    m = monitor(engine)
    due = await env.get_current_time()
    missed = HeartbeatMissed(monitor_id=m.id, name=m.name, dedup_key=miss_key(m.name, due), due_at=due,
                             last_ping_at=due - INTERVAL, interval_seconds=300, priority="P1", service=m.service,
                             title="")
    acts = HeartbeatActivities(engine, worker_settings(task_queue, {}))
    async with running_worker(env.client, task_queue, engine):
        first = await ActivityEnvironment(client=env.client).run(acts.heartbeat_missed, missed)
        again = await ActivityEnvironment(client=env.client).run(acts.heartbeat_missed, missed)
        assert first.incident_id == again.incident_id
        st = await until(lambda: temporal.state(env.client, first.incident_id), "the incident",
                         ok=lambda s: s.alert_count >= 1)
        assert (st.priority, st.alert_count) == ("P1", 1)
        assert len(await until(lambda: incidents_of(engine, m), "recorded", ok=lambda r: len(r) == 1)) == 1
    # a deleted monitor opens nothing
    monitors.delete_monitor(engine, m.name)
    later = HeartbeatMissed(**{**missed.__dict__, "dedup_key": miss_key(m.name, due + INTERVAL)})
    gone = await ActivityEnvironment(client=env.client).run(acts.heartbeat_missed, later)
    assert gone.gone and not gone.incident_id


async def test_many_pings_continue_as_new_keep_the_state_and_replay(env, engine, task_queue):
    m = monitor(engine, interval="30s")
    async with running_worker(env.client, task_queue, engine):
        for _ in range(12):
            await beats.ping(env.client, m, task_queue=task_queue, source="cron", continue_as_new_after_events=20)
            await env.sleep(timedelta(seconds=10))
        st = await until(lambda: live(env, m), "every ping handled", ok=lambda s: s.pings == 12)
        handle = env.client.get_workflow_handle(workflow_id(m.name))
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        assert started.continued_execution_run_id, "the run continued as new"
        assert len(history.events) <= 40, len(history.events)
        assert (st.state, st.misses) == ("up", 0)
        await env.sleep(timedelta(seconds=45))
        down = await until(lambda: live(env, m), "the miss after continue-as-new", ok=lambda s: s.state == "down")
        assert down.pings == 12 and down.incident_id
        # the current run replays on this code
        result = await Replayer(workflows=[Heartbeat]).replay_workflow(await handle.fetch_history(),
                                                                      raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure
