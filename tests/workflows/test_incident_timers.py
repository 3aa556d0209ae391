"""IncidentResponse timers and escalation in virtual time (time-skipping server)."""

from __future__ import annotations

import pytest

from tests.helpers import (
    MINUTE,
    advance_to,
    at_minutes,
    get_state,
    minutes,
    pages,
    running_worker,
    sent_minutes,
    start,
)
from warroom import client as temporal
from workflows.policy import default_policy


async def test_p0_without_ack_escalates_at_15_minutes_and_pages_next_level(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await advance_to(env, h, 14.9)
        assert at_minutes(await get_state(h), "escalated") == []
        await advance_to(env, h, 46)
        s = await get_state(h)
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(15, 30, 45)
    assert [e.details["level"] for e in s.timeline if e.type == "escalated"] == [2, 3, 4]
    assert s.escalation_level == 4
    assert [(p.at - s.created_at) / MINUTE for p in pages(s, kind="ESCALATION")] == sent_minutes(15, 30, 45)
    assert [p.details["target"] for p in pages(s, kind="ESCALATION")] == ["oncall:L2", "oncall:L3", "oncall:L4"]


async def test_p1_without_ack_escalates_at_30_minutes(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await advance_to(env, h, 29.9)
        assert at_minutes(await get_state(h), "escalated") == []
        await advance_to(env, h, 31)
        s = await get_state(h)
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(30)
    assert pages(s, kind="ESCALATION")[0].details["target"] == "oncall:L2"
    assert s.escalation_level == 2


async def test_acknowledged_incident_does_not_escalate_for_ack(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await advance_to(env, h, 5)
        s = await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        assert s.status == "acknowledged" and s.commander == "alice"
        assert s.deadlines.ack_due is None
        for minute in (10, 20, 35, 50):  # a commander who keeps posting updates
            await advance_to(env, h, minute)
            await temporal.act(env.client, h.id, "post_update", {"by": "alice", "message": f"working, t+{minute}"})
        await advance_to(env, h, 60)
        s = await get_state(h)
    assert at_minutes(s, "escalated") == []
    assert s.escalation_level == 1
    assert [e.details["commander"] for e in s.timeline if e.type == "commander.assigned"] == ["alice"]


async def test_stakeholder_updates_every_15_minutes_with_reminders_when_silent(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await advance_to(env, h, 2)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await advance_to(env, h, 20)
        await temporal.act(env.client, h.id, "post_update", {"by": "alice", "message": "rolling back release 42"})
        # resolved at 48, between deadlines: at 50 the 30 min without progress since the update
        # at 20 falls due, and a resolve at that very moment races it
        await advance_to(env, h, 48)
        await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "rolled back"})
        await advance_to(env, h, 80)
        s = await get_state(h)
    assert at_minutes(s, "stakeholder_update.sent") == minutes(15, 30, 45)
    sent = [e for e in s.timeline if e.type == "stakeholder_update.sent"]
    assert [e.details["fresh"] for e in sent] == [False, True, False]
    assert "rolling back release 42" in sent[1].details["message"]
    # Reminders go to the commander in the intervals where nothing new was posted.
    assert at_minutes(s, "update.reminder") == minutes(15, 45)
    assert {e.details["to"] for e in s.timeline if e.type == "update.reminder"} == {"alice"}
    # Every stakeholder of a P0 gets each update; the war room gets them too, with the
    # engineer's own update and the resolution.
    stakeholder = [p for p in pages(s, kind="UPDATE") if p.details["target"] != "war_room"]
    assert {p.details["target"] for p in stakeholder} == {"oncall:L1", "technical_manager", "customer_success_manager"}
    assert len(stakeholder) == 9
    assert [(p.at - s.created_at) / MINUTE for p in pages(s, target="war_room")] == sent_minutes(15, 20, 30, 45, 48)


async def test_p1_upgraded_to_p0_at_minute_40_makes_next_update_due_within_15_minutes(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await advance_to(env, h, 10)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "bob"})
        await advance_to(env, h, 40)
        s = await temporal.act(env.client, h.id, "change_priority",
                          {"by": "bob", "priority": "P0", "reason": "data loss found"})
        assert s.priority == "P0"
        due_in = (s.deadlines.next_update_due - s.timeline[-1].at).total_seconds() / 60
        assert 0 < due_in <= 15
        assert (s.deadlines.resolve_due - s.created_at).total_seconds() == 2 * 3600
        await advance_to(env, h, 61)
        s = await get_state(h)
    change = [e for e in s.timeline if e.type == "priority.changed"][0]
    assert change.actor == "bob" and change.details["from"] == "P1" and change.details["to"] == "P0"
    assert change.details["reason"] == "data loss found"
    assert at_minutes(s, "stakeholder_update.sent") == minutes(30, 45, 60)
    assert s.war_room is not None  # P0 always has a war room


@pytest.mark.parametrize("priority,every,target_minutes,follow_ups", [
    ("P0", 10, 120, ["management", "management"]),  # the first is the P0 briefing at 30 min
    ("P1", 20, 240, ["management"]),
])
async def test_resolve_target_escalates_and_notifies_management(env, engine, task_queue, priority, every,
                                                                target_minutes, follow_ups):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority=priority)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        for minute in range(every, target_minutes + every, every):  # updates keep no_progress quiet
            await advance_to(env, h, minute)
            await temporal.act(env.client, h.id, "post_update", {"by": "alice", "message": f"t+{minute}"})
        await advance_to(env, h, target_minutes + 5)
        s = await get_state(h)
    assert at_minutes(s, "escalated", reason="resolve_target") == minutes(target_minutes)
    assert at_minutes(s, "escalated", reason="no_progress") == []
    assert [p.details["target"] for p in pages(s, kind="FOLLOW_UP")] == follow_ups
    assert [(pages(s, kind="FOLLOW_UP")[-1].at - s.created_at) / MINUTE] == sent_minutes(target_minutes)
    if priority == "P0":
        assert [(pages(s, kind="FOLLOW_UP")[0].at - s.created_at) / MINUTE] == sent_minutes(30)


async def test_no_progress_after_ack_climbs_the_ladder(env, engine, task_queue):
    # the ladder alone: silence (two silent stakeholder updates) escalates too, tested apart
    policy = default_policy()
    policy.priorities["P1"].silence_intervals = 0
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", policy=policy)
        await advance_to(env, h, 1)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await advance_to(env, h, 125)
        s = await get_state(h)
    assert at_minutes(s, "escalated", reason="no_progress") == minutes(31, 61, 121)
    assert s.escalation_level == 4


async def test_impact_spreading_goes_straight_to_architect(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", affected_users=200)
        for users in (400, 900):
            await advance_to(env, h, 5 if users == 400 else 8)
            await temporal.trigger(env.client, (await _same_alert(h, users)), task_queue=task_queue)
        s = await get_state(h)
    # the same alert re-sent with new figures: counted as re-sends, and its figures still count
    assert (s.alert_count, s.resent_count) == (1, 2)
    assert at_minutes(s, "escalated", reason="impact_spreading") == minutes(8)
    assert s.escalation_level == 3


async def _same_alert(h, users):
    from tests.helpers import alert

    st = await get_state(h)
    dedup = h.id.removeprefix("incident-")
    return alert(title=st.title, service=st.service, dedup_key=dedup, priority="P1", affected_users=users)


@pytest.mark.parametrize("action,payload,reason", [
    ("change_priority", {"by": "alice", "priority": "P7", "reason": "x"}, "priority must be one of"),
    ("acknowledge", {"by": ""}, "actor ('by') must name a person"),
    ("post_update", {"by": "   ", "message": "hi"}, "actor ('by') must name a person"),
    ("post_update", {"by": "alice", "message": ""}, "message must not be empty"),
    ("complete_step", {"by": "alice", "step": "nope"}, "not waiting"),
    ("submit_review", {"by": "alice", "root_cause": "x"}, "no review is open"),
    ("reopen", {"by": "alice"}, "only a resolved incident can be reopened"),
    ("change_priority", {"by": "alice", "priority": "P0", "reason": "x"}, "already P0"),
])
async def test_invalid_actions_are_refused_with_a_reason(env, engine, task_queue, action, payload, reason):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        before = await get_state(h)
        with pytest.raises(temporal.ActionRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
            await temporal.act(env.client, h.id, action, payload)
        after = await get_state(h)
    assert [e.type for e in after.timeline][: len(before.timeline)] == [e.type for e in before.timeline]
    assert not any(e.actor in ("", "   ") for e in after.timeline)


async def test_second_acknowledgement_is_refused(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        with pytest.raises(temporal.ActionRefused, match="already acknowledged by alice"):
            await temporal.act(env.client, h.id, "acknowledge", {"by": "bob"})


async def test_acting_on_a_closed_incident_is_refused_with_a_reason(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P3")
        await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "restarted"})
        final = await h.result()
        assert final.status == "closed"
        with pytest.raises(temporal.ActionRefused, match=f"cannot acknowledge: incident {h.id} is closed"):
            await temporal.act(env.client, h.id, "acknowledge", {"by": "bob"})
        assert (await get_state(h)).timeline == final.timeline  # nothing was added


async def test_acting_on_an_unknown_incident_says_so(env, engine, task_queue):
    with pytest.raises(temporal.UnknownIncident):
        await temporal.act(env.client, "incident-does-not-exist", "acknowledge", {"by": "bob"})
    with pytest.raises(temporal.UnknownIncident):
        await temporal.state(env.client, "incident-does-not-exist")
