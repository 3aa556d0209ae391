"""The activities of cascades and hand-overs (ActivityEnvironment; docs/upgrades.md, docs/oncall.md
"Hand-over"): find_related over recorded open incidents and the dependencies; plan_handover over
the shipped seeds' weekly rotation (Monday 09:00 Berlin time, summer or winter); record_handover
writes once and hands each note over once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.cascade import CascadeActivities
from activities.handover import HandoverActivities
from tests.conftest import REPO
from warroom import records
from warroom.oncall import load_oncall
from warroom.records import handovers
from warroom.upgrades import Upgrades
from workflows.contracts import IncidentState
from workflows.contracts_links import HandoverPlanRequest, HandoverRecordRequest, RelatedRequest

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # a Monday


def record(engine, incident_id: str, service: str, priority: str, at: datetime, **kw) -> None:
    snap = IncidentState(incident_id=incident_id, workflow="IncidentResponse", title=f"{service} failing",
                         service=service, priority=priority, created_at=at, **kw)
    data = dataclasses.asdict(snap)
    data.pop("timeline")
    records.record_events(engine, run_id=f"run-{incident_id}", incident_id=incident_id, snapshot=data, events=[])


def test_find_related_names_the_earlier_incident_a_dependency_links(own_records) -> None:
    record(own_records, "incident-pay", "payments", "P1", T0)
    record(own_records, "incident-other", "search", "P1", T0 + timedelta(minutes=1))
    record(own_records, "incident-old", "payments", "P1", T0 - timedelta(hours=1), status="resolved")
    acts = CascadeActivities(own_records, lambda: Upgrades(dependencies={"checkout": ("payments",)},
                                                           window_incidents=0))
    found = ActivityEnvironment().run(acts.find_related, RelatedRequest(
        incident_id="incident-co~2", service="checkout", priority="P2", created_at=T0 + timedelta(minutes=5)))
    assert found.parent is not None and found.children == []
    assert (found.parent.incident_id, found.parent.workflow_id, found.parent.reason) == (
        "incident-pay", "incident-pay", "checkout depends on payments")
    # without records (a rehearsal): no cascade
    none = ActivityEnvironment().run(CascadeActivities(None, Upgrades).find_related, RelatedRequest(
        incident_id="x", service="checkout", priority="P1", created_at=T0))
    assert none.parent is None and none.children == []


def seeds(tmp_path: Path) -> Path:
    d = tmp_path / "oncall"
    d.mkdir()
    (d / "seeds.yaml").write_text((REPO / "oncall" / "examples" / "seeds.yaml").read_text())
    return d


def test_plan_handover_finds_the_next_rotation_change_and_who_hands_to_whom(tmp_path) -> None:
    config = load_oncall(seeds(tmp_path))
    acts = HandoverActivities(None, lambda: config)
    # payments-l1: weekly on Monday 09:00 Berlin (08:00 UTC in winter): anna, jonas, marie from 2026-01-05
    plan = ActivityEnvironment().run(acts.plan_handover, HandoverPlanRequest("payments-l1", T0))
    assert plan.at == datetime(2026, 12, 14, 8, 0, tzinfo=UTC) and plan.team == "payments"
    assert len(plan.outgoing) == 1 and len(plan.incoming) == 1 and plan.outgoing != plan.incoming
    after = ActivityEnvironment().run(acts.plan_handover, HandoverPlanRequest("payments-l1", plan.at))
    assert after.at == plan.at + timedelta(days=7) and after.outgoing == plan.incoming
    gone = ActivityEnvironment().run(acts.plan_handover, HandoverPlanRequest("no-such-schedule", T0))
    assert gone.at is None


def test_record_handover_writes_once_and_hands_each_note_over_once(own_records, tmp_path) -> None:
    config = load_oncall(seeds(tmp_path))
    acts = HandoverActivities(own_records, lambda: config)
    plan = ActivityEnvironment().run(acts.plan_handover, HandoverPlanRequest("payments-l1", T0))
    out = plan.outgoing[0]
    record(own_records, "incident-checkout", "checkout", "P2", T0)  # the payments policy pages payments-l1
    record(own_records, "incident-search", "search", "P3", T0)  # no policy pages payments for a P3 search
    handovers.add_note(own_records, schedule="payments-l1", person=out, text="refunds drained by hand", at=T0)
    handovers.add_note(own_records, schedule="payments-l1", person="someone-else", text="not theirs", at=T0)
    first = ActivityEnvironment().run(acts.record_handover, HandoverRecordRequest("k1", plan))
    again = ActivityEnvironment().run(acts.record_handover, HandoverRecordRequest("k1", plan))
    assert first == again and first.incidents == ["incident-checkout"] and first.notes == 1
    assert "refunds drained by hand" in first.body and "not theirs" not in first.body
    assert [n.text for n in handovers.pending_notes(own_records, schedule="payments-l1")] == ["not theirs"]
    assert len(handovers.handovers(own_records, schedule="payments-l1")) == 1
