"""Change events as a CI pipeline sends them (PagerDuty's Change Events API, the real payload
from ../shared/payloads) and as a responder sees them: kept per service, answered as PagerDuty
answers, a retry kept once, and shown on the incidents of that service with how long before
the alert they came."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from tests.helpers import new_key
from warroom.records import changes as change_records
from warroom.settings import Settings


@pytest.fixture
async def http(engine):
    app = create_app(Settings(), engine=engine, client=object())  # type: ignore[arg-type]  # no Temporal needed
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as client:
        yield client


def build_event(payloads_dir: Path, key: str, service: str) -> dict:
    body = json.loads((payloads_dir / "pagerduty-v2" / "pd-apischema-change-event-build.json").read_text())
    body["routing_key"] = key
    body["payload"]["custom_details"]["service"] = service
    return body


async def test_a_change_event_is_kept_for_its_service_and_a_retry_once(http, engine, payloads_dir) -> None:
    key = new_key(engine, "integration", format="pagerduty")
    service = f"search-{datetime.now(UTC).timestamp():.0f}"
    body = build_event(payloads_dir, key, service)
    r = await http.post("/v2/change/enqueue", json=body)
    assert r.status_code == 202 and r.json() == {"status": "success", "message": "Change event processed"}
    assert (await http.post("/v2/change/enqueue", json=body)).status_code == 202  # the sender's retry
    viewer = {"Authorization": f"Bearer {new_key(engine, 'viewer')}"}
    listed = (await http.get("/api/v1/changes", params={"service": service}, headers=viewer)).json()["changes"]
    assert len(listed) == 1
    [c] = listed
    assert (c["summary"], c["source"], c["at"]) == ("Build Success: Increase snapshot create timeout to 30 seconds",
                                                    "prod-build-agent-i-0b148d1040d565540", "2015-07-17T08:42:58.315000+00:00")
    assert c["links"] == [{"href": "https://buildpipeline.com/pagerduty/deployment/builds/220",
                           "text": "View in Build Pipeline"}]
    assert c["details"]["build_number"] == "220" and c["integration"].startswith("test-integration-")


async def test_bad_change_events_are_refused_as_pagerduty_refuses_them(http, engine, payloads_dir) -> None:
    key = new_key(engine, "integration", format="pagerduty")
    r = await http.post("/v2/change/enqueue", json={"routing_key": key, "payload": {"source": "ci"}})
    assert r.status_code == 400 and r.json()["errors"] == ["payload.summary: required, a non-empty string"]
    r = await http.post("/v2/change/enqueue", json={"routing_key": key, "payload": {"summary": "x", "timestamp": "soon"},
                                                    "links": "nope"})
    assert r.status_code == 400 and r.json()["errors"] == [
        "payload.timestamp: 'soon' is not an ISO 8601 date-time", "links: must be an array of {href, text}"]
    r = await http.post("/v2/change/enqueue", content=b"{not json")
    assert r.status_code == 400 and "not valid JSON" in r.json()["errors"][0]
    r = await http.post("/v2/change/enqueue", json={**build_event(payloads_dir, "wrnotakey", "x")})
    assert r.status_code == 401 and r.json()["status"] == "unauthorized"
    grafana = new_key(engine, "integration", format="grafana")
    r = await http.post("/v2/change/enqueue", json=build_event(payloads_dir, grafana, "x"))
    assert r.status_code == 403 and "/api/v1/alerts/grafana" in r.json()["message"]


def test_an_incident_is_shown_the_changes_of_its_service_around_its_alert(engine) -> None:
    alert = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    service = f"pay-{alert.timestamp():.0f}-{id(engine)}"
    for minutes, summary in ((-4, "Deploy pay v7"), (-60 * 30, "a month-old deploy"), (12, "Rollback pay v7")):
        assert change_records.record_change(engine, service=service, summary=summary, source="ci",
                                            at=alert + timedelta(minutes=minutes), details={}, links=[],
                                            integration="ci")
    change_records.record_change(engine, service="other-" + service, summary="elsewhere", source="ci",
                                 at=alert - timedelta(minutes=1), details={}, links=[], integration="ci")
    shown = change_records.changes_for_incident(engine, {"service": service, "created_at": alert.isoformat(),
                                                         "resolved_at": (alert + timedelta(hours=1)).isoformat()})
    assert [(c["summary"], c["relative"]) for c in shown] == [
        ("Rollback pay v7", "12 min after the alert"), ("Deploy pay v7", "4 min before the alert")]
    assert change_records.relative(alert - timedelta(minutes=65), alert) == "1 h 05 min before the alert"
    assert change_records.relative(alert + timedelta(days=1, minutes=119), alert) == "1 d 1 h 59 min after the alert"
