"""What a runbook makes the engine do, in virtual time: approvals by named people, rollbacks
when verification fails, escalation left out when the runbook says so, a tighter update
cadence and ack SLA than the priority's, and retries with the runbook's backoff."""

from __future__ import annotations

import pytest

from tests.helpers import (
    MINUTE,
    HttpStub,
    advance_to,
    assert_replays,
    at_minutes,
    events,
    get_state,
    minutes,
    running_worker,
    start,
)
from warroom import client as temporal
from workflows.contracts import ActionSpec, CheckSpec, RunbookSpec


async def test_approval_waits_for_a_named_approver_and_rejection_fails_the_action(env, engine, task_queue):
    rb = RunbookSpec(name="data-restore", version="4", recover=[
        ActionSpec(id="stop-writes", kind="wait", params={"seconds": 30}),
        ActionSpec(id="restore", kind="approval", title="Restore from last night's backup",
                   params={"approvers": ["dana", "eve"], "role": "DBA lead"}),
        ActionSpec(id="announce", kind="approval", params={"approvers": ["dana"]})])
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0", runbook=rb)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await advance_to(env, h, 20)
        s = await get_state(h)
        assert {st.id: st.status for st in s.steps} == {"stop-writes": "succeeded", "restore": "waiting",
                                                        "announce": "pending"}
        with pytest.raises(temporal.ActionRefused, match=r"needs the approval of dana or eve \(DBA lead\)"):
            await temporal.act(env.client, h.id, "complete_step", {"by": "alice", "step": "restore",
                                                               "result": "approved"})
        with pytest.raises(temporal.ActionRefused, match="result must be approved or rejected"):
            await temporal.act(env.client, h.id, "complete_step", {"by": "eve", "step": "restore"})
        await temporal.act(env.client, h.id, "complete_step", {"by": "eve", "step": "restore", "result": "approved",
                                                          "note": "backup checked"})
        await advance_to(env, h, 21)
        await temporal.act(env.client, h.id, "complete_step", {"by": "dana", "step": "announce", "result": "rejected"})
        await advance_to(env, h, 22)
        s = await get_state(h)
        await assert_replays(env.client, h)
    assert [(e.actor, e.details["step"], e.details["result"]) for e in events(s, "step.completed")] == [
        ("eve", "restore", "approved"), ("dana", "announce", "rejected")]
    assert [e.details["step"] for e in events(s, "action.succeeded")] == ["stop-writes", "restore"]
    assert [e.details["step"] for e in events(s, "action.failed")] == ["announce"]
    # an approval that waits is reminded like a manual step (every 15 min)
    asked = [e.at for e in events(s, "action.started") if e.details["step"] == "restore"][0]
    assert [e.details["step"] for e in events(s, "step.reminder")] == ["restore"]
    assert [(e.at - asked) / MINUTE for e in events(s, "step.reminder")] == minutes(15)


def _rollback_runbook(stub: HttpStub, *, escalate: bool) -> RunbookSpec:
    return RunbookSpec(
        name="config-rollback", version="2", escalate_on_verify_failure=escalate,
        recover=[ActionSpec(id="apply-flag", kind="http", params={"url": stub.url("apply"), "method": "POST"},
                            max_attempts=1,
                            rollback=ActionSpec(id="revert-flag", kind="http",
                                                params={"url": stub.url("revert"), "method": "POST"})),
                 ActionSpec(id="note", kind="wait", params={"seconds": 5})],
        verify=[CheckSpec(id="errors-down", kind="http", params={"url": stub.url("health")}, timeout_seconds=10,
                          interval_seconds=5)],
        on_verify_failure=[ActionSpec(id="page-owner", kind="http", params={"url": stub.url("owner")})])


@pytest.mark.parametrize("escalate", [True, False])
async def test_failed_verification_rolls_back_then_runs_the_next_actions(env, engine, task_queue, escalate):
    with HttpStub(apply=[200], revert=[200], health=[500], owner=[200]) as stub:
        async with running_worker(env.client, task_queue, engine):
            h = await start(env.client, task_queue, priority="P1", runbook=_rollback_runbook(stub, escalate=escalate))
            await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
            await advance_to(env, h, 2)
            await temporal.act(env.client, h.id, "resolve", {"by": "alice", "resolution": "flag applied"})
            await advance_to(env, h, 5)
            s = await get_state(h)
            await assert_replays(env.client, h)
    t = [e.type for e in s.timeline]
    assert t.index("verification.failed") < t.index("rollback.started") < t.index("rollback.succeeded")
    rb = events(s, "rollback.succeeded")[0]
    assert rb.details["step"] == "revert-flag" and rb.details["of"] == "apply-flag"
    assert stub.hits("POST", "revert") == 1 and stub.hits("GET", "owner") == 1
    assert [e.details["step"] for e in events(s, "action.started")] == ["apply-flag", "note", "page-owner"]
    esc = [e.details["reason"] for e in events(s, "escalated")]
    assert esc == (["verification_failed"] if escalate else [])
    assert {(st.id, st.stage): st.status for st in s.steps}[("revert-flag", "rollback")] == "succeeded"


async def test_a_runbook_tightens_update_cadence_and_ack_sla(env, engine, task_queue):
    rb = RunbookSpec(name="payments", version="1", update_minutes=10, ack_minutes=5)
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", runbook=rb)
        await advance_to(env, h, 31)
        s = await get_state(h)
    # P1 alone: ack in 30 min, updates every 30 min; this runbook: 5 and 10
    # (each re-escalation counts from when the previous one was handled: the latencies add up,
    # still well inside the tolerance)
    assert at_minutes(s, "escalated", reason="ack_timeout")[:2] == minutes(5, 10)
    assert at_minutes(s, "stakeholder_update.sent")[:3] == minutes(10, 20, 30)


async def test_a_runbook_cannot_loosen_its_priority(env, engine, task_queue):
    rb = RunbookSpec(name="lax", version="1", update_minutes=60, ack_minutes=60)
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P0", runbook=rb)
        await advance_to(env, h, 16)
        s = await get_state(h)
    assert at_minutes(s, "escalated", reason="ack_timeout") == minutes(15)
    assert at_minutes(s, "stakeholder_update.sent") == minutes(15)


async def test_editing_the_runbook_file_never_changes_a_running_incident(env, engine, task_queue, tmp_path):
    """The runbook chosen at assess travels in the workflow's history: a new version of the
    file (and a worker restarted on it) changes nothing for an incident already running."""
    from warroom.runbooks import RunbookLibrary

    path = tmp_path / "queue-backlog.yaml"
    path.write_text("name: queue-backlog\nversion: '1'\nmatch: {service: queue}\n"
                    "recover:\n  - {id: drain-v1, kind: manual, title: Drain the dead-letter queue}\n")
    async with running_worker(env.client, task_queue, engine, runbooks=RunbookLibrary(tmp_path)):
        h = await start(env.client, task_queue, priority="P1", service="queue", title="Queue backlog growing")
        await advance_to(env, h, 2)
        s = await get_state(h)
        assert (s.runbook, s.runbook_version) == ("queue-backlog", "1")
        assert [(st.id, st.status) for st in s.steps] == [("drain-v1", "waiting")]
    path.write_text("name: queue-backlog\nversion: '2'\nmatch: {service: queue}\n"
                    "recover:\n  - {id: restart-consumers, kind: wait, params: {seconds: 60}}\n")
    async with running_worker(env.client, task_queue, engine, runbooks=RunbookLibrary(tmp_path)):
        await temporal.act(env.client, h.id, "complete_step", {"by": "alice", "step": "drain-v1"})
        await advance_to(env, h, 5)
        s = await get_state(h)
        await assert_replays(env.client, h)
    assert (s.runbook, s.runbook_version) == ("queue-backlog", "1")
    assert [e.details["step"] for e in events(s, "action.succeeded")] == ["drain-v1"]
    assert "restart-consumers" not in [st.id for st in s.steps]


async def test_an_approval_by_role_waits_for_whoever_holds_the_role_at_assess(env, engine, task_queue):
    rb = RunbookSpec(name="restore", version="1", recover=[
        ActionSpec(id="restore", kind="approval", params={"role": "dba-lead"}),
        ActionSpec(id="wipe", kind="approval", params={"role": "nobody-has-this"})])
    async with running_worker(env.client, task_queue, engine, approvers={"dba-lead": ["dana", "eve"]}):
        h = await start(env.client, task_queue, priority="P1", runbook=rb)
        await advance_to(env, h, 1)
        with pytest.raises(temporal.ActionRefused, match=r"needs the approval of dana or eve \(dba-lead\)"):
            await temporal.act(env.client, h.id, "complete_step", {"by": "alice", "step": "restore", "result": "approved"})
        await temporal.act(env.client, h.id, "complete_step", {"by": "dana", "step": "restore", "result": "approved"})
        await advance_to(env, h, 2)
        with pytest.raises(temporal.ActionRefused, match="no one holds that role"):
            await temporal.act(env.client, h.id, "complete_step", {"by": "dana", "step": "wipe", "result": "approved"})
        s = await get_state(h)
    assert [(e.actor, e.details["step"]) for e in events(s, "step.completed")] == [("dana", "restore")]
    assert {st.id: st.status for st in s.steps} == {"restore": "succeeded", "wipe": "waiting"}
