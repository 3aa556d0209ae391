"""API keys verified lately (api/deps.py KeyCache): a storm does not look its key up in
the records for every alert, a revocation through the API stops the key at once, and while the
records database does not answer a key that sent before keeps sending (alerts are not lost
because the records are down)."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import OperationalError

from tests.helpers import api, new_key
from warroom.records import keys as auth


def _alert(title: str) -> dict[str, str]:
    return {"title": title, "severity": "info", "dedup_key": f"keys-{uuid.uuid4().hex[:10]}"}


async def test_an_alert_key_is_looked_up_once_and_a_revocation_through_the_api_stops_it(
        env, engine, task_queue, monkeypatch):
    lookups: list[str] = []
    real = auth.authenticate

    def counting(db, key):
        lookups.append(key)
        return real(db, key)

    monkeypatch.setattr(auth, "authenticate", counting)
    key = new_key(engine, "integration")
    sender = {"Authorization": f"Bearer {key}"}
    async with api(env, engine, task_queue) as http:
        for i in range(5):
            r = await http.post("/api/v1/alerts/generic", json=_alert(f"disk {i}"), headers=sender)
            assert r.status_code == 202, r.text
        assert lookups.count(key) == 1
        name = real(engine, key).name
        assert (await http.delete(f"/api/v1/integrations/{name}")).status_code == 200
        r = await http.post("/api/v1/alerts/generic", json=_alert("after the revocation"), headers=sender)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


async def test_a_key_that_sent_before_keeps_sending_while_the_records_do_not_answer(
        env, engine, task_queue, monkeypatch):
    key, unknown = new_key(engine, "integration"), new_key(engine, "integration")
    async with api(env, engine, task_queue) as http:
        app = http._transport.app  # the app under test: its lookups expire now
        r = await http.post("/api/v1/alerts/generic", json=_alert("before"), headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 202
        app.state.keys.ttl = 0.0

        def down(db, k):
            raise OperationalError("SELECT", {}, Exception("connection refused"))

        monkeypatch.setattr(auth, "authenticate", down)
        r = await http.post("/api/v1/alerts/generic", json=_alert("records down"),
                            headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 202, r.text
        iid = r.json()["incidents"][0]["id"]
        monkeypatch.undo()
        state = (await http.get(f"/api/v1/incidents/{iid}")).json()
        assert state["title"] == "records down"
        # a key never seen before cannot be checked: not accepted on trust, and the sender is
        # told to retry (503), not that warroom broke (500)
        monkeypatch.setattr(auth, "authenticate", down)
        r = await http.post("/api/v1/alerts/generic", json=_alert("unknown key"),
                            headers={"Authorization": f"Bearer {unknown}"})
    assert r.status_code == 503 and "records database" in r.json()["detail"]
