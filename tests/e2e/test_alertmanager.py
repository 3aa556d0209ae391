"""A real Prometheus Alertmanager (Debian's 0.25) delivering to warroom over loopback, as in
production: it is configured with a webhook receiver carrying an integration key, is sent an
alert the way Prometheus sends one, and notifies warroom; then the alert ends and Alertmanager
sends its `resolved` notification. The incident opens from the first and moves on to verify
(and, with no checks to run, resolved) from the second.

The Watchdog case (issue 16): RealAlertmanager(routes=..., receivers=...) routes the always-firing
`Watchdog` alert to a receiver repeating it every 2 s, and it keeps a heartbeat alive."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from api.app import create_app
from tests.alertmanager import RealAlertmanager
from tests.helpers import new_key, running_cached_worker, serving, until
from warroom.settings import Settings

pytestmark = pytest.mark.devserver


async def test_a_real_alertmanager_opens_an_incident_and_its_resolve_moves_it_to_verify(dev_env, engine,
                                                                                       task_queue):
    app = create_app(Settings(task_queue=task_queue), client=dev_env.client, engine=engine)
    key = new_key(engine, "integration", format="alertmanager")
    viewer = {"Authorization": f"Bearer {new_key(engine, 'viewer')}"}
    service = f"checkout-{uuid.uuid4().hex[:6]}"
    labels = {"alertname": "CheckoutDown", "severity": "critical", "service": service, "instance": "web-1:9100"}
    async with running_cached_worker(dev_env.client, task_queue, engine), serving(app) as url, \
            httpx.AsyncClient(base_url=url, headers=viewer, timeout=10) as http:
        with RealAlertmanager(f"{url}/api/v1/alerts/alertmanager", key) as am:
            am.fire(labels, annotations={"summary": "Checkout is down", "description": "5xx on every request"})

            async def incident() -> dict:
                r = await http.get("/api/v1/incidents", params={"service": service})
                rows = r.json()["incidents"] if r.status_code == 200 else []
                return rows[0] if rows else {}

            row = await until(incident, "Alertmanager's notification to open an incident", timeout=60,
                              interval=0.2, ok=bool)
            state = (await http.get(f"/api/v1/incidents/{row['id']}")).json()
            assert (state["priority"], state["service"]) == ("P1", service), am.notifications_sent()
            assert state["title"] == "Checkout is down"
            assert [e["actor"] for e in state["timeline"] if e["type"] == "triggered"] == ["alertmanager"]

            am.resolve(labels, annotations={"summary": "Checkout is down", "description": "5xx on every request"})

            async def current() -> dict:
                return (await http.get(f"/api/v1/incidents/{row['id']}")).json()

            done = await until(current, "Alertmanager's resolved notification to move the incident on",
                               ok=lambda s: s.get("status") == "resolved", timeout=60, interval=0.2)
            kinds = [e["type"] for e in done["timeline"]]
            assert "alert.resolved" in kinds, (kinds, am.notifications_sent())
            assert any(e["type"] == "phase.started" and e["details"].get("phase") == "verify"
                       for e in done["timeline"]), kinds
            assert kinds.index("alert.resolved") < kinds.index("resolved")


async def test_a_real_alertmanagers_watchdog_keeps_a_heartbeat_alive_and_its_stop_opens_the_incident(
        dev_env, engine, task_queue):
    """Alertmanager routes the always-firing `Watchdog` (sent to it as Prometheus sends it) to a
    receiver that repeats it every 2 s to warroom, with the integration key the heartbeat is bound
    to. While it runs the heartbeat (a ping every 6 s at most) stays up and the Watchdog opens no
    incident; once Alertmanager stops, the missed ping opens the heartbeat's incident; a new
    Alertmanager's Watchdog resolves it."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from warroom.records import keys as auth
    from warroom.records.models import IncidentRow

    app = create_app(Settings(task_queue=task_queue), client=dev_env.client, engine=engine)
    key = new_key(engine, "integration", format="alertmanager")
    integration = auth.authenticate(engine, key).name
    admin = {"Authorization": f"Bearer {new_key(engine, 'admin')}"}
    name, service, marker = (f"prometheus-{uuid.uuid4().hex[:6]}", f"monitoring-{uuid.uuid4().hex[:6]}",
                             f"Watchdog {uuid.uuid4().hex[:8]}")
    watchdog = {"alertname": "Watchdog", "severity": "none"}
    interval = 6

    def alertmanager(url: str) -> RealAlertmanager:
        hook = {"url": f"{url}/api/v1/alerts/alertmanager", "send_resolved": True, "max_alerts": 0,
                "http_config": {"authorization": {"type": "Bearer", "credentials": key}}}
        return RealAlertmanager(f"{url}/api/v1/alerts/alertmanager", key,
                                routes=[{"matchers": ['alertname="Watchdog"'], "receiver": "heartbeat",
                                         "group_wait": "0s", "group_interval": "1s", "repeat_interval": "2s"}],
                                receivers=[{"name": "heartbeat", "webhook_configs": [hook]}])

    async with running_cached_worker(dev_env.client, task_queue, engine), serving(app) as url, \
            httpx.AsyncClient(base_url=url, headers=admin, timeout=10) as http:
        r = await http.post("/api/v1/heartbeats", json={"name": name, "interval": f"{interval}s", "priority": "P1",
                                                        "service": service, "integration": integration})
        assert r.status_code == 201, r.text

        async def heartbeat() -> dict:
            return (await http.get(f"/api/v1/heartbeats/{name}")).json()

        am = alertmanager(url).start()
        try:
            am.fire(watchdog, annotations={"summary": marker})
            first = await until(heartbeat, "the Watchdog's first ping", ok=lambda h: h.get("pings"), timeout=60,
                                interval=0.2)
            # kept alive: pings keep coming for more than two intervals and it never misses
            alive = await until(heartbeat, "Watchdog pings across two intervals",
                                ok=lambda h: h["pings"] >= first["pings"] + 2 * interval // 2 + 1, timeout=60,
                                interval=0.5)
            assert (alive["state"], alive["misses"]) == ("up", 0), (alive, am.notifications_sent())
            assert alive["last_source"] == f"integration:{integration} Watchdog"
        finally:
            am.stop()

        down = await until(heartbeat, "the missed ping once Alertmanager stopped",
                           ok=lambda h: h["state"] == "down" and h["incident_id"], timeout=60, interval=0.2)
        last = datetime.fromisoformat(down["last_ping_at"])
        assert abs(datetime.fromisoformat(down["down_since"]) - (last + timedelta(seconds=interval))) \
            <= timedelta(seconds=1), down
        state = (await until(lambda: http.get(f"/api/v1/incidents/{down['incident_id']}"), "the incident",
                             ok=lambda r: r.status_code == 200)).json()
        assert (state["priority"], state["service"]) == ("P1", service)
        assert [e["actor"] for e in state["timeline"] if e["type"] == "triggered"] == [f"heartbeat:{name}"]
        with Session(engine) as session:  # the Watchdog itself never became an incident
            assert session.scalars(select(IncidentRow).where(IncidentRow.title == marker)).all() == []

        with alertmanager(url) as am:
            am.fire(watchdog, annotations={"summary": marker})
            await until(heartbeat, "a new Alertmanager's Watchdog to bring it up", ok=lambda h: h["state"] == "up",
                        timeout=60, interval=0.2)
            done = await until(lambda: http.get(f"/api/v1/incidents/{down['incident_id']}"),
                               "the heartbeat's incident resolved by its source",
                               ok=lambda r: any(e["type"] == "alert.resolved" for e in r.json()["timeline"]),
                               timeout=60, interval=0.2)
            assert [e["actor"] for e in done.json()["timeline"] if e["type"] == "alert.resolved"] == \
                [f"heartbeat:{name}"]
            r = await http.get("/api/v1/incidents", params={"service": service})
            assert r.json()["total"] == 1  # while the Watchdog runs, no other miss
        assert (await http.delete(f"/api/v1/heartbeats/{name}")).status_code == 200
