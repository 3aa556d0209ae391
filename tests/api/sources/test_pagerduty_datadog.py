"""PagerDuty Events API v2 and Datadog webhooks: the real payloads of ../shared/payloads
(pagerduty-v2/, datadog/; expected outcomes from SOURCES.md), parsed and then delivered
through the API into a running worker (time-skipping server)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from api.sources import PayloadError, datadog, pagerduty
from api.sources.registry import PARSERS
from tests.helpers import open_marker, until
from tests.helpers import api
from warroom import records
from warroom import client as temporal
from warroom.classify import incident_workflow_id

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def load(payloads_dir: Path, folder: str, name: str) -> Any:
    return json.loads((payloads_dir / folder / name).read_text())


# --------------------------------------------------------------------------- parsers: PagerDuty

# file -> (action, dedup_key or None for a generated one, severity, extra checks) or "4xx" + fields named
PD_EXPECTED: dict[str, Any] = {
    "pd-docs-trigger-full.json": ("trigger", "samplekeyhere", "info",
                                  {"service": "postgres", "title": "Example alert on host1.example.com"}),
    "pd-docs-acknowledge.json": ("acknowledge", "dedupkeyhere", "", {}),
    "pd-docs-resolve.json": ("resolve", "dedupkeyhere", "", {}),
    "pd-apischema-trigger-srv01-mysql.json": ("trigger", "srv01/mysql", "critical",
                                              {"service": "mysql", "labels": {"source": "prod-datapipe03.example.com",
                                                                              "component": "mysql", "class": "disk",
                                                                              "group": "prod-datapipe"}}),
    "pd-apischema-change-event-build.json": ("4xx", ["event_action"]),
    "pd-pdagent-minimal-trigger-no-dedup.json": ("trigger", None, "error", {"service": "pdagent"}),
    "pd-pdagent-v1-legacy-event.json": ("4xx", ["routing_key", "event_action"]),
    "pd-pdagent-invalid-empty-fields.json": ("4xx", ["routing_key", "event_action", "payload.summary",
                                                     "payload.source"]),
    "pd-promgen-trigger-links-no-timestamp.json": ("trigger", "Promgen/0bb9bd7951ad3ef749586f77f98177427df4af00",
                                                   "error", {"received_at": None,
                                                             "links": ["http://promgen.example.com/alert/1",
                                                                       "http://promgen.example.com/"],
                                                             "link_texts": {
                                                                 "http://promgen.example.com/alert/1":
                                                                     "View alert in Promgen",
                                                                 "http://promgen.example.com/": "Promgen"}}),
    "pd-elastalert2-trigger-custom-details.json": ("trigger", None, "error", {"title": "Test PD Rule"}),
    "pd-elastalert2-trigger-no-timestamp.json": ("trigger", None, "error", {"received_at": None}),
    "pd-elastalert2-trigger-empty-custom-details.json": ("trigger", None, "error", {"description": ""}),
}


def test_every_pagerduty_payload_has_an_expectation(payloads_dir):
    assert {p.name for p in (payloads_dir / "pagerduty-v2").glob("*.json")} == set(PD_EXPECTED)
    assert PARSERS["pagerduty"] is pagerduty.parse and PARSERS["datadog"] is datadog.parse


@pytest.mark.parametrize("name", sorted(PD_EXPECTED))
def test_pagerduty_payloads_parse_to_their_expected_outcome(payloads_dir, name):
    body = load(payloads_dir, "pagerduty-v2", name)
    expected = PD_EXPECTED[name]
    if expected[0] == "4xx":
        with pytest.raises(PayloadError) as err:
            pagerduty.parse(body)
        for field in expected[1]:
            assert any(e.startswith(field) for e in err.value.errors), (field, err.value.errors)
        return
    action, dedup_key, severity, extra = expected
    parsed = pagerduty.parse(body)
    assert len(parsed.events) == 1
    ev = parsed.events[0]
    assert ev.action == action
    assert ev.alert.source == "pagerduty"
    if dedup_key is None:
        assert HEX32.match(ev.alert.dedup_key), ev.alert.dedup_key
        assert pagerduty.parse(body).events[0].alert.dedup_key != ev.alert.dedup_key  # a new key each time
    else:
        assert ev.alert.dedup_key == dedup_key
    if action == "trigger":
        assert ev.alert.severity == severity
        assert ev.alert.title == body["payload"]["summary"]
        assert all(isinstance(v, str) for v in ev.alert.labels.values())
    for attr, value in extra.items():
        assert getattr(ev.alert, attr) == value, attr


def test_pagerduty_details_timestamps_and_edge_rules(payloads_dir):
    full = pagerduty.parse(load(payloads_dir, "pagerduty-v2", "pd-docs-trigger-full.json")).events[0].alert
    assert json.loads(full.description) == {"ping time": "1500ms", "load avg": 0.75}
    assert full.received_at is not None and full.received_at.isoformat() == "2015-07-17T08:42:58.315000+00:00"
    assert "https://example.com/" in full.links and "https://monitoring.example.com" in full.links
    naive = pagerduty.parse(load(payloads_dir, "pagerduty-v2", "pd-elastalert2-trigger-custom-details.json"))
    assert naive.events[0].alert.received_at.isoformat() == "2017-01-01T00:00:00+00:00"
    assert json.loads(naive.events[0].alert.description)["key-match"] == "foobarbaz"

    base = {"routing_key": "k", "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "warning"}}
    for body, field in [
        ({**base, "event_action": "resolve"}, "dedup_key"),
        ({**base, "event_action": "acknowledge", "dedup_key": ""}, "dedup_key"),
        ({**base, "event_action": "snooze"}, "event_action"),
        ({**base, "payload": {**base["payload"], "severity": "P1"}}, "payload.severity"),
        ({**base, "payload": {"summary": "s", "source": "h"}}, "payload.severity"),
        ({**base, "payload": "text"}, "payload"),
        ({**base, "dedup_key": 7}, "dedup_key"),
        ({**base, "routing_key": None}, "routing_key"),
        ([base], "body"),
    ]:
        with pytest.raises(PayloadError, match=re.escape(field)):
            pagerduty.parse(body)
    odd = pagerduty.parse({**base, "payload": {**base["payload"], "timestamp": "yesterday"}})
    assert odd.events[0].alert.received_at is None and "timestamp" in odd.notes[0]


# --------------------------------------------------------------------------- parsers: Datadog

# Sorted by `date`, as SOURCES.md lists them.
DD_EXPECTED: list[tuple[str, str, str, str, str]] = [
    # file, action, dedup_key, severity, service
    ("dd-keep-triggered-database-scope.json", "trigger", "datadog:160077064:database_id:keephq-sandbox:keep",
     "error", ""),
    ("dd-keep-warn-p2-unauthorized-access.json", "trigger", "datadog:134462228:service:keep-api", "P2", "keep-api"),
    ("dd-keep-recovered-error-monitor-keep-api.json", "resolve", "datadog:160076582:service:keep-api", "success",
     "keep-api"),
    ("dd-keep-triggered-error-monitor-keep-api.json", "trigger", "datadog:160076582:service:keep-api", "error",
     "keep-api"),
    ("dd-keep-recovered-p2-unauthorized-access.json", "resolve", "datadog:134462228:service:keep-api", "P2",
     "keep-api"),
    ("dd-keep-triggered-p2-unauthorized-access.json", "trigger", "datadog:134462228:service:keep-api", "P2",
     "keep-api"),
]


def datadog_in_date_order(payloads_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    files = [(p.name, json.loads(p.read_text())) for p in (payloads_dir / "datadog").glob("*.json")]
    return sorted(files, key=lambda f: int(f[1]["date"]))


def test_every_datadog_payload_has_an_expectation_in_date_order(payloads_dir):
    assert [name for name, _ in datadog_in_date_order(payloads_dir)] == [e[0] for e in DD_EXPECTED]


@pytest.mark.parametrize("name,action,dedup_key,severity,service", DD_EXPECTED, ids=[e[0] for e in DD_EXPECTED])
def test_datadog_payloads_parse_to_their_expected_outcome(payloads_dir, name, action, dedup_key, severity, service):
    body = load(payloads_dir, "datadog", name)
    parsed = datadog.parse(body)
    assert len(parsed.events) == 1
    ev = parsed.events[0]
    assert (ev.action, ev.alert.dedup_key, ev.alert.severity, ev.alert.service) == (action, dedup_key, severity,
                                                                                    service)
    assert ev.alert.title == body["title"].strip() and ev.alert.source == "datadog"
    assert ev.alert.labels["monitor_id"] == body["monitor_id"]
    assert int(ev.alert.received_at.timestamp() * 1000) == int(body["date"])
    assert "%%%" not in ev.alert.description and ev.alert.links == [body["url"]]


def test_datadog_scope_values_keep_their_colons_and_bad_bodies_name_the_field(payloads_dir):
    db_scope = datadog.parse(load(payloads_dir, "datadog", "dd-keep-triggered-database-scope.json")).events[0]
    assert db_scope.alert.labels["database_id"] == "keephq-sandbox:keep"
    base = load(payloads_dir, "datadog", "dd-keep-warn-p2-unauthorized-access.json")
    numeric = datadog.parse({**base, "monitor_id": 134462228, "severity": "", "alert_type": "warning"}).events[0]
    assert numeric.alert.dedup_key == "datadog:134462228:service:keep-api" and numeric.alert.severity == "warning"
    assert datadog.parse({**base, "alert_transition": "Re-Triggered"}).events[0].action == "trigger"
    no_scope_service = datadog.parse({**base, "scopes": "env:prod"}).events[0]
    assert no_scope_service.alert.service == "keep-api"  # from the service: tag
    for body, field in [({**base, "alert_transition": None}, "alert_transition"),
                        ({**base, "alert_transition": "Exploded"}, "alert_transition"),
                        ({**base, "monitor_id": None}, "monitor_id"), ({**base, "monitor_id": True}, "monitor_id"),
                        ({**base, "tags": 5}, "tags"), ({**base, "title": ["x"]}, "title"), ("[]", "body")]:
        with pytest.raises(PayloadError, match=field):
            datadog.parse(body)


# --------------------------------------------------------------------------- API: PagerDuty

async def test_pagerduty_trigger_acknowledge_resolve_on_one_dedup_key(env, engine, task_queue, payloads_dir):
    k = f"srv01/mysql-{uuid.uuid4().hex[:8]}"
    trigger = {**load(payloads_dir, "pagerduty-v2", "pd-apischema-trigger-srv01-mysql.json"), "dedup_key": k}
    ack = {**load(payloads_dir, "pagerduty-v2", "pd-docs-acknowledge.json"), "dedup_key": k}
    resolve = {**load(payloads_dir, "pagerduty-v2", "pd-docs-resolve.json"), "dedup_key": k}
    wf_id = incident_workflow_id(k)  # a key with "/" gets a URL-safe incident id
    assert "/" not in wf_id
    async with api(env, engine, task_queue) as http:
        r = await http.post("/v2/enqueue", json=trigger)
        assert r.status_code == 202, r.text
        assert r.json() == {"status": "success", "message": "Event processed", "dedup_key": k}
        r = await http.get(f"/api/v1/incidents/{wf_id}")
        assert r.status_code == 200 and r.json()["priority"] == "P1"
        state = await temporal.state(env.client, wf_id)
        assert (state.priority, state.status) == ("P1", "triggered")  # severity critical
        r = await http.post("/api/v1/alerts/pagerduty", json=ack)
        assert r.status_code == 202 and r.json()["dedup_key"] == k
        state = await temporal.state(env.client, wf_id)
        assert state.status == "acknowledged"
        r = await http.post("/v2/enqueue", json=resolve)
        assert r.status_code == 202 and r.json()["dedup_key"] == k

        await until(lambda: temporal.state(env.client, wf_id), f"{wf_id} to resolve through verify",
                    ok=lambda st: st.status in ("resolved", "closed"))
        types = [e.type for e in (await temporal.state(env.client, wf_id)).timeline]
    assert types.index("alert.resolved") < types.index("verification.passed") < types.index("resolved")


async def test_pagerduty_without_dedup_key_opens_a_new_incident_each_time(env, engine, task_queue, payloads_dir):
    async with api(env, engine, task_queue) as http:
        keys = []
        for name in ("pd-pdagent-minimal-trigger-no-dedup.json", "pd-pdagent-minimal-trigger-no-dedup.json",
                     "pd-elastalert2-trigger-custom-details.json"):
            r = await http.post("/v2/enqueue", json=load(payloads_dir, "pagerduty-v2", name))
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "success" and HEX32.match(r.json()["dedup_key"])
            keys.append(r.json()["dedup_key"])
        assert len(set(keys)) == 3
        for k in keys:
            state = await temporal.state(env.client, f"incident-{k}")
            assert state.alert_count == 1 and state.priority == "P2"  # severity error -> warning -> P2


async def test_invalid_and_unknown_key_pagerduty_events_open_nothing(env, engine, task_queue, payloads_dir):
    async with api(env, engine, task_queue) as http:
        before = records.count_incidents(engine)
        for name, named in [("pd-pdagent-v1-legacy-event.json", ["routing_key", "event_action"]),
                            ("pd-apischema-change-event-build.json", ["event_action"]),
                            ("pd-pdagent-invalid-empty-fields.json", ["routing_key", "event_action",
                                                                      "payload.summary", "payload.source"])]:
            for path in ("/v2/enqueue", "/api/v1/alerts/pagerduty"):
                r = await http.post(path, json=load(payloads_dir, "pagerduty-v2", name))
                assert r.status_code == 400, (name, r.text)
                answer = r.json()
                assert answer["status"] == "invalid event" and answer["message"] == "Event object is invalid"
                for field in named:
                    assert any(e.startswith(field) for e in answer["errors"]), (name, field, answer)
        r = await http.post("/v2/enqueue", content=b'{"routing_key": ', headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["status"] == "invalid event"
        assert r.json()["errors"][0].startswith("body is not valid JSON")
        r = await http.post("/v2/enqueue", json=["not", "an", "object"])
        assert r.status_code == 400 and r.json()["errors"][0].startswith("body")
        for name in ("pd-docs-acknowledge.json", "pd-docs-resolve.json"):
            r = await http.post("/v2/enqueue", json=load(payloads_dir, "pagerduty-v2", name))
            assert r.status_code == 202, r.text
            assert r.json() == {"status": "success", "message": "Event processed", "dedup_key": "dedupkeyhere"}
        await open_marker(http, engine, env.client)  # processed after every event above
        assert records.count_incidents(engine) == before + 1  # the marker alone
        with pytest.raises(temporal.UnknownIncident):
            await temporal.state(env.client, "incident-dedupkeyhere")
        schema = (await http.get("/openapi.json")).json()
    for path in ("/v2/enqueue", "/api/v1/alerts/pagerduty"):
        responses = schema["paths"][path]["post"]["responses"]
        assert responses["202"]["content"]["application/json"]["schema"]["$ref"].endswith("PagerDutyAccepted")
        assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith("PagerDutyInvalid")


# --------------------------------------------------------------------------- API: Datadog

async def test_datadog_replay_in_date_order(env, engine, task_queue, payloads_dir):
    p2 = "incident-datadog:134462228:service:keep-api"
    async with api(env, engine, task_queue) as http:
        answers = {}
        for name, body in datadog_in_date_order(payloads_dir):
            r = await http.post("/api/v1/alerts/datadog", json=body)
            assert r.status_code == 202, (name, r.text)
            answers[name] = r.json()
            if name == "dd-keep-recovered-p2-unauthorized-access.json":
                # The P2 ticket closes on the source's resolve; its run ends before the next trigger.
                result = await asyncio.wait_for(env.client.get_workflow_handle(p2).result(), 60)
                assert result["status"] == "closed"
                first_run = (await env.client.get_workflow_handle(p2).describe()).run_id

        assert answers["dd-keep-triggered-database-scope.json"]["incidents"] == [
            {"id": "incident-datadog:160077064:database_id:keephq-sandbox:keep", "priority": "P2",
             "status": "triggered", "deduplicated": False}]
        assert answers["dd-keep-warn-p2-unauthorized-access.json"]["incidents"] == [
            {"id": p2, "priority": "P2", "status": "triggered", "deduplicated": False}]
        # Its trigger is not in the corpus: accepted, nothing opened.
        assert answers["dd-keep-recovered-error-monitor-keep-api.json"] == {"incidents": [],
                                                                            "message": "no incident matched"}
        assert answers["dd-keep-triggered-error-monitor-keep-api.json"]["incidents"] == [
            {"id": "incident-datadog:160076582:service:keep-api", "priority": "P2", "status": "triggered",
             "deduplicated": False}]
        recovered = answers["dd-keep-recovered-p2-unauthorized-access.json"]["incidents"]
        assert [(i["id"], i["deduplicated"]) for i in recovered] == [(p2, True)]
        # The later Triggered opens a new incident, not a join of the closed one: a new run of the
        # same workflow, with its own public id; the closed one stays readable from the records.
        assert answers["dd-keep-triggered-p2-unauthorized-access.json"]["incidents"] == [
            {"id": f"{p2}~2", "priority": "P2", "status": "triggered", "deduplicated": False}]
        desc = await env.client.get_workflow_handle(p2).describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING and desc.run_id != first_run
        assert (await http.get(f"/api/v1/incidents/{p2}~2")).json()["status"] == "triggered"

        async def old_run() -> dict:  # the closed run, read from the records once written
            return (await http.get(f"/api/v1/incidents/{p2}")).json()

        old = await until(old_run, f"the closed run of {p2} in the records", ok=lambda o: o.get("status") == "closed")
        assert old["recorded"] is True and old["status"] == "closed"
        assert [e["type"] for e in old["timeline"]][0] == "triggered"
        r = await http.post(f"/api/v1/incidents/{p2}/acknowledge", json={"by": "alice"})
        assert r.status_code == 409 and r.json()["detail"].endswith(f"(the same alert opened {p2}~2 since)")
        state = await temporal.state(env.client, f"{p2}~2")
        assert state.alert_count == 1 and state.service == "keep-api" and state.title.startswith("[P2] [Triggered]")
        r = await http.post("/api/v1/alerts/datadog", json={"title": "no transition", "monitor_id": 1})
        assert r.status_code == 422 and "alert_transition" in r.json()["detail"]
