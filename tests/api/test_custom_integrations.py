"""Custom integrations and signed webhooks, as a sender and an admin see them: the example
mappings applied to real bodies from the corpus (../shared/payloads, read in place), what a
mapping can express, every problem of a bad mapping named at once, any JSON body answered
with a PayloadError at worst, and both HMAC schemes accepting and refusing requests."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warroom.signatures import SignatureError, sign_warroom, verify_grafana, verify_warroom
from api.sources import Parsed, PayloadError
from api.sources.custom import EXAMPLES, MappingError, compile_mapping, load_mapping_file
from warroom.classify import classify_priority


def load(payloads_dir: Path, rel: str) -> Any:
    return json.loads((payloads_dir / rel).read_text())


def parse(mapping: dict[str, Any], body: Any) -> Parsed:
    return compile_mapping(mapping).parse(body)


def errors_of(mapping: Any) -> list[str]:
    with pytest.raises(MappingError) as exc:
        compile_mapping(mapping)
    assert str(exc.value) == "; ".join(exc.value.errors)
    return exc.value.errors


# --------------------------------------------------------------------------- examples on real bodies


def test_every_example_compiles() -> None:
    assert set(EXAMPLES) == {"grafana-oncall-formatted-webhook", "elastalert", "kapacitor", "zabbix"}
    for spec in EXAMPLES.values():
        compile_mapping(spec)


def test_oncall_formatted_webhook(payloads_dir: Path) -> None:
    parsed = parse(EXAMPLES["grafana-oncall-formatted-webhook"],
                   load(payloads_dir, "other/generic-oncall-formatted-webhook-demo.json"))
    [event] = parsed.events
    assert event.action == "trigger"
    assert event.alert.title == "TestAlert: The whole system is down"
    assert event.alert.dedup_key == "08d6891a-835c-e661-39fa-96b6a9e26552"
    assert event.alert.description.startswith("This alert was sent by user")
    assert "https://en.wikipedia.org/wiki/Downtime" in event.alert.links
    assert parsed.notes == []


def test_oncall_formatted_webhook_ok_resolves(payloads_dir: Path) -> None:
    body = load(payloads_dir, "other/generic-oncall-formatted-webhook-demo.json") | {"state": "ok"}
    [event] = parse(EXAMPLES["grafana-oncall-formatted-webhook"], body).events
    assert (event.action, event.alert.dedup_key) == ("resolve", "08d6891a-835c-e661-39fa-96b6a9e26552")


def test_elastalert_message_only(payloads_dir: Path) -> None:
    [event] = parse(EXAMPLES["elastalert"], load(payloads_dir, "other/elastalert-oncall-demo-message-only.json")).events
    assert event.action == "trigger"
    assert event.alert.title == "This alert was sent by user for demonstration purposes"
    assert event.alert.dedup_key == ""  # the engine derives a stable one


def test_elastalert_multiline_message_titles_on_first_line() -> None:
    [event] = parse(EXAMPLES["elastalert"], {"message": "\n  Disk full on db1\nat 10:00\n"}).events
    assert event.alert.title == "Disk full on db1"
    assert event.alert.description == "Disk full on db1\nat 10:00"


def test_kapacitor_data_as_string(payloads_dir: Path) -> None:
    [event] = parse(EXAMPLES["kapacitor"], load(payloads_dir, "other/kapacitor-oncall-demo-data-as-string.json")).events
    assert event.action == "trigger"
    assert event.alert.dedup_key == "TestAlert"
    assert event.alert.title == "This alert was sent by user for demonstration purposes"
    assert "{foo: bar}" in event.alert.description


def test_kapacitor_levels() -> None:
    mapping = compile_mapping(EXAMPLES["kapacitor"])
    crit = mapping.parse({"id": "cpu:host=a", "message": "CPU high", "level": "CRITICAL",
                          "data": {"series": [{"name": "cpu", "values": [[1, 99]]}]}}).events[0]
    assert (crit.action, crit.alert.severity) == ("trigger", "critical")
    assert '"series"' in crit.alert.description  # an object renders as JSON text
    ok = mapping.parse({"id": "cpu:host=a", "message": "CPU fine", "level": "OK"}).events[0]
    assert (ok.action, ok.alert.dedup_key) == ("resolve", "cpu:host=a")


ZABBIX_PROBLEM = {
    "event_id": "4711", "status": "PROBLEM", "severity": "Disaster", "host": "db-01",
    "trigger_name": "MySQL is down", "message": "Problem started at 10:01:02",
    "event_url": "https://zabbix.example.com/tr_events.php?triggerid=13&eventid=4711",
}


def test_zabbix_problem_then_resolved() -> None:
    mapping = compile_mapping(EXAMPLES["zabbix"])
    [problem] = mapping.parse(ZABBIX_PROBLEM).events
    assert problem.action == "trigger"
    assert problem.alert.title == "MySQL is down on db-01"
    assert problem.alert.severity == "critical"
    assert problem.alert.service == "db-01"
    assert problem.alert.dedup_key == "zabbix:4711"
    assert problem.alert.labels == {"host": "db-01", "zabbix_severity": "Disaster"}
    assert problem.alert.links == [ZABBIX_PROBLEM["event_url"]]
    assert classify_priority(problem.alert)[0] == "P1"

    [resolved] = mapping.parse(ZABBIX_PROBLEM | {"status": "RESOLVED"}).events
    assert resolved.action == "resolve"
    assert resolved.alert.dedup_key == problem.alert.dedup_key


@pytest.mark.parametrize(("zabbix", "severity"), [
    ("Disaster", "critical"), ("High", "critical"), ("Average", "warning"), ("Warning", "warning"),
    ("Information", "info"), ("Not classified", "info"), ("NOT CLASSIFIED", "info"),
])
def test_zabbix_severities(zabbix: str, severity: str) -> None:
    [event] = parse(EXAMPLES["zabbix"], ZABBIX_PROBLEM | {"severity": zabbix}).events
    assert event.alert.severity == severity


def test_zabbix_unknown_status_is_refused_naming_the_field() -> None:
    with pytest.raises(PayloadError, match=r"^status: 'UPDATE' is not mapped"):
        parse(EXAMPLES["zabbix"], ZABBIX_PROBLEM | {"status": "UPDATE"})


# --------------------------------------------------------------------------- what a mapping can say


def test_events_pointer_gives_one_event_per_element() -> None:
    mapping = {
        "events": "/alerts",
        "title": "{{ alert.name }} ({{ body.source }})",
        "dedup_key": {"pointer": "/id"},  # with events, pointers read the element
        "status": {"pointer": "/state", "map": {"open": "trigger", "closed": "resolve"}},
        "severity": {"pointer": "/sev", "default": "warning"},
    }
    body = {"source": "inhouse", "alerts": [
        {"id": "a1", "name": "Queue backlog", "state": "open", "sev": "critical"},
        {"id": "a2", "name": "Disk full", "state": "CLOSED"},
        {"id": 3, "name": "Cert expiry"},
    ]}
    parsed = parse(mapping, body)
    assert [(e.action, e.alert.title, e.alert.dedup_key, e.alert.severity) for e in parsed.events] == [
        ("trigger", "Queue backlog (inhouse)", "a1", "critical"),
        ("resolve", "Disk full (inhouse)", "a2", "warning"),
        ("trigger", "Cert expiry (inhouse)", "3", "warning"),
    ]


def test_events_errors_name_the_element() -> None:
    mapping = {"events": "/alerts", "title": {"pointer": "/name"}}
    with pytest.raises(PayloadError, match=r"^events\[1\]\.title: the mapping gave an empty title"):
        parse(mapping, {"alerts": [{"name": "ok"}, {"other": 1}]})
    with pytest.raises(PayloadError, match=r"^events: /alerts is not in this body"):
        parse(mapping, {"nothing": []})
    with pytest.raises(PayloadError, match=r"^events: /alerts must be an array, not object"):
        parse(mapping, {"alerts": {"name": "x"}})
    empty = parse(mapping, {"alerts": []})
    assert empty.events == [] and empty.notes == ["events: /alerts is empty: no alerts"]


def test_labels_as_object_of_specs() -> None:
    mapping = {"title": "t", "labels": {
        "team": "payments", "region": {"pointer": "/meta/region"}, "env": "{{ body.env | upper }}",
        "missing": {"pointer": "/nope"}, "fallback": {"pointer": "/nope", "default": "none"}}}
    [event] = parse(mapping, {"meta": {"region": "eu-1"}, "env": "prod"}).events
    assert event.alert.labels == {"team": "payments", "region": "eu-1", "env": "PROD", "fallback": "none"}


def test_labels_via_pointer_are_stringified() -> None:
    mapping = {"title": "t", "labels": {"pointer": "/tags"}}
    [event] = parse(mapping, {"tags": {"port": 5432, "primary": True, "empty": "", "null": None,
                                       "nested": {"a": 1}}}).events
    assert event.alert.labels == {"port": "5432", "primary": "true", "nested": '{"a": 1}'}
    parsed = parse(mapping, {"tags": "a,b"})
    assert parsed.events[0].alert.labels == {}
    assert parsed.notes == ["labels: /tags is string, not an object; no labels taken"]


def test_links_as_list_pointer_or_string() -> None:
    body = {"urls": ["https://a", "", 7, "https://a", "https://b"], "one": "https://c", "id": "x"}
    as_list = {"title": "t", "links": ["https://runbooks/{{ body.id }}", {"pointer": "/one"}, {"pointer": "/none"}]}
    assert parse(as_list, body).events[0].alert.links == ["https://runbooks/x", "https://c"]
    assert parse({"title": "t", "links": {"pointer": "/urls"}}, body).events[0].alert.links == ["https://a", "https://b"]
    assert parse({"title": "t", "links": {"pointer": "/one"}}, body).events[0].alert.links == ["https://c"]


def test_map_is_case_insensitive_and_passes_unknown_values_through() -> None:
    mapping = {"title": "t", "severity": {"pointer": "/s", "map": {"SEV1": "critical", "sev2": "warning"}}}
    assert parse(mapping, {"s": "sev1"}).events[0].alert.severity == "critical"
    assert parse(mapping, {"s": "SEV2"}).events[0].alert.severity == "warning"
    assert parse(mapping, {"s": "sev9"}).events[0].alert.severity == "sev9"


def test_default_applies_when_empty_and_before_map() -> None:
    mapping = {"title": "t", "status": {"pointer": "/st", "default": "DOWN", "map": {"DOWN": "trigger", "UP": "resolve"}},
               "service": {"template": "{{ body.svc }}", "default": "unknown-service"}}
    for body in ({}, {"st": ""}, {"st": None}, {"svc": "   "}):
        [event] = parse(mapping, body).events
        assert (event.action, event.alert.service) == ("trigger", "unknown-service")
    assert parse(mapping, {"st": "up", "svc": "api"}).events[0].action == "resolve"


def test_status_built_in_words_and_default() -> None:
    mapping = {"title": "t", "status": "{{ body.state }}"}
    for state, action in [("firing", "trigger"), ("Alerting", "trigger"), ("PROBLEM", "trigger"), ("", "trigger"),
                          ("ok", "resolve"), ("resolved", "resolve"), ("Recovered", "resolve"),
                          ("acknowledge", "acknowledge")]:
        assert parse(mapping, {"state": state}).events[0].action == action
    assert parse({"title": "t"}, {}).events[0].action == "trigger"
    with pytest.raises(PayloadError, match=r"^status: 'weird' is not mapped; map it to one of trigger, resolve, acknowledge"):
        parse(mapping, {"state": "weird"})


def test_numbers_sent_as_strings() -> None:
    mapping = {"title": "t", "affected_users": {"pointer": "/users"}, "availability": {"pointer": "/avail"},
               "priority": {"pointer": "/prio"}, "business_impact": {"pointer": "/impact"}}
    [event] = parse(mapping, {"users": "1200", "avail": "99.5", "prio": "p1", "impact": "high"}).events
    assert (event.alert.affected_users, event.alert.availability) == (1200, 99.5)
    assert (event.alert.priority, event.alert.business_impact) == ("P1", "HIGH")
    [event] = parse(mapping, {"users": 30, "avail": 97, "prio": "P4"}).events
    assert (event.alert.affected_users, event.alert.availability, event.alert.priority) == (30, 97.0, "P4")
    [event] = parse(mapping, {"users": "5.0", "avail": "98.2%"}).events
    assert (event.alert.affected_users, event.alert.availability) == (5, 98.2)
    [event] = parse(mapping, {}).events
    assert (event.alert.affected_users, event.alert.availability, event.alert.priority) == (None, None, "")


@pytest.mark.parametrize(("body", "message"), [
    ({"users": "many"}, r"^affected_users: 'many' is not a whole number"),
    ({"users": 2.5}, r"^affected_users: '2.5' is not a whole number"),
    ({"users": -1}, r"^affected_users: '-1' must not be negative"),
    ({"avail": "120"}, r"^availability: '120' must be a number from 0 to 100"),
    ({"avail": "up"}, r"^availability: 'up' must be a number from 0 to 100"),
    ({"prio": "urgent"}, r"^priority: 'urgent' must be one of P0, P1, P2, P3, P4"),
    ({"impact": "huge"}, r"^business_impact: 'huge' must be one of CRITICAL, HIGH, MEDIUM, LOW"),
])
def test_typed_fields_refuse_bad_values(body: dict[str, Any], message: str) -> None:
    mapping = {"title": "t", "affected_users": {"pointer": "/users"}, "availability": {"pointer": "/avail"},
               "priority": {"pointer": "/prio"}, "business_impact": {"pointer": "/impact"}}
    with pytest.raises(PayloadError, match=message):
        parse(mapping, body)


def test_templates_never_raise_on_missing_keys_and_render_json_values() -> None:
    mapping = {"title": "[{{ body.a.b.c }}][{{ body.n }}][{{ body.t }}][{{ body.o }}][{{ body['x y'] }}]"}
    [event] = parse(mapping, {"n": None, "t": True, "o": {"k": [1]}, "x y": "sp"}).events
    assert event.alert.title == '[][][true][{"k": [1]}][sp]'


def test_json_keys_win_over_dict_methods() -> None:
    [event] = parse({"title": "{{ body.items }}/{{ body.keys }}"}, {"items": "i", "keys": "k"}).events
    assert event.alert.title == "i/k"


def test_empty_title_refused_and_long_values_cut() -> None:
    with pytest.raises(PayloadError, match=r"^title: the mapping gave an empty title for this body"):
        parse({"title": {"pointer": "/t"}}, {"t": "   "})
    parsed = parse({"title": {"pointer": "/t"}, "description": {"pointer": "/d"}}, {"t": "  x" * 300, "d": "y" * 30000})
    alert = parsed.events[0].alert
    assert alert.title.startswith("x  x") and len(alert.title) <= 500
    assert len(alert.description) == 20000
    assert parsed.notes == ["title: cut to 500 characters", "description: cut to 20000 characters"]


def test_constants() -> None:
    mapping = {"title": "Heartbeat missed", "affected_users": 10, "availability": 99.9, "priority": "P2",
               "labels": {"flag": True}}
    [event] = parse(mapping, "anything").events
    assert (event.alert.title, event.alert.affected_users, event.alert.availability) == ("Heartbeat missed", 10, 99.9)
    assert (event.alert.priority, event.alert.labels) == ("P2", {"flag": "true"})


@pytest.mark.parametrize("template", [
    "{{ body.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__ }}",
    "{{ body.a + 1 }}",
    "{{ 'x' * 10000000 }}",
    "{{ 2 ** 99999999 }}",
    "{% for i in range(100000) %}{% for j in range(100) %}xx{% endfor %}{% endfor %}",
    "{{ body.x | tojson }}",
    "{{ cycler.__init__.__globals__ }}",
])
def test_sandbox_abuse_is_a_payload_error_or_harmless(template: str) -> None:
    mapping = compile_mapping({"title": "t", "description": template})
    try:
        parsed = mapping.parse({"a": {}})
    except PayloadError as e:
        assert str(e).startswith("description: ")
    else:
        assert "class" not in parsed.events[0].alert.description.lower()


# --------------------------------------------------------------------------- compile errors


def test_all_problems_of_a_mapping_are_listed_at_once() -> None:
    errors = errors_of({
        "titel": "{{ body.title }}",
        "description": "line one\n{{ body.message }\nline three",
        "service": {"pointer": "service"},
        "status": {"pointer": "/state", "map": {"PROBLEM": "trigger", "RESOLVED": "closed"}},
        "labels": {"team": {"pointer": "/a", "template": "x"}, "bad": []},
        "events": "/alerts/~2",
    })
    assert errors[0] == ("mapping.titel: unknown field (known: title, description, service, severity, priority, "
                         "dedup_key, status, affected_users, business_impact, availability, labels, links, events)")
    assert "mapping.title: required" in errors
    assert any(e.startswith("mapping.description: template syntax error on line 2:") for e in errors)
    assert any(e.startswith("mapping.service.pointer: invalid JSON pointer 'service'") for e in errors)
    assert any(e.startswith("mapping.status.map:") and "'closed'" in e and "trigger, resolve, acknowledge" in e
               for e in errors)
    assert "mapping.labels.team: give exactly one of pointer or template" in errors
    assert any(e.startswith("mapping.labels.bad: must be a template string") for e in errors)
    assert any(e.startswith("mapping.events: invalid JSON pointer '/alerts/~2'") for e in errors)
    assert len(errors) == 8


@pytest.mark.parametrize(("mapping", "error"), [
    ([], "mapping: must be an object of field -> spec, not array"),
    ({"title": None}, "mapping.title: must be a template string"),
    ({"title": ""}, "mapping.title: must not be empty"),
    ({"title": "t", "priority": "P9"}, "mapping.priority: 'P9' must be one of P0, P1, P2, P3, P4"),
    ({"title": "t", "status": "weird"}, "mapping.status: 'weird' is not mapped"),
    ({"title": "t", "status": {"pointer": "/s", "default": "meh"}}, "mapping.status.default: 'meh' is not mapped"),
    ({"title": "t", "availability": {"pointer": "/a", "default": "x"}}, "mapping.availability.default: 'x' must be"),
    ({"title": "t", "severity": {"pointer": "/s", "colour": "red"}}, "mapping.severity: unknown key 'colour'"),
    ({"title": "t", "severity": {"pointer": "/s", "map": ["a"]}}, "mapping.severity.map: must be an object"),
    ({"title": "{{ body | nosuchfilter }}"}, "mapping.title: template syntax error on line 1: No filter named 'nosuchfilter'"),
    ({"title": "t", "labels": "x"}, "mapping.labels: must be an object"),
    ({"title": "t", "events": 3}, "mapping.events: a JSON pointer must be a string"),
])
def test_each_compile_error_names_its_field(mapping: Any, error: str) -> None:
    assert any(e.startswith(error) for e in errors_of(mapping)), errors_of(mapping)


def test_load_mapping_file_yaml_and_json(tmp_path: Path) -> None:
    yml = tmp_path / "zabbix.yaml"
    yml.write_text(
        "title: '{{ body.trigger_name }} on {{ body.host }}'\n"
        "status:\n  pointer: /status\n  map: {PROBLEM: trigger, RESOLVED: resolve}\n"
        "dedup_key: 'zabbix:{{ body.event_id }}'\n")
    spec = load_mapping_file(yml)
    [event] = compile_mapping(spec).parse(ZABBIX_PROBLEM | {"status": "RESOLVED"}).events
    assert (event.action, event.alert.dedup_key, event.alert.title) == ("resolve", "zabbix:4711", "MySQL is down on db-01")

    js = tmp_path / "kapacitor.json"
    js.write_text(json.dumps(EXAMPLES["kapacitor"]))
    assert load_mapping_file(js) == EXAMPLES["kapacitor"]


@pytest.mark.parametrize(("text", "error"), [
    ("title: [unclosed\n", "not valid YAML or JSON on line"),
    ("- title\n", "must hold an object"),
])
def test_load_mapping_file_errors_name_the_file(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(MappingError, match=error) as exc:
        load_mapping_file(path)
    assert str(path) in str(exc.value)
    with pytest.raises(MappingError, match="cannot be read"):
        load_mapping_file(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- any body at all

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["title", "message", "alerts", "id", "state", "level", "data", "tags", "users",
                         "urls", "0", "a", "items", "~", "/"]) | st.text(max_size=5), children, max_size=5),
    max_leaves=20,
)

FUZZ_MAPPING = {
    "events": "/alerts",
    "title": "{{ alert.title or body.message }} {{ alert.data.x }}",
    "description": {"template": "{{ alert }}{{ body.data | string }}", "default": "none"},
    "service": {"pointer": "/id"}, "severity": {"pointer": "/level", "map": {"1": "critical"}},
    "status": {"pointer": "/state", "map": {"x": "resolve"}},
    "affected_users": {"pointer": "/users"}, "availability": {"pointer": "/0"},
    "priority": {"pointer": "/level"}, "business_impact": {"pointer": "/state"},
    "dedup_key": {"pointer": "/id/0"},
    "labels": {"pointer": "/tags"}, "links": {"pointer": "/urls"},
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=json_values)
def test_any_json_body_gives_events_or_a_payload_error(body: Any) -> None:
    mappings = [compile_mapping(spec) for spec in (*EXAMPLES.values(), FUZZ_MAPPING)]
    for mapping in mappings:
        for candidate in (body, {"alerts": [body, body]}, {"alerts": body}):
            try:
                parsed = mapping.parse(candidate)
            except PayloadError:
                continue
            for event in parsed.events:
                assert event.action in ("trigger", "resolve", "acknowledge")
                assert event.alert.title and len(event.alert.title) <= 500
                assert all(isinstance(v, str) and v for v in event.alert.labels.values())


# --------------------------------------------------------------------------- signatures

SECRET = "s3cret"
BODY = b'{"receiver":"warroom","status":"firing","alerts":[]}'
NOW = 1_750_000_000.0


def hexmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_grafana_without_timestamp() -> None:
    verify_grafana(SECRET, BODY, {"X-Grafana-Alerting-Signature": hexmac(SECRET, BODY)}, now=NOW)
    verify_grafana(SECRET, BODY, {"x-grafana-alerting-signature": "sha256=" + hexmac(SECRET, BODY)}, now=NOW)


def test_grafana_with_timestamp_headers() -> None:
    ts = str(int(NOW) - 10)
    sig = hexmac(SECRET, f"{ts}:".encode() + BODY)
    verify_grafana(SECRET, BODY, {"X-Grafana-Alerting-Signature": sig, "X-Grafana-Alerting-Timestamp": ts}, now=NOW)
    verify_grafana(SECRET, BODY, {"X-GRAFANA-ALERTING-SIGNATURE": sig,
                                  "x-grafana-alerting-signature-timestamp": ts}, now=NOW)
    verify_grafana(SECRET, BODY, {"X-Grafana-Alerting-Signature": sig, "X-Hook-Time": ts},
                   now=NOW, timestamp_header="x-hook-time")
    # A timestamp sent but not signed over is a forgery.
    with pytest.raises(SignatureError, match="^signature does not match the body$"):
        verify_grafana(SECRET, BODY, {"X-Grafana-Alerting-Signature": hexmac(SECRET, BODY),
                                      "X-Grafana-Alerting-Timestamp": ts}, now=NOW)


def test_grafana_with_starlette_headers() -> None:
    from starlette.datastructures import Headers
    headers = Headers(raw=[(b"x-grafana-alerting-signature", hexmac(SECRET, BODY).encode())])
    verify_grafana(SECRET, BODY, headers, now=NOW)


@pytest.mark.parametrize(("secret", "body", "headers", "kwargs", "error"), [
    ("wrong", BODY, {"X-Grafana-Alerting-Signature": hexmac(SECRET, BODY)}, {}, "signature does not match the body"),
    (SECRET, BODY + b" ", {"X-Grafana-Alerting-Signature": hexmac(SECRET, BODY)}, {}, "signature does not match the body"),
    (SECRET, BODY, {"X-Grafana-Alerting-Signature": "zz"}, {}, "signature does not match the body"),
    (SECRET, BODY, {}, {}, "X-Grafana-Alerting-Signature header missing"),
    (SECRET, BODY, {"X-Grafana-Alerting-Signature": ""}, {}, "X-Grafana-Alerting-Signature header missing"),
    (SECRET, BODY, {"X-Grafana-Alerting-Signature": hexmac(SECRET, BODY)}, {"timestamp_header": "X-Ts"},
     "X-Ts header missing"),
    (SECRET, BODY, {"X-Grafana-Alerting-Signature": hexmac(SECRET, f"{int(NOW) - 301}:".encode() + BODY),
                    "X-Grafana-Alerting-Timestamp": str(int(NOW) - 301)}, {}, r"timestamp too old \(window 300 s\)"),
    (SECRET, BODY, {"X-Grafana-Alerting-Signature": hexmac(SECRET, f"{int(NOW) - 100}:".encode() + BODY),
                    "X-Grafana-Alerting-Timestamp": str(int(NOW) - 100)}, {"window_s": 60},
     r"timestamp too old \(window 60 s\)"),
    (SECRET, BODY, {"X-Grafana-Alerting-Signature": hexmac(SECRET, b"soon:" + BODY),
                    "X-Grafana-Alerting-Timestamp": "soon"}, {}, "X-Grafana-Alerting-Timestamp header must be Unix seconds"),
])
def test_grafana_refusals(secret: str, body: bytes, headers: dict[str, str], kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(SignatureError, match=f"^{error}"):
        verify_grafana(secret, body, headers, now=NOW, **kwargs)


def test_warroom_round_trip() -> None:
    headers = sign_warroom(SECRET, BODY, now=NOW)
    assert headers["X-Warroom-Timestamp"] == str(int(NOW))
    assert headers["X-Warroom-Signature"] == "sha256=" + hexmac(SECRET, f"{int(NOW)}.".encode() + BODY)
    verify_warroom(SECRET, BODY, headers, now=NOW + 299)
    verify_warroom(SECRET, BODY, {k.lower(): v for k, v in headers.items()}, now=NOW)


def test_warroom_refusals() -> None:
    headers = sign_warroom(SECRET, BODY, now=NOW)
    with pytest.raises(SignatureError, match="^signature does not match the body$"):
        verify_warroom(SECRET, BODY.replace(b"firing", b"resolved"), headers, now=NOW)
    with pytest.raises(SignatureError, match="^signature does not match the body$"):
        verify_warroom("other", BODY, headers, now=NOW)
    with pytest.raises(SignatureError, match="^signature does not match the body$"):  # timestamp moved forward
        verify_warroom(SECRET, BODY, headers | {"X-Warroom-Timestamp": str(int(NOW) + 1000)}, now=NOW + 1000)
    with pytest.raises(SignatureError, match=r"^timestamp too old \(window 300 s\)$"):
        verify_warroom(SECRET, BODY, headers, now=NOW + 301)
    with pytest.raises(SignatureError, match="^X-Warroom-Signature header missing$"):
        verify_warroom(SECRET, BODY, {"X-Warroom-Timestamp": headers["X-Warroom-Timestamp"]}, now=NOW)
    with pytest.raises(SignatureError, match="^X-Warroom-Timestamp header missing$"):
        verify_warroom(SECRET, BODY, {"X-Warroom-Signature": headers["X-Warroom-Signature"]}, now=NOW)
