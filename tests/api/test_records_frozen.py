"""The records are never on an alert's critical path (issue 14): with the records database
frozen (a PostgreSQL that accepts connections and data and answers nothing, as one stopped
with SIGSTOP), the API still accepts alerts from keys it verified before, answers for
incidents from Temporal, and tells a key it never saw to retry (503 with Retry-After) instead
of hanging or answering 500. Once the records answer again, everything is as if they never
stopped. On PostgreSQL whichever database the suite uses: it is the one that freezes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from api.app import create_app
from tests.helpers import alert, events, new_key, pages, postgres_database, running_worker, until
from tests.proxy import FreezableProxy
from tests.warroom.records.test_engine import POSTGRES_URL
from warroom import client as temporal
from warroom import records
from warroom.settings import Settings

# No request may take longer than this: a hung request fails the test by its timeout.
REQUEST_TIMEOUT = 15.0


@pytest.fixture
def pg_database() -> Iterator[Engine]:
    """A PostgreSQL database of this test's own, made afresh and dropped after."""
    with postgres_database(POSTGRES_URL, "warroom_frozen") as engine:
        yield engine


def _alert(title: str) -> dict[str, str]:
    return {"title": title, "service": "checkout", "severity": "critical", "priority": "P1", "dedup_key": f"frozen-{uuid.uuid4().hex[:10]}"}


async def test_alerts_accepted_and_incidents_shown_while_the_records_are_frozen(env, task_queue, pg_database):
    direct = pg_database
    sender, viewer = new_key(direct, "integration"), new_key(direct, "viewer", person="vic")
    stranger = new_key(direct, "integration")  # a valid key the API has never seen
    url = direct.url
    async with FreezableProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = records.make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        app = create_app(Settings(task_queue=task_queue), client=env.client, engine=proxied)
        try:
            # the worker records straight to the database: what is under test is the API
            async with running_worker(env.client, task_queue, direct), httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://warroom", timeout=REQUEST_TIMEOUT) as http:
                as_sender = {"Authorization": f"Bearer {sender}"}
                as_viewer = {"Authorization": f"Bearer {viewer}"}
                r = await http.post("/api/v1/alerts/generic", json=_alert("before the freeze"), headers=as_sender)
                assert r.status_code == 202, r.text
                assert (await http.get("/api/v1/incidents", headers=as_viewer)).status_code == 200

                app.state.keys.ttl = 0.0  # every key is due for a new lookup: the records are asked
                proxy.freeze()

                r = await http.post("/api/v1/alerts/generic", json=_alert("Checkout is down"), headers=as_sender)
                assert r.status_code == 202, r.text
                iid = r.json()["incidents"][0]["id"]
                r = await http.get(f"/api/v1/incidents/{iid}", headers=as_viewer)
                assert r.status_code == 200, r.text
                shown = r.json()
                assert shown["title"] == "Checkout is down" and shown["priority"] == "P1"
                assert shown["changes"] == [] and "did not answer" in shown["changes_unavailable"]

                r = await http.post("/api/v1/alerts/generic", json=_alert("from a stranger"),
                                    headers={"Authorization": f"Bearer {stranger}"})
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"] == "2" and "records database" in r.json()["detail"]

                proxy.thaw()
                # the records answer again: the stranger's key is verified, and the incident
                # accepted during the freeze is in the records (the list reads them)
                r = await until(lambda: http.post("/api/v1/alerts/generic", json=_alert("from a stranger"),
                                                  headers={"Authorization": f"Bearer {stranger}"}),
                                "the stranger's key to be verified", ok=lambda r: r.status_code == 202, timeout=30)
                listed = await until(lambda: http.get("/api/v1/incidents", headers=as_viewer, params={"limit": 200}),
                                     "the incident from the freeze in the records",
                                     ok=lambda r: iid in {i["id"] for i in r.json()["incidents"]}, timeout=30)
                assert listed.status_code == 200
        finally:
            proxy.thaw()
            proxied.dispose()


async def test_pages_go_out_while_the_records_are_frozen_and_the_records_reconcile(env, task_queue, pg_database):
    """The worker's records freeze before a P0 arrives: assess, the first pages and the war room
    go on without them (each records call waits at most RECORDS_WAIT_SECONDS, then none is asked
    while one is still hung); after the thaw the records hold every page the timeline says was
    sent, as SENT, and the incident itself."""
    direct = pg_database
    url = direct.url
    async with FreezableProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = records.make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        try:
            async with running_worker(env.client, task_queue, proxied):
                proxy.freeze()
                t = await temporal.trigger(env.client, alert(priority="P0", title="Payments are down",
                                                             service="payments"), task_queue=task_queue)
                st = await until(lambda: temporal.state(env.client, t.incident_id), "the first pages without the records",
                                 ok=lambda s: s.phase == "recover", timeout=60)
                sent = {p.details["key"] for p in pages(st, kind="INITIAL")}
                assert len(sent) >= 3 and not events(st, "notification.failed")
                proxy.thaw()
                # the records reconcile with the timeline: every page sent is SENT there
                await until(lambda: asyncio.to_thread(records.communications, direct, incident_id=t.incident_id),
                            "the records to hold every page as SENT",
                            ok=lambda rows: sent <= {r.key for r in rows if r.status == "SENT"}, timeout=90)
                assert records.recorded_incident(direct, t.incident_id) is not None
        finally:
            proxy.thaw()
            proxied.dispose()
