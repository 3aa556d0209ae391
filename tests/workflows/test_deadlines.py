"""workflows/deadlines.py: when each timer is due for a given state (plain tests, no server)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

from workflows.contracts import Bookkeeping, IncidentState, PriorityPolicy, ResponsePolicy, Review, RunbookSpec
from workflows.deadlines import (
    TIMERS,
    Facts,
    due_times,
    next_update_tick,
    no_progress_level,
    numbers,
    pending,
    repeat_from,
    span,
    view,
)
from workflows.policy import default_policy

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
POLICY = default_policy()
MIN = timedelta(minutes=1)


def facts(priority: str = "P0", *, level: int = 1, ladder: bool = True, runbook: RunbookSpec | None = None,
          level_waits: list[int] | None = None, policy: ResponsePolicy = POLICY, **state: object) -> Facts:
    book = {k: state.pop(k) for k in list(state) if k in {f.name for f in dataclasses.fields(Bookkeeping)}}
    s = IncidentState(incident_id="incident-x", workflow="IncidentResponse", title="login down",
                      priority=priority, created_at=T0, escalation_level=level, **state)  # type: ignore[arg-type]
    b = Bookkeeping(**{"ack_window_start": T0, "last_update_tick": T0, "last_progress_at": T0, **book})  # type: ignore[arg-type]
    pp = numbers(policy, priority, level, level_waits=level_waits, runbook=runbook)
    return Facts(s, b, pp, policy.escalation, ladder=ladder)


def before_the_file(policy: ResponsePolicy) -> ResponsePolicy:
    """The policy as a run started before the service-levels file has it in its input: only the
    fields of then, the others at their dataclass defaults."""
    old = {f.name for f in dataclasses.fields(PriorityPolicy)
           if f.name in ("priority", "ack_seconds", "update_seconds", "resolve_seconds", "review_seconds",
                         "stakeholders", "war_room")}
    return ResponsePolicy(priorities={p: PriorityPolicy(**{k: getattr(pp, k) for k in old})
                                      for p, pp in policy.priorities.items()}, escalation=policy.escalation)


def test_a_new_p0_is_due_ack_update_management_and_resolve() -> None:
    assert due_times(facts("P0")) == {
        "nudge": T0 + 12 * MIN, "ack": T0 + 15 * MIN, "update": T0 + 15 * MIN, "brief:management": T0 + 30 * MIN,
        "resolve": T0 + 120 * MIN,
    }


def test_a_run_from_before_the_service_levels_file_keeps_its_timers() -> None:
    """An input without the file's fields (a run started before it) has the timers it had."""
    assert due_times(facts("P0", policy=before_the_file(POLICY))) == {
        "ack": T0 + 15 * MIN, "update": T0 + 15 * MIN, "management": T0 + 30 * MIN, "resolve": T0 + 120 * MIN,
    }
    old_p4 = numbers(before_the_file(POLICY), "P4", 1)
    assert (old_p4.top_level, old_p4.resolve_notify, old_p4.silence_intervals, old_p4.nudge_percent) == (
        4, ["management"], 0, 0)


def test_a_new_p1_has_no_management_briefing_and_its_own_numbers() -> None:
    assert due_times(facts("P1")) == {"nudge": T0 + 24 * MIN, "ack": T0 + 30 * MIN, "update": T0 + 30 * MIN,
                                      "resolve": T0 + 240 * MIN}


def test_ties_fire_in_name_order_and_the_earliest_first() -> None:
    names = [d.name for d in pending(facts("P0"))]
    assert names == ["nudge", "ack", "update", "brief:management", "resolve"]


def test_the_nudge_is_once_per_ack_window_and_only_while_unacknowledged() -> None:
    assert "nudge" not in due_times(facts("P0", nudged_window=T0))
    # escalated at 15 min: the new level's window gets its own nudge, at 80 % of it
    assert due_times(facts("P0", level=2, nudged_window=T0, ack_window_start=T0 + 15 * MIN))["nudge"] == \
        T0 + 27 * MIN
    assert "nudge" not in due_times(facts("P0", status="acknowledged"))
    off = default_policy()
    off.priorities["P0"].nudge_percent = 0
    assert "nudge" not in due_times(facts("P0", policy=off))


def test_briefings_are_the_priority_s_each_once() -> None:
    policy = default_policy()
    policy.priorities["P1"].briefings = {"management": 3600, "customer_success_manager": 600}
    assert {k: v for k, v in due_times(facts("P1", policy=policy)).items() if k.startswith("brief")} == {
        "brief:management": T0 + 60 * MIN, "brief:customer_success_manager": T0 + 10 * MIN}
    assert "brief:management" not in due_times(facts("P1", policy=policy, briefed=["management"]))
    assert not any(k.startswith("brief") for k in due_times(facts("P1", policy=policy, status="resolved")))


def test_acknowledged_trades_the_ack_sla_for_the_no_progress_ladder() -> None:
    f = facts("P1", status="acknowledged", last_progress_at=T0 + 10 * MIN)
    d = due_times(f)
    assert "ack" not in d and d["progress"] == T0 + 40 * MIN  # 30 min without progress -> L2
    # at L2 the next rung is L3, one hour after the last progress
    assert due_times(facts("P1", level=2, status="acknowledged"))["progress"] == T0 + 60 * MIN
    # a ticket has no ladder; a resolve request stops it too
    assert "progress" not in due_times(facts("P3", status="acknowledged", ladder=False))
    assert "progress" not in due_times(facts("P1", status="acknowledged", resolve_requested_by="ana"))
    # at the top level there is no rung left
    assert "progress" not in due_times(facts("P1", level=4, status="acknowledged"))


def test_the_resolve_target_fires_once_per_priority() -> None:
    assert "resolve" not in due_times(facts("P1", resolve_target_fired_for="P1"))
    # downgraded after it fired: the new priority's target, still from the trigger
    assert due_times(facts("P2", resolve_target_fired_for="P1"))["resolve"] == T0 + 8 * 60 * MIN


def test_management_is_briefed_once() -> None:
    assert "brief:management" not in due_times(facts("P0", briefed=["management"]))
    assert "management" not in due_times(facts("P0", policy=before_the_file(POLICY), management_notified=True))


def test_p2_to_p4_climb_no_higher_than_their_top_level() -> None:
    policy = default_policy()
    assert [policy.of(p).top_level for p in ("P0", "P1", "P2", "P3", "P4")] == [4, 4, 2, 2, 2]
    assert [policy.of(p).resolve_notify for p in ("P2", "P3", "P4")] == [[], [], []]
    assert [policy.of(p).briefings for p in ("P2", "P3", "P4")] == [{}, {}, {}]
    # a P1 configured to stop at L3: its no-progress ladder has no rung above it
    policy.priorities["P1"].top_level = 3
    assert due_times(facts("P1", policy=policy, status="acknowledged", level=2))["progress"] == T0 + 60 * MIN
    assert "progress" not in due_times(facts("P1", policy=policy, status="acknowledged", level=3))


def test_a_priority_s_own_ladder_replaces_the_escalation_s() -> None:
    policy = default_policy()
    policy.priorities["P1"].no_progress_seconds = [20, 40]
    assert due_times(facts("P1", policy=policy, status="acknowledged"))["progress"] == T0 + timedelta(seconds=20)
    assert due_times(facts("P1", policy=policy, status="acknowledged", level=2))["progress"] == \
        T0 + timedelta(seconds=40)
    assert "progress" not in due_times(facts("P1", policy=policy, status="acknowledged", level=3))


def test_the_update_cadence_follows_the_last_tick_and_the_priority() -> None:
    assert due_times(facts("P1", last_update_tick=T0 + 30 * MIN))["update"] == T0 + 60 * MIN
    # upgraded to P0 at minute 40: the next update at the last tick + 15 min
    assert due_times(facts("P0", last_update_tick=T0 + 30 * MIN))["update"] == T0 + 45 * MIN


def test_resolved_leaves_only_the_review_timers() -> None:
    resolved = T0 + 90 * MIN
    f = facts("P0", status="resolved", phase="review", resolved_at=resolved,
              next_review_reminder=resolved + 240 * MIN, step_reminders={"restart": T0})
    assert due_times(f) == {"review_reminder": resolved + 240 * MIN, "review_overdue": resolved + 24 * 60 * MIN}
    assert view(f).review_due == resolved + 24 * 60 * MIN and view(f).ack_due is None
    overdue_fired = facts("P0", status="resolved", phase="review", resolved_at=resolved, review_overdue_fired=True)
    assert due_times(overdue_fired) == {}
    submitted = dataclasses.replace(f.s, review=Review(by="ana", root_cause="dns"))
    assert due_times(dataclasses.replace(f, s=submitted)) == {}
    assert view(dataclasses.replace(f, s=submitted)).review_due is None


def test_a_waiting_manual_step_is_reminded_under_its_own_name() -> None:
    f = facts("P1", status="acknowledged", step_reminders={"restart": T0 + 15 * MIN, "drain": T0 + 5 * MIN})
    due = {d.name: (d.at, d.key, d.timer.name) for d in pending(f)}
    assert due["step:restart"] == (T0 + 15 * MIN, "restart", "step")
    assert due["step:drain"] == (T0 + 5 * MIN, "drain", "step")
    assert pending(f)[0].name == "step:drain"


def test_closed_has_no_deadlines() -> None:
    assert due_times(facts("P0", status="closed", phase="closed", step_reminders={"x": T0})) == {}


def test_the_view_shows_ack_update_and_resolve() -> None:
    v = view(facts("P0"))
    assert (v.ack_due, v.next_update_due, v.resolve_due, v.review_due) == (
        T0 + 15 * MIN, T0 + 15 * MIN, T0 + 120 * MIN, None)


def test_runbooks_and_on_call_waits_only_tighten_the_numbers() -> None:
    tight = RunbookSpec(name="fast", update_minutes=5, ack_minutes=10)
    assert due_times(facts("P1", runbook=tight))["ack"] == T0 + 10 * MIN
    assert due_times(facts("P1", runbook=tight))["update"] == T0 + 5 * MIN
    loose = RunbookSpec(name="slow", update_minutes=120, ack_minutes=120)
    assert due_times(facts("P1", runbook=loose))["ack"] == T0 + 30 * MIN
    # the on-call policy's wait at the current level (L2: 10 min); 0 means "the SLA"
    assert due_times(facts("P1", level=2, level_waits=[300, 600]))["ack"] == T0 + 10 * MIN
    assert due_times(facts("P1", level=3, level_waits=[300, 600]))["ack"] == T0 + 10 * MIN  # past the last: the last
    assert due_times(facts("P1", level_waits=[0]))["ack"] == T0 + 30 * MIN
    assert due_times(facts("P1", level_waits=[3600]))["ack"] == T0 + 30 * MIN


def test_no_progress_lifts_to_the_rung_the_silence_reached() -> None:
    ladder = POLICY.escalation.no_progress_seconds  # 30 min, 1 h, 2 h
    assert no_progress_level(1, 1800, ladder) == 2
    assert no_progress_level(1, 3600, ladder) == 3
    assert no_progress_level(1, 7200, ladder) == 4
    assert no_progress_level(3, 1800, ladder) == 4  # always at least one up


def test_the_update_cadence_is_anchored_to_when_it_was_due() -> None:
    interval = 15 * MIN
    late = T0 + 15 * MIN + timedelta(seconds=7)
    assert next_update_tick(T0, late, interval, anchored=True) == T0 + 15 * MIN
    assert next_update_tick(T0, late, interval, anchored=False) == late
    after_outage = T0 + 50 * MIN  # more than an interval late: restart from now, no burst
    assert next_update_tick(T0, after_outage, interval, anchored=True) == after_outage


def test_a_repeating_deadline_repeats_from_when_it_was_due() -> None:
    every = 15 * MIN
    due = T0 + 15 * MIN
    assert repeat_from(due, due, every) == due
    assert repeat_from(due, due + timedelta(seconds=40), every) == due  # handled late: no drift
    assert repeat_from(due, due + every - timedelta(microseconds=1), every) == due
    assert repeat_from(due, due + every, every) == due + every  # a whole interval late (an outage): from now
    assert repeat_from(due, due + 3 * every, every) == due + 3 * every  # once, never a burst


def test_spans_read_as_people_say_them() -> None:
    assert [span(s) for s in (900, 7200, 5400, 5, 90, 0)] == ["15 min", "2 h", "1 h 30 min", "5 s", "1 min 30 s",
                                                              "0 min"]


def test_one_row_per_timer() -> None:
    names = [t.name for t in TIMERS]
    assert names == ["ack", "progress", "resolve", "management", "brief", "nudge", "update", "review_reminder",
                     "review_overdue", "step"]
    assert len(set(names)) == len(names)
