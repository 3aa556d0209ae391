"""workflows/converter.py writes exactly the bytes Temporal's default converter writes.

Checked on every payload the committed histories carry (the incident inputs, signals and
activity inputs of real runs, decoded into today's contracts) and on objects that use every
kind of field: a difference would make a history written by warroom unreadable or different
for a reader with the default converter."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from workflows import contracts as c
from workflows import contracts_activities as ca
from workflows import contracts_maintenance as cm
from workflows import heartbeat as hb
from workflows.converter import DATA_CONVERTER
from workflows.policy import default_policy

HISTORIES = sorted((Path(__file__).resolve().parents[1] / "replay" / "histories").glob("*.json"))
DEFAULT = DataConverter.default.payload_converter
OURS = DATA_CONVERTER.payload_converter

ACTIVITY_INPUTS: dict[str, type] = {
    "assess_incident": ca.AssessRequest, "send_notification": c.Notification,
    "send_notifications": ca.NotificationBatch, "open_war_room": ca.WarRoomRequest,
    "record_events": ca.RecordEvents, "run_action": ca.ActionRequest, "run_check": ca.CheckRequest,
    "maintenance_started": cm.WindowEvent, "maintenance_ended": cm.WindowEvent,
    "heartbeat_missed": hb.HeartbeatMissed, "heartbeat_recovered": hb.HeartbeatRecovered,
}
SIGNAL_INPUTS: dict[str, type] = {"alert_received": c.AlertReceived, "alerts_received": c.AlertsReceived,
                                  "alert_resolved": c.AlertResolved, "maintenance": c.MaintenanceNotice,
                                  "end": cm.EndWindow, "incident_held": cm.HeldIncident, "ping": hb.Ping}
# What a workflow type starts with (IncidentResponse and Ticket: IncidentInput).
START_INPUTS: dict[str, type] = {cm.MAINTENANCE_WORKFLOW: cm.WindowSpec, hb.HEARTBEAT_WORKFLOW: hb.HeartbeatInput}


def _payloads(path: Path) -> list[tuple[type, dict[str, Any]]]:
    """(contract type, payload as stored) for every payload of a known type in the history."""
    out = []
    for e in json.loads(path.read_text())["events"]:
        started = e.get("workflowExecutionStartedEventAttributes")
        start = START_INPUTS.get(started["workflowType"]["name"], c.IncidentInput) if started else c.IncidentInput
        for attr, name_of, types in (
            ("workflowExecutionStartedEventAttributes", lambda a: "start", {"start": start}),
            ("activityTaskScheduledEventAttributes", lambda a: a["activityType"]["name"], ACTIVITY_INPUTS),
            ("workflowExecutionSignaledEventAttributes", lambda a: a["signalName"], SIGNAL_INPUTS),
        ):
            a = e.get(attr)
            if a and name_of(a) in types and a.get("input", {}).get("payloads"):
                out.append((types[name_of(a)], a["input"]["payloads"][0]))
    return out


def _same(obj: Any) -> None:
    ours, theirs = OURS.to_payloads([obj])[0], DEFAULT.to_payloads([obj])[0]
    assert ours.data == theirs.data and dict(ours.metadata) == dict(theirs.metadata)
    assert OURS.from_payloads([ours], [type(obj)])[0] == obj


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_every_payload_of_the_committed_histories_is_written_as_temporal_writes_it(path: Path) -> None:
    found = _payloads(path)
    if any(t is cm.WindowSpec for t, _ in found):  # a maintenance window's own workflow
        assert any(t is cm.WindowEvent for t, _ in found)
    elif any(t is hb.HeartbeatInput for t, _ in found):  # a heartbeat monitor's
        assert any(t is hb.HeartbeatMissed for t, _ in found) and any(t is hb.Ping for t, _ in found)
    else:
        assert any(t is c.IncidentInput for t, _ in found) and any(t is ca.RecordEvents for t, _ in found)
    for typ, stored in found:
        payload = Payload(metadata={k: base64.b64decode(v) for k, v in stored["metadata"].items()},
                          data=base64.b64decode(stored["data"]))
        _same(DEFAULT.from_payloads([payload], [typ])[0])


def test_every_kind_of_field_is_written_as_temporal_writes_it() -> None:
    at = datetime(2026, 12, 7, 3, 4, 5, 678000, tzinfo=UTC)
    state = c.IncidentState(
        incident_id="incident-x", workflow="IncidentResponse", title="DB 数据库宕机 \"quoted\"", service="db",
        priority="P0", created_at=at, acknowledged_at=at, commander="ann",
        latest_update=c.EngineerUpdate(by="ann", message="failover", at=at),
        steps=[c.StepState(id="restart", kind="http", title="Restart", status="succeeded", detail="200")],
        timeline=[c.TimelineEvent(seq=1, at=at, type="triggered", actor="alertmanager",
                                  details={"nested": {"list": [1, 2.5, None, True], "deeper": {"x": "y"}}, "n": 3})],
        known_issues=[{"incident_id": "incident-old", "resolution": "restart"}],
        war_room={"channel": "#war", "bridge": ""},
    )
    _same(state)
    _same(ca.RecordEvents(incident_id="incident-x", run_id="r", snapshot=state, events=state.timeline))
    _same(c.IncidentInput(incident_id="incident-x", alert=c.AlertInfo(title="t", labels={"a": "b"}),
                          priority="P1", policy=default_policy()))
    for odd in ({"set": {3}}, {"tuple": (1, "a"), "in": [state.latest_update]}):  # written, not read back alike
        assert OURS.to_payloads([odd])[0].data == DEFAULT.to_payloads([odd])[0].data
    assert OURS.to_payloads([None])[0].metadata["encoding"] == b"binary/null"


def test_a_union_an_optional_and_a_wrong_value_are_read_as_temporal_reads_them() -> None:
    review = c.SubmitReview(by="ann", root_cause="disk", action_items=[c.ActionItem(title="alerts"), "more disk"])
    _same(review)
    _same(c.IncidentState(incident_id="x", workflow="Ticket", title="t", service="s", priority="P3"))
    for wrong in ({"by": 3, "root_cause": "x"}, {"by": "a", "root_cause": "x", "action_items": [7]},
                  {"by": "a", "root_cause": "x", "action_items": "not a list of items"}, ["not", "a", "dict"]):
        payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(wrong).encode())
        errors = []
        for conv in (OURS, DEFAULT):
            try:
                errors.append(conv.from_payloads([payload], [c.SubmitReview])[0])
            except Exception as err:  # noqa: BLE001
                errors.append(type(err))
        assert errors[0] == errors[1], (wrong, errors)
