"""Alertmanager and Grafana webhooks: every real payload in the corpus (../shared/payloads,
read in place) parsed as SOURCES.md says it should be, then a few of them POSTed through the
API into a running worker (time-skipping Temporal), and the bad ones refused with a 4xx."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from api.sources import Parsed, PayloadError
from api.sources import alertmanager, grafana
from api.sources.registry import PARSERS
from tests.helpers import open_marker, until
from tests.helpers import api
from warroom import records
from warroom.classify import classify_priority

AM_FILES = [
    "am-oncall-demo-firing-2-alerts.json", "am-oncall-firing-3-alerts-instancedown.json",
    "am-oncall-legacy-demo-extra-field.json", "am-alerta-v3-numeric-groupkey.json",
    "am-alerta-v4-firing-thing-dead.json", "am-prom2teams-resolved-single.json",
    "am-prom2teams-resolved-multiple-dup-fingerprint.json", "am-prom2teams-k8s-resolved-common-items.json",
    "am-prom2teams-invalid-no-status-no-alertname.json", "am-promgen-firing-2-tz-offset.json",
    "am-promgen-heartbeat-empty-alerts.json", "am-msteams-no-alert-status-no-fingerprint.json",
    "am-dingtalk-v3-playground-demo.json", "am-prometheusalert-log-capture-level-label.json",
]


def load(payloads_dir: Path, rel: str) -> Any:
    return json.loads((payloads_dir / rel).read_text())


def am(payloads_dir: Path, name: str) -> Parsed:
    return alertmanager.parse(load(payloads_dir, f"alertmanager/{name}"))


def summary(p: Parsed) -> list[tuple[str, str, str]]:
    return [(e.action, e.alert.labels.get("alertname", ""), e.alert.severity) for e in p.events]


def priority(p: Parsed, i: int = 0) -> str:
    return classify_priority(p.events[i].alert)[0]


# --------------------------------------------------------------------------- the corpus is covered


def test_every_corpus_file_is_covered_here(payloads_dir):
    """A new file in alertmanager/, grafana/ or grafana-legacy/ must get an expectation below."""
    assert sorted(p.name for p in (payloads_dir / "alertmanager").glob("*.json")) == sorted(AM_FILES)
    assert sorted(p.name for p in (payloads_dir / "grafana").glob("*.json")) == sorted(GF_EXPECTED)
    assert sorted(p.name for p in (payloads_dir / "grafana-legacy").glob("*.json")) == sorted(GFL_EXPECTED)


def test_every_valid_file_parses_without_error_and_fills_the_alert(payloads_dir):
    for d, parse in (("alertmanager", alertmanager.parse), ("grafana", grafana.parse),
                     ("grafana-legacy", grafana.parse)):
        for f in sorted((payloads_dir / d).glob("*.json")):
            if "invalid" in f.name:
                continue
            p = parse(json.loads(f.read_text()))
            for e in p.events:
                assert e.action in ("trigger", "resolve") and e.alert.title and e.alert.dedup_key, f.name
                assert all(isinstance(v, str) for v in e.alert.labels.values()), f.name
                assert e.alert.source in ("alertmanager", "grafana"), f.name


def test_registry_serves_both_paths():
    assert PARSERS["alertmanager"] is alertmanager.parse
    assert PARSERS["grafana"] is grafana.parse


# --------------------------------------------------------------------------- alertmanager, file by file


def test_oncall_demo_two_alerts_one_group_incident(payloads_dir):
    p = am(payloads_dir, "am-oncall-demo-firing-2-alerts.json")
    assert summary(p) == [("trigger", "InstanceDown", "critical")] * 2
    assert [e.alert.labels["instance"] for e in p.events] == ["localhost:8081", "localhost:8082"]
    assert [e.alert.title for e in p.events] == ["Instance localhost:8081 down", "Instance localhost:8082 down"]
    assert len({e.alert.dedup_key for e in p.events}) == 1  # the group is the incident
    assert p.events[0].alert.service == "node" and p.notes == []  # truncatedAlerts: 0 is no note
    assert priority(p) == "P1"


def test_three_alert_delivery_of_the_same_group_joins_the_same_incident(payloads_dir):
    two = am(payloads_dir, "am-oncall-demo-firing-2-alerts.json")
    three = am(payloads_dir, "am-oncall-firing-3-alerts-instancedown.json")
    assert summary(three) == [("trigger", "InstanceDown", "critical")] * 3
    assert {e.alert.dedup_key for e in three.events} == {two.events[0].alert.dedup_key}
    assert three.events[2].alert.labels["instance"] == "localhost:8083"


def test_legacy_demo_unknown_field_ignored(payloads_dir):
    p = am(payloads_dir, "am-oncall-legacy-demo-extra-field.json")
    assert summary(p) == [("trigger", "TestAlert", "critical")]
    assert p.events[0].alert.title == "TestAlert"
    assert p.events[0].alert.description == "This alert was sent by user for demonstration purposes"
    assert "amixr_demo" not in p.events[0].alert.labels


def test_links_say_what_they_are_runbook_first(payloads_dir):
    """A page lists the alert's links by what they are (issue 15: pages a person can act on)."""
    demo = am(payloads_dir, "am-oncall-legacy-demo-extra-field.json").events[0].alert
    assert demo.link_texts == {"https://grafana.com/": "runbook"}  # annotations.runbook_url
    # only the group's commonAnnotations name the runbook here; the alert has no generatorURL
    teams = am(payloads_dir, "am-msteams-no-alert-status-no-fingerprint.json").events[0].alert
    assert teams.link_texts == {"https://github.com/bzon/prometheus-msteams": "runbook"}
    thing = am(payloads_dir, "am-alerta-v4-firing-thing-dead.json").events[0].alert
    assert list(thing.link_texts.values()) == ["source"] and thing.links[0].startswith("http://somehost:9090/graph")
    # "my.prometheusserver.url" is not a link anyone can open: left out
    assert am(payloads_dir, "am-prom2teams-resolved-single.json").events[0].alert.links == []


def test_v3_numeric_group_key_is_accepted_as_its_exact_string(payloads_dir):
    body = load(payloads_dir, "alertmanager/am-alerta-v3-numeric-groupkey.json")
    assert isinstance(body["groupKey"], int) and body["groupKey"] > 2**53
    p = alertmanager.parse(body)
    assert summary(p) == [("trigger", "failedConnect", "critical")]
    assert alertmanager.group_key(body) == "5615590933959184469"
    assert p.events[0].alert.service == "System" and p.events[0].alert.title == "Connect fail"
    other = copy.deepcopy(body)
    other["groupKey"] = 5615590933959184468  # one less: a float round-trip would merge them
    assert alertmanager.parse(other).events[0].alert.dedup_key != p.events[0].alert.dedup_key


def test_v4_thing_dead(payloads_dir):
    p = am(payloads_dir, "am-alerta-v4-firing-thing-dead.json")
    assert summary(p) == [("trigger", "thing_dead", "critical")]
    assert priority(p) == "P1"


def test_resolved_single_keys_on_its_fingerprint(payloads_dir):
    p = am(payloads_dir, "am-prom2teams-resolved-single.json")
    assert summary(p) == [("resolve", "DiskSpace", "severe")]
    assert p.events[0].alert.labels["instance"] == "cs30.evilcorp"
    assert p.events[0].alert.dedup_key == "am:dd19ae3d4e06ac55"  # no groupKey: the alert is the incident


def test_duplicate_fingerprints_do_not_collapse(payloads_dir):
    p = am(payloads_dir, "am-prom2teams-resolved-multiple-dup-fingerprint.json")
    assert summary(p) == [("resolve", "DiskSpace", "severe"), ("resolve", "DiskSpace", "critical")]
    keys = [e.alert.dedup_key for e in p.events]
    assert len(set(keys)) == 2 and "am:dd19ae3d4e06ac55" not in keys
    assert keys == [e.alert.dedup_key for e in am(payloads_dir, "am-prom2teams-resolved-multiple-dup-fingerprint.json").events]


def test_k8s_resolved(payloads_dir):
    p = am(payloads_dir, "am-prom2teams-k8s-resolved-common-items.json")
    assert summary(p) == [("resolve", "CPUThrottlingHigh", "warning")]


def test_promgen_two_alerts_unmapped_major_severity(payloads_dir):
    p = am(payloads_dir, "am-promgen-firing-2-tz-offset.json")
    assert summary(p) == [("trigger", "test-alert", "major")] * 2
    assert [e.alert.labels["instance"] for e in p.events] == ["a.example", "b.example"]
    assert p.events[0].alert.service == "test-service"
    assert len({e.alert.dedup_key for e in p.events}) == 1


def test_heartbeat_with_no_alerts_is_a_no_op(payloads_dir):
    p = am(payloads_dir, "am-promgen-heartbeat-empty-alerts.json")
    assert p.events == [] and p.notes == ["no alerts"]


def test_alert_status_comes_from_the_group(payloads_dir):
    p = am(payloads_dir, "am-msteams-no-alert-status-no-fingerprint.json")
    assert summary(p) == [("trigger", "high_memory_load", "warning")]
    assert priority(p) == "P2"


def test_dingtalk_v3_without_group_key_two_incidents(payloads_dir):
    p = am(payloads_dir, "am-dingtalk-v3-playground-demo.json")
    assert summary(p) == [("trigger", "something_happened", "warning")] * 2
    assert len({e.alert.dedup_key for e in p.events}) == 2  # no groupKey, no fingerprint: label hash


def test_level_label_is_kept_as_severity_and_classifies_by_default(payloads_dir):
    p = am(payloads_dir, "am-prometheusalert-log-capture-level-label.json")
    assert summary(p) == [("trigger", "TargetDown", "2")]
    assert p.events[0].alert.labels["instance"] == "example-1"
    assert priority(p) == "P3"  # unknown severity word: the default rules


# --------------------------------------------------------------------------- alertmanager, edge rules


def _demo(payloads_dir: Path) -> dict[str, Any]:
    return load(payloads_dir, "alertmanager/am-oncall-demo-firing-2-alerts.json")


def test_truncated_alerts_note(payloads_dir):
    body = _demo(payloads_dir)
    body["truncatedAlerts"] = 3
    assert alertmanager.parse(body).notes == ["truncatedAlerts: 3 alerts were not sent"]


def test_resolved_alert_in_a_firing_group_does_not_resolve_it(payloads_dir):
    body = _demo(payloads_dir)
    body["alerts"][1]["status"] = "resolved"
    p = alertmanager.parse(body)
    assert [e.action for e in p.events] == ["trigger"] and "still firing" in p.notes[0]
    for a in body["alerts"]:
        a["status"] = "resolved"
    body["status"] = "resolved"
    p = alertmanager.parse(body)
    assert [e.action for e in p.events] == ["resolve"]  # one resolve for the group incident


def test_non_string_label_values_become_strings(payloads_dir):
    body = _demo(payloads_dir)
    body["alerts"][0]["labels"].update({"port": 8081, "canary": True, "none": None})
    labels = alertmanager.parse(body).events[0].alert.labels
    assert labels["port"] == "8081" and labels["canary"] == "True" and labels["none"] == ""


def _mutated(payloads_dir: Path, change) -> Any:
    body = _demo(payloads_dir)
    change(body)
    return body


NEGATIVE = [
    ("top-level array", lambda b: None, "body"),
    ("alerts not a list", lambda b: b.update(alerts={"a": 1}), "alerts"),
    ("alerts missing", lambda b: b.pop("alerts"), "alerts"),
    ("labels not an object", lambda b: b["alerts"][0].update(labels=["x"]), "alerts[0].labels"),
    ("labels missing", lambda b: b["alerts"][1].pop("labels"), "alerts[1].labels"),
    ("no alertname", lambda b: b["alerts"][1]["labels"].pop("alertname"), "alerts[1].labels.alertname"),
    ("no status anywhere", lambda b: (b.pop("status"), b["alerts"][0].pop("status")), "alerts[0].status"),
    ("bad status", lambda b: b.update(status="exploded"), "status"),
    ("alert not an object", lambda b: b["alerts"].append("x"), "alerts[2]"),
]


@pytest.mark.parametrize("what,change,field", NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_bad_bodies_name_the_field(payloads_dir, what, change, field):
    body = [_demo(payloads_dir)] if what == "top-level array" else _mutated(payloads_dir, change)
    with pytest.raises(PayloadError) as err:
        alertmanager.parse(body)
    assert str(err.value).startswith(f"{field}:"), str(err.value)


def test_invalid_corpus_files_are_refused(payloads_dir):
    with pytest.raises(PayloadError, match=r"^alerts\[0\]\.(status|labels\.alertname):"):
        am(payloads_dir, "am-prom2teams-invalid-no-status-no-alertname.json")
    with pytest.raises(PayloadError, match=r"^body: must be a JSON object"):
        alertmanager.parse(load(payloads_dir, "other/prometheus-to-am-alert-array-promgen.json"))


# --------------------------------------------------------------------------- grafana

GF_EXPECTED = {
    "gf-alerting-default-payload-zero-startsat.json": ("alert1", "fac0861a85de433a"),
    "gf-keep-grafana12-test-alert-relative-generatorurl.json": ("TestAlert", "c4edaaf9f9f839b0"),
}
GFL_EXPECTED = {
    "gfl-alerta-cpu-alerting-no-orgid.json": ("trigger", "Zeta CPU alert", "", "grafana-legacy:7"),
    "gfl-alerta-cpu-ok-empty-evalmatches.json": ("resolve", "Zeta CPU alert", "", "grafana-legacy:7"),
    "gfl-alerta-grafana6-tags-severity.json": ("trigger", "Testing -> Battery Voltage alert", "warning",
                                               "grafana-legacy:58"),
}


@pytest.mark.parametrize("name", sorted(GF_EXPECTED))
def test_grafana_unified_one_firing_alert_without_severity(payloads_dir, name):
    alertname, _fingerprint = GF_EXPECTED[name]
    p = grafana.parse(load(payloads_dir, f"grafana/{name}"))
    assert summary(p) == [("trigger", alertname, "")]
    a = p.events[0].alert
    assert a.dedup_key.startswith("grafana:") and a.source == "grafana"
    assert a.links and a.links[0].startswith("http")  # relative generatorURL joined to externalURL
    assert priority(p) == "P3"


def test_grafana_unified_details(payloads_dir):
    zero = grafana.parse(load(payloads_dir, "grafana/gf-alerting-default-payload-zero-startsat.json")).events[0].alert
    assert zero.title == "alert1" and zero.description.startswith("**Firing**")  # top-level message
    keep = grafana.parse(load(payloads_dir, "grafana/gf-keep-grafana12-test-alert-relative-generatorurl.json"))
    assert keep.events[0].alert.title == "TEST" and keep.events[0].alert.description == "Test Description"
    # every link the alert carries, each with what it is, in the order a page lists them
    assert keep.events[0].alert.link_texts == {
        "https://grafana.example.com/d/dashboard_uid": "dashboard",
        "https://grafana.example.com/d/dashboard_uid?viewPanel=1": "panel",
        "https://grafana.example.com/?orgId=1": "source",  # relative generatorURL joined to externalURL
        "https://grafana.example.com/alerting/silence/new": "silence"}
    assert keep.events[0].alert.links == list(keep.events[0].alert.link_texts)


def test_grafana_unified_without_group_key_uses_the_fingerprint(payloads_dir):
    body = load(payloads_dir, "grafana/gf-keep-grafana12-test-alert-relative-generatorurl.json")
    body.pop("groupKey")
    assert grafana.parse(body).events[0].alert.dedup_key == "grafana:c4edaaf9f9f839b0"


def _without_alertname(body: dict[str, Any]) -> dict[str, Any]:
    for a in body["alerts"]:
        a["labels"].pop("alertname")
    return body


def test_grafana_alert_without_its_own_alertname_takes_it_from_the_group(payloads_dir):
    """A real Grafana delivery whose alert labels lack `alertname` (it is only in
    commonLabels/groupLabels) is not dropped: the name comes from commonLabels, else
    groupLabels, else the rule title, and a note says where."""
    name = "grafana/gf-keep-grafana12-test-alert-relative-generatorurl.json"
    original = grafana.parse(load(payloads_dir, name)).events[0].alert
    body = _without_alertname(load(payloads_dir, name))
    p = grafana.parse(body)
    a = p.events[0].alert
    assert (a.labels["alertname"], a.title, a.dedup_key) == ("TestAlert", "TEST", original.dedup_key)
    assert a.fingerprint == original.fingerprint
    assert p.notes == ["alerts[0].labels.alertname: missing, taken from commonLabels.alertname"]

    body.pop("commonLabels")
    p = grafana.parse(body)
    assert p.events[0].alert.labels["alertname"] == "TestAlert"
    assert p.notes == ["alerts[0].labels.alertname: missing, taken from groupLabels.alertname"]

    # The default template's groupLabels carry an empty alertname: the rule title is next.
    zero = _without_alertname(load(payloads_dir, "grafana/gf-alerting-default-payload-zero-startsat.json"))
    zero.pop("commonLabels")
    zero["title"] = "[FIRING:1] Disk almost full (val1)"
    p = grafana.parse(zero)
    assert p.events[0].alert.labels["alertname"] == "Disk almost full (val1)"
    assert p.events[0].alert.title == "Disk almost full (val1)"
    assert p.notes == ["alerts[0].labels.alertname: missing, taken from title"]
    zero.pop("title")
    assert grafana.parse(zero).events[0].alert.labels["alertname"] == "Grafana alert"

    # Alertmanager itself always sends alertname: still refused there.
    with pytest.raises(PayloadError, match=r"^alerts\[0\]\.labels\.alertname: required"):
        alertmanager.parse(_without_alertname(load(payloads_dir, name)))


@pytest.mark.parametrize("name", sorted(GFL_EXPECTED))
def test_grafana_legacy(payloads_dir, name):
    action, title, severity, key = GFL_EXPECTED[name]
    p = grafana.parse(load(payloads_dir, f"grafana-legacy/{name}"))
    assert len(p.events) == 1
    e = p.events[0]
    assert (e.action, e.alert.title, e.alert.severity, e.alert.dedup_key) == (action, title, severity, key)


def test_grafana_legacy_details(payloads_dir):
    cpu = grafana.parse(load(payloads_dir, "grafana-legacy/gfl-alerta-cpu-alerting-no-orgid.json")).events[0].alert
    assert "user = 97.007606" in cpu.description and cpu.description.startswith("boom!")
    g6 = grafana.parse(load(payloads_dir, "grafana-legacy/gfl-alerta-grafana6-tags-severity.json"))
    a = g6.events[0].alert
    assert a.service == "Physical" and a.labels["enabled"] == "true" and priority(g6) == "P2"
    assert a.description.count("Battery Voltage (millivolts) = 23644.5") == 1  # identical matches once


def test_grafana_legacy_states_and_keys(payloads_dir):
    base = load(payloads_dir, "grafana-legacy/gfl-alerta-cpu-alerting-no-orgid.json")
    nodata = grafana.parse({**base, "state": "no_data"}).events[0]
    assert nodata.action == "trigger" and nodata.alert.title.startswith("[no data]")
    for state in ("paused", "pending"):
        p = grafana.parse({**base, "state": state})
        assert p.events == [] and state in p.notes[0]
    no_id = {k: v for k, v in base.items() if k != "ruleId"}
    key = grafana.parse(no_id).events[0].alert.dedup_key
    assert key.startswith("grafana-legacy:h") and key == grafana.parse(dict(no_id)).events[0].alert.dedup_key
    with pytest.raises(PayloadError, match="^ruleId:"):
        grafana.parse({k: v for k, v in no_id.items() if k not in ("ruleName", "ruleUrl")})
    with pytest.raises(PayloadError, match="^state:"):
        grafana.parse({**base, "state": "weird"})
    with pytest.raises(PayloadError, match="^state:"):
        grafana.parse({k: v for k, v in base.items() if k != "state"})
    with pytest.raises(PayloadError, match="^body:"):
        grafana.parse([base])


# --------------------------------------------------------------------------- through the API


async def _post(http, source: str, body: Any):
    return await http.post(f"/api/v1/alerts/{source}", content=json.dumps(body).encode(),
                           headers={"content-type": "application/json"})


async def _wait_for(http, iid: str, timeline_type: str) -> dict[str, Any]:
    async def state() -> dict[str, Any]:
        return (await http.get(f"/api/v1/incidents/{iid}")).json()

    return await until(state, f"{timeline_type!r} in the timeline of {iid}",
                       ok=lambda s: timeline_type in [e["type"] for e in s["timeline"]])


async def test_api_alertmanager_group_opens_one_incident_and_the_later_delivery_joins_it(
        env, engine, task_queue, payloads_dir):
    async with api(env, engine, task_queue) as http:
        r = await _post(http, "alertmanager", load(payloads_dir, "alertmanager/am-oncall-demo-firing-2-alerts.json"))
        assert r.status_code == 202, r.text
        refs = r.json()["incidents"]
        assert len(refs) == 2 and len({x["id"] for x in refs}) == 1
        assert [x["deduplicated"] for x in refs] == [False, True]
        assert {x["priority"] for x in refs} == {"P1"}  # critical -> P1
        iid = refs[0]["id"]
        r = await _post(http, "alertmanager",
                        load(payloads_dir, "alertmanager/am-oncall-firing-3-alerts-instancedown.json"))
        assert r.status_code == 202, r.text
        refs3 = r.json()["incidents"]
        assert [x["id"] for x in refs3] == [iid] * 3 and all(x["deduplicated"] for x in refs3)
        state = (await http.get(f"/api/v1/incidents/{iid}")).json()
        # two alerts delivered again and one new one (fingerprint 39f38c0611ee7abd): three distinct
        assert (state["alert_count"], state["resent_count"], state["priority"]) == (3, 2, "P1")
        assert [e["type"] for e in state["timeline"]].count("triggered") == 1

        # The whole group resolves: one resolve for the incident, which goes through verify.
        resolved = load(payloads_dir, "alertmanager/am-oncall-firing-3-alerts-instancedown.json")
        resolved["status"] = "resolved"
        for a in resolved["alerts"]:
            a["status"] = "resolved"
        r = await _post(http, "alertmanager", resolved)
        assert r.status_code == 202, r.text
        assert [(x["id"], x["deduplicated"]) for x in r.json()["incidents"]] == [(iid, True)]
        state = await _wait_for(http, iid, "resolved")
        types = [e["type"] for e in state["timeline"]]
        assert "alert.resolved" in types and "resolved" in types, types
        assert types.index("alert.resolved") < types.index("resolved")


async def test_api_alertmanager_warning_p2_and_no_ops(env, engine, task_queue, payloads_dir):
    async with api(env, engine, task_queue) as http:
        r = await _post(http, "alertmanager",
                        load(payloads_dir, "alertmanager/am-msteams-no-alert-status-no-fingerprint.json"))
        assert r.status_code == 202, r.text
        [ref] = r.json()["incidents"]
        assert ref["priority"] == "P2" and ref["deduplicated"] is False
        state = (await http.get(f"/api/v1/incidents/{ref['id']}")).json()
        assert state["alert_count"] == 1 and state["workflow"]  # a ticket workflow for P2
        await until(lambda: records.incident(engine, incident_id=ref["id"]), "the P2's record")

        # Resolved alerts with no open incident, and the empty heartbeat: accepted, nothing opened.
        before = records.count_incidents(engine)
        for name in ("am-prom2teams-resolved-single.json", "am-prom2teams-resolved-multiple-dup-fingerprint.json",
                     "am-promgen-heartbeat-empty-alerts.json"):
            r = await _post(http, "alertmanager", load(payloads_dir, f"alertmanager/{name}"))
            assert r.status_code == 202 and r.json()["incidents"] == [], (name, r.text)
        assert r.json()["message"] == "no alerts"
        await open_marker(http, engine, env.client)  # processed after the three deliveries
        assert records.count_incidents(engine) == before + 1  # the marker alone


async def test_api_grafana_legacy_and_unified(env, engine, task_queue, payloads_dir):
    async with api(env, engine, task_queue) as http:
        r = await _post(http, "grafana", load(payloads_dir, "grafana-legacy/gfl-alerta-grafana6-tags-severity.json"))
        assert r.status_code == 202, r.text
        assert r.json()["incidents"][0]["id"] == "incident-grafana-legacy:58"
        assert r.json()["incidents"][0]["priority"] == "P2"  # warning -> P2

        r = await _post(http, "grafana", load(payloads_dir, "grafana/gf-alerting-default-payload-zero-startsat.json"))
        assert r.status_code == 202, r.text
        assert r.json()["incidents"][0]["priority"] == "P3" and not r.json()["incidents"][0]["deduplicated"]

        r = await _post(http, "grafana", load(payloads_dir, "grafana-legacy/gfl-alerta-cpu-alerting-no-orgid.json"))
        assert r.status_code == 202, r.text
        iid = r.json()["incidents"][0]["id"]
        assert iid == "incident-grafana-legacy:7"
        r = await _post(http, "grafana", load(payloads_dir, "grafana-legacy/gfl-alerta-cpu-ok-empty-evalmatches.json"))
        assert r.status_code == 202, r.text
        assert [(x["id"], x["deduplicated"]) for x in r.json()["incidents"]] == [(iid, True)]
        state = await _wait_for(http, iid, "alert.resolved")
        assert "alert.resolved" in [e["type"] for e in state["timeline"]]


async def test_api_grafana_alert_named_only_in_common_labels_opens_an_incident(
        env, engine, task_queue, payloads_dir):
    body = _without_alertname(load(payloads_dir, "grafana/gf-keep-grafana12-test-alert-relative-generatorurl.json"))
    async with api(env, engine, task_queue) as http:
        r = await _post(http, "grafana", body)
        assert r.status_code == 202, r.text
        assert "taken from commonLabels.alertname" in r.json()["message"]
        [ref] = r.json()["incidents"]
        assert ref["deduplicated"] is False and ref["priority"] == "P3"
        state = (await http.get(f"/api/v1/incidents/{ref['id']}")).json()
        assert state["title"] == "TEST" and state["alert_count"] == 1


BAD = [
    ("alertmanager", "alertmanager/am-prom2teams-invalid-no-status-no-alertname.json", 422, "alerts[0].status"),
    ("alertmanager", "other/prometheus-to-am-alert-array-promgen.json", 422, "body: must be a JSON object"),
    ("grafana", "other/prometheus-to-am-alert-array-promgen.json", 422, "body: must be a JSON object"),
    ("alertmanager", None, 400, "not valid JSON"),
    ("grafana", None, 400, "not valid JSON"),
]


@pytest.mark.parametrize("source,rel,status,what", BAD, ids=[f"{b[0]}-{b[2]}-{b[3][:12]}" for b in BAD])
async def test_api_bad_bodies_get_a_clear_4xx_and_open_nothing(env, engine, task_queue, payloads_dir,
                                                               source, rel, status, what):
    content = (payloads_dir / rel).read_bytes() if rel else b'{"alerts": [{"labels": '
    async with api(env, engine, task_queue) as http:
        before = records.count_incidents(engine)
        r = await http.post(f"/api/v1/alerts/{source}", content=content,
                            headers={"content-type": "application/json"})
        await open_marker(http, engine, env.client)  # processed after the bad body
        assert records.count_incidents(engine) == before + 1  # the marker alone
    assert r.status_code == status, r.text
    assert what in r.json()["detail"], r.text
