"""Heartbeat monitors through the HTTP API, in virtual time: made, listed, shown and deleted by
the roles that may; pinged at POST /api/v1/heartbeats/{name} by the integrations that may; a miss
shows as `down` with its incident, the next ping as `up` with the incident resolved; an
Alertmanager delivery carrying `Watchdog` pings the heartbeats bound to its integration."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio.client import WorkflowExecutionStatus

from tests.helpers import TIMER_TOLERANCE, api, new_key, until
from warroom.records import keys as auth
from workflows.heartbeat import workflow_id


def name() -> str:
    return f"hb-{uuid.uuid4().hex[:8]}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def watchdog_body(status: str = "firing", extra: list[dict] | None = None) -> dict:
    alerts = [{"status": status, "labels": {"alertname": "Watchdog", "severity": "none"},
               "annotations": {"summary": "An alert that should always be firing"}}, *(extra or [])]
    return {"version": "4", "groupKey": '{}:{alertname="Watchdog"}', "status": status, "receiver": "warroom",
            "alerts": alerts}


async def test_create_list_show_ping_and_refusals(env, engine, task_queue):
    viewer, integ = bearer(new_key(engine, "viewer")), bearer(new_key(engine, "integration"))
    am_key = new_key(engine, "integration", format="alertmanager")
    am_name = auth.authenticate(engine, am_key).name
    n, bound, service = name(), name(), f"backups-{uuid.uuid4().hex[:6]}"
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/heartbeats", json={"name": n, "interval": "10m", "priority": "p1",
                                                        "service": service})
        assert r.status_code == 201, r.text
        made = r.json()
        assert (made["state"], made["interval_seconds"], made["interval"], made["priority"]) == \
            ("new", 600, "10m", "P1")
        assert made["title"] == f"Heartbeat {n} missed" and made["last_ping_at"] is None

        for body, field in (({"name": name(), "interval": "soon"}, "interval"),
                            ({"name": name(), "interval": 0}, "interval"),
                            ({"name": name(), "interval": "5m", "priority": "P9"}, "priority"),
                            ({"name": "bad name!", "interval": "5m"}, "name"),
                            ({"name": name(), "interval": "5m", "integration": "nobody"}, "integration")):
            r = await http.post("/api/v1/heartbeats", json=body)
            assert r.status_code == 422 and r.json()["detail"].startswith(field), (body, r.text)
        r = await http.post("/api/v1/heartbeats", json={"name": n, "interval": "5m"})
        assert r.status_code == 409 and "already" in r.json()["detail"]
        r = await http.post("/api/v1/heartbeats", json={"name": bound, "interval": 90, "integration": am_name})
        assert r.status_code == 201 and r.json()["integration"] == am_name

        listed = (await http.get("/api/v1/heartbeats", headers=viewer)).json()["heartbeats"]
        assert {h["name"]: h["state"] for h in listed if h["name"] in (n, bound)} == {n: "new", bound: "new"}

        # who may ping what
        r = await http.post(f"/api/v1/heartbeats/{n}", headers=viewer)
        assert r.status_code == 403 and "(or admin)" in r.json()["detail"]
        r = await http.post(f"/api/v1/heartbeats/{n}", headers=bearer(am_key))
        assert r.status_code == 403 and "bind the heartbeat" in r.json()["detail"]
        r = await http.post(f"/api/v1/heartbeats/{bound}", headers=integ)
        assert r.status_code == 403 and f"pinged by integration {am_name!r} only" in r.json()["detail"]
        r = await http.post("/api/v1/heartbeats/nope", headers=integ)
        assert r.status_code == 404 and "no heartbeat named 'nope'" in r.json()["detail"]

        before = await env.get_current_time()
        r = await http.post(f"/api/v1/heartbeats/{n}", headers=integ, content=b"anything at all")
        assert r.status_code == 202, r.text
        assert r.json() == {"heartbeat": n, "accepted": True, "state": "up", "was": "new"}
        shown = await until(lambda: http.get(f"/api/v1/heartbeats/{n}", headers=viewer), "the ping handled",
                            ok=lambda r: r.json().get("due_at"))
        h = shown.json()
        assert h["state"] == "up" and h["pings"] == 1 and h["last_source"].startswith("integration:")
        due = datetime.fromisoformat(h["due_at"])
        assert abs(due - (before + timedelta(minutes=10))) <= TIMER_TOLERANCE
        r = await http.post(f"/api/v1/heartbeats/{bound}", headers=bearer(am_key))
        assert r.status_code == 202, r.text

        r = await http.get("/api/v1/heartbeats/nope", headers=viewer)
        assert r.status_code == 404


async def test_a_miss_shows_down_with_its_incident_and_the_next_ping_resolves_it(env, engine, task_queue):
    viewer, integ = bearer(new_key(engine, "viewer")), bearer(new_key(engine, "integration"))
    n, service = name(), f"etl-{uuid.uuid4().hex[:6]}"
    async with api(env, engine, task_queue) as http:
        r = await http.post("/api/v1/heartbeats", json={"name": n, "interval": "5m", "priority": "P1",
                                                        "service": service, "title": "Nightly ETL stopped"})
        assert r.status_code == 201, r.text
        assert (await http.post(f"/api/v1/heartbeats/{n}", headers=integ)).status_code == 202
        await until(lambda: http.get(f"/api/v1/heartbeats/{n}"), "the first ping", ok=lambda r: r.json()["due_at"])
        await env.sleep(timedelta(minutes=6))
        down = (await until(lambda: http.get(f"/api/v1/heartbeats/{n}", headers=viewer), "down",
                            ok=lambda r: r.json()["state"] == "down" and r.json()["incident_id"])).json()
        inc = (await http.get(f"/api/v1/incidents/{down['incident_id']}", headers=viewer)).json()
        assert (inc["priority"], inc["service"], inc["title"]) == ("P1", service, "Nightly ETL stopped")
        await until(lambda: http.get("/api/v1/heartbeats", headers=viewer), "the list to say down",
                    ok=lambda r: next(h for h in r.json()["heartbeats"] if h["name"] == n)["state"] == "down")

        r = await http.post(f"/api/v1/heartbeats/{n}", headers=integ)
        assert r.status_code == 202 and r.json()["was"] == "down", r.text
        await until(lambda: http.get(f"/api/v1/heartbeats/{n}", headers=viewer), "up again",
                    ok=lambda r: r.json()["state"] == "up")
        inc = (await until(lambda: http.get(f"/api/v1/incidents/{down['incident_id']}", headers=viewer),
                           "the incident resolved by its source",
                           ok=lambda r: any(e["type"] == "alert.resolved" for e in r.json()["timeline"]))).json()
        assert [e["actor"] for e in inc["timeline"] if e["type"] == "alert.resolved"] == [f"heartbeat:{n}"]


async def test_alertmanager_watchdog_pings_the_bound_heartbeat_and_opens_nothing(env, engine, task_queue):
    am_key = new_key(engine, "integration", format="alertmanager")
    am_name = auth.authenticate(engine, am_key).name
    n = name()
    async with api(env, engine, task_queue) as http:
        assert (await http.post("/api/v1/heartbeats", json={"name": n, "interval": "2m",
                                                            "integration": am_name})).status_code == 201
        r = await http.post("/api/v1/alerts/alertmanager", json=watchdog_body(), headers=bearer(am_key))
        assert r.status_code == 202, r.text
        assert r.json()["incidents"] == [] and f"heartbeat {n} pinged" in r.json()["message"]
        h = (await until(lambda: http.get(f"/api/v1/heartbeats/{n}"), "the Watchdog ping",
                         ok=lambda r: r.json()["pings"] == 1)).json()
        assert h["state"] == "up" and h["last_source"] == f"integration:{am_name} Watchdog"

        # a real alert beside the Watchdog still opens its incident
        other = {"status": "firing", "labels": {"alertname": "DiskFull", "severity": "warning",
                                                "service": f"db-{uuid.uuid4().hex[:6]}"}}
        r = await http.post("/api/v1/alerts/alertmanager", json={**watchdog_body(extra=[other]), "groupKey": "g2"},
                            headers=bearer(am_key))
        assert r.status_code == 202 and len(r.json()["incidents"]) == 1, r.text
        await until(lambda: http.get(f"/api/v1/heartbeats/{n}"), "the second ping", ok=lambda r: r.json()["pings"] == 2)
        # an empty delivery pings too; a resolved Watchdog does not
        r = await http.post("/api/v1/alerts/alertmanager", json={"status": "firing", "alerts": []},
                            headers=bearer(am_key))
        assert r.status_code == 202 and f"heartbeat {n} pinged" in r.json()["message"]
        r = await http.post("/api/v1/alerts/alertmanager", json=watchdog_body("resolved"), headers=bearer(am_key))
        assert r.status_code == 202 and r.json()["incidents"] == [] and "not a ping" in r.json()["message"]
        await until(lambda: http.get(f"/api/v1/heartbeats/{n}"), "the third ping", ok=lambda r: r.json()["pings"] == 3)

        # deleted: its workflow ends at once, pings are refused, the name can be used again
        r = await http.delete(f"/api/v1/heartbeats/{n}")
        assert r.status_code == 200 and r.json()["deleted_at"]
        desc = await env.client.get_workflow_handle(workflow_id(n)).describe()
        assert desc.status == WorkflowExecutionStatus.TERMINATED
        assert (await http.post(f"/api/v1/heartbeats/{n}")).status_code == 404
        assert (await http.get(f"/api/v1/heartbeats/{n}")).status_code == 404
        assert (await http.delete(f"/api/v1/heartbeats/{n}")).status_code == 404
        assert (await http.post("/api/v1/heartbeats", json={"name": n, "interval": "1m"})).status_code == 201


async def test_with_no_worker_a_show_answers_from_the_records_and_a_ping_is_still_accepted(env, engine, task_queue):
    import time

    import httpx

    from api.app import create_app
    from warroom.settings import Settings

    n, integ = name(), bearer(new_key(engine, "integration"))
    app = create_app(Settings(task_queue=task_queue), client=env.client, engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom",
                                 headers=bearer(new_key(engine, "admin"))) as http:
        assert (await http.post("/api/v1/heartbeats", json={"name": n, "interval": "5m"})).status_code == 201
        r = await http.post(f"/api/v1/heartbeats/{n}", headers=integ)  # Temporal holds it; no worker yet
        assert r.status_code == 202, r.text
        started = time.monotonic()
        r = await http.get(f"/api/v1/heartbeats/{n}")
        assert r.status_code == 200 and time.monotonic() - started < 15, r.text
        h = r.json()
        assert (h["state"], h["due_at"], h["pings"]) == ("up", None, None) and h["last_ping_at"]
        r = await http.delete(f"/api/v1/heartbeats/{n}")
        assert r.status_code == 200
        desc = await env.client.get_workflow_handle(workflow_id(n)).describe()
        assert desc.status == WorkflowExecutionStatus.TERMINATED


async def test_a_heartbeat_seen_before_keeps_being_pinged_while_the_records_do_not_answer(
        env, engine, task_queue, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from warroom.records import heartbeats as monitors

    key, n = new_key(engine, "integration"), name()
    async with api(env, engine, task_queue) as http:
        app = http._transport.app  # the app under test: its lookups expire now
        assert (await http.post("/api/v1/heartbeats", json={"name": n, "interval": "5m"})).status_code == 201
        assert (await http.post(f"/api/v1/heartbeats/{n}", headers=bearer(key))).status_code == 202
        app.state.keys.ttl = 0.0
        app.state.heartbeat_monitors.TTL = 0.0

        def down(*args, **kw):
            raise OperationalError("SELECT", {}, Exception("connection refused"))

        monkeypatch.setattr(auth, "authenticate", down)
        for what in ("find", "pinged"):
            monkeypatch.setattr(monitors, what, down)
        r = await http.post(f"/api/v1/heartbeats/{n}", headers=bearer(key))
        assert r.status_code == 202, r.text
        monkeypatch.undo()
        h = (await until(lambda: http.get(f"/api/v1/heartbeats/{n}"), "both pings handled",
                         ok=lambda r: r.json().get("pings") == 2)).json()
        assert h["state"] == "up"
