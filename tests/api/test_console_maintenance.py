"""The console's Maintenance page as a caller meets it without a browser (the style of
tests/api/test_console.py): every signed-in role reads it, only a responder with the session's
CSRF token makes or ends a window, a refused window is shown naming the field, and an incident
held by a window says so on its page."""

from __future__ import annotations

import re
import uuid

from api.deps import actor_of
from api.routes import console_maintenance
from tests.api.test_console import app_client, csrf_of, sign_in
from tests.helpers import events, new_key, until
from warroom import client as temporal
from warroom.records import keys as auth
from warroom.records import maintenance as stored


def routes() -> set[tuple[str, str]]:
    return {(m, r.path) for r in console_maintenance.router.routes for m in r.methods}  # type: ignore[attr-defined]


async def test_every_role_reads_it_and_only_a_responder_with_the_token_acts(env, engine, task_queue):
    assert routes() == {("GET", "/maintenance"), ("POST", "/maintenance"), ("POST", "/maintenance/{window_id}/end")}
    async with app_client(env, engine, task_queue) as http:
        r = await http.get("/maintenance")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        for path in ("/maintenance", "/maintenance/mw-x/end"):
            r = await http.post(path, data={"csrf": "x"})
            assert r.status_code == 403 and "not signed in" in r.text
        for role in ("viewer", "responder", "admin"):
            await sign_in(http, new_key(engine, role))
            page = await http.get("/maintenance")
            assert page.status_code == 200 and "Maintenance windows" in page.text
            assert ('id="new-window"' in page.text) is (role != "viewer")
            for data in ({}, {"csrf": "forged"}):
                r = await http.post("/maintenance", data={**data, "service": "a", "duration": "1h", "reason": "x"})
                assert r.status_code == 403 and "CSRF" in r.text, (role, r.text)
            if role == "viewer":
                r = await http.post("/maintenance", data={"csrf": csrf_of(page.text), "service": "a",
                                                          "duration": "1h", "reason": "x"})
                assert r.status_code == 403 and "has role viewer" in r.text
        assert not [w for w in stored.windows(engine) if w.service == "a"]  # nothing above made one


async def test_a_window_made_in_the_form_holds_an_incident_and_is_ended_there(env, engine, task_queue):
    service = f"pay-{uuid.uuid4().hex[:6]}"
    async with app_client(env, engine, task_queue) as http:
        key = new_key(engine, "responder", person="carol")
        await sign_in(http, key)
        page = await http.get("/maintenance")
        # refused: the field named, the form kept as filled in
        r = await http.post("/maintenance", data={"csrf": csrf_of(page.text), "service": service,
                                                  "matchers": "team=~(", "duration": "2h", "reason": "pay upgrade"})
        assert r.status_code == 422 and "Refused: matchers:" in r.text and "invalid regex" in r.text
        assert f'value="{service}"' in r.text
        r = await http.post("/maintenance", data={"csrf": csrf_of(page.text), "service": service,
                                                  "matchers": "team=pay\n  env=~prod.*  ", "duration": "2h",
                                                  "reason": "pay upgrade"})
        assert r.status_code == 303, r.text
        page = await http.get(r.headers["location"])
        wid = re.search(r"Done: made (mw-[0-9a-f]+)", page.text).group(1)
        row = re.search(rf'<tr id="{wid}" data-status="active">(.*?)</tr>', page.text, re.S)
        assert row and "pay upgrade" in row.group(1) and f"service={service}, team=pay, env=~prod.*" in row.group(1)
        assert actor_of(auth.authenticate(engine, key)) in row.group(1)

        r = await http.post("/api/v1/alerts/generic", headers={"Authorization": f"Bearer {new_key(engine, 'admin')}"},
                            json={"title": "Payments failing", "priority": "P1", "service": service,
                                  "labels": {"team": "pay", "env": "production"},
                                  "dedup_key": f"con-{uuid.uuid4().hex[:10]}"})
        iid = r.json()["incidents"][0]["id"]
        await until(lambda: temporal.state(env.client, iid), "the incident held",
                    ok=lambda s: events(s, "maintenance.held"))
        incident = await http.get(f"/incidents/{iid}")
        banner = re.search(r'<p class="card notice" id="maintenance" role="status">(.*?)</p>', incident.text, re.S)
        assert banner and f'Under maintenance window <a href="/maintenance#{wid}">{wid}</a>: pay upgrade' in banner.group(1)
        assert "nobody paged" in banner.group(1)

        r = await http.post(f"/maintenance/{wid}/end", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303, r.text
        page = await http.get(r.headers["location"])
        assert f"Done: ended {wid}" in page.text and f'<li id="{wid}" data-status="ended">' in page.text
        assert "ended early by" in page.text
        s = await until(lambda: temporal.state(env.client, iid), "the incident released",
                        ok=lambda s: events(s, "maintenance.ended"))
        incident = await http.get(f"/incidents/{iid}")
        assert "paging started then" in incident.text
        r = await http.post(f"/maintenance/{wid}/end", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 409 and "has ended already" in r.text
