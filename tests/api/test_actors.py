"""Real actors: the timeline names the person a key belongs to, never whatever a body's `by`
says. A responder acting as someone else is refused with the reason; an admin acting for
someone is recorded as "<admin> for <person>"; an integration acting for its source is
recorded as integration:<name>. Runs the app in-process against the time-skipping server."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from tests.helpers import api, new_key, until
from warroom.cli.main import app as cli
from warroom.records import keys as auth


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def actors(state: dict, type_: str) -> list[str]:
    return [e["actor"] for e in state["timeline"] if e["type"] == type_]


async def declare(http, **headers: str) -> str:
    r = await http.post("/api/v1/incidents", json={"title": f"Checkout slow {uuid.uuid4().hex[:6]}",
                                                   "priority": "P2"}, headers=headers or None)
    assert r.status_code == 201, r.text
    return r.json()["incidents"][0]["id"]


async def test_a_responder_is_recorded_as_the_keys_person_with_or_without_by(env, engine, task_queue):
    async with api(env, engine, task_queue, role="responder", person="alice") as http:
        iid = await declare(http)
        r = await http.post(f"/api/v1/incidents/{iid}/acknowledge", json={})
        assert r.status_code == 200, r.text
        r = await http.post(f"/api/v1/incidents/{iid}/updates", json={"by": "alice", "message": "rolling back"})
        assert r.status_code == 200, r.text
        state = r.json()
    assert actors(state, "triggered") == ["alice"]  # who declared it
    assert actors(state, "acknowledged") == ["alice"] and state["commander"] == "alice"
    assert actors(state, "status_update.posted") == ["alice"]


async def test_a_responder_whose_by_is_someone_else_is_refused_and_nothing_changes(env, engine, task_queue):
    async with api(env, engine, task_queue, role="responder", person="oncall-a") as http:
        iid = await declare(http)
        refused = await http.post(f"/api/v1/incidents/{iid}/updates", json={"by": "the-cto", "message": "all good"})
        ack = await http.post(f"/api/v1/incidents/{iid}/acknowledge", json={"by": "bob"})
        state = (await http.get(f"/api/v1/incidents/{iid}")).json()
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("this key belongs to oncall-a; it cannot act as the-cto")
    assert ack.status_code == 403 and "it cannot act as bob" in ack.json()["detail"]
    assert state["status"] == "triggered" and state["latest_update"] is None
    assert actors(state, "status_update.posted") == []


async def test_a_key_without_a_person_acts_as_its_own_name(env, engine, task_queue):
    view, key = auth.create_key(engine, name=f"oncall-{uuid.uuid4().hex[:6]}", role="responder")
    assert view.person is None and view.public()["person"] == view.name
    async with api(env, engine, task_queue) as http:
        iid = await declare(http)
        r = await http.post(f"/api/v1/incidents/{iid}/acknowledge", json={}, headers=bearer(key))
    assert r.status_code == 200, r.text
    assert actors(r.json(), "acknowledged") == [view.name]


async def test_an_admin_acting_for_someone_is_recorded_as_admin_for_them(env, engine, task_queue):
    async with api(env, engine, task_queue, role="admin", person="root") as http:
        iid = await declare(http)
        acked = await http.post(f"/api/v1/incidents/{iid}/acknowledge", json={"by": "bob"})
        assert acked.status_code == 200, acked.text
        r = await http.post(f"/api/v1/incidents/{iid}/updates", json={"by": "bob", "message": "bob is offline"})
        assert r.status_code == 200, r.text
        own = await http.post(f"/api/v1/incidents/{iid}/updates", json={"message": "taking over"})
        same = await http.post(f"/api/v1/incidents/{iid}/escalate", json={"by": "root", "reason": "db team"})
        state = same.json()
    assert own.status_code == 200 and same.status_code == 200, (own.text, same.text)
    assert actors(state, "acknowledged") == ["root for bob"]
    assert state["commander"] == "bob"  # the person acknowledged for takes command, not the admin
    assert actors(state, "status_update.posted") == ["root for bob", "root"]
    assert [e["actor"] for e in state["timeline"] if e["type"] == "escalated"] == ["root"]


async def test_an_integration_acting_for_its_source_is_recorded_as_the_integration(env, engine, task_queue):
    pd_key = new_key(engine, "integration", format="pagerduty")
    pd_name = auth.authenticate(engine, pd_key).name
    generic_key = new_key(engine, "integration", format="generic")
    generic_name = auth.authenticate(engine, generic_key).name
    declarer = new_key(engine, "integration")
    declarer_name = auth.authenticate(engine, declarer).name
    pd_dedup, generic_dedup = f"pd-{uuid.uuid4().hex[:8]}", f"gen-{uuid.uuid4().hex[:8]}"
    event = {"routing_key": pd_key, "dedup_key": pd_dedup,
             "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "error"}}
    async with api(env, engine, task_queue) as http:
        r = await http.post("/v2/enqueue", json={**event, "event_action": "trigger"}, headers=bearer(pd_key))
        assert r.status_code == 202, r.text
        r = await http.post("/v2/enqueue", json={**event, "event_action": "acknowledge"}, headers=bearer(pd_key))
        assert r.status_code == 202, r.text
        pd_state = (await http.get(f"/api/v1/incidents/incident-{pd_dedup}")).json()

        alert = {"title": "Queue backlog", "priority": "P2", "dedup_key": generic_dedup}
        r = await http.post("/api/v1/alerts/generic", json=alert, headers=bearer(generic_key))
        assert r.status_code == 202, r.text
        r = await http.post("/api/v1/alerts/generic", json={**alert, "status": "resolve"},
                            headers=bearer(generic_key))
        assert r.status_code == 202, r.text
        generic_state = await until(lambda: http.get(f"/api/v1/incidents/incident-{generic_dedup}"),
                                    "the source's resolve on the timeline",
                                    ok=lambda r: "alert.resolved" in [e["type"] for e in r.json()["timeline"]])
        declared = (await http.get(f"/api/v1/incidents/{await declare(http, **bearer(declarer))}")).json()
    assert pd_state["status"] == "acknowledged"
    assert actors(pd_state, "acknowledged") == [f"integration:{pd_name}"]
    assert actors(pd_state, "triggered") == ["pagerduty"]  # the alert's source: where it came from
    assert actors(generic_state.json(), "alert.resolved") == [f"integration:{generic_name}"]
    assert actors(declared, "triggered") == [f"integration:{declarer_name}"]


async def test_declaring_the_same_incident_twice_joins_it_whoever_declares(env, engine, task_queue):
    title = f"Payments down {uuid.uuid4().hex[:6]}"
    async with api(env, engine, task_queue, role="responder", person="alice") as http:
        first = await http.post("/api/v1/incidents", json={"title": title, "priority": "P1"})
        second = await http.post("/api/v1/incidents", json={"title": title, "priority": "P1"},
                                 headers=bearer(new_key(engine, "responder", person="bob")))
        state = (await http.get(f"/api/v1/incidents/{first.json()['incidents'][0]['id']}")).json()
    assert second.json()["incidents"][0] == {**first.json()["incidents"][0], "deduplicated": True,
                                             "status": "triggered"}
    assert actors(state, "triggered") == ["alice"] and actors(state, "alert.received") == ["alice", "bob"]


async def test_admin_creates_a_key_for_a_person_and_lists_show_it(env, engine, task_queue):
    name = f"laptop-{uuid.uuid4().hex[:6]}"
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/keys", json={"name": name, "role": "responder", "person": "alice"})
        assert r.status_code == 201, r.text
        assert r.json()["person"] == "alice"
        key = r.json()["key"]
        listed = {k["name"]: k for k in (await http.get("/api/v1/keys")).json()}
        blank = await http.post("/api/v1/keys", json={"name": f"x-{name}", "role": "viewer", "person": " "})
        iid = await declare(http)
        acked = await http.post(f"/api/v1/incidents/{iid}/acknowledge", json={}, headers=bearer(key))
    assert listed[name]["person"] == "alice"
    assert blank.status_code == 422
    assert actors(acked.json(), "acknowledged") == ["alice"]


def run_cli(engine, *args: str):
    return CliRunner().invoke(cli, list(args), env={"WARROOM_DATABASE_URL":
                                                    engine.url.render_as_string(hide_password=False)})


def test_keys_create_takes_a_person_and_keys_list_shows_it(engine):
    name = f"oncall-{uuid.uuid4().hex[:6]}"
    out = run_cli(engine, "keys", "create", "--role", "responder", "--name", name, "--person", "alice")
    assert out.exit_code == 0, out.output
    assert f"responder key {name!r} for alice" in out.output
    key = out.output.strip().splitlines()[-1]
    assert auth.authenticate(engine, key).person == "alice"
    listed = run_cli(engine, "keys", "list")
    assert "person" in listed.output and "alice" in listed.output, listed.output
    with pytest.raises(auth.KeyProblem, match="acts as its integration"):
        auth.create_key(engine, name=f"y-{name}", role="integration", person="alice")
