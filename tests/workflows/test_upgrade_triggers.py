"""The SPEC's P1 -> P0 upgrade triggers in virtual time (issue 15; docs/upgrades.md): impact
reported on an engineer update or a later alert raises the priority by itself, with its reason on
the timeline; words in an update are only suggested; the starting alert's expected recovery;
a downgrade is announced to everyone told of the upgrade."""

from __future__ import annotations

from tests.helpers import (
    advance_to,
    at_minutes,
    events,
    get_state,
    minutes,
    pages,
    repeat_alert,
    running_worker,
    start,
)
from warroom import client as temporal
from workflows.contracts import AlertReceived


def automatic(state) -> list[dict]:
    return [e.details for e in events(state, "priority.changed") if e.details.get("automatic")]


async def test_data_loss_reported_in_an_update_raises_a_p1_to_p0_and_says_why(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await advance_to(env, h, 5)
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await advance_to(env, h, 12)
        s = await temporal.act(env.client, h.id, "post_update",
                               {"by": "alice", "message": "orders written since 10:02 are gone", "data_loss": True})
        assert s.priority == "P0"
        await advance_to(env, h, 14)
        s = await get_state(h)
    assert s.impact_signals == ["data_loss"]
    [reported] = events(s, "impact.reported")
    assert (reported.actor, reported.details["signals"], reported.details["via"]) == ("alice", ["data_loss"], "update")
    [change] = events(s, "priority.changed")
    assert change.actor == "system" and change.details["automatic"] is True
    assert (change.details["from"], change.details["to"], change.details["triggers"]) == ("P1", "P0", ["data_loss"])
    assert change.details["reason"] == "data loss reported (update, alice)"
    assert at_minutes(s, "priority.changed") == minutes(12)
    # the P0's stakeholders are told at once, and the P0 timers run from now on
    told = {p.details["target"] for p in pages(s) if "upgraded from P1" in p.details["subject"]}
    assert told == {"oncall:L1", "technical_manager", "customer_success_manager"}
    assert (s.deadlines.next_update_due - s.created_at).total_seconds() / 60 == 15.0


async def test_an_expected_recovery_beyond_4_h_raises_a_p1_and_3_h_does_not(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        s = await temporal.act(env.client, h.id, "post_update",
                               {"by": "alice", "message": "restore running", "expected_recovery_minutes": 180})
        assert s.priority == "P1" and s.expected_recovery_minutes == 180
        await advance_to(env, h, 20)
        s = await temporal.act(env.client, h.id, "post_update",
                               {"by": "alice", "message": "restore is slower", "expected_recovery_minutes": 300})
    assert s.priority == "P0" and s.expected_recovery_minutes == 300
    [change] = automatic(s)
    assert change["triggers"] == ["expected_recovery"]
    assert change["reason"] == "expected recovery 5 h is beyond 4 h (update, alice)"
    assert [e.details["expected_recovery_minutes"] for e in events(s, "impact.reported")] == [180, 300]


async def test_a_later_alert_reporting_a_security_risk_raises_the_incident(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", title="Login errors", source="alertmanager")
        await advance_to(env, h, 3)
        s = await get_state(h)
        await h.signal("alert_received", AlertReceived(alert=repeat_alert(
            h, s, title="Login errors: tokens issued to unknown clients", labels={"security_risk": "true"},
            source="alertmanager", fingerprint="second")))
        await advance_to(env, h, 4)
        s = await get_state(h)
    assert s.priority == "P0" and s.impact_signals == ["security_risk"]
    [change] = automatic(s)
    assert change["reason"] == "a security risk reported (alert labels, alertmanager)"
    assert events(s, "impact.reported")[0].actor == "alertmanager"


async def test_words_in_an_update_are_suggested_never_applied(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        s = await temporal.act(env.client, h.id, "post_update",
                               {"by": "alice", "message": "replica lag; no data loss so far"})
        assert events(s, "upgrade.suggested") == []
        s = await temporal.act(env.client, h.id, "post_update",
                               {"by": "alice", "message": "主库切换后确认数据丢失, possible breach of the admin API"})
    assert s.priority == "P1" and s.impact_signals == []
    assert events(s, "priority.changed") == []
    [suggested] = events(s, "upgrade.suggested")
    assert suggested.details["signals"] == ["data_loss", "security_risk"]
    assert suggested.details["terms"] == ["数据丢失", "breach"]
    assert suggested.details["to"] == "P0" and suggested.details["by"] == "alice"


async def test_the_starting_alerts_expected_recovery_makes_it_p0_before_anyone_is_paged(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1", labels={"expected_recovery_minutes": "360"})
        await advance_to(env, h, 2)
        s = await get_state(h)
    assert s.priority == "P0"
    [change] = automatic(s)
    assert change["triggers"] == ["expected_recovery"] and change["from"] == "P1"
    first = {p.details["target"] for p in pages(s, kind="INITIAL")}
    assert {"technical_manager", "customer_success_manager"} <= first
    assert [p for p in pages(s) if "upgraded" in p.details["subject"]] == []  # nobody had been told P1


async def test_a_downgrade_is_announced_to_everyone_told_of_the_upgrade(env, engine, task_queue):
    async with running_worker(env.client, task_queue, engine):
        h = await start(env.client, task_queue, priority="P1")
        await temporal.act(env.client, h.id, "acknowledge", {"by": "alice"})
        await temporal.act(env.client, h.id, "post_update", {"by": "alice", "message": "all users see errors",
                                                              "all_users": True})
        await advance_to(env, h, 35)  # the P0's management briefing is due 30 min after the trigger
        await temporal.act(env.client, h.id, "change_priority",
                           {"by": "alice", "priority": "P1", "reason": "workaround in place"})
        await advance_to(env, h, 36)
        s = await get_state(h)
    # those told of the P0 (its stakeholders, then management's briefing), and the P1's own:
    # its technical lead and the level now on call (L2 since no progress at 30 min); not the
    # senior engineer paged at the start, who never heard of the P0
    told = {p.details["target"] for p in pages(s) if "downgraded from P0" in p.details["subject"]}
    assert told == {"oncall:L1", "technical_manager", "customer_success_manager", "management",
                    "technical_lead", "oncall:L2"}
    assert at_minutes(s, "priority.changed", direction="downgrade") == minutes(35)
