"""Every alert format through the real HTTP API into a worker on the Temporal dev server (real
time, the server production runs): the incidents, their priorities and their timelines, as a
sender and a responder see them. Real deliveries from ../shared/payloads, read in place."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from api.app import create_app
from tests.helpers import running_cached_worker, serving, until
from tests.helpers import new_key
from tests.api.test_auth import CUSTOM_MAPPING
from warroom.records import keys as auth
from warroom.classify import incident_workflow_id
from warroom.settings import Settings

pytestmark = pytest.mark.devserver


def load(payloads_dir: Path, name: str) -> Any:
    return json.loads((payloads_dir / name).read_text())


class Api:
    def __init__(self, http: httpx.AsyncClient, keys: dict[str, str], custom_name: str) -> None:
        self.http, self.keys, self.custom_name = http, keys, custom_name

    async def post(self, path: str, body: Any, as_: str = "sender") -> httpx.Response:
        return await self.http.post(path, json=body, headers={"Authorization": f"Bearer {self.keys[as_]}"})

    async def state(self, incident_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/api/v1/incidents/{incident_id}",
                                headers={"Authorization": f"Bearer {self.keys['viewer']}"})
        assert r.status_code == 200, r.text
        return r.json()

    async def until(self, incident_id: str, check: Any, seconds: float = 30) -> dict[str, Any]:
        """Real time: the worker takes a moment. Ask until the state shows it (bounded)."""
        return await until(lambda: self.state(incident_id), f"the state of {incident_id} to show it", ok=check,
                           timeout=seconds, interval=0.1)


@pytest_asyncio.fixture(loop_scope="session")
async def api(dev_env, engine, task_queue) -> AsyncIterator[Api]:
    app = create_app(Settings(task_queue=task_queue), client=dev_env.client, engine=engine)
    custom_name = f"oncall-{uuid.uuid4().hex[:6]}"
    keys = {"sender": new_key(engine, "integration"), "viewer": new_key(engine, "viewer"),
            "responder": new_key(engine, "responder", person="alice"), "bob": new_key(engine, "responder", person="bob"),
            "pd": new_key(engine, "integration", format="pagerduty"),
            "custom": auth.create_key(engine, name=custom_name, role="integration", format="custom",
                                      mapping=CUSTOM_MAPPING)[1]}
    async with running_cached_worker(dev_env.client, task_queue, engine), serving(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield Api(http, keys, custom_name)


def types(state: dict[str, Any]) -> list[str]:
    return [e["type"] for e in state["timeline"]]


async def test_alertmanager_group_joins_then_resolves_through_verify(api, payloads_dir):
    first = load(payloads_dir, "alertmanager/am-oncall-demo-firing-2-alerts.json")
    again = load(payloads_dir, "alertmanager/am-oncall-firing-3-alerts-instancedown.json")
    tag = uuid.uuid4().hex[:8]  # this dev server outlives one test: a group of its own
    for body in (first, again):
        body["receiver"] = f"{body.get('receiver', '')}-{tag}"
    r = await api.post("/api/v1/alerts/alertmanager", first)
    assert r.status_code == 202, r.text
    refs = r.json()["incidents"]
    assert len({x["id"] for x in refs}) == 1 and {x["priority"] for x in refs} == {"P1"}
    iid = refs[0]["id"]
    r = await api.post("/api/v1/alerts/alertmanager", again)
    assert [x["id"] for x in r.json()["incidents"]] == [iid] * 3
    # three distinct alerts (the second delivery repeats two): each delivery one batch
    state = await api.until(iid, lambda s: s["alert_count"] == 3 and s["phase"] == "recover")
    assert state["resent_count"] == 2
    assert types(state).count("triggered") == 1 and types(state).count("alert.received") == 2
    assert state["priority"] == "P1" and state["title"]
    again["status"] = "resolved"
    for a in again["alerts"]:
        a["status"] = "resolved"
    r = await api.post("/api/v1/alerts/alertmanager", again)
    assert [(x["id"], x["deduplicated"]) for x in r.json()["incidents"]] == [(iid, True)]
    state = await api.until(iid, lambda s: s["status"] == "resolved")
    t = types(state)
    assert t.index("alert.resolved") < t.index("verification.passed") < t.index("resolved")


async def test_pagerduty_trigger_acknowledge_resolve_on_one_dedup_key(api, payloads_dir):
    dedup = f"srv01/mysql-{uuid.uuid4().hex[:8]}"
    trigger = load(payloads_dir, "pagerduty-v2/pd-apischema-trigger-srv01-mysql.json")
    ack = load(payloads_dir, "pagerduty-v2/pd-docs-acknowledge.json")
    resolve = load(payloads_dir, "pagerduty-v2/pd-docs-resolve.json")
    for event in (trigger, ack, resolve):
        event.update(routing_key=api.keys["pd"], dedup_key=dedup)  # the integration key, as PD clients send it
    r = await api.http.post("/v2/enqueue", json=trigger)
    assert r.status_code == 202 and r.json() == {"status": "success", "message": "Event processed",
                                                  "dedup_key": dedup}
    pid = incident_workflow_id(dedup)  # "/" is not URL-safe: the id is made from a hash of the key
    state = await api.until(pid, lambda s: s["phase"] in ("recover", "war_room"))
    assert state["priority"] == "P1"  # critical -> P1
    r = await api.http.post("/api/v1/alerts/pagerduty", json=ack)
    assert r.status_code == 202
    state = await api.until(pid, lambda s: s["status"] == "acknowledged")
    ack_event = [e for e in state["timeline"] if e["type"] == "acknowledged"][0]
    assert ack_event["actor"].startswith("integration:test-integration-")  # the PagerDuty key that acked
    r = await api.http.post("/v2/enqueue", json=resolve)
    assert r.status_code == 202
    state = await api.until(pid, lambda s: s["status"] == "resolved")
    assert "alert.resolved" in types(state)


async def test_grafana_datadog_generic_and_custom(api, payloads_dir):
    gf = load(payloads_dir, "grafana/gf-alerting-default-payload-zero-startsat.json")
    gf["groupKey"] = f"{gf['groupKey']}-{uuid.uuid4().hex[:8]}"
    r = await api.post("/api/v1/alerts/grafana", gf)
    assert r.status_code == 202, r.text
    [ref] = r.json()["incidents"]
    assert ref["priority"] == "P3"  # no severity: the default rules
    state = await api.until(ref["id"], lambda s: "notification.sent" in types(s))
    assert state["workflow"] == "Ticket"

    trig = load(payloads_dir, "datadog/dd-keep-triggered-database-scope.json")
    r = await api.post("/api/v1/alerts/datadog", trig)
    assert r.status_code == 202, r.text
    [dd] = r.json()["incidents"]
    state = await api.until(dd["id"], lambda s: "notification.sent" in types(s))
    assert state["priority"] == dd["priority"] and types(state)[0] == "triggered"

    key = f"gen-{uuid.uuid4().hex[:8]}"
    body = {"title": "Payments API down", "service": "payments", "priority": "P0", "dedup_key": key}
    r1, r2 = await api.post("/api/v1/alerts/generic", body), await api.post("/api/v1/alerts/generic", body)
    assert [r1.json()["incidents"][0]["deduplicated"], r2.json()["incidents"][0]["deduplicated"]] == [False, True]
    # the same alert twice: one alert and a re-send
    state = await api.until(f"incident-{key}", lambda s: (s["alert_count"], s["resent_count"]) == (1, 1)
                            and s["war_room"] is not None)
    assert state["priority"] == "P0" and types(state).count("alert.received") == 1
    r = await api.post(f"/api/v1/incidents/incident-{key}/acknowledge", {}, as_="responder")
    assert r.status_code == 200 and r.json()["commander"] == "alice"
    r = await api.post(f"/api/v1/incidents/incident-{key}/acknowledge", {}, as_="bob")
    assert r.status_code == 409 and r.json()["detail"] == "already acknowledged by alice"

    oncall = load(payloads_dir, "other/generic-oncall-formatted-webhook-demo.json")
    oncall["alert_uid"] = str(uuid.uuid4())
    r = await api.post(f"/api/v1/alerts/custom/{api.custom_name}", oncall, as_="custom")
    assert r.status_code == 202, r.text
    state = await api.until(f"incident-{oncall['alert_uid']}", lambda s: "notification.sent" in types(s))
    assert state["title"] == "TestAlert: The whole system is down"

    # the records list shows them, written by the worker a moment after each change
    async def listed() -> list[str]:
        r = await api.http.get("/api/v1/incidents", params={"service": "payments", "priority": "P0"},
                               headers={"Authorization": f"Bearer {api.keys['viewer']}"})
        return [i["id"] for i in r.json()["incidents"]]

    await until(listed, f"incident-{key} in the records list", ok=lambda ids: f"incident-{key}" in ids, interval=0.1)
