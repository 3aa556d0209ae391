"""PagerDuty's own Python client (PyPI `pagerduty`), unmodified, against `warroom dev --tls`: it
refuses anything but https, so the dev stack serves HTTPS with a certificate it made, and the
client trusts that local CA. A change event, then trigger, acknowledge and resolve on one dedup
key: the incident opens, is acknowledged by the integration, moves on to verify and resolved,
and shows the deploy that came four minutes before it."""

from __future__ import annotations

import asyncio
import os
import ssl
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pagerduty
import pytest

from tests.e2e.test_dev_stack import free_port, start_dev, stop
from tests.helpers import until
from warroom.classify import incident_workflow_id

pytestmark = pytest.mark.devserver


async def test_the_official_pagerduty_client_drives_warroom_over_tls(tmp_path):
    tport, uport, aport = free_port(), free_port(), free_port()
    data = tmp_path / "data"
    env = {**os.environ, "WARROOM_DATA_DIR": str(data), "WARROOM_TEMPORAL_PORT": str(tport),
           "WARROOM_TEMPORAL_UI_PORT": str(uport), "WARROOM_API_PORT": str(aport),
           "WARROOM_TASK_QUEUE": "pd-tls-test", "WARROOM_DATABASE_URL": ""}
    base = f"https://127.0.0.1:{aport}"
    log = tmp_path / "dev.log"
    proc = start_dev(env, log, "--tls")
    try:
        ca = data / "tls" / "ca.pem"
        trust = ssl.create_default_context(cafile=str(ca)) if ca.exists() else None

        async def ready() -> bool:
            nonlocal trust
            assert proc.poll() is None, f"warroom dev --tls exited early:\n{log.read_text()}"
            if not ca.exists():
                return False
            trust = trust or ssl.create_default_context(cafile=str(ca))
            try:
                async with httpx.AsyncClient(verify=trust, timeout=2) as http:
                    return (await http.get(f"{base}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await until(ready, "warroom dev --tls to answer over https", timeout=90, interval=0.3)
        assert "API:         https://" in log.read_text() and f"TLS CA:      {ca}" in log.read_text()
        admin = {"Authorization": f"Bearer {(data / 'admin.key').read_text().strip()}"}
        async with httpx.AsyncClient(base_url=base, verify=trust, headers=admin, timeout=30) as http:
            # plain http on the TLS port is no way in
            with pytest.raises(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{aport}/healthz", timeout=5)
            r = await http.post("/api/v1/integrations", json={"name": "pd-client", "format": "pagerduty"})
            assert r.status_code == 201, r.text
            routing_key = r.json()["key"]

            client = pagerduty.EventsApiV2Client(routing_key, base_url=base, verify=trust)
            dedup = f"checkout-5xx-{uuid.uuid4().hex[:6]}"
            deployed = datetime.now(UTC) - timedelta(minutes=4)
            await asyncio.to_thread(client.submit, "Deploy checkout v2.3.1", source="checkout",
                                    custom_details={"version": "2.3.1"}, timestamp=deployed.isoformat(),
                                    links=[{"href": "https://ci.example.com/builds/231", "text": "build 231"}])
            assert await asyncio.to_thread(client.trigger, "Checkout 5xx above 50%", "checkout",
                                           dedup_key=dedup, severity="critical") == dedup
            pid = incident_workflow_id(dedup)

            async def state() -> dict:
                r = await http.get(f"/api/v1/incidents/{pid}")
                return r.json() if r.status_code == 200 else {}

            opened = await until(state, "the incident to open", ok=lambda s: s.get("phase") in ("war_room", "recover"),
                                 timeout=60, interval=0.2)
            assert (opened["priority"], opened["service"], opened["title"]) == ("P1", "checkout", "Checkout 5xx above 50%")
            [change] = opened["changes"]
            assert change["summary"] == "Deploy checkout v2.3.1" and change["relative"] == "4 min before the alert"
            assert change["links"] == [{"href": "https://ci.example.com/builds/231", "text": "build 231"}]

            assert await asyncio.to_thread(client.acknowledge, dedup) == dedup
            acked = await until(state, "the acknowledgement", ok=lambda s: s.get("status") == "acknowledged",
                                timeout=60, interval=0.2)
            [ack] = [e for e in acked["timeline"] if e["type"] == "acknowledged"]
            assert ack["actor"] == "integration:pd-client"

            assert await asyncio.to_thread(client.resolve, dedup) == dedup
            done = await until(state, "the resolve to pass verify", ok=lambda s: s.get("status") == "resolved",
                               timeout=60, interval=0.2)
            kinds = [e["type"] for e in done["timeline"]]
            assert "alert.resolved" in kinds and kinds.index("alert.resolved") < kinds.index("resolved")
            assert any(e["type"] == "phase.started" and (e["details"] or {}).get("phase") == "verify"
                       for e in done["timeline"]), kinds
            # the change list the API keeps for the service is the same one
            listed = (await http.get("/api/v1/changes", params={"service": "checkout"})).json()["changes"]
            assert [c["summary"] for c in listed] == ["Deploy checkout v2.3.1"]
            client.close()
    finally:
        assert stop(proc) == 0, log.read_text()
    assert oct((data / "tls" / "server-key.pem").stat().st_mode & 0o777) == "0o600"
