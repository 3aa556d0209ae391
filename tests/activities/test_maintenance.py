"""The maintenance window's activities against the records: which open incidents a window
affects (service, and the labels and integration their trigger recorded; closed ones never), and
its end recorded once, whoever comes first (the workflow on time, or the API's early end)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.maintenance import MaintenanceActivities
from warroom import records
from warroom.records import maintenance as stored
from workflows.contracts_maintenance import WindowEvent, WindowSpec

NOW = datetime.now(UTC)


def incident(engine: Any, *, service: str, status: str = "triggered", labels: dict | None = None,
             integration: str = "") -> str:
    iid = f"incident-mw-{uuid.uuid4().hex[:10]}"
    details: dict[str, Any] = {"title": "x"}
    if labels:
        details["labels"] = labels
    if integration:
        details["integration"] = integration
    records.record_events(engine, run_id=str(uuid.uuid4()), incident_id=iid,
                          snapshot={"incident_id": iid, "workflow": "IncidentResponse", "title": "x",
                                    "service": service, "priority": "P1", "status": status, "phase": "notify",
                                    "created_at": NOW},
                          events=[{"seq": 1, "at": NOW, "type": "triggered", "actor": "alertmanager",
                                   "details": details}])
    return iid


def spec(**kw: Any) -> WindowSpec:
    return WindowSpec(window_id=kw.pop("window_id", f"mw-{uuid.uuid4().hex[:8]}"), starts_at=NOW,
                      ends_at=NOW + timedelta(hours=1), reason="upgrade", **kw)


def test_the_open_incidents_a_window_matches(engine):
    svc, team = f"orders-{uuid.uuid4().hex[:6]}", f"t{uuid.uuid4().hex[:6]}"
    a = incident(engine, service=svc, labels={"team": team, "env": "prod"})
    b = incident(engine, service=svc, labels={"team": team, "env": "staging"})
    c = incident(engine, service=svc, status="closed", labels={"team": team, "env": "prod"})
    d = incident(engine, service=f"other-{uuid.uuid4().hex[:6]}", labels={"team": team}, integration="prom-x")
    acts = MaintenanceActivities(engine)
    env = ActivityEnvironment()
    found = env.run(acts.maintenance_started, WindowEvent(window=spec(service=svc), event="started"))
    assert set(found.workflow_ids) == {a, b}  # the closed one is not told
    found = env.run(acts.maintenance_started,
                          WindowEvent(window=spec(matchers=[f"team={team}", "env!=staging"]), event="started"))
    assert set(found.workflow_ids) == {a, d}
    found = env.run(acts.maintenance_started, WindowEvent(window=spec(integration="prom-x"), event="started"))
    assert d in found.workflow_ids and a not in found.workflow_ids
    assert c not in found.workflow_ids


def test_the_end_is_recorded_once(engine):
    w = stored.create_window(engine, starts_at=NOW, ends_at=NOW + timedelta(hours=1), reason="upgrade",
                             created_by="alice", service="orders")
    early = NOW + timedelta(minutes=10)
    assert stored.end_window(engine, w.id, at=early, by="bob")  # the API's early end came first
    env = ActivityEnvironment()
    env.run(MaintenanceActivities(engine).maintenance_ended,
                  WindowEvent(window=spec(window_id=w.id), event="ended", by="bob"))
    kept = stored.window(engine, w.id)
    assert kept is not None and kept.ended_at == early and kept.ended_by == "bob"
    assert kept.status(NOW + timedelta(minutes=11)) == "ended"
