"""Service levels from the input (issues 14 and 15) in virtual time (time-skipping server):
a file that loosens, every timer in seconds, silence that escalates, the pre-breach nudge,
and deadlines that repeat from when they were due."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import (
    MINUTE,
    advance_to,
    at_minutes,
    events,
    get_state,
    minutes,
    pages,
    running_worker,
    start,
)
from warroom import client as temporal
from warroom.levels import check_text
from workflows.contracts import ActionSpec, ResponsePolicy, RunbookSpec

SECOND = timedelta(seconds=1)


def levels(text: str, service: str = "") -> ResponsePolicy:
    found, problems = check_text("version: 1\n" + text)
    assert problems == [] and found is not None
    return found.policy_for(service)


def seconds_after(state, type_: str, **match) -> list[float]:
    return [round((e.at - state.created_at) / SECOND, 1) for e in events(state, type_)
            if all(e.details.get(k) == v for k, v in match.items())]


def approx_seconds(*expected: float):
    import pytest

    # the time-skipping server stamps an event within a fraction of a second of its timer
    return pytest.approx(list(expected), abs=1.0)


async def test_a_file_that_loosens_the_ack_sla_is_what_the_incident_runs_with(env, engine, task_queue):
    policy = levels("priorities:\n  P1: {ack: 45m, update: 1h}\n")
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", policy=policy)
        s = await get_state(h)
        assert (s.deadlines.ack_due - s.created_at) == 45 * MINUTE
        await advance_to(env, h, 44.9)
        assert events(await get_state(h), "escalated") == []
        await advance_to(env, h, 46)
        s = await get_state(h)
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(45)
    assert at_minutes(s, "ack.nudge") == minutes(36)  # 80 % of the loosened SLA
    # the numbers the incident started with are on its timeline, for the reports
    assert events(s, "triggered")[0].details["sla"] == {"ack": 2700, "update": 3600, "resolve": 4 * 3600,
                                                        "review": 48 * 3600}


async def test_a_runbook_still_tightens_on_top_of_the_file(env, engine, task_queue):
    policy = levels("priorities:\n  P1: {ack: 45m}\n")
    fast = RunbookSpec(name="fast", version="1", ack_minutes=20)
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", policy=policy, runbook=fast)
        await advance_to(env, h, 21)
        s = await get_state(h)
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(20)


async def test_every_timer_of_the_service_levels_runs_in_seconds(env, engine, task_queue):
    """Ack, nudge, update cadence, management briefing, the no-progress ladder, the resolve
    target, review reminders and the review due date, each set in seconds."""
    policy = levels("""priorities:
  P0: {ack: 10s, update: 12s, resolve: 70s, review: 40s, ladder: [25s, 50s, 65s], brief: {management: 20s},
       silence: 0}
reminders: {review: 15s, manual_step: 8s}
""")
    step = RunbookSpec(name="one-step", version="1", recover=[ActionSpec(id="drain", kind="manual")])
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0", policy=policy, runbook=step)
        st = await get_state(h)
        now = await env.get_current_time()
        await env.sleep(st.created_at + 15 * SECOND - now)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "ana"})
        await env.sleep(st.created_at + 86 * SECOND - await env.get_current_time())
        await temporal.act(env.client, h.id, "resolve", {"by": "ana", "resolution": "drained"})
        await env.sleep(st.created_at + 140 * SECOND - await env.get_current_time())
        s = await get_state(h)
    assert seconds_after(s, "ack.nudge") == approx_seconds(8)
    assert seconds_after(s, "escalated", reason="ack_timeout") == approx_seconds(10)
    assert seconds_after(s, "stakeholder_update.sent")[:4] == approx_seconds(12, 24, 36, 48)
    assert seconds_after(s, "update.reminder")[:2] == approx_seconds(12, 24)
    assert [round((p.at - s.created_at) / SECOND) for p in pages(s, kind="FOLLOW_UP", target="management")
            ] == approx_seconds(20, 70)  # the briefing, then the resolve target
    # acknowledged at 15 s, at L2: L3 after 50 s without progress; the resolve target (70 s)
    # takes it to vendor support before the ladder's last rung (80 s) comes due
    assert seconds_after(s, "escalated", reason="no_progress") == approx_seconds(65)
    assert seconds_after(s, "escalated", reason="resolve_target") == approx_seconds(70)
    assert s.escalation_level == 4
    assert seconds_after(s, "step.reminder")[:2] == approx_seconds(8, 16)
    resolved = (s.resolved_at - s.created_at) / SECOND
    assert [round(x - resolved) for x in seconds_after(s, "review.reminder")][:2] == approx_seconds(15, 30)
    assert [round(x - resolved) for x in seconds_after(s, "review.overdue")] == approx_seconds(40)


async def test_silence_escalates_while_steps_are_being_completed(env, engine, task_queue):
    """Two stakeholder updates in a row without an engineer update escalate one level, even
    though the runbook's steps keep being completed (progress, so the no-progress ladder stays
    quiet); an update posted resets the count."""
    steps = RunbookSpec(name="four-steps", version="1",
                        recover=[ActionSpec(id=f"s{i}", kind="manual") for i in range(1, 5)])
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0", runbook=steps)
        await advance_to(env, h, 1)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        for minute, step in ((10, "s1"), (22, "s2"), (34, "s3"), (46, "s4")):
            await advance_to(env, h, minute)
            await temporal.act(env.client, h.id, "complete_step", {"by": "alice", "step": step})
        await advance_to(env, h, 62)
        await temporal.act(env.client, h.id, "post_update", {"by": "alice", "message": "all four steps done"})
        await advance_to(env, h, 88)
        s = await get_state(h)
    assert [(e.details["reason"], e.details["level"]) for e in events(s, "escalated")] == [
        ("silence", 2), ("silence", 3)]
    assert at_minutes(s, "escalated") == minutes(30, 60)
    assert "no engineer update for 2 stakeholder updates in a row (30 min)" in events(s, "escalated")[0].details["note"]
    assert [p.details["target"] for p in pages(s, kind="ESCALATION")] == ["oncall:L2", "oncall:L3"]
    # the commander is reminded at every silent update, and not after posting one
    assert at_minutes(s, "update.reminder") == minutes(15, 30, 45, 60)
    assert [e.details["fresh"] for e in events(s, "stakeholder_update.sent")] == [False, False, False, False, True]
    assert len(events(s, "step.completed")) == 4


async def test_silence_is_configurable(env, engine, task_queue):
    # three silent updates of a P1 (30 min apart); the ladder set far out of the way
    policy = levels("priorities:\n  P1: {silence: 3, ladder: [10h, 11h, 12h]}\n")
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", policy=policy)
        await advance_to(env, h, 1)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "bob"})
        await advance_to(env, h, 91)
        s = await get_state(h)
    assert at_minutes(s, "escalated") == minutes(90)
    assert events(s, "escalated")[0].details["reason"] == "silence"


async def test_the_level_being_waited_on_is_nudged_at_80_percent_of_the_ack_sla(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await advance_to(env, h, 23.9)
        assert events(await get_state(h), "ack.nudge") == [] and pages(await get_state(h), kind="REMINDER") == []
        await advance_to(env, h, 55)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "carol"})
        await advance_to(env, h, 70)
        s = await get_state(h)
    # one nudge per level waited on: L1 at 24 min, L2 (escalated at 30) at 54 min
    assert at_minutes(s, "ack.nudge") == minutes(24, 54)
    assert [e.details["to"] for e in events(s, "ack.nudge")] == ["oncall:L1", "oncall:L2"]
    nudges = [p for p in pages(s, kind="REMINDER") if "acknowledge now" in p.details["subject"]]
    assert [(p.details["target"], round((p.at - s.created_at) / MINUTE)) for p in nudges] == [
        ("oncall:L1", 24), ("oncall:L2", 54)]
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(30)


async def test_the_nudge_is_configurable(env, engine, task_queue):
    half = levels("priorities:\n  P1: {nudge: 50%}\n")
    never = levels("priorities:\n  P1: {nudge: 0}\n")
    async with running_worker(env.client, task_queue, engine):
        h1 = await start(env.client, task_queue, priority="P1", policy=half)
        h2 = await start(env.client, task_queue, priority="P1", policy=never)
        await advance_to(env, h1, 29)
        s1, s2 = await get_state(h1), await get_state(h2)
    assert at_minutes(s1, "ack.nudge") == minutes(15)
    assert events(s2, "ack.nudge") == []


async def test_repeated_escalations_are_due_from_when_the_last_was_due(env, engine, task_queue):
    """No drift: after each ack-timeout escalation the next is due one window after the last
    was *due*, to the microsecond, however late the worker handled it."""
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await advance_to(env, h, 16)
        s = await get_state(h)
        assert s.deadlines.ack_due == s.created_at + 30 * MINUTE
        await advance_to(env, h, 31)
        s = await get_state(h)
    assert s.deadlines.ack_due == s.created_at + 45 * MINUTE
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(15, 30)
