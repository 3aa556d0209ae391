"""The chaos checker counts what it must (warroom/chaos/check.py): fed timelines and receiver
deliveries with a known defect each, every defect lands in its figure, so the CI chaos run's
zeros (tests/e2e/test_chaos.py) mean nothing was found, not that nothing was looked at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from warroom.chaos.check import Checker, Figures, failures
from warroom.chaos.drive import Action, Incident
from warroom.chaos.receiver import Delivery
from warroom.chaos.stack import Outage
from workflows.contracts import IncidentState, TimelineEvent

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def ev(seq: int, type: str, **details: object) -> TimelineEvent:
    return TimelineEvent(seq=seq, at=T0 + timedelta(seconds=seq), type=type, details=dict(details))


def state(*events: TimelineEvent, status: str = "closed") -> IncidentState:
    return IncidentState(incident_id="incident-x", workflow="IncidentResponse", title="x", status=status,
                         timeline=list(events))


def page(seq: int, n: int, *recipients: str, via: str = "") -> TimelineEvent:
    return ev(seq, "notification.sent", key=f"run:n{n}", target="oncall:L1", kind="INITIAL",
              recipients=list(recipients), status="SENT", **({"via": via} if via else {}))


def by_page(*deliveries: Delivery) -> dict[str, list[Delivery]]:
    out: dict[str, list[Delivery]] = {}
    for d in deliveries:
        out.setdefault(d.key.rsplit(":", 2)[0], []).append(d)
    return out


def test_pages_once_repeated_with_the_same_key_and_missing_are_counted_apart() -> None:
    s = state(page(1, 1, "l1"), page(2, 2, "tm"), page(3, 3, "csm"))
    f = Figures()
    Checker(None, None, []).pages(s, f, by_page(
        Delivery("l1", "run:n1:l1:0", 1.0),
        Delivery("tm", "run:n2:tm:0", 1.0), Delivery("tm", "run:n2:tm:0", 9.5)))
    assert (f.pages_expected, f.delivered_once, f.repeated_same_key, f.missing) == (3, 1, 1, 1)
    assert f.repeat_gap == 8.5
    assert failures(f) == ["missing"]


def test_a_person_an_earlier_page_of_the_moment_reached_is_not_expected_twice() -> None:
    s = state(page(1, 1, "l1"), page(2, 2, "l1", via="technical_manager (one page with run:n1)"))
    f = Figures()
    Checker(None, None, []).pages(s, f, by_page(Delivery("l1", "run:n1:l1:0", 1.0)))
    assert (f.pages_expected, f.delivered_once, f.missing) == (1, 1, 0)


def test_an_event_twice_a_lost_action_and_a_wrong_status_are_found() -> None:
    inc = Incident(dedup="x", priority="P0")
    inc.actions = [Action("acknowledge", "m1", 200), Action("updates", "m2", 200), Action("updates", "m3", None)]
    s = state(ev(1, "triggered"), ev(2, "acknowledged", note="m1"), ev(3, "acknowledged", note="m1"),
              ev(4, "resolved"), status="resolved")

    class Row:
        status = "resolved"

    f = Figures()
    Checker(None, None, []).states(inc, s, Row(), f)
    assert f.actions_lost == 1  # m2 answered 200, not there; m3 lost its answer: allowed either way
    assert f.timeline_doubles == 1  # m1 twice
    assert f.state_mismatch == 1  # not closed
    assert set(failures(f)) == {"actions_lost", "timeline_doubles", "state_mismatch"}


def _at(seconds: float) -> Timestamp:
    t = Timestamp()
    t.FromDatetime((T0 + timedelta(seconds=seconds)).replace(tzinfo=None))
    return t


def _history(fired_after: float | None, handled_after: float, due: float = 10.0) -> list[HistoryEvent]:
    started = HistoryEvent(event_id=5, event_type=EventType.EVENT_TYPE_TIMER_STARTED, event_time=_at(0))
    started.timer_started_event_attributes.start_to_fire_timeout.CopyFrom(Duration(seconds=int(due)))
    events = [started]
    if fired_after is not None:
        fired = HistoryEvent(event_id=6, event_type=EventType.EVENT_TYPE_TIMER_FIRED, event_time=_at(fired_after))
        fired.timer_fired_event_attributes.started_event_id = 5
        events.append(fired)
    events.append(HistoryEvent(event_id=7, event_type=EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
                               event_time=_at(handled_after)))
    events.append(HistoryEvent(event_id=8, event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
                               event_time=_at(handled_after + 60)))
    return events


def test_timers_early_late_and_lost_and_an_outage_excuses_lateness() -> None:
    cases = {"on time": (_history(10.0, 10.5), [], (0, 0, 0)),
             "early": (_history(8.0, 8.2), [], (1, 0, 0)),
             "late": (_history(10.0, 30.0), [], (0, 1, 0)),
             "never fired": (_history(None, 1.0), [], (0, 0, 1))}
    start = (T0 + timedelta(seconds=9)).timestamp()
    cases["late across an outage"] = (_history(10.0, 30.0), [Outage("worker-1", start, start + 5)], (0, 0, 0))
    for name, (history, outages, expected) in cases.items():
        f = Figures()
        Checker(None, None, outages).timers(history, f)
        assert (f.timers_early, f.timers_late, f.timers_not_fired) == expected, name


HISTORIES = Path(__file__).parent / "histories"


async def test_a_history_that_does_not_replay_is_counted_and_one_that_does_is_not() -> None:
    """The chaos run's own finding (docs/chaos.md, "A history that does not replay"): an update
    accepted after the timer its task also carried, which a replay from scratch orders the
    other way. Kept as what the checker must catch, not as a history the code must replay."""
    broken = WorkflowHistory.from_json("incident-chaos-200-r1-2",
                                       (HISTORIES / "chaos-update-after-sticky-timeout.json").read_text())
    f = Figures()
    await Checker(None, None, []).replays(broken.workflow_id, list(broken.events), f)
    assert f.not_replayable == 1 and failures(f) == ["not_replayable"]
    assert "Update machine does not handle this event: HistoryEvent(id: 185, TimerStarted)" in f.notes[0]
    good = Path(__file__).parents[1] / "replay" / "histories" / "p1-cascade-after-pages.json"
    fine = WorkflowHistory.from_json("fine", good.read_text())
    g = Figures()
    await Checker(None, None, []).replays(fine.workflow_id, list(fine.events), g)
    assert g.not_replayable == 0 and not g.notes
