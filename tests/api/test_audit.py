"""The audit log (issue 14): administrative actions (keys, integrations, on-call file edits,
runbook validation uploads) are recorded with who and when, through the API and the CLI, and
admins read them (GET /api/v1/audit, `warroom audit`); no one else may."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from api.app import create_app
from tests.api.test_auth import run_cli
from tests.helpers import new_key, running_worker
from warroom.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = timedelta(seconds=60)  # between the action and the entry's time, on a loaded machine
PERSON_FILE = ("people:\n  - {id: nina, name: Nina, timezone: UTC,\n"
               "     contacts: [{kind: email, url: 'mailto://nina@example.com'}]}\n")


async def test_admin_actions_over_the_api_are_recorded_with_actor_and_time(env, engine, task_queue, tmp_path):
    app = create_app(Settings(task_queue=task_queue, oncall_dir=tmp_path), client=env.client, engine=engine)
    tag = uuid.uuid4().hex[:6]
    admin = {"Authorization": f"Bearer {new_key(engine, 'admin', person=f'ada-{tag}')}"}
    responder = {"Authorization": f"Bearer {new_key(engine, 'responder', person=f'rob-{tag}')}"}
    secret = "integration-secret-" + uuid.uuid4().hex
    started = datetime.now(UTC)
    async with running_worker(env.client, task_queue, engine), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        for method, path, body in (
                ("POST", "/api/v1/keys", {"name": f"k-{tag}", "role": "viewer", "person": "vic"}),
                ("DELETE", f"/api/v1/keys/k-{tag}", None),
                ("POST", "/api/v1/integrations", {"name": f"i-{tag}", "format": "generic", "signing_secret": secret}),
                ("DELETE", f"/api/v1/integrations/i-{tag}", None)):
            r = await http.request(method, path, json=body, headers=admin)
            assert r.status_code in (200, 201), (path, r.text)
        r = await http.put(f"/api/v1/oncall/team-{tag}", content=PERSON_FILE, headers=admin)
        assert r.status_code == 200, r.text
        r = await http.put(f"/api/v1/oncall/bad-{tag}", content="people: 5\n", headers=admin)
        assert r.status_code == 422, r.text
        valid = (REPO / "runbooks" / "default.yaml").read_bytes()
        r = await http.post("/api/v1/runbooks/validate", content=valid, headers={**responder,
                                                                                "content-type": "application/yaml"})
        assert r.status_code == 200, r.text
        r = await http.post("/api/v1/runbooks/validate", content=b"name: [", headers=responder)
        assert r.status_code == 422, r.text

        assert (await http.get("/api/v1/audit", headers=responder)).status_code == 403
        assert (await http.get("/api/v1/audit")).status_code == 401
        r = await http.get("/api/v1/audit", headers=admin, params={"since": started.isoformat(), "limit": 500})
        assert r.status_code == 200, r.text
        mine = [e for e in r.json()["entries"] if e["actor"] in (f"ada-{tag}", f"rob-{tag}")]
        r = await http.get("/api/v1/audit", headers=admin, params={"action": "key.created", "actor": f"ada-{tag}"})
        assert [e["target"] for e in r.json()["entries"]] == [f"k-{tag}"] and r.json()["total"] == 1
        assert (await http.get("/api/v1/audit", headers=admin, params={"action": "key.made"})).status_code == 422

    seen = [(e["actor"], e["action"], e["target"]) for e in reversed(mine)]  # oldest first
    assert seen == [(f"ada-{tag}", "key.created", f"k-{tag}"), (f"ada-{tag}", "key.revoked", f"k-{tag}"),
                    (f"ada-{tag}", "integration.created", f"i-{tag}"),
                    (f"ada-{tag}", "integration.deleted", f"i-{tag}"),
                    (f"ada-{tag}", "oncall.file_written", f"team-{tag}.yaml"),
                    (f"ada-{tag}", "oncall.file_written", f"bad-{tag}.yaml"),
                    (f"rob-{tag}", "runbook.validated", "default"), (f"rob-{tag}", "runbook.validated", "")]
    assert [e["details"].get("written", e["details"].get("valid")) for e in reversed(mine)][4:] == [
        True, False, True, False]
    assert mine[-1]["details"]["person"] == "vic"  # the oldest: the key made
    for e in mine:
        assert e["via"] == "api"
        at = datetime.fromisoformat(e["at"])
        assert started - TOLERANCE <= at <= datetime.now(UTC) + TOLERANCE, e
    assert secret not in json.dumps(mine)  # whether it signs, never the secret
    assert [e["details"]["signed"] for e in mine if e["action"] == "integration.created"] == [True]


def test_cli_admin_actions_are_recorded_and_read_with_warroom_audit(engine):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    assert run_cli(engine, "keys", "create", "--role", "responder", "--name", name).exit_code == 0
    assert run_cli(engine, "keys", "revoke", name).exit_code == 0
    assert run_cli(engine, "integrations", "create", "--name", f"{name}-i", "--format", "grafana").exit_code == 0
    assert run_cli(engine, "integrations", "delete", f"{name}-i").exit_code == 0
    out = run_cli(engine, "audit", "--json", "--limit", "200")
    assert out.exit_code == 0, out.output
    entries = [e for e in json.loads(out.output)["entries"] if e["target"] in (name, f"{name}-i")]
    assert [(e["action"], e["via"]) for e in reversed(entries)] == [
        ("key.created", "cli"), ("key.revoked", "cli"), ("integration.created", "cli"), ("integration.deleted", "cli")]
    assert all(e["actor"].startswith("cli:") for e in entries)
    table = run_cli(engine, "audit", "--action", "key.revoked")
    assert table.exit_code == 0 and name in table.output
    bad = run_cli(engine, "audit", "--action", "key.made")
    assert bad.exit_code == 1 and "unknown action key.made" in bad.output
