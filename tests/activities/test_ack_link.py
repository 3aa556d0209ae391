"""The acknowledge link in a page (issue 12, part 2), end to end: the real notify activity
delivers the page to a loopback receiver through Apprise, and the link in what the receiver
got acknowledges, through the API and with no key, as the person it was sent to."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import yaml

from api.app import create_app
from tests.helpers import advance_to, get_state, running_worker, start, until
from tests.receivers import Receiver
from warroom import acklink
from warroom.oncall import OnCallConfig
from warroom.settings import Settings

KEY = "ack-link-activity-test-key-0123"
PUBLIC = "http://warroom"  # the base URL the httpx client reaches the in-process app at
LINK = re.compile(r"(?:Acknowledge: |一键确认：)(http://warroom/ack/[A-Za-z0-9_.-]+)")


def config(tmp_path: Path, rx: Receiver) -> OnCallConfig:
    people = [{"id": pid, "name": pid.capitalize(), "timezone": "UTC", "language": lang,
               "contacts": [{"kind": "webhook", "url": f"json://{rx.netloc}/{pid}"}]}
              for pid, lang in (("olga", "en"), ("dave", "zh"))]
    d = tmp_path / "oncall"
    d.mkdir()
    (d / "team.yaml").write_text(yaml.safe_dump({
        "people": people, "teams": [{"id": "sre", "name": "SRE", "members": ["olga", "dave"]}],
        "escalation_policies": [{"id": "default", "levels": [{"targets": ["person:olga"], "wait_minutes": 15},
                                                             {"targets": ["person:dave"]}]}],
    }, sort_keys=False))
    return OnCallConfig.load(d)


def messages(rx: Receiver, who: str) -> list[tuple[str, str]]:
    """(title, acknowledge link or "") of every message `who` received, in order."""
    found = []
    for r in rx.delivered:
        if r.path == f"/{who}":
            m = LINK.search(r.json["message"])
            found.append((r.json["title"], m.group(1) if m else ""))
    return found


def asking(rx: Receiver, who: str, marker: str) -> list[str]:
    return [link for title, link in messages(rx, who) if marker in title]


async def test_the_link_in_a_delivered_page_acknowledges_as_the_paged_person(env, engine, task_queue, tmp_path):
    app = create_app(Settings(task_queue=task_queue, secret_key=KEY, public_url=PUBLIC), client=env.client,
                     engine=engine)
    with Receiver() as rx:
        oncall = config(tmp_path, rx)
        async with running_worker(env.client, task_queue, engine, oncall=lambda: oncall, retry_delay=0.01,
                                  public_url=PUBLIC, secret_key=KEY), \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as http:
            h = await start(env.client, task_queue, priority="P0", title="Checkout is down")
            [to_olga] = await until(lambda: asking(rx, "olga", "New incident"), "olga's page")
            assert to_olga, messages(rx, "olga")
            await advance_to(env, h, 16)  # nobody acknowledged: escalated to dave, in Chinese
            [to_dave] = await until(lambda: asking(rx, "dave", "已升级至"), "dave's escalation page")
            assert to_dave and to_dave != to_olga
            # what asks to act (page, escalation, the "update due" reminder) carries a link of its
            # person's own; what only informs (the stakeholder updates) carries none
            def sent() -> list[tuple[str, str, str]]:
                return [(who, t, link) for who in ("olga", "dave") for t, link in messages(rx, who)]

            def informs(m: tuple[str, str, str]) -> bool:
                return "Status update:" in m[1] or "状态更新" in m[1]

            await until(sent, "a stakeholder update and an 'update due' reminder",
                        ok=lambda ms: any(map(informs, ms)) and any("update due" in m[1] for m in ms))
            assert not any(m[2] for m in sent() if informs(m)), sent()
            assert all(m[2] for m in sent() if not informs(m)), sent()
            for who, _, link in sent():  # each link is for the person it was sent to, and this incident
                if link:
                    grant = acklink.check(KEY.encode(), link.rsplit("/", 1)[1], now=time.time(), incident_id=h.id)
                    assert grant.person == who

            path = to_dave.removeprefix(PUBLIC)
            r = await http.get(path)
            assert r.status_code == 200 and "Checkout is down" in r.text and "<strong>dave</strong>" in r.text
            assert (await get_state(h)).acknowledged_by is None  # opening it changed nothing
            r = await http.post(path, data={"incident": h.id})
            assert r.status_code == 200, r.text
            s = await get_state(h)
            assert s.status == "acknowledged" and s.acknowledged_by == "dave"
            assert [e.actor for e in s.timeline if e.type == "acknowledged"] == ["dave"]
            # olga's own link from the first page is now a reused one: refused, nothing changes
            r = await http.post(to_olga.removeprefix(PUBLIC), data={"incident": h.id})
            assert r.status_code == 409 and "already acknowledged by dave" in r.text
            assert (await get_state(h)).acknowledged_by == "dave"
