"""Records (SPEC section 4): what the database holds once an incident is over — one row per
timeline event, one communication per page, nothing twice — and the idempotency of the
send_notification activity on its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from activities.notify import Delivery, NotifyActivities
from tests.helpers import (
    advance_to,
    assert_replays,
    at_minutes,
    events,
    final_state,
    get_state,
    minutes,
    pages,
    running_worker,
    start,
    until,
)
from warroom import records
from warroom.records import reports
from warroom import client as temporal
from workflows.contracts import IncidentState, Notification
from workflows.policy import default_policy


def _check_records(engine, final: IncidentState) -> None:
    iid = final.incident_id
    rows = records.timeline(engine, incident_id=iid)
    # exactly one row per timeline event, in order, with what the timeline says
    assert [(r.seq, r.type) for r in rows] == [(e.seq, e.type) for e in final.timeline]
    assert [(r.at, r.actor) for r in rows] == [(e.at, e.actor) for e in final.timeline]
    assert len({r.run_id for r in rows}) == 1  # the whole chain records under its first run
    assert [r.details for r in rows] == [e.details for e in final.timeline]

    comms = records.communications(engine, incident_id=iid)
    assert len({c.key for c in comms}) == len(comms)
    sent = pages(final)
    keys = [p.details["key"] for p in sent]
    assert len(keys) == len(set(keys)), "a page was recorded twice on the timeline"
    paged = [c for c in comms if not c.key.endswith(":war_room")]  # pages and posts into the war room
    assert sorted(c.key for c in paged) == sorted(keys)
    by_key = {c.key: c for c in paged}
    for p in sent:
        row = by_key[p.details["key"]]
        assert (row.kind, row.target, row.subject) == (p.details["kind"], p.details["target"], p.details["subject"])
        assert row.status == "SENT" and row.sent_at is not None and row.attempts == 1
        assert row.recipients == p.details["recipients"] and row.channel == p.details["channel"]
    # the war-room brief is a communication of its own, posted once
    rooms = [c for c in comms if c.key.endswith(":war_room")]
    assert len(rooms) == (1 if final.war_room else 0)
    assert all(c.status == "SENT" for c in comms)

    inc = records.incident(engine, incident_id=iid)
    assert inc is not None
    assert (inc.status, inc.phase, inc.priority, inc.commander) == (
        final.status, final.phase, final.priority, final.commander)
    assert inc.closed_at == final.closed_at and inc.resolved_at == final.resolved_at
    assert inc.workflow == final.workflow and inc.alert_count == final.alert_count


async def test_closed_p0_has_one_record_per_event_and_per_page(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await advance_to(env, h, 3)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await advance_to(env, h, 20)
        await temporal.act(env.client, h.id, "post_update", {"by": "alice", "message": "failing over"})
        await advance_to(env, h, 35)
        await temporal.act(env.client, h.id, "assign_commander", {"by": "alice", "commander": "bob"})
        await advance_to(env, h, 50)
        await temporal.act(env.client, h.id, "resolve", {"by": "bob", "resolution": "failed over"})
        await advance_to(env, h, 50 + 5 * 60)
        await temporal.act(env.client, h.id, "submit_review", {"by": "bob", "root_cause": "disk full"})
        final = await final_state(env.client, h)
        await assert_replays(env.client, h)
    assert final.status == "closed"
    assert len(pages(final)) >= 10  # initial pages, updates, briefing, reminders, resolution
    _check_records(engine, final)


async def test_records_of_a_chain_of_runs_are_complete_and_unique(env, engine, task_queue):
    """A ticket handed over to the full response, which then continues-as-new several times:
    still one row per event and per page."""
    policy = default_policy()
    policy.escalation.continue_as_new_after_events = 80
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3", policy=policy)
        await advance_to(env, h, 5)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "erin"})
        await advance_to(env, h, 10)
        await temporal.act(env.client, h.id, "change_priority", {"by": "erin", "priority": "P0", "reason": "all users"})
        for minute in range(20, 130, 10):
            await advance_to(env, h, minute)
            await temporal.act(env.client, h.id, "post_update", {"by": "erin", "message": f"t+{minute}"})
        await temporal.act(env.client, h.id, "resolve", {"by": "erin", "resolution": "fixed"})
        await advance_to(env, h, 131)
        await temporal.act(env.client, h.id, "submit_review", {"by": "erin", "root_cause": "bad index"})
        final = await final_state(env.client, h)
        runs = await assert_replays(env.client, h)
    assert runs >= 3, "expected the hand-over and at least one continue-as-new"
    assert final.status == "closed" and final.workflow == "IncidentResponse"
    assert [e.seq for e in final.timeline] == list(range(1, len(final.timeline) + 1))
    _check_records(engine, final)


class FlakyStore:
    """records.record_events behind a database that fails each batch twice: once before anything is
    written (the database is down), once after the transaction committed (the answer is lost).
    Temporal retries the activity; the third attempt answers."""

    def __init__(self, real) -> None:
        self.real = real
        self.attempts: dict[tuple[str, int], int] = {}
        self.failures = 0

    def __call__(self, engine, *, run_id, incident_id, snapshot, events):
        batch = (run_id, events[0]["seq"] if events else 0)
        n = self.attempts[batch] = self.attempts.get(batch, 0) + 1
        if n == 1:
            self.failures += 1
            raise ConnectionError("records database unreachable")
        written = self.real(engine, run_id=run_id, incident_id=incident_id, snapshot=snapshot, events=events)
        if n == 2:
            self.failures += 1
            raise TimeoutError("connection lost after commit")
        return written


async def test_a_store_failing_and_retrying_leaves_one_row_per_event(env, engine, task_queue, monkeypatch):
    flaky = FlakyStore(records.record_events)
    monkeypatch.setattr(records, "record_events", flaky)
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0", title="Payments down",
                        description="card payments fail with 502")
        await advance_to(env, h, 17)  # nobody acknowledged within 15 minutes: escalated to L2
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await temporal.act(env.client, h.id, "change_priority", {"by": "alice", "priority": "P1",
                                                           "reason": "workaround in place"})
        await advance_to(env, h, 40)
        await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "failed over"})
        await advance_to(env, h, 45)
        await temporal.act(env.client, h.id, "submit_review", {
            "by": "alice", "root_cause": "expired certificate", "contributing_factors": ["no expiry alert"],
            "lessons": ["watch expiry"],
            "action_items": ["rotate certificates", {"title": "alert on expiry", "owner": "bob", "due": "2026-02-01"}]})
        final = await final_state(env.client, h)
    assert flaky.failures >= 2 * 5 and all(n == 3 for n in flaky.attempts.values()), flaky.attempts
    _check_records(engine, final)

    iid = final.incident_id
    detail = records.detail(engine, incident_id=iid)
    escalated = events(final, "escalated")
    assert [(r.seq, r.from_level, r.to_level, r.reason) for r in detail["escalations"]] == [
        (e.seq, e.details["previous_level"], e.details["level"], e.details["reason"]) for e in escalated]
    assert escalated and escalated[0].details["reason"] == "ack_timeout"
    assert [(r.from_priority, r.to_priority, r.direction, r.reason, r.actor) for r in detail["priority_changes"]] == [
        ("P0", "P1", "downgrade", "workaround in place", "alice")]
    [review] = detail["reviews"]
    assert (review.by, review.root_cause, review.contributing_factors, review.lessons) == (
        "alice", "expired certificate", ["no expiry alert"], ["watch expiry"])
    assert [(a.position, a.title, a.owner, a.due and a.due.isoformat()) for a in detail["action_items"]] == [
        (1, "rotate certificates", "", None), (2, "alert on expiry", "bob", "2026-02-01")]

    inc = records.incident(engine, incident_id=iid)
    assert inc.dedup_key == events(final, "triggered")[0].details["dedup_key"]
    assert inc.description == "card payments fail with 502"
    assert inc.mitigated_at == events(final, "resolve.requested")[0].at
    assert inc.mitigated_at <= inc.resolved_at
    assert inc.ack_due is None and inc.resolve_due is None  # closed: no deadline is running

    # the report reads the communications table: every message with its recipients and status
    report = reports.incident_report(engine, iid)
    comms = records.communications(engine, incident_id=iid)
    assert sorted((c["target"], c["subject"], tuple(c["recipients"]), c["status"]) for c in report.communications) == \
        sorted((c.target, c.subject, tuple(c.recipients), c.status) for c in comms)
    assert any(c["target"] == "oncall:L2" and c["kind"] == "ESCALATION" for c in report.communications)
    md = reports.render_markdown(report)
    assert "- [ ] alert on expiry (owner bob, due 2026-02-01)" in md and "- [ ] rotate certificates" in md
    assert "Contributing factors:\n\n- no expiry alert" in md


async def test_sla_deadlines_are_recorded_while_open(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await advance_to(env, h, 2)
        s = await get_state(h)
        inc = await until(lambda: records.incident(engine, incident_id=s.incident_id),
                          "the incident's deadlines in the records", ok=lambda inc: inc and inc.ack_due)
    assert inc.ack_due == s.deadlines.ack_due == s.created_at + timedelta(minutes=30)
    assert inc.resolve_due == s.deadlines.resolve_due == s.created_at + timedelta(hours=4)
    assert inc.next_update_due == s.deadlines.next_update_due
    assert inc.mitigated_at is None


async def test_a_records_outage_delays_the_record_but_never_holds_the_incident_back(
        env, engine, task_queue, monkeypatch):
    """Every records call fails for the incident's first 20 minutes: pages still go out, the ack
    SLA still escalates, and once the database answers the records catch up, communications
    included (written from the timeline)."""
    from sqlalchemy.exc import OperationalError

    down = True

    def unreachable(real):
        def call(*args, **kwargs):
            if down:
                raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
            return real(*args, **kwargs)
        return call

    for name in ("record_events", "claim_communication", "finish_communication", "claim_page", "next_contacts",
                 "finish_page", "war_room", "war_room_opened", "known_issues_for"):
        monkeypatch.setattr(records, name, unreachable(getattr(records, name)))
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await advance_to(env, h, 20)
        s = await get_state(h)
        assert at_minutes(s, "escalated") == minutes(15) and s.war_room and s.war_room["channel"]
        assert {p.details["target"] for p in pages(s, kind="INITIAL")} >= {"oncall:L1", "technical_manager"}
        assert not events(s, "notification.failed")
        down = False
        await advance_to(env, h, 25)
        s = await get_state(h)
        rows = await until(lambda: records.timeline(engine, incident_id=s.incident_id),
                           "the records to catch up with the timeline after the outage",
                           ok=lambda rows: len(rows) == len(s.timeline))
    assert [(r.seq, r.type) for r in rows] == [(e.seq, e.type) for e in s.timeline]
    comms = {c.key: c for c in records.communications(engine, incident_id=s.incident_id)}
    for p in pages(s):
        assert comms[p.details["key"]].status == "SENT" and comms[p.details["key"]].target == p.details["target"]
    # the war room opened during the outage, and its brief (so later updates reach the room)
    room = records.war_room(engine, incident_id=s.incident_id)
    assert room is not None and room.channel == s.war_room["channel"]
    assert [c.status for c in comms.values() if c.target == "war_room" and c.kind == "INITIAL"] == ["SENT"]


def _war_room_batch(iid: str, run: str, **details) -> dict:
    at = datetime.now(UTC)
    snapshot = {"incident_id": iid, "workflow": "IncidentResponse", "title": "Checkout is down", "priority": "P1",
                "status": "triggered", "phase": "recover", "created_at": at}
    return dict(run_id=run, incident_id=iid, snapshot=snapshot,
                events=[{"seq": 1, "at": at, "type": "triggered", "actor": "system", "details": {}},
                        {"seq": 2, "at": at, "type": "war_room.opened", "actor": "system", "details": details}])


def test_a_war_room_opened_without_the_records_is_recorded_from_the_timeline(engine):
    """open_war_room went on without the records (claim and war_room_opened got no answer): the
    room and its brief reach them from `war_room.opened`, once, and a claim left PENDING becomes
    SENT; a room the activity recorded is kept as it wrote it."""
    iid, run = f"incident-wr-{uuid.uuid4().hex[:8]}", f"run-{uuid.uuid4().hex[:8]}"
    records.claim_communication(engine, key=f"{run}:war_room", incident_id=iid, kind="INITIAL", target="war_room",
                                subject="s", body="b")  # the claim answered, then the records stopped
    for _ in range(2):  # a retried batch writes nothing twice
        records.record_events(engine, **_war_room_batch(iid, run, channel="#war-1", bridge=None,
                                                        commander="first acknowledger", error=None))
    room = records.war_room(engine, incident_id=iid)
    assert (room.provider, room.channel) == ("", "#war-1")  # no URL: the worker's own provider
    comms = records.communications(engine, incident_id=iid)
    assert [(c.key, c.target, c.status, c.recipients) for c in comms] == [(f"{run}:war_room", "war_room", "SENT",
                                                                         ["#war-1"])]

    iid, run = f"incident-wr-{uuid.uuid4().hex[:8]}", f"run-{uuid.uuid4().hex[:8]}"
    records.claim_communication(engine, key=f"{run}:war_room", incident_id=iid, kind="INITIAL", target="war_room",
                                subject="s", body="b")
    records.war_room_opened(engine, key=f"{run}:war_room", incident_id=iid, provider="slack", channel="C1",
                            url="https://slack.example/C1", bridge="", recipients=["C1", "U1"])
    records.record_events(engine, **_war_room_batch(iid, run, channel="C1", url="https://slack.example/C1",
                                                    provider="slack", error=None))
    room = records.war_room(engine, incident_id=iid)
    assert (room.provider, room.channel, room.url) == ("slack", "C1", "https://slack.example/C1")
    comms = records.communications(engine, incident_id=iid)
    assert [(c.status, c.recipients) for c in comms] == [("SENT", ["C1", "U1"])]


def test_deliveries_a_late_claim_left_pending_are_settled_by_the_timeline(engine):
    """A page's claim got no answer in time and was written once the records answered, after the
    page went out without its results: the timeline settles its deliveries (a contact point that
    failed FAILED, the recipients' others SENT), and a retried batch changes nothing."""
    iid, run = f"incident-dl-{uuid.uuid4().hex[:8]}", f"run-{uuid.uuid4().hex[:8]}"
    key = f"{run}:n1"
    claims = [{"key": f"{key}:{p}:{i}", "person": p, "contact_kind": "webhook", "contact": f"json://x/{p}/{i}"}
              for p, i in (("olga", 0), ("olga", 1), ("lee", 0), ("sam", 0))]
    records.claim_page(engine, key=key, incident_id=iid, kind="INITIAL", target="oncall:L1", subject="s", body="b",
                       choose=lambda found: claims)
    at = datetime.now(UTC)
    snapshot = {"incident_id": iid, "workflow": "IncidentResponse", "title": "Checkout is down", "priority": "P1",
                "status": "triggered", "phase": "recover", "created_at": at}
    batch = [{"seq": 1, "at": at, "type": "triggered", "actor": "system", "details": {}},
             {"seq": 2, "at": at, "type": "delivery.failed", "actor": "system",
              "details": {"key": key, "person": "olga", "contact_kind": "webhook", "contact": "json://x/olga/0",
                          "error": "HTTP 500"}},
             {"seq": 3, "at": at, "type": "notification.sent", "actor": "system",
              "details": {"key": key, "kind": "INITIAL", "target": "oncall:L1", "channel": "webhook",
                          "recipients": ["olga", "lee"], "status": "SENT"}}]
    for _ in range(2):
        records.record_events(engine, run_id=run, incident_id=iid, snapshot=snapshot, events=batch)
    got = {d.key.removeprefix(f"{key}:"): (d.status, d.error) for d in records.deliveries(engine, incident_id=iid)}
    # sam is not among the recipients: nothing says what became of his, so it stays as claimed
    assert got == {"olga:0": ("FAILED", "HTTP 500"), "olga:1": ("SENT", ""), "lee:0": ("SENT", ""),
                   "sam:0": ("PENDING", "")}
    assert [c.status for c in records.communications(engine, incident_id=iid)] == ["SENT"]


# --------------------------------------------------------------------------- the activity alone


class CountingChannel:
    name = "test"

    def __init__(self, fail_first: int = 0) -> None:
        self.sent: list[str] = []
        self.fail_first = fail_first

    def send(self, n: Notification) -> Delivery:
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("chat API unreachable")
        self.sent.append(n.key)
        return Delivery(recipients=[f"{n.target}@example.test"])


def _notification(**kw) -> Notification:
    iid = f"incident-act-{uuid.uuid4().hex[:10]}"
    base = dict(key=f"{iid}-run:n1", incident_id=iid, kind="INITIAL", target="oncall:L1",
                subject="[P0] Checkout is down — new incident", body="brief", priority="P0")
    base.update(kw)
    return Notification(**base)


def test_send_notification_twice_with_the_same_key_pages_once(engine):
    channel = CountingChannel()
    acts = NotifyActivities(engine, channels={"test": channel}, default_channel="test")
    n = _notification()
    aenv = ActivityEnvironment()
    first = aenv.run(acts.send_notification, n)
    second = aenv.run(acts.send_notification, n)
    assert (first.status, first.duplicate, first.channel) == ("SENT", False, "test")
    assert (second.status, second.duplicate, second.channel) == ("SENT", True, "test")
    assert second.recipients == first.recipients == ["oncall:L1@example.test"]
    assert channel.sent == [n.key]  # the retry did not page again
    rows = records.communications(engine, incident_id=n.incident_id)
    assert len(rows) == 1
    row = rows[0]
    assert (row.key, row.status, row.kind, row.target, row.attempts) == (n.key, "SENT", "INITIAL", "oncall:L1", 2)


def test_send_notification_retried_after_a_channel_failure_leaves_one_row(engine):
    channel = CountingChannel(fail_first=1)
    acts = NotifyActivities(engine, channels={"test": channel}, default_channel="test")
    n = _notification(kind="ESCALATION", target="oncall:L2")
    aenv = ActivityEnvironment()
    with pytest.raises(ConnectionError):
        aenv.run(acts.send_notification, n)
    rows = records.communications(engine, incident_id=n.incident_id)
    assert [(r.status, r.error) for r in rows] == [("FAILED", "chat API unreachable")]
    res = aenv.run(acts.send_notification, n)  # Temporal's retry
    assert res.status == "SENT" and not res.duplicate
    rows = records.communications(engine, incident_id=n.incident_id)
    assert [(r.key, r.status, r.error, r.attempts) for r in rows] == [(n.key, "SENT", "", 2)]
    assert channel.sent == [n.key]


def test_different_keys_are_different_pages(engine):
    channel = CountingChannel()
    acts = NotifyActivities(engine, channels={"test": channel}, default_channel="test")
    n1 = _notification()
    n2 = _notification(key=n1.key.replace(":n1", ":n2"), incident_id=n1.incident_id, kind="UPDATE")
    aenv = ActivityEnvironment()
    assert not aenv.run(acts.send_notification, n1).duplicate
    assert not aenv.run(acts.send_notification, n2).duplicate
    assert channel.sent == [n1.key, n2.key]
    assert sorted(r.key for r in records.communications(engine, incident_id=n1.incident_id)) == sorted([n1.key, n2.key])
