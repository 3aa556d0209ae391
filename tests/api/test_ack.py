"""Acknowledge from the page (issue 12, part 2): /ack/{token} as a paged person uses it, with
no API key. Runs the app in-process against the time-skipping server and a worker; asserts
what the person sees (the page and its status) and what the engine holds (state, timeline)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from api.app import create_app
from tests.helpers import get_state, running_worker, start
from warroom import acklink
from warroom import client as temporal
from warroom.settings import Settings

KEY = "ack-test-server-key-0123456789"


@asynccontextmanager
async def ack_app(env, engine, task_queue) -> AsyncIterator[httpx.AsyncClient]:
    """The app and a worker sharing one server key; the client carries no API key at all."""
    app = create_app(Settings(task_queue=task_queue, secret_key=KEY), client=env.client, engine=engine)
    async with running_worker(env.client, task_queue, engine, secret_key=KEY), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://warroom") as http:
        yield http


def token(incident_id: str, person: str, *, key: str = KEY, now: float | None = None, ttl: float = 3600) -> str:
    return acklink.make(key.encode(), incident_id=incident_id, person=person,
                        now=time.time() if now is None else now, ttl_seconds=ttl)


def reason(r: httpx.Response) -> str:
    m = re.search(r'data-reason="([a-z_]+)"', r.text)
    assert m, r.text
    return m.group(1)


async def test_opening_the_link_shows_the_incident_and_only_the_button_acknowledges(env, engine, task_queue):
    async with ack_app(env, engine, task_queue) as http:
        h = await start(env.client, task_queue, priority="P1", title="Payments <failing>", service="payments")
        t = token(h.id, "olga")
        r = await http.get(f"/ack/{t}")
        assert r.status_code == 200 and reason(r) == "ready"
        assert "Payments &lt;failing&gt;" in r.text and "P1" in r.text and "triggered" in r.text
        assert re.search(rf'<form method="post" action="/ack/{re.escape(t)}">', r.text)
        assert "as <strong>olga</strong>" in r.text
        assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
        for _ in range(3):  # a chat app's previewer, opening it again and again
            assert (await http.get(f"/ack/{t}")).status_code == 200
        s = await get_state(h)
        assert s.status == "triggered" and s.acknowledged_by is None
        assert "acknowledged" not in [e.type for e in s.timeline]

        r = await http.post(f"/ack/{t}", data={"incident": h.id})
        assert r.status_code == 200 and reason(r) == "acknowledged", r.text
        assert "as <strong>olga</strong>" in r.text
        s = await get_state(h)
    assert s.status == "acknowledged" and s.acknowledged_by == "olga"
    [ack] = [e for e in s.timeline if e.type == "acknowledged"]
    assert ack.actor == "olga"


async def test_bad_tokens_get_a_clear_page_and_leave_the_incident_untouched(env, engine, task_queue):
    async with ack_app(env, engine, task_queue) as http:
        h = await start(env.client, task_queue, priority="P1", title="Search is slow")
        other = await start(env.client, task_queue, priority="P2", title="Another incident")
        good = token(h.id, "olga")
        sig = good.split(".")[1]
        cases = {
            "forged": (token(h.id, "olga", key="not-this-server's-key"), 403),
            "expired": (token(h.id, "olga", now=time.time() - 7200, ttl=3600), 410),
            "malformed": (good[:20], 400),
        }
        for want, (t, status) in cases.items():
            for method in ("GET", "POST"):
                r = await http.request(method, f"/ack/{t}", data={"incident": h.id} if method == "POST" else None)
                assert (r.status_code, reason(r)) == (status, want), (method, want, r.text)
                assert "<form" not in r.text
        # a token for another incident than the page showed (the form names it)
        r = await http.post(f"/ack/{token(other.id, 'olga')}", data={"incident": h.id})
        assert (r.status_code, reason(r)) == (409, "wrong_incident")
        assert f"for incident {other.id}, not {h.id}" in r.text
        # a valid token for an incident the engine does not have
        for method in ("GET", "POST"):
            r = await http.request(method, f"/ack/{token(h.id + '~7', 'olga')}")
            assert (r.status_code, reason(r)) == (404, "unknown")
        # a signature from another token does not carry over to a rewritten payload
        mallory = token(h.id, "mallory").split(".")[0]
        r = await http.post(f"/ack/{mallory}.{sig}", data={"incident": h.id})
        assert (r.status_code, reason(r)) == (403, "forged")
        for incident in (h, other):
            s = await get_state(incident)
            assert s.status == "triggered" and s.acknowledged_by is None
            assert "acknowledged" not in [e.type for e in s.timeline]


async def test_a_reused_link_or_a_second_person_cannot_acknowledge_again(env, engine, task_queue):
    async with ack_app(env, engine, task_queue) as http:
        h = await start(env.client, task_queue, priority="P1", title="Queue backlog")
        t = token(h.id, "olga")
        assert (await http.post(f"/ack/{t}", data={"incident": h.id})).status_code == 200
        for link in (t, token(h.id, "bob")):
            r = await http.get(f"/ack/{link}")
            assert (r.status_code, reason(r)) == (409, "finished") and "<form" not in r.text
            assert "already acknowledged by olga" in r.text
            r = await http.post(f"/ack/{link}", data={"incident": h.id})
            assert (r.status_code, reason(r)) == (409, "refused")
            assert "already acknowledged by olga" in r.text
        await temporal.act(env.client, h.id, "resolve", {"by": "olga", "resolution": "drained"})
        r = await http.get(f"/ack/{t}")
        assert (r.status_code, reason(r)) == (409, "finished") and f"{h.id} is resolved" in r.text
        r = await http.post(f"/ack/{t}", data={"incident": h.id})
        assert (r.status_code, reason(r)) == (409, "refused")
        s = await get_state(h)
    assert s.acknowledged_by == "olga" and s.status == "resolved"
    assert [e.actor for e in s.timeline if e.type == "acknowledged"] == ["olga"]
