"""Ticket: the light P2-P4 workflow in virtual time (time-skipping server): response and
resolve timers, update reminders, resolve, and the hand-over to IncidentResponse when the
priority is raised to P1/P0."""

from __future__ import annotations

import pytest

from tests.helpers import (
    advance_to,
    assert_replays,
    at_minutes,
    events,
    final_state,
    get_state,
    minutes,
    pages,
    running_cached_worker,
    running_worker,
    start,
    types,
)
from tests.helpers import HOUR
from warroom import client as temporal
from workflows.policy import default_policy
from workflows.contracts import INCIDENT_WORKFLOW, TICKET_WORKFLOW


async def test_p3_ticket_opens_and_pages_the_on_duty_engineer(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3", title="Report export is slow")
        await advance_to(env, h, 1)
        s = await get_state(h)
        desc = await h.describe()
    assert desc.workflow_type == TICKET_WORKFLOW
    assert s.workflow == TICKET_WORKFLOW and s.priority == "P3"
    assert s.status == "triggered" and s.phase == "open"
    assert (s.deadlines.ack_due - s.created_at).total_seconds() == 4 * 3600
    assert (s.deadlines.resolve_due - s.created_at).total_seconds() == 24 * 3600
    assert (s.deadlines.next_update_due - s.created_at).total_seconds() == 4 * 3600
    assert types(s)[:3] == ["triggered", "alert.received", "phase.started"]
    assert [(p.details["kind"], p.details["target"]) for p in pages(s)] == [("INITIAL", "oncall:L1")]
    assert s.war_room is None


async def test_p3_ticket_not_acknowledged_escalates_at_4h(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3")
        await advance_to(env, h, 239)
        assert events(await get_state(h), "escalated") == []
        await advance_to(env, h, 241)
        s = await get_state(h)
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(240)
    assert [p.details["target"] for p in pages(s, kind="ESCALATION")] == ["oncall:L2"]
    assert s.escalation_level == 2 and s.status == "triggered"


@pytest.mark.parametrize("priority,due_minutes", [("P2", 120), ("P4", 480)])
async def test_ticket_response_time_follows_its_priority(env, engine, task_queue, priority, due_minutes):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority=priority)
        await advance_to(env, h, due_minutes + 1)
        s = await get_state(h)
    assert s.workflow == TICKET_WORKFLOW
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(due_minutes)


async def test_p3_ticket_reminds_the_assignee_at_its_update_cadence(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3")
        await advance_to(env, h, 10)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "erin"})
        await advance_to(env, h, 300)
        await temporal.act(env.client, h.id, "post_update", {"by": "erin", "message": "found the slow query"})
        await advance_to(env, h, 12 * 60 + 5)
        s = await get_state(h)
    # every 4 h; the interval in which erin posted gets no reminder
    assert at_minutes(s, "update.reminder") == minutes(240, 720)
    assert {e.details["to"] for e in events(s, "update.reminder")} == {"erin"}
    assert [p.details["target"] for p in pages(s, kind="REMINDER")] == ["person:erin", "person:erin"]
    # tickets remind the assignee; they do not brief stakeholders
    assert events(s, "stakeholder_update.sent") == []
    assert pages(s, kind="UPDATE") == []


async def test_acknowledged_ticket_does_not_climb_the_incident_escalation_ladder(env, engine, task_queue):
    """The no-progress ladder (L2 after 30 min, L3 after 1 h, ...) belongs to the P0/P1
    response; a ticket has response and resolve timers and update reminders."""
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3")
        await advance_to(env, h, 10)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "erin"})
        await advance_to(env, h, 6 * 60)
        s = await get_state(h)
    assert events(s, "escalated") == []
    assert s.escalation_level == 1


async def test_p3_ticket_resolve_target_escalates_at_24h_within_the_team(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3")
        await advance_to(env, h, 10)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "erin"})
        await advance_to(env, h, 24 * 60 + 1)
        s = await get_state(h)
    assert at_minutes(s, "escalated", reason="resolve_target") == minutes(24 * 60)
    assert [p.details["target"] for p in pages(s, kind="ESCALATION")] == ["oncall:L2"]
    # P2-P4 never page management unless the service levels say so
    assert pages(s, kind="FOLLOW_UP") == []


async def test_p3_ticket_tells_management_when_its_service_levels_say_so(env, engine, task_queue):
    policy = default_policy()
    policy.priorities["P3"].resolve_notify = ["management"]
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3", policy=policy)
        await advance_to(env, h, 24 * 60 + 1)
        s = await get_state(h)
    assert [(p.details["target"], round((p.at - s.created_at) / HOUR)) for p in pages(s, kind="FOLLOW_UP")] == [
        ("management", 24)]


async def test_an_unacknowledged_p4_question_stays_in_the_team(env, engine, task_queue):
    """Three days unacknowledged: L2 (senior) at 8 h, then L2 paged again every 8 h; never
    vendor support (L4) and never management."""
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P4", title="How do I rotate my API token?")
        await advance_to(env, h, 72 * 60 + 1)
        s = await get_state(h)
    esc = events(s, "escalated")
    assert [(e.details["reason"], e.details["level"]) for e in esc][:3] == [
        ("ack_timeout", 2), ("ack_timeout", 2), ("ack_timeout", 2)]
    assert {e.details["level"] for e in esc} == {2} and s.escalation_level == 2
    assert {p.details["target"] for p in pages(s, kind="ESCALATION")} == {"oncall:L2"}
    assert [p for p in pages(s) if p.details["target"] in ("management", "oncall:L3", "oncall:L4")] == []
    assert at_minutes(s, "escalated", reason="resolve_target") == minutes(48 * 60)


async def test_resolved_ticket_closes(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3")
        await advance_to(env, h, 10)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "erin"})
        await advance_to(env, h, 90)
        await temporal.act(env.client, h.id, "resolve", {"by": "erin", "resolution": "index added"})
        final = await final_state(env.client, h)
        await assert_replays(env.client, h)
    t = types(final)
    assert t[-3:] == ["resolved", "phase.completed", "closed"]
    resolved = events(final, "resolved")[0]
    assert resolved.actor == "erin" and resolved.details["resolution"] == "index added"
    assert at_minutes(final, "resolved") == minutes(90) and at_minutes(final, "closed") == minutes(90)
    assert final.status == "closed" and final.phase == "closed" and final.workflow == TICKET_WORKFLOW
    # a ticket has no verify phase and no post-incident review
    assert "review.assigned" not in t and final.review is None
    assert [e.details["phase"] for e in events(final, "phase.started")] == ["open"]
    with pytest.raises(temporal.ActionRefused, match="closed"):
        await temporal.act(env.client, h.id, "post_update", {"by": "erin", "message": "late"})


async def test_submit_review_on_a_ticket_is_refused(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "erin"})
        with pytest.raises(temporal.ActionRefused, match="no review is open"):
            await temporal.act(env.client, h.id, "submit_review", {"by": "erin", "root_cause": "slow query"})
        s = await get_state(h)
    assert "review.submitted" not in types(s) and s.review is None


async def test_p3_raised_to_p1_hands_over_to_the_full_response_under_the_same_id(env, engine, task_queue):
    # A cached worker, as in production: see test_upgrade_right_after_a_quiet_spell_replays_without_cache.
    async with running_cached_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3", title="Checkout errors for some users")
        first_run = h.result_run_id
        await advance_to(env, h, 20)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "erin"})
        await temporal.act(env.client, h.id, "post_update", {"by": "erin", "message": "errors growing"})
        await advance_to(env, h, 60)
        before = await get_state(h)
        s = await temporal.act(env.client, h.id, "change_priority",
                          {"by": "erin", "priority": "P1", "reason": "most users cannot pay"})
        assert s.priority == "P1"
        await advance_to(env, h, 62)
        s = await get_state(h)
        desc = await h.describe()
        assert s.workflow == INCIDENT_WORKFLOW
        assert desc.id == h.id and desc.run_id != first_run and desc.workflow_type == INCIDENT_WORKFLOW
        # the full response runs on from here: resolve -> verify -> review -> closed
        await temporal.act(env.client, h.id, "resolve", {"by": "erin", "resolution": "rolled back"})
        await advance_to(env, h, 63)
        mid = await get_state(h)
        assert mid.phase == "review" and (mid.deadlines.review_due - mid.resolved_at).total_seconds() == 48 * 3600
        await temporal.act(env.client, h.id, "submit_review", {"by": "erin", "root_cause": "bad deploy"})
        final = await final_state(env.client, h)
        await assert_replays(env.client, h)

    # the ticket's timeline is carried over, unchanged, and continues without gaps
    n = len(before.timeline)
    assert [(e.seq, e.type, e.at) for e in s.timeline[:n]] == [(e.seq, e.type, e.at) for e in before.timeline]
    assert [e.seq for e in s.timeline] == list(range(1, len(s.timeline) + 1))
    t = types(s)
    assert t.count("triggered") == 1
    assert t.index("acknowledged") < t.index("priority.changed") < t.index("handed_over")
    change = events(s, "priority.changed")[0]
    assert (change.actor, change.details["from"], change.details["to"], change.details["reason"]) == (
        "erin", "P3", "P1", "most users cannot pay")
    handed = events(s, "handed_over")[0]
    assert handed.details == {"to": INCIDENT_WORKFLOW, "priority": "P1"}
    # (the upgrade pages go out before the hand-over: nothing queued is left behind)
    after = [e for e in s.timeline if e.seq > handed.seq and e.type != "notification.sent"]
    upgrade_pages = pages(s, kind="UPDATE")
    assert {p.details["target"] for p in upgrade_pages} == {"oncall:L1", "technical_lead"}
    assert all(p.seq > handed.seq for p in upgrade_pages)
    assert [e.type for e in after[:2]] == ["phase.completed", "phase.started"]
    assert after[0].details["phase"] == "open" and after[0].details["handed_over_from"] == TICKET_WORKFLOW
    assert after[1].details["phase"] == "assess"
    assert [e.details["phase"] for e in events(s, "phase.started")] == [
        "open", "assess", "notify", "war_room", "recover"]
    # the full response pages the P1 stakeholders
    initial = [p for p in pages(s, kind="INITIAL") if p.seq > handed.seq]
    assert {"oncall:L1", "technical_lead"} <= {p.details["target"] for p in initial}
    # what people did on the ticket still holds
    assert s.acknowledged_by == "erin" and s.commander == "erin" and s.status == "acknowledged"
    assert s.latest_update is not None and s.latest_update.message == "errors growing"
    assert s.deadlines.next_update_due is not None
    assert (s.deadlines.resolve_due - s.created_at).total_seconds() == 4 * 3600
    # and it ends like any P1
    assert final.workflow == INCIDENT_WORKFLOW and final.status == "closed"
    assert types(final)[-1] == "closed"
    assert "verification.passed" in types(final) and "review.submitted" in types(final)


async def test_p2_raised_to_p3_stays_a_ticket(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P2")
        first_run = h.result_run_id
        await advance_to(env, h, 10)
        await temporal.act(env.client, h.id, "change_priority", {"by": "erin", "priority": "P3", "reason": "workaround"})
        await advance_to(env, h, 11)
        s = await get_state(h)
        desc = await h.describe()
    assert s.workflow == TICKET_WORKFLOW and s.priority == "P3" and desc.run_id == first_run
    assert "handed_over" not in types(s)
    # the new response time counts from the change
    assert (s.deadlines.ack_due - events(s, "priority.changed")[0].at).total_seconds() == 4 * 3600


async def test_upgrade_right_after_a_quiet_spell_replays_without_cache(env, engine, task_queue):
    """The same upgrade on a worker without a workflow cache, where every task is a replay from
    scratch (in production: the first task after a worker restart, or on another worker). Before
    the ordered wake-ups (docs/engine.md) this failed with a nondeterminism error."""
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3")
        await advance_to(env, h, 20)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "erin"})
        await temporal.act(env.client, h.id, "post_update", {"by": "erin", "message": "errors growing"})
        await advance_to(env, h, 45)
        await temporal.act(env.client, h.id, "change_priority", {"by": "erin", "priority": "P1", "reason": "most users"})
        await advance_to(env, h, 47)
        s = await get_state(h)
    assert s.workflow == INCIDENT_WORKFLOW
