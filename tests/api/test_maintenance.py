"""Maintenance windows through the API (docs/maintenance.md): made, listed and ended early by
responders, read by viewers; bad windows answered 422 naming the field; an alert that a window
matches (by service, label matcher or integration) opens an incident that is recorded and pages
nobody, and one that no window matches pages as usual."""

from __future__ import annotations

import uuid

from tests.helpers import api, events, new_key, pages, until
from warroom import client as temporal
from warroom.windows import window_state


def svc() -> str:
    return f"billing-{uuid.uuid4().hex[:6]}"


async def alert(http, engine, **body) -> str:
    """An alert sent with an admin key (the test's own key may be a responder's)."""
    body.setdefault("title", "Billing API 5xx")
    body.setdefault("priority", "P1")
    body.setdefault("dedup_key", f"mw-{uuid.uuid4().hex[:10]}")
    r = await http.post("/api/v1/alerts/generic", json=body,
                        headers={"Authorization": f"Bearer {new_key(engine, 'admin')}"})
    assert r.status_code == 202, r.text
    return r.json()["incidents"][0]["id"]


async def held_state(env, iid):
    return await until(lambda: temporal.state(env.client, iid), f"{iid} to reach notify",
                       ok=lambda s: events(s, "maintenance.held") or pages(s))


async def test_a_window_by_service_holds_its_alerts_and_pages_nobody(env, engine, task_queue):
    service = svc()
    async with api(env, engine, task_queue, role="responder", person="alice") as http:
        r = await http.post("/api/v1/maintenance", json={"service": service, "duration": "2h",
                                                         "reason": "billing database upgrade"})
        assert r.status_code == 201, r.text
        w = r.json()
        assert w["status"] == "active" and w["created_by"] == "alice" and w["scope"] == f"service={service}"
        assert w["id"].startswith("mw-")

        held = await alert(http, engine, service=service)
        other = await alert(http, engine, service=svc())
        s = await held_state(env, held)
        assert events(s, "maintenance.held")[0].details["window"] == w["id"]
        assert s.maintenance is not None and s.maintenance["held"] is True
        o = await until(lambda: temporal.state(env.client, other), "the other incident's pages",
                        ok=lambda s: pages(s, kind="INITIAL"))
        assert events(o, "maintenance.held") == []
        # the incident's JSON says it is held and why
        r = await http.get(f"/api/v1/incidents/{held}")
        assert r.status_code == 200 and r.json()["maintenance"]["reason"] == "billing database upgrade"
        assert pages(await temporal.state(env.client, held)) == []

        listed = (await http.get("/api/v1/maintenance")).json()["windows"]  # (other tests' windows too)
        assert [x for x in listed if x["id"] == w["id"]] == [w]

        r = await http.delete(f"/api/v1/maintenance/{w['id']}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ended" and r.json()["ended_by"] == "alice"
        s = await until(lambda: temporal.state(env.client, held), "pages once the window is ended",
                        ok=lambda s: pages(s, kind="INITIAL"))
        assert events(s, "maintenance.ended")[0].details["ended_by"] == "alice"
        assert (await http.delete(f"/api/v1/maintenance/{w['id']}")).status_code == 409
        assert w["id"] not in [x["id"] for x in (await http.get("/api/v1/maintenance")).json()["windows"]]
        assert w["id"] in [x["id"] for x in (await http.get("/api/v1/maintenance?ended=true")).json()["windows"]]
        assert (await window_state(env.client, w["id"])).status == "ended"


async def test_label_matchers_and_integration(env, engine, task_queue):
    async with api(env, engine, task_queue) as http:
        team = f"db-{uuid.uuid4().hex[:6]}"  # its own: the records (and so the windows) are the session's
        r = await http.post("/api/v1/maintenance", json={"matchers": [f"team={team}", "region=~eu-.*"], "duration": "1h",
                                                         "reason": "eu db failover drill"})
        assert r.status_code == 201, r.text
        integ = f"prom-{uuid.uuid4().hex[:6]}"
        r = await http.post("/api/v1/integrations", json={"name": integ, "format": "generic"})
        assert r.status_code == 201, r.text
        ikey = r.json()["key"]
        r = await http.post("/api/v1/maintenance", json={"integration": integ, "duration": "30m",
                                                         "reason": "prometheus migration"})
        assert r.status_code == 201, r.text

        matched = await alert(http, engine, service=svc(), labels={"team": team, "region": "eu-west-1"})
        unmatched = await alert(http, engine, service=svc(), labels={"team": team, "region": "us-east-1"})
        r = await http.post("/api/v1/alerts/generic", headers={"Authorization": f"Bearer {ikey}"},
                            json={"title": "Prometheus target down", "priority": "P1", "service": svc(),
                                  "dedup_key": f"mw-{uuid.uuid4().hex[:10]}"})
        assert r.status_code == 202, r.text
        by_integration = r.json()["incidents"][0]["id"]
        for iid in (matched, by_integration):
            s = await held_state(env, iid)
            assert events(s, "maintenance.held") and pages(s) == [], [e.type for e in s.timeline]
        s = await held_state(env, unmatched)
        assert events(s, "maintenance.held") == [] and pages(s, kind="INITIAL")
        # the integration and labels that a window can match are on the trigger
        trig = events(await temporal.state(env.client, by_integration), "triggered")[0].details
        assert trig["integration"] == integ


async def test_bad_windows_are_refused_naming_the_field(env, engine, task_queue):
    async with api(env, engine, task_queue) as http:
        cases = [
            ({"duration": "1h", "reason": "x"}, "needs a service, a label matcher or an integration"),
            ({"service": "a", "reason": "x"}, "either ends_at or duration"),
            ({"service": "a", "duration": "1h", "ends_at": "2099-01-01T00:00:00Z", "reason": "x"}, "either ends_at"),
            ({"service": "a", "duration": "soon", "reason": "x"}, "duration:"),
            ({"matchers": ["team=~("], "duration": "1h", "reason": "x"}, "invalid regex"),
            ({"matchers": ["not a matcher"], "duration": "1h", "reason": "x"}, "is not a label matcher"),
            ({"service": "a", "ends_at": "2000-01-01T00:00:00Z", "reason": "x"}, "ends_at:"),
            ({"service": "a", "starts_at": "2099-01-01T00:00:00", "duration": "1h", "reason": "x"}, "time zone"),
            ({"service": "a", "duration": "1h", "reason": "   "}, "reason"),
            ({"service": "a", "duration": "1h"}, "reason"),
            ({"service": "a", "duration": "1h", "reason": "x", "colour": "red"}, "colour"),
        ]
        for body, says in cases:
            r = await http.post("/api/v1/maintenance", json=body)
            assert r.status_code == 422, (body, r.text)
            assert says in r.text, (body, r.text)
        assert (await http.get("/api/v1/maintenance/mw-nope")).status_code == 404
        assert (await http.delete("/api/v1/maintenance/mw-nope")).status_code == 404


async def test_viewers_read_windows_and_cannot_make_them(env, engine, task_queue):
    async with api(env, engine, task_queue, role="viewer") as http:
        r = await http.post("/api/v1/maintenance", json={"service": "a", "duration": "1h", "reason": "x"})
        assert r.status_code == 403, r.text
        assert (await http.get("/api/v1/maintenance")).status_code == 200
