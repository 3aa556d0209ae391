"""Maintenance windows in virtual time (time-skipping server): an incident that starts inside
a window is recorded and pages nobody; paging starts when the window ends with the problem still
firing; resolved inside it, it never pages; an incident open before the window keeps paging;
a worker stopped and started again mid-window changes nothing (docs/maintenance.md)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle

from tests.helpers import (
    MINUTE,
    advance_to,
    alert,
    assert_replays,
    at_minutes,
    events,
    final_state,
    get_state,
    minutes,
    pages,
    running_worker,
    sent_minutes,
    start,
    until,
)
from warroom import client as temporal
from warroom import records
from warroom.maintenance import Window, plan
from warroom.records import maintenance as stored
from warroom.windows import end_window, hold_of, open_window, window_handle, window_state
from workflows.policy import default_policy

P1_INITIAL = {"oncall:L1", "technical_lead", "senior_engineer"}


async def make_window(env: Any, engine: Any, task_queue: str, *, duration: str = "2h", starts_in: float = 0,
                      **match: Any) -> Window:
    now = await env.get_current_time()
    fields = plan(now=now, starts_at=now + timedelta(minutes=starts_in), ends_at=None, duration=duration,
                  reason="database upgrade", **match)
    return await open_window(env.client, engine, task_queue=task_queue, created_by="alice", **fields)


async def start_held(client: Client, task_queue: str, w: Window, **kw: Any) -> WorkflowHandle:
    """An incident as intake starts it when the window holds its alert."""
    t = await temporal.trigger_many(client, [alert(**kw)], task_queue=task_queue, policy=default_policy(),
                                    maintenance=hold_of(w))
    return t.handle


def service() -> str:
    return f"orders-{uuid.uuid4().hex[:6]}"


async def test_alert_in_a_window_pages_nobody_and_paging_starts_when_it_ends(env, engine, task_queue):
    svc = service()
    async with running_worker(env.client, task_queue, engine):
        w = await make_window(env, engine, task_queue, duration="2h", service=svc)
        h = await start_held(env.client, task_queue, w, service=svc, priority="P1")
        await advance_to(env, h, 90)  # three times P1's 30 min acknowledge SLA
        s = await get_state(h)
        assert pages(s) == [] and events(s, "escalated") == []
        held = events(s, "maintenance.held")
        assert len(held) == 1 and held[0].details["window"] == w.id
        assert held[0].details["reason"] == "database upgrade"
        assert s.maintenance is not None and s.maintenance["held"] is True
        assert s.deadlines.ack_due is None  # no clock runs inside the window
        assert s.phase == "notify" and s.status == "triggered"

        await advance_to(env, h, 121)
        s = await until(lambda: get_state(h), "the first pages after the window",
                        ok=lambda s: {p.details["target"] for p in pages(s, kind="INITIAL")} == P1_INITIAL)
        # the window ends at 120: the incident says so, then pages; its ack SLA counts from there
        assert at_minutes(s, "maintenance.ended") == minutes(120)
        ended = events(s, "maintenance.ended")[0].details
        assert ended["window"] == w.id and ended["held"] is True and "starts now" in ended["paging"]
        assert [(p.at - s.created_at) / MINUTE for p in pages(s, kind="INITIAL")] == sent_minutes(120, 120, 120)
        assert s.deadlines.ack_due is not None
        assert [(s.deadlines.ack_due - s.created_at) / MINUTE] == minutes(150)

        await advance_to(env, h, 151)
        s = await get_state(h)
        assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(150)
        # the window's workflow ended on time and recorded it
        state = await window_handle(env.client, w.id).result()
        assert state.status == "ended" and h.id in state.incidents
        recorded = stored.window(engine, w.id)
        assert recorded is not None and recorded.ended_at is not None
        assert abs(recorded.ended_at - w.ends_at) <= timedelta(seconds=10)
        await assert_replays(env.client, h)


async def test_alert_resolved_inside_the_window_never_pages(env, engine, task_queue):
    svc = service()
    async with running_worker(env.client, task_queue, engine):
        w = await make_window(env, engine, task_queue, duration="1h", service=svc)
        h = await start_held(env.client, task_queue, w, service=svc, priority="P0")
        await advance_to(env, h, 20)
        await temporal.source_resolved(env.client, h.id, source="alertmanager", summary="upgrade done")
        s = await final_state(env.client, h)
        await advance_to(env, s, 70)  # past the window's end
        await window_handle(env.client, w.id).result()
    assert s.status == "closed"
    assert [e for e in s.timeline if e.type.startswith("notification.")] == []
    assert at_minutes(s, "maintenance.resolved") == minutes(20)
    assert events(s, "maintenance.ended") == []
    assert s.maintenance is not None and s.maintenance["resolved_in_window"] is True
    assert records.communications(engine, incident_id=s.incident_id) == []


async def test_incident_open_before_the_window_keeps_paging(env, engine, task_queue):
    svc = service()
    async with running_worker(env.client, task_queue, engine):
        team = f"d{uuid.uuid4().hex[:6]}"  # its own: the records (and so the windows) are the session's
        h = await start(env.client, task_queue, service=svc, priority="P1", labels={"team": team, "env": "prod"})
        await until(lambda: records.incident(engine, incident_id=h.id), "the incident in the records")
        await advance_to(env, h, 5)
        # made at 5 min, scheduled from 10 to 70: its workflow waits for the start on a timer
        w = await make_window(env, engine, task_queue, starts_in=5, duration="1h",
                              matchers=[f"team=~{team[:4]}.*", "env!=staging"])
        assert (await window_state(env.client, w.id)).status == "scheduled"
        await advance_to(env, h, 11)
        await until(lambda: get_state(h), "the window's start on the timeline",
                    ok=lambda s: events(s, "maintenance.started"))
        await advance_to(env, h, 71)
        s = await until(lambda: get_state(h), "the window's end on the timeline",
                        ok=lambda s: events(s, "maintenance.ended"))
    assert at_minutes(s, "maintenance.started") == minutes(10)
    started = events(s, "maintenance.started")[0].details
    assert started["window"] == w.id and started["held"] is False and "keeps paging" in started["paging"]
    assert at_minutes(s, "maintenance.ended") == minutes(70)
    # it paged as any incident: first pages at once, the ack SLA's escalation at 30 min, in the window
    assert {p.details["target"] for p in pages(s, kind="INITIAL")} == P1_INITIAL
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(30, 60)
    assert [e.type for e in s.timeline if e.type == "notification.held"] == []


async def test_window_ended_early_releases_at_once(env, engine, task_queue):
    svc = service()
    async with running_worker(env.client, task_queue, engine):
        w = await make_window(env, engine, task_queue, duration="4h", service=svc)
        h = await start_held(env.client, task_queue, w, service=svc, priority="P2")
        await advance_to(env, h, 10)
        await until(lambda: window_state(env.client, w.id), "the incident to join the window",
                    ok=lambda st: h.id in st.incidents)
        await end_window(env.client, engine, w, by="bob")
        s = await until(lambda: get_state(h), "the first page after the early end",
                        ok=lambda s: pages(s, kind="INITIAL"))
    ended = events(s, "maintenance.ended")[0].details
    assert ended["ended_by"] == "bob" and ended["early"] is True
    assert at_minutes(s, "maintenance.ended") == minutes(10)
    assert [(p.at - s.created_at) / MINUTE for p in pages(s, kind="INITIAL")] == sent_minutes(10)


async def test_worker_stopped_and_started_again_mid_window_ends_it_on_time_paging_once(env, engine, task_queue):
    svc = service()
    async with running_worker(env.client, task_queue, engine):
        w = await make_window(env, engine, task_queue, duration="1h", service=svc)
        h = await start_held(env.client, task_queue, w, service=svc, priority="P1")
        await until(lambda: window_state(env.client, w.id), "the incident to join the window",
                    ok=lambda st: h.id in st.incidents)
        await advance_to(env, h, 20)
    # no worker from 20 to 40 min
    await env.sleep(timedelta(minutes=20))
    async with running_worker(env.client, task_queue, engine):
        await advance_to(env, h, 61)
        s = await until(lambda: get_state(h), "the first pages after the window",
                        ok=lambda s: {p.details["target"] for p in pages(s, kind="INITIAL")} == P1_INITIAL)
        await advance_to(env, h, 95)
        s = await get_state(h)
        await assert_replays(env.client, h)
    assert at_minutes(s, "maintenance.ended") == minutes(60)
    assert [e.type for e in s.timeline].count("maintenance.ended") == 1
    keys = Counter(p.details["key"] for p in pages(s))
    assert all(n == 1 for n in keys.values()), keys
    assert [(p.at - s.created_at) / MINUTE for p in pages(s, kind="INITIAL")] == sent_minutes(60, 60, 60)
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(90)
    rows = records.communications(engine, incident_id=s.incident_id)  # pages, and the war room's brief
    assert Counter(r.key for r in rows if not r.key.endswith(":war_room")) == Counter({k: 1 for k in keys})
