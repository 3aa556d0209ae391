"""A real Prometheus Alertmanager (Debian's 0.25) delivering to warroom over loopback, as in
production: it is configured with a webhook receiver carrying an integration key, is sent an
alert the way Prometheus sends one, and notifies warroom; then the alert ends and Alertmanager
sends its `resolved` notification. The incident opens from the first and moves on to verify
(and, with no checks to run, resolved) from the second.

Heartbeats (issue 16) will add the Watchdog case here: RealAlertmanager(routes=..., receivers=...)
routes the always-firing `Watchdog` alert to a heartbeat receiver (tests/alertmanager.py)."""

from __future__ import annotations

import uuid

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
