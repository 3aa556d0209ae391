"""Paging through real channels (issue 6), in virtual time on the time-skipping server.

Every page goes from the workflow through send_notification, the on-call configuration
(written per test, with schedules placed around the incident's own start time) and Apprise,
to HTTP receivers these tests start on 127.0.0.1. What is asserted is what a receiver got:
which person was paged, when, how often, with which Idempotency-Key, and what the timeline
and the records say about it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.fake_slack import FakeSlack
from tests.helpers import MINUTE, advance_to, events, final_state, get_state, minutes, pages, running_worker, start
from tests.receivers import Receiver
from warroom import records
from warroom import client as temporal
from warroom.oncall import OnCallConfig
from warroom.delivery.war_rooms import SlackWarRoom, slack_channel_name

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def local(at: datetime, zone: ZoneInfo) -> str:
    """A wall-clock time in `zone`, as schedules write it (no offset)."""
    return at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def person(pid: str, *urls: str, language: str = "en", slack: str = "") -> dict[str, Any]:
    p: dict[str, Any] = {"id": pid, "name": pid.capitalize(), "timezone": "UTC", "language": language,
                         "contacts": [{"kind": "webhook", "url": u} for u in urls]}
    if slack:
        p["chat_handles"] = {"slack": slack}
    return p


def write_config(tmp_path: Path, doc: dict[str, Any]) -> OnCallConfig:
    import yaml

    doc.setdefault("teams", [{"id": "sre", "name": "SRE", "members": [p["id"] for p in doc["people"]]}])
    for sched in doc.get("schedules", []):
        sched.setdefault("team", "sre")
    d = tmp_path / "oncall"
    d.mkdir(exist_ok=True)
    (d / "team.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return OnCallConfig.load(d)


async def communications_over_http(engine: Any, incident_id: str) -> list[dict[str, Any]]:
    import httpx
    from fastapi import FastAPI

    from api.routes.reports import router

    app = FastAPI()
    app.state.engine = engine
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/api/v1/incidents/incident-nope/communications")).status_code == 404
        r = await c.get(f"/api/v1/incidents/{incident_id}/communications")
        assert r.status_code == 200
        return r.json()["communications"]


def received(rx: Receiver, who: str) -> list[Any]:
    """The messages person `who` accepted (2xx), in order."""
    return [r for r in rx.delivered if r.path == f"/{who}"]


# --------------------------------------------------------------------------- P0: L1, L2, ack, updates


async def test_p0_pages_l1_escalates_to_the_l2_of_that_time_and_stops_after_the_ack(
        env, engine, task_queue, tmp_path):
    t0 = await env.get_current_time()
    with Receiver() as rx:
        url = lambda who: f"json://{rx.netloc}/{who}"  # noqa: E731
        config = write_config(tmp_path, {
            "people": [person(p, url(p), language="zh" if p == "olga" else "en")
                       for p in ("ivan", "olga", "carol", "dave", "tm", "csm", "sen")],
            "schedules": [
                # L1: ivan's week, but olga holds an override over the incident's first hour.
                {"id": "l1", "timezone": "America/New_York",
                 "layers": [{"rotation": "weekly", "start": local(t0 - timedelta(days=2), NEW_YORK),
                             "users": ["ivan", "carol"]}],
                 "overrides": [{"start": (t0 - timedelta(minutes=5)).isoformat(),
                                "end": (t0 + timedelta(hours=1)).isoformat(), "user": "olga"}]},
                # L2: a weekly rotation in Shanghai whose hand-over (carol -> dave) falls 10 minutes
                # into the incident: the escalation at 15 minutes must reach the new week's dave.
                {"id": "l2", "timezone": "Asia/Shanghai",
                 "layers": [{"rotation": "weekly",
                             "start": local(t0 + timedelta(minutes=10) - timedelta(weeks=1), SHANGHAI),
                             "users": ["carol", "dave"]}]},
            ],
            "escalation_policies": [{"id": "default", "levels": [
                {"targets": ["schedule:l1"], "wait_minutes": 15},
                {"targets": ["schedule:l2"], "wait_minutes": 30},
            ]}],
            "roles": {"technical_manager": ["person:tm"], "customer_success_manager": ["person:csm"],
                      "senior_engineer": ["person:sen"]},
        })
        async with running_worker(env.client, task_queue, engine, oncall=lambda: config, retry_delay=0.01):
            h = await start(env.client, task_queue, priority="P0", title="Checkout is down")
            await advance_to(env, h, 14)
            before = await get_state(h)
            # the first page: olga (override), in her language; the rotation's ivan is not woken.
            # Her second page is the nudge at 12 min (80 % of the ack SLA).
            first, nudge = received(rx, "olga")
            assert [p.details["kind"] for p in pages(before, target="oncall:L1")] == ["INITIAL", "REMINDER"]
            assert "新事件" in first.json["title"] and "Checkout is down" in first.json["title"]
            assert first.header("Idempotency-Key") == f"{pages(before, target='oncall:L1')[0].details['key']}:olga:0"
            assert received(rx, "ivan") == [] and received(rx, "carol") == []
            [l1] = pages(before, target="oncall:L1", kind="INITIAL")
            assert l1.details["recipients"] == ["olga"] and "Olga (override)" in l1.details["via"]

            await advance_to(env, h, 16)  # ack SLA (15 min) passed: escalated to L2
            s = await get_state(h)
            [esc] = pages(s, kind="ESCALATION")
            assert esc.details["target"] == "oncall:L2" and esc.details["recipients"] == ["dave"]
            assert "schedule l2 → Dave" in esc.details["via"] and received(rx, "carol") == []
            [to_dave] = [r for r in received(rx, "dave") if r.json["title"].startswith("[P0] Escalated to L2")]
            assert to_dave.header("Idempotency-Key") == f"{esc.details['key']}:dave:0"

            await temporal.act(env.client, h.id, "acknowledge", {"by": "dave"})
            for minute in (20, 35, 50):
                await advance_to(env, h, minute)
                await temporal.act(env.client, h.id, "post_update", {"by": "dave", "message": f"failing over ({minute})"})
            await advance_to(env, h, 61)
            s = await get_state(h)
    acked = s.acknowledged_at
    assert acked is not None
    # no page (first page, escalation, reminder) after the acknowledgement; only updates
    after = [p for p in pages(s) if p.at > acked]
    assert after and {p.details["kind"] for p in after} == {"UPDATE"}
    # the 15-minute stakeholder updates went to the P0 stakeholder list (the on-call engineer of
    # the current level, L1, the technical and customer success managers)
    updates = events(s, "stakeholder_update.sent")
    assert len(updates) == 4  # 15, 30, 45, 60
    for u in updates:
        assert set(u.details["targets"]) == {"oncall:L2", "oncall:L1", "technical_manager", "customer_success_manager"}
    status_updates = {who: [r.json["title"] for r in received(rx, who)
                            if r.json["title"].startswith(("[P0] Status update", "【P0】状态更新"))]
                      for who in ("olga", "ivan", "dave", "tm", "csm")}
    # olga's override ends at 60 minutes: the last update reaches the rotation's ivan instead
    assert {who: len(t) for who, t in status_updates.items()} == {"olga": 3, "ivan": 1, "dave": 4, "tm": 4, "csm": 4}
    assert all(t.startswith("【P0】状态更新") for t in status_updates["olga"])
    # every delivery exactly once: one request per Idempotency-Key, none failed
    keys = [r.header("Idempotency-Key") for r in rx.requests]
    assert all(keys) and len(keys) == len(set(keys)) and all(r.ok for r in rx.requests)
    rows = records.deliveries(engine, incident_id=s.incident_id)
    assert sorted(r.key for r in rows) == sorted(keys) and {r.status for r in rows} == {"SENT"}


# --------------------------------------------------------------------------- failing receivers


async def test_a_flaky_receiver_gets_the_page_once_and_a_dead_one_falls_back(env, engine, task_queue, tmp_path):
    with Receiver(fail_first=2) as flaky, Receiver(always_fail=True) as dead, Receiver() as rx:
        dead_at, rx_at = dead.netloc, rx.netloc
        config = write_config(tmp_path, {
            "people": [
                person("pat", f"json://{flaky.netloc}/pat", f"json://{rx.netloc}/pat-backup"),
                person("quinn", f"json://{dead.netloc}/quinn", f"json://{rx.netloc}/quinn-backup"),
                person("sen", f"json://{rx.netloc}/sen"),
            ],
            "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:pat"]}]}],
            "roles": {"technical_lead": ["person:quinn"], "senior_engineer": ["person:sen"]},
        })
        async with running_worker(env.client, task_queue, engine, oncall=lambda: config, retry_delay=0.01):
            h = await start(env.client, task_queue, priority="P1", title="Search is slow")
            await advance_to(env, h, 3)
            s = await get_state(h)
    # the flaky receiver: two 500s, then accepted, exactly once; the backup never needed
    assert [r.status for r in flaky.requests] == [500, 500, 200]
    assert len({r.header("Idempotency-Key") for r in flaky.requests}) == 1
    assert [r.path for r in rx.delivered if r.path.startswith("/pat")] == []
    # the dead receiver: three tries, then the next contact point took the page
    assert [r.status for r in dead.requests] == [500, 500, 500]
    assert [r.path for r in rx.delivered if r.path.startswith("/quinn")] == ["/quinn-backup"]
    [lead] = pages(s, target="technical_lead")
    assert lead.details["status"] == "SENT" and lead.details["recipients"] == ["quinn"]
    [failed] = events(s, "delivery.failed")
    assert failed.details["target"] == "technical_lead" and failed.details["person"] == "quinn"
    assert failed.details["key"] == lead.details["key"] and "500" in (failed.details["error"] or "")
    assert failed.seq < lead.seq
    rows = {(r.person, r.contact_kind, r.status) for r in records.deliveries(engine, incident_id=s.incident_id)
            if r.communication_key == lead.details["key"]}
    assert rows == {("quinn", "webhook", "FAILED"), ("quinn", "webhook", "SENT")}
    # managers see the same over HTTP
    comms = await communications_over_http(engine, s.incident_id)
    [lead_comm] = [c for c in comms if c["key"] == lead.details["key"]]
    assert (lead_comm["status"], lead_comm["recipients"]) == ("SENT", ["quinn"])
    assert [(d["contact"].split("?")[0], d["status"]) for d in lead_comm["deliveries"]] == [
        (f"json://{dead_at}/quinn", "FAILED"), (f"json://{rx_at}/quinn-backup", "SENT")]


async def test_a_target_nobody_holds_is_a_failed_page_on_the_timeline(env, engine, task_queue, tmp_path):
    with Receiver() as rx:
        config = write_config(tmp_path, {
            "people": [person("pat", f"json://{rx.netloc}/pat")],
            "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:pat"]}]}],
        })
        async with running_worker(env.client, task_queue, engine, oncall=lambda: config, retry_delay=0.01):
            h = await start(env.client, task_queue, priority="P1")
            await advance_to(env, h, 3)
            s = await get_state(h)
    failed = {e.details["target"]: e for e in events(s, "notification.failed")}
    assert set(failed) == {"technical_lead", "senior_engineer"}
    assert "nobody" in failed["technical_lead"].details["error"]
    assert [p.details["recipients"] for p in pages(s, target="oncall:L1")] == [["pat"]]
    comms = {c.target: c for c in records.communications(engine, incident_id=s.incident_id)}
    assert comms["technical_lead"].status == "FAILED" and comms["oncall:L1"].status == "SENT"


# --------------------------------------------------------------------------- Slack war room


async def test_a_p0_war_room_in_slack_sees_creation_invitations_and_status_updates(
        env, engine, task_queue, tmp_path):
    with Receiver() as rx, FakeSlack() as slack:
        olga_id = slack.add_user("olga@example.com")
        slack.add_user("dave@example.com", "U0DAVE")
        config = write_config(tmp_path, {
            "people": [person("olga", f"json://{rx.netloc}/olga", slack="olga@example.com"),
                       person("dave", f"json://{rx.netloc}/dave", slack="U0DAVE"),
                       person("tm", f"json://{rx.netloc}/tm")],
            "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:olga"]},
                                                                 {"targets": ["person:dave"]}]}],
            "roles": {"technical_manager": ["person:tm"], "customer_success_manager": ["person:tm"],
                      "senior_engineer": ["person:dave"]},
        })
        provider = SlackWarRoom(slack.token, api_url=slack.api_url, workspace_url="https://acme.slack.test")
        async with running_worker(env.client, task_queue, engine, oncall=lambda: config, war_room=provider,
                                  retry_delay=0.01, public_url="https://warroom.example.com"):
            h = await start(env.client, task_queue, priority="P0", title="Checkout is down")
            await advance_to(env, h, 5)
            await temporal.act(env.client, h.id, "acknowledge", {"by": "olga"})
            await temporal.act(env.client, h.id, "post_update", {"by": "olga", "message": "rolling back auth"})
            await temporal.act(env.client, h.id, "escalate", {"by": "olga", "reason": "need the database team"})
            await advance_to(env, h, 31)
            await temporal.act(env.client, h.id, "resolve", {"by": "olga", "resolution": "rolled back"})
            await advance_to(env, h, 35)
            s = await get_state(h)
            await temporal.act(env.client, h.id, "submit_review", {"by": "olga", "root_cause": "bad deploy"})
            final = await final_state(env.client, h)
        provider.close()
    name = slack_channel_name(final.incident_id)
    channel = slack.channels[name]
    assert [c.args["name"] for c in slack.calls_of("conversations.create")] == [name]
    assert olga_id in channel.members
    assert "U0DAVE" in channel.members  # escalated to L2 (dave): invited when paged
    # the brief, pinned, with the incident's link; then every status update and the resolution
    texts = channel.texts()
    assert "Checkout is down" in texts[0] and f"https://warroom.example.com/api/v1/incidents/{final.incident_id}" in texts[0]
    assert channel.pinned_texts() == [texts[0]]
    assert any("rolling back auth" in t for t in texts)
    stakeholder_updates = [t for t in texts if "status update" in t]
    assert len(stakeholder_updates) == len(events(s, "stakeholder_update.sent")) == 2  # at 15 and 30 min
    assert any("rolled back" in t and "resolved" in t for t in texts)
    assert Counter(texts)[texts[0]] == 1  # nothing posted twice
    # the room is in the incident's state and on the timeline
    assert s.war_room["url"] == f"https://acme.slack.test/archives/{channel.id}"
    assert s.war_room["channel"] == channel.id
    [opened] = events(final, "war_room.opened")
    assert opened.details["url"] == s.war_room["url"]
    posts = [p for p in pages(final) if p.details["target"] == "war_room"]
    assert len(posts) == len(texts) - 1 and {p.details["channel"] for p in posts} == {"slack"}


# --------------------------------------------------------------------------- policy waits


async def test_the_escalation_policy_wait_per_level_escalates_sooner_than_the_sla(env, engine, task_queue, tmp_path):
    """L1 waits 5 minutes and L2 10 before the next level; L3 names no shorter wait than the
    P0 ack SLA (15 min), which stays the ceiling."""
    with Receiver() as rx:
        config = write_config(tmp_path, {
            "people": [person(p, f"json://{rx.netloc}/{p}") for p in ("a1", "a2", "a3", "a4", "tm", "csm", "sen")],
            "escalation_policies": [{"id": "payments-p0", "match": {"services": ["payments"]}, "levels": [
                {"targets": ["person:a1"], "wait_minutes": 5},
                {"targets": ["person:a2"], "wait_minutes": 10},
                {"targets": ["person:a3"], "wait_minutes": 60},
                {"targets": ["person:a4"]},
            ]}],
            "roles": {"technical_manager": ["person:tm"], "customer_success_manager": ["person:csm"],
                      "senior_engineer": ["person:sen"]},
        })
        async with running_worker(env.client, task_queue, engine, oncall=lambda: config, retry_delay=0.01):
            h = await start(env.client, task_queue, priority="P0", service="payments")
            await advance_to(env, h, 31)
            s = await get_state(h)
    assessed = [e for e in events(s, "phase.completed") if e.details["phase"] == "assess"][0]
    assert assessed.details["escalation_policy"] == "payments-p0"
    assert [e.details["level"] for e in events(s, "escalated")] == [2, 3, 4]
    assert [(e.at - s.created_at) / MINUTE for e in events(s, "escalated")] == minutes(5, 15, 30)
    assert [p.details["recipients"] for p in pages(s, kind="ESCALATION")] == [["a2"], ["a3"], ["a4"]]
    assert [r.path for r in rx.delivered if r.json["title"].startswith("[P0] Escalated")] == ["/a2", "/a3", "/a4"]


async def test_a_webhook_war_room_gets_the_brief_the_responders_and_every_update(env, engine, task_queue, tmp_path):
    from warroom.delivery.war_rooms import WebhookWarRoom

    bridge = {"room": "bridge-42", "url": "https://meet.example.com/bridge-42", "bridge": "tel:+15550100"}
    with Receiver() as rx, Receiver(reply=(200, bridge)) as hook:
        config = write_config(tmp_path, {
            "people": [person(p, f"json://{rx.netloc}/{p}") for p in ("ann", "tm", "sen")],
            "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:ann"]}]}],
            "roles": {"technical_manager": ["person:tm"], "customer_success_manager": ["person:tm"],
                      "senior_engineer": ["person:sen"]},
        })
        provider = WebhookWarRoom(f"http://{hook.netloc}/war-rooms", secret="s3cret")
        async with running_worker(env.client, task_queue, engine, oncall=lambda: config, war_room=provider,
                                  retry_delay=0.01):
            h = await start(env.client, task_queue, priority="P0")
            await advance_to(env, h, 3)
            await temporal.act(env.client, h.id, "acknowledge", {"by": "ann"})
            await temporal.act(env.client, h.id, "post_update", {"by": "ann", "message": "draining the bad node"})
            await advance_to(env, h, 16)
            s = await get_state(h)
        provider.close()
    bodies = [r.json for r in hook.requests]
    assert [b["event"] for b in bodies] == ["war_room.open", "war_room.post", "war_room.post"]
    assert bodies[0]["responders"] == ["ann"] and "Checkout is down" in bodies[0]["brief"]
    assert "draining the bad node" in bodies[1]["text"] and "status update" in bodies[2]["text"]
    assert all(b["room"] == "bridge-42" for b in bodies[1:])
    assert all(r.header("X-Warroom-Signature", "").startswith("sha256=") for r in hook.requests)
    assert len({r.header("Idempotency-Key") for r in hook.requests}) == 3
    assert s.war_room == {"channel": "bridge-42", "bridge": "tel:+15550100",
                          "url": "https://meet.example.com/bridge-42", "provider": "webhook"}


# --------------------------------------------------------------------------- the activity's time budget


def test_a_hanging_contact_point_never_outlives_the_activity_attempt(engine, tmp_path):
    """A contact point that hangs uses up the attempt's time: the activity gives up on it
    before Temporal could hand the page to a retry while a send still runs, and the retry
    goes on with the next contact point, sending nothing twice."""
    import time as clock
    import uuid
    from datetime import UTC, timedelta

    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from activities.notify import NotifyActivities
    from warroom.delivery.channels import Outcome
    from workflows.contracts import Notification

    sends: list[tuple[str, float]] = []

    def send(url: str, *, timeout: float, **_: Any) -> Outcome:
        sends.append((url, timeout))
        if "hangs" in url:
            # deliberate latency: a contact point that hangs until the send gives up (the test's subject)
            clock.sleep(min(timeout, 1.5))
            return Outcome(ok=False, error="timed out")
        return Outcome(ok=True)

    config = write_config(tmp_path, {
        "people": [person("ann", "json://127.0.0.1:9/hangs", "json://127.0.0.1:9/backup")],
        "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:ann"]}]}],
    })
    acts = NotifyActivities(engine, oncall=lambda: config, send=send, retry_delay=0.01)
    iid = f"incident-budget-{uuid.uuid4().hex[:8]}"
    n = Notification(key=f"{iid}-run:n1", incident_id=iid, kind="INITIAL", target="oncall:L1",
                     subject="[P0] Checkout is down — new incident", body="brief", priority="P0")
    aenv = ActivityEnvironment()
    aenv.info = dataclasses.replace(aenv.info, start_to_close_timeout=timedelta(seconds=7.5),
                                    scheduled_time=datetime.now(UTC))
    began = clock.monotonic()
    with pytest.raises(ApplicationError, match="out of time"):
        aenv.run(acts.send_notification, n)  # 5.5 s of budget: 1.5 s tries until under 3 s are left
    assert clock.monotonic() - began < 7.5  # done within the start-to-close timeout
    hung = len(sends)
    assert hung >= 1 and [u for u, _ in sends] == ["json://127.0.0.1:9/hangs"] * hung
    assert all(t <= 10 for _, t in sends)
    rows = {r.key.rsplit(":", 1)[1]: r for r in records.deliveries(engine, incident_id=iid)}
    assert rows["0"].status == "FAILED" and "out of time" in rows["0"].error and rows["1"].status == "PENDING"

    res = aenv.run(acts.send_notification, n)  # Temporal's retry: the hanging one is not tried again
    assert res.status == "SENT" and res.recipients == ["ann"]
    assert [u for u, _ in sends] == ["json://127.0.0.1:9/hangs"] * hung + ["json://127.0.0.1:9/backup"]
    assert [d["status"] for d in res.deliveries] == ["FAILED", "SENT"]


async def test_a_repeated_policy_runs_its_levels_again_while_nobody_acknowledges(env, engine, task_queue, tmp_path):
    with Receiver() as rx:
        config = write_config(tmp_path, {
            "people": [person(p, f"json://{rx.netloc}/{p}") for p in ("a1", "a2", "tm", "csm", "sen")],
            "escalation_policies": [{"id": "small-team", "repeat": 2, "levels": [
                {"targets": ["person:a1"], "wait_minutes": 5},
                {"targets": ["person:a2"], "wait_minutes": 10},
            ]}],
            "roles": {"technical_manager": ["person:tm"], "customer_success_manager": ["person:csm"],
                      "senior_engineer": ["person:sen"]},
        })
        async with running_worker(env.client, task_queue, engine, oncall=lambda: config, retry_delay=0.01):
            h = await start(env.client, task_queue, priority="P0")
            await advance_to(env, h, 31)
            s = await get_state(h)
    # L2 after L1's 5 min, L3 (= L1, second pass) after L2's 10, L4 (= L2) after 5 more, then
    # the top level again after its 10: never silent, never slower than the 15-minute SLA
    assert [e.details["level"] for e in events(s, "escalated")] == [2, 3, 4, 4]
    assert [(e.at - s.created_at) / MINUTE for e in events(s, "escalated")] == minutes(5, 15, 20, 30)
    esc = pages(s, kind="ESCALATION")
    assert [p.details["recipients"] for p in esc] == [["a2"], ["a1"], ["a2"], ["a2"]]
    assert "L1 (pass 2 of 2)" in esc[1].details["via"] and "L2 (pass 2 of 2)" in esc[3].details["via"]


def test_an_update_reaches_a_war_room_recorded_from_the_timeline(engine):
    """A war room opened while the records were down is recorded from its `war_room.opened`
    event, which names no provider for a room without a URL (warroom/records/incidents.py): an
    update is posted into that room by the worker's own provider, not to a room without a channel."""
    import uuid

    from temporalio.testing import ActivityEnvironment

    from activities.notify import NotifyActivities
    from warroom.delivery.war_rooms import Room
    from workflows.contracts import Notification

    class Webhook:
        name = "webhook"

        def __init__(self) -> None:
            self.posts: list[tuple[str, str]] = []

        def post(self, room: Room, *, text: str, idempotency_key: str) -> None:
            self.posts.append((room.provider, room.channel))

    iid, run = f"incident-wr-{uuid.uuid4().hex[:8]}", f"run-{uuid.uuid4().hex[:8]}"
    at = datetime.now(ZoneInfo("UTC"))
    records.record_events(engine, run_id=run, incident_id=iid, snapshot={
        "incident_id": iid, "workflow": "IncidentResponse", "title": "Checkout is down", "priority": "P1",
        "status": "triggered", "phase": "recover", "created_at": at}, events=[
        {"seq": 1, "at": at, "type": "triggered", "actor": "system", "details": {}},
        {"seq": 2, "at": at, "type": "war_room.opened", "actor": "system",
         "details": {"channel": "room-7", "bridge": None, "commander": "first acknowledger", "error": None}}])
    provider = Webhook()
    acts = NotifyActivities(engine, war_room=provider)  # type: ignore[arg-type]
    res = ActivityEnvironment().run(acts.send_notification, Notification(
        key=f"{run}:n9", incident_id=iid, kind="UPDATE", target="war_room", subject="update", body="rolling back",
        priority="P1"))
    assert res.status == "SENT" and res.recipients == ["room-7"]
    assert provider.posts == [("webhook", "room-7")]
