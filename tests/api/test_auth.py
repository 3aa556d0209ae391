"""Keys and roles as a caller meets them: 401 without a valid key, 403 with the wrong role,
on every endpoint of the app; integration keys bound to a format, signed deliveries,
PagerDuty's routing_key; the `warroom keys` / `warroom integrations` commands."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from typer.testing import CliRunner

from api.app import create_app
from warroom.signatures import sign_warroom
from tests.helpers import until, open_marker, running_worker
from tests.helpers import api, new_key
from warroom import records
from warroom.records import keys as auth
from warroom.cli.main import app as cli
from warroom.settings import Settings

# Who may call each endpoint (method, path template) -> roles; admin may call everything.
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}
# No key: the caller signs the request instead (Slack's signing secret; tests/api/test_slack.py)
SIGNED = {("POST", "/api/v1/slack/interactions")}
ALERTS = {"integration", "admin"}
READ = {"viewer", "responder", "admin"}
ACT = {"responder", "admin"}
ADMIN = {"admin"}
MATRIX: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/v1/alerts/generic"): ALERTS,
    ("POST", "/api/v1/alerts/{source}"): ALERTS,
    ("POST", "/api/v1/alerts/custom/{integration}"): ALERTS,
    ("POST", "/v2/enqueue"): ALERTS,
    ("POST", "/api/v1/alerts/pagerduty"): ALERTS,
    ("POST", "/v2/change/enqueue"): ALERTS,
    ("GET", "/api/v1/changes"): READ,
    ("POST", "/api/v1/incidents"): {"integration", "responder", "admin"},
    ("GET", "/api/v1/incidents"): READ,
    ("GET", "/api/v1/incidents/{incident_id}"): READ,
    **{("POST", f"/api/v1/incidents/{{incident_id}}/{a}"): ACT
       for a in ("acknowledge", "commander", "updates", "escalate", "priority", "steps/{step}/complete",
                 "resolve", "review", "reopen")},
    ("GET", "/api/v1/incidents/{incident_id}/report"): READ,
    ("GET", "/api/v1/incidents/{incident_id}/communications"): READ,
    ("GET", "/api/v1/metrics/sla"): READ,
    ("GET", "/api/v1/statistics"): READ,
    ("GET", "/api/v1/runbooks"): READ,
    ("GET", "/api/v1/runbooks/{name}"): READ,
    ("POST", "/api/v1/runbooks/validate"): READ,
    ("GET", "/api/v1/keys"): ADMIN,
    ("POST", "/api/v1/keys"): ADMIN,
    ("DELETE", "/api/v1/keys/{name}"): ADMIN,
    ("GET", "/api/v1/integrations"): ADMIN,
    ("POST", "/api/v1/integrations"): ADMIN,
    ("GET", "/api/v1/integrations/{name}"): ADMIN,
    ("DELETE", "/api/v1/integrations/{name}"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    ("GET", "/api/v1/oncall"): ADMIN,
    ("GET", "/api/v1/oncall/now"): ADMIN,
    ("GET", "/api/v1/oncall/resolve"): ADMIN,
    ("PUT", "/api/v1/oncall/{name}"): ADMIN,
    # hand-over notes are a responder's own; hand-overs are read by anyone who reads (docs/oncall.md)
    ("POST", "/api/v1/oncall/handover-notes"): ACT,
    ("GET", "/api/v1/oncall/handovers"): READ,
    # calendar feeds: a feed token in the URL, or a reader's key (tests/warroom/oncall/test_calendar.py)
    ("GET", "/api/v1/oncall/{team}.ics"): READ,
    ("GET", "/api/v1/oncall/people/{person}.ics"): READ,
    ("POST", "/api/v1/oncall/feeds"): READ,
    ("GET", "/api/v1/oncall/feeds"): READ,
    ("DELETE", "/api/v1/oncall/feeds/{token_id}"): READ,
    # maintenance windows: responders make and end them, viewers read them
    ("POST", "/api/v1/maintenance"): ACT,
    ("GET", "/api/v1/maintenance"): READ,
    ("GET", "/api/v1/maintenance/{window_id}"): READ,
    ("DELETE", "/api/v1/maintenance/{window_id}"): ACT,
    ("GET", "/api/v1/heartbeats"): READ,
    ("POST", "/api/v1/heartbeats"): ADMIN,
    ("GET", "/api/v1/heartbeats/{name}"): READ,
    ("POST", "/api/v1/heartbeats/{name}"): ALERTS,
    ("DELETE", "/api/v1/heartbeats/{name}"): ADMIN,
}
CUSTOM_MAPPING = {"title": "{{ body.title }}", "dedup_key": {"pointer": "/alert_uid"},
                  "status": {"pointer": "/state", "map": {"alerting": "trigger", "ok": "resolve"}}}


def app_routes(app) -> set[tuple[str, str]]:
    """Every operation the app publishes (included routers too), as (METHOD, path)."""
    return {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}


def concrete(path: str, custom_name: str) -> str:
    return (path.replace("{source}", "alertmanager").replace("{integration}", custom_name)
            .replace("{incident_id}", "incident-nope").replace("{step}", "s1").replace("{name}", "nope")
            .replace("{team}", "nope").replace("{person}", "nope").replace("{token_id}", "nope")
            .replace("{window_id}", "mw-nope"))


async def test_every_endpoint_admits_exactly_its_roles(env, engine, task_queue):
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    routes = app_routes(app)
    # A new endpoint must say who may call it: the matrix covers the app exactly.
    assert routes == set(MATRIX) | PUBLIC | SIGNED
    custom = f"custom-{uuid.uuid4().hex[:6]}"
    keys = {role: new_key(engine, role) for role in ("integration", "responder", "viewer", "admin")}
    custom_key = new_key(engine, "integration", format="custom", mapping=CUSTOM_MAPPING)
    custom_key_name = auth.authenticate(engine, custom_key).name
    revoked = new_key(engine, "viewer")
    auth.revoke(engine, auth.authenticate(engine, revoked).name)
    before = records.count_incidents(engine)
    seen: list[tuple[str, str, str, int]] = []
    # a worker behind the app: an incident a refused request wrongly started would be recorded
    async with running_worker(env.client, task_queue, engine), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        for (method, template), roles in sorted(MATRIX.items()):
            path = concrete(template, custom_key_name)
            # {} is a body every endpoint refuses after the key check (422/400/404), so nothing opens.
            send = {"json": {}} if method == "POST" else {}
            r = await http.request(method, path, **send)
            assert r.status_code == 401, (method, path, "no key", r.text)
            r = await http.request(method, path, headers={"Authorization": "Bearer wrnotakey"}, **send)
            assert r.status_code == 401, (method, path, "bad key", r.text)
            r = await http.request(method, path, headers={"Authorization": f"Bearer {revoked}"}, **send)
            assert r.status_code == 401, (method, path, "revoked key", r.text)
            for role, k in keys.items():
                if role == "integration" and "custom" in template:
                    k = custom_key
                r = await http.request(method, path, headers={"Authorization": f"Bearer {k}"}, **send)
                seen.append((method, template, role, r.status_code))
                if role in roles:
                    assert r.status_code not in (401, 403, 500), (method, path, role, r.text)
                else:
                    assert r.status_code == 403, (method, path, role, r.text)
                    assert "(or admin)" in r.json().get("detail", r.text)
        for public in sorted(PUBLIC):
            assert (await http.get(public[1])).status_code in (200, 503)
        await open_marker(http, engine, env.client, headers={"Authorization": f"Bearer {keys['integration']}"})
    assert records.count_incidents(engine) == before + 1  # the marker alone
    assert len(seen) == 4 * len(MATRIX)


async def test_prometheus_scrapes_metrics_with_a_viewer_key(env, engine, task_queue):
    async with api(env, engine, task_queue, role="viewer") as http:
        assert (await http.get("/metrics", headers={"Authorization": ""})).status_code == 401
        assert (await http.get("/metrics", headers={"Authorization": f"Bearer {new_key(engine, 'integration')}"})
                ).status_code == 403
        r = await http.get("/metrics")
    assert r.status_code == 200 and "warroom_incidents_open" in r.text


async def test_missing_key_says_how_to_send_one(env, engine, task_queue):
    async with api(env, engine, task_queue) as http:
        r = await http.get("/api/v1/incidents", headers={"Authorization": ""})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"] == "missing API key: send Authorization: Bearer <key>"
        r = await http.post("/api/v1/incidents/incident-x/acknowledge", json={"by": "a"},
                            headers={"Authorization": f"Bearer {new_key(engine, 'viewer')}"})
        assert r.status_code == 403
        assert r.json()["detail"].endswith("has role viewer; this endpoint needs responder (or admin)")


async def test_pagerduty_takes_the_integration_key_as_routing_key(env, engine, task_queue):
    key = new_key(engine, "integration", format="pagerduty")
    event = {"routing_key": key, "event_action": "trigger", "dedup_key": f"pd-{uuid.uuid4().hex[:8]}",
             "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical"}}
    async with api(env, engine, task_queue) as http:
        r = await http.post("/v2/enqueue", json=event, headers={"Authorization": ""})
        assert r.status_code == 202 and r.json()["dedup_key"] == event["dedup_key"]
        state = (await http.get(f"/api/v1/incidents/incident-{event['dedup_key']}")).json()
        assert state["title"] == "Disk full on db-1"
        # counted once this incident is recorded too (the state above is Temporal's, the row comes after)
        await until(lambda: records.incident(engine, incident_id=state["incident_id"]), "the first incident's record")
        before = records.count_incidents(engine)
        for routing_key, detail in [("R0UNKNOWN0000000000000000000000", "routing_key: unknown or revoked"),
                                    ("", "routing_key: missing")]:
            other = {**event, "routing_key": routing_key, "dedup_key": f"pd-{uuid.uuid4().hex[:8]}"}
            r = await http.post("/v2/enqueue", json=other, headers={"Authorization": ""})
            assert r.status_code == 401 and r.json()["status"] == "unauthorized"
            assert r.json()["errors"][0].startswith(detail)
        # a key bound to another format may not send PagerDuty events
        r = await http.post("/api/v1/alerts/pagerduty", headers={"Authorization": ""},
                            json={**event, "routing_key": new_key(engine, "integration", format="grafana")})
        assert r.status_code == 403 and "post to /api/v1/alerts/grafana" in r.json()["errors"][0]
        await open_marker(http, engine, env.client)  # processed after the refused events
        assert records.count_incidents(engine) == before + 1  # the marker alone


async def test_an_integration_bound_to_a_format_posts_only_there(env, engine, task_queue, payloads_dir):
    body = (payloads_dir / "alertmanager" / "am-oncall-demo-firing-2-alerts.json").read_bytes()
    key = new_key(engine, "integration", format="grafana")
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/alerts/alertmanager", content=body,
                            headers={"Authorization": f"Bearer {key}", "content-type": "application/json"})
    assert r.status_code == 403
    assert r.json()["detail"].endswith("sends grafana alerts: post to /api/v1/alerts/grafana")


async def test_grafana_signatures_are_checked_when_a_secret_is_set(env, engine, task_queue, payloads_dir):
    import hashlib
    import hmac

    secret = "s3cret-for-grafana-hmac"
    key = new_key(engine, "integration", format="grafana", signing_secret=secret)
    raw = json.loads((payloads_dir / "grafana" / sorted(p.name for p in (payloads_dir / "grafana").iterdir())[0])
                     .read_text())
    raw["groupKey"] = f"signed-{uuid.uuid4().hex[:8]}"  # its own incident
    body = json.dumps(raw).encode()
    auth_h = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    ts = str(int(time.time()))
    ts_digest = hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()
    async with api(env, engine, task_queue) as http:
        before = records.count_incidents(engine)
        for headers, detail in [({}, "X-Grafana-Alerting-Signature"),
                                ({"X-Grafana-Alerting-Signature": "0" * 64}, "does not match"),
                                ({"X-Grafana-Alerting-Signature": hmac.new(b"wrong", body, hashlib.sha256)
                                  .hexdigest()}, "does not match")]:
            r = await http.post("/api/v1/alerts/grafana", content=body, headers={**auth_h, **headers})
            assert r.status_code == 401, r.text
            assert r.json()["detail"].startswith("signature: ") and detail in r.json()["detail"]
        r = await http.post("/api/v1/alerts/grafana", content=body + b" ",
                            headers={**auth_h, "X-Grafana-Alerting-Signature": digest})
        assert r.status_code == 401  # the body changed after signing
        await open_marker(http, engine, env.client)  # processed after the refused deliveries
        assert records.count_incidents(engine) == before + 1  # the marker alone
        r = await http.post("/api/v1/alerts/grafana", content=body,
                            headers={**auth_h, "X-Grafana-Alerting-Signature": digest})
        assert r.status_code == 202 and r.json()["incidents"], r.text
        r = await http.post("/api/v1/alerts/grafana", content=body,
                            headers={**auth_h, "X-Grafana-Alerting-Signature": ts_digest,
                                     "X-Grafana-Alerting-Timestamp": ts})
        assert r.status_code == 202 and r.json()["incidents"][0]["deduplicated"] is True


async def test_generic_signed_integration_uses_warroom_signatures(env, engine, task_queue):
    secret = "generic-signing-secret-123"
    key = new_key(engine, "integration", format="generic", signing_secret=secret)
    body = json.dumps({"title": "Signed alert", "dedup_key": f"sig-{uuid.uuid4().hex[:8]}"}).encode()
    h = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/alerts/generic", content=body, headers=h)
        assert r.status_code == 401 and "X-Warroom-Signature" in r.json()["detail"]
        stale = sign_warroom(secret, body, now=time.time() - 3600)
        r = await http.post("/api/v1/alerts/generic", content=body, headers={**h, **stale})
        assert r.status_code == 401
        r = await http.post("/api/v1/alerts/generic", content=body,
                            headers={**h, **sign_warroom(secret, body, now=time.time())})
        assert r.status_code == 202 and r.json()["incidents"][0]["deduplicated"] is False


async def test_custom_integration_turns_any_json_into_an_incident(env, engine, task_queue, payloads_dir):
    name = f"oncall-{uuid.uuid4().hex[:6]}"
    body = (payloads_dir / "other" / "generic-oncall-formatted-webhook-demo.json").read_bytes()
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/integrations", json={"name": name, "format": "custom",
                                                          "mapping": {"title": "{{ body.title", "nope": 1}})
        assert r.status_code == 422 and "mapping.title" in r.json()["detail"] and "mapping.nope" in r.json()["detail"]
        r = await http.post("/api/v1/integrations", json={"name": name, "format": "custom", "mapping": CUSTOM_MAPPING})
        assert r.status_code == 201 and r.json()["key"].startswith("wr") and r.json()["format"] == "custom"
        key = r.json()["key"]
        r = await http.post("/api/v1/integrations", json={"name": name, "format": "custom", "mapping": CUSTOM_MAPPING})
        assert r.status_code == 409
        h = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
        r = await http.post(f"/api/v1/alerts/custom/{name}", content=body, headers=h)
        assert r.status_code == 202, r.text
        ref = r.json()["incidents"][0]
        assert ref["id"] == "incident-08d6891a-835c-e661-39fa-96b6a9e26552"
        state = (await http.get(f"/api/v1/incidents/{ref['id']}")).json()
        assert state["title"] == "TestAlert: The whole system is down"
        assert state["timeline"][0]["actor"] == f"custom:{name}"
        # another integration's key may not use this mapping; an unknown integration is a 404
        r = await http.post(f"/api/v1/alerts/custom/{name}", content=body,
                            headers={**h, "Authorization": f"Bearer {new_key(engine, 'integration')}"})
        assert r.status_code == 403
        assert (await http.post("/api/v1/alerts/custom/nobody", content=body)).status_code == 404
        r = await http.post(f"/api/v1/alerts/custom/{name}", content=b'{"state": "alerting"}', headers=h)
        assert r.status_code == 422 and r.json()["detail"].startswith("title")
        # deleting the integration revokes its key at once
        assert (await http.delete(f"/api/v1/integrations/{name}")).status_code == 200
        r = await http.post(f"/api/v1/alerts/custom/{name}", content=body, headers=h)
        assert r.status_code == 401


async def test_admin_manages_keys_over_the_api(env, engine, task_queue):
    name = f"bob-{uuid.uuid4().hex[:6]}"
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/keys", json={"name": name, "role": "responder"})
        assert r.status_code == 201
        key = r.json()["key"]
        listed = (await http.get("/api/v1/keys")).json()
        mine = [k for k in listed if k["name"] == name]
        assert mine and "key" not in mine[0] and mine[0]["prefix"] == key[:8]
        assert key not in json.dumps(listed)
        h = {"Authorization": f"Bearer {key}"}
        assert (await http.get("/api/v1/incidents", headers=h)).status_code == 200
        assert (await http.get("/api/v1/keys", headers=h)).status_code == 403
        assert (await http.post("/api/v1/keys", json={"name": name, "role": "viewer"})).status_code == 409
        r = await http.post("/api/v1/keys", json={"name": "x", "role": "integration"})
        assert r.status_code == 422 and "/api/v1/integrations" in r.json()["detail"]
        assert (await http.delete(f"/api/v1/keys/{name}")).status_code == 200
        assert (await http.get("/api/v1/incidents", headers=h)).status_code == 401


def run_cli(engine, *args: str):
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, list(args), env={"WARROOM_DATABASE_URL": url})


def test_keys_command_prints_the_key_alone_on_the_last_line(engine):
    name = f"carol-{uuid.uuid4().hex[:6]}"
    out = run_cli(engine, "keys", "create", "--role", "responder", "--name", name)
    assert out.exit_code == 0, out.output
    key = out.output.strip().splitlines()[-1]
    assert auth.authenticate(engine, key).role == "responder"
    listed = run_cli(engine, "keys", "list", "--json")
    assert name in listed.output and key not in listed.output
    again = run_cli(engine, "keys", "create", "--role", "viewer", "--name", name)
    assert again.exit_code == 1 and "already used" in again.output
    bad = run_cli(engine, "keys", "create", "--role", "boss", "--name", f"x-{name}")
    assert bad.exit_code == 1 and "role 'boss'" in bad.output
    assert run_cli(engine, "keys", "revoke", name).exit_code == 0
    assert auth.authenticate(engine, key) is None
    assert run_cli(engine, "keys", "revoke", name).exit_code == 1


def test_integrations_commands(engine, tmp_path):
    name = f"zabbix-{uuid.uuid4().hex[:6]}"
    mapping = tmp_path / "zabbix.yaml"
    mapping.write_text("title: '{{ body.subject }}'\ndedup_key: {pointer: /event_id}\n")
    out = run_cli(engine, "integrations", "create", "--name", name, "--format", "custom", "--mapping", str(mapping),
                  "--generate-secret")
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    key, secret_line = lines[-1], next(line for line in lines if line.startswith("signing secret"))
    found = auth.authenticate(engine, key)
    assert found.name == name and found.format == "custom" and found.signing_secret == secret_line.split(": ")[-1]
    shown = run_cli(engine, "integrations", "show", name, "--json")
    view = json.loads(shown.output)
    assert view["signed"] is True and view["endpoint"] == f"/api/v1/alerts/custom/{name}"
    assert view["mapping"]["dedup_key"] == {"pointer": "/event_id"} and key not in shown.output
    assert name in run_cli(engine, "integrations", "list").output
    mapping.write_text("title: '{{ body.subject'\n")
    bad = run_cli(engine, "integrations", "create", "--name", f"{name}-2", "--format", "custom",
                  "--mapping", str(mapping))
    assert bad.exit_code == 1 and "mapping.title" in bad.output
    assert run_cli(engine, "integrations", "delete", name).exit_code == 0
    assert auth.authenticate(engine, key) is None


@pytest.mark.parametrize("kwargs,problem", [
    ({"role": "viewer", "format": "grafana"}, "integration keys only"),
    ({"role": "integration", "format": "splunk"}, "format 'splunk'"),
    ({"role": "integration", "format": "alertmanager", "signing_secret": "x" * 20}, "signs its deliveries"),
    ({"role": "integration", "format": "grafana", "signing_secret": "short"}, "at least 16"),
    ({"role": "integration", "format": "custom"}, "needs a mapping"),
])
def test_invalid_keys_are_refused_with_the_reason(engine, kwargs, problem):
    with pytest.raises(auth.KeyProblem, match=problem):
        auth.create_key(engine, name=f"bad-{uuid.uuid4().hex[:6]}", **kwargs)


@pytest.mark.parametrize("payload,example,incident,title", [
    ("generic-oncall-formatted-webhook-demo.json", "grafana-oncall-formatted-webhook",
     "incident-08d6891a-835c-e661-39fa-96b6a9e26552", "TestAlert: The whole system is down"),
    ("elastalert-oncall-demo-message-only.json", "elastalert", None,
     "This alert was sent by user for demonstration purposes"),
    ("kapacitor-oncall-demo-data-as-string.json", "kapacitor", "incident-TestAlert",
     "This alert was sent by user for demonstration purposes"),
])
async def test_generic_senders_in_the_corpus_through_custom_integrations(env, engine, task_queue, payloads_dir,
                                                                         payload, example, incident, title):
    """The corpus' "generic JSON" deliveries (other/) each become one alert through a custom
    integration using the shipped example mapping for that sender."""
    from api.sources.custom import EXAMPLES

    name = f"{example[:20]}-{uuid.uuid4().hex[:6]}"
    body = (payloads_dir / "other" / payload).read_bytes()
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/integrations", json={"name": name, "format": "custom",
                                                          "mapping": EXAMPLES[example]})
        key = r.json()["key"]
        r = await http.post(f"/api/v1/alerts/custom/{name}", content=body,
                            headers={"Authorization": f"Bearer {key}", "content-type": "application/json"})
        assert r.status_code == 202, r.text
        [ref] = r.json()["incidents"]
        if incident:
            assert ref["id"] == incident
        state = (await http.get(f"/api/v1/incidents/{ref['id']}")).json()
    assert state["title"] == title and state["alert_count"] >= 1
    assert state["timeline"][0]["actor"] == f"custom:{name}"
