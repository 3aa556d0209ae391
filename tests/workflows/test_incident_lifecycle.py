"""IncidentResponse from trigger to closed in virtual time (time-skipping server):
verify, review, reopen, runbook actions and checks, repeated alerts, continue-as-new."""

from __future__ import annotations

import pytest

from tests.helpers import (
    HOUR,
    MINUTE,
    HttpStub,
    advance_to,
    assert_replays,
    at_minutes,
    events,
    final_state,
    get_state,
    hours,
    minutes,
    pages,
    repeat_alert,
    running_worker,
    sent_hours,
    start,
    types,
)
from warroom import client as temporal
from workflows.contracts import ActionSpec, CheckSpec, RunbookSpec
from workflows.policy import default_policy

REVIEW = {"by": "alice", "root_cause": "release 42 exhausted the connection pool",
          "contributing_factors": ["no canary"], "lessons": ["canary every release"],
          "action_items": ["add canary stage"]}


def _after(seq_types: list[str], first: str, *then: str) -> bool:
    """True if `then` occur in this order after the first `first` (not necessarily adjacent)."""
    i = -1
    for t in (first, *then):
        try:
            i = seq_types.index(t, i + 1)
        except ValueError:
            raise AssertionError(f"{t!r} does not follow position {i} in {seq_types}") from None
    return True


# --------------------------------------------------------------------------- verify, review, close


async def test_p0_resolved_by_engineer_is_verified_reviewed_and_closed(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await advance_to(env, h, 2)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        for minute in (20, 45):
            await advance_to(env, h, minute)
            await temporal.act(env.client, h.id, "post_update", {"by": "alice", "message": f"rolling back, t+{minute}"})
        await advance_to(env, h, 60)
        await temporal.act(env.client, h.id, "resolve",
                      {"by": "alice", "resolution": "rolled back release 42", "root_cause": "bad release"})
        await advance_to(env, h, 61)
        s = await get_state(h)
        assert s.status == "resolved" and s.phase == "review"
        assert s.review_owner == "alice"
        assert s.resolved_at is not None and [(s.resolved_at - s.created_at) / MINUTE] == minutes(60)
        assert (s.deadlines.review_due - s.resolved_at).total_seconds() == 24 * 3600
        # resolved: the SLA timers stop
        assert s.deadlines.ack_due is None and s.deadlines.next_update_due is None
        assert s.deadlines.resolve_due is None
        await advance_to(env, h, 60 + 13 * 60)
        s = await temporal.act(env.client, h.id, "submit_review", REVIEW)
        final = await final_state(env.client, h)
        await assert_replays(env.client, h)

    t = types(final)
    assert _after(t, "resolve.requested", "phase.started", "verification.passed", "resolved",
                  "review.assigned", "review.submitted", "closed")
    assert [e.details["phase"] for e in events(final, "phase.started")] == [
        "assess", "notify", "war_room", "recover", "verify", "review"]
    resolved = events(final, "resolved")[0]
    assert resolved.actor == "alice" and resolved.details["resolution"] == "rolled back release 42"
    assigned = events(final, "review.assigned")[0]
    assert assigned.details["owner"] == "alice"
    # a reminder every 4 h until the review came in at 13 h
    assert [(e.at - final.resolved_at) / HOUR for e in events(final, "review.reminder")] == hours(4, 8, 12)
    assert {e.details["to"] for e in events(final, "review.reminder")} == {"alice"}
    assert len(pages(final, kind="REMINDER", target="person:alice")) >= 3
    assert events(final, "review.overdue") == []
    sub = events(final, "review.submitted")[0]
    assert sub.actor == "alice" and sub.details["root_cause"] == REVIEW["root_cause"]
    assert [(sub.at - final.resolved_at) / HOUR] == hours(13)
    # the result is the final state
    assert final.status == "closed" and final.phase == "closed"
    assert final.closed_at == sub.at
    assert final.review is not None and final.review.action_items == ["add canary stage"]
    assert t[-1] == "closed"
    assert sorted(p.details["target"] for p in pages(final, kind="RESOLUTION")) == [
        "customer_success_manager", "oncall:L1", "technical_manager"]
    desc = await h.describe()
    assert desc.status is not None and desc.status.name == "COMPLETED"


async def test_p0_review_never_submitted_is_overdue_at_24h_and_escalated(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        # Resolved at 20 min, between deadlines: at 30 min (the ack + 30 min of no progress, and
        # the second silent stakeholder update) the resolve would race an escalation and its page.
        await advance_to(env, h, 20)
        await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "restarted"})
        await advance_to(env, h, 20 + 25 * 60)
        s = await get_state(h)
    assert s.status == "resolved" and s.phase == "review"
    overdue = events(s, "review.overdue")
    assert [(e.at - s.resolved_at) / HOUR for e in overdue] == hours(24)
    assert overdue[0].details["owner"] == "alice"
    esc = [p for p in pages(s, kind="ESCALATION") if p.at >= s.resolved_at]
    assert [p.details["target"] for p in esc] == ["technical_manager"]
    assert [(p.at - s.resolved_at) / HOUR for p in esc] == sent_hours(24)
    # reminders keep coming, overdue is said once
    assert [(e.at - s.resolved_at) / HOUR for e in events(s, "review.reminder")] == hours(4, 8, 12, 16, 20, 24)


async def test_p1_review_is_due_in_48h(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "bob"})
        await advance_to(env, h, 20)
        await temporal.act(env.client, h.id, "resolve", {"by": "bob", "resolution": "failover"})
        await advance_to(env, h, 21)
        s = await get_state(h)
        assert s.phase == "review" and (s.deadlines.review_due - s.resolved_at).total_seconds() == 48 * 3600
        await advance_to(env, h, 20 + 47 * 60)
        assert events(await get_state(h), "review.overdue") == []
        await advance_to(env, h, 20 + 49 * 60)
        s = await get_state(h)
    assert [(e.at - s.resolved_at) / HOUR for e in events(s, "review.overdue")] == hours(48)
    assert [p.details["target"] for p in pages(s, kind="ESCALATION") if p.at >= s.resolved_at] == [
        "technical_manager"]


async def test_source_resolve_goes_through_verify_and_review(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await advance_to(env, h, 25)
        await temporal.source_resolved(env.client, h.id, source="alertmanager", summary="error rate back to 0.1%")
        await advance_to(env, h, 26)
        s = await get_state(h)
    t = types(s)
    assert _after(t, "alert.resolved", "phase.started", "verification.passed", "resolved", "review.assigned")
    assert events(s, "alert.resolved")[0].actor == "alertmanager"
    assert [e.details["phase"] for e in events(s, "phase.started")][-2:] == ["verify", "review"]
    resolved = events(s, "resolved")[0]
    assert resolved.actor == "alertmanager"
    assert s.status == "resolved" and s.phase == "review" and s.review is None
    assert "closed" not in t


async def test_source_resolve_of_an_unknown_incident_says_so(env, engine, task_queue):
    with pytest.raises(temporal.UnknownIncident):
        await temporal.source_resolved(env.client, "incident-does-not-exist", source="alertmanager")


# --------------------------------------------------------------------------- reopen


async def test_reopen_during_review_goes_back_to_recover_and_verifies_again(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await advance_to(env, h, 20)
        await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "restarted"})
        await advance_to(env, h, 60)
        s = await temporal.act(env.client, h.id, "reopen", {"by": "carol", "reason": "errors are back"})
        assert s.status == "acknowledged" and s.reopen_count == 1 and s.resolved_at is None
        await advance_to(env, h, 61)
        s = await get_state(h)
        assert s.phase == "recover"
        assert s.deadlines.next_update_due is not None  # SLA timers run again
        with pytest.raises(temporal.ActionRefused, match="no review is open"):
            await temporal.act(env.client, h.id, "submit_review", REVIEW)
        await advance_to(env, h, 90)
        await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "rolled back"})
        await advance_to(env, h, 91)
        s = await temporal.act(env.client, h.id, "submit_review", REVIEW)
        final = await final_state(env.client, h)
        await assert_replays(env.client, h)
    reopened = events(final, "reopened")
    assert [(e.actor, e.details["reason"], e.details["count"]) for e in reopened] == [
        ("carol", "errors are back", 1)]
    assert at_minutes(final, "reopened") == minutes(60)
    t = types(final)
    i = t.index("reopened")
    assert t[i:].count("verification.passed") == 1 and t[:i].count("verification.passed") == 1
    assert _after(t, "reopened", "phase.started", "resolve.requested", "verification.passed", "resolved",
                  "review.assigned", "review.submitted", "closed")
    phases = [e.details["phase"] for e in events(final, "phase.started")]
    assert phases == ["assess", "notify", "war_room", "recover", "verify", "review", "recover", "verify", "review"]
    assert at_minutes(final, "resolved") == minutes(20, 90)
    assert final.status == "closed" and final.reopen_count == 1


async def test_alert_firing_again_during_review_reopens(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "bob"})
        await advance_to(env, h, 15)
        await temporal.source_resolved(env.client, h.id, source="alertmanager")
        await advance_to(env, h, 45)
        s = await get_state(h)
        assert s.phase == "review"
        t = await temporal.trigger(env.client, repeat_alert(h, s), task_queue=task_queue)
        assert t.workflow_id == h.id
        await advance_to(env, h, 46)
        s = await get_state(h)
        assert s.status == "acknowledged" and s.phase == "recover" and s.reopen_count == 1
        assert (s.alert_count, s.resent_count) == (1, 1)  # the same alert, firing again
        await temporal.source_resolved(env.client, h.id, source="alertmanager")
        await advance_to(env, h, 50)
        s = await get_state(h)
    assert at_minutes(s, "reopened") == minutes(45)
    assert events(s, "reopened")[0].details["reason"] == "alert fired again after resolution"
    assert types(s).count("triggered") == 1
    assert [e.details["phase"] for e in events(s, "phase.started")][-4:] == ["review", "recover", "verify", "review"]
    assert at_minutes(s, "verification.passed") == minutes(15, 46)
    assert s.status == "resolved" and s.phase == "review"


# --------------------------------------------------------------------------- runbook actions and checks


def _http_runbook(stub: HttpStub, *, check_timeout: int = 60) -> RunbookSpec:
    return RunbookSpec(
        name="checkout-http", version="7",
        recover=[ActionSpec(id="restart", kind="http", title="Restart checkout pods",
                            params={"url": stub.url("restart"), "method": "POST"}, timeout_seconds=10,
                            max_attempts=2)],
        verify=[CheckSpec(id="health", kind="http", title="Checkout health",
                          params={"url": stub.url("health")}, timeout_seconds=check_timeout,
                          interval_seconds=5)],
        on_verify_failure=[ActionSpec(id="rollback", kind="http", title="Roll back release",
                                      params={"url": stub.url("rollback"), "method": "POST"},
                                      timeout_seconds=10, max_attempts=2)],
    )


async def test_http_action_runs_and_check_passes_after_one_failure(env, engine, task_queue):
    with HttpStub(restart=[200], health=[503, 200], rollback=[200]) as stub:
        async with running_worker(env.client, task_queue, engine):
            h = await start(env.client, task_queue, priority="P0", runbook=_http_runbook(stub))
            await advance_to(env, h, 3)
            s = await get_state(h)
            assert s.runbook == "checkout-http" and s.runbook_version == "7"
            assert [(st.id, st.stage, st.status) for st in s.steps] == [
                ("restart", "recover", "succeeded"), ("health", "verify", "pending")]
            await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
            await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "restarted"})
            await advance_to(env, h, 10)
            s = await get_state(h)
    started = events(s, "action.started")
    assert [(e.details["step"], e.details["kind"]) for e in started] == [("restart", "http")]
    ok = events(s, "action.succeeded")
    assert [e.details["step"] for e in ok] == ["restart"] and "POST" in ok[0].details["detail"]
    assert stub.hits("POST", "restart") == 1
    assert stub.hits("GET", "health") == 2
    passed = events(s, "check.passed")
    assert [e.details["step"] for e in passed] == ["health"] and "attempt 2" in passed[0].details["detail"]
    assert events(s, "check.failed") == [] and events(s, "verification.failed") == []
    assert _after(types(s), "action.succeeded", "resolve.requested", "check.passed", "verification.passed",
                  "resolved")
    assert s.status == "resolved" and s.phase == "review"
    assert {st.id: st.status for st in s.steps} == {"restart": "succeeded", "health": "succeeded"}
    assert stub.hits("POST", "rollback") == 0


async def test_failing_check_escalates_and_runs_the_on_failure_actions(env, engine, task_queue):
    with HttpStub(restart=[200], health=[503], rollback=[200]) as stub:
        async with running_worker(env.client, task_queue, engine):
            h = await start(env.client, task_queue, priority="P0", runbook=_http_runbook(stub, check_timeout=30))
            await advance_to(env, h, 2)
            await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
            await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "restarted"})
            await advance_to(env, h, 5)
            s = await get_state(h)
            assert s.status == "acknowledged" and s.phase == "recover"
            assert {st.id: st.status for st in s.steps} == {
                "restart": "succeeded", "health": "pending", "rollback": "succeeded"}
            # the rollback helped: resolving again verifies again and passes
            stub.set("health", [200])
            await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "rolled back"})
            await advance_to(env, h, 6)
            s2 = await get_state(h)
            await assert_replays(env.client, h)
    failed = events(s, "verification.failed")
    assert [e.details["failed"] for e in failed] == [["health"]]
    check = events(s, "check.failed")[0]
    assert check.details["step"] == "health" and "503" in check.details["detail"]
    assert stub.hits("GET", "health") >= 2  # retried until its timeout
    esc = events(s, "escalated")
    assert [(e.details["reason"], e.details["level"]) for e in esc] == [("verification_failed", 2)]
    assert [p.details["target"] for p in pages(s, kind="ESCALATION")] == ["oncall:L2"]
    assert _after(types(s), "verification.failed", "escalated", "phase.started", "action.started",
                  "action.succeeded")
    assert [e.details["phase"] for e in events(s, "phase.started")][-2:] == ["verify", "recover"]
    assert [e.details["step"] for e in events(s, "action.started")] == ["restart", "rollback"]
    assert stub.hits("POST", "rollback") == 1
    assert events(s, "resolved") == []
    assert s.escalation_level == 2
    # second round
    assert len(events(s2, "verification.passed")) == 1 and s2.status == "resolved"
    assert stub.hits("POST", "restart") == 1  # the first round's actions do not run again


# --------------------------------------------------------------------------- manual steps


async def test_manual_step_waits_with_reminders_until_completed(env, engine, task_queue):
    rb = RunbookSpec(name="manual-failover", version="2",
                     recover=[ActionSpec(id="failover", kind="manual", title="Fail over the database"),
                              ActionSpec(id="pause", kind="wait", params={"seconds": 60})])
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0", runbook=rb)
        await advance_to(env, h, 1)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await advance_to(env, h, 50)
        s = await get_state(h)
        assert {st.id: st.status for st in s.steps} == {"failover": "waiting", "pause": "pending"}
        s = await temporal.act(env.client, h.id, "complete_step",
                          {"by": "alice", "step": "failover", "note": "replica promoted"})
        with pytest.raises(temporal.ActionRefused, match="'pause' is not waiting"):
            await temporal.act(env.client, h.id, "complete_step", {"by": "alice", "step": "pause"})
        await advance_to(env, h, 75)
        s = await get_state(h)
        await assert_replays(env.client, h)
    started_at = events(s, "action.started")[0].at
    reminders = events(s, "step.reminder")
    assert [(e.at - started_at) / MINUTE for e in reminders] == minutes(15, 30, 45)
    assert {e.details["step"] for e in reminders} == {"failover"}
    assert {e.details["to"] for e in reminders} == {"alice"}
    done = events(s, "step.completed")
    assert [(e.actor, e.details["step"], e.details["result"], e.details["note"]) for e in done] == [
        ("alice", "failover", "done", "replica promoted")]
    assert at_minutes(s, "step.completed") == minutes(50)
    assert [e.details["step"] for e in events(s, "action.succeeded")] == ["failover", "pause"]
    assert {st.id: st.status for st in s.steps} == {"failover": "succeeded", "pause": "succeeded"}
    # no more reminders once completed
    assert all(e.at <= done[0].at for e in reminders)


# --------------------------------------------------------------------------- repeated alerts


async def test_repeated_alert_joins_the_open_incident(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await advance_to(env, h, 5)
        t = await temporal.trigger(env.client, repeat_alert(h, await get_state(h), labels={"instance": "b"}),
                                   task_queue=task_queue)
        assert t.workflow_id == h.id and t.deduplicated
        await advance_to(env, h, 6)
        again = await temporal.trigger(env.client, repeat_alert(h, await get_state(h)), task_queue=task_queue)
        assert again.deduplicated and again.incident_id == t.incident_id
        await advance_to(env, h, 7)
        s = await get_state(h)
        desc = await h.describe()
    # a second alert (another instance) is counted; the first one sent again is a re-send
    assert (s.alert_count, s.resent_count) == (2, 1)
    assert at_minutes(s, "alert.received") == minutes(0, 5)
    assert [e.details["count"] for e in events(s, "alert.received")] == [1, 2]
    assert types(s).count("triggered") == 1
    assert desc.run_id == h.result_run_id  # the same run, not a new incident


# --------------------------------------------------------------------------- continue-as-new


async def test_long_incident_continues_as_new_without_losing_anything(env, engine, task_queue):
    policy = default_policy()
    policy.escalation.continue_as_new_after_events = 150
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", policy=policy)
        first_run = h.result_run_id
        await advance_to(env, h, 3)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await temporal.act(env.client, h.id, "assign_commander", {"by": "alice", "commander": "dave"})
        for minute in range(10, 6 * 60, 10):
            await advance_to(env, h, minute)
            await temporal.act(env.client, h.id, "post_update", {"by": "dave", "message": f"t+{minute}"})
        await advance_to(env, h, 6 * 60 + 5)
        s = await temporal.act(env.client, h.id, "resolve", {"by": "dave", "resolution": "capacity added"})
        await advance_to(env, h, 6 * 60 + 10)
        mid = await get_state(h)
        assert mid.phase == "review" and mid.commander == "dave" and mid.priority == "P1"
        await temporal.act(env.client, h.id, "submit_review", dict(REVIEW, by="dave"))
        final = await final_state(env.client, h)
        runs = await assert_replays(env.client, h)
        desc = await h.describe()
    assert desc.run_id != first_run and runs >= 2, "the incident never continued as new"
    seqs = [e.seq for e in final.timeline]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(events(final, "status_update.posted")) == len(range(10, 6 * 60, 10))
    assert [e.details["message"] for e in events(final, "status_update.posted")] == [
        f"t+{m}" for m in range(10, 6 * 60, 10)]
    assert types(final).count("triggered") == 1
    assert [e.details["phase"] for e in events(final, "phase.started")] == [
        "assess", "notify", "war_room", "recover", "verify", "review"]
    assert final.commander == "dave" and final.priority == "P1" and final.acknowledged_by == "alice"
    assert final.status == "closed"
    # stakeholder updates kept their 30-min cadence across runs
    ticks = at_minutes(final, "stakeholder_update.sent")
    assert ticks == minutes(*range(30, 6 * 60 + 5, 30))
    # every page once: notification keys are unique across runs
    keys = [p.details["key"] for p in pages(final)]
    assert len(keys) == len(set(keys))
